/* runtime/abi.h — the C ABI between compiled code and the runtime. Plain C, stable layout. */
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An array as compiled code sees it: strides are in bytes; owner is the PyObject* whose
   memory `data` points into (borrowed: kept alive by the caller or by the call's context). */
typedef struct EpArray {
  void* data;
  int64_t shape[3];
  int64_t strides[3];
  void* owner;
} EpArray;

/* Status codes returned by every compiled function. */
enum { EP_OK = 0, EP_ERROR = 1, EP_DEOPT = 2 };

/* Exception kinds compiled code can raise (mapped to Python exception types by the runtime). */
enum {
  EP_EXC_NONE = 0,
  EP_EXC_ZERO_DIVISION = 1,
  EP_EXC_INDEX = 2,
  EP_EXC_VALUE = 3,
  EP_EXC_OVERFLOW = 4,
  EP_EXC_UNBOUND_LOCAL = 5,
  EP_EXC_TYPE = 6,
  EP_EXC_MEMORY = 7,
  EP_EXC_KEYBOARD_INTERRUPT = 8,
  EP_EXC_RECURSION = 9,
};

/* Error locations: the user's line and the index of the compiled function in its module. */
#define EP_LOC(line, func) ((int32_t)(((uint32_t)(func) << 20) | ((uint32_t)(line) & 0xFFFFFu)))
#define EP_LOC_LINE(loc) ((int32_t)((uint32_t)(loc) & 0xFFFFFu))
#define EP_LOC_FUNC(loc) ((int32_t)((uint32_t)(loc) >> 20))

/* Per-call context: errors, the arrays this call allocated, recursion depth. */
typedef struct EpCtx {
  int32_t exc_kind;
  int32_t exc_line;
  char exc_msg[240];
  void* owned;        /* runtime-private list of PyObject* allocated by this call */
  int32_t depth_limit;  /* compiled recursion deeper than this raises RecursionError */
  int32_t pad;
} EpCtx;

/* Runtime entry points called by compiled code (resolved by the JIT by name). */
void ep_rt_raise(EpCtx* ctx, int32_t kind, int32_t line, const char* msg);
void ep_rt_raise_index(EpCtx* ctx, int32_t line, int64_t index, int32_t axis, int64_t size);
void ep_rt_raise_int_bounds(EpCtx* ctx, int32_t line, int64_t value, int32_t bits);
/* order: 0 = C, 1 = F; init: 0 empty, 1 zeros, 2 ones. Returns EP_OK or EP_ERROR. */
int32_t ep_rt_alloc(EpCtx* ctx, int32_t dtype_kind, int32_t ndim, const int64_t* shape, int32_t order,
                    int32_t init, EpArray* out);
/* Scratch memory for temporaries that never reach Python (no GIL); freed by ep_rt_scratch_free
   or when the call ends. */
void* ep_rt_scratch(EpCtx* ctx, int64_t bytes);
void ep_rt_scratch_free(EpCtx* ctx, void* p);
/* np.arange(start, stop, step) computed by NumPy itself, with the arguments as the user passed
   them (raw 64-bit values; `kinds`: their ir::Kind, one byte each), so its result or its error is
   CPython's. `dtype_kw`: the dtype= given (an ir::Kind) or -1; `dtype_kind`: the result's. */
int32_t ep_rt_numpy_arange(EpCtx* ctx, int32_t dtype_kind, int32_t dtype_kw, int64_t start, int64_t stop, int64_t step,
                           int32_t kinds, EpArray* out);
/* np.dot of two 1-D float arrays through NumPy itself (bit-for-bit what NumPy's BLAS gives). */
int32_t ep_rt_numpy_dot(EpCtx* ctx, int32_t dtype_kind, const EpArray* a, const EpArray* b, double* out);
/* round(x, ndigits) for floats, exactly as CPython (correctly rounded decimal); may raise. */
int32_t ep_rt_round_ndigits(EpCtx* ctx, double x, int64_t ndigits, double* out);
/* math.hypot through CPython's own implementation (its algorithm differs from libm's). */
int32_t ep_rt_math_hypot(EpCtx* ctx, double x, double y, double* out);
/* An array a parallel loop writes: kept aside so that a failed loop can be undone exactly. */
typedef struct EpWritten {
  EpArray array;
  int32_t ndim;
  int32_t itemsize;
} EpWritten;
/* Level 3: runs body(ctx, depth, env, kbegin, kend, chunk) over [0, n) in `nchunks` fixed
   chunks on the oneTBB workers (fixed chunks: reductions are reproducible for any thread
   count); each chunk starts at a multiple of `align` (a loop in SIMD lanes: W). Iteration k
   has the loop value start + k * step. `flags`: with EP_PAR_MERGE (a loop without
   reductions: no chunk's partial result to keep apart), the consecutive chunks a thread takes
   at once (guided scheduling, parallel.h) run as one call of body (`chunk`: the first of them). Before any of it
   runs, what the loop may overwrite in `written` is kept aside: each chunk its own rows with
   EP_PAR_ROWS (the loop writes only a[i, ...]) when the rows do not interleave in memory,
   else the whole byte span up front. If any chunk fails, the rest are skipped and the arrays restored. Returns
   EP_OK, EP_DEOPT when any chunk failed (the caller re-runs the loop serially, exactly), or
   EP_ERROR for Ctrl-C or no memory. `keep` 0: no chunk can fail but for Ctrl-C (codegen proved
   it), so nothing is kept and a Ctrl-C leaves the arrays as the chunks left them. */
enum { EP_PAR_ROWS = 1, EP_PAR_MERGE = 2 };
int32_t ep_rt_parallel_for(EpCtx* ctx, int64_t n, int64_t nchunks, int64_t align, void* body, void* env, const EpWritten* written,
                           int32_t nwritten, int64_t start, int64_t step, int32_t flags, int32_t keep);
/* Level 4: one array a GPU kernel reads or writes, as it sits in the caller's block of local
   values (`vals`): an EpArray at byte `offset`. */
typedef struct EpGpuArray {
  int64_t offset;   /* byte offset of the EpArray inside vals */
  int32_t written;  /* the loop writes it: copied back to the host after the kernel succeeds */
  int32_t itemsize; /* bytes per element */
  int32_t ndim;
  int32_t pad;
} EpGpuArray;

/* Level 4: one offload attempt of a parallel loop. The kernel has the signature
     void kernel(ptr vals, i64 n, i64 start, i64 step, ptr partials, ptr status)
   (all pointers device pointers): iteration k in [0, n) has the loop value start + k * step;
   `vals` is a device copy of the caller's block with each listed array's data pointer moved to
   its device copy; reduction r of block b is an 8-byte slot at partials[r * max_blocks + b];
   `status` (an int32, 0 before the launch) becomes non-zero when an iteration raised or
   deopted. Launch shape: 1-D blocks of block_size threads (a power of two, <= 1024, the runtime
   picks it from the device), a grid of at most max_blocks
   blocks (grid-stride loop inside), dynamic shared memory block_size * 8 * nred bytes. */
typedef struct EpGpuLaunch {
  const char* ptx;         /* NUL-terminated PTX of the function's kernels */
  const char* kernel;      /* the kernel's entry name */
  int64_t n, start, step;  /* iterations */
  int64_t work;            /* static estimate of one iteration's operations (the cost model) */
  void* vals;              /* the caller's block of local values (host) */
  int64_t vals_size;       /* its size in bytes */
  const EpGpuArray* arrays;
  int32_t narrays;
  int32_t nred;            /* reductions */
  void* partials;          /* host: nred * max_blocks 8-byte slots, filled for blocks [0, nblocks) */
  int32_t max_blocks;
  int32_t line;            /* the loop's line, for the reason shown when it falls back */
  int64_t nblocks;         /* out: blocks launched (partials filled) */
} EpGpuLaunch;
/* Runs the loop on the GPU. Returns EP_OK (done: written arrays copied back, partials filled),
   EP_DEOPT when it did not run there or an iteration raised/deopted (nothing on the host
   changed; the caller runs the loop on the CPU, which raises exactly), EP_ERROR for Ctrl-C. */
int32_t ep_rt_gpu_for(EpCtx* ctx, EpGpuLaunch* launch);
/* int / int for int64 operands, correctly rounded like CPython's long_true_divide (b != 0). */
double ep_rt_int_truediv(int64_t a, int64_t b);
/* Polled in long loops: runs pending signal handlers (Ctrl-C); non-zero when one raised. */
int32_t ep_rt_check_signals(EpCtx* ctx);

#ifdef __cplusplus
}
#endif

#ifdef __cplusplus
extern "C" {
#endif
/* Reductions over a whole array, exactly as NumPy computes them (pairwise float sums in C order,
   NaN-propagating min/max). `kind` is the ir::Kind of the element type; `out` receives the
   result in its natural C type (int64 for integer sums). */
enum { EP_RED_SUM = 0, EP_RED_MIN = 1, EP_RED_MAX = 2, EP_RED_MEAN = 3, EP_RED_ARGMIN = 4, EP_RED_ARGMAX = 5,
       EP_RED_DOT = 6 };
int32_t ep_rt_reduce(EpCtx* ctx, int32_t op, int32_t kind, int32_t ndim, const EpArray* a, const EpArray* b,
                     int32_t line, void* out);
#ifdef __cplusplus
}
#endif
