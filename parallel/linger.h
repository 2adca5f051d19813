// parallel/linger.h — workers stay awake for a while after a loop, when loops come close together.
//
// A oneTBB worker with nothing to do goes to sleep, and the next loop has to wake it: on the VM
// this was measured on, the worker ran its first chunk 60-120 us after the loop started (1-2 us
// when it was awake), a third of a 0.4 ms loop on 2 cores. So after the last loop in flight ends,
// each worker spins (a task on the arena that pauses and watches for the next loop) for as long
// as the next loop is expected to take to come, and goes to sleep when it does not come in time.
//
// How long: the recent idle gaps (end of the last loop in flight to the start of the next) say
// how far apart loops come. Workers spin 1.5x the longest recent gap that is within the cap
// (EPOCHPP_WORKER_LINGER_US, default 5000 us; 0: never spin), plus 200 us; not at all when most
// recent gaps exceed the cap: loops that rare lose at most a wake-up (~0.1 ms) per 5 ms or more,
// and spinning through such gaps would keep cores busy for nothing. Without a history: 1 ms.
#pragma once
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include <cstdint>
#include <thread>

namespace epochpp::parallel::detail {

// One step of a spin (the workers' linger, guided.cpp's waits): tells the core this is a spin (an SMT
// sibling gets the pipeline meanwhile).
inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

class IdleGaps {
 public:
  static constexpr int kKept = 8;
  void add(int64_t micros);
  // Microseconds to spin after a loop, given the cap (0: none).
  int64_t spinFor(int64_t capMicros) const;

 private:
  int64_t gaps_[kKept] = {};
  int count_ = 0, next_ = 0;
};

struct Scheduler;
// With s.mu held. A loop starts: records the idle gap since the last one ended, when none was in flight.
void lingerLoopStarts(Scheduler& s);
// After lingerLoopStarts (and after the loop is offered, guided.h), without s.mu: ends the workers'
// spin. A spinning worker then takes pieces of the offered loop, if any, and goes back to oneTBB.
void lingerWake();
// With s.mu held. The last loop in flight ended: the workers spin for IdleGaps::spinFor.
void lingerLoopEnded(Scheduler& s);
// With s.mu held, before fork(): ends every spin and waits until no worker spins.
void lingerStop();
// Workers spinning now (for tests).
int spinningWorkers();

}  // namespace epochpp::parallel::detail
