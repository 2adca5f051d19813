// bench/cpp/kernels.cpp -- C++ reference versions of the kernels in bench/python/kernels.py.
//
// Written the way a C++ programmer would write the same algorithm: raw pointers into
// row-major buffers, int64_t/double scalars, <cmath>, `break` where the Python code
// moves a loop bound (the results are identical). Loop orders and reductions are the
// Python ones, sequential and in the same order; no __restrict, no intrinsics, no
// -ffast-math. The build also passes -ffp-contract=off, so no a*b+c is fused into an
// FMA: every implementation then rounds the same way and results match to the ulp.
//
// This file is compiled on its own (no LTO), so the benchmark driver's inputs are
// opaque to the optimiser, as they are to a JIT that receives them at run time.
#include "kernels.h"

#include <cmath>

namespace epochpp_bench {

std::int64_t sum_squares(std::int64_t n) {
  std::int64_t s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += i * i;
  return s;
}

std::int64_t count_primes(std::int64_t n) {
  std::int64_t count = 0;
  for (std::int64_t k = 2; k < n; ++k) {
    bool is_prime = true;
    for (std::int64_t d = 2; d * d <= k; ++d) {
      if (k % d == 0) {
        is_prime = false;
        break;
      }
    }
    if (is_prime) ++count;
  }
  return count;
}

std::int64_t fib(std::int64_t n) {
  if (n < 2) return n;
  return fib(n - 1) + fib(n - 2);
}

std::int64_t mandelbrot(std::int64_t* out, std::int64_t h, std::int64_t w, double xmin, double xmax,
                        double ymin, double ymax, std::int64_t max_iter) {
  const double dx = (xmax - xmin) / static_cast<double>(w);
  const double dy = (ymax - ymin) / static_cast<double>(h);
  std::int64_t total = 0;
  for (std::int64_t i = 0; i < h; ++i) {
    const double cy = ymin + static_cast<double>(i) * dy;
    for (std::int64_t j = 0; j < w; ++j) {
      const double cx = xmin + static_cast<double>(j) * dx;
      double zr = 0.0, zi = 0.0;
      std::int64_t k = 0;
      while (k < max_iter) {
        const double t = zr * zr - zi * zi + cx;
        zi = 2.0 * zr * zi + cy;
        zr = t;
        ++k;
        if (zr * zr + zi * zi > 4.0) break;
      }
      out[i * w + j] = k;
      total += k;
    }
  }
  return total;
}

double pairwise_distances(const double* X, std::int64_t n, std::int64_t d, double* D) {
  double total = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (std::int64_t k = 0; k < d; ++k) {
        const double t = X[i * d + k] - X[j * d + k];
        s += t * t;
      }
      const double r = std::sqrt(s);
      D[i * n + j] = r;
      total += r;
    }
  }
  return total;
}

double nbody_step(double* pos, double* vel, const double* mass, std::int64_t n, double dt, double eps2) {
  for (std::int64_t i = 0; i < n; ++i) {
    double ax = 0.0, ay = 0.0, az = 0.0;
    const double xi = pos[i * 3 + 0];
    const double yi = pos[i * 3 + 1];
    const double zi = pos[i * 3 + 2];
    for (std::int64_t j = 0; j < n; ++j) {
      if (j != i) {
        const double dx = pos[j * 3 + 0] - xi;
        const double dy = pos[j * 3 + 1] - yi;
        const double dz = pos[j * 3 + 2] - zi;
        const double r2 = dx * dx + dy * dy + dz * dz + eps2;
        const double inv = mass[j] / (r2 * std::sqrt(r2));
        ax += dx * inv;
        ay += dy * inv;
        az += dz * inv;
      }
    }
    vel[i * 3 + 0] += dt * ax;
    vel[i * 3 + 1] += dt * ay;
    vel[i * 3 + 2] += dt * az;
  }
  double ke = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    pos[i * 3 + 0] += dt * vel[i * 3 + 0];
    pos[i * 3 + 1] += dt * vel[i * 3 + 1];
    pos[i * 3 + 2] += dt * vel[i * 3 + 2];
    const double v2 = vel[i * 3 + 0] * vel[i * 3 + 0] + vel[i * 3 + 1] * vel[i * 3 + 1] +
                      vel[i * 3 + 2] * vel[i * 3 + 2];
    ke += 0.5 * mass[i] * v2;
  }
  return ke;
}

double matmul(const double* A, const double* B, double* C, std::int64_t n, std::int64_t kk, std::int64_t m) {
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t j = 0; j < m; ++j) {
      double s = 0.0;
      for (std::int64_t p = 0; p < kk; ++p) s += A[i * kk + p] * B[p * m + j];
      C[i * m + j] = s;
    }
  }
  double check = 0.0;
  for (std::int64_t i = 0; i < n; ++i) check += C[i * m + i % m];
  return check;
}

static double cnd(double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); }

double black_scholes(const double* S, const double* K, const double* T, double r, double v, double* call,
                     double* put, std::int64_t n) {
  double total = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double s = S[i];
    const double k = K[i];
    const double t = T[i];
    const double sqt = std::sqrt(t);
    const double d1 = (std::log(s / k) + (r + 0.5 * v * v) * t) / (v * sqt);
    const double d2 = d1 - v * sqt;
    const double disc = k * std::exp(-r * t);
    const double c = s * cnd(d1) - disc * cnd(d2);
    call[i] = c;
    put[i] = disc * cnd(-d2) - s * cnd(-d1);
    total += c;
  }
  return total;
}

double heat_1d(double* u, double* tmp, std::int64_t n, double alpha, std::int64_t steps) {
  for (std::int64_t s = 0; s < steps; ++s) {
    for (std::int64_t i = 1; i < n - 1; ++i) tmp[i] = u[i] + alpha * (u[i - 1] - 2.0 * u[i] + u[i + 1]);
    for (std::int64_t i = 1; i < n - 1; ++i) u[i] = tmp[i];
  }
  return u[n / 2];
}

// np.sum(np.sqrt(np.abs(x[0:n]))) with NumPy's own summation order: its pairwise sum
// (blocks of at most 128 added with 8 interleaved accumulators, halves combined
// recursively), started from 0.0. The sqrt(abs()) is fused into the leaves instead of
// going through two temporary arrays; sqrt is correctly rounded, so the result is the
// bit-for-bit value CPython + NumPy computes.
static double sum_sqrt_abs(const double* a, std::int64_t n) {
  if (n < 8) {
    double res = 0.0;
    for (std::int64_t i = 0; i < n; ++i) res += std::sqrt(std::fabs(a[i]));
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int q = 0; q < 8; ++q) r[q] = std::sqrt(std::fabs(a[q]));
    std::int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int q = 0; q < 8; ++q) r[q] += std::sqrt(std::fabs(a[i + q]));
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += std::sqrt(std::fabs(a[i]));
    return res;
  }
  std::int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return sum_sqrt_abs(a, n2) + sum_sqrt_abs(a + n2, n - n2);
}

double chunked_mixed(const double* a, std::int64_t len, std::int64_t chunk, std::int64_t passes) {
  const std::int64_t nchunks = len / chunk;
  double total = 0.0;
  for (std::int64_t p = 0; p < passes; ++p) {
    for (std::int64_t c = 0; c < nchunks; ++c) total += sum_sqrt_abs(a + c * chunk, chunk);
  }
  return total;
}

}  // namespace epochpp_bench
