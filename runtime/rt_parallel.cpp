// runtime/rt_parallel.cpp — Level 3's entry point for compiled code: run a parallel loop's chunks
// on the oneTBB workers, keeping aside what the loop may overwrite so a failure is undone exactly.
//
// Exactness: if any chunk raises or needs to deopt, the loop's arrays are put back as they were
// before it and the caller runs the loop again serially, which fails where CPython does. When
// codegen proved that no chunk can raise or deopt (`keep` 0), nothing is kept. Otherwise the
// bytes are kept in one of two ways:
//  * rows: the loop writes only a[i, ...] (i: its own variable) and each array's rows do not
//    interleave in memory. Each chunk copies its own rows just before running them — on its
//    own core, into cache right before the loop body rewrites them — so keeping a copy costs
//    about as much as the writes themselves, spread over the cores.
//  * span: otherwise (epochpp.prange, a transposed array), the whole byte span of every written
//    array is copied up front by the calling thread.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "parallel/parallel.h"
#include "profiler/thread_modes.h"
#include "runtime/runtime.h"

namespace {

// Buffers for the kept bytes are reused from loop to loop: memory fresh from the kernel costs a
// page fault per 4 KiB on first touch, which for a large written array cost more than the loop
// itself (a 62 MB matrix: 27 ms of work, +48 ms of faults). Up to kPoolBytes stay allocated.
class KeepPool {
 public:
  static constexpr size_t kPoolBytes = size_t(512) << 20;
  static constexpr size_t kPoolBuffers = 8;
  char* get(size_t bytes, size_t& cap) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      size_t best = free_.size();
      for (size_t j = 0; j < free_.size(); ++j)  // the smallest buffer that fits
        if (free_[j].second >= bytes && (best == free_.size() || free_[j].second < free_[best].second)) best = j;
      if (best != free_.size()) {
        char* p = free_[best].first;
        cap = free_[best].second;
        held_ -= cap;
        free_.erase(free_.begin() + (long)best);
        return p;
      }
    }
    cap = bytes;
    return static_cast<char*>(std::malloc(bytes));
  }
  void put(char* p, size_t cap) {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back({p, cap});
    held_ += cap;
    while (held_ > kPoolBytes || free_.size() > kPoolBuffers) {  // drop the oldest
      held_ -= free_.front().second;
      std::free(free_.front().first);
      free_.erase(free_.begin());
    }
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<char*, size_t>> free_;
  size_t held_ = 0;
};

KeepPool& pool() {
  static KeepPool* p = new KeepPool;  // never destroyed: loops may run while the process exits
  return *p;
}

struct Kept {
  const EpWritten* w;
  char* copy = nullptr;
  size_t cap = 0;
  int64_t lo = 0, bytes = 0;   // span mode: [lo, lo + bytes) relative to data
  int64_t rowLo = 0, rowBytes = 0;  // rows mode: one row's bytes start at data + r * stride0 + rowLo
};

// Byte offsets (relative to data) of the lowest and one past the highest element in dims [from, ndim).
void extent(const EpWritten& w, int from, int64_t& lo, int64_t& hi) {
  lo = 0;
  hi = 0;
  for (int d = from; d < w.ndim; ++d) {
    int64_t e = (w.array.shape[d] - 1) * w.array.strides[d];
    if (w.array.shape[d] <= 0) e = 0;
    if (e < 0) lo += e;
    else hi += e;
  }
  hi += w.itemsize;
}

int64_t rowOf(const Kept& k, int64_t i) {
  int64_t n = k.w->array.shape[0];
  int64_t r = i < 0 ? i + n : i;
  return (r >= 0 && r < n) ? r : -1;  // -1: the iteration raises IndexError; nothing to keep
}

