"""`epochpp doctor`: what this installation can do, what is missing, and how to fix it.

`collect()` gathers every fact as a display string (never raises); `report()` prints them as
an aligned two-column report with a status line, and returns 0 when the native core
(`epochpp._core`) imports, 1 otherwise. Nothing here is needed on the hot path: it is
safe to run when the extension is not built, when LLVM/oneTBB are absent, and on machines
without a GPU.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import platform
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

# Rows of the report, in order: (key in collect()'s dict, label shown to the user).
ROWS: Tuple[Tuple[str, str], ...] = (
    ("epochpp", "epochpp"),
    ("core", "epochpp._core"),
    ("python", "Python"),
    ("numpy", "NumPy"),
    ("llvm", "LLVM"),
    ("tbb", "oneTBB"),
    ("target_triple", "target triple"),
    ("cpu", "CPU"),
    ("cpu_features", "CPU vector features"),
    ("threads", "threads"),
    ("cuda_driver", "CUDA driver"),
    ("cuda_devices", "CUDA devices"),
    ("cuda_toolkit", "CUDA toolkit"),
    ("libdevice", "libdevice"),
    ("settings", "settings (EPOCHPP_*)"),
    ("status", "status"),
)

LLVM_CONFIG = "llvm-config-19"
TBB_VERSION_H = Path("/usr/include/oneapi/tbb/version.h")
LIBDEVICE_REL = Path("nvvm/libdevice/libdevice.10.bc")
_SUBPROCESS_TIMEOUT_S = 10

# Vector features worth showing, in display order (LLVM spelling). /proc/cpuinfo names
# are mapped onto these by _CPUINFO_ALIASES.
_VECTOR_FEATURES: Tuple[str, ...] = (
    # x86
    "sse2", "sse3", "ssse3", "sse4.1", "sse4.2", "avx", "avx2", "fma", "f16c", "bmi2",
    "avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "avx512ifma",
    "avx512vbmi", "avx512vbmi2", "avx512vnni", "avx512bf16", "avx512fp16",
    "avx512vpopcntdq", "avxvnni", "amx-tile", "amx-int8", "amx-bf16",
    # AArch64
    "neon", "fp-armv8", "dotprod", "fullfp16", "bf16", "i8mm", "sve", "sve2", "sme",
    # POWER
    "altivec", "vsx",
)
_CPUINFO_ALIASES: Dict[str, str] = {
    "pni": "sse3",
    "sse4_1": "sse4.1",
    "sse4_2": "sse4.2",
    "avx512_vnni": "avx512vnni",
    "avx512_bf16": "avx512bf16",
    "avx512_fp16": "avx512fp16",
    "avx512_vbmi2": "avx512vbmi2",
    "avx512_vpopcntdq": "avx512vpopcntdq",
    "avx_vnni": "avxvnni",
    "amx_tile": "amx-tile",
    "amx_int8": "amx-int8",
    "amx_bf16": "amx-bf16",
    "asimd": "neon",
    "fp": "fp-armv8",
    "asimddp": "dotprod",
    "asimdhp": "fullfp16",
}


# --------------------------------------------------------------------------- helpers


def _safe(probe: Callable[[], Any], default: Any) -> Any:
    """Run one probe; a doctor must never crash because one fact is unavailable."""
    try:
        return probe()
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        if isinstance(default, str):
            return f"{default} ({type(exc).__name__}: {exc})"
        return default


def _run(cmd: List[str]) -> Optional[str]:
    """stdout of a command, or None when it is missing or fails."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=_SUBPROCESS_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout


