// gpu/module_cache.h — loaded PTX modules and their kernels, cached per (PTX text pointer, content digest).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gpu/content_hash.h"
#include "gpu/device.h"

namespace epochpp::gpu {

// Not thread-safe: used under the launch lock, with the primary context current. The PTX text lives in the
// compiled code's constant data, so its pointer is stable while that code lives; the digest tells a new text
// at a reused address apart. A module that failed to load is remembered with its reason (no retry per call).
class ModuleCache {
 public:
  static constexpr size_t kMaxModules = 64;  // past it the least recently used module is unloaded
  // The kernel `name`; nullptr with *why (and *err, the driver's result) when the module or kernel is missing.
  cu::CUfunction function(const Driver& d, const char* ptx, const char* name, std::string* why, cu::CUresult* err);
  void abandon();  // forget every module without calling the driver (sticky error)
  size_t size() const { return mods_.size(); }

 private:
  struct Module {
    const char* ptx = nullptr;
    size_t len = 0;
    Digest hash;
    cu::CUmodule mod = nullptr;
    std::string error;
    cu::CUresult result = 0;
    std::map<std::string, cu::CUfunction> fns;
    uint64_t lastUse = 0;
  };
  Module* load(const Driver& d, const char* ptx, size_t len, const Digest& h);
  std::vector<Module> mods_;
  uint64_t clock_ = 0;
};

}  // namespace epochpp::gpu
