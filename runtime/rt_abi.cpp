// runtime/rt_abi.cpp — the C functions compiled code calls: raising, allocation, NumPy callbacks, signals.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cmath>

#include "jit/engine/engine.h"
#include "runtime/runtime.h"

using namespace epochpp;
using namespace epochpp::runtime;

extern "C" void ep_rt_raise(EpCtx* ctx, int32_t kind, int32_t line, const char* msg) {
  if (ctx->exc_kind != EP_EXC_NONE) return;  // keep the first error
  ctx->exc_kind = kind;
  ctx->exc_line = line;
  std::snprintf(ctx->exc_msg, sizeof ctx->exc_msg, "%s", msg ? msg : "");
}

extern "C" void ep_rt_raise_index(EpCtx* ctx, int32_t line, int64_t index, int32_t axis, int64_t size) {
  char msg[200];
  std::snprintf(msg, sizeof msg, "index %lld is out of bounds for axis %d with size %lld", (long long)index, axis,
                (long long)size);
  ep_rt_raise(ctx, EP_EXC_INDEX, line, msg);
}

extern "C" void ep_rt_raise_int_bounds(EpCtx* ctx, int32_t line, int64_t value, int32_t bits) {
  char msg[200];
  std::snprintf(msg, sizeof msg, "Python integer %lld out of bounds for int%d", (long long)value, bits);
  ep_rt_raise(ctx, EP_EXC_OVERFLOW, line, msg);
}

// The pending Python exception (NumPy's own: "array is too big", "Unable to allocate 8.00 TiB
// for an array with shape ...") becomes the call's error, exactly as NumPy raised it. GIL held.
static int32_t keepPythonError(EpCtx* ctx) {
  auto* st = static_cast<CallState*>(ctx->owned);
  if (ctx->exc_kind == EP_EXC_NONE && !st->exc_type) {
    ep_rt_raise(ctx, EP_EXC_MEMORY, 0, "");
    PyErr_Fetch(&st->exc_type, &st->exc_value, &st->exc_tb);
  } else {
    PyErr_Clear();  // keep the first error
  }
  return EP_ERROR;
}

static void describe(PyArrayObject* a, int ndim, EpArray* out) {
  out->data = PyArray_DATA(a);
  for (int d = 0; d < 3; ++d) {
    out->shape[d] = d < ndim ? PyArray_DIM(a, d) : 1;
    out->strides[d] = d < ndim ? PyArray_STRIDE(a, d) : 0;
  }
  out->owner = a;
}

extern "C" int32_t ep_rt_alloc(EpCtx* ctx, int32_t dtype_kind, int32_t ndim, const int64_t* shape, int32_t order,
                               int32_t init, EpArray* out) {
  PyGILState_STATE g = PyGILState_Ensure();
  npy_intp dims[3];
  for (int d = 0; d < ndim; ++d) dims[d] = shape[d];
  int tn = numpyTypeNum(static_cast<ir::Kind>(dtype_kind));
  PyObject* arr = init == 1 ? PyArray_ZEROS(ndim, dims, tn, order) : PyArray_EMPTY(ndim, dims, tn, order);
  if (!arr) {
    int32_t st = keepPythonError(ctx);
    PyGILState_Release(g);
    return st;
  }
  if (init == 2) {
    PyObject* one = PyLong_FromLong(1);
    PyArray_FillWithScalar(reinterpret_cast<PyArrayObject*>(arr), one);
    Py_DECREF(one);
  }
  static_cast<CallState*>(ctx->owned)->owned.push_back(arr);
  describe(reinterpret_cast<PyArrayObject*>(arr), ndim, out);
  PyGILState_Release(g);
  return EP_OK;
}

