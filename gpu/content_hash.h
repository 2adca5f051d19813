// gpu/content_hash.h — a keyed 2 x 61-bit digest of a byte span, fast enough to check residency at memory speed.
//
// Each of two independent lanes is UMAC's construction: NH over 1 KiB blocks (pairs of 32-bit words plus key
// words mod 2^32, multiplied to 64 bits, summed mod 2^64), the block outputs fed as 32-bit halves into a
// polynomial over GF(2^61 - 1) evaluated at a random point. Keys are drawn from the OS once per process.
// For two different byte strings of the SAME length (residency always compares one span with itself) chosen
// without knowledge of the keys, a lane collides with probability at most 2^-32 + L / 2^61 (L = 2 x blocks),
// and both lanes together at most the square of that: <= 2^-63 for spans up to 16 GiB. Not cryptographic.
#pragma once
#include <cstddef>
#include <cstdint>

namespace epochpp::gpu {

struct Digest {
  uint64_t lane[2] = {0, 0};
  bool operator==(const Digest& o) const { return lane[0] == o.lane[0] && lane[1] == o.lane[1]; }
  bool operator!=(const Digest& o) const { return !(*this == o); }
};

// The digest of [p, p + n). Spans of several MiB are hashed in parallel on the oneTBB workers (parallel/);
// the result does not depend on how the work was split.
Digest hashBytes(const void* p, size_t n);
// The same on the calling thread only (small inputs, PTX text).
Digest hashBytesSerial(const void* p, size_t n);

}  // namespace epochpp::gpu
