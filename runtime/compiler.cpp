// runtime/compiler.cpp — specialisation driver: resolves callees, runs the pipeline, lowers, links, dumps.
#include "runtime/compiler.h"
#include <pybind11/eval.h>

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <llvm/Config/llvm-config.h>

#include "jit/codegen/codegen.h"
#include "jit/engine/engine.h"
#include "jit/engine/ptx.h"
#include "gpu/device.h"
#include "jit/frontend/frontend.h"
#include "jit/passes/passes.h"
#include "profiler/thread_modes.h"
#include "runtime/disk_cache.h"
#include "runtime/runtime.h"
#include "runtime/settings.h"

namespace epochpp::runtime {

using Clock = std::chrono::steady_clock;
static double ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

std::string signatureText(const std::vector<ir::Type>& params) {
  std::string s = "(";
  for (size_t i = 0; i < params.size(); ++i) s += (i ? ", " : "") + params[i].str();
  return s + ")";
}

namespace {

struct Unit {
  py::object pyfunc;
  frontend::FrontendResult fr;
  std::vector<int> callee_map;
  std::map<std::pair<int, std::string>, int> call_targets;
  bool done = false;
};

struct Driver {
  std::vector<std::unique_ptr<Unit>> units;
  // the function whose frontend failed, with the guards it had collected by then
  py::object failed_func;
  std::vector<frontend::Guard> failed_guards;
  std::map<std::pair<PyObject*, std::string>, int> memo;
  double ms_frontend = 0, ms_passes = 0;
  int level = 2;

  int specialise(py::handle pyfunc, const std::vector<ir::Type>& params) {
    std::string key = signatureText(params);
    auto mk = std::make_pair(pyfunc.ptr(), key);
    auto it = memo.find(mk);
    if (it != memo.end()) return it->second;
    auto t0 = Clock::now();
    py::object src = py::module_::import("epochpp._source").attr("funcdef")(pyfunc);
    py::tuple st = src.cast<py::tuple>();
    auto unit = std::make_unique<Unit>();
    unit->pyfunc = py::reinterpret_borrow<py::object>(pyfunc);
    std::vector<std::string> freevars;
    for (auto v : pyfunc.attr("__code__").attr("co_freevars")) freevars.push_back(py::str(v));
    try {
      unit->fr = frontend::lower(st[0], pyfunc.attr("__globals__"), st[1].cast<std::string>(), freevars, &failed_guards);
    } catch (...) {
      failed_func = py::reinterpret_borrow<py::object>(pyfunc);
      throw;
    }
    unit->callee_map.assign(unit->fr.fn.callees.size(), -1);
    int idx = (int)units.size();
    units.push_back(std::move(unit));
    memo[mk] = idx;
    auto t1 = Clock::now();
    ms_frontend += ms(t0, t1);
    Unit* u = units[idx].get();
    passes::CalleeTyper typer = [this, idx](int c, const std::vector<ir::Type>& args, int line) -> ir::Type {
      (void)line;
      Unit* self = units[idx].get();
      int j = specialise(self->fr.callees[c], args);
      units[idx]->callee_map[c] = j;
      units[idx]->call_targets[{c, signatureText(args)}] = j;
      return units[j]->fr.fn.return_type;
    };
    passes::PipelineOptions opts;
    opts.level = level;
    opts.callee = [this, idx](int c, const std::vector<ir::Type>& args) -> const ir::Function* {
      auto& targets = units[idx]->call_targets;
      auto it = targets.find({c, signatureText(args)});
      if (it == targets.end() || !units[it->second]->done) return nullptr;  // unknown (recursion)
      return &units[it->second]->fr.fn;
    };
    passes::runPipeline(u->fr.fn, params, typer, opts);
    u = units[idx].get();
    if (!u->fr.fn.return_type.known())
      throw ir::Unsupported{u->fr.fn.first_line, "a return type that cannot be inferred (recursion without a base case?)"};
    u->done = true;
    ms_passes += ms(t1, Clock::now());
    return idx;
  }