def _read_proc_cpuinfo() -> Dict[str, str]:
    """First processor block of /proc/cpuinfo as a dict ({} where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return {}
    info: Dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if info:
                break
            continue
        key, sep, value = line.partition(":")
        if sep:
            info.setdefault(key.strip(), value.strip())
    return info


# --------------------------------------------------------------------------- probes


def epochpp_version() -> str:
    """The package version: epochpp.__version__, installed metadata, or pyproject.toml."""
    pkg = sys.modules.get("epochpp")
    version = getattr(pkg, "__version__", None)
    if isinstance(version, str) and version:
        return version
    try:
        from importlib.metadata import PackageNotFoundError, version as dist_version
        try:
            return dist_version("epochpp")
        except PackageNotFoundError:
            pass
    except ImportError:  # pragma: no cover - Python < 3.8
        pass
    # Running from a source checkout: python/epochpp/doctor.py -> <repo>/pyproject.toml.
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        text = pyproject.read_text()
    except OSError:
        return "unknown"
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    match = re.search(r'^version\s*=\s*"([^"]+)"', project.group(1) if project else "", re.M)
    return match.group(1) if match else "unknown"


def probe_core() -> Dict[str, Any]:
    """Import epochpp._core and read build_info().

    Returns {"ok": bool, "error": str|None, "path": str|None, "build_info": dict|None,
    "build_info_error": str|None}.
    """
    result: Dict[str, Any] = {"ok": False, "error": None, "path": None,
                              "build_info": None, "build_info_error": None}
    try:
        core = importlib.import_module("epochpp._core")
    except Exception as exc:  # noqa: BLE001 - ImportError, or a broken shared library
        result["error"] = f"{type(exc).__name__}: {exc}"
        return result
    result["ok"] = True
    result["path"] = getattr(core, "__file__", None)
    try:
        info = core.build_info()
        if not isinstance(info, dict):
            raise TypeError(f"build_info() returned {type(info).__name__}, not dict")
        result["build_info"] = info
    except Exception as exc:  # noqa: BLE001
        result["build_info_error"] = f"{type(exc).__name__}: {exc}"
    return result


def probe_python() -> str:
    impl = platform.python_implementation()
    return f"{platform.python_version()} ({impl}) {sys.executable or '(unknown executable)'}"


def probe_numpy() -> Tuple[str, bool]:
    try:
        import numpy
    except Exception as exc:  # noqa: BLE001
        return f"not found ({type(exc).__name__}: {exc})", False
    return f"{numpy.__version__} ({Path(numpy.__file__).parent})", True


def probe_llvm_config() -> Optional[str]:
    """Version from llvm-config-19 on PATH, or None."""
    exe = shutil.which(LLVM_CONFIG)
    if exe is None:
        return None
    out = _run([exe, "--version"])
    return out.strip() if out else None


def probe_tbb_header(header: Path = TBB_VERSION_H) -> Optional[str]:
    """"MAJOR.MINOR" from oneTBB's version.h, or None."""
    try:
        text = header.read_text(errors="replace")
    except OSError:
        return None
    major = re.search(r"#\s*define\s+TBB_VERSION_MAJOR\s+(\d+)", text)
    minor = re.search(r"#\s*define\s+TBB_VERSION_MINOR\s+(\d+)", text)
    if not major:
        return None
    return f"{major.group(1)}.{minor.group(1) if minor else '0'}"


def _cuda_error_name(lib: Any, code: int) -> str:
    try:
        name = ctypes.c_char_p()
        if lib.cuGetErrorName(int(code), ctypes.byref(name)) == 0 and name.value:
            return name.value.decode(errors="replace")
    except Exception:  # noqa: BLE001
        pass
    return f"CUresult {code}"


def _format_driver_version(v: int) -> str:
    return f"{v // 1000}.{(v % 1000) // 10}"


