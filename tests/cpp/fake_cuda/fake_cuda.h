/* tests/cpp/fake_cuda/fake_cuda.h — the test-control API of the fake CUDA driver (libfakecuda.so): counters,
   failure injection, a hook that plays the kernel. Tests reach it with dlopen/dlsym (C++) or ctypes (Python). */
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct FakeCudaCounters {
  int64_t inits, alloc_calls, allocs, frees, live_bytes, peak_bytes;
  int64_t host_allocs;                   /* cuMemHostAlloc (pinned staging buffers) */
  int64_t h2d_bytes, d2h_bytes, h2d_copies, d2h_copies;
  int64_t pinned_copies;                 /* async copies whose host side was pinned memory */
  int64_t module_loads, launches, launches_run, queries, ctx_pushes, ctx_pops;
  uint64_t last_params[6];               /* the last launch's six 8-byte kernel parameters */
  uint32_t last_grid, last_block, last_shmem;
  char last_kernel[128];
} FakeCudaCounters;

/* Called when a launch executes on the fake stream (at the next synchronisation), with copies of its params. */
typedef void (*FakeLaunchHook)(const char* kernel, const uint64_t* params, uint32_t grid, uint32_t block,
                               uint32_t shmem, void* user);

const FakeCudaCounters* fake_cuda_counters(void);
void fake_cuda_reset_counters(void);
/* "" (none), "launch" (cuLaunchKernel fails), "module" (cuModuleLoadDataEx fails), "alloc_oom" (every
   cuMemAlloc runs out of memory), "sticky" (the next kernel hits an illegal address; every later call fails).
   FAKE_CUDA_FAIL also takes "init" (cuInit fails) and "nodevice" (no device), read by cuInit. */
void fake_cuda_fail(const char* mode);
void fake_cuda_set_mem_limit(uint64_t bytes); /* cuMemAlloc runs out of memory past it; 0: 1 GiB */
void fake_cuda_set_busy_queries(int n);       /* the next n cuStreamQuery calls answer "not ready" */
void fake_cuda_set_launch_hook(FakeLaunchHook hook, void* user);
/* The start of the device allocation holding [p, p + n), or 0 when no single allocation holds it. */
uint64_t fake_cuda_alloc_base(uint64_t p, uint64_t n);

#ifdef __cplusplus
}
#endif
