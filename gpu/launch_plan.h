// gpu/launch_plan.h — the data side of one launch: the host byte spans of its arrays (overlapping ones merged
// into one group), each group's device copy (resident or uploaded), and the copy back of written groups.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gpu/gpu_state.h"
#include "gpu/stats.h"
#include "runtime/abi.h"

namespace epochpp::gpu {

struct Group {
  uintptr_t lo = 0, hi = 0;  // host byte span [lo, hi)
  bool written = false;      // some array in it is written by the loop
  DeviceBlock block;         // its device copy: block.ptr + (p - lo) is host byte p
  bool resident = false;     // the block belongs to a residency entry (else returned to the pool after the call)
};

struct Plan {
  std::vector<Group> groups;
  std::vector<int> groupOf;  // per array of the launch: its group, or -1 for an array with no elements
};

// Spans and groups of L's arrays. False with *why when the launch block is malformed (a codegen bug).
bool makePlan(const EpGpuLaunch& L, Plan& p, std::string* why);
// What the cost model needs: bytes to upload (not resident), to copy back (written), to hash (resident).
void planBytes(const Plan& p, Residency& res, bool residencyOn, int64_t& up, int64_t& down, int64_t& hashed);
// Gives every group a device copy equal to the host bytes: a resident one whose digest matches, else an upload.
cu::CUresult placeGroups(GpuState& s, const Handles& h, Plan& p, bool residencyOn, size_t budget, KernelStats& delta,
                         std::string* why);
// After a successful kernel: written groups back to the host; their residency digests refreshed.
cu::CUresult copyBack(GpuState& s, const Handles& h, Plan& p, KernelStats& delta, std::string* why);
// Ends the call's use of its blocks: blocks of no residency entry go back to the pool; with dropWritten
// (a failed iteration, Ctrl-C, a CUDA error) the written groups' device copies are dirty and dropped.
// Then the LRU budget is applied. (A group whose upload failed was dropped by placeGroups already.)
void finishGroups(GpuState& s, const Driver& d, Plan& p, bool dropWritten, size_t budget);

}  // namespace epochpp::gpu