def probe_cuda_driver() -> Dict[str, Any]:
    """Load libcuda.so.1 with ctypes (as the runtime's dlopen does) and query it.

    Returns {"found": bool, "driver": str, "devices": str, "count": int}.
    """
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return {"found": False, "driver": "not found (no libcuda.so.1)",
                "devices": "none (no CUDA driver: Level 4 runs on the CPU)", "count": 0}

    version = ctypes.c_int(0)
    rc = lib.cuDriverGetVersion(ctypes.byref(version))
    driver = (_format_driver_version(version.value) if rc == 0
              else f"unknown (cuDriverGetVersion: {_cuda_error_name(lib, rc)})")

    rc = lib.cuInit(0)
    if rc != 0:
        return {"found": True, "driver": f"{driver} (cuInit failed: {_cuda_error_name(lib, rc)})",
                "devices": "none usable (cuInit failed: Level 4 runs on the CPU)", "count": 0}

    count = ctypes.c_int(0)
    rc = lib.cuDeviceGetCount(ctypes.byref(count))
    if rc != 0:
        return {"found": True, "driver": driver,
                "devices": f"unknown (cuDeviceGetCount: {_cuda_error_name(lib, rc)})", "count": 0}
    if count.value == 0:
        return {"found": True, "driver": driver,
                "devices": "0 (no CUDA device: Level 4 runs on the CPU)", "count": 0}

    lines = []
    for ordinal in range(count.value):
        lines.append(f"{ordinal}: {_describe_device(lib, ordinal)}")
    return {"found": True, "driver": driver, "devices": "\n".join(lines), "count": count.value}


def _describe_device(lib: Any, ordinal: int) -> str:
    dev = ctypes.c_int(0)
    rc = lib.cuDeviceGet(ctypes.byref(dev), ordinal)
    if rc != 0:
        return f"unavailable (cuDeviceGet: {_cuda_error_name(lib, rc)})"
    buf = ctypes.create_string_buffer(256)
    rc = lib.cuDeviceGetName(buf, ctypes.c_int(len(buf)), dev)
    name = buf.value.decode(errors="replace") if rc == 0 and buf.value else "unknown name"
    extras = []
    major, minor = ctypes.c_int(0), ctypes.c_int(0)
    # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76
    try:
        if (lib.cuDeviceGetAttribute(ctypes.byref(major), 75, dev) == 0
                and lib.cuDeviceGetAttribute(ctypes.byref(minor), 76, dev) == 0
                and major.value > 0):
            extras.append(f"sm_{major.value}{minor.value}")
    except AttributeError:
        pass
    total = ctypes.c_size_t(0)
    try:
        if lib.cuDeviceTotalMem_v2(ctypes.byref(total), dev) == 0 and total.value:
            extras.append(f"{total.value / 2**30:.1f} GiB")
    except AttributeError:
        pass
    return f"{name} ({', '.join(extras)})" if extras else name


def cuda_home() -> Optional[Path]:
    """$CUDA_HOME, else /usr/local/cuda, else the toolkit around `nvcc` on PATH."""
    env = os.environ.get("CUDA_HOME")
    if env:
        return Path(env)
    default = Path("/usr/local/cuda")
    if default.is_dir():
        return default
    nvcc = shutil.which("nvcc")
    if nvcc:
        return Path(nvcc).resolve().parent.parent
    return None


def probe_cuda_toolkit() -> Tuple[str, str, bool]:
    """(toolkit text, libdevice text, libdevice found)."""
    home = cuda_home()
    if home is None:
        return ("not found (set CUDA_HOME or install to /usr/local/cuda; optional)",
                "not found (no CUDA toolkit)", False)
    nvcc = home / "bin" / "nvcc"
    if nvcc.exists():
        out = _run([str(nvcc), "--version"]) or ""
        match = (re.search(r"\bV(\d+(?:\.\d+)+)", out)
                 or re.search(r"release\s+(\d+(?:\.\d+)*)", out))
        toolkit = (f"nvcc {match.group(1)} ({home})" if match
                   else f"nvcc present but `nvcc --version` failed ({home})")
    elif home.is_dir():
        toolkit = f"no bin/nvcc in {home}"
    else:
        toolkit = f"not found ({home} does not exist)"
    libdevice = home / LIBDEVICE_REL
    if libdevice.is_file():
        return toolkit, str(libdevice), True
    return toolkit, f"not found ({libdevice})", False


