// gpu/residency.cpp — the residency table: lookup by span, overlap eviction, LRU under a byte budget.
#include "gpu/residency.h"

namespace epochpp::gpu {

Resident* Residency::find(uintptr_t lo, uintptr_t hi) {
  auto it = entries_.find(lo);
  return (it != entries_.end() && it->second.hi == hi) ? &it->second : nullptr;
}

Resident* Residency::insert(uintptr_t lo, uintptr_t hi, DeviceBlock block, const Digest& hash) {
  Resident& r = entries_[lo];
  r = Resident{lo, hi, block, hash, tick(), true};
  bytes_ += block.cap;
  return &r;
}

void Residency::evictOverlapping(const Driver& d, MemoryPool& pool, uintptr_t lo, uintptr_t hi) {
  // entries do not overlap each other, so only the one starting before lo can reach into [lo, hi)
  auto it = entries_.lower_bound(lo);
  if (it != entries_.begin() && std::prev(it)->second.hi > lo) --it;
  while (it != entries_.end() && it->first < hi) {
    Resident& r = it->second;
    if (r.lo == lo && r.hi == hi) {
      ++it;
      continue;
    }
    pool.release(d, r.block);
    bytes_ -= r.block.cap;
    it = entries_.erase(it);
  }
}

void Residency::drop(const Driver& d, MemoryPool& pool, uintptr_t lo) {
  auto it = entries_.find(lo);
  if (it == entries_.end()) return;
  pool.release(d, it->second.block);
  bytes_ -= it->second.block.cap;
  entries_.erase(it);
}

void Residency::enforceBudget(const Driver& d, MemoryPool& pool, size_t budget) {
  while (bytes_ > budget) {
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it)
      if (!it->second.pinned && (victim == entries_.end() || it->second.lastUse < victim->second.lastUse)) victim = it;
    if (victim == entries_.end()) return;  // only pinned entries left
    drop(d, pool, victim->first);
  }
}

void Residency::unpinAll() {
  for (auto& [lo, r] : entries_) r.pinned = false;
}

void Residency::clear(const Driver& d, MemoryPool& pool) {
  for (auto& [lo, r] : entries_) pool.release(d, r.block);
  entries_.clear();
  bytes_ = 0;
}

void Residency::abandon() {
  entries_.clear();
  bytes_ = 0;
}

}  // namespace epochpp::gpu