  // What the specialisation relied on, also when it falls back (a fallback decided by a global's
  // value or a callee's code is retried once they change).
  void guardsInto(Specialisation& sp) {
    auto add = [&](py::handle fn, const std::vector<frontend::Guard>& gs) {
      py::object globals = fn.attr("__globals__");
      for (auto& g : gs) sp.guards.push_back({g.dict ? g.dict : globals, py::str(g.name), g.expected});
      sp.code_guards.push_back({py::reinterpret_borrow<py::object>(fn), fn.attr("__code__")});
    };
    for (auto& u : units) add(u->pyfunc, u->fr.guards);
    if (failed_func) add(failed_func, failed_guards);
  }
};

void dumpStage(const std::string& name, const std::string& stage, const std::string& text) {
  std::string dir = settings::get("dump_dir");
  for (size_t i = 1; i <= dir.size(); ++i)  // mkdir -p
    if (i == dir.size() || dir[i] == '/') ::mkdir(dir.substr(0, i).c_str(), 0755);
  std::ofstream(dir + "/" + name + "." + stage) << text;
}

std::atomic<int> g_counter{0};

// Identifies this build of epochpp (its library file's size and time): a rebuilt compiler never
// reuses objects an older one cached.
std::string buildId() {
  static std::string id = [] {
    Dl_info info;
    struct stat st;
    if (dladdr(reinterpret_cast<void*>(&buildId), &info) && info.dli_fname && ::stat(info.dli_fname, &st) == 0)
      return std::to_string((long long)st.st_size) + "-" + std::to_string((long long)st.st_mtime);
    return std::string(__DATE__ " " __TIME__);
  }();
  return id;
}

// PTX target: EPOCHPP_GPU_ARCH, else the device's compute capability (at most sm_90, the newest
// LLVM 19 knows; the driver compiles PTX for newer devices), else sm_90 (H100).
std::string gpuArch() {
  std::string a = settings::get("gpu_arch");
  if (!a.empty()) return a;
  const gpu::DeviceInfo& d = gpu::device();
  if (!d.available) return "sm_90";
  int cc = std::min(90, d.cc_major * 10 + d.cc_minor);
  return "sm_" + std::to_string(cc);
}

// Level 4: the parallel loops lowered again as NVPTX kernels. A loop that cannot run on a GPU
// keeps its CPU code, and explain() says why; any failure here leaves all loops on the CPU.
void lowerGpuKernels(codegen::LoweringInput& in, Specialisation& sp) {
  std::vector<codegen::KernelInfo> kernels;
  auto t0 = Clock::now();
  try {
    std::string prefix = "ep_gpu" + in.entry_name.substr(in.entry_name.find('_', 3));
    auto ctx = std::make_unique<llvm::LLVMContext>();
    auto mod = codegen::lowerKernels(*ctx, in, prefix, kernels);
    sp.ptx_arch = gpuArch();
    engine::PtxResult r;
    {
      py::gil_scoped_release nogil;
      r = engine::emitPTX(*mod, sp.ptx_arch, kernels);
    }
    in.ptx = r.ptx;
    sp.text_ptx = r.ptx;
  } catch (ir::Unsupported& u) {
    sp.notes.push_back("Level 4: no GPU kernels (" + u.what + ")");
    return;
  } catch (std::exception& e) {
    sp.notes.push_back(std::string("Level 4: no GPU kernels (") + e.what() + ")");
    return;
  }
  sp.ms_ptx = ms(t0, Clock::now());
  for (auto& k : kernels) {
    const ir::Function& f = *in.functions[k.function];
    if (k.problem.empty()) {
      in.gpu_kernels[k.loop] = k.name;
      sp.kernel_names.push_back(k.name);
      sp.gpu_kernels++;
    } else {
      sp.notes.push_back(f.file + ":" + std::to_string(k.line) + ": " + f.name + "(): Level 4: this loop stays on the CPU: it " +
                         k.problem);
    }
  }
}

// What the installed NumPy does with np.where(c, int32_array, python_int_beyond_int32): NumPy 2.4
// casts it C-style; a NumPy that raises OverflowError (as for arithmetic, NEP 50) gets the same
// from compiled code. Asked once, with warnings silenced.
bool npWhereWrapsPyInt() {
  static int wraps = -1;
  // a program that has not imported numpy has no np.where to compile: do not import it here
  if (wraps < 0 && !PyDict_GetItemString(PyImport_GetModuleDict(), "numpy")) return true;
  if (wraps < 0) {
    wraps = 1;
    try {
      py::dict g;
      py::exec(R"(
import warnings
import numpy as np
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    try:
        np.where(np.array([False]), np.zeros(1, np.int32), 1 << 40)
        wraps = True
    except OverflowError:
        wraps = False
)", g);
      wraps = g["wraps"].cast<bool>() ? 1 : 0;
    } catch (py::error_already_set&) {
      PyErr_Clear();
    }
  }
  return wraps == 1;
}

// The parallel loops of all units in a fixed order (the sidecar names a kernel's loop by its place).
void parallelLoopsInOrder(const ir::Block& b, std::vector<const ir::Stmt*>& out) {
  for (auto& s : b) {
    if (s->kind == ir::StmtKind::For && s->parallel) out.push_back(s.get());
    parallelLoopsInOrder(s->body, out);
    parallelLoopsInOrder(s->orelse, out);
  }
}
std::vector<const ir::Stmt*> parallelLoopsInOrder(const codegen::LoweringInput& in) {
  std::vector<const ir::Stmt*> out;
  for (auto* f : in.functions) parallelLoopsInOrder(f->body, out);
  return out;
}

// Level 4's results kept next to the cached object (<key>.gpu), so a cache hit makes no PTX
// again (10-140 ms): the PTX, the target, which loops have which kernel, and the notes.
//   epochpp-gpu 1 \n arch A \n (kernel LOOP NAME \n | note TEXT \n)* ptx BYTES \n <PTX>
void saveGpuSidecar(const std::string& path, const codegen::LoweringInput& in, const Specialisation& sp,
                    size_t firstNote) {
  std::vector<const ir::Stmt*> loops = parallelLoopsInOrder(in);
  std::string out = "epochpp-gpu 1\narch " + sp.ptx_arch + "\n";
  for (auto& [loop, name] : in.gpu_kernels) {
    size_t k = std::find(loops.begin(), loops.end(), loop) - loops.begin();
    if (k == loops.size()) return;
    out += "kernel " + std::to_string(k) + " " + name + "\n";
  }
  for (size_t i = firstNote; i < sp.notes.size(); ++i) {
    if (sp.notes[i].find('\n') != std::string::npos) return;
    out += "note " + sp.notes[i] + "\n";
  }
  out += "ptx " + std::to_string(in.ptx.size()) + "\n" + in.ptx;
  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    f << out;
    if (!f) return;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) std::remove(tmp.c_str());
}

bool loadGpuSidecar(const std::string& path, codegen::LoweringInput& in, Specialisation& sp) {
  std::ifstream f(path, std::ios::binary);
  std::string line;
  if (!f || !std::getline(f, line) || line != "epochpp-gpu 1") return false;
  std::vector<const ir::Stmt*> loops = parallelLoopsInOrder(in);
  std::map<const ir::Stmt*, std::string> kernels;
  std::vector<std::string> names, notes;
  std::string arch;
  while (std::getline(f, line)) {
    if (line.rfind("arch ", 0) == 0) {
      arch = line.substr(5);
    } else if (line.rfind("kernel ", 0) == 0) {
      size_t sp1 = line.find(' ', 7);
      if (sp1 == std::string::npos) return false;
      size_t k = std::strtoull(line.c_str() + 7, nullptr, 10);
      if (k >= loops.size()) return false;
      kernels[loops[k]] = line.substr(sp1 + 1);
      names.push_back(line.substr(sp1 + 1));
    } else if (line.rfind("note ", 0) == 0) {
      notes.push_back(line.substr(5));
    } else if (line.rfind("ptx ", 0) == 0) {
      size_t n = std::strtoull(line.c_str() + 4, nullptr, 10);
      std::string ptx(n, '\0');
      if (!f.read(ptx.data(), (std::streamsize)n)) return false;
      in.ptx = sp.text_ptx = ptx;
      in.gpu_kernels = kernels;
      sp.ptx_arch = arch;
      sp.kernel_names = names;
      sp.gpu_kernels = (int)names.size();
      sp.notes.insert(sp.notes.end(), notes.begin(), notes.end());
      sp.ptx_from_cache = true;
      return true;
    } else {
      return false;
    }
  }
  return false;
}

}  // namespace

