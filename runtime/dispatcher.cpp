// runtime/dispatcher.cpp — the Dispatcher type: type-keyed specialisation cache and the vectorcall fast path.
//
// Per call: build a short key from the arguments' types, find the specialisation, check the
// globals it relied on, unbox into 8-byte slots, release the GIL, run native code, box the result.
// Unsupported signatures, deopts and keyword calls run the original function unchanged.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <cstring>
#include <memory>

#include "gpu/device.h"
#include "gpu/stats.h"
#include "jit/codegen/codegen.h"
#include "parallel/parallel.h"
#include "profiler/thread_modes.h"
#include "runtime/compiler.h"
#include "runtime/runtime.h"
#include "runtime/settings.h"

namespace epochpp::runtime {

struct DispatcherState {
  py::object py_func;
  // Shared: a call running a specialisation keeps it (and its code) alive while another thread
  // drops it from the cache (a global it relied on was rebound).
  std::vector<std::shared_ptr<Specialisation>> specs;
  std::shared_ptr<Specialisation> last;
  long native_calls = 0, interpreted_calls = 0, deopts = 0, compiles = 0;
  long stale = 0;  // specialisations dropped because what they relied on changed
  int num_params = -1;
  py::object code;  // py_func.__code__ when num_params was computed
  bool disabled = false;
  std::string arg_reason;  // why the last call's arguments could not go to native code
  unsigned calls_since_signal_check = 0;
  PyObject* dict = nullptr;  // the dispatcher's __dict__ (borrowed): jit options live there
  // jit(level=N) wins; else the registry's level (EPOCHPP_LEVEL, enable()); at least 2
  int level() const {
    PyObject* opts = dict ? PyDict_GetItemString(dict, "_epochpp_options") : nullptr;
    PyObject* lv = opts && PyDict_Check(opts) ? PyDict_GetItemString(opts, "level") : nullptr;
    long l = (lv && PyLong_Check(lv)) ? PyLong_AsLong(lv) : settings::getInt("jit_level");
    return l < 2 ? 2 : (int)l;
  }
};

// How much deeper Python may recurse from here (compiled recursion raises RecursionError as
// CPython would; bounded so compiled frames never exhaust the C stack).
static int32_t recursionRemaining() {
  PyThreadState* ts = PyThreadState_Get();
#if PY_VERSION_HEX >= 0x030C0000
  int r = ts->py_recursion_remaining;
#elif PY_VERSION_HEX >= 0x030B0000
  int r = ts->recursion_remaining;
#else
  int r = Py_GetRecursionLimit() - ts->recursion_depth;
#endif
  return r < 1 ? 1 : r > 30000 ? 30000 : r;
}

struct DispatcherObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  DispatcherState* st;
  PyObject* dict;
  PyObject* weakrefs;
};

// A short key from argument types; false when some argument cannot be compiled.
static bool appendKey(PyObject* o, std::string& k, int depth = 0) {
  PyTypeObject* t = Py_TYPE(o);
  if (t == &PyFloat_Type) { k += 'f'; return true; }
  if (t == &PyBool_Type) { k += 'b'; return true; }
  if (t == &PyLong_Type) {
    int overflow = 0;
    PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow) return false;
    k += 'i';
    return true;
  }
  if (t == &PyTuple_Type) {
    if (PyTuple_GET_SIZE(o) > kMaxTupleElements || depth >= kMaxTupleDepth) return false;
    k += '(';
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(o); ++i)
      if (!appendKey(PyTuple_GET_ITEM(o, i), k, depth + 1)) return false;
    k += ')';
    return true;
  }
  if (o == Py_None) { k += 'n'; return true; }
  if (!numpyReady()) return false;  // no NumPy in this program: nothing else can be compiled
  if (t == &PyArray_Type) {
    PyArrayObject* a = reinterpret_cast<PyArrayObject*>(o);
    int flags = PyArray_FLAGS(a);
    if (!(flags & NPY_ARRAY_ALIGNED) || !PyArray_ISNBO(PyArray_DESCR(a)->byteorder)) return false;
    ir::Kind kd = kindOfTypeNum(PyArray_DESCR(a)->type_num);
    int nd = PyArray_NDIM(a);
    if (kd == ir::Kind::Unknown || nd < 1 || nd > 3) return false;
    char lay = (flags & NPY_ARRAY_C_CONTIGUOUS) ? 'C' : (flags & NPY_ARRAY_F_CONTIGUOUS) ? 'F' : 'A';
    k += 'A';
    k += (char)('a' + (int)kd);
    k += (char)('0' + nd);
    k += lay;
    k += (flags & NPY_ARRAY_WRITEABLE) ? 'w' : 'r';
    return true;
  }
  ir::Type ty = typeOf(o);
  if (!ty.known() || !ty.isScalar()) return false;
  k += 'S';
  k += (char)('a' + (int)ty.kind);
  return true;
}

