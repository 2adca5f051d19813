// bench/cpp/bench_kernels.cpp -- Google Benchmark driver for the C++ reference kernels.
//
//   epochpp_cpp_bench [--input-dir=DIR] [--result-dir=DIR] [--kernels=a,b] [--quick]
//                     [--size=name:N ...] [--list] [--benchmark_* flags]
//
// Inputs come from one of two places:
//   * --input-dir=DIR: DIR/<kernel>.txt manifests written by bench/python/compare_cpp.py,
//     with the array arguments as raw little-endian .bin files next to them. These are
//     the exact arguments kernels.py's make_<kernel>(size) built, so results can be
//     compared with CPython/epochpp/Numba. Every manifest in DIR is loaded (or only
//     those named by --kernels).
//   * otherwise the inputs are generated here, at kernels.py's default sizes (--quick:
//     its quick sizes; --size=name:N overrides one), with the same shapes and value
//     ranges but a C++ random generator: the timings are representative, the values
//     (and so the checksums) are not NumPy's.
// --result-dir=DIR: before benchmarking, run each kernel once on its pristine inputs
// and write DIR/<kernel>.result.txt (return value, exact) plus every array argument as
// it is after the call (DIR/<kernel>.argN.bin).
//
// Each benchmark is named after its kernel and timed with manual time: kernels that
// write their arguments get their arrays restored from the pristine copy before every
// iteration (not timed), as run_suite.py gives every call fresh copies.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels.h"

namespace eb = epochpp_bench;

namespace {

// ---------------------------------------------------------------------------
// arguments and results
// ---------------------------------------------------------------------------

struct Arg {
  enum Kind { Int, Float, ArrayF64, ArrayI64 } kind = Int;
  std::int64_t i = 0;
  double f = 0.0;
  std::vector<std::int64_t> shape;
  std::vector<double> fd;
  std::vector<std::int64_t> id;

  bool is_array() const { return kind == ArrayF64 || kind == ArrayI64; }
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto s : shape) n *= s;
    return n;
  }
  static Arg of_int(std::int64_t v) {
    Arg a;
    a.kind = Int;
    a.i = v;
    return a;
  }
  static Arg of_float(double v) {
    Arg a;
    a.kind = Float;
    a.f = v;
    return a;
  }
  static Arg f64(std::vector<std::int64_t> shape, std::vector<double> data) {
    Arg a;
    a.kind = ArrayF64;
    a.shape = std::move(shape);
    a.fd = std::move(data);
    return a;
  }
  static Arg i64(std::vector<std::int64_t> shape) {
    Arg a;
    a.kind = ArrayI64;
    a.shape = std::move(shape);
    a.id.assign(static_cast<size_t>(a.numel()), 0);
    return a;
  }
};

using Args = std::vector<Arg>;

struct Value {
  bool is_int = true;
  std::int64_t i = 0;
  double f = 0.0;
};

Value ival(std::int64_t v) { return Value{true, v, 0.0}; }
Value fval(double v) { return Value{false, 0, v}; }

[[noreturn]] void fail(const std::string& msg) { throw std::runtime_error(msg); }

std::int64_t int_arg(const Args& a, size_t k) {
  if (k >= a.size() || a[k].kind != Arg::Int) fail("argument " + std::to_string(k) + " must be an int");
  return a[k].i;
}
double float_arg(const Args& a, size_t k) {
  if (k >= a.size()) fail("missing argument " + std::to_string(k));
  if (a[k].kind == Arg::Float) return a[k].f;
  if (a[k].kind == Arg::Int) return static_cast<double>(a[k].i);
  fail("argument " + std::to_string(k) + " must be a float");
}
Arg& f64_arg(Args& a, size_t k, size_t ndim) {
  if (k >= a.size() || a[k].kind != Arg::ArrayF64 || a[k].shape.size() != ndim)
    fail("argument " + std::to_string(k) + " must be a " + std::to_string(ndim) + "-D float64 array");
  return a[k];
}
Arg& i64_arg(Args& a, size_t k, size_t ndim) {
  if (k >= a.size() || a[k].kind != Arg::ArrayI64 || a[k].shape.size() != ndim)
    fail("argument " + std::to_string(k) + " must be a " + std::to_string(ndim) + "-D int64 array");
  return a[k];
}

