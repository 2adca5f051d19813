"""Benchmark kernels for the epochpp end-to-end suite (run by run_suite.py).

Every kernel is a plain Python function written in the subset epochpp compiles:
int/float/bool scalars, NumPy arrays indexed element by element (a[i], a[i, j]),
a.shape, len, range/while loops, if, the math module, and calls to other
module-level functions.  Loops are written out explicitly on purpose: the suite
measures what a JIT does to interpreter loops, not how fast NumPy already is.
The one exception is `chunked_mixed`, the design's "mixed" workload: a Python
loop over 1000-element chunks, each doing np.sum(np.sqrt(np.abs(chunk))).

Style rules kept so that every kernel stays inside the subset:
  * no `break`, `and`/`or`, tuple unpacking, comprehensions or keyword arguments;
    an early loop exit is written by moving the loop bound (see count_primes);
  * outputs are arrays passed in by the caller (no allocation with dtype/tuple
    arguments inside kernels); each kernel also returns a scalar summary;
  * all reductions inside kernels are sequential, so CPython, epochpp and Numba
    (no fast-math) add in the same order and agree exactly or to a few ulps.

The REGISTRY at the bottom describes each kernel: its input factory (one `size`
parameter), default and --quick sizes, which arguments are outputs, and how to
compare results across implementations.
"""

import math

import numpy as np


# --------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------

def sum_squares(n):
    """Sum of i*i for i < n, in int64 range for the sizes used (exact ints)."""
    s = 0
    for i in range(n):
        s += i * i
    return s


def count_primes(n):
    """Number of primes below n, by trial division."""
    count = 0
    for k in range(2, n):
        is_prime = True
        d = 2
        limit = k
        while d * d <= limit:
            if k % d == 0:
                is_prime = False
                limit = 0          # leave the while loop (no `break` needed)
            d += 1
        if is_prime:
            count += 1
    return count


def fib(n):
    """Naive recursive Fibonacci: a call-heavy kernel."""
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def mandelbrot(out, xmin, xmax, ymin, ymax, max_iter):
    """Escape-time iteration counts into the 2-D int64 array `out`.

    Returns the total iteration count (an exact int checksum).
    """
    h = out.shape[0]
    w = out.shape[1]
    dx = (xmax - xmin) / w
    dy = (ymax - ymin) / h
    total = 0
    for i in range(h):
        cy = ymin + i * dy
        for j in range(w):
            cx = xmin + j * dx
            zr = 0.0
            zi = 0.0
            k = 0
            limit = max_iter
            while k < limit:
                t = zr * zr - zi * zi + cx
                zi = 2.0 * zr * zi + cy
                zr = t
                k += 1
                if zr * zr + zi * zi > 4.0:
                    limit = k      # escaped: stop iterating
            out[i, j] = k
            total += k
    return total


def pairwise_distances(X, D):
    """Euclidean distance between every pair of rows of X (n, d) into D (n, n).

    Returns the sum of all distances (sequential, row-major).
    """
    n = X.shape[0]
    d = X.shape[1]
    total = 0.0
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(d):
                t = X[i, k] - X[j, k]
                s += t * t
            r = math.sqrt(s)
            D[i, j] = r
            total += r
    return total


def nbody_step(pos, vel, mass, dt, eps2):
    """One leapfrog-style step of an n-body system with softened gravity.

    pos, vel: (n, 3) float64, updated in place; mass: (n,) float64.
    Returns the kinetic energy after the step.
    """
    n = pos.shape[0]
    for i in range(n):
        ax = 0.0
        ay = 0.0
        az = 0.0
        xi = pos[i, 0]
        yi = pos[i, 1]
        zi = pos[i, 2]
        for j in range(n):
            if j != i:
                dx = pos[j, 0] - xi
                dy = pos[j, 1] - yi
                dz = pos[j, 2] - zi
                r2 = dx * dx + dy * dy + dz * dz + eps2
                inv = mass[j] / (r2 * math.sqrt(r2))
                ax += dx * inv
                ay += dy * inv
                az += dz * inv
        vel[i, 0] += dt * ax
        vel[i, 1] += dt * ay
        vel[i, 2] += dt * az
    ke = 0.0
    for i in range(n):
        pos[i, 0] += dt * vel[i, 0]
        pos[i, 1] += dt * vel[i, 1]
        pos[i, 2] += dt * vel[i, 2]
        v2 = vel[i, 0] * vel[i, 0] + vel[i, 1] * vel[i, 1] + vel[i, 2] * vel[i, 2]
        ke += 0.5 * mass[i] * v2
    return ke


