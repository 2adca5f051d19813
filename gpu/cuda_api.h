// gpu/cuda_api.h — the few CUDA driver API types, constants and signatures epochpp uses, declared here so that
// the build needs no CUDA toolkit (values and layouts as in the toolkit's cuda.h; libcuda is loaded at run time).
#pragma once
#include <cstddef>
#include <cstdint>

namespace epochpp::gpu::cu {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;  // CUdeviceptr_v2 on 64-bit hosts
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;
using CUcontext = CUctx_st*;
using CUmodule = CUmod_st*;
using CUfunction = CUfunc_st*;
using CUstream = CUstream_st*;
using CUevent = CUevent_st*;

// CUresult values (cudaError_enum)
enum : int {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_NOT_INITIALIZED = 3,
  CUDA_ERROR_DEINITIALIZED = 4,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_INVALID_DEVICE = 101,
  CUDA_ERROR_ECC_UNCORRECTABLE = 214,
  CUDA_ERROR_INVALID_PTX = 218,
  CUDA_ERROR_CONTAINED = 226,
  CUDA_ERROR_NOT_FOUND = 500,
  CUDA_ERROR_NOT_READY = 600,
  CUDA_ERROR_ILLEGAL_ADDRESS = 700,
  CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
  CUDA_ERROR_LAUNCH_TIMEOUT = 702,
  CUDA_ERROR_CONTEXT_IS_DESTROYED = 709,
  CUDA_ERROR_ASSERT = 710,
  CUDA_ERROR_HARDWARE_STACK_ERROR = 714,
  CUDA_ERROR_ILLEGAL_INSTRUCTION = 715,
  CUDA_ERROR_MISALIGNED_ADDRESS = 716,
  CUDA_ERROR_INVALID_ADDRESS_SPACE = 717,
  CUDA_ERROR_INVALID_PC = 718,
  CUDA_ERROR_LAUNCH_FAILED = 719,
  CUDA_ERROR_TENSOR_MEMORY_LEAK = 721,
  CUDA_ERROR_MPS_CLIENT_TERMINATED = 810,
  CUDA_ERROR_UNKNOWN = 999,
};

// CUdevice_attribute values
enum : int {
  CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8,
  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36,      // kHz
  CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37,  // bits
  CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR = 39,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
};

// CUfunction_attribute values
enum : int { CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1 };

// CUjit_option values (cuModuleLoadDataEx)
enum : int { CU_JIT_ERROR_LOG_BUFFER = 5, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6 };

constexpr unsigned CU_STREAM_NON_BLOCKING = 0x1;
constexpr unsigned CU_EVENT_DEFAULT = 0x0;
constexpr unsigned CU_EVENT_DISABLE_TIMING = 0x2;
constexpr unsigned CU_MEMHOSTALLOC_PORTABLE = 0x1;

// Function pointer types, one per entry point (the names dlsym looks up are in cuda_driver.cpp).
using PFN_cuInit = CUresult (*)(unsigned flags);
using PFN_cuDriverGetVersion = CUresult (*)(int* version);
using PFN_cuGetErrorString = CUresult (*)(CUresult err, const char** str);
using PFN_cuGetErrorName = CUresult (*)(CUresult err, const char** str);
using PFN_cuDeviceGetCount = CUresult (*)(int* count);
using PFN_cuDeviceGet = CUresult (*)(CUdevice* dev, int ordinal);
using PFN_cuDeviceGetAttribute = CUresult (*)(int* value, int attrib, CUdevice dev);
using PFN_cuDeviceGetName = CUresult (*)(char* name, int len, CUdevice dev);
using PFN_cuDeviceTotalMem = CUresult (*)(size_t* bytes, CUdevice dev);
using PFN_cuDevicePrimaryCtxRetain = CUresult (*)(CUcontext* ctx, CUdevice dev);
using PFN_cuCtxSetCurrent = CUresult (*)(CUcontext ctx);
using PFN_cuCtxPushCurrent = CUresult (*)(CUcontext ctx);
using PFN_cuCtxPopCurrent = CUresult (*)(CUcontext* ctx);
using PFN_cuMemGetInfo = CUresult (*)(size_t* free, size_t* total);
using PFN_cuMemAlloc = CUresult (*)(CUdeviceptr* dptr, size_t bytes);
using PFN_cuMemFree = CUresult (*)(CUdeviceptr dptr);
using PFN_cuMemHostAlloc = CUresult (*)(void** pp, size_t bytes, unsigned flags);
using PFN_cuMemFreeHost = CUresult (*)(void* p);
using PFN_cuMemcpyHtoDAsync = CUresult (*)(CUdeviceptr dst, const void* src, size_t bytes, CUstream s);
using PFN_cuMemcpyDtoHAsync = CUresult (*)(void* dst, CUdeviceptr src, size_t bytes, CUstream s);
using PFN_cuStreamCreate = CUresult (*)(CUstream* s, unsigned flags);
using PFN_cuStreamSynchronize = CUresult (*)(CUstream s);
using PFN_cuStreamQuery = CUresult (*)(CUstream s);
using PFN_cuEventCreate = CUresult (*)(CUevent* e, unsigned flags);
using PFN_cuEventRecord = CUresult (*)(CUevent e, CUstream s);
using PFN_cuEventSynchronize = CUresult (*)(CUevent e);
using PFN_cuEventElapsedTime = CUresult (*)(float* ms, CUevent start, CUevent end);
using PFN_cuModuleLoadDataEx = CUresult (*)(CUmodule* m, const void* image, unsigned nopts, int* opts, void** vals);
using PFN_cuModuleUnload = CUresult (*)(CUmodule m);
using PFN_cuModuleGetFunction = CUresult (*)(CUfunction* f, CUmodule m, const char* name);
using PFN_cuFuncGetAttribute = CUresult (*)(int* value, int attrib, CUfunction f);
using PFN_cuLaunchKernel = CUresult (*)(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                        unsigned bz, unsigned shmem, CUstream s, void** params, void** extra);

}  // namespace epochpp::gpu::cu