extern "C" int32_t ep_rt_numpy_arange(EpCtx* ctx, int32_t dtype_kind, int32_t dtype_kw, int64_t start, int64_t stop,
                                      int64_t step, int32_t kinds, EpArray* out) {
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject* np = PyImport_ImportModule("numpy");
  PyObject* fn = np ? PyObject_GetAttrString(np, "arange") : nullptr;
  PyObject* args = fn ? PyTuple_New(3) : nullptr;
  int64_t raw[3] = {start, stop, step};
  bool ok = args != nullptr;
  for (int k = 0; ok && k < 3; ++k) {
    PyObject* v = boxScalar(static_cast<ir::Kind>((kinds >> (8 * k)) & 0xff), (uint64_t)raw[k]);
    ok = v != nullptr;
    if (ok) PyTuple_SET_ITEM(args, k, v);
  }
  PyObject* kw = ok ? PyDict_New() : nullptr;
  if (kw && dtype_kw >= 0) {
    PyObject* dt = reinterpret_cast<PyObject*>(PyArray_DescrFromType(numpyTypeNum(static_cast<ir::Kind>(dtype_kw))));
    if (!dt || PyDict_SetItemString(kw, "dtype", dt) < 0) Py_CLEAR(kw);
    Py_XDECREF(dt);
  }
  PyObject* arr = kw ? PyObject_Call(fn, args, kw) : nullptr;
  Py_XDECREF(kw);
  Py_XDECREF(args);
  Py_XDECREF(fn);
  Py_XDECREF(np);
  if (arr && (!PyArray_Check(arr) || PyArray_NDIM(reinterpret_cast<PyArrayObject*>(arr)) != 1)) {
    Py_CLEAR(arr);
    PyErr_SetString(PyExc_SystemError, "np.arange did not return a 1-d array");
  }
  int tn = numpyTypeNum(static_cast<ir::Kind>(dtype_kind));
  if (arr && PyArray_TYPE(reinterpret_cast<PyArrayObject*>(arr)) != tn) {  // the compiled code's dtype
    PyObject* cast = PyArray_Cast(reinterpret_cast<PyArrayObject*>(arr), tn);
    Py_DECREF(arr);
    arr = cast;
  }
  if (!arr) {
    int32_t st = keepPythonError(ctx);
    PyGILState_Release(g);
    return st;
  }
  static_cast<CallState*>(ctx->owned)->owned.push_back(arr);
  describe(reinterpret_cast<PyArrayObject*>(arr), 1, out);
  PyGILState_Release(g);
  return EP_OK;
}

extern "C" void* ep_rt_scratch(EpCtx* ctx, int64_t bytes) {
  void* p = std::malloc(bytes > 0 ? (size_t)bytes : 1);
  if (!p) {
    ep_rt_raise(ctx, EP_EXC_MEMORY, 0, "cannot allocate scratch memory");
    return nullptr;
  }
  static_cast<CallState*>(ctx->owned)->scratch.push_back(p);
  return p;
}

extern "C" void ep_rt_scratch_free(EpCtx* ctx, void* p) {
  auto& v = static_cast<CallState*>(ctx->owned)->scratch;
  for (size_t i = v.size(); i-- > 0;)
    if (v[i] == p) {
      std::free(p);
      v.erase(v.begin() + (long)i);
      return;
    }
}

// A NumPy view object over an EpArray (for calling back into NumPy).
static PyObject* viewOf(const EpArray* a, int ndim, int type_num) {
  npy_intp dims[3], strides[3];
  for (int d = 0; d < ndim; ++d) {
    dims[d] = a->shape[d];
    strides[d] = a->strides[d];
  }
  PyObject* v = PyArray_New(&PyArray_Type, ndim, dims, type_num, strides, a->data, 0, 0, nullptr);
  return v;
}

extern "C" int32_t ep_rt_numpy_dot(EpCtx* ctx, int32_t dtype_kind, const EpArray* a, const EpArray* b, double* out) {
  PyGILState_STATE g = PyGILState_Ensure();
  int tn = numpyTypeNum(static_cast<ir::Kind>(dtype_kind));
  PyObject* va = viewOf(a, 1, tn);
  PyObject* vb = viewOf(b, 1, tn);
  PyObject* r = (va && vb) ? PyArray_InnerProduct(va, vb) : nullptr;
  Py_XDECREF(va);
  Py_XDECREF(vb);
  int32_t status = EP_OK;
  if (!r) {
    PyErr_Clear();
    ep_rt_raise(ctx, EP_EXC_VALUE, 0, "np.dot failed");
    status = EP_ERROR;
  } else {
    *out = PyFloat_AsDouble(r);
    Py_DECREF(r);
  }
  PyGILState_Release(g);
  return status;
}