static bool guardsHold(const Specialisation& sp) {
  for (auto& g : sp.guards) {
    PyObject* cur = PyDict_GetItemWithError(g.globals.ptr(), g.name.ptr());
    if (cur != g.expected.ptr()) return false;
  }
  for (auto& [fn, code] : sp.code_guards)
    if (PyFunction_GET_CODE(fn.ptr()) != code.ptr()) return false;
  return true;
}

// Attaches a note to the pending exception (Python 3.11+: shown under the traceback).
static void addNote(const std::string& note) {
#if PY_VERSION_HEX >= 0x030B0000
  PyObject *t, *v, *tb;
  PyErr_Fetch(&t, &v, &tb);
  PyErr_NormalizeException(&t, &v, &tb);
  if (v) {
    PyObject* r = PyObject_CallMethod(v, "add_note", "s", note.c_str());
    if (!r) PyErr_Clear();
    Py_XDECREF(r);
  }
  PyErr_Restore(t, v, tb);
#else
  (void)note;
#endif
}

static PyObject* callInterpreted(DispatcherState* st, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  st->interpreted_calls++;
  return PyObject_Vectorcall(st->py_func.ptr(), args, nargsf, kwnames);
}

// Transparent mode (epochpp.enable) gives rebound functions a home; one that cannot be compiled
// at all is put back there, so it costs nothing from then on.
static void notifyFallback(PyObject* self) {
  auto* d = reinterpret_cast<DispatcherObject*>(self);
  if (!d->dict || !PyDict_GetItemString(d->dict, "_epochpp_home")) return;
  for (auto& s : d->st->specs)
    if (s->fn) return;  // some signature runs natively: keep it
  PyObject* mod = PyImport_ImportModule("epochpp.accelerate");
  PyObject* r = mod ? PyObject_CallMethod(mod, "_on_fallback", "O", self) : nullptr;
  Py_XDECREF(r);
  Py_XDECREF(mod);
  PyErr_Clear();
}

// The specialisation for `key`, compiled on first use; null once EPOCHPP_MAX_SIGNATURES are kept.
// Bounded: at most that many are kept, and a function whose globals or callees keep being
// rebound stops recompiling after that many stale ones (it then runs in the interpreter), so
// neither compile time nor the JIT's memory grows without bound. Dropped code is freed.
static std::shared_ptr<Specialisation> findOrCompile(DispatcherState* st, const std::string& key,
                                                     PyObject* const* args, Py_ssize_t n) {
  for (auto it = st->specs.begin(); it != st->specs.end(); ++it) {
    if ((*it)->key != key) continue;
    if (guardsHold(**it)) return *it;
    st->specs.erase(it);  // a global it relied on was rebound: compile again
    st->stale++;
    break;
  }
  long maxSigs = settings::getInt("max_signatures");
  if ((long)st->specs.size() >= maxSigs) return nullptr;
  std::vector<ir::Type> params;
  for (Py_ssize_t i = 0; i < n; ++i) params.push_back(typeOf(args[i]));
  std::shared_ptr<Specialisation> sp;
  if (st->stale > maxSigs) {
    sp = std::make_shared<Specialisation>();  // no guards: it stays in the interpreter
    sp->params = params;
    sp->fallback = "what it relies on (globals, callees, their code) changed " + std::to_string(st->stale) +
                   " times, more than EPOCHPP_MAX_SIGNATURES (" + std::to_string(maxSigs) + "): no more recompiling";
  } else {
    sp = compileSpecialisation(st->py_func, params, false, st->level());  // releases the GIL for LLVM
    if (PyErr_Occurred()) PyErr_Clear();
    st->compiles++;
  }
  sp->key = key;
  // meanwhile another thread may have compiled the same signature: keep one
  for (auto& other : st->specs)
    if (other->key == key && guardsHold(*other)) return other;
  if ((long)st->specs.size() < maxSigs) st->specs.push_back(sp);
  return sp;
}

