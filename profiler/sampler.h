// profiler/sampler.h — the sampling profiler: a C++ thread that, every interval, takes the GIL,
// records every Python thread's stack and what the thread was doing (Python, native code,
// epochpp compiled code, I/O, a lock), with wall and CPU time.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace epochpp::profiler {

enum Category : uint8_t { kPython = 0, kNative = 1, kCompiled = 2, kParallelCat = 3, kGpuCat = 4, kIo = 5, kLock = 6, kOther = 7 };
const char* categoryName(int c);

struct Sample {
  double t = 0;             // seconds since start
  double wall = 0;          // wall seconds this sample stands for
  double cpu = 0;           // CPU seconds the thread used in that time
  double native_gil = 0;    // part of `wall` spent in native code that held the GIL (kPython samples)
  long tid = 0;
  uint8_t cat = kOther;
  int syscall = -1;         // the blocking system call, when blocked
  std::vector<std::pair<int, int>> stack;              // (code index, line), innermost first
  std::vector<uintptr_t> frame_ids;                     // frame object identities, parallel to stack
  std::vector<std::pair<std::string, int64_t>> arrays;  // ndarray locals of the top frame: name, size
};

struct CodeInfo {
  std::string file, name;
  int first_line = 0;
};

class Sampler {
 public:
  // watch_s: how long a runnable thread may be watched per sample (accuracy on a loaded machine
  // against time the program waits while the sampler holds the GIL).
  explicit Sampler(double interval_s, double watch_s = 0.005);
  ~Sampler();
  void start();
  void stop();
  bool running() const { return running_; }
  // Moves the samples taken so far out (and the code table, which only grows).
  std::vector<Sample> take(std::vector<CodeInfo>* codes);
  double interval() const { return interval_; }
  double holdSeconds() const { return hold_; }  // time the sampler held the GIL (its cost to Python code)
  double waitSeconds() const { return wait_; }

 private:
  void loop();
  void sampleOnce(double dt, double wait);
  int codeIndex(void* code);

  double interval_;
  double watch_;
  std::atomic<bool> running_{false};
  std::thread thread_;
  long self_tid_ = 0;
  std::mutex mu_;
  std::vector<Sample> samples_;
  std::vector<CodeInfo> codes_;
  std::vector<void*> code_refs_;  // strong references to code objects, parallel to codes_
  std::map<void*, int> code_index_;
  std::map<long, double> last_cpu_;
  std::map<long, double> last_wait_;   // run-queue wait (schedstat): a runnable thread not yet scheduled
  std::map<long, void*> last_frame_;   // a reference to each thread's last sampled top frame, so a new
                                       // call never reuses its address (frame ids count calls)
  double t0_ = 0;
  double hold_ = 0, wait_ = 0;
};

}  // namespace epochpp::profiler