// ---------------------------------------------------------------------------
// adapters: argument list (in kernels.py's order) -> C++ kernel call
// ---------------------------------------------------------------------------

Value run_sum_squares(Args& a) { return ival(eb::sum_squares(int_arg(a, 0))); }
Value run_count_primes(Args& a) { return ival(eb::count_primes(int_arg(a, 0))); }
Value run_fib(Args& a) { return ival(eb::fib(int_arg(a, 0))); }

Value run_mandelbrot(Args& a) {
  Arg& out = i64_arg(a, 0, 2);
  return ival(eb::mandelbrot(out.id.data(), out.shape[0], out.shape[1], float_arg(a, 1), float_arg(a, 2),
                             float_arg(a, 3), float_arg(a, 4), int_arg(a, 5)));
}

Value run_pairwise_distances(Args& a) {
  Arg& X = f64_arg(a, 0, 2);
  Arg& D = f64_arg(a, 1, 2);
  if (D.shape[0] != X.shape[0] || D.shape[1] != X.shape[0]) fail("D must be n x n");
  return fval(eb::pairwise_distances(X.fd.data(), X.shape[0], X.shape[1], D.fd.data()));
}

Value run_nbody_step(Args& a) {
  Arg& pos = f64_arg(a, 0, 2);
  Arg& vel = f64_arg(a, 1, 2);
  Arg& mass = f64_arg(a, 2, 1);
  const std::int64_t n = pos.shape[0];
  if (pos.shape[1] != 3 || vel.shape != pos.shape || mass.shape[0] < n) fail("nbody_step: bad shapes");
  return fval(eb::nbody_step(pos.fd.data(), vel.fd.data(), mass.fd.data(), n, float_arg(a, 3), float_arg(a, 4)));
}

Value run_matmul(Args& a) {
  Arg& A = f64_arg(a, 0, 2);
  Arg& B = f64_arg(a, 1, 2);
  Arg& C = f64_arg(a, 2, 2);
  if (B.shape[0] != A.shape[1] || C.shape[0] != A.shape[0] || C.shape[1] != B.shape[1]) fail("matmul: bad shapes");
  return fval(eb::matmul(A.fd.data(), B.fd.data(), C.fd.data(), A.shape[0], A.shape[1], B.shape[1]));
}

Value run_black_scholes(Args& a) {
  Arg& S = f64_arg(a, 0, 1);
  Arg& K = f64_arg(a, 1, 1);
  Arg& T = f64_arg(a, 2, 1);
  Arg& call = f64_arg(a, 5, 1);
  Arg& put = f64_arg(a, 6, 1);
  const std::int64_t n = S.shape[0];
  if (K.shape[0] < n || T.shape[0] < n || call.shape[0] < n || put.shape[0] < n) fail("black_scholes: bad shapes");
  return fval(eb::black_scholes(S.fd.data(), K.fd.data(), T.fd.data(), float_arg(a, 3), float_arg(a, 4),
                                call.fd.data(), put.fd.data(), n));
}

Value run_heat_1d(Args& a) {
  Arg& u = f64_arg(a, 0, 1);
  Arg& tmp = f64_arg(a, 1, 1);
  if (tmp.shape[0] < u.shape[0]) fail("heat_1d: tmp shorter than u");
  return fval(eb::heat_1d(u.fd.data(), tmp.fd.data(), u.shape[0], float_arg(a, 2), int_arg(a, 3)));
}