// EPOCHPP_CACHE_DIR, else ~/.cache/epochpp; "off" (or an unwritable directory) disables it.
std::string cacheDirectory() {
  std::string dir = settings::get("cache_dir");
  if (dir == "off" || dir == "0") return "";
  if (dir.empty()) {
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    if (xdg && *xdg) dir = std::string(xdg) + "/epochpp";
    else if (home && *home) dir = std::string(home) + "/.cache/epochpp";
    else return "";
  }
  for (size_t i = 1; i <= dir.size(); ++i)  // mkdir -p
    if (i == dir.size() || dir[i] == '/') ::mkdir(dir.substr(0, i).c_str(), 0755);
  return ::access(dir.c_str(), W_OK) == 0 ? dir : "";
}

Specialisation::~Specialisation() {
  if (fn && !entry.empty()) engine::Engine::instance().release(entry);
}

static int countParallel(const ir::Block& b) {
  int n = 0;
  for (auto& s : b) n += (s->kind == ir::StmtKind::For && s->parallel) + countParallel(s->body) + countParallel(s->orelse);
  return n;
}

// EPOCHPP_SIMD_LANES: a power of two from 2 to 16 (rounded down), 0 or 1: off; auto: 16 where
// the CPU has AVX-512 (two registers of 8 doubles: two independent dependency chains per step),
// else 4 (an AVX2 register; two SSE registers on older machines)
static int simdLanes() {
  std::string v = settings::get("simd_lanes");
  if (v.empty() || v == "auto") {
    for (auto& f : engine::Engine::instance().hostFeatures())
      if (f == "avx512f") return 16;
    return 4;
  }
  long w = settings::getInt("simd_lanes");
  return w >= 16 ? 16 : w >= 8 ? 8 : w >= 4 ? 4 : w >= 2 ? 2 : 0;
}

