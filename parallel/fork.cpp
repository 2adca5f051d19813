// parallel/fork.cpp — keeps parallelFor usable after fork() (os.fork, multiprocessing's 'fork' context).
//
// fork() copies only the calling thread. A child that used the parent's arena would wait on TBB worker
// threads that do not exist in it, and TBB's global state (market, thread pool, locks) is a copy taken
// at a random moment. So, with pthread_atfork handlers:
//
//   prepare (parent, before fork): take the scheduler's mutex, so no loop starts while fork() runs. If no
//     loop is in flight (Scheduler::inFlight, any thread), delete our arena and call oneapi::tbb::finalize(),
//     which joins every TBB worker thread (oneTBB's supported way to have none before fork). finalize()
//     fails, without waiting, when TBB has other users: another thread that ran a loop and is still alive
//     (TBB keeps a reference per such thread), or another library's arena.
//   parent (after fork): release the mutex. The next loop makes a fresh arena; TBB starts new workers.
//   child: if finalize() succeeded, TBB has no threads and no market: the next loop makes a fresh arena
//     and runs in parallel as usual. Otherwise the child marks itself serial for good and never touches
//     TBB again: every parallelFor runs body(0, n) on the calling thread (so do the child's own children).
//
// Cost: a fork() in a process that ran parallel loops joins the workers first (fork() took ~0.5 ms instead
// of ~0.1 ms with 2 threads when measured; more threads, a little more), and the parent's next loop starts
// new ones (thread creation, tens of microseconds each). The alternative, every fork child serial, costs
// nothing at fork() but gives up Level 3 in every forked worker process; this keeps it where it is safe.
// A fork() with no loop in flight and no TBB use elsewhere gives a fully parallel child; otherwise the
// child is correct but serial. A fork() from inside a loop body is not supported: the child could not
// finish the loop it was in (workers never run Python, so Python code cannot do this).
#include <oneapi/tbb/global_control.h>
#include <pthread.h>

#include <new>

#include "parallel/scheduler.h"

namespace epochpp::parallel::detail {
namespace {

bool workersStopped = false;  // prepare's verdict for the child; written and read with mu held

void prepare() {
  Scheduler& s = scheduler();
  s.mu.lock();  // released by parent() or child()
  workersStopped = false;
  // A serial process holds a copy of a market whose workers are gone: finalize() would wait for them.
  if (s.serial || s.inFlight > 0) return;
  lingerStop();  // workers spinning after the last loop (linger.h) stop; waits until they have
  delete s.arena;  // terminates it; nothing uses it (no loop in flight, and mu keeps new ones out)
  s.arena = nullptr;
  oneapi::tbb::task_scheduler_handle handle{oneapi::tbb::attach{}};
  workersStopped = oneapi::tbb::finalize(handle, std::nothrow);
}

void parent() { scheduler().mu.unlock(); }

void child() {
  Scheduler& s = scheduler();
  if (!workersStopped) s.serial = true;  // the arena (if any) and TBB's state are left as they are, unused
  s.mu.unlock();  // this thread took it in prepare(); it is the child's only thread
}

}  // namespace

void installForkHandlers() { pthread_atfork(prepare, parent, child); }

}  // namespace epochpp::parallel::detail
