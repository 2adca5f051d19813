// tests/cpp/test_parallel.cpp — the oneTBB layer: parallelFor covers [0, n) exactly once; thread count settings.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "parallel/parallel.h"

namespace epochpp::parallel {
namespace {

// Restores an environment variable when the test ends.
struct EnvGuard {
  std::string name;
  bool had;
  std::string old;
  explicit EnvGuard(const char* n) : name(n) {
    const char* v = std::getenv(n);
    had = v != nullptr;
    if (had) old = v;
  }
  ~EnvGuard() {
    if (had) setenv(name.c_str(), old.c_str(), 1);
    else unsetenv(name.c_str());
  }
};

TEST(ParallelFor, CoversEveryIndexExactlyOnce) {
  for (int64_t n : {0, 1, 2, 3, 7, 64, 1000, 4097, 100000}) {
    for (int64_t grain : {1, 2, 3, 16, 1000, 1 << 20}) {
      std::unique_ptr<std::atomic<int>[]> hits(new std::atomic<int>[n > 0 ? n : 1]);
      for (int64_t i = 0; i < n; ++i) hits[i] = 0;
      std::atomic<int64_t> total{0};
      std::atomic<bool> bad_range{false};
      parallelFor(n, grain, [&](int64_t b, int64_t e) {
        if (b < 0 || e > n || b >= e) bad_range = true;
        for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1, std::memory_order_relaxed);
        total += e - b;
      });
      EXPECT_FALSE(bad_range) << "n=" << n << " grain=" << grain;
      EXPECT_EQ(total.load(), n) << "n=" << n << " grain=" << grain;
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i << " n=" << n << " grain=" << grain;
    }
  }
}

TEST(ParallelFor, NonPositiveGrainIsTreatedAsOne) {
  for (int64_t grain : {0, -5}) {
    std::atomic<int64_t> sum{0};
    parallelFor(1000, grain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) sum += i;
    });
    EXPECT_EQ(sum.load(), 999 * 1000 / 2) << "grain=" << grain;
  }
}

TEST(ParallelFor, ChunksAreNeverSmallerThanHalfTheGrain) {
  // A range is split only while it is longer than the grain, and splits halve it: no chunk is shorter
  // than ceil(grain / 2) unless the whole range is.
  for (int64_t n : {10000, 333, 50}) {
    const int64_t grain = 100;
    std::mutex mu;
    std::vector<std::pair<int64_t, int64_t>> chunks;
    parallelFor(n, grain, [&](int64_t b, int64_t e) {
      std::lock_guard<std::mutex> lock(mu);
      chunks.push_back({b, e});
    });
    for (auto& [b, e] : chunks) EXPECT_GE(e - b, std::min<int64_t>(n, (grain + 1) / 2)) << "n=" << n;
    if (n <= grain) {
      EXPECT_EQ(chunks.size(), 1u) << "a range no longer than the grain is one chunk";
    }
  }
}

TEST(ParallelFor, RunsOnMoreThanOneThreadWhenThereAreCores) {
  if (maxThreads() < 2 || std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "one core";
  std::mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<int> arrived{0};
  // Each chunk waits briefly for the others so one thread cannot take every chunk.
  parallelFor(64, 1, [&](int64_t, int64_t) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    ++arrived;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (arrived.load() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  });
  EXPECT_GE(ids.size(), 2u);
}

TEST(ParallelFor, NestedCallsComplete) {
  std::atomic<int64_t> count{0};
  parallelFor(8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      parallelFor(100, 10, [&](int64_t b2, int64_t e2) { count += e2 - b2; });
  });
  EXPECT_EQ(count.load(), 800);
}

TEST(ParallelFor, OneThreadArenaRunsOnTheCaller) {
  // Run by CTest as `parallel_one_thread` with EPOCHPP_NUM_THREADS=1 set before the arena exists.
  const char* env = std::getenv("EPOCHPP_NUM_THREADS");
  if (!env || std::string(env) != "1") GTEST_SKIP() << "needs EPOCHPP_NUM_THREADS=1 at start-up";
  std::mutex mu;
  std::set<std::thread::id> ids;
  parallelFor(10000, 1, [&](int64_t, int64_t) {
    std::lock_guard<std::mutex> lock(mu);
    ids.insert(std::this_thread::get_id());
  });
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(*ids.begin(), std::this_thread::get_id());
}

TEST(MaxThreads, AtLeastOne) { EXPECT_GE(maxThreads(), 1); }

TEST(MaxThreads, HonoursEnvironment) {
  EnvGuard g("EPOCHPP_NUM_THREADS");
  setenv("EPOCHPP_NUM_THREADS", "3", 1);
  EXPECT_EQ(maxThreads(), 3);
  setenv("EPOCHPP_NUM_THREADS", "1", 1);
  EXPECT_EQ(maxThreads(), 1);
  setenv("EPOCHPP_NUM_THREADS", "0", 1);
  EXPECT_GE(maxThreads(), 1) << "0 means all cores";
  setenv("EPOCHPP_NUM_THREADS", "-4", 1);
  EXPECT_GE(maxThreads(), 1) << "a negative count means all cores";
  setenv("EPOCHPP_NUM_THREADS", "lots", 1);
  EXPECT_GE(maxThreads(), 1) << "garbage means all cores";
  unsetenv("EPOCHPP_NUM_THREADS");
  int all = maxThreads();
  EXPECT_GE(all, 1);
  EXPECT_LE(all, 4096);
}

}  // namespace
}  // namespace epochpp::parallel
