// disk_cache.cpp — the size bound of the on-disk cache (EPOCHPP_CACHE_MAX_MB).
//
// Scanning the directory is what costs: ~170 ms for a 40,000-object cache on this VM, paid by the
// first compile of a process if it scanned on every start. So the cache keeps a ledger: the file
// `size.ledger` holds the approximate total size of its objects (and Level 4 sidecars) in bytes, as decimal text. Each
// write adds its object's size to it under flock() (a few microseconds). Only when the ledger
// passes the limit, or when there is none (a new cache, or one written before the ledger), is the
// directory scanned: the least recently used objects (oldest modification time; a hit touches its
// file) go first, down to 3/4 of the limit, and the ledger gets the exact total. So a scan happens
// at most once per limit/4 bytes written. Objects removed by hand make the ledger too high (an
// early scan corrects it); objects added by hand are counted at the next scan.
#include "runtime/disk_cache.h"
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace epochpp::runtime {

namespace {

// Evicts down to 3/4 of the limit when over it; returns the total size left.
long long scanAndEvict(const std::string& dir, long long limit) {
  namespace fs = std::filesystem;
  std::error_code ec;
  struct Entry {
    fs::file_time_type when;
    fs::path path;
    uintmax_t size;
  };
  std::vector<Entry> files;
  long long total = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() != ".o" && it->path().extension() != ".gpu") continue;  // objects, Level 4 sidecars
    uintmax_t size = it->file_size(ec);
    auto when = it->last_write_time(ec);
    if (ec) {  // removed by another process meanwhile
      ec.clear();
      continue;
    }
    files.push_back({when, it->path(), size});
    total += (long long)size;
  }
  if (total <= limit) return total;
  std::sort(files.begin(), files.end(), [](const Entry& a, const Entry& b) { return a.when < b.when; });
  for (auto& f : files) {
    if (total <= limit / 4 * 3) break;
    if (fs::remove(f.path, ec)) total -= (long long)f.size;  // another process may have removed it
    ec.clear();
  }
  return total;
}

}  // namespace

void boundDiskCache(const std::string& dir, const std::string& obj, long long limit) {
  if (limit <= 0) return;
  struct stat st;
  if (::stat(obj.c_str(), &st) != 0) return;
  std::string ledger = dir + "/" + kCacheLedger;
  int fd = ::open(ledger.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {  // cannot keep a ledger: bound the directory the slow way
    scanAndEvict(dir, limit);
    return;
  }
  if (::flock(fd, LOCK_EX) != 0) {  // no locks on this file system: the slow way
    ::close(fd);
    scanAndEvict(dir, limit);
    return;
  }
  char buf[32] = {0};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  char* end = nullptr;
  long long total = n > 0 ? std::strtoll(buf, &end, 10) : 0;
  bool known = n > 0 && end != buf && total >= 0;
  total += (long long)st.st_size;
  if (!known || total > limit) total = scanAndEvict(dir, limit);
  int len = std::snprintf(buf, sizeof buf, "%lld\n", total);
  if (::ftruncate(fd, 0) == 0 && ::pwrite(fd, buf, (size_t)len, 0) != len) (void)::ftruncate(fd, 0);
  ::flock(fd, LOCK_UN);
  ::close(fd);
}

}  // namespace epochpp::runtime
