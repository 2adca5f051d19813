// disk_cache.h — keeps the compiled-object cache directory under its size limit.
#pragma once
#include <string>

namespace epochpp::runtime {

// Called after `obj` (a new object file in `dir`) was written. Keeps the directory's *.o files under
// `limit_bytes`: see disk_cache.cpp for the ledger that makes this cost microseconds, not a scan.
void boundDiskCache(const std::string& dir, const std::string& obj, long long limit_bytes);

// The name of the ledger file inside the cache directory (`epochpp cache clear` removes it too).
inline constexpr const char* kCacheLedger = "size.ledger";

}  // namespace epochpp::runtime
