// tests/cpp/test_parallel.cpp — the oneTBB layer: parallelFor covers [0, n) exactly once; thread count settings;
// loops in a fork() child, whether or not the parent used its arena before. Also built with ThreadSanitizer.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "parallel/guided.h"
#include "parallel/linger.h"
#include "parallel/parallel.h"
#include "parallel/scheduler.h"

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

// ---- fork() ------------------------------------------------------------------------------------
// A child reports through its exit status (a failed EXPECT in a child would not reach the parent's
// report). alarm() turns a deadlock into SIGALRM: in the child, and in the parent around fork() itself.

enum ChildStatus { kOk = 0, kWrongSum = 2, kWrongState = 3, kNotParallel = 4, kNotSerial = 5, kGrandchildFailed = 6 };

// Forks; the child runs child() and exits with its status through exit(), so static destructors and
// TBB's own teardown run in the child too. Returns a description of how the child ended.
std::string runInChild(const std::function<int()>& child) {
  std::fflush(nullptr);  // or the child would print the parent's buffered output again
  unsigned outer = alarm(60);  // a child that forks keeps its own alarm afterwards
  pid_t pid = fork();
  if (pid < 0) {
    alarm(outer);
    return "fork() failed";
  }
  if (pid == 0) {
    alarm(30);
    std::exit(child());
  }
  int status = 0;
  pid_t got = waitpid(pid, &status, 0);
  alarm(outer);
  if (got != pid) return "waitpid() failed";
  if (WIFSIGNALED(status))
    return WTERMSIG(status) == SIGALRM ? "child deadlocked (SIGALRM)" : "child killed by signal " + std::to_string(WTERMSIG(status));
  return WEXITSTATUS(status) == kOk ? "ok" : "child exited with status " + std::to_string(WEXITSTATUS(status));
}

bool canRunInParallel() { return maxThreads() >= 2 && std::thread::hardware_concurrency() >= 2; }

