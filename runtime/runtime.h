// runtime/runtime.h — runtime internals shared by the dispatcher, boxing and the C ABI (Python + NumPy side).
#pragma once
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define PY_ARRAY_UNIQUE_SYMBOL epochpp_ARRAY_API
#ifndef EPOCHPP_IMPORT_ARRAY
#define NO_IMPORT_ARRAY
#endif
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "jit/ir/types.h"
#include "runtime/abi.h"

namespace epochpp::runtime {

// What one native call owns besides its arguments: arrays it allocated, a pending exception.
struct CallState {
  std::vector<PyObject*> owned;
  std::vector<void*> scratch;
  PyObject* exc_type = nullptr;
  PyObject* exc_value = nullptr;
  PyObject* exc_tb = nullptr;
  bool empty() const { return owned.empty() && scratch.empty() && !exc_type; }
  // Releases what it holds (with the GIL held, when it holds Python objects); leaves it empty.
  void clear() {
    for (PyObject* o : owned) Py_DECREF(o);
    for (void* p : scratch) std::free(p);
    owned.clear();
    scratch.clear();
    Py_CLEAR(exc_type);
    Py_CLEAR(exc_value);
    Py_CLEAR(exc_tb);
  }
  ~CallState() { clear(); }
};

// Tuple arguments larger than this run in the interpreter: compile time grows steeply with the
// number of elements (a 1,000-element tuple took minutes), and a deep nesting would recurse deeply.
constexpr Py_ssize_t kMaxTupleElements = 64;
constexpr int kMaxTupleDepth = 8;

int numpyTypeNum(ir::Kind k);          // NPY_FLOAT64 ...
ir::Kind kindOfTypeNum(int type_num);  // Unknown if unsupported

// Type of a Python argument for dispatch; Unknown when it cannot be passed to compiled code.
ir::Type typeOf(PyObject* obj);
// Appends the flattened 8-byte slots of `obj` (already known to have type t). False: cannot.
bool unbox(PyObject* obj, const ir::Type& t, std::vector<uint64_t>& slots);
// Builds the Python object for flattened slots starting at *pos; advances *pos.
PyObject* box(const ir::Type& t, const uint64_t* slots, size_t* pos);
// The Python object for one scalar of kind k held in a slot (NumPy floats as doubles).
PyObject* boxScalar(ir::Kind k, uint64_t raw);
// Turns a failed call's context into a Python exception.
void raiseFromCtx(EpCtx* ctx, CallState* st);

// NumPy's C API is loaded only once the program has imported numpy itself: a program that
// never uses NumPy does not pay for importing it. True when the API is usable.
bool numpyReady();

void installSignalHandler();  // chains SIGINT so long native loops notice Ctrl-C
bool sigintPending();          // a Ctrl-C arrived that compiled code has not turned into an exception yet
bool setMapWorker(bool on);    // this thread runs chunks / parallel_map items: Ctrl-C stops it, the caller raises; returns the old value
void registerRuntimeSymbols();
// The most recent compiled parallel loop's shape, for tests and diagnostics: its iterations, the
// chunks they were cut into, and align (chunk bounds are multiples of it: a lane loop's W, else 1).
struct ParallelLoopShape {
  int64_t iterations = 0, chunks = 0, align = 0;
};
ParallelLoopShape lastParallelLoop();

}  // namespace epochpp::runtime
