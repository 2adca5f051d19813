// bench/cpp/kernels.h -- C++ reference versions of the kernels in bench/python/kernels.py.
//
// Same algorithms, same loop orders, same sequential reductions as the Python
// kernels; arrays are C-contiguous (row-major) buffers passed as raw pointers plus
// their extents. Every function returns the same scalar summary as its Python twin.
#pragma once

#include <cstdint>

namespace epochpp_bench {

std::int64_t sum_squares(std::int64_t n);
std::int64_t count_primes(std::int64_t n);
std::int64_t fib(std::int64_t n);

// out: h x w int64 escape counts.
std::int64_t mandelbrot(std::int64_t* out, std::int64_t h, std::int64_t w, double xmin, double xmax,
                        double ymin, double ymax, std::int64_t max_iter);

// X: n x d, D: n x n.
double pairwise_distances(const double* X, std::int64_t n, std::int64_t d, double* D);

// pos, vel: n x 3 (updated in place), mass: n.
double nbody_step(double* pos, double* vel, const double* mass, std::int64_t n, double dt, double eps2);

// A: n x kk, B: kk x m, C: n x m.
double matmul(const double* A, const double* B, double* C, std::int64_t n, std::int64_t kk, std::int64_t m);

double black_scholes(const double* S, const double* K, const double* T, double r, double v, double* call,
                     double* put, std::int64_t n);

// u, tmp: n points; u is updated in place.
double heat_1d(double* u, double* tmp, std::int64_t n, double alpha, std::int64_t steps);

// a: len elements, len a multiple of chunk.
double chunked_mixed(const double* a, std::int64_t len, std::int64_t chunk, std::int64_t passes);

}  // namespace epochpp_bench