// Moves the current Python exception into the call's state (the dispatcher re-raises it).
static void stashPythonError(EpCtx* ctx) {
  auto* st = static_cast<CallState*>(ctx->owned);
  if (st && !st->exc_type) PyErr_Fetch(&st->exc_type, &st->exc_value, &st->exc_tb);
  else PyErr_Clear();  // a worker: the call deopts and the interpreter raises it
  ctx->exc_kind = EP_EXC_TYPE;  // any non-zero kind: the stashed exception wins
}

// CPython's float.__round__(ndigits), through CPython itself: correctly rounded decimal.
extern "C" int32_t ep_rt_round_ndigits(EpCtx* ctx, double x, int64_t ndigits, double* out) {
  if (!std::isfinite(x)) { *out = x; return EP_OK; }
  PyGILState_STATE g = PyGILState_Ensure();
  PyObject* f = PyFloat_FromDouble(x);
  PyObject* r = PyObject_CallMethod(f, "__round__", "L", (long long)ndigits);
  int32_t status = EP_OK;
  if (r) *out = PyFloat_AsDouble(r);
  else { stashPythonError(ctx); status = EP_ERROR; }
  Py_XDECREF(r);
  Py_DECREF(f);
  PyGILState_Release(g);
  return status;
}

extern "C" int32_t ep_rt_math_hypot(EpCtx* ctx, double x, double y, double* out) {
  PyGILState_STATE g = PyGILState_Ensure();
  static PyObject* hypot = nullptr;
  if (!hypot) {
    PyObject* math = PyImport_ImportModule("math");
    hypot = math ? PyObject_GetAttrString(math, "hypot") : nullptr;
    Py_XDECREF(math);
  }
  PyObject* r = hypot ? PyObject_CallFunction(hypot, "dd", x, y) : nullptr;
  int32_t status = EP_OK;
  if (r) *out = PyFloat_AsDouble(r);
  else { stashPythonError(ctx); status = EP_ERROR; }
  Py_XDECREF(r);
  PyGILState_Release(g);
  return status;
}

extern "C" double ep_rt_int_truediv(int64_t a, int64_t b) {
  bool neg = (a < 0) != (b < 0);
  unsigned __int128 ua = a < 0 ? (unsigned __int128)(-(__int128)a) : (unsigned __int128)a;
  unsigned __int128 ub = b < 0 ? (unsigned __int128)(-(__int128)b) : (unsigned __int128)b;
  if (ua == 0) return neg ? -0.0 : 0.0;
  // Scale the numerator so the integer quotient has at least 62 significant bits.
  int k = 63 + __builtin_clzll((uint64_t)ua) - (ua >> 64 ? 64 : 0);
  unsigned __int128 num = ua << k;
  unsigned __int128 q = num / ub, r = num % ub;
  int len = 128 - (q >> 64 ? __builtin_clzll((uint64_t)(q >> 64)) : 64 + __builtin_clzll((uint64_t)q));
  int s = len - 53;
  uint64_t mant;
  if (s > 0) {
    unsigned __int128 rem = q & (((unsigned __int128)1 << s) - 1);
    unsigned __int128 half = (unsigned __int128)1 << (s - 1);
    mant = (uint64_t)(q >> s);
    bool up = rem > half || (rem == half && (r != 0 || (mant & 1)));
    if (up) ++mant;
  } else {
    mant = (uint64_t)q;
    s = 0;
  }
  double v = std::ldexp((double)mant, s - k);
  return neg ? -v : v;
}

// ---- Ctrl-C --------------------------------------------------------------------------------
static std::atomic<int> g_sigint{0};
static struct sigaction g_prev;

static void onSigint(int sig, siginfo_t* info, void* uctx) {
  g_sigint.store(1, std::memory_order_relaxed);
  if (g_prev.sa_flags & SA_SIGINFO) {
    if (g_prev.sa_sigaction) g_prev.sa_sigaction(sig, info, uctx);
  } else if (g_prev.sa_handler != SIG_IGN && g_prev.sa_handler != SIG_DFL && g_prev.sa_handler) {
    g_prev.sa_handler(sig);
  }
}

