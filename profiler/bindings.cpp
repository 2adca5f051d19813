// profiler/bindings.cpp — epochpp._core.Sampler for the Python side of the profiler.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "profiler/sampler.h"

namespace py = pybind11;

namespace epochpp::profiler {

void bind(py::module_& m) {
  py::class_<Sampler>(m, "Sampler", "the C++ sampling thread (see epochpp.profiling)")
      .def(py::init<double, double>(), py::arg("interval_s"), py::arg("watch_s") = 0.005)
      .def("start", &Sampler::start)
      .def("stop", &Sampler::stop)
      .def_property_readonly("running", &Sampler::running)
      .def_property_readonly("interval", &Sampler::interval)
      .def_property_readonly("hold_seconds", &Sampler::holdSeconds, "time the sampler held the GIL")
      .def_property_readonly("wait_seconds", &Sampler::waitSeconds, "time the sampler waited for the GIL")
      .def("take", [](Sampler& s) {
        std::vector<CodeInfo> codes;
        std::vector<Sample> samples = s.take(&codes);
        py::list out;
        for (auto& x : samples) {
          py::tuple stack(x.stack.size());
          for (size_t i = 0; i < x.stack.size(); ++i)
            stack[i] = py::make_tuple(x.stack[i].first, x.stack[i].second, (unsigned long long)x.frame_ids[i]);
          py::tuple arrays(x.arrays.size());
          for (size_t i = 0; i < x.arrays.size(); ++i) arrays[i] = py::make_tuple(x.arrays[i].first, x.arrays[i].second);
          out.append(py::make_tuple(x.t, x.wall, x.cpu, x.native_gil, x.tid, categoryName(x.cat), x.syscall, stack, arrays));
        }
        py::list code_list;
        for (auto& c : codes) code_list.append(py::make_tuple(c.file, c.name, c.first_line));
        return py::make_tuple(out, code_list);
      }, "(samples, codes): samples as (t, wall, cpu, native_gil, tid, category, syscall, stack, arrays)");
}

}  // namespace epochpp::profiler
