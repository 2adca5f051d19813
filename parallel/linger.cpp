// parallel/linger.cpp — the workers' spin after a loop (see linger.h for why and how long).
#include "parallel/linger.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "parallel/guided.h"
#include "parallel/scheduler.h"

namespace epochpp::parallel::detail {

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<uint64_t> loopEpoch{0};  // bumped when a loop starts: ends every spin
std::atomic<int> spinning{0};        // workers spinning now

}  // namespace

void IdleGaps::add(int64_t micros) {
  gaps_[next_] = micros < 0 ? 0 : micros;
  next_ = (next_ + 1) % kKept;
  count_ = std::min(count_ + 1, kKept);
}

int64_t IdleGaps::spinFor(int64_t cap) const {
  if (cap <= 0) return 0;
  if (count_ == 0) return std::min<int64_t>(cap, 1000);
  int within = 0;
  int64_t longest = 0;
  for (int k = 0; k < count_; ++k)
    if (gaps_[k] <= cap) {
      ++within;
      longest = std::max(longest, gaps_[k]);
    }
  if (2 * within < count_) return 0;  // loops mostly come further apart than the cap
  return std::min(cap, longest + longest / 2 + 200);
}

void lingerLoopStarts(Scheduler& s) {
  if (s.inFlight == 0 && s.lastEnd != Clock::time_point{})
    s.gaps.add(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - s.lastEnd).count());
}

void lingerWake() { loopEpoch.fetch_add(1); }

void lingerLoopEnded(Scheduler& s) {
  s.lastEnd = Clock::now();
  if (!s.arena || s.threads < 2) return;
  int64_t micros = s.gaps.spinFor(s.linger);
  if (micros <= 0) return;
  uint64_t epoch = loopEpoch.load();
  auto deadline = s.lastEnd + std::chrono::microseconds(micros);
  // one task per worker; a task that starts late (its deadline passed, or a newer loop came)
  // returns at once
  for (int w = 1; w < s.threads; ++w)
    s.arena->tbb.enqueue([epoch, deadline] {
      spinning.fetch_add(1);
      // the epoch is read after every pause, the clock after every 64 (64 pauses took 1.7 us on
      // the Zen 4 VM measured, and Intel gives ~140 cycles a pause since Skylake)
      bool woken = true;
      for (unsigned k = 1; loopEpoch.load(std::memory_order_relaxed) == epoch; ++k) {
        cpuRelax();
        if (k % 64 == 0 && Clock::now() >= deadline) {
          woken = false;
          break;
        }
      }
      if (woken) Guided::joinOffered();  // a loop started: take pieces of it here (guided.h)
      spinning.fetch_sub(1);
    });
}

void lingerStop() {
  loopEpoch.fetch_add(1);
  while (spinning.load() > 0) std::this_thread::yield();
}

int spinningWorkers() { return spinning.load(); }

}  // namespace epochpp::parallel::detail