void keepRows(const Kept& k, int64_t start, int64_t step, int64_t kb, int64_t ke, bool restore) {
  char* data = static_cast<char*>(k.w->array.data);
  int64_t s0 = k.w->array.strides[0];
  if (ke <= kb) return;
  if (s0 == k.rowBytes && (step == 1 || step == -1)) {
    // consecutive rows that touch each other (a 1-D array's elements, a C-order matrix's rows):
    // one block copy instead of a call per row
    int64_t r1 = rowOf(k, start + kb * step), r2 = rowOf(k, start + (ke - 1) * step);
    int64_t lo = r1 < r2 ? r1 : r2, hi = r1 < r2 ? r2 : r1;
    if (r1 >= 0 && r2 >= 0 && hi - lo == ke - 1 - kb) {  // no wrap through negative indices
      char* row = data + lo * s0 + k.rowLo;
      char* saved = k.copy + lo * k.rowBytes;
      size_t bytes = (size_t)((hi - lo + 1) * k.rowBytes);
      if (restore) std::memcpy(row, saved, bytes);
      else std::memcpy(saved, row, bytes);
      return;
    }
  }
  for (int64_t it = kb; it < ke; ++it) {
    int64_t r = rowOf(k, start + it * step);
    if (r < 0) continue;
    char* row = data + r * s0 + k.rowLo;
    char* saved = k.copy + r * k.rowBytes;
    if (restore) std::memcpy(row, saved, (size_t)k.rowBytes);
    else std::memcpy(saved, row, (size_t)k.rowBytes);
  }
}

std::atomic<int64_t> lastN{0}, lastChunks{0}, lastAlign{0};  // lastParallelLoop()

}  // namespace

epochpp::runtime::ParallelLoopShape epochpp::runtime::lastParallelLoop() {
  return {lastN.load(std::memory_order_relaxed), lastChunks.load(std::memory_order_relaxed),
          lastAlign.load(std::memory_order_relaxed)};
}

