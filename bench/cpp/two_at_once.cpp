// bench/cpp/two_at_once.cpp -- how much of T cores this machine gives to T copies of a loop at once.
//
//   epochpp_two_at_once [--threads=T] [--rounds=R] [--ms=M]
//
// Level 3's speed-up over Level 2 can be no better than what the machine gives T independent
// copies of the same work running at once. On a shared VM that is not always T: vCPUs can share a
// physical core (SMT siblings) for a while, and then a loop that keeps the FMA units busy gets
// about one core's worth between the two, while a loop bound by one dependency chain still gets
// nearly two. This program shows it with no epochpp code involved. For each of three loops:
//   fp-throughput   12 independent 8-wide multiply-add chains on registers (no memory): the FP units' rate;
//   fp-latency      one multiply-add chain (each step waits for the last): the FP latency;
//   matmul-128      C = A @ B, 128 x 128 float64, the loop shape Level 2 gives the suite's matmul
//                   (16 columns side by side in two 8-wide vectors, the p loop inside), its arrays
//                   64-byte aligned, as Level 2's aligning step makes B's reads;
//   matmul-128+16B  the same with B 16 bytes past a cache line, as NumPy may place it: every
//                   8-wide read of B spans two lines;
// it times one thread alone, then T threads at once (each with its own data), alternately, R
// rounds of about M ms each, and prints T x (time alone) / (time at once) per round and the median.
// Last, `matmul-128 split` runs each call of matmul-128 as Level 3 would: T threads take a block of
// rows each, started together (they spin between calls) and joined; per round, the median call
// alone over the median call split.
// l3_scaling.py's "ceiling" column measures the same thing with epochpp's own Level 2 code.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

typedef double v8 __attribute__((vector_size(64)));  // 8 doubles: one AVX-512 register, or two AVX2

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

v8 splat(double x) { return v8{x, x, x, x, x, x, x, x}; }

std::atomic<double> sink{0};

// Each kernel runs `reps` times and returns a value that depends on all of it.
double fpThroughput(long reps) {
  v8 x[12];
  for (int i = 0; i < 12; ++i) x[i] = splat(i * 1e-3);
  const v8 m = splat(0.9999999), c = splat(1e-9);
  for (long k = 0; k < reps * 1000; ++k)
    for (int i = 0; i < 12; ++i) x[i] = x[i] * m + c;
  double s = 0;
  for (int i = 0; i < 12; ++i) s += x[i][0];
  return s;
}

double fpLatency(long reps) {
  v8 x = splat(1e-3);
  const v8 m = splat(0.9999999), c = splat(1e-9);
  for (long k = 0; k < reps * 6000; ++k) x = x * m + c;
  return x[0];
}

constexpr int N = 128;
// 64-byte aligned (B has 8 doubles to spare, for matmul-128+16B).
struct Mats {
  double *a, *b, *c;
  Mats()
      : a(static_cast<double*>(std::aligned_alloc(64, N * N * sizeof(double)))),
        b(static_cast<double*>(std::aligned_alloc(64, (N * N + 8) * sizeof(double)))),
        c(static_cast<double*>(std::aligned_alloc(64, N * N * sizeof(double)))) {
    for (int i = 0; i < N * N; ++i) {
      a[i] = (i % 7) * 0.25;
      c[i] = 0;
    }
    for (int i = 0; i < N * N + 8; ++i) b[i] = (i % 5) * 0.5;
  }
  Mats(const Mats&) = delete;
  Mats& operator=(const Mats&) = delete;
  ~Mats() {
    std::free(a);
    std::free(b);
    std::free(c);
  }
};

// Rows [i0, i1) of C = A @ B, `reps` times.
double matmul(long reps, Mats& m, int shift, int i0 = 0, int i1 = N) {
  const double* A = m.a;
  const double* B = m.b + shift;  // shift 2: every 8-wide read of B spans two cache lines
  double* C = m.c;
  for (long r = 0; r < reps; ++r)
    for (int i = i0; i < i1; ++i)
      for (int j = 0; j < N; j += 16) {
        v8 s0 = splat(0), s1 = splat(0);
        for (int p = 0; p < N; ++p) {
          v8 b0, b1;
          std::memcpy(&b0, B + p * N + j, sizeof b0);
          std::memcpy(&b1, B + p * N + j + 8, sizeof b1);
          s0 += splat(A[i * N + p]) * b0;
          s1 += splat(A[i * N + p]) * b1;
        }
        std::memcpy(C + i * N + j, &s0, sizeof s0);
        std::memcpy(C + i * N + j + 8, &s1, sizeof s1);
      }
  return C[N + 1];
}

