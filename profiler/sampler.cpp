// profiler/sampler.cpp — the sampler thread: GIL, stacks, /proc thread states, classification.
//
// Taking the GIL pauses a thread running Python at a bytecode boundary: it then waits for the
// GIL (a futex) having used CPU — that is Python time. A thread that keeps running while we hold
// the GIL (state R) is in native code that released the GIL (NumPy, epochpp). A thread asleep in
// read/recv/poll/sleep is doing I/O; asleep on a futex without CPU use, it waits on a lock.
// When getting the GIL took much longer than the switch interval, native code held it: that
// wait is split out as native time on the line that called it (as Scalene does).
#include "profiler/sampler.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "profiler/thread_modes.h"
#include "runtime/runtime.h"

namespace epochpp::profiler {

const char* categoryName(int c) {
  static const char* names[] = {"python", "native", "compiled", "parallel", "gpu", "io", "lock", "other"};
  return c >= 0 && c < 8 ? names[c] : "other";
}

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// "R", "S", "D" ... from /proc/self/task/<tid>/stat
static char threadState(long tid) {
  char path[64], buf[512];
  std::snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return '?';
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return '?';
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');
  return p && p[1] && p[2] ? p[2] : '?';
}

static int threadSyscall(long tid) {
  char path[64], buf[128];
  std::snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", tid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  if (buf[0] == 'r') return -2;  // "running"
  return std::atoi(buf);
}

// The thread's schedstat: seconds run (exact, also for a thread running now) and seconds
// waited on a run queue.
static void schedStat(long tid, double* run, double* wait) {
  *run = *wait = 0;
  char path[64], buf[128];
  std::snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat", tid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  unsigned long long r = 0, w = 0;
  if (std::sscanf(buf, "%llu %llu", &r, &w) == 2) {
    *run = r * 1e-9;
    *wait = w * 1e-9;
  }
}

static double schedExec(long tid) {
  double run, wait;
  schedStat(tid, &run, &wait);
  return run;
}

static double runQueueWait(long tid) {
  double run, wait;
  schedStat(tid, &run, &wait);
  return wait;
}

static bool isIoSyscall(int nr) {
#if defined(__x86_64__)
  switch (nr) {
    case 0: case 1: case 7: case 17: case 18: case 19: case 20: case 23: case 35: case 40: case 42: case 43:
    case 44: case 45: case 46: case 47: case 61: case 74: case 75: case 217: case 230: case 232: case 257:
    case 270: case 271: case 275: case 281: case 288: case 295: case 296: case 299: case 307:
      return true;
    default: return false;
  }
#else
  (void)nr;
  return false;
#endif
}

static bool isFutex(int nr) {
#if defined(__x86_64__)
  return nr == 202;
#else
  (void)nr;
  return false;
#endif
}

static double threadCpu(unsigned long pthread_id) {
  clockid_t cid;
  if (pthread_getcpuclockid((pthread_t)pthread_id, &cid) != 0) return -1;
  timespec ts;
  if (clock_gettime(cid, &ts) != 0) return -1;
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

Sampler::Sampler(double interval_s, double watch_s)
    : interval_(interval_s > 1e-4 ? interval_s : 1e-4), watch_(watch_s < 0 ? 0 : watch_s) {}

Sampler::~Sampler() {
  stop();
  if ((!code_refs_.empty() || !last_frame_.empty()) && Py_IsInitialized()) {
    PyGILState_STATE g = PyGILState_Ensure();
    for (void* c : code_refs_) Py_DECREF(reinterpret_cast<PyObject*>(c));
    for (auto& [tid, fr] : last_frame_) Py_XDECREF(reinterpret_cast<PyObject*>(fr));
    PyGILState_Release(g);
  }
}

void Sampler::start() {
  if (running_.exchange(true)) return;
  t0_ = now();
  thread_ = std::thread([this] { loop(); });
}

void Sampler::stop() {
  if (!running_.exchange(false)) return;
  // (the frame references are dropped by the destructor or the next start)
  if (thread_.joinable()) {
    // The sampler may be waiting for the GIL this thread holds: let it go while we join.
    if (Py_IsInitialized() && PyGILState_Check()) {
      Py_BEGIN_ALLOW_THREADS
      thread_.join();
      Py_END_ALLOW_THREADS
    } else {
      thread_.join();
    }
  }
}

int Sampler::codeIndex(void* code) {
  auto it = code_index_.find(code);
  if (it != code_index_.end()) return it->second;
  PyCodeObject* co = reinterpret_cast<PyCodeObject*>(code);
  CodeInfo ci;
  const char* f = PyUnicode_AsUTF8(co->co_filename);
  const char* n = PyUnicode_AsUTF8(co->co_name);
  ci.file = f ? f : "?";
  ci.name = n ? n : "?";
  ci.first_line = co->co_firstlineno;
  Py_INCREF(co);
  int idx = (int)codes_.size();
  codes_.push_back(ci);
  code_refs_.push_back(code);
  code_index_[code] = idx;
  return idx;
}

void Sampler::loop() {
  self_tid_ = (long)syscall(SYS_gettid);
  double next = now() + interval_;
  double last = now();
  while (running_) {
    double t = now();
    if (t < next) {
      std::this_thread::sleep_for(std::chrono::duration<double>(next - t));
      continue;
    }
    next += interval_;
    if (next < t) next = t + interval_;  // fell behind: do not burst
    double req = now();
    PyGILState_STATE g = PyGILState_Ensure();
    double acq = now();
    if (running_) sampleOnce(acq - last, acq - req);
    last = acq;
    hold_ += now() - acq;
    wait_ += acq - req;
    PyGILState_Release(g);
  }
}

void Sampler::sampleOnce(double dt, double wait) {
  std::map<long, int> modes;
  for (auto& [tid, m] : threadModes()) modes[tid] = m;
  PyThreadState* me = PyThreadState_Get();
  double switch_s = 0.005;
  {
    PyObject* sys = PyImport_AddModule("sys");  // borrowed
    PyObject* r = sys ? PyObject_CallMethod(sys, "getswitchinterval", nullptr) : nullptr;
    if (r) switch_s = PyFloat_AsDouble(r);
    Py_XDECREF(r);
    PyErr_Clear();
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (PyThreadState* ts = PyInterpreterState_ThreadHead(me->interp); ts; ts = PyThreadState_Next(ts)) {
    if (ts == me) continue;
    long tid = (long)ts->native_thread_id;
    if (tid == self_tid_) continue;
    Sample s;
    s.t = now() - t0_;
    s.wall = dt;
    s.tid = tid;
    double cpu = threadCpu(ts->thread_id);
    auto lc = last_cpu_.find(tid);
    s.cpu = (lc == last_cpu_.end() || cpu < 0) ? 0.0 : cpu - lc->second;
    if (cpu >= 0) last_cpu_[tid] = cpu;
    bool first = lc == last_cpu_.end();
    double rq = runQueueWait(tid);
    double rqDelta = last_wait_.count(tid) ? rq - last_wait_[tid] : 0.0;
    last_wait_[tid] = rq;
    char st = threadState(tid);
    // A thread still runnable while we hold the GIL either runs native code that released the
    // GIL (its run time grows) or is on its way to wait for the GIL (it leaves the run state
    // within microseconds). While it only waits for a CPU (a loaded machine) neither happens
    // yet: keep watching, up to 5 ms (on a quiet machine the answer comes in microseconds;
    // the program waits while we hold the GIL).
    bool cpuWhileWeHold = false;
    if (st == 'R') {
      double exec0 = schedExec(tid);
      double until = now() + watch_;
      for (int i = 0; now() < until; ++i) {
        if (schedExec(tid) - exec0 > 0.000005) { cpuWhileWeHold = true; break; }
        st = threadState(tid);
        if (st != 'R') break;
        // after a few quick looks, sleep between looks: on a 2-core machine spinning here would
        // take the very core the watched thread is waiting for
        if (i >= 3) std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      // still runnable and not running after 5 ms: the scheduler set it aside (a loaded
      // machine), so nothing tells native code from a thread about to wait for the GIL; it is
      // counted by its CPU use since the last sample, below (known limit: docs/profiler.md)
    }
    int mode = modes.count(tid) ? modes[tid] : kNone;
    if (mode == kModeCompiled) s.cat = kCompiled;
    else if (mode == kModeParallel) s.cat = kParallelCat;
    else if (mode == kModeGpu) s.cat = kGpuCat;
    else if (cpuWhileWeHold) s.cat = kNative;
    else {
      s.syscall = st == 'R' ? -2 : threadSyscall(tid);
      // runnable time the scheduler gave to others counts as wanting to run (a loaded machine)
      bool busy = first || s.cpu + rqDelta > 0.3 * dt;
      if (isFutex(s.syscall) || s.syscall == -2) {
        s.cat = busy ? kPython : kLock;
        // waiting for the GIL longer than the switch interval: native code held it
        if (busy && wait > 2 * switch_s + 0.0005) s.native_gil = std::min(dt, wait - switch_s);
      } else if (isIoSyscall(s.syscall)) {
        s.cat = kIo;
      } else {
        s.cat = busy ? kPython : kOther;
      }
    }
    PyFrameObject* f = PyThreadState_GetFrame(ts);
    {
      auto lf = last_frame_.find(tid);
      if (lf != last_frame_.end()) Py_XDECREF(reinterpret_cast<PyObject*>(lf->second));
      Py_XINCREF(f);
      last_frame_[tid] = f;
    }
    bool top = true;
    while (f) {
      PyCodeObject* co = PyFrame_GetCode(f);
      int line = PyFrame_GetLineNumber(f);
#if PY_VERSION_HEX >= 0x030B0000
      // the jump back at the end of a loop has no line: report the instruction before it
      for (int back = 2; line < 0 && back <= 32; back += 2) {
        int at = PyFrame_GetLasti(f) - back;
        if (at < 0) break;
        line = PyCode_Addr2Line(co, at);
      }
#endif
      if (line < 0) line = co->co_firstlineno;
      s.stack.push_back({codeIndex(co), line});
      s.frame_ids.push_back((uintptr_t)f);
      Py_DECREF(co);
#if PY_VERSION_HEX >= 0x030B0000
      if (top && (s.cat == kNative || s.native_gil > 0)) {
        PyObject* locals = PyFrame_GetLocals(f);
        PyObject* items = locals ? PyMapping_Items(locals) : nullptr;
        if (items) {
          for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items) && s.arrays.size() < 16; ++i) {
            PyObject* kv = PyList_GET_ITEM(items, i);
            PyObject* v = PyTuple_GET_ITEM(kv, 1);
            if (runtime::numpyReady() && PyArray_Check(v)) {
              const char* name = PyUnicode_Check(PyTuple_GET_ITEM(kv, 0)) ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(kv, 0)) : nullptr;
              if (name) s.arrays.push_back({name, (int64_t)PyArray_SIZE(reinterpret_cast<PyArrayObject*>(v))});
            }
          }
        }
        Py_XDECREF(items);
        Py_XDECREF(locals);
        PyErr_Clear();
      }
#endif
      top = false;
      PyFrameObject* back = PyFrame_GetBack(f);
      Py_DECREF(f);
      f = back;
    }
    samples_.push_back(std::move(s));
  }
}

std::vector<Sample> Sampler::take(std::vector<CodeInfo>* codes) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Sample> out;
  out.swap(samples_);
  if (codes) *codes = codes_;
  return out;
}

}  // namespace epochpp::profiler