def probe_cpu(core_info: Optional[Dict[str, Any]]) -> Tuple[str, str]:
    """(CPU name, enabled vector features) from the extension, else /proc/cpuinfo."""
    cpuinfo = _read_proc_cpuinfo()
    model = (cpuinfo.get("model name") or cpuinfo.get("Model name") or cpuinfo.get("cpu")
             or platform.processor() or platform.machine() or "unknown CPU")
    host_cpu = (core_info or {}).get("host_cpu")
    name = f"{model} (LLVM host CPU: {host_cpu})" if host_cpu else model

    raw: List[str]
    source: str
    if core_info and core_info.get("cpu_features") is not None:
        raw = [str(f).lstrip("+") for f in core_info["cpu_features"]
               if not str(f).startswith("-")]
        source = ""
    else:
        flags = cpuinfo.get("flags") or cpuinfo.get("Features") or ""
        raw = [_CPUINFO_ALIASES.get(f, f) for f in flags.split()]
        source = " (from /proc/cpuinfo)" if flags else ""
    present = set(raw)
    shown = [f for f in _VECTOR_FEATURES if f in present]
    if not shown:
        return name, "none detected" + source
    return name, " ".join(shown) + source


def probe_threads() -> str:
    logical = os.cpu_count()
    text = f"{logical if logical is not None else 'unknown'} logical CPUs"
    getaff = getattr(os, "sched_getaffinity", None)
    if getaff is not None:
        try:
            text += f", {len(getaff(0))} usable by this process (affinity)"
        except OSError:
            pass
    return text


def probe_settings() -> str:
    names = sorted(k for k in os.environ if k.startswith("EPOCHPP_"))
    if not names:
        return "(none set)"
    return "\n".join(f"{k}={os.environ[k]}" for k in names)


# --------------------------------------------------------------------------- collect / report