def matmul(A, B, C):
    """Naive triple-loop C = A @ B. Returns the trace-like checksum C[i, i % m]."""
    n = A.shape[0]
    kk = A.shape[1]
    m = B.shape[1]
    for i in range(n):
        for j in range(m):
            s = 0.0
            for p in range(kk):
                s += A[i, p] * B[p, j]
            C[i, j] = s
    check = 0.0
    for i in range(n):
        check += C[i, i % m]
    return check


def cnd(x):
    """Cumulative normal distribution (module-level helper called by black_scholes)."""
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def black_scholes(S, K, T, r, v, call, put):
    """European call/put prices for arrays of spot S, strike K, expiry T.

    Returns the sum of call prices (sequential).
    """
    n = S.shape[0]
    total = 0.0
    for i in range(n):
        s = S[i]
        k = K[i]
        t = T[i]
        sqt = math.sqrt(t)
        d1 = (math.log(s / k) + (r + 0.5 * v * v) * t) / (v * sqt)
        d2 = d1 - v * sqt
        disc = k * math.exp(-r * t)
        c = s * cnd(d1) - disc * cnd(d2)
        call[i] = c
        put[i] = disc * cnd(-d2) - s * cnd(-d1)
        total += c
    return total


def heat_1d(u, tmp, alpha, steps):
    """Explicit 1-D heat equation, fixed ends, `steps` time steps, in place on u.

    Returns u's value at the midpoint.
    """
    n = u.shape[0]
    for s in range(steps):
        for i in range(1, n - 1):
            tmp[i] = u[i] + alpha * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        for i in range(1, n - 1):
            u[i] = tmp[i]
    return u[n // 2]


def chunked_mixed(a, chunk, passes):
    """The design's mixed workload: a Python loop over `chunk`-element slices of a,
    each doing np.sum(np.sqrt(np.abs(slice))), accumulated into a float.

    len(a) must be a multiple of chunk; the array is swept `passes` times so the
    working set stays small while the run is long enough to time.
    """
    nchunks = len(a) // chunk
    total = 0.0
    for p in range(passes):
        for c in range(nchunks):
            start = c * chunk
            total += np.sum(np.sqrt(np.abs(a[start:start + chunk])))
    return total


# --------------------------------------------------------------------------
# input factories: size -> tuple of arguments (deterministic)
# --------------------------------------------------------------------------

def _rng():
    return np.random.default_rng(20240611)


def make_sum_squares(size):
    return (int(size),)


def make_count_primes(size):
    return (int(size),)


def make_fib(size):
    return (int(size),)


def make_mandelbrot(size):
    # size = image width; height = 3/4 width.
    w = int(size)
    h = max(1, (3 * w) // 4)
    out = np.zeros((h, w), dtype=np.int64)
    return (out, -2.0, 1.0, -1.125, 1.125, 100)


def make_pairwise_distances(size):
    n = int(size)
    X = _rng().standard_normal((n, 3))
    D = np.zeros((n, n), dtype=np.float64)
    return (X, D)


def make_nbody_step(size):
    n = int(size)
    g = _rng()
    pos = g.standard_normal((n, 3))
    vel = 0.1 * g.standard_normal((n, 3))
    mass = g.uniform(0.5, 1.5, n) / n
    return (pos, vel, mass, 0.01, 1e-3)


def make_matmul(size):
    n = int(size)
    g = _rng()
    A = g.standard_normal((n, n))
    B = g.standard_normal((n, n))
    C = np.zeros((n, n), dtype=np.float64)
    return (A, B, C)


def make_black_scholes(size):
    n = int(size)
    g = _rng()
    S = g.uniform(5.0, 30.0, n)
    K = g.uniform(1.0, 100.0, n)
    T = g.uniform(0.25, 10.0, n)
    call = np.zeros(n, dtype=np.float64)
    put = np.zeros(n, dtype=np.float64)
    return (S, K, T, 0.02, 0.30, call, put)


def make_heat_1d(size):
    # size = number of grid points; 100 time steps; alpha < 0.5 for stability.
    n = int(size)
    x = np.linspace(0.0, 1.0, n)
    u = np.sin(math.pi * x) + 0.5 * np.sin(7.0 * math.pi * x)
    u[0] = 0.0
    u[n - 1] = 0.0
    tmp = u.copy()
    return (u, tmp, 0.25, 100)


CHUNK = 1000


def make_chunked_mixed(size):
    # size = number of 1000-element chunks processed in total; the array holds
    # at most 1000 chunks (8 MB) and is swept as many times as needed.
    total_chunks = max(1, int(size))
    nchunks = min(total_chunks, 1000)
    passes = max(1, total_chunks // nchunks)
    a = _rng().standard_normal(nchunks * CHUNK)
    return (a, CHUNK, passes)


# --------------------------------------------------------------------------
# result comparison
# --------------------------------------------------------------------------

def _is_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _is_float(x):
    return isinstance(x, (float, np.floating))


def compare(expected, got, rtol=1e-12, atol=0.0):
    """Compare two results; return None when they agree, else a short reason.

    ints (and int arrays) must match exactly and stay ints; floats (and float
    arrays) must satisfy |got - expected| <= atol + rtol * |expected|.
    Tuples/lists are compared element by element.
    """
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return "structure differs: %r vs %r" % (type(expected).__name__, type(got).__name__)
        for idx, (e, g) in enumerate(zip(expected, got)):
            why = compare(e, g, rtol, atol)
            if why is not None:
                return "[%d] %s" % (idx, why)
        return None
    if isinstance(expected, np.ndarray):
        if not isinstance(got, np.ndarray):
            return "expected ndarray, got %s" % type(got).__name__
        if got.shape != expected.shape:
            return "shape %s vs %s" % (expected.shape, got.shape)
        if expected.dtype.kind in "iub":
            if got.dtype.kind not in "iub":
                return "dtype %s vs %s" % (expected.dtype, got.dtype)
            bad = np.flatnonzero(expected.ravel() != got.ravel())
            if bad.size:
                k = int(bad[0])
                return "%d elements differ (first at flat %d: %r vs %r)" % (
                    bad.size, k, expected.ravel()[k], got.ravel()[k])
            return None
        e = expected.astype(np.float64).ravel()
        g = got.astype(np.float64).ravel()
        with np.errstate(invalid="ignore"):
            ok = (np.abs(g - e) <= atol + rtol * np.abs(e)) | (np.isnan(e) & np.isnan(g)) | (e == g)
        if not ok.all():
            bad = np.flatnonzero(~ok)
            k = int(bad[0])
            rel = abs(g[k] - e[k]) / abs(e[k]) if e[k] != 0 else float("inf")
            return "%d elements differ (first at flat %d: %r vs %r, rel %.2e)" % (
                bad.size, k, e[k], g[k], rel)
        return None
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(got, (bool, np.bool_)):
            return "expected bool, got %s %r" % (type(got).__name__, got)
        return None if bool(expected) == bool(got) else "%r vs %r" % (expected, got)
    if _is_int(expected):
        if not _is_int(got):
            return "expected int, got %s %r" % (type(got).__name__, got)
        return None if int(expected) == int(got) else "%d vs %d" % (expected, got)
    if _is_float(expected):
        if not (_is_float(got) or _is_int(got)):
            return "expected float, got %s %r" % (type(got).__name__, got)
        e = float(expected)
        g = float(got)
        if math.isnan(e) and math.isnan(g):
            return None
        if e == g or abs(g - e) <= atol + rtol * abs(e):
            return None
        rel = abs(g - e) / abs(e) if e != 0 else float("inf")
        return "%r vs %r (rel %.2e)" % (e, g, rel)
    if expected is None:
        return None if got is None else "expected None, got %r" % (got,)
    return None if expected == got else "%r vs %r" % (expected, got)


# --------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------

class Kernel:
    """One benchmark entry.

    name      -- short name used by --only
    fn        -- the plain Python kernel
    make      -- input factory: make(size) -> tuple of call arguments
    size      -- default size (CPython ~0.2-1.5 s per call on a modest 2-core box)
    quick     -- --quick size (about 10x less work)
    outputs   -- indexes of arguments the kernel writes; they are part of the
                 result and get fresh copies before every call
    rtol/atol -- float tolerance (ints are always compared exactly)
    note      -- what size means / why the tolerance is what it is
    """

    def __init__(self, name, fn, make, size, quick, outputs=(), rtol=1e-12, atol=0.0, note=""):
        self.name = name
        self.fn = fn
        self.make = make
        self.size = size
        self.quick = quick
        self.outputs = tuple(outputs)
        self.rtol = rtol
        self.atol = atol
        self.note = note

    @property
    def mutates(self):
        return bool(self.outputs)

    def result(self, args, ret):
        """The value compared across implementations: (return value, *outputs)."""
        if not self.outputs:
            return ret
        return (ret,) + tuple(np.array(args[i], copy=True) for i in self.outputs)

    def check(self, expected, got):
        return compare(expected, got, self.rtol, self.atol)


REGISTRY = [
    Kernel("sum_squares", sum_squares, make_sum_squares, 3_000_000, 300_000,
           note="size = n; the sum stays below 2**63 up to n ~ 3.02e6"),
    Kernel("count_primes", count_primes, make_count_primes, 220_000, 47_000,
           note="size = n; primes below n by trial division"),
    Kernel("fib", fib, make_fib, 32, 27,
           note="size = n; recursive fib(n)"),
    Kernel("mandelbrot", mandelbrot, make_mandelbrot, 400, 128, outputs=(0,),
           note="size = width; height = 3/4 width; max_iter 100"),
    Kernel("pairwise_distances", pairwise_distances, make_pairwise_distances, 700, 220, outputs=(1,),
           note="size = points (3-D); writes the n x n matrix"),
    Kernel("nbody_step", nbody_step, make_nbody_step, 600, 190, outputs=(0, 1),
           note="size = bodies; one O(n^2) step, pos/vel updated in place"),
    Kernel("matmul", matmul, make_matmul, 128, 60, outputs=(2,),
           note="size = n; naive n x n x n triple loop"),
    Kernel("black_scholes", black_scholes, make_black_scholes, 200_000, 20_000, outputs=(5, 6),
           rtol=1e-10, atol=1e-12,
           note="size = options; math.erf/exp/log/sqrt may differ by an ulp between "
                "libms and put = a - b cancels, hence rtol 1e-10"),
    Kernel("heat_1d", heat_1d, make_heat_1d, 10_000, 1_000, outputs=(0,),
           note="size = grid points; 100 explicit steps"),
    Kernel("chunked_mixed", chunked_mixed, make_chunked_mixed, 50_000, 5_000,
           rtol=1e-9,
           note="size = 1000-element chunks processed; np.sum order (pairwise "
                "vs sequential) may differ, hence rtol 1e-9"),
]

BY_NAME = {k.name: k for k in REGISTRY}
