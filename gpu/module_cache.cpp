// gpu/module_cache.cpp — cuModuleLoadDataEx with the JIT's error log, kernel lookup by name, LRU unload.
#include "gpu/module_cache.h"

#include <cstring>

namespace epochpp::gpu {

ModuleCache::Module* ModuleCache::load(const Driver& d, const char* ptx, size_t len, const Digest& h) {
  if (mods_.size() >= kMaxModules) {  // unload the least recently used (no kernel runs: launches are synchronous)
    size_t victim = 0;
    for (size_t j = 1; j < mods_.size(); ++j)
      if (mods_[j].lastUse < mods_[victim].lastUse) victim = j;
    if (mods_[victim].mod) d.cuModuleUnload(mods_[victim].mod);
    mods_.erase(mods_.begin() + (long)victim);
  }
  Module m;
  m.ptx = ptx;
  m.len = len;
  m.hash = h;
  char log[4096] = {0};
  int opts[2] = {cu::CU_JIT_ERROR_LOG_BUFFER, cu::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void* vals[2] = {log, reinterpret_cast<void*>(uintptr_t(sizeof log - 1))};
  m.result = d.cuModuleLoadDataEx(&m.mod, ptx, 2, opts, vals);
  if (m.result != cu::CUDA_SUCCESS) {
    m.mod = nullptr;
    m.error = failure("cuModuleLoadDataEx", m.result);
    log[sizeof log - 1] = 0;
    if (log[0]) m.error += std::string(" (the PTX JIT says: ") + log + ")";
  }
  mods_.push_back(std::move(m));
  return &mods_.back();
}

cu::CUfunction ModuleCache::function(const Driver& d, const char* ptx, const char* name, std::string* why,
                                     cu::CUresult* err) {
  size_t len = std::strlen(ptx);
  Digest h = hashBytesSerial(ptx, len);
  Module* m = nullptr;
  for (Module& x : mods_)
    if (x.ptx == ptx && x.len == len && x.hash == h) m = &x;
  if (!m) m = load(d, ptx, len, h);
  m->lastUse = ++clock_;
  if (!m->mod) {
    *why = m->error;
    *err = m->result;
    return nullptr;
  }
  auto it = m->fns.find(name);
  if (it != m->fns.end()) return it->second;
  cu::CUfunction f = nullptr;
  cu::CUresult r = d.cuModuleGetFunction(&f, m->mod, name);
  if (r != cu::CUDA_SUCCESS) {
    *why = failure("cuModuleGetFunction", r) + " (kernel '" + name + "')";
    *err = r;
    return nullptr;
  }
  m->fns[name] = f;
  return f;
}

void ModuleCache::abandon() { mods_.clear(); }

}  // namespace epochpp::gpu
