// runtime/rt_array.cpp — whole-array reductions called by compiled code, bit-for-bit as NumPy computes them.
//
// Float sums use NumPy's pairwise summation (blocks of 8 partial sums, 128-element leaves) over
// the elements in C order (memory order for Fortran-contiguous arrays), which is what NumPy's
// add.reduce yields for the layouts we accept. Integer sums wrap in int64 like NumPy's.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <vector>

#include "jit/ir/types.h"
#include "runtime/abi.h"

using epochpp::ir::Kind;

namespace {

// Element i (0 <= i < size) of the array in C order (F order when `forder`).
struct Walker {
  const EpArray* a;
  int ndim;
  bool forder;
  int64_t size;
  int64_t step;  // > 0: element i is at data + i * step (1-D or contiguous in walk order)
  const char* at(int64_t i) const {
    const char* p = static_cast<const char*>(a->data);
    if (step) return p + i * step;
    if (forder) {
      for (int d = 0; d < ndim; ++d) {
        int64_t n = a->shape[d];
        p += (i % n) * a->strides[d];
        i /= n;
      }
    } else {
      for (int d = ndim - 1; d >= 0; --d) {
        int64_t n = a->shape[d];
        p += (i % n) * a->strides[d];
        i /= n;
      }
    }
    return p;
  }
};

bool isFContig(const EpArray* a, int ndim, int64_t item) {
  if (ndim < 2) return false;
  int64_t s = item;
  for (int d = 0; d < ndim; ++d) {
    if (a->shape[d] != 1 && a->strides[d] != s) return false;
    s *= a->shape[d];
  }
  return true;
}

template <typename T, typename Acc>
Acc load(const Walker& w, int64_t i) {
  return static_cast<Acc>(*reinterpret_cast<const T*>(w.at(i)));
}

template <typename T, typename Acc>
Acc pairwise(const Walker& w, int64_t lo, int64_t n) {
  if (n < 8) {
    Acc r = 0;  // NumPy starts short sums from 0.
    for (int64_t i = 0; i < n; ++i) r += load<T, Acc>(w, lo + i);
    return r;
  }
  if (n <= 128) {
    Acc r[8];
    for (int j = 0; j < 8; ++j) r[j] = load<T, Acc>(w, lo + j);
    int64_t i;
    for (i = 8; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += load<T, Acc>(w, lo + i + j);
    Acc res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += load<T, Acc>(w, lo + i);
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise<T, Acc>(w, lo, n2) + pairwise<T, Acc>(w, lo + n2, n - n2);
}

// The same pairwise sum over p[0], p[es], p[2*es], ... (es in elements); the unit-stride
// instantiation lets the compiler keep the 8 partial sums in one vector register.
template <typename T, typename Acc, bool Unit>
Acc pairwiseP(const T* p, int64_t n, int64_t es) {
  auto at = [&](int64_t i) -> Acc { return static_cast<Acc>(Unit ? p[i] : p[i * es]); };
  if (n < 8) {
    Acc r = 0;
    for (int64_t i = 0; i < n; ++i) r += at(i);
    return r;
  }
  if (n <= 128) {
    Acc r[8];
    for (int j = 0; j < 8; ++j) r[j] = at(j);
    int64_t i;
    for (i = 8; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += at(i + j);
    Acc res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += at(i);
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwiseP<T, Acc, Unit>(p, n2, es) + pairwiseP<T, Acc, Unit>(Unit ? p + n2 : p + n2 * es, n - n2, es);
}

template <typename T, typename Acc>
Acc pairwiseSum(const Walker& w) {
  if (w.step && w.step % (int64_t)sizeof(T) == 0) {
    const T* p = reinterpret_cast<const T*>(w.a->data);
    int64_t es = w.step / (int64_t)sizeof(T);
    return es == 1 ? pairwiseP<T, Acc, true>(p, w.size, 1) : pairwiseP<T, Acc, false>(p, w.size, es);
  }
  return pairwise<T, Acc>(w, 0, w.size);
}

// The pairwise sum of elements [lo, lo + n) in the walker's order.
template <typename T, typename Acc>
Acc pairwiseRange(const Walker& w, int64_t lo, int64_t n) {
  if (w.step && w.step % (int64_t)sizeof(T) == 0) {
    int64_t es = w.step / (int64_t)sizeof(T);
    const T* p = reinterpret_cast<const T*>(w.a->data) + lo * es;
    return es == 1 ? pairwiseP<T, Acc, true>(p, n, 1) : pairwiseP<T, Acc, false>(p, n, es);
  }
  return pairwise<T, Acc>(w, lo, n);
}

// The float64 sum NumPy's mean takes of an int or bool array: add.reduce with dtype float64
// casts through the ufunc's buffer, 8192 elements at a time (np.getbufsize()'s default), and
// adds each buffer's pairwise sum to the running total (from 0.0). One pairwise sum over the
// whole array differs in the last bits beyond 8192 elements.
template <typename T>
double bufferedPairwiseSum(const Walker& w) {
  constexpr int64_t kBuffer = 8192;
  double s = 0.0;
  for (int64_t lo = 0; lo < w.size; lo += kBuffer) s += pairwiseRange<T, double>(w, lo, std::min(kBuffer, w.size - lo));
  return s;
}

template <typename T>
int32_t reduceTyped(EpCtx* ctx, int op, const Walker& w, bool isFloat, int32_t line, void* out) {
  const char* opname = op == EP_RED_MIN ? "minimum" : "maximum";
  switch (op) {
    case EP_RED_SUM:
      // NumPy starts the reduction from the identity 0.0 and adds the pairwise sum to it:
      // a sum of -0.0s is 0.0
      if (isFloat) *static_cast<T*>(out) = T(0) + pairwiseSum<T, T>(w);
      else {
        uint64_t s = 0;  // wrap-around like NumPy's int64 accumulator
        for (int64_t i = 0; i < w.size; ++i) s += (uint64_t)(int64_t)load<T, T>(w, i);
        *static_cast<int64_t*>(out) = (int64_t)s;
      }
      return EP_OK;
    case EP_RED_MEAN:
      if (std::is_same<T, float>::value) {
        float s = 0.0f + pairwiseSum<float, float>(w);
        *static_cast<float*>(out) = s / (float)w.size;
      } else if (std::is_same<T, double>::value) {
        double s = 0.0 + pairwiseSum<T, double>(w);
        *static_cast<double*>(out) = s / (double)w.size;
      } else {  // ints and bools are cast to float64 buffer by buffer
        *static_cast<double*>(out) = bufferedPairwiseSum<T>(w) / (double)w.size;
      }
      return EP_OK;
    case EP_RED_MIN: case EP_RED_MAX: case EP_RED_ARGMIN: case EP_RED_ARGMAX: {
      bool isArg = op == EP_RED_ARGMIN || op == EP_RED_ARGMAX;
      bool isMin = op == EP_RED_MIN || op == EP_RED_ARGMIN;
      if (w.size == 0) {
        char msg[160];
        if (isArg) std::snprintf(msg, sizeof msg, "attempt to get %s of an empty sequence", isMin ? "argmin" : "argmax");
        else std::snprintf(msg, sizeof msg, "zero-size array to reduction operation %s which has no identity", opname);
        ep_rt_raise(ctx, EP_EXC_VALUE, line, msg);
        return EP_ERROR;
      }
      T best = load<T, T>(w, 0);
      int64_t bi = 0;
      if (!(isFloat && best != best)) {
        for (int64_t i = 1; i < w.size; ++i) {
          T v = load<T, T>(w, i);
          if (isFloat && v != v) { best = v; bi = i; break; }  // NaN propagates (first NaN wins)
          if (isArg ? (isMin ? v < best : v > best) : (isMin ? v <= best : v >= best)) { best = v; bi = i; }
        }
      }
      if (isArg) *static_cast<int64_t*>(out) = bi;
      else *static_cast<T*>(out) = best;
      return EP_OK;
    }
  }
  return EP_ERROR;
}

template <typename T, typename R>
R dotInts(const EpArray* a, const EpArray* b) {
  R s = 0;
  for (int64_t i = 0; i < a->shape[0]; ++i) {
    R x = *(const T*)((const char*)a->data + i * a->strides[0]);
    R y = *(const T*)((const char*)b->data + i * b->strides[0]);
    // wraps like NumPy: multiply and add as unsigned (signed overflow is undefined in C++;
    // found by UBSan through the fuzzer)
    s = (R)((uint64_t)s + (uint64_t)x * (uint64_t)y);
  }
  return s;
}

}  // namespace

extern "C" int32_t ep_rt_reduce(EpCtx* ctx, int32_t op, int32_t kind, int32_t ndim, const EpArray* a,
                                const EpArray* b, int32_t line, void* out) {
  Kind k = static_cast<Kind>(kind);
  int64_t item = k == Kind::NpBool ? 1 : (k == Kind::NpInt32 || k == Kind::NpFloat32) ? 4 : 8;
  if (op == EP_RED_DOT) {
    if (a->shape[0] != b->shape[0]) {
      char msg[160];
      std::snprintf(msg, sizeof msg, "shapes (%lld,) and (%lld,) not aligned: %lld (dim 0) != %lld (dim 0)",
                    (long long)a->shape[0], (long long)b->shape[0], (long long)a->shape[0], (long long)b->shape[0]);
      ep_rt_raise(ctx, EP_EXC_VALUE, line, msg);
      return EP_ERROR;
    }
    switch (k) {
      case Kind::NpInt64: *(int64_t*)out = dotInts<int64_t, int64_t>(a, b); return EP_OK;
      case Kind::NpInt32: *(int32_t*)out = dotInts<int32_t, int32_t>(a, b); return EP_OK;
      case Kind::NpBool: {
        bool any = false;
        for (int64_t i = 0; i < a->shape[0] && !any; ++i)
          any = *((const char*)a->data + i * a->strides[0]) && *((const char*)b->data + i * b->strides[0]);
        *(int8_t*)out = any;
        return EP_OK;
      }
      default: {
        double r = 0;
        int32_t st = ep_rt_numpy_dot(ctx, kind, a, b, &r);
        if (k == Kind::NpFloat32) *(float*)out = (float)r;
        else *(double*)out = r;
        return st;
      }
    }
  }
  int64_t size = 1;
  for (int d = 0; d < ndim; ++d) size *= a->shape[d];
  // sums walk F-contiguous arrays in memory order (as NumPy does); arg reductions return a
  // C-order flat index, so they walk in C order
  bool f = isFContig(a, ndim, item) && op != EP_RED_ARGMIN && op != EP_RED_ARGMAX;
  int64_t step = ndim == 1 ? a->strides[0] : 0;
  if (ndim > 1) {  // contiguous in walk order?
    int64_t s = item;
    bool contig = true;
    for (int i = 0; i < ndim; ++i) {
      int d = f ? i : ndim - 1 - i;
      if (a->shape[d] != 1 && a->strides[d] != s) contig = false;
      s *= a->shape[d];
    }
    if (contig) step = item;
  }
  Walker w{a, ndim, f, size, step};
  switch (k) {
    case Kind::NpFloat64: return reduceTyped<double>(ctx, op, w, true, line, out);
    case Kind::NpFloat32: return reduceTyped<float>(ctx, op, w, true, line, out);
    case Kind::NpInt64: return reduceTyped<int64_t>(ctx, op, w, false, line, out);
    case Kind::NpInt32: return reduceTyped<int32_t>(ctx, op, w, false, line, out);
    case Kind::NpBool: return reduceTyped<uint8_t>(ctx, op, w, false, line, out);
    default: return EP_ERROR;
  }
}