Value run_chunked_mixed(Args& a) {
  Arg& arr = f64_arg(a, 0, 1);
  const std::int64_t chunk = int_arg(a, 1);
  if (chunk <= 0) fail("chunked_mixed: chunk must be positive");
  return fval(eb::chunked_mixed(arr.fd.data(), arr.shape[0], chunk, int_arg(a, 2)));
}

// ---------------------------------------------------------------------------
// built-in input generators (standalone runs): kernels.py's shapes and ranges
// ---------------------------------------------------------------------------

struct Rng {
  std::mt19937_64 g{20240611};
  std::vector<double> normal(size_t n, double scale = 1.0) {
    std::normal_distribution<double> d(0.0, 1.0);
    std::vector<double> v(n);
    for (auto& x : v) x = scale * d(g);
    return v;
  }
  std::vector<double> uniform(size_t n, double lo, double hi) {
    std::uniform_real_distribution<double> d(lo, hi);
    std::vector<double> v(n);
    for (auto& x : v) x = d(g);
    return v;
  }
};

Args gen_scalar(std::int64_t size) { return {Arg::of_int(size)}; }

Args gen_mandelbrot(std::int64_t w) {
  const std::int64_t h = std::max<std::int64_t>(1, (3 * w) / 4);
  return {Arg::i64({h, w}), Arg::of_float(-2.0), Arg::of_float(1.0), Arg::of_float(-1.125), Arg::of_float(1.125),
          Arg::of_int(100)};
}

Args gen_pairwise_distances(std::int64_t n) {
  Rng r;
  return {Arg::f64({n, 3}, r.normal(3 * n)), Arg::f64({n, n}, std::vector<double>(n * n, 0.0))};
}

Args gen_nbody_step(std::int64_t n) {
  Rng r;
  auto pos = r.normal(3 * n);
  auto vel = r.normal(3 * n, 0.1);
  auto mass = r.uniform(n, 0.5, 1.5);
  for (auto& m : mass) m /= static_cast<double>(n);
  return {Arg::f64({n, 3}, pos), Arg::f64({n, 3}, vel), Arg::f64({n}, mass), Arg::of_float(0.01),
          Arg::of_float(1e-3)};
}

Args gen_matmul(std::int64_t n) {
  Rng r;
  return {Arg::f64({n, n}, r.normal(n * n)), Arg::f64({n, n}, r.normal(n * n)),
          Arg::f64({n, n}, std::vector<double>(n * n, 0.0))};
}

Args gen_black_scholes(std::int64_t n) {
  Rng r;
  return {Arg::f64({n}, r.uniform(n, 5.0, 30.0)), Arg::f64({n}, r.uniform(n, 1.0, 100.0)),
          Arg::f64({n}, r.uniform(n, 0.25, 10.0)), Arg::of_float(0.02), Arg::of_float(0.30),
          Arg::f64({n}, std::vector<double>(n, 0.0)), Arg::f64({n}, std::vector<double>(n, 0.0))};
}

Args gen_heat_1d(std::int64_t n) {
  const double pi = 3.141592653589793;
  std::vector<double> u(n);
  for (std::int64_t i = 0; i < n; ++i) {
    const double x = n > 1 ? static_cast<double>(i) / static_cast<double>(n - 1) : 0.0;
    u[i] = std::sin(pi * x) + 0.5 * std::sin(7.0 * pi * x);
  }
  u[0] = 0.0;
  u[n - 1] = 0.0;
  return {Arg::f64({n}, u), Arg::f64({n}, u), Arg::of_float(0.25), Arg::of_int(100)};
}

Args gen_chunked_mixed(std::int64_t size) {
  const std::int64_t chunk = 1000;
  const std::int64_t total = std::max<std::int64_t>(1, size);
  const std::int64_t nchunks = std::min<std::int64_t>(total, 1000);
  const std::int64_t passes = std::max<std::int64_t>(1, total / nchunks);
  Rng r;
  return {Arg::f64({nchunks * chunk}, r.normal(nchunks * chunk)), Arg::of_int(chunk), Arg::of_int(passes)};
}