// Seconds per rep of `kernel` on `threads` threads at once (each with its own Mats).
template <class K>
double perRep(int threads, long reps, K kernel) {
  std::vector<Mats> data(threads);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<double> took(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      double t0 = now();
      sink.store(sink.load(std::memory_order_relaxed) + kernel(reps, data[t]), std::memory_order_relaxed);
      took[t] = now() - t0;
    });
  while (ready.load() < threads) std::this_thread::yield();
  go.store(true);
  for (auto& th : pool) th.join();
  return *std::max_element(took.begin(), took.end()) / (double)reps;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Level 3's way: `threads` threads share the rows of each call of matmul-128 (contiguous blocks),
// started together for every call (they spin between calls) and joined at its end. Returns the
// median call time alone and split.
std::pair<double, double> splitCalls(int threads, long calls) {
  Mats m;
  std::vector<double> alone, split;
  for (long c = 0; c < calls; ++c) {
    double t0 = now();
    matmul(1, m, 0);
    alone.push_back(now() - t0);
  }
  std::atomic<long> go{0};
  std::atomic<int> done{0};
  auto rows = [&](int t) { matmul(1, m, 0, t * N / threads, (t + 1) * N / threads); };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (long c = 1; c <= calls; ++c) {
        while (go.load() < c) {
        }
        rows(t);
        done.fetch_add(1);
      }
    });
  for (long c = 1; c <= calls; ++c) {
    double t0 = now();
    go.store(c);
    rows(0);
    while (done.load() < (threads - 1) * c) {
    }
    split.push_back(now() - t0);
  }
  for (auto& th : pool) th.join();
  return {median(alone), median(split)};
}

bool flag(const char* arg, const char* name, long* v) {
  size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
  *v = std::strtol(arg + n + 1, nullptr, 10);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  long threads = 2, rounds = 9, ms = 200;
  for (int k = 1; k < argc; ++k)
    if (!flag(argv[k], "--threads", &threads) && !flag(argv[k], "--rounds", &rounds) && !flag(argv[k], "--ms", &ms)) {
      std::fprintf(stderr, "usage: %s [--threads=T] [--rounds=R] [--ms=M]\n", argv[0]);
      return 2;
    }
  if (threads < 1 || rounds < 1 || ms < 1) {
    std::fprintf(stderr, "%s: T, R and M must be positive\n", argv[0]);
    return 2;
  }
  struct Loop {
    const char* name;
    double (*run)(long, Mats&);
  } loops[] = {
      {"fp-throughput", [](long r, Mats&) { return fpThroughput(r); }},
      {"fp-latency", [](long r, Mats&) { return fpLatency(r); }},
      {"matmul-128", [](long r, Mats& m) { return matmul(r, m, 0); }},
      {"matmul-128+16B", [](long r, Mats& m) { return matmul(r, m, 2); }},
  };
  std::printf("%ld threads at once against one alone: %ld x (time alone) / (time at once), %ld rounds of ~%ld ms\n",
              threads, threads, rounds, ms);
  for (auto& loop : loops) {
    double one = perRep(1, 3, loop.run);  // calibrate: reps for ~ms milliseconds
    long reps = std::max(1L, (long)(ms * 1e-3 / one));
    std::vector<double> ratios, alones;
    std::printf("%-16s", loop.name);
    for (long r = 0; r < rounds; ++r) {
      double alone = perRep(1, reps, loop.run);
      double together = perRep((int)threads, reps, loop.run);
      ratios.push_back(threads * alone / together);
      alones.push_back(alone);
      std::printf(" %.2f", ratios.back());
      std::fflush(stdout);
    }
    std::sort(ratios.begin(), ratios.end());
    std::sort(alones.begin(), alones.end());
    std::printf("  | median %.2fx (%.2f-%.2f); alone %.1f us per rep (median)\n", ratios[ratios.size() / 2],
                ratios.front(), ratios.back(), alones[alones.size() / 2] * 1e6);
  }
  {
    long calls = std::max(1L, (long)(ms * 1e-3 / perRep(1, 3, loops[2].run)));
    std::vector<double> ratios;
    std::printf("%-16s", "matmul-128 split");
    double a = 0, b = 0;
    for (long r = 0; r < rounds; ++r) {
      auto [alone, split] = splitCalls((int)threads, calls);
      ratios.push_back(alone / split);
      a += alone / rounds;
      b += split / rounds;
      std::printf(" %.2f", ratios.back());
      std::fflush(stdout);
    }
    std::sort(ratios.begin(), ratios.end());
    std::printf("  | median %.2fx (%.2f-%.2f); one call %.1f us alone, %.1f us split (means of the rounds' medians)\n",
                ratios[ratios.size() / 2], ratios.front(), ratios.back(), a * 1e6, b * 1e6);
  }
  return sink.load() == 12345.0;  // never: keeps the kernels' results alive
}
