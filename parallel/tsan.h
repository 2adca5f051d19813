// parallel/tsan.h — internal to parallel/: what ThreadSanitizer must be told about parallelFor (the
// parallel_tsan test); every type here is empty unless the file is compiled with -fsanitize=thread.
//
// libtbb is not instrumented, so TSan sees none of the synchronisation inside it, while the oneTBB
// templates that parallel.cpp instantiates (parallel_for's task objects, partitioner, blocked_range) are
// instrumented. Left alone, TSan reports the task objects TBB hands between threads and the loop's captured
// variables as races. Suppressing every report with a libtbb frame would hide real races too: every chunk
// runs below libtbb frames. Instead:
//   - TBB's own code is hidden from TSan (its accesses are ignored): on the calling thread while the loop
//     runs (Loop), and on TBB's workers once they have entered our arena (WorkerObserver); Chunk shows
//     the body again.
//   - The happens-before edges parallel_for guarantees are stated, and nothing more: the caller's past
//     before every chunk, every chunk before parallelFor returns. Chunks stay unordered among themselves,
//     so a race between two chunks (or between a chunk and another thread) is still reported.
#pragma once
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_scheduler_observer.h>

#if defined(__SANITIZE_THREAD__)
#define EPOCHPP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EPOCHPP_TSAN 1
#endif
#endif

namespace epochpp::parallel::tsan {

#ifdef EPOCHPP_TSAN

extern "C" {
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
void __tsan_ignore_thread_begin();
void __tsan_ignore_thread_end();
}

// Whether this thread's accesses are ignored (it is running TBB's code). A thread must not end with its
// accesses ignored (TSan stops the process then): the destructor of this thread_local shows it again,
// and C++ thread_local destructors run before TSan's end-of-thread check.
struct Visibility {
  bool hidden = false;
  ~Visibility();
};
inline thread_local Visibility visibility;

// Sets this thread's visibility; returns the previous one. Ignores nest in TSan, so only flip it.
inline bool setHidden(bool h) {
  bool was = visibility.hidden;
  if (h != was) {
    if (h) __tsan_ignore_thread_begin();
    else __tsan_ignore_thread_end();
    visibility.hidden = h;
  }
  return was;
}
inline Visibility::~Visibility() { setHidden(false); }

// One parallelFor call, on the calling thread: everything before happens before every chunk, every chunk
// happens before the end of the scope; TBB's code in between is hidden.
class Loop {
 public:
  Loop() { __tsan_release(&before_); was_ = setHidden(true); }
  ~Loop() { setHidden(was_); __tsan_acquire(&after_); }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

 private:
  friend class Chunk;
  char before_ = 0, after_ = 0;  // sync addresses
  bool was_;
};

// One chunk of a Loop, on whichever thread runs it: the body is visible to TSan.
class Chunk {
 public:
  explicit Chunk(Loop& loop) : loop_(loop) { __tsan_acquire(&loop_.before_); was_ = setHidden(false); }
  ~Chunk() { __tsan_release(&loop_.after_); setHidden(was_); }
  Chunk(const Chunk&) = delete;
  Chunk& operator=(const Chunk&) = delete;

 private:
  Loop& loop_;
  bool was_;
};

// Hides TBB's code on a worker from the moment it first enters the arena; chunks show their bodies.
// Not undone when the worker leaves: the observer may be gone by then (the arena is deleted before a
// fork()), and until it ends a worker runs only TBB's code and our chunks.
class WorkerObserver : public oneapi::tbb::task_scheduler_observer {
 public:
  explicit WorkerObserver(oneapi::tbb::task_arena& arena) : task_scheduler_observer(arena) { observe(true); }
  ~WorkerObserver() override { observe(false); }
  void on_scheduler_entry(bool worker) override {
    if (worker) setHidden(true);
  }
};

#else  // not a ThreadSanitizer build: nothing to say

struct Loop {};
struct Chunk {
  explicit Chunk(Loop&) {}
};
struct WorkerObserver {
  explicit WorkerObserver(oneapi::tbb::task_arena&) {}
};

#endif

}  // namespace epochpp::parallel::tsan