// ---------------------------------------------------------------------------
// registry (names, default / quick sizes and mutation flags as in kernels.py)
// ---------------------------------------------------------------------------

struct KernelInfo {
  const char* name;
  Value (*run)(Args&);
  Args (*gen)(std::int64_t);
  std::int64_t size, quick;
  bool mutates;  // kernels.py lists outputs: every array gets a fresh copy per call
};

const KernelInfo kKernels[] = {
    {"sum_squares", run_sum_squares, gen_scalar, 3000000, 300000, false},
    {"count_primes", run_count_primes, gen_scalar, 220000, 47000, false},
    {"fib", run_fib, gen_scalar, 32, 27, false},
    {"mandelbrot", run_mandelbrot, gen_mandelbrot, 400, 128, true},
    {"pairwise_distances", run_pairwise_distances, gen_pairwise_distances, 700, 220, true},
    {"nbody_step", run_nbody_step, gen_nbody_step, 600, 190, true},
    {"matmul", run_matmul, gen_matmul, 128, 60, true},
    {"black_scholes", run_black_scholes, gen_black_scholes, 200000, 20000, true},
    {"heat_1d", run_heat_1d, gen_heat_1d, 10000, 1000, true},
    {"chunked_mixed", run_chunked_mixed, gen_chunked_mixed, 50000, 5000, false},
};

const KernelInfo* find_kernel(const std::string& name) {
  for (const auto& k : kKernels)
    if (name == k.name) return &k;
  return nullptr;
}

struct Case {
  const KernelInfo* info;
  std::int64_t size = 0;
  bool mutates = false;
  Args args;  // pristine inputs
};

void restore(Args& work, const Args& pristine) {
  for (size_t k = 0; k < work.size(); ++k) {
    if (work[k].kind == Arg::ArrayF64)
      std::memcpy(work[k].fd.data(), pristine[k].fd.data(), pristine[k].fd.size() * sizeof(double));
    else if (work[k].kind == Arg::ArrayI64)
      std::memcpy(work[k].id.data(), pristine[k].id.data(), pristine[k].id.size() * sizeof(std::int64_t));
  }
}

// ---------------------------------------------------------------------------
// manifests written by compare_cpp.py
// ---------------------------------------------------------------------------
//   epochpp-bench-input 1
//   kernel <name>
//   size <N>
//   mutates <0|1>
//   nargs <K>
//   then K lines: int <v> | float <hex or decimal> | array <f8|i8> <ndim> <dims...> <file>

void read_bin(const std::string& path, void* dst, size_t bytes) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail("cannot open " + path);
  const size_t got = std::fread(dst, 1, bytes, f);
  const bool extra = std::fgetc(f) != EOF;
  std::fclose(f);
  if (got != bytes || extra) fail(path + ": expected exactly " + std::to_string(bytes) + " bytes");
}

void write_bin(const std::string& path, const void* src, size_t bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) fail("cannot write " + path);
  const size_t put = std::fwrite(src, 1, bytes, f);
  if (std::fclose(f) != 0 || put != bytes) fail("short write to " + path);
}

