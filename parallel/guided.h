// parallel/guided.h — internal to parallel/: a guided loop (parallelFor with grain 0), and how workers
// spinning after the last loop (linger.h) join it without going back through oneTBB.
//
// Guided: every thread that runs the loop takes the next max(1, left / (2P)) items from one atomic
// counter until none is left, so pieces shrink as the loop runs out.
//
// Joining: a spinning worker sees a new loop start within a pause (~27 ns). Returning to oneTBB and
// stealing the loop's task took it another 1-2 us, and oneTBB's join ~1 us after the last piece
// (measured on a 2-vCPU VM, matmul 128: ~3 us of a 95 us call). So the caller offers its guided loop
// (one at a time in the process: the slot is taken with a CAS) before waking the spinners, and a
// spinner takes pieces of the offered loop directly. The loop also runs on oneTBB as before, for
// workers that were asleep. Before the caller returns it withdraws the offer and waits for the
// workers that joined:
//   spinner: pin++ ; g = offered ; if g: g->helpers++ ; pin-- ; run g ; g->helpers--
//   caller:  offered = null ; wait pin == 0 ; wait g.helpers == 0
// All four of pin++, the load of offered, the store of null and the caller's load of pin are
// sequentially consistent: either the caller's load of pin sees the spinner's pin++ (then it waits,
// and sees helpers++ after pin--), or the spinner's load of offered comes after the null.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>

#include "parallel/tsan.h"

namespace epochpp::parallel::detail {

class Guided {
 public:
  Guided(int64_t n, int64_t threads, const std::function<void(int64_t, int64_t)>& body, tsan::Loop& loop)
      : n_(n), threads_(threads), body_(body), loop_(loop) {}
  ~Guided() { withdraw(); }  // also when oneTBB throws: no worker may still be in this loop
  Guided(const Guided&) = delete;
  Guided& operator=(const Guided&) = delete;

  // Takes pieces until none is left. An exception from the body is kept for rethrow() and ends the
  // handing out of pieces (pieces already running finish).
  void run();
  // After every thread is done with it: the first exception a piece threw, if any.
  void rethrow();

  // Offers the loop to spinning workers, when no other loop is offered now. Then wake them (linger.h).
  void offer();
  // Withdraws the offer and waits until the workers that joined are done with this loop (again: nothing).
  void withdraw();
  // Called by a spinning worker when a loop starts: takes pieces of the offered loop, if any.
  static void joinOffered();
  // How many times a spinning worker joined an offered loop in this process (for tests).
  static int64_t joins();

 private:
  const int64_t n_, threads_;
  const std::function<void(int64_t, int64_t)>& body_;
  tsan::Loop& loop_;
  std::atomic<int64_t> next_{0};
  std::atomic<int> helpers_{0};  // spinning workers running this loop now
  bool offered_ = false;         // this loop holds the slot
  std::mutex errorMu_;
  std::exception_ptr error_;
};

}  // namespace epochpp::parallel::detail
