// gpu/gpu_state.h — the runtime's process-wide GPU state (pool, residency table, staging, modules), guarded by
// one lock: launches are serialised process-wide, one at a time on one stream.
#pragma once
#include <mutex>

#include "gpu/memory_pool.h"
#include "gpu/module_cache.h"
#include "gpu/residency.h"
#include "gpu/transfer.h"

namespace epochpp::gpu {

struct GpuState {
  std::mutex mu;
  MemoryPool pool;
  Residency residency;
  Stager stager;
  ModuleCache modules;
  cu::CUevent evStart = nullptr, evEnd = nullptr;  // kernel timing
  bool configured = false;                         // pool bound and pressure hook set
};

GpuState& gpuState();  // never destroyed: a launch may run while the process exits

// After a sticky error: the context is gone, so every handle and block is forgotten without driver calls.
void abandonAll(GpuState& s, const std::string& reason);

// Settings read per launch: residency on/off, its byte budget (`gpu_resident_bytes`, default half the device
// memory; K/M/G suffixes accepted).
bool residencyOn();
size_t residentBudget(const DeviceInfo& dev);

// Drops every resident span and cached device block (frees the device memory). False: the GPU is unusable.
bool releaseResident();
// The residency table's size now (0, 0 without a usable GPU).
void residencySummary(size_t& bytes, size_t& spans);

}  // namespace epochpp::gpu
