// gpu/launch_plan.cpp — spans, groups, residency lookups, uploads and copy-back for ep_rt_gpu_for.
#include "gpu/launch_plan.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace epochpp::gpu {
namespace {

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

Digest timedHash(uintptr_t lo, uintptr_t hi, KernelStats& delta) {
  auto t0 = std::chrono::steady_clock::now();
  Digest d = hashBytes(reinterpret_cast<const void*>(lo), hi - lo);
  delta.hash_ms += msSince(t0);
  return d;
}

}  // namespace

bool makePlan(const EpGpuLaunch& L, Plan& p, std::string* why) {
  struct Span {
    uintptr_t lo, hi;
    bool written;
    int array;
  };
  std::vector<Span> spans;
  p.groupOf.assign((size_t)L.narrays, -1);
  for (int32_t j = 0; j < L.narrays; ++j) {
    const EpGpuArray& g = L.arrays[j];
    if (g.offset < 0 || g.offset + (int64_t)sizeof(EpArray) > L.vals_size || g.offset % 8 != 0 || g.ndim < 0 ||
        g.ndim > 3 || g.itemsize <= 0) {
      *why = "malformed launch block (array " + std::to_string(j) + "): a compiler bug; please report it";
      return false;
    }
    EpArray a;
    std::memcpy(&a, static_cast<const char*>(L.vals) + g.offset, sizeof a);
    int64_t lo = 0, hi = g.itemsize;
    bool empty = false;
    for (int d = 0; d < g.ndim; ++d) {
      if (a.shape[d] <= 0) empty = true;
      int64_t ext = (a.shape[d] - 1) * a.strides[d];
      if (ext < 0) lo += ext;
      else hi += ext;
    }
    if (empty || !a.data) continue;  // no element is ever read or written: no device copy
    uintptr_t base = reinterpret_cast<uintptr_t>(a.data);
    spans.push_back({base + (uintptr_t)lo, base + (uintptr_t)hi, g.written != 0, j});
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.lo < b.lo; });
  for (const Span& s : spans) {
    if (p.groups.empty() || s.lo >= p.groups.back().hi) {
      p.groups.push_back(Group{s.lo, s.hi, s.written, {}, false});
    } else {  // overlaps the group before: one device copy for both
      Group& g = p.groups.back();
      g.hi = std::max(g.hi, s.hi);
      g.written = g.written || s.written;
    }
    p.groupOf[(size_t)s.array] = (int)p.groups.size() - 1;
  }
  return true;
}

void planBytes(const Plan& p, Residency& res, bool residencyOn, int64_t& up, int64_t& down, int64_t& hashed) {
  up = down = hashed = 0;
  for (const Group& g : p.groups) {
    int64_t n = (int64_t)(g.hi - g.lo);
    if (residencyOn && res.find(g.lo, g.hi)) hashed += n;
    else up += n;
    if (g.written) down += n;
  }
}

cu::CUresult placeGroups(GpuState& s, const Handles& h, Plan& p, bool residencyOn, size_t budget, KernelStats& delta,
                         std::string* why) {
  const Driver& d = *h.d;
  for (Group& g : p.groups) {
    size_t n = g.hi - g.lo;
    Digest digest;
    Resident* r = residencyOn ? s.residency.find(g.lo, g.hi) : nullptr;
    if (r) {
      r->pinned = true;
      r->lastUse = s.residency.tick();
      g.block = r->block;
      g.resident = true;
      digest = timedHash(g.lo, g.hi, delta);
      if (digest == r->hash) {
        ++delta.resident_hits;
        continue;
      }
    } else {
      if (residencyOn) {
        s.residency.evictOverlapping(d, s.pool, g.lo, g.hi);
        digest = timedHash(g.lo, g.hi, delta);
      }
      cu::CUresult err = cu::CUDA_SUCCESS;
      g.block = s.pool.alloc(d, n, why, &err);
      if (!g.block) return err;
      if (residencyOn && g.block.cap <= budget) {
        r = s.residency.insert(g.lo, g.hi, g.block, Digest{});  // digest set once the upload succeeded
        g.resident = true;
      }
    }
    ++delta.resident_misses;
    auto t0 = std::chrono::steady_clock::now();
    cu::CUresult res = s.stager.upload(h, g.block.ptr, reinterpret_cast<const void*>(g.lo), n, why);
    delta.transfer_ms += msSince(t0);
    if (res != cu::CUDA_SUCCESS) {
      if (g.resident) s.residency.drop(d, s.pool, g.lo);  // its device bytes are partly written: forget them
      g.block = {};
      return res;
    }
    delta.bytes_up += (int64_t)n;
    if (r) r->hash = digest;
  }
  return cu::CUDA_SUCCESS;
}

cu::CUresult copyBack(GpuState& s, const Handles& h, Plan& p, KernelStats& delta, std::string* why) {
  for (Group& g : p.groups) {
    if (!g.written) continue;
    size_t n = g.hi - g.lo;
    auto t0 = std::chrono::steady_clock::now();
    cu::CUresult r = s.stager.download(h, reinterpret_cast<void*>(g.lo), g.block.ptr, n, why);
    delta.transfer_ms += msSince(t0);
    if (r != cu::CUDA_SUCCESS) return r;
    delta.bytes_down += (int64_t)n;
    if (g.resident) {
      Resident* e = s.residency.find(g.lo, g.hi);
      if (e) e->hash = timedHash(g.lo, g.hi, delta);  // host and device are equal again
    }
  }
  return cu::CUDA_SUCCESS;
}

void finishGroups(GpuState& s, const Driver& d, Plan& p, bool dropWritten, size_t budget) {
  for (Group& g : p.groups) {
    if (!g.block) continue;
    bool drop = dropWritten && g.written;
    if (g.resident) {
      if (drop) s.residency.drop(d, s.pool, g.lo);
    } else {
      s.pool.release(d, g.block);
    }
    g.block = {};
  }
  s.residency.unpinAll();
  s.residency.enforceBudget(d, s.pool, budget);
}

}  // namespace epochpp::gpu