Case load_manifest(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name + ".txt";
  std::ifstream in(path);
  if (!in) fail("cannot open " + path);
  std::string tok, kname;
  int version = 0;
  in >> tok >> version;
  if (tok != "epochpp-bench-input" || version != 1) fail(path + ": not an epochpp-bench-input 1 manifest");
  Case c;
  size_t nargs = 0;
  int mut = 0;
  in >> tok >> kname;
  if (tok != "kernel") fail(path + ": expected 'kernel'");
  in >> tok >> c.size;
  if (tok != "size") fail(path + ": expected 'size'");
  in >> tok >> mut;
  if (tok != "mutates") fail(path + ": expected 'mutates'");
  in >> tok >> nargs;
  if (tok != "nargs") fail(path + ": expected 'nargs'");
  c.info = find_kernel(kname);
  if (!c.info) fail(path + ": unknown kernel '" + kname + "'");
  c.mutates = mut != 0;
  for (size_t k = 0; k < nargs; ++k) {
    in >> tok;
    if (tok == "int") {
      std::int64_t v;
      in >> v;
      c.args.push_back(Arg::of_int(v));
    } else if (tok == "float") {
      std::string s;
      in >> s;
      char* end = nullptr;
      const double v = std::strtod(s.c_str(), &end);
      if (end == s.c_str() || *end) fail(path + ": bad float '" + s + "'");
      c.args.push_back(Arg::of_float(v));
    } else if (tok == "array") {
      std::string dtype, file;
      size_t ndim = 0;
      in >> dtype >> ndim;
      std::vector<std::int64_t> shape(ndim);
      for (auto& s : shape) in >> s;
      in >> file;
      Arg a;
      a.shape = shape;
      const std::string fpath = dir + "/" + file;
      if (dtype == "f8") {
        a.kind = Arg::ArrayF64;
        a.fd.resize(static_cast<size_t>(a.numel()));
        read_bin(fpath, a.fd.data(), a.fd.size() * sizeof(double));
      } else if (dtype == "i8") {
        a.kind = Arg::ArrayI64;
        a.id.resize(static_cast<size_t>(a.numel()));
        read_bin(fpath, a.id.data(), a.id.size() * sizeof(std::int64_t));
      } else {
        fail(path + ": unsupported dtype '" + dtype + "'");
      }
      c.args.push_back(std::move(a));
    } else {
      fail(path + ": bad argument kind '" + tok + "'");
    }
    if (!in) fail(path + ": truncated");
  }
  return c;
}

void write_result(const std::string& dir, const Case& c) {
  Args work = c.args;
  const Value v = c.info->run(work);
  const std::string base = dir + "/" + c.info->name;
  std::ofstream out(base + ".result.txt");
  out << "epochpp-bench-result 1\nkernel " << c.info->name << "\n";
  char buf[64];
  if (v.is_int)
    std::snprintf(buf, sizeof buf, "ret int %" PRId64 "\n", v.i);
  else
    std::snprintf(buf, sizeof buf, "ret float %a\n", v.f);
  out << buf;
  for (size_t k = 0; k < work.size(); ++k) {
    if (!work[k].is_array()) continue;
    const std::string file = std::string(c.info->name) + ".arg" + std::to_string(k) + ".bin";
    if (work[k].kind == Arg::ArrayF64)
      write_bin(dir + "/" + file, work[k].fd.data(), work[k].fd.size() * sizeof(double));
    else
      write_bin(dir + "/" + file, work[k].id.data(), work[k].id.size() * sizeof(std::int64_t));
    out << "array " << k << " " << file << "\n";
  }
  out.close();
  if (!out) fail("cannot write " + base + ".result.txt");
}

// ---------------------------------------------------------------------------
// benchmark body
// ---------------------------------------------------------------------------

