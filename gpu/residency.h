// gpu/residency.h — host arrays kept on the device between launches while the host copy is unchanged.
//
// The rule (docs/gpu.md, "Residency"): an entry is keyed by the host byte span [lo, hi) an array (or a group of
// overlapping arrays) covers, and holds the device copy of exactly those bytes plus the digest
// (content_hash.h) of the host bytes taken when host and device were last equal: after an upload, and after a
// written span was copied back. At the next launch the host span is hashed again; the device copy is used
// only when the digest is equal. Device copies are never newer than the host (written spans are copied back
// right after each successful kernel), so dropping an entry never loses data: an entry overlapping a new,
// different span is dropped, the written spans of a failed launch are dropped, and least recently used
// entries are dropped past the byte budget.
#pragma once
#include <cstdint>
#include <map>

#include "gpu/content_hash.h"
#include "gpu/memory_pool.h"

namespace epochpp::gpu {

struct Resident {
  uintptr_t lo = 0, hi = 0;
  DeviceBlock block;
  Digest hash;
  uint64_t lastUse = 0;
  bool pinned = false;  // used by the launch in progress: never evicted by it
};

// Not thread-safe: used under the launch lock.
class Residency {
 public:
  Resident* find(uintptr_t lo, uintptr_t hi);
  Resident* insert(uintptr_t lo, uintptr_t hi, DeviceBlock block, const Digest& hash);
  // Drops every entry that overlaps [lo, hi) without being exactly [lo, hi).
  void evictOverlapping(const Driver& d, MemoryPool& pool, uintptr_t lo, uintptr_t hi);
  void drop(const Driver& d, MemoryPool& pool, uintptr_t lo);
  // Least recently used unpinned entries go until the entries hold at most `budget` bytes of device memory.
  void enforceBudget(const Driver& d, MemoryPool& pool, size_t budget);
  void unpinAll();
  void clear(const Driver& d, MemoryPool& pool);  // every entry back to the pool
  void abandon();                                 // forget every entry (sticky error: memory is gone anyway)
  uint64_t tick() { return ++clock_; }
  size_t bytes() const { return bytes_; }
  size_t size() const { return entries_.size(); }

 private:
  std::map<uintptr_t, Resident> entries_;  // by lo; spans of entries never overlap
  size_t bytes_ = 0;
  uint64_t clock_ = 0;
};

}  // namespace epochpp::gpu