extern "C" int32_t ep_rt_parallel_for(EpCtx* ctx, int64_t n, int64_t nchunks, int64_t align, void* body, void* env,
                                      const EpWritten* written, int32_t nwritten, int64_t start, int64_t step,
                                      int32_t flags, int32_t keep) {
  using namespace epochpp;
  using Chunk = int32_t (*)(EpCtx*, int32_t, void*, int64_t, int64_t, int64_t);
  auto fn = reinterpret_cast<Chunk>(body);
  // how to keep what the loop overwrites
  std::vector<Kept> kept(keep ? (size_t)nwritten : 0);
  bool rowMode = (flags & EP_PAR_ROWS) != 0;
  bool merge = (flags & EP_PAR_MERGE) != 0;
  for (int32_t j = 0; j < (int32_t)kept.size(); ++j) {
    Kept& k = kept[(size_t)j];
    k.w = &written[j];
    extent(*k.w, 0, k.lo, k.bytes);
    k.bytes -= k.lo;
    int64_t rlo, rhi;
    extent(*k.w, 1, rlo, rhi);
    k.rowLo = rlo;
    k.rowBytes = rhi - rlo;
    int64_t s0 = k.w->array.strides[0];
    if (k.w->ndim < 1 || (s0 < 0 ? -s0 : s0) < k.rowBytes) rowMode = false;  // rows interleave
  }
  bool outOfMemory = false;
  for (Kept& k : kept) {
    int64_t size = rowMode ? k.w->array.shape[0] * k.rowBytes : k.bytes;
    k.copy = pool().get(size > 0 ? (size_t)size : 1, k.cap);
    if (!k.copy) outOfMemory = true;
    else if (!rowMode)
      std::memcpy(k.copy, static_cast<char*>(k.w->array.data) + k.lo, (size_t)k.bytes);
  }
  auto freeAll = [&] {
    for (Kept& k : kept) pool().put(k.copy, k.cap);
  };
  if (outOfMemory) {
    freeAll();
    ep_rt_raise(ctx, EP_EXC_MEMORY, 0, "cannot keep a copy of the arrays a parallel loop writes");
    return EP_ERROR;
  }
  // chunk c: [units·c/nchunks, units·(c+1)/nchunks) in units of `align` iterations (a loop in
  // SIMD lanes: whole lane steps), the last one cut at n
  if (align < 1) align = 1;
  lastN.store(n, std::memory_order_relaxed);
  lastChunks.store(nchunks, std::memory_order_relaxed);
  lastAlign.store(align, std::memory_order_relaxed);
  int64_t units = n / align + (n % align != 0);
  bool narrow = units <= INT64_MAX / nchunks;  // units·c fits in 64 bits (no 128-bit division per chunk)
  auto cut = [&](int64_t c) {
    int64_t u = narrow ? units * c / nchunks : (int64_t)((__int128)units * c / nchunks);
    return std::min(n, align * u);
  };
  auto bounds = [&](int64_t c, int64_t& kb, int64_t& ke) {
    kb = cut(c);
    ke = cut(c + 1);
  };
  std::vector<unsigned char> started((size_t)nchunks, 0);
  std::atomic<int> failed{0}, interrupted{0};
  {
    profiler::ModeScope mode(profiler::kModeParallel);
    // grain 0: guided, runs of chunks that shrink as the loop runs out, not a task per chunk
    parallel::parallelFor(nchunks, 0, [&](int64_t cb, int64_t ce) {
      profiler::ModeScope worker(profiler::kModeParallel);
      // the chunks' own call state (one per run of consecutive chunks on one thread): a callee
      // may allocate an array, taking the GIL for it
      runtime::CallState cs;
      EpCtx local;
      std::memset(&local, 0, sizeof local);
      local.depth_limit = ctx->depth_limit;
      local.owned = &cs;
      bool wasWorker = runtime::setMapWorker(true);  // Ctrl-C: stop; the calling thread raises
      // merge: the chunks oneTBB hands this thread together run as one call (no reduction
      // partials to keep apart); else one call per chunk
      for (int64_t c = cb, next; c < ce; c = next) {
        if (failed.load(std::memory_order_relaxed)) break;  // another chunk failed: the call deopts
        next = merge ? ce : c + 1;
        int64_t kb = cut(c), ke = cut(next);
        if (rowMode)
          for (const Kept& k : kept) keepRows(k, start, step, kb, ke, false);
        std::memset(&started[(size_t)c], 1, (size_t)(next - c));
        int32_t st = fn(&local, 0, env, kb, ke, c);
        if (st != EP_OK) {
          if (local.exc_kind == EP_EXC_KEYBOARD_INTERRUPT) interrupted.store(1);
          failed.store(1);  // a Python exception it holds is dropped: the serial re-run raises it
          break;
        }
      }
      runtime::setMapWorker(wasWorker);
      if (!cs.empty()) {
        PyGILState_STATE g = PyGILState_Ensure();  // releasing Python objects needs the GIL
        cs.clear();
        PyGILState_Release(g);
      }
    });
  }
  // keep == 0: codegen proved that a chunk can only fail before it writes anything (a shared
  // local unbound: then every chunk does) or on Ctrl-C; nothing was kept, nothing to put back.
  if (failed.load()) {  // put every written byte back as it was before the loop
    if (rowMode) {
      for (int64_t c = 0; c < nchunks; ++c)
        if (started[(size_t)c]) {
          int64_t kb, ke;
          bounds(c, kb, ke);
          for (const Kept& k : kept) keepRows(k, start, step, kb, ke, true);
        }
    } else {
      for (const Kept& k : kept) std::memcpy(static_cast<char*>(k.w->array.data) + k.lo, k.copy, (size_t)k.bytes);
    }
  }
  freeAll();
  if (interrupted.load()) {
    ep_rt_check_signals(ctx);  // on the calling thread: turns the pending Ctrl-C into KeyboardInterrupt
    ep_rt_raise(ctx, EP_EXC_KEYBOARD_INTERRUPT, 0, "");
    return EP_ERROR;
  }
  return failed.load() ? EP_DEOPT : EP_OK;
}