// Snapshot copies outlive their call as spares for the next snapshot of an array of the same
// shape and dtype (most recent first; with the GIL). A fresh copy's pages are faulted in and
// zeroed by the kernel on first touch: 0.7 ms for 1 MB on the VM this was measured on, against
// 26 us to copy into pages already mapped. glibc hands freed memory back for the next call below
// 32 MB, but not above, and not while several copies are alive at once (parallel_map's items):
// two items of an image kernel writing a 1 MB array took 3.1 ms together against 1.85 ms each.
namespace {
constexpr size_t kSpareBytes = 128u << 20;  // the most kept in all
constexpr size_t kSpareCount = 16;
struct Spares {
  std::vector<PyObject*> list;
  size_t bytes = 0;
};
Spares& spares() {
  static auto* s = new Spares;  // leaked at exit, like the module's other state
  return *s;
}

PyObject* takeSpare(PyArrayObject* a) {
  auto& [v, bytes] = spares();
  for (size_t i = v.size(); i-- > 0;) {
    auto* c = reinterpret_cast<PyArrayObject*>(v[i]);
    if (PyArray_NDIM(c) == PyArray_NDIM(a) && PyArray_CompareLists(PyArray_DIMS(c), PyArray_DIMS(a), PyArray_NDIM(a)) &&
        PyArray_EquivTypes(PyArray_DESCR(c), PyArray_DESCR(a))) {
      bytes -= (size_t)PyArray_NBYTES(c);
      v.erase(v.begin() + (std::ptrdiff_t)i);
      return reinterpret_cast<PyObject*>(c);
    }
  }
  return nullptr;
}
}  // namespace

// A snapshot copy is done with: kept as a spare (unless something else holds it, or it is larger
// than half of what is kept), the oldest spares dropped beyond the limits.
static void releaseSnapshot(PyObject* copy) {
  size_t nb = (size_t)PyArray_NBYTES(reinterpret_cast<PyArrayObject*>(copy));
  if (Py_REFCNT(copy) != 1 || nb > kSpareBytes / 2) {
    Py_DECREF(copy);
    return;
  }
  auto& [v, bytes] = spares();
  v.push_back(copy);
  bytes += nb;
  while (bytes > kSpareBytes || v.size() > kSpareCount) {
    PyObject* old = v.front();
    bytes -= (size_t)PyArray_NBYTES(reinterpret_cast<PyArrayObject*>(old));
    v.erase(v.begin());
    Py_DECREF(old);
  }
}

// Copies src into dst (same shape and dtype). A large array whose bytes lie alike in both (contiguous,
// no object references) is copied on every core when `cores`: a snapshot is serial work ahead of a
// call whose loops then use every core (1.28 MB: ~27 us on one core of the VM measured, ~13 us on two).
constexpr size_t kCoreCopyBytes = 256u << 10;  // smaller: one core (the pieces' fixed cost is ~2 us)
constexpr size_t kCoreCopyPiece = 64u << 10;
static int copyArray(PyArrayObject* dst, PyArrayObject* src, bool cores) {
  size_t nb = (size_t)PyArray_NBYTES(src);
  bool alike = (PyArray_IS_C_CONTIGUOUS(src) && PyArray_IS_C_CONTIGUOUS(dst)) ||
               (PyArray_IS_F_CONTIGUOUS(src) && PyArray_IS_F_CONTIGUOUS(dst));
  if (!cores || nb < kCoreCopyBytes || !alike || PyDataType_REFCHK(PyArray_DESCR(src)) ||
      (size_t)PyArray_NBYTES(dst) != nb)
    return PyArray_CopyInto(dst, src);
  char* to = static_cast<char*>(PyArray_DATA(dst));
  const char* from = static_cast<const char*>(PyArray_DATA(src));
  int64_t pieces = (int64_t)((nb + kCoreCopyPiece - 1) / kCoreCopyPiece);
  parallel::parallelFor(pieces, 0, [&](int64_t b, int64_t e) {
    size_t lo = (size_t)b * kCoreCopyPiece, hi = std::min(nb, (size_t)e * kCoreCopyPiece);
    std::memcpy(to + lo, from + lo, hi - lo);
  });
  return 0;
}

// Copies of every array argument (also inside tuples), to undo the writes of a call that deopts
// (on every core when `cores`, see copyArray). False (with a Python error set) when a copy cannot be
// made; nothing is kept then.
static bool snapshotArrays(PyObject* const* args, Py_ssize_t n, std::vector<std::pair<PyObject*, PyObject*>>& saved,
                           bool cores) {
  std::vector<PyObject*> arrays;
  std::function<void(PyObject*)> collect = [&](PyObject* o) {
    if (PyTuple_Check(o))
      for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(o); ++j) collect(PyTuple_GET_ITEM(o, j));
    else if (numpyReady() && PyArray_Check(o))
      arrays.push_back(o);
  };
  for (Py_ssize_t i = 0; i < n; ++i) collect(args[i]);
  for (PyObject* a : arrays) {
    auto* arr = reinterpret_cast<PyArrayObject*>(a);
    PyObject* c = takeSpare(arr);
    if (!c) c = PyArray_NewLikeArray(arr, NPY_KEEPORDER, nullptr, 0);
    if (c && copyArray(reinterpret_cast<PyArrayObject*>(c), arr, cores) < 0) Py_CLEAR(c);
    if (!c) {
      for (auto& [arr, copy] : saved) Py_DECREF(copy);
      saved.clear();
      return false;
    }
    saved.push_back({a, c});
  }
  return true;
}