def _gather() -> Tuple[Dict[str, str], List[Tuple[str, str]], List[str], bool]:
    """(rows, problems as (what, how to fix), notes, core works)."""
    rows: Dict[str, str] = {}
    problems: List[Tuple[str, str]] = []
    notes: List[str] = []

    pkg = sys.modules.get("epochpp")
    pkg_dir = Path(__file__).resolve().parent
    rows["epochpp"] = f"{_safe(epochpp_version, 'unknown')} ({pkg_dir})"
    if pkg is not None and getattr(pkg, "__file__", None) is None:
        notes.append("python/epochpp/__init__.py is missing: epochpp imports as a "
                     "namespace package")

    core = _safe(probe_core, {"ok": False, "error": "probe failed", "path": None,
                              "build_info": None, "build_info_error": None})
    info: Optional[Dict[str, Any]] = core.get("build_info")
    if core["ok"]:
        rows["core"] = f"built ({core['path'] or 'built-in'})"
        if core.get("build_info_error"):
            rows["core"] += f"; build_info() failed: {core['build_info_error']}"
            notes.append("epochpp._core.build_info() failed: versions below come from "
                         "the system, not from the build")
    else:
        rows["core"] = f"not built ({core['error']})"
        problems.append(("epochpp._core is not built",
                         "run ./install.sh (or `pip install -e .` in the repository)"))

    rows["python"] = _safe(probe_python, "unknown")
    numpy_text, numpy_ok = _safe(probe_numpy, ("unknown", False))
    rows["numpy"] = numpy_text
    if not numpy_ok:
        problems.append(("NumPy is missing", "pip install numpy"))

    # LLVM and oneTBB: the versions the extension was built against, when it is built.
    if info and info.get("llvm_version"):
        rows["llvm"] = f"{info['llvm_version']} (linked into epochpp._core)"
    else:
        llvm = _safe(probe_llvm_config, None)
        if llvm:
            rows["llvm"] = f"{llvm} (from {LLVM_CONFIG})"
        else:
            rows["llvm"] = f"not found (no {LLVM_CONFIG} on PATH)"
            problems.append(("LLVM 19 not found", "apt-get install llvm-19-dev"))
    if info and info.get("tbb_version"):
        rows["tbb"] = f"{info['tbb_version']} (linked into epochpp._core)"
    else:
        tbb = _safe(probe_tbb_header, None)
        if tbb:
            rows["tbb"] = f"{tbb} (from {TBB_VERSION_H})"
        else:
            rows["tbb"] = f"not found (no {TBB_VERSION_H})"
            problems.append(("oneTBB not found", "apt-get install libtbb-dev"))

    if info and info.get("target_triple"):
        rows["target_triple"] = str(info["target_triple"])
    else:
        out = _run([LLVM_CONFIG, "--host-target"]) if shutil.which(LLVM_CONFIG) else None
        rows["target_triple"] = (f"{out.strip()} (from {LLVM_CONFIG})" if out
                                 else f"{platform.machine() or 'unknown'}-{sys.platform} "
                                      "(from platform)")

    cpu_name, cpu_features = _safe(lambda: probe_cpu(info), ("unknown CPU", "unknown"))
    rows["cpu"], rows["cpu_features"] = cpu_name, cpu_features
    rows["threads"] = _safe(probe_threads, "unknown")

    cuda = _safe(probe_cuda_driver, {"found": False, "driver": "unknown (probe failed)",
                                     "devices": "unknown", "count": 0})
    rows["cuda_driver"], rows["cuda_devices"] = cuda["driver"], cuda["devices"]
    toolkit, libdevice, libdevice_ok = _safe(probe_cuda_toolkit,
                                             ("unknown", "unknown", False))
    rows["cuda_toolkit"], rows["libdevice"] = toolkit, libdevice
    if not cuda["count"]:
        notes.append("no usable CUDA device: Level 4 (GPU) falls back to Level 3 (CPU)")
    elif not libdevice_ok:
        notes.append("libdevice not found: GPU kernels that call math functions fall back "
                     "to the CPU (install the CUDA toolkit or set CUDA_HOME)")

    rows["settings"] = _safe(probe_settings, "unknown")

    if problems:
        rows["status"] = "problems found: " + "; ".join(what for what, _ in problems)
    else:
        rows["status"] = "OK"
    return rows, problems, notes, bool(core["ok"])


def collect() -> Dict[str, str]:
    """Every fact `epochpp doctor` shows, keyed as in ROWS; values are non-empty strings."""
    rows, _, _, _ = _gather()
    return {key: (rows.get(key) or "unknown") for key, _ in ROWS}


def _format(rows: Dict[str, str], width: int = 100) -> List[str]:
    label_w = max(len(label) for _, label in ROWS)
    indent = " " * (label_w + 3)
    lines: List[str] = []
    for key, label in ROWS:
        if key == "status":
            continue
        value_lines = str(rows.get(key) or "unknown").split("\n")
        first = True
        for value in value_lines:
            wrapped = textwrap.wrap(value, width=max(40, width - len(indent)),
                                    break_long_words=False, break_on_hyphens=False) or [""]
            for piece in wrapped:
                lines.append(f"{label:<{label_w}} : {piece}" if first else indent + piece)
                first = False
    return lines


def report(file=None) -> int:
    """Print the doctor report; 0 when the native core imports, 1 otherwise."""
    out = sys.stdout if file is None else file
    rows, problems, notes, core_ok = _gather()
    for line in _format(rows):
        print(line, file=out)
    print("", file=out)
    for note in notes:
        print(f"note: {note}", file=out)
    if problems:
        print(f"status: problems found ({len(problems)})", file=out)
        for what, fix in problems:
            print(f"  - {what}: {fix}", file=out)
    else:
        print("status: OK", file=out)
    return 0 if core_ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(report())
