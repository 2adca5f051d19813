// gpu/bindings.cpp — epochpp._core's GPU functions: gpu_info(), gpu_stats(reset), and two hooks for tests.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "gpu/device.h"
#include "gpu/gpu_state.h"
#include "gpu/stats.h"
#include "runtime/abi.h"
#include "runtime/settings.h"

namespace py = pybind11;

namespace epochpp::gpu {
namespace {

py::dict statsDict(const KernelStats& s) {
  py::dict d;
  d["calls"] = s.calls;
  d["launches"] = s.launches;
  d["fallbacks"] = s.fallbacks;
  d["last_reason"] = s.last_reason;
  d["last_line"] = s.last_line;
  d["kernel_s"] = s.kernel_ms / 1e3;
  d["transfer_s"] = s.transfer_ms / 1e3;
  d["hash_s"] = s.hash_ms / 1e3;
  d["bytes_up"] = s.bytes_up;
  d["bytes_down"] = s.bytes_down;
  d["resident_hits"] = s.resident_hits;
  d["resident_misses"] = s.resident_misses;
  return d;
}

}  // namespace

void bind(py::module_& m) {
  m.def("gpu_info", [] {
    DeviceInfo info;
    size_t residentBytes = 0, residentSpans = 0;
    int version = 0;
    {
      py::gil_scoped_release nogil;  // the first call loads the driver and runs cuInit (can take a while)
      info = device();
      residencySummary(residentBytes, residentSpans);
      std::string ignored;
      if (info.available) version = driver(&ignored)->version;
    }
    py::dict d;
    d["available"] = info.available;
    d["reason"] = info.reason;
    d["name"] = info.name;
    d["cc_major"] = info.cc_major;
    d["cc_minor"] = info.cc_minor;
    d["sm_count"] = info.sm_count;
    d["max_threads_per_sm"] = info.max_threads_per_sm;
    d["max_threads_per_block"] = info.max_threads_per_block;
    d["total_mem"] = info.total_mem;
    d["mem_bandwidth_gbs"] = info.mem_bandwidth_gbs;
    d["driver_version"] = version;
    d["library"] = settings::get("cuda_library");
    d["residency"] = residencyOn();
    d["resident_bytes"] = residentBytes;
    d["resident_spans"] = residentSpans;
    d["totals"] = statsDict(totals());
    return d;
  }, "the CUDA device Level 4 uses (or why none), and what it did so far");
  m.def("gpu_stats", [](bool reset) {
    py::dict kernels;
    for (auto& [name, s] : allStats()) kernels[py::str(name)] = statsDict(s);
    py::dict out;
    out["total"] = statsDict(totals());
    out["kernels"] = kernels;
    if (reset) resetStats();
    return out;
  }, py::arg("reset") = false, "Level 4 statistics: process totals and per kernel; reset=True zeroes them after reading");
  m.def("_gpu_for_address", [] { return reinterpret_cast<uintptr_t>(&ep_rt_gpu_for); },
        "address of ep_rt_gpu_for (tests call it through ctypes)");
  m.def("_gpu_release", [] {
    py::gil_scoped_release nogil;
    return releaseResident();
  }, "drop every resident array and cached device block");
}

}  // namespace epochpp::gpu