// A native call's outcome as Python sees it: its result; its exception, with a note naming the
// compiled line; or, after a deopt, the arrays put back and the interpreter's answer (`interpret`).
template <class Interpret>
static PyObject* finishCall(DispatcherState* st, const Specialisation* sp, int32_t status, EpCtx* ctx, CallState* cs,
                            const uint64_t* ret, const std::vector<std::pair<PyObject*, PyObject*>>& saved,
                            const Interpret& interpret) {
  if (status == EP_OK) {
    st->native_calls++;
    size_t pos = 0;
    return box(sp->ret, ret, &pos);
  }
  if (status == EP_ERROR) {
    st->native_calls++;
    bool ours = cs->exc_type == nullptr;
    raiseFromCtx(ctx, cs);
    int fi = EP_LOC_FUNC(ctx->exc_line), line = EP_LOC_LINE(ctx->exc_line);
    if (ours && line > 0 && fi < (int)sp->units.size())
      addNote("raised in epochpp compiled code: " + sp->units[fi].second + " at " + sp->units[fi].first + ":" +
              std::to_string(line));
    return nullptr;
  }
  for (auto& [arr, copy] : saved)
    PyArray_CopyInto(reinterpret_cast<PyArrayObject*>(arr), reinterpret_cast<PyArrayObject*>(copy));
  st->deopts++;
  return interpret();
}

// Positional parameters of a function compiled code can take, or -1 (*args, **kwargs,
// keyword-only parameters or defaults: those calls run in the interpreter).
static void readParams(DispatcherState* st) {
  PyObject* fn = st->py_func.ptr();
  PyCodeObject* code = reinterpret_cast<PyCodeObject*>(PyFunction_GET_CODE(fn));
  bool simple = !(code->co_flags & (CO_VARARGS | CO_VARKEYWORDS)) && code->co_kwonlyargcount == 0 &&
                PyFunction_GET_DEFAULTS(fn) == nullptr;
  st->num_params = simple ? code->co_argcount : -1;
  st->code = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(code));
}

static PyObject* dispatcherCall(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  auto* d = reinterpret_cast<DispatcherObject*>(self);
  DispatcherState* st = d->st;
  Py_ssize_t n = PyVectorcall_NARGS(nargsf);
  if (PyFunction_GET_CODE(st->py_func.ptr()) != st->code.ptr()) readParams(st);  // f.__code__ = ... (the specialisations' code guards see it too)
  if (st->disabled || kwnames || n != st->num_params) return callInterpreted(st, args, nargsf, kwnames);
  std::string key;
  for (Py_ssize_t i = 0; i < n; ++i)
    if (!appendKey(args[i], key)) {
      if (st->arg_reason.empty()) {
        st->arg_reason = "argument " + std::to_string(i + 1) + " is a '" + std::string(Py_TYPE(args[i])->tp_name) +
                         "' (compiled code takes bool, int (int64), float, NumPy scalars, arrays of bool/int32/int64/"
                         "float32/float64 with 1-3 dims, and tuples of these: at most " + std::to_string(kMaxTupleElements) +
                         " elements, nested at most " + std::to_string(kMaxTupleDepth) + " deep)";
        notifyFallback(self);
      }
      return callInterpreted(st, args, nargsf, kwnames);
    }
  long before = st->compiles;
  std::shared_ptr<Specialisation> sp = findOrCompile(st, key, args, n);
  if (!sp || !sp->fallback.empty() || !sp->fn) {
    if (sp) st->last = sp;
    if (sp && st->compiles != before) notifyFallback(self);
    return callInterpreted(st, args, nargsf, kwnames);
  }
  st->last = sp;
  std::vector<uint64_t> slots;
  slots.reserve(16);
  for (Py_ssize_t i = 0; i < n; ++i)
    if (!unbox(args[i], sp->params[i], slots)) return callInterpreted(st, args, nargsf, kwnames);
  // Exact deopt for functions that write their array arguments: keep copies to restore.
  std::vector<std::pair<PyObject*, PyObject*>> saved;
  if (sp->snapshot && !snapshotArrays(args, n, saved, sp->parallel_loops > 0)) return nullptr;
  std::vector<uint64_t> retSlots((size_t)codegen::slotCount(sp->ret));
  uint64_t* ret = retSlots.data();
  EpCtx ctx;
  std::memset(&ctx, 0, sizeof ctx);
  CallState cs;
  ctx.owned = &cs;
  ctx.depth_limit = recursionRemaining();
  if ((++st->calls_since_signal_check & 63) == 0) installSignalHandler();  // signal.signal() replaces it
  using Fn = int32_t (*)(EpCtx*, uint64_t*, const uint64_t*);
  int32_t status;
  {
    profiler::ModeScope mode(profiler::kModeCompiled);  // what the sampler reports for this thread
    Py_BEGIN_ALLOW_THREADS
    status = reinterpret_cast<Fn>(sp->fn)(&ctx, ret, slots.data());
    Py_END_ALLOW_THREADS
  }
  PyObject* result = finishCall(st, sp.get(), status, &ctx, &cs, ret, saved,
                                [&] { return PyObject_Vectorcall(st->py_func.ptr(), args, nargsf, kwnames); });
  for (auto& [arr, copy] : saved) releaseSnapshot(copy);
  return result;
}

