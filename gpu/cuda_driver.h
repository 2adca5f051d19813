// gpu/cuda_driver.h — the CUDA driver library, loaded with dlopen on first use (once per process), and the
// process-wide verdict on whether it may be used: no driver, cuInit failed, a fork() child, a sticky error.
#pragma once
#include <string>

#include "gpu/cuda_api.h"

namespace epochpp::gpu {

// Every entry point epochpp calls, resolved with dlsym (the _v2 names where the library exports them).
struct Driver {
  cu::PFN_cuInit cuInit;
  cu::PFN_cuDriverGetVersion cuDriverGetVersion;
  cu::PFN_cuGetErrorString cuGetErrorString;
  cu::PFN_cuGetErrorName cuGetErrorName;
  cu::PFN_cuDeviceGetCount cuDeviceGetCount;
  cu::PFN_cuDeviceGet cuDeviceGet;
  cu::PFN_cuDeviceGetAttribute cuDeviceGetAttribute;
  cu::PFN_cuDeviceGetName cuDeviceGetName;
  cu::PFN_cuDeviceTotalMem cuDeviceTotalMem;
  cu::PFN_cuDevicePrimaryCtxRetain cuDevicePrimaryCtxRetain;
  cu::PFN_cuCtxSetCurrent cuCtxSetCurrent;
  cu::PFN_cuCtxPushCurrent cuCtxPushCurrent;
  cu::PFN_cuCtxPopCurrent cuCtxPopCurrent;
  cu::PFN_cuMemGetInfo cuMemGetInfo;
  cu::PFN_cuMemAlloc cuMemAlloc;
  cu::PFN_cuMemFree cuMemFree;
  cu::PFN_cuMemHostAlloc cuMemHostAlloc;
  cu::PFN_cuMemFreeHost cuMemFreeHost;
  cu::PFN_cuMemcpyHtoDAsync cuMemcpyHtoDAsync;
  cu::PFN_cuMemcpyDtoHAsync cuMemcpyDtoHAsync;
  cu::PFN_cuStreamCreate cuStreamCreate;
  cu::PFN_cuStreamSynchronize cuStreamSynchronize;
  cu::PFN_cuStreamQuery cuStreamQuery;
  cu::PFN_cuEventCreate cuEventCreate;
  cu::PFN_cuEventRecord cuEventRecord;
  cu::PFN_cuEventSynchronize cuEventSynchronize;
  cu::PFN_cuEventElapsedTime cuEventElapsedTime;
  cu::PFN_cuModuleLoadDataEx cuModuleLoadDataEx;
  cu::PFN_cuModuleUnload cuModuleUnload;
  cu::PFN_cuModuleGetFunction cuModuleGetFunction;
  cu::PFN_cuFuncGetAttribute cuFuncGetAttribute;
  cu::PFN_cuLaunchKernel cuLaunchKernel;
  int version = 0;  // cuDriverGetVersion, e.g. 12040
};

// The loaded and initialised driver, or nullptr with *why set ("no CUDA driver (libcuda.so.1 not found)",
// "cuInit failed: ...", or the reason the GPU was marked unusable). Thread-safe; loads once per process.
// The library is the setting `cuda_library` (EPOCHPP_CUDA_LIBRARY), read on the first call.
const Driver* driver(std::string* why);

// "cuXxx failed: <cuGetErrorString> (CUDA_ERROR_NAME)".
std::string failure(const char* call, cu::CUresult r);
// Errors after which CUDA refuses all further work in this process (illegal address, launch failure, ...).
bool isSticky(cu::CUresult r);
// From now on this process does not use the GPU; every later call falls back with `reason` (the first one
// given is kept). Device memory and handles are abandoned, not freed: the context is unusable.
void markUnusable(const std::string& reason);
// Non-empty once markUnusable was called, or in a fork() child of a process that had initialised CUDA.
std::string unusableReason();

}  // namespace epochpp::gpu
