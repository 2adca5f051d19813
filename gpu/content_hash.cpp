// gpu/content_hash.cpp — the residency digest: two keyed NH + polynomial (UMAC-style) lanes, split over cores.
//
// Why this construction (and not a fixed-key hash such as XXH3): NH and polynomial evaluation are
// almost-universal families with a known bound (Black et al., "UMAC", CRYPTO 1999, Theorem 1 for NH; a
// non-zero polynomial of degree L has at most L roots in GF(p)). With keys the data cannot depend on, the
// bound in content_hash.h is a theorem, not a benchmark result. Speed: one 32x32->64 multiply per 8 bytes
// per lane, which the compiler vectorises; a core hashes at several GB/s and the span is split over the
// oneTBB workers, so a check costs a fraction of a PCIe transfer of the same bytes.
#include "gpu/content_hash.h"

#include <cstring>
#include <random>
#include <vector>

#include "parallel/parallel.h"

namespace epochpp::gpu {
namespace {

constexpr size_t kBlock = 1024;                  // bytes per NH block
constexpr size_t kWords = kBlock / 8;            // 64-bit words per block
constexpr size_t kChunk = size_t(1) << 20;       // bytes per parallel piece (a multiple of kBlock)
constexpr size_t kParallelMin = size_t(4) << 20; // below this, one thread
constexpr uint64_t kP = (uint64_t(1) << 61) - 1; // the Mersenne prime 2^61 - 1

struct Keys {
  uint32_t nh[2][kWords * 2];  // per lane: one key word per 32-bit data word of a block
  uint64_t r[2];               // per lane: the polynomial's evaluation point, in [0, p)
};

const Keys& keys() {
  static const Keys k = [] {
    Keys out;
    std::random_device rd;  // the OS's random source (getrandom / /dev/urandom)
    for (int l = 0; l < 2; ++l) {
      for (auto& w : out.nh[l]) w = rd();
      uint64_t r;
      do r = ((uint64_t(rd()) << 32) | rd()) & kP;
      while (r >= kP);
      out.r[l] = r;
    }
    return out;
  }();
  return k;
}

inline uint64_t mulmod(uint64_t a, uint64_t b) {
  unsigned __int128 p = (unsigned __int128)a * b;
  uint64_t lo = (uint64_t)p & kP, hi = (uint64_t)(p >> 61);
  uint64_t s = lo + hi;
  return s >= kP ? s - kP : s;
}

inline uint64_t addmod(uint64_t a, uint64_t b) {
  uint64_t s = a + b;
  return s >= kP ? s - kP : s;
}

uint64_t powmod(uint64_t r, uint64_t e) {
  uint64_t out = 1;
  while (e) {
    if (e & 1) out = mulmod(out, r);
    r = mulmod(r, r);
    e >>= 1;
  }
  return out;
}

// NH of one full block for both lanes: sum over 64-bit words w of (lo32(w) + k[2j]) * (hi32(w) + k[2j+1]).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void nhBlock(const unsigned char* p, const Keys& k, uint64_t out[2]) {
  uint64_t a0 = 0, a1 = 0;
  for (size_t j = 0; j < kWords; ++j) {
    uint64_t w;
    std::memcpy(&w, p + 8 * j, 8);
    uint32_t lo = (uint32_t)w, hi = (uint32_t)(w >> 32);
    a0 += (uint64_t)(uint32_t)(lo + k.nh[0][2 * j]) * (uint32_t)(hi + k.nh[0][2 * j + 1]);
    a1 += (uint64_t)(uint32_t)(lo + k.nh[1][2 * j]) * (uint32_t)(hi + k.nh[1][2 * j + 1]);
  }
  out[0] = a0;
  out[1] = a1;
}

// Horner over the coefficients of blocks [b0, b1) of the span (two 32-bit coefficients per block; the last
// block zero-padded). Returns each lane's polynomial value with the first coefficient at the highest power.
void polyRange(const unsigned char* base, size_t n, size_t b0, size_t b1, uint64_t h[2]) {
  const Keys& k = keys();
  h[0] = h[1] = 0;
  unsigned char tail[kBlock];
  for (size_t b = b0; b < b1; ++b) {
    const unsigned char* p = base + b * kBlock;
    if ((b + 1) * kBlock > n) {  // the partial last block
      std::memset(tail, 0, kBlock);
      std::memcpy(tail, p, n - b * kBlock);
      p = tail;
    }
    uint64_t nh[2];
    nhBlock(p, k, nh);
    for (int l = 0; l < 2; ++l) {
      h[l] = addmod(mulmod(h[l], k.r[l]), nh[l] >> 32);
      h[l] = addmod(mulmod(h[l], k.r[l]), nh[l] & 0xffffffffu);
    }
  }
}

Digest finish(uint64_t h0, uint64_t h1, size_t n) {
  const Keys& k = keys();
  Digest d;
  uint64_t h[2] = {h0, h1};
  for (int l = 0; l < 2; ++l) {  // the length as two more coefficients: spans of other lengths differ too
    uint64_t v = addmod(mulmod(h[l], k.r[l]), (uint64_t)n >> 32);
    d.lane[l] = addmod(mulmod(v, k.r[l]), (uint64_t)n & 0xffffffffu);
  }
  return d;
}

}  // namespace

Digest hashBytesSerial(const void* p, size_t n) {
  size_t blocks = (n + kBlock - 1) / kBlock;
  uint64_t h[2];
  polyRange(static_cast<const unsigned char*>(p), n, 0, blocks, h);
  return finish(h[0], h[1], n);
}

Digest hashBytes(const void* p, size_t n) {
  if (n < kParallelMin) return hashBytesSerial(p, n);
  const auto* base = static_cast<const unsigned char*>(p);
  size_t blocks = (n + kBlock - 1) / kBlock;
  size_t perChunk = kChunk / kBlock;
  size_t chunks = (blocks + perChunk - 1) / perChunk;
  std::vector<uint64_t> parts(chunks * 2);
  parallel::parallelFor((int64_t)chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      size_t b0 = (size_t)c * perChunk, b1 = std::min(blocks, b0 + perChunk);
      polyRange(base, n, b0, b1, &parts[2 * (size_t)c]);
    }
  });
  // Horner over the whole sequence = sum of each chunk's value times r^(coefficients after it)
  const Keys& k = keys();
  uint64_t h[2] = {0, 0};
  for (int l = 0; l < 2; ++l) {
    uint64_t step = powmod(k.r[l], 2 * perChunk);  // r^(coefficients per full chunk)
    for (size_t c = 0; c < chunks; ++c) {
      size_t b0 = c * perChunk, b1 = std::min(blocks, b0 + perChunk);
      uint64_t shift = (c + 1 < chunks) ? step : powmod(k.r[l], 2 * (b1 - b0));
      h[l] = addmod(mulmod(h[l], shift), parts[2 * c + (size_t)l]);
    }
  }
  return finish(h[0], h[1], n);
}

}  // namespace epochpp::gpu