// ---- parallel_map: independent calls on the oneTBB workers ------------------------------------
// d._map([args, ...]) runs every call's native code at once, the GIL released; results come back
// in order. None (nothing ran) when some call's arguments cannot run as native code. Finishing
// goes in item order like a comprehension: the first item that raised raises (later items have
// run too); an item that deopts is undone and re-run in the interpreter at its turn.
namespace {
struct MapItem {
  PyObject* args = nullptr;  // the argument tuple (borrowed from the list)
  std::shared_ptr<Specialisation> sp;  // kept alive until the item is finished
  std::vector<uint64_t> slots, ret;
  std::vector<std::pair<PyObject*, PyObject*>> saved;
  EpCtx ctx;
  CallState cs;
  int32_t status = EP_DEOPT;
  bool ran = false;
  ~MapItem() {
    for (auto& [arr, copy] : saved) releaseSnapshot(copy);
  }
};
}  // namespace

static PyObject* dispatcherMap(PyObject* self, PyObject* calls) {
  auto* d = reinterpret_cast<DispatcherObject*>(self);
  DispatcherState* st = d->st;
  if (!PyList_Check(calls)) {
    PyErr_SetString(PyExc_TypeError, "_map expects a list of argument tuples");
    return nullptr;
  }
  Py_ssize_t count = PyList_GET_SIZE(calls);
  if (PyFunction_GET_CODE(st->py_func.ptr()) != st->code.ptr()) readParams(st);
  if (st->disabled || st->num_params < 0) Py_RETURN_NONE;
  std::vector<std::unique_ptr<MapItem>> items;
  items.reserve((size_t)count);
  int32_t depthLimit = recursionRemaining();
  // 1. with the GIL: types, specialisations, unboxed arguments (nothing runs yet)
  for (Py_ssize_t k = 0; k < count; ++k) {
    PyObject* a = PyList_GET_ITEM(calls, k);
    if (!PyTuple_Check(a)) {
      PyErr_SetString(PyExc_TypeError, "_map expects a list of argument tuples");
      return nullptr;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(a);
    PyObject* const* args = &PyTuple_GET_ITEM(a, 0);
    if (n != st->num_params) Py_RETURN_NONE;
    std::string key;
    for (Py_ssize_t i = 0; i < n; ++i)
      if (!appendKey(args[i], key)) Py_RETURN_NONE;
    std::shared_ptr<Specialisation> sp = findOrCompile(st, key, args, n);
    if (!sp || !sp->fallback.empty() || !sp->fn) Py_RETURN_NONE;
    st->last = sp;
    auto it = std::make_unique<MapItem>();
    it->args = a;
    it->sp = sp;
    for (Py_ssize_t i = 0; i < n; ++i)
      if (!unbox(args[i], sp->params[i], it->slots)) Py_RETURN_NONE;
    it->ret.resize((size_t)codegen::slotCount(sp->ret));
    std::memset(&it->ctx, 0, sizeof it->ctx);
    it->ctx.owned = &it->cs;
    it->ctx.depth_limit = depthLimit;
    items.push_back(std::move(it));
  }
  for (auto& it : items)  // after every signature is known to compile: no copies wasted on a None
    if (it->sp->snapshot && !snapshotArrays(&PyTuple_GET_ITEM(it->args, 0), PyTuple_GET_SIZE(it->args), it->saved, true))
      return nullptr;
  installSignalHandler();
  // 2. without the GIL: every call on the arena's workers (the calling thread included)
  std::atomic<int> interrupted{0};
  {
    profiler::ModeScope mode(profiler::kModeParallel);
    Py_BEGIN_ALLOW_THREADS
    // about 16 pieces per thread: uneven items still balance, tiny items do not pay a task each
    int64_t grain = std::max<int64_t>(1, (int64_t)items.size() / (16 * (int64_t)parallel::maxThreads()));
    parallel::parallelFor((int64_t)items.size(), grain, [&](int64_t b, int64_t e) {
      profiler::ModeScope worker(profiler::kModeCompiled);
      bool wasWorker = setMapWorker(true);
      using Fn = int32_t (*)(EpCtx*, uint64_t*, const uint64_t*);
      for (int64_t k = b; k < e; ++k) {
        if (interrupted.load(std::memory_order_relaxed) || sigintPending()) {
          interrupted.store(1);
          break;
        }
        MapItem& it = *items[(size_t)k];
        it.status = reinterpret_cast<Fn>(it.sp->fn)(&it.ctx, it.ret.data(), it.slots.data());
        it.ran = true;
        if (it.status == EP_ERROR && it.ctx.exc_kind == EP_EXC_KEYBOARD_INTERRUPT) interrupted.store(1);
      }
      setMapWorker(wasWorker);
    });
    Py_END_ALLOW_THREADS
  }
  if (interrupted.load()) {
    // undo nothing: like a comprehension interrupted half-way, finished items keep their effects
    for (auto& it : items)
      if (it->ran) st->native_calls++;
    EpCtx ctx;
    std::memset(&ctx, 0, sizeof ctx);
    CallState cs;
    ctx.owned = &cs;
    ep_rt_check_signals(&ctx);  // on the calling thread: runs Python's SIGINT handler
    if (!cs.exc_type) ep_rt_raise(&ctx, EP_EXC_KEYBOARD_INTERRUPT, 0, "");
    raiseFromCtx(&ctx, &cs);
    return nullptr;
  }
  // 3. with the GIL, in item order: box results, raise the first error, re-run deopts
  PyObject* out = PyList_New(count);
  if (!out) return nullptr;
  for (Py_ssize_t k = 0; k < count; ++k) {
    MapItem& it = *items[(size_t)k];
    PyObject* r = finishCall(st, it.sp.get(), it.status, &it.ctx, &it.cs, it.ret.data(), it.saved,
                             [&] { return PyObject_Call(st->py_func.ptr(), it.args, nullptr); });
    if (!r) {
      Py_DECREF(out);
      return nullptr;
    }
    PyList_SET_ITEM(out, k, r);
  }
  return out;
}

// ---- Python-visible type ---------------------------------------------------------------------
static PyObject* dispatcherNew(PyTypeObject* type, PyObject* args, PyObject* kwds) {
  PyObject* fn = nullptr;
  static const char* kw[] = {"py_func", nullptr};
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O", const_cast<char**>(kw), &fn)) return nullptr;
  if (!PyFunction_Check(fn)) {
    PyErr_SetString(PyExc_TypeError, "epochpp.jit expects a Python function");
    return nullptr;
  }
  auto* self = reinterpret_cast<DispatcherObject*>(type->tp_alloc(type, 0));
  if (!self) return nullptr;
  self->vectorcall = dispatcherCall;
  self->st = new DispatcherState();
  self->st->py_func = py::reinterpret_borrow<py::object>(fn);
  readParams(self->st);
  self->st->disabled = settings::get("disable") == "1";
  self->dict = PyDict_New();
  self->st->dict = self->dict;
  return reinterpret_cast<PyObject*>(self);
}

static void dispatcherDealloc(PyObject* o) {
  auto* self = reinterpret_cast<DispatcherObject*>(o);
  PyObject_GC_UnTrack(o);
  if (self->weakrefs) PyObject_ClearWeakRefs(o);
  delete self->st;
  Py_CLEAR(self->dict);
  Py_TYPE(o)->tp_free(o);
}

static int dispatcherTraverse(PyObject* o, visitproc visit, void* arg) {
  auto* self = reinterpret_cast<DispatcherObject*>(o);
  Py_VISIT(self->dict);
  if (self->st) Py_VISIT(self->st->py_func.ptr());
  return 0;
}

static PyObject* getPyFunc(PyObject* o, void*) {
  auto* self = reinterpret_cast<DispatcherObject*>(o);
  return self->st->py_func.inc_ref().ptr();
}

static PyObject* getStats(PyObject* o, void*) {
  DispatcherState* st = reinterpret_cast<DispatcherObject*>(o)->st;
  return Py_BuildValue("{s:l,s:l,s:l,s:l}", "native_calls", st->native_calls, "interpreted_calls",
                       st->interpreted_calls, "deopts", st->deopts, "compiles", st->compiles);
}

static PyObject* getSignatures(PyObject* o, void*) {
  DispatcherState* st = reinterpret_cast<DispatcherObject*>(o)->st;
  PyObject* l = PyList_New(0);
  for (auto& s : st->specs) {
    PyObject* t = PyUnicode_FromString(signatureText(s->params).c_str());
    PyList_Append(l, t);
    Py_DECREF(t);
  }
  return l;
}

static PyObject* dispatcherExplain(PyObject* o, PyObject*) {
  DispatcherState* st = reinterpret_cast<DispatcherObject*>(o)->st;
  std::string name = py::str(st->py_func.attr("__qualname__"));
  std::string s;
  if (st->disabled) s += name + ": EPOCHPP_DISABLE=1, every call runs in the interpreter\n";
  if (st->num_params < 0)
    s += name + ": runs in the interpreter: *args, **kwargs, keyword-only or default arguments are not compiled\n";
  if (!st->arg_reason.empty()) s += name + ": some calls run in the interpreter: " + st->arg_reason + "\n";
  if ((long)st->specs.size() >= settings::getInt("max_signatures"))
    s += name + ": EPOCHPP_MAX_SIGNATURES (" + std::to_string(settings::getInt("max_signatures")) +
         ") signatures compiled; calls with new argument types run in the interpreter\n";
  if (st->stale)
    s += name + ": " + std::to_string(st->stale) + " specialisation(s) dropped because a global, a callee or its code changed\n";
  if (st->specs.empty() && st->num_params >= 0 && st->arg_reason.empty() && !st->disabled)
    s += name + ": not compiled yet; it compiles on its first call\n";
  for (auto& sp : st->specs) {
    s += name + signatureText(sp->params) + ": ";
    if (sp->fallback.empty()) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "native code (Level %d) -> %s; compiled in %.1f ms (frontend %.1f, passes %.1f, codegen %.1f, LLVM %.1f, link %.1f)",
                    sp->parallel_loops ? 3 : 2, sp->ret.str().c_str(), sp->ms_frontend + sp->ms_passes + sp->ms_codegen + sp->ms_optimise + sp->ms_link,
                    sp->ms_frontend, sp->ms_passes, sp->ms_codegen, sp->ms_optimise, sp->ms_link);
      s += buf;
      if (sp->from_cache) s += " (code from the cache: no LLVM work)";
      if (sp->parallel_loops)
        s += "; Level 3: " + std::to_string(sp->parallel_loops) + " loop(s) run on all cores (" +
             std::to_string(parallel::maxThreads()) + " threads) when the work is large enough";
      else if (sp->level >= 3)
        s += "; Level 3: no parallel loop (runs serially)";
      if (sp->level >= 4) {
        char buf[160];
        if (sp->ptx_from_cache)
          std::snprintf(buf, sizeof buf, "; Level 4: %d loop(s) have GPU kernels (%s, PTX from the cache)", sp->gpu_kernels,
                        sp->ptx_arch.c_str());
        else
          std::snprintf(buf, sizeof buf, "; Level 4: %d loop(s) have GPU kernels (%s, PTX made in %.1f ms)", sp->gpu_kernels,
                        sp->ptx_arch.c_str(), sp->ms_ptx);
        s += sp->gpu_kernels ? std::string(buf) : std::string("; Level 4: no loop has a GPU kernel");
        if (sp->gpu_kernels) {
          const gpu::DeviceInfo& dev = gpu::device();
          s += dev.available ? ", offered to the GPU first (" + dev.name + ")"
                             : ", run on the CPU: " + dev.reason;
          for (auto& k : sp->kernel_names) {
            gpu::KernelStats ks = gpu::stats(k);
            if (!ks.calls) continue;
            s += "; kernel " + k.substr(k.rfind('_') + 1) + ": " + std::to_string(ks.launches) + " GPU run(s), " +
                 std::to_string(ks.fallbacks) + " on the CPU" + (ks.last_reason.empty() ? "" : " (last: " + ks.last_reason + ")");
          }
        }
      }
      if (sp->snapshot) s += "; writes its array arguments and may deopt, so they are copied before each call";
      for (auto& note : sp->notes) s += "; " + note;
    } else {
      s += "runs in the interpreter: " + sp->fallback;
    }
    s += "\n";
  }
  if (st->interpreted_calls && st->num_params >= 0 && !st->specs.empty())
    s += "(" + std::to_string(st->interpreted_calls) + " calls ran in the interpreter: keyword arguments, unsupported argument types or fallbacks)\n";
  return PyUnicode_FromString(s.c_str());
}