// Sums [0, n) with parallelFor and records the threads that ran it. Where there can be several threads,
// chunks wait briefly for a second one to arrive, so that one thread cannot take them all.
struct SumRun {
  int64_t sum = 0;
  std::set<std::thread::id> threads;
  int chunks = 0;
};
// grain 1 by default (0: guided); `throwOffCaller`: a piece on another thread than the caller's throws.
SumRun sumWithParallelFor(int64_t n, bool waitForASecondThread = canRunInParallel(), int64_t grain = 1,
                          bool throwOffCaller = false) {
  SumRun run;
  std::mutex mu;
  std::atomic<int> arrived{0};
  const std::thread::id caller = std::this_thread::get_id();
  parallelFor(n, grain, [&](int64_t b, int64_t e) {
    ++arrived;
    if (throwOffCaller && std::this_thread::get_id() != caller) throw std::runtime_error("piece on a worker");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (waitForASecondThread && arrived.load() < 2 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    int64_t local = 0;
    for (int64_t i = b; i < e; ++i) local += i;
    std::lock_guard<std::mutex> lock(mu);
    run.sum += local;
    run.threads.insert(std::this_thread::get_id());
    ++run.chunks;
  });
  return run;
}

// What a child whose parent stopped its workers checks: it starts idle and its loops run in parallel.
int childRunsInParallel() {
  if (schedulerState() != SchedulerState::kIdle) return kWrongState;
  SumRun run = sumWithParallelFor(64);
  if (run.sum != 63 * 64 / 2) return kWrongSum;
  if (schedulerState() != SchedulerState::kParallel) return kWrongState;
  if (canRunInParallel() && run.threads.size() < 2) return kNotParallel;
  return kOk;
}

// Must stay the first test of the file: it runs before any loop made the arena (gtest runs the tests of
// a file in order; shuffled, it may not, and then it checks nothing more than the next test).
TEST(ForkBeforeAnyLoop, ChildRunsLoopsInParallel) {
  if (schedulerState() != SchedulerState::kIdle) GTEST_SKIP() << "a loop ran before this test";
  EXPECT_EQ(runInChild(childRunsInParallel), "ok");
  EXPECT_EQ(sumWithParallelFor(1000).sum, 999 * 1000 / 2) << "the parent's loops still work";
}

TEST(Fork, AfterLoopsChildRunsInParallelAndParentGoesOn) {
  SumRun before = sumWithParallelFor(1000);
  ASSERT_EQ(before.sum, 999 * 1000 / 2);
  ASSERT_EQ(schedulerState(), SchedulerState::kParallel);
  EXPECT_EQ(runInChild([]() -> int {
              int status = childRunsInParallel();
              if (status != kOk) return status;
              return runInChild(childRunsInParallel) == "ok" ? kOk : kGrandchildFailed;  // the child forks too
            }),
            "ok");
  EXPECT_EQ(schedulerState(), SchedulerState::kIdle) << "fork() stops the workers when no loop runs";
  SumRun after = sumWithParallelFor(1000);
  EXPECT_EQ(after.sum, 999 * 1000 / 2);
  EXPECT_EQ(schedulerState(), SchedulerState::kParallel);
  if (canRunInParallel()) {
    EXPECT_GE(after.threads.size(), 2u) << "the parent's new arena has workers again";
  }
}

TEST(Fork, SeveralChildrenInARowLikeAProcessPool) {
  ASSERT_EQ(sumWithParallelFor(100).sum, 99 * 100 / 2);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(runInChild(childRunsInParallel), "ok") << "child " << i;
  EXPECT_EQ(sumWithParallelFor(100).sum, 99 * 100 / 2);
}

// A serial child: one chunk, [0, n), on the calling thread.
int childRunsSerially() {
  if (schedulerState() != SchedulerState::kSerialAfterFork) return kWrongState;
  SumRun run = sumWithParallelFor(1000, /*waitForASecondThread=*/false);
  if (run.sum != 999 * 1000 / 2) return kWrongSum;
  if (run.chunks != 1 || run.threads.size() != 1 || *run.threads.begin() != std::this_thread::get_id()) return kNotSerial;
  return kOk;
}

TEST(Fork, WhileALoopRunsChildRunsSerially) {
  // Another thread's loop is in flight at fork(): its workers cannot be stopped, so the child must never
  // touch TBB. Its loops still give the right result, on its one thread, and so do its own children's.
  std::atomic<bool> inLoop{false}, release{false};
  std::atomic<int64_t> count{0};
  std::thread other([&] {
    parallelFor(4, 1, [&](int64_t b, int64_t e) {
      inLoop = true;
      while (!release) std::this_thread::yield();
      count += e - b;
    });
  });
  while (!inLoop) std::this_thread::yield();
  std::string child = runInChild([]() -> int {
    int status = childRunsSerially();
    if (status != kOk) return status;
    if (childRunsSerially() != kOk) return kNotSerial;  // and again: serial for good
    return runInChild(childRunsSerially) == "ok" ? kOk : kGrandchildFailed;
  });
  EXPECT_EQ(schedulerState(), SchedulerState::kParallel) << "the loop in flight kept the arena";
  release = true;
  other.join();
  EXPECT_EQ(child, "ok");
  EXPECT_EQ(count.load(), 4);
  EXPECT_EQ(sumWithParallelFor(1000).sum, 999 * 1000 / 2) << "the parent's loops still work";
}

// ---- parallelFor --------------------------------------------------------------------------------

TEST(ParallelFor, CoversEveryIndexExactlyOnce) {
  for (int64_t n : {0, 1, 2, 3, 7, 64, 1000, 4097, 100000}) {
    for (int64_t grain : {1, 2, 3, 16, 1000, 1 << 20, 0, -5}) {
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

TEST(ParallelFor, NonPositiveGrainIsGuided) {
  // Each piece is 1/(2P) of what was left when it was taken (at least 1), so a piece [b, e) has
  // e - b == max(1, (n - b) / (2P)) exactly, and the pieces shrink towards the end.
  const int64_t P = maxThreads();
  for (int64_t grain : {0, -5}) {
    for (int64_t n : {1, 5, 128, 256, 10000}) {
      std::mutex mu;
      std::vector<std::pair<int64_t, int64_t>> pieces;
      parallelFor(n, grain, [&](int64_t b, int64_t e) {
        std::lock_guard<std::mutex> lock(mu);
        pieces.push_back({b, e});
      });
      int64_t total = 0;
      for (auto& [b, e] : pieces) {
        EXPECT_EQ(e - b, std::max<int64_t>(1, (n - b) / (2 * P))) << "n=" << n << " piece [" << b << ", " << e << ")";
        total += e - b;
      }
      EXPECT_EQ(total, n);
      if (n >= 4 * P) EXPECT_LT((int64_t)pieces.size(), n) << "runs of items, not one call per item";
    }
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

// ---- workers spinning between loops (linger.h) -------------------------------------------------

TEST(Linger, SpinLengthFollowsTheRecentGaps) {
  detail::IdleGaps g;
  EXPECT_EQ(g.spinFor(5000), 1000) << "no history: 1 ms";
  EXPECT_EQ(g.spinFor(400), 400) << "no history, within the cap";
  EXPECT_EQ(g.spinFor(0), 0) << "cap 0: never spin";
  g.add(100);
  g.add(2000);
  g.add(30);
  EXPECT_EQ(g.spinFor(5000), 3200) << "1.5x the longest recent gap, plus 200 us";
  EXPECT_EQ(g.spinFor(2500), 2500) << "never beyond the cap";
  EXPECT_EQ(g.spinFor(1000), 350) << "gaps beyond the cap are left out: 1.5 x 100 + 200";
  EXPECT_EQ(g.spinFor(0), 0);
  g.add(-5);  // a clock step backwards counts as no gap
  EXPECT_EQ(g.spinFor(1000), 350);
  for (int k = 0; k < 5; ++k) g.add(1'000'000);  // loops now a second apart
  EXPECT_EQ(g.spinFor(5000), 0) << "most recent gaps beyond the cap: no spin";
  for (int k = 0; k < detail::IdleGaps::kKept; ++k) g.add(40);
  EXPECT_EQ(g.spinFor(5000), 260) << "only the last kKept gaps count";
}

// Sets the scheduler's spin policy for a test, restoring it afterwards.
struct SpinPolicy {
  int64_t oldCap;
  detail::IdleGaps oldGaps;
  SpinPolicy(int64_t cap, int64_t recentGap) {
    sumWithParallelFor(8);  // the first loop of a process reads the cap from the environment: not after this
    detail::Scheduler& s = detail::scheduler();
    std::lock_guard<std::mutex> lock(s.mu);
    oldCap = s.linger;
    oldGaps = s.gaps;
    s.linger = cap;
    s.gaps = detail::IdleGaps{};
    for (int k = 0; k < detail::IdleGaps::kKept; ++k) s.gaps.add(recentGap);
  }
  ~SpinPolicy() {
    detail::Scheduler& s = detail::scheduler();
    std::lock_guard<std::mutex> lock(s.mu);
    s.linger = oldCap;
    s.gaps = oldGaps;
  }
};

bool waitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(Linger, WorkersSpinAfterALoopAndTheNextLoopTakesThem) {
  if (!canRunInParallel()) GTEST_SKIP() << "one thread: nothing spins";
  SpinPolicy policy(/*cap=*/20'000'000, /*recentGap=*/5'000'000);  // spins up to 7.5 s
  ASSERT_EQ(sumWithParallelFor(64).sum, 63 * 64 / 2);
  ASSERT_TRUE(waitFor([] { return detail::spinningWorkers() > 0; }, std::chrono::seconds(5)))
      << "after the loop a worker spins, waiting for the next one";
  SumRun next = sumWithParallelFor(64);
  EXPECT_EQ(next.sum, 63 * 64 / 2);
  EXPECT_GE(next.threads.size(), 2u) << "the spinning worker took chunks of the next loop";
  // that loop's own spin is ended here, as fork() would end it
  ASSERT_TRUE(waitFor([] { return detail::spinningWorkers() > 0; }, std::chrono::seconds(5)));
  auto t0 = std::chrono::steady_clock::now();
  detail::lingerStop();
  EXPECT_EQ(detail::spinningWorkers(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2)) << "not the 7.5 s a spin may last";
}

// A guided loop (grain 0), as sumWithParallelFor.
SumRun guidedSum(int64_t n, bool throwOffCaller = false) { return sumWithParallelFor(n, true, 0, throwOffCaller); }

TEST(Linger, ASpinningWorkerJoinsAGuidedLoopDirectly) {
  if (!canRunInParallel()) GTEST_SKIP() << "one thread: nothing spins";
  SpinPolicy policy(/*cap=*/20'000'000, /*recentGap=*/5'000'000);
  for (int rep = 0; rep < 3; ++rep) {
    ASSERT_EQ(guidedSum(64).sum, 63 * 64 / 2);
    ASSERT_TRUE(waitFor([] { return detail::spinningWorkers() > 0; }, std::chrono::seconds(5)));
    int64_t joins = detail::Guided::joins();
    SumRun next = guidedSum(1000);
    EXPECT_EQ(next.sum, 999 * 1000 / 2);
    EXPECT_GE(next.threads.size(), 2u);
    EXPECT_GT(detail::Guided::joins(), joins) << "the spinning worker took pieces of the offered loop itself";
  }
}

TEST(Linger, AnExceptionOnAJoinedWorkerReachesTheCaller) {
  if (!canRunInParallel()) GTEST_SKIP() << "one thread: nothing spins";
  SpinPolicy policy(/*cap=*/20'000'000, /*recentGap=*/5'000'000);
  for (int rep = 0; rep < 3; ++rep) {
    ASSERT_EQ(guidedSum(64).sum, 63 * 64 / 2);
    ASSERT_TRUE(waitFor([] { return detail::spinningWorkers() > 0; }, std::chrono::seconds(5)));
    EXPECT_THROW(
        {
          try {
            guidedSum(1000, /*throwOffCaller=*/true);
          } catch (const std::runtime_error& e) {
            EXPECT_STREQ(e.what(), "piece on a worker");
            throw;
          }
        },
        std::runtime_error);
  }
  // the slot was given back: the next loops are offered and joined again
  ASSERT_EQ(guidedSum(64).sum, 63 * 64 / 2);
  ASSERT_TRUE(waitFor([] { return detail::spinningWorkers() > 0; }, std::chrono::seconds(5)));
  int64_t joins = detail::Guided::joins();
  EXPECT_EQ(guidedSum(1000).sum, 999 * 1000 / 2);
  EXPECT_GT(detail::Guided::joins(), joins);
}

TEST(Linger, NoSpinWhenLoopsComeRarely) {
  if (!canRunInParallel()) GTEST_SKIP() << "one thread: nothing spins";
  detail::lingerStop();
  SpinPolicy policy(/*cap=*/5000, /*recentGap=*/1'000'000);  // loops a second apart
  ASSERT_EQ(sumWithParallelFor(64).sum, 63 * 64 / 2);
  EXPECT_FALSE(waitFor([] { return detail::spinningWorkers() > 0; }, std::chrono::milliseconds(200)));
}

TEST(Linger, ForkWhileAWorkerSpins) {
  if (!canRunInParallel()) GTEST_SKIP() << "one thread: nothing spins";
  SpinPolicy policy(/*cap=*/20'000'000, /*recentGap=*/5'000'000);
  ASSERT_EQ(sumWithParallelFor(64).sum, 63 * 64 / 2);
  ASSERT_TRUE(waitFor([] { return detail::spinningWorkers() > 0; }, std::chrono::seconds(5)));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(runInChild(childRunsInParallel), "ok") << "fork() ends the spin and stops the workers first";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(detail::spinningWorkers(), 0);
  EXPECT_EQ(sumWithParallelFor(1000).sum, 999 * 1000 / 2);
}

}  // namespace
}  // namespace epochpp::parallel
