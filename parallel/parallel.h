// parallel/parallel.h — the one interface to oneTBB (Level 3 builds on it): thread count, parallel_for, fork state.
#pragma once
#include <cstdint>
#include <functional>

namespace epochpp::parallel {

int maxThreads();  // EPOCHPP_NUM_THREADS or all cores
// Runs body(begin, end) over [0, n) on the arena's workers, in pieces of at most `grain` (oneTBB's
// work stealing; with grain 1 it splits down to single items, a task each), or with grain 0 guided:
// each thread takes 1/(2P) of what is left at a time, pieces shrinking to 1 item. In a forked child
// whose parent could not stop its workers (see SchedulerState), it runs body(0, n) once, on the calling
// thread.
void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& body);

// What parallelFor will do next in this process. fork() (os.fork, multiprocessing's 'fork') stops the
// TBB workers first when no loop is running, so the child starts idle and runs loops in parallel;
// when a loop is in flight at fork() the child can never use TBB and runs every loop serially.
enum class SchedulerState {
  kIdle,             // no arena: none made yet, or it was torn down for a fork(); the next loop makes one
  kParallel,         // the arena exists: loops run on its threads
  kSerialAfterFork,  // a fork child whose parent's workers could not be stopped: loops run on the caller
};
SchedulerState schedulerState();

}  // namespace epochpp::parallel