static PyObject* dispatcherInspect(PyObject* o, PyObject* args) {
  DispatcherState* st = reinterpret_cast<DispatcherObject*>(o)->st;
  const char* stage = "ir";
  if (!PyArg_ParseTuple(args, "|s", &stage)) return nullptr;
  std::shared_ptr<Specialisation> sp = st->last;  // kept while compiling again releases the GIL
  if (!sp) {
    PyErr_SetString(PyExc_RuntimeError, "nothing compiled yet: call the function once first");
    return nullptr;
  }
  if (!sp->fallback.empty()) {
    PyErr_SetString(PyExc_RuntimeError, ("this signature runs in the interpreter: " + sp->fallback).c_str());
    return nullptr;
  }
  std::string s(stage);
  if (s == "ir") return PyUnicode_FromString(sp->text_ir.c_str());
  if (s == "ptx") {
    if (sp->text_ptx.empty()) {
      std::string why = sp->level < 4 ? "no PTX: this signature was compiled at Level " + std::to_string(sp->level) +
                                            "; kernels are made at Level 4 (epochpp.jit(fn, level=4) or enable(level=4))"
                                      : std::string("no PTX: no loop of this function runs on a GPU (explain() says why)");
      PyErr_SetString(PyExc_ValueError, why.c_str());
      return nullptr;
    }
    return PyUnicode_FromString(sp->text_ptx.c_str());
  }
  if (s != "llvm" && s != "asm") {
    PyErr_SetString(PyExc_ValueError, "stage must be one of 'ir', 'llvm', 'asm', 'ptx'");
    return nullptr;
  }
  if (sp->text_llvm.empty()) {
    auto again = compileSpecialisation(st->py_func, sp->params, true, sp->level);
    sp->text_llvm = again->text_llvm;
    sp->text_asm = again->text_asm;
  }
  return PyUnicode_FromString((s == "llvm" ? sp->text_llvm : sp->text_asm).c_str());
}