void epochpp::runtime::installSignalHandler() {
  struct sigaction cur;
  if (sigaction(SIGINT, nullptr, &cur) != 0) return;
  if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == onSigint) return;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = onSigint;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  g_prev = cur;
  sigaction(SIGINT, &sa, nullptr);
}

// Threads that run compiled code for a parallel loop's chunk or a parallel_map item: they may take
// the GIL (to allocate), but only the calling thread may turn Ctrl-C into KeyboardInterrupt.
static thread_local bool t_map_worker = false;
bool epochpp::runtime::setMapWorker(bool on) {
  bool was = t_map_worker;
  t_map_worker = on;
  return was;
}
bool epochpp::runtime::sigintPending() { return g_sigint.load(std::memory_order_relaxed) != 0; }

// Code that sets the SIGINT handler in C (not through the patched signal.signal) drops ours, and
// compiled loops would then never see Ctrl-C. Every 64th poll of a thread, at most every 20 ms
// for the process, checks that ours is still installed (one sigaction call) and chains it in again.
static void recheckSignalHandler() {
  static thread_local unsigned polls = 0;
  if ((++polls & 63) != 0) return;
  static std::atomic<int64_t> next{0};
  static std::atomic<bool> busy{false};
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  if (now < next.load(std::memory_order_relaxed) || busy.exchange(true)) return;
  next.store(now + 20'000'000, std::memory_order_relaxed);
  epochpp::runtime::installSignalHandler();  // no change while ours is installed
  busy.store(false);
}

extern "C" int32_t ep_rt_check_signals(EpCtx* ctx) {
  if (!g_sigint.load(std::memory_order_relaxed)) {
    recheckSignalHandler();
    return 0;
  }
  if (!ctx->owned || t_map_worker) return 1;  // a worker: stop; the calling thread raises KeyboardInterrupt
  PyGILState_STATE g = PyGILState_Ensure();
  g_sigint.store(0);
  int r = PyErr_CheckSignals();
  int32_t out = 0;
  if (r < 0) {
    auto* st = static_cast<CallState*>(ctx->owned);
    PyErr_Fetch(&st->exc_type, &st->exc_value, &st->exc_tb);
    out = 1;
  }
  PyGILState_Release(g);
  return out;
}

void epochpp::runtime::registerRuntimeSymbols() {
  static bool done = false;  // called under the GIL; the JIT starts on the first compile
  if (done) return;
  done = true;
  auto& e = engine::Engine::instance();
  e.defineSymbol("ep_rt_raise", reinterpret_cast<void*>(&ep_rt_raise));
  e.defineSymbol("ep_rt_raise_index", reinterpret_cast<void*>(&ep_rt_raise_index));
  e.defineSymbol("ep_rt_raise_int_bounds", reinterpret_cast<void*>(&ep_rt_raise_int_bounds));
  e.defineSymbol("ep_rt_alloc", reinterpret_cast<void*>(&ep_rt_alloc));
  e.defineSymbol("ep_rt_numpy_arange", reinterpret_cast<void*>(&ep_rt_numpy_arange));
  e.defineSymbol("ep_rt_numpy_dot", reinterpret_cast<void*>(&ep_rt_numpy_dot));
  e.defineSymbol("ep_rt_round_ndigits", reinterpret_cast<void*>(&ep_rt_round_ndigits));
  e.defineSymbol("ep_rt_check_signals", reinterpret_cast<void*>(&ep_rt_check_signals));
  e.defineSymbol("ep_rt_reduce", reinterpret_cast<void*>(&ep_rt_reduce));
  e.defineSymbol("ep_rt_int_truediv", reinterpret_cast<void*>(&ep_rt_int_truediv));
  e.defineSymbol("ep_rt_math_hypot", reinterpret_cast<void*>(&ep_rt_math_hypot));
  e.defineSymbol("ep_rt_parallel_for", reinterpret_cast<void*>(&ep_rt_parallel_for));
  e.defineSymbol("ep_rt_gpu_for", reinterpret_cast<void*>(&ep_rt_gpu_for));  // gpu/launch.cpp
  e.defineSymbol("ep_rt_scratch", reinterpret_cast<void*>(&ep_rt_scratch));
  e.defineSymbol("ep_rt_scratch_free", reinterpret_cast<void*>(&ep_rt_scratch_free));
}