// Besides Google Benchmark's mean time per iteration, every repetition reports the
// median and the minimum of its individual call times (counters call_median_s and
// call_min_s): compare_cpp.py uses the median, as run_suite.py does for Python calls,
// so that a call that was descheduled on a loaded machine does not skew the result.
void run_case(benchmark::State& state, const Case* c) {
  Args work = c->args;
  std::vector<double> calls;
  calls.reserve(static_cast<size_t>(std::min<benchmark::IterationCount>(state.max_iterations, 1 << 20)));
  for (auto _ : state) {
    if (c->mutates) restore(work, c->args);
    const auto t0 = std::chrono::steady_clock::now();
    Value v = c->info->run(work);
    const auto t1 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(v);
    benchmark::ClobberMemory();
    const double dt = std::chrono::duration<double>(t1 - t0).count();
    state.SetIterationTime(dt);
    calls.push_back(dt);
  }
  state.counters["size"] = static_cast<double>(c->size);
  if (!calls.empty()) {
    std::sort(calls.begin(), calls.end());
    const size_t n = calls.size();
    state.counters["call_median_s"] = n % 2 ? calls[n / 2] : 0.5 * (calls[n / 2 - 1] + calls[n / 2]);
    state.counters["call_min_s"] = calls.front();
  }
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

bool take_flag(const std::string& arg, const char* name, std::string* value) {
  const std::string pre = std::string(name) + "=";
  if (arg.compare(0, pre.size(), pre) != 0) return false;
  *value = arg.substr(pre.size());
  return true;
}

int usage(const char* prog) {
  std::fprintf(stderr,
               "usage: %s [--input-dir=DIR] [--result-dir=DIR] [--kernels=a,b] [--quick] [--size=name:N]... "
               "[--list] [--benchmark_* flags]\n",
               prog);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);  // consumes the --benchmark_* flags

  std::string input_dir, result_dir;
  std::vector<std::string> only;
  std::map<std::string, std::int64_t> sizes;
  bool quick = false, list = false;
  for (int k = 1; k < argc; ++k) {
    const std::string a = argv[k];
    std::string v;
    if (take_flag(a, "--input-dir", &v)) {
      input_dir = v;
    } else if (take_flag(a, "--result-dir", &v)) {
      result_dir = v;
    } else if (take_flag(a, "--kernels", &v)) {
      only = split(v, ',');
    } else if (take_flag(a, "--size", &v)) {
      const auto colon = v.find(':');
      if (colon == std::string::npos) return usage(argv[0]);
      sizes[v.substr(0, colon)] = std::strtoll(v.c_str() + colon + 1, nullptr, 10);
    } else if (a == "--quick") {
      quick = true;
    } else if (a == "--list") {
      list = true;
    } else {
      std::fprintf(stderr, "unknown argument: %s\n", a.c_str());
      return usage(argv[0]);
    }
  }

  if (list) {
    for (const auto& k : kKernels)
      std::printf("%-20s size %-10" PRId64 " quick %" PRId64 "\n", k.name, k.size, k.quick);
    return 0;
  }

  std::vector<std::string> names = only;
  if (names.empty()) {
    for (const auto& k : kKernels) {
      if (!input_dir.empty()) {
        std::ifstream probe(input_dir + "/" + k.name + ".txt");
        if (!probe) continue;
      }
      names.push_back(k.name);
    }
  }
  for (const auto& [name, n] : sizes)
    if (!find_kernel(name)) {
      std::fprintf(stderr, "--size: unknown kernel '%s'\n", name.c_str());
      return 2;
    }

  std::vector<std::unique_ptr<Case>> cases;
  try {
    for (const auto& name : names) {
      const KernelInfo* info = find_kernel(name);
      if (!info) {
        std::fprintf(stderr, "unknown kernel '%s'\n", name.c_str());
        return 2;
      }
      auto c = std::make_unique<Case>();
      if (!input_dir.empty()) {
        *c = load_manifest(input_dir, name);
      } else {
        c->info = info;
        c->size = sizes.count(name) ? sizes[name] : (quick ? info->quick : info->size);
        c->mutates = info->mutates;
        c->args = info->gen(c->size);
      }
      if (!result_dir.empty()) write_result(result_dir, *c);
      cases.push_back(std::move(c));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "epochpp_cpp_bench: %s\n", e.what());
    return 1;
  }

  for (const auto& c : cases)
    benchmark::RegisterBenchmark(c->info->name, run_case, c.get())
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);

  benchmark::AddCustomContext("inputs", input_dir.empty() ? "generated (C++ RNG)" : "from " + input_dir);
#ifdef EPOCHPP_BENCH_CXX_ID
  benchmark::AddCustomContext("compiler", EPOCHPP_BENCH_CXX_ID);
#endif
#ifdef EPOCHPP_BENCH_CXX_FLAGS
  benchmark::AddCustomContext("kernel_flags", EPOCHPP_BENCH_CXX_FLAGS);
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