static PyObject* dispatcherGet(PyObject* self, PyObject* obj, PyObject*) {
  if (!obj || obj == Py_None) {
    Py_INCREF(self);
    return self;
  }
  return PyMethod_New(self, obj);
}

static PyGetSetDef dispatcherGetset[] = {
    {"py_func", getPyFunc, nullptr, "the original Python function", nullptr},
    {"stats", getStats, nullptr, "call counters: native_calls, interpreted_calls, deopts, compiles", nullptr},
    {"signatures", getSignatures, nullptr, "the argument-type signatures seen so far", nullptr},
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

static PyMethodDef dispatcherMethods[] = {
    {"explain", dispatcherExplain, METH_NOARGS, "why each signature runs where it runs"},
    {"inspect", dispatcherInspect, METH_VARARGS, "inspect(stage='ir'|'llvm'|'asm') -> text of the last signature"},
    {"_map", dispatcherMap, METH_O, "_map([args, ...]) -> results in order, all calls on the oneTBB workers; None: cannot"},
    {nullptr, nullptr, 0, nullptr}};

PyTypeObject DispatcherType = {PyVarObject_HEAD_INIT(nullptr, 0)};

PyObject* dispatcherType() {
  static bool ready = false;
  if (!ready) {
    DispatcherType.tp_name = "epochpp._core.Dispatcher";
    DispatcherType.tp_basicsize = sizeof(DispatcherObject);
    DispatcherType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_METHOD_DESCRIPTOR;
    DispatcherType.tp_new = dispatcherNew;
    DispatcherType.tp_dealloc = dispatcherDealloc;
    DispatcherType.tp_traverse = dispatcherTraverse;
    DispatcherType.tp_call = PyVectorcall_Call;
    DispatcherType.tp_vectorcall_offset = offsetof(DispatcherObject, vectorcall);
    DispatcherType.tp_dictoffset = offsetof(DispatcherObject, dict);
    DispatcherType.tp_weaklistoffset = offsetof(DispatcherObject, weakrefs);
    DispatcherType.tp_getset = dispatcherGetset;
    DispatcherType.tp_methods = dispatcherMethods;
    DispatcherType.tp_descr_get = dispatcherGet;
    DispatcherType.tp_doc = "A compiled function: specialises on argument types, runs native code, falls back exactly.";
    if (PyType_Ready(&DispatcherType) < 0) return nullptr;
    ready = true;
  }
  return reinterpret_cast<PyObject*>(&DispatcherType);
}

}  // namespace epochpp::runtime