std::unique_ptr<Specialisation> compileSpecialisation(py::handle pyfunc, const std::vector<ir::Type>& params,
                                                      bool want_text, int level) {
  auto sp = std::make_unique<Specialisation>();
  sp->params = params;
  sp->level = level;
  std::string fname = py::str(pyfunc.attr("__name__"));
  std::string file = "<unknown>";
  try {
    file = py::str(pyfunc.attr("__code__").attr("co_filename"));
  } catch (...) {
  }
  numpyReady();  // results may be NumPy scalars even when no argument is an array
  Driver d;
  d.level = level;
  profiler::ModeScope compiling(profiler::kModeCompiled);  // the profiler counts JIT work as epochpp's
  try {
    registerRuntimeSymbols();
    d.specialise(pyfunc, params);
    sp->ms_frontend = d.ms_frontend;
    sp->ms_passes = d.ms_passes;
    codegen::LoweringInput in;
    std::string text_ir;
    for (auto& u : d.units) {
      sp->parallel_loops += countParallel(u->fr.fn.body);
      for (auto& note : u->fr.fn.notes) sp->notes.push_back(u->fr.fn.file + ", " + u->fr.fn.name + "(), " + note);
      sp->units.push_back({u->fr.fn.file, u->fr.fn.name});
      in.functions.push_back(&u->fr.fn);
      in.parallel_min_work = settings::getInt("parallel_min_work");
      in.simd_lanes = simdLanes();
      in.callee_map.push_back(u->callee_map);
      in.call_targets.push_back(u->call_targets);
      text_ir += ir::print(u->fr.fn) + "\n";
    }
    d.guardsInto(*sp);
    sp->text_ir = text_ir;
    // the cache key: everything codegen reads, the target, and the versions
    std::string fp = "epochpp-0.1.0;" + buildId() + ";LLVM-" LLVM_VERSION_STRING ";level=" + std::to_string(level) + ";opt=" +
                     settings::get("opt_level") + ";minwork=" + std::to_string(in.parallel_min_work) +
                     ";lanes=" + std::to_string(in.simd_lanes) + ";" +
                     (level >= 4 ? "arch=" + gpuArch() + ";" : std::string()) +
                     engine::Engine::instance().hostCPU() + ";";
    for (auto& f : engine::Engine::instance().hostFeatures()) fp += f + ",";
    fp += npWhereWrapsPyInt() ? "where-wraps;" : "where-raises;";
    for (auto& u : d.units) fp += "\n" + ir::fingerprint(u->fr.fn);
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : fp) h = (h ^ c) * 1099511628211ull;
    char hex[40];
    std::snprintf(hex, sizeof hex, "%016llx%08zx", (unsigned long long)h, fp.size() & 0xffffffffu);
    sp->cache_key = hex;
    sp->ret = d.units[0]->fr.fn.return_type;
    bool writes = false, deopt = false;
    for (auto& u : d.units) {
      writes |= u->fr.fn.writes_args;
      deopt |= u->fr.fn.may_deopt;
    }
    sp->snapshot = writes && deopt;
    bool wantStages = want_text || settings::dumpWants("ir") || settings::dumpWants("llvm") || settings::dumpWants("asm");
    std::string cacheDir = wantStages ? std::string() : cacheDirectory();
    // with a cache the entry's name comes from the key: identical code is linked once
    in.entry_name = cacheDir.empty() ? "ep_entry_" + std::to_string(g_counter++) : "ep_entry_" + sp->cache_key;
    in.data_layout = engine::Engine::instance().dataLayout();
    in.np_where_wraps_py_int = npWhereWrapsPyInt();
    if (level >= 4 && sp->parallel_loops) {
      std::string side = cacheDir.empty() ? std::string() : cacheDir + "/" + sp->cache_key + ".gpu";
      if (side.empty() || !loadGpuSidecar(side, in, *sp)) {
        size_t firstNote = sp->notes.size();
        lowerGpuKernels(in, *sp);
        if (!side.empty() && !in.ptx.empty()) {
          saveGpuSidecar(side, in, *sp, firstNote);
          boundDiskCache(cacheDir, side, (long long)settings::getInt("cache_max_mb") << 20);
        }
      }
    }
    auto t0 = Clock::now();
    auto ctx = std::make_unique<llvm::LLVMContext>();
    auto mod = codegen::lowerToLLVM(*ctx, in);
    sp->ms_codegen = ms(t0, Clock::now());
    int opt_level = (int)settings::getInt("opt_level");
    bool dump_any = settings::dumpWants("ir") || settings::dumpWants("llvm") || settings::dumpWants("asm");
    engine::StageText text;
    engine::Timings tm;
    {
      py::gil_scoped_release nogil;
      if (!cacheDir.empty() && !want_text && !dump_any)
        sp->fn = engine::Engine::instance().compileCached(std::move(mod), std::move(ctx), in.entry_name,
                                                          cacheDir + "/" + sp->cache_key + ".o", &tm, opt_level,
                                                          &sp->from_cache);
      else
        sp->fn = engine::Engine::instance().compile(std::move(mod), std::move(ctx), in.entry_name,
                                                    want_text || dump_any, &text, &tm, opt_level);
    }
    sp->entry = in.entry_name;
    if (!cacheDir.empty() && !want_text && !dump_any) {
      std::string obj = cacheDir + "/" + sp->cache_key + ".o";
      if (sp->from_cache) ::utime(obj.c_str(), nullptr);  // recently used: evicted last
      else boundDiskCache(cacheDir, obj, (long long)settings::getInt("cache_max_mb") << 20);
    }
    sp->ms_optimise = tm.optimise_ms;
    sp->ms_link = tm.codegen_link_ms;
    sp->text_llvm = text.llvm;
    sp->text_asm = text.asm_;
    if (dump_any) {
      std::string base = fname + "." + std::to_string(g_counter.load());
      if (settings::dumpWants("ir")) dumpStage(base, "ir", sp->text_ir);
      if (settings::dumpWants("llvm")) dumpStage(base, "ll", sp->text_llvm);
      if (settings::dumpWants("asm")) dumpStage(base, "s", sp->text_asm);
    }
    if (settings::dumpWants("ptx") && !sp->text_ptx.empty()) {
      dumpStage(fname + "." + std::to_string(g_counter.load()), "ptx", sp->text_ptx);
    }
  } catch (ir::Unsupported& u) {
    sp->fallback = file + ":" + std::to_string(u.line) + ": " + (u.what.rfind("internal error", 0) == 0 ? "" : "unsupported: ") + u.what;
    sp->guards.clear();
    sp->code_guards.clear();
    try {
      d.guardsInto(*sp);
    } catch (py::error_already_set&) {
      PyErr_Clear();
    }
  } catch (py::error_already_set& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    sp->fallback = file + ": cannot read the function's source (" + what + "); define it in a file";
  } catch (std::exception& e) {
    sp->fallback = file + ": internal error: " + e.what();
  }
  return sp;
}

}  // namespace epochpp::runtime
