// runtime/module.cpp — the epochpp._core extension module: Dispatcher, settings, build info, GPU info.
#define EPOCHPP_IMPORT_ARRAY
#include "runtime/runtime.h"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "jit/engine/engine.h"
#include "runtime/compiler.h"
#include "runtime/settings.h"

namespace py = pybind11;

namespace epochpp::runtime {
static bool g_numpy = false;

bool numpyReady() {
  if (g_numpy) return true;
  PyObject* mods = PyImport_GetModuleDict();  // borrowed
  if (!PyDict_GetItemString(mods, "numpy")) return false;
  if (_import_array() < 0) {
    PyErr_Clear();
    return false;
  }
  g_numpy = true;
  return true;
}

PyObject* dispatcherType();
py::dict buildInfo();
}  // namespace epochpp::runtime
namespace epochpp::profiler {
void bind(py::module_& m);
}
namespace epochpp::gpu {
void bind(py::module_& m);  // gpu/bindings.cpp
}

PYBIND11_MODULE(_core, m) {
  m.doc() = "epochpp native core: the JIT (LLVM ORC), the dispatcher and the runtime";
  epochpp::runtime::installSignalHandler();
  PyObject* t = epochpp::runtime::dispatcherType();
  if (!t) throw py::error_already_set();
  Py_INCREF(t);
  PyModule_AddObject(m.ptr(), "Dispatcher", t);
  epochpp::profiler::bind(m);
  epochpp::gpu::bind(m);
  m.def("cache_dir", []() { return epochpp::runtime::cacheDirectory(); },
        "the directory of the compiled-object cache ('' when EPOCHPP_CACHE_DIR=off)");
  m.def("reinstall_sigint", []() { epochpp::runtime::installSignalHandler(); },
        "chain epochpp's SIGINT handler in again (after signal.signal replaced it)");
  m.def("build_info", &epochpp::runtime::buildInfo, "versions of LLVM and oneTBB, the host CPU and its features");
  m.def("settings", []() {
    py::list out;
    for (auto& s : epochpp::settings::all())
      out.append(py::dict(py::arg("name") = s.name, py::arg("env") = s.env, py::arg("default") = s.dflt,
                          py::arg("doc") = s.doc, py::arg("value") = epochpp::settings::get(s.name)));
    return out;
  }, "every setting with its environment variable, default, description and current value");
  m.def("linked_code_count", []() { return epochpp::engine::Engine::instance().linkedCount(); },
        "compiled modules linked in the JIT now (code no specialisation uses any more is freed)");
  m.def("last_parallel_loop", []() {
    auto l = epochpp::runtime::lastParallelLoop();
    return py::dict(py::arg("iterations") = l.iterations, py::arg("chunks") = l.chunks, py::arg("align") = l.align);
  }, "the most recent compiled parallel loop: its iterations, its chunks, and align (chunk bounds are multiples of it: a lane loop's W, else 1)");
  m.def("get_setting", [](const std::string& n) { return epochpp::settings::get(n); });
  m.def("set_setting", [](const std::string& n, const std::string& v) { epochpp::settings::set(n, v); });
}
