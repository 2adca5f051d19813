// parallel/guided.cpp — a guided loop's pieces, and spinning workers joining it (see guided.h).
#include "parallel/guided.h"

#include <algorithm>

#include "parallel/linger.h"

namespace epochpp::parallel::detail {

namespace {

std::atomic<Guided*> offered{nullptr};  // the loop spinning workers may join; one at a time
std::atomic<int> pin{0};                // spinning workers between reading `offered` and joining it
std::atomic<int64_t> joinCount{0};

}  // namespace

void Guided::run() {
  int64_t cur = next_.load(std::memory_order_relaxed);
  while (cur < n_) {
    int64_t take = std::max<int64_t>(1, (n_ - cur) / (2 * threads_));
    if (!next_.compare_exchange_weak(cur, cur + take, std::memory_order_relaxed)) continue;  // cur reloaded
    try {
      tsan::Chunk chunk(loop_);
      body_(cur, cur + take);
    } catch (...) {
      {
        std::lock_guard<std::mutex> lock(errorMu_);
        if (!error_) error_ = std::current_exception();
      }
      next_.store(n_, std::memory_order_relaxed);  // no more pieces: a CAS from a smaller value fails
      return;
    }
    cur = next_.load(std::memory_order_relaxed);
  }
}

void Guided::rethrow() {
  if (error_) std::rethrow_exception(error_);
}

void Guided::offer() {
  Guided* none = nullptr;
  offered_ = offered.compare_exchange_strong(none, this);
}

void Guided::withdraw() {
  if (!offered_) return;
  offered.store(nullptr);  // sequentially consistent, as pin.load below (guided.h)
  while (pin.load() > 0) cpuRelax();
  while (helpers_.load(std::memory_order_acquire) > 0) cpuRelax();
  offered_ = false;
}

void Guided::joinOffered() {
  pin.fetch_add(1);
  Guided* g = offered.load();
  if (g) g->helpers_.fetch_add(1, std::memory_order_relaxed);
  pin.fetch_sub(1, std::memory_order_release);
  if (!g) return;
  joinCount.fetch_add(1, std::memory_order_relaxed);
  g->run();
  g->helpers_.fetch_sub(1, std::memory_order_release);  // g may be gone from here on
}

int64_t Guided::joins() { return joinCount.load(); }

}  // namespace epochpp::parallel::detail
