// runtime/boxing.cpp — Python objects <-> the flattened 8-byte slots of the compiled-code ABI.
#include <cstring>

#include "runtime/runtime.h"

namespace epochpp::runtime {

using ir::Kind;
using ir::Layout;
using ir::Type;

int numpyTypeNum(Kind k) {
  switch (k) {
    case Kind::NpBool: return NPY_BOOL;
    case Kind::NpInt32: return NPY_INT32;
    case Kind::NpInt64: return NPY_INT64;
    case Kind::NpFloat32: return NPY_FLOAT32;
    default: return NPY_FLOAT64;
  }
}

Kind kindOfTypeNum(int tn) {
  switch (tn) {
    case NPY_BOOL: return Kind::NpBool;
    case NPY_FLOAT64: return Kind::NpFloat64;
    case NPY_FLOAT32: return Kind::NpFloat32;
    default: break;
  }
  // Exactly NumPy's int64/int32 (on Linux: long/int). np.longlong and np.intc/np.long of the
  // same size are other types to Python (their scalars and dtypes print and compare apart), so
  // arrays of them run in the interpreter.
  if (tn == NPY_INT64) return Kind::NpInt64;
  if (tn == NPY_INT32) return Kind::NpInt32;
  return Kind::Unknown;
}

static Type typeOf(PyObject* o, int depth);

Type typeOf(PyObject* o) { return typeOf(o, 0); }

static Type typeOf(PyObject* o, int depth) {
  PyTypeObject* t = Py_TYPE(o);
  if (t == &PyBool_Type) return Type::scalar(Kind::Bool);
  if (t == &PyLong_Type) {
    int overflow = 0;
    PyLong_AsLongLongAndOverflow(o, &overflow);
    return overflow ? Type::unknown() : Type::scalar(Kind::Int);
  }
  if (t == &PyFloat_Type) return Type::scalar(Kind::Float);
  if (o == Py_None) return Type::none();
  if (t == &PyTuple_Type) {
    Py_ssize_t n = PyTuple_GET_SIZE(o);
    if (n > kMaxTupleElements || depth >= kMaxTupleDepth) return Type::unknown();
    std::vector<Type> el;
    for (Py_ssize_t i = 0; i < n; ++i) {
      Type e = typeOf(PyTuple_GET_ITEM(o, i), depth + 1);
      if (!e.known()) return Type::unknown();
      el.push_back(e);
    }
    return Type::tuple(el);
  }
  if (!numpyReady()) return Type::unknown();  // no NumPy API (not even &PyArray_Type) before numpy is imported
  if (t == &PyArray_Type) {
    PyArrayObject* a = reinterpret_cast<PyArrayObject*>(o);
    PyArray_Descr* d = PyArray_DESCR(a);
    int nd = PyArray_NDIM(a);
    if (nd < 1 || nd > 3) return Type::unknown();
    if (!PyArray_ISNBO(d->byteorder) || !PyArray_ISALIGNED(a)) return Type::unknown();
    Kind k = kindOfTypeNum(d->type_num);
    if (k == Kind::Unknown) return Type::unknown();
    Layout l = PyArray_IS_C_CONTIGUOUS(a) ? Layout::C : (PyArray_IS_F_CONTIGUOUS(a) ? Layout::F : Layout::A);
    return Type::array(k, nd, l, !PyArray_ISWRITEABLE(a));
  }
  if (PyArray_IsScalar(o, Generic)) {
    PyArray_Descr* d = PyArray_DescrFromScalar(o);
    Kind k = d ? kindOfTypeNum(d->type_num) : Kind::Unknown;
    Py_XDECREF(d);
    if (k == Kind::Unknown) return Type::unknown();
    PyArray_Descr* exact = PyArray_DescrFromType(numpyTypeNum(k));
    bool same = exact && Py_TYPE(o) == exact->typeobj;  // not a subclass of np.float64 & co.
    Py_XDECREF(exact);
    return same ? Type::scalar(k) : Type::unknown();
  }
  return Type::unknown();
}

bool unbox(PyObject* o, const Type& t, std::vector<uint64_t>& s) {
  switch (t.kind) {
    case Kind::Bool: s.push_back(o == Py_True); return true;
    case Kind::Int: s.push_back((uint64_t)PyLong_AsLongLong(o)); return true;
    case Kind::Float: {
      double d = PyFloat_AS_DOUBLE(o);
      uint64_t u;
      std::memcpy(&u, &d, 8);
      s.push_back(u);
      return true;
    }
    case Kind::None: s.push_back(0); return true;
    case Kind::NpBool: case Kind::NpInt32: case Kind::NpInt64: case Kind::NpFloat32: case Kind::NpFloat64: {
      union { uint64_t u; double d; int64_t i; } v{0};
      if (t.kind == Kind::NpFloat32) { float f; PyArray_ScalarAsCtype(o, &f); v.d = f; }
      else if (t.kind == Kind::NpFloat64) PyArray_ScalarAsCtype(o, &v.d);
      else if (t.kind == Kind::NpInt64) PyArray_ScalarAsCtype(o, &v.i);
      else if (t.kind == Kind::NpInt32) { int32_t x; PyArray_ScalarAsCtype(o, &x); v.i = x; }
      else { npy_bool x; PyArray_ScalarAsCtype(o, &x); v.i = x != 0; }
      s.push_back(v.u);
      return true;
    }
    case Kind::Array: {
      PyArrayObject* a = reinterpret_cast<PyArrayObject*>(o);
      s.push_back((uint64_t)(uintptr_t)PyArray_DATA(a));
      int nd = PyArray_NDIM(a);
      for (int d = 0; d < 3; ++d) s.push_back((uint64_t)(d < nd ? PyArray_DIM(a, d) : 1));
      for (int d = 0; d < 3; ++d) s.push_back((uint64_t)(d < nd ? PyArray_STRIDE(a, d) : 0));
      s.push_back((uint64_t)(uintptr_t)o);
      return true;
    }
    case Kind::Tuple:
      for (size_t i = 0; i < t.elems.size(); ++i)
        if (!unbox(PyTuple_GET_ITEM(o, i), t.elems[i], s)) return false;
      return true;
    default: return false;
  }
}

static PyObject* npScalar(Kind k, uint64_t raw) {
  union { uint64_t u; double d; int64_t i; } v{raw};
  PyArray_Descr* d = PyArray_DescrFromType(numpyTypeNum(k));
  PyObject* r;
  switch (k) {
    case Kind::NpFloat64: r = PyArray_Scalar(&v.d, d, nullptr); break;
    case Kind::NpFloat32: { float f = (float)v.d; r = PyArray_Scalar(&f, d, nullptr); break; }
    case Kind::NpInt64: r = PyArray_Scalar(&v.i, d, nullptr); break;
    case Kind::NpInt32: { int32_t x = (int32_t)v.i; r = PyArray_Scalar(&x, d, nullptr); break; }
    default: { npy_bool x = v.i != 0; r = PyArray_Scalar(&x, d, nullptr); break; }
  }
  Py_DECREF(d);
  return r;
}

PyObject* boxScalar(Kind k, uint64_t raw) {
  union { uint64_t u; double d; int64_t i; } v{raw};
  switch (k) {
    case Kind::Bool: return PyBool_FromLong(v.i != 0);
    case Kind::Int: return PyLong_FromLongLong(v.i);
    case Kind::Float: return PyFloat_FromDouble(v.d);
    case Kind::None: Py_RETURN_NONE;
    default: return npScalar(k, raw);
  }
}

PyObject* box(const Type& t, const uint64_t* s, size_t* pos) {
  switch (t.kind) {
    case Kind::Union: {
      Kind k = static_cast<Kind>(s[*pos] & 0xff);
      uint64_t raw = s[*pos + 1];
      *pos += 2;
      return boxScalar(k, raw);
    }
    case Kind::Tuple: {
      PyObject* tup = PyTuple_New((Py_ssize_t)t.elems.size());
      for (size_t i = 0; i < t.elems.size(); ++i) {
        PyObject* e = box(t.elems[i], s, pos);
        if (!e) { Py_DECREF(tup); return nullptr; }
        PyTuple_SET_ITEM(tup, (Py_ssize_t)i, e);
      }
      return tup;
    }
    case Kind::Array: {
      void* data = (void*)(uintptr_t)s[*pos];
      npy_intp dims[3], strides[3];
      for (int d = 0; d < 3; ++d) {
        dims[d] = (npy_intp)s[*pos + 1 + d];
        strides[d] = (npy_intp)s[*pos + 4 + d];
      }
      uintptr_t tagged = (uintptr_t)s[*pos + 7];
      PyObject* owner = (PyObject*)(tagged & ~(uintptr_t)1);
      *pos += 8;
      int nd = t.ndim;
      PyArrayObject* o = reinterpret_cast<PyArrayObject*>(owner);
      bool same = !(tagged & 1) && PyArray_DATA(o) == data && PyArray_NDIM(o) == nd;
      for (int d = 0; same && d < nd; ++d) same = PyArray_DIM(o, d) == dims[d] && PyArray_STRIDE(o, d) == strides[d];
      if (same) {
        Py_INCREF(owner);
        return owner;
      }
      // the owner's own dtype object when it is of this kind (keeps its metadata, as NumPy's views do)
      PyArray_Descr* descr = PyArray_DESCR(o);
      if (kindOfTypeNum(descr->type_num) == t.dtype) Py_INCREF(descr);
      else descr = PyArray_DescrFromType(numpyTypeNum(t.dtype));
      int flags = PyArray_ISWRITEABLE(o) ? NPY_ARRAY_WRITEABLE : 0;
      PyObject* v = PyArray_NewFromDescr(&PyArray_Type, descr, nd, dims, strides, data, flags, nullptr);
      if (!v) return nullptr;
      Py_INCREF(owner);
      if (PyArray_SetBaseObject(reinterpret_cast<PyArrayObject*>(v), owner) < 0) {
        Py_DECREF(v);
        return nullptr;
      }
      return v;
    }
    default: {
      uint64_t raw = s[*pos];
      *pos += 1;
      return boxScalar(t.kind, raw);
    }
  }
}

void raiseFromCtx(EpCtx* ctx, CallState* st) {
  if (st->exc_type) {
    PyErr_Restore(st->exc_type, st->exc_value, st->exc_tb);
    st->exc_type = st->exc_value = st->exc_tb = nullptr;
    return;
  }
  PyObject* type = PyExc_RuntimeError;
  switch (ctx->exc_kind) {
    case EP_EXC_ZERO_DIVISION: type = PyExc_ZeroDivisionError; break;
    case EP_EXC_INDEX: type = PyExc_IndexError; break;
    case EP_EXC_VALUE: type = PyExc_ValueError; break;
    case EP_EXC_OVERFLOW: type = PyExc_OverflowError; break;
    case EP_EXC_UNBOUND_LOCAL: type = PyExc_UnboundLocalError; break;
    case EP_EXC_TYPE: type = PyExc_TypeError; break;
    case EP_EXC_MEMORY: type = PyExc_MemoryError; break;
    case EP_EXC_KEYBOARD_INTERRUPT: type = PyExc_KeyboardInterrupt; break;
    case EP_EXC_RECURSION: type = PyExc_RecursionError; break;
    default: break;
  }
  PyErr_SetString(type, ctx->exc_msg);
}

}  // namespace epochpp::runtime
