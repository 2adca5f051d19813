"""Tests for `epochpp doctor`, `epochpp version` and the CLI skeleton (python/epochpp/cli.py).

They pass whether or not the native extension epochpp._core is built, and on machines with
or without a GPU: the CUDA driver is mocked where a test depends on it.
"""

import ctypes
import importlib.util
import io
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("epochpp") is None:  # not installed: use the source tree
    sys.path.insert(0, str(REPO / "python"))

from epochpp import cli, doctor  # noqa: E402

# The directory that holds the epochpp package we test, for the subprocesses.
PKG_PARENT = Path(doctor.__file__).resolve().parents[1]


def _run_module(*args, env_extra=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PKG_PARENT), env.get("PYTHONPATH", "")) if p)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "epochpp", *args], capture_output=True,
                          text=True, env=env, timeout=120, cwd=str(REPO))


def _core_importable_in_subprocess():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PKG_PARENT), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, "-c", "import epochpp._core"],
                          capture_output=True, env=env, timeout=120, cwd=str(REPO))
    return proc.returncode == 0


# --------------------------------------------------------------------------- fakes


def _fail_libcuda(monkeypatch):
    """Make ctypes.CDLL fail for libcuda only, as on a machine without an NVIDIA driver."""
    real_cdll = ctypes.CDLL

    def fake_cdll(name, *args, **kwargs):
        if "libcuda" in str(name):
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")
        return real_cdll(name, *args, **kwargs)

    monkeypatch.setattr(ctypes, "CDLL", fake_cdll)


class _FakeLibcuda:
    """Just enough of the CUDA driver API for doctor.probe_cuda_driver()."""

    def __init__(self, init_rc=0, version=13000, names=("Fake GPU H100",)):
        self.init_rc, self.version, self.names = init_rc, version, list(names)

    @staticmethod
    def _set(ref, value):
        ref._obj.value = value  # ctypes.byref(x)._obj is x

    def cuDriverGetVersion(self, ref):
        self._set(ref, self.version)
        return 0

    def cuInit(self, flags):
        assert flags == 0
        return self.init_rc

    def cuGetErrorName(self, code, ref):
        self._set(ref, {100: b"CUDA_ERROR_NO_DEVICE"}.get(code, b"CUDA_ERROR_UNKNOWN"))
        return 0

    def cuDeviceGetCount(self, ref):
        self._set(ref, len(self.names))
        return 0

    def cuDeviceGet(self, ref, ordinal):
        self._set(ref, ordinal)
        return 0

    def cuDeviceGetName(self, buf, length, dev):
        buf.value = self.names[dev.value].encode()
        return 0

    def cuDeviceGetAttribute(self, ref, attr, dev):
        self._set(ref, {75: 9, 76: 0}[attr])
        return 0

    def cuDeviceTotalMem_v2(self, ref, dev):
        self._set(ref, 80 * 2**30)
        return 0


def _fake_libcuda(monkeypatch, lib):
    real_cdll = ctypes.CDLL

    def fake_cdll(name, *args, **kwargs):
        if "libcuda" in str(name):
            return lib
        return real_cdll(name, *args, **kwargs)

    monkeypatch.setattr(ctypes, "CDLL", fake_cdll)


def _fake_core(monkeypatch, **overrides):
    info = {"llvm_version": "19.1.7", "tbb_version": "2021.8", "host_cpu": "znver3",
            "cpu_features": ["sse4.2", "avx", "avx2", "fma", "-avx512f", "+bmi2"],
            "target_triple": "x86_64-unknown-linux-gnu"}
    info.update(overrides)
    mod = types.ModuleType("epochpp._core")
    mod.__file__ = "/fake/epochpp/_core.so"
    mod.build_info = lambda: dict(info)
    monkeypatch.setitem(sys.modules, "epochpp._core", mod)


def _no_core(monkeypatch):
    monkeypatch.setitem(sys.modules, "epochpp._core", None)  # import raises ImportError


# --------------------------------------------------------------------------- collect()


def test_collect_returns_every_key_non_empty():
    info = doctor.collect()
    expected = {key for key, _ in doctor.ROWS}
    assert set(info) == expected
    for key, value in info.items():
        assert isinstance(value, str) and value.strip(), key


def test_collect_basic_facts():
    info = doctor.collect()
    assert info["python"].startswith(sys.version.split()[0])
    assert sys.executable in info["python"]
    assert str(os.cpu_count()) in info["threads"]
    assert info["epochpp"].startswith(doctor.epochpp_version())


def test_settings_lists_epochpp_env_vars(monkeypatch):
    for key in [k for k in os.environ if k.startswith("EPOCHPP_")]:
        monkeypatch.delenv(key)
    assert doctor.collect()["settings"] == "(none set)"
    monkeypatch.setenv("EPOCHPP_LEVEL", "3")
    monkeypatch.setenv("EPOCHPP_DUMP", "ir,llvm")
    monkeypatch.setenv("NOT_EPOCHPP_X", "1")
    settings = doctor.collect()["settings"]
    assert settings == "EPOCHPP_DUMP=ir,llvm\nEPOCHPP_LEVEL=3"
    out = io.StringIO()
    doctor.report(out)
    assert "EPOCHPP_LEVEL=3" in out.getvalue()
    assert "NOT_EPOCHPP_X" not in out.getvalue()


# --------------------------------------------------------------------------- core / fallbacks


def test_core_missing_falls_back_and_returns_1(monkeypatch):
    _no_core(monkeypatch)
    info = doctor.collect()
    assert info["core"].startswith("not built (")
    # Fallbacks: llvm-config-19, oneTBB's version.h, /proc/cpuinfo - or a clean "not found".
    assert info["llvm"].startswith(("not found", doctor.probe_llvm_config() or "\0"))
    assert info["tbb"].startswith(("not found", doctor.probe_tbb_header() or "\0"))
    assert "problems found" in info["status"]
    out = io.StringIO()
    assert doctor.report(out) == 1
    text = out.getvalue()
    assert "epochpp._core" in text and "not built" in text
    assert "./install.sh" in text


def test_core_build_info_is_used(monkeypatch):
    _fake_core(monkeypatch)
    info = doctor.collect()
    assert info["core"] == "built (/fake/epochpp/_core.so)"
    assert info["llvm"].startswith("19.1.7")
    assert info["tbb"].startswith("2021.8")
    assert "znver3" in info["cpu"]
    assert info["target_triple"] == "x86_64-unknown-linux-gnu"
    # Vector features come from the core: '+' stripped, '-' (disabled) dropped.
    assert info["cpu_features"] == "sse4.2 avx avx2 fma bmi2"
    out = io.StringIO()
    assert doctor.report(out) == 0


def test_core_without_build_info_still_counts_as_built(monkeypatch):
    mod = types.ModuleType("epochpp._core")
    monkeypatch.setitem(sys.modules, "epochpp._core", mod)
    info = doctor.collect()
    assert info["core"].startswith("built") and "build_info() failed" in info["core"]
    assert info["llvm"] and info["tbb"]
    assert doctor.report(io.StringIO()) == 0


def test_tbb_header_parsing(tmp_path):
    header = tmp_path / "version.h"
    header.write_text("#define TBB_VERSION_MAJOR 2022\n#define TBB_VERSION_MINOR 3\n")
    assert doctor.probe_tbb_header(header) == "2022.3"
    assert doctor.probe_tbb_header(tmp_path / "missing.h") is None


def test_cpu_features_from_proc_cpuinfo(monkeypatch):
    monkeypatch.setattr(doctor, "_read_proc_cpuinfo", lambda: {
        "model name": "Test CPU 9000",
        "flags": "fpu sse2 pni ssse3 sse4_1 sse4_2 avx avx2 fma avx512f avx512_vnni"})
    name, features = doctor.probe_cpu(None)
    assert name == "Test CPU 9000"
    assert features.startswith("sse2 sse3 ssse3 sse4.1 sse4.2 avx avx2 fma avx512f avx512vnni")


# --------------------------------------------------------------------------- CUDA


def test_cuda_not_found_is_clean(monkeypatch):
    _fail_libcuda(monkeypatch)
    probe = doctor.probe_cuda_driver()
    assert probe["found"] is False
    assert probe["driver"] == "not found (no libcuda.so.1)"
    info = doctor.collect()
    assert info["cuda_driver"] == "not found (no libcuda.so.1)"
    out = io.StringIO()
    doctor.report(out)  # must not raise
    lines = out.getvalue().splitlines()
    driver_line = next(line for line in lines if line.startswith("CUDA driver"))
    assert driver_line.split(":", 1)[1].strip() == "not found (no libcuda.so.1)"
    # A missing driver is not a problem: CUDA is optional (Level 4 falls back to the CPU).
    assert not any("CUDA" in line for line in lines if line.startswith("  - "))


def test_cuda_driver_and_devices_reported(monkeypatch):
    _fake_libcuda(monkeypatch, _FakeLibcuda(version=12040, names=["Fake A", "Fake B"]))
    probe = doctor.probe_cuda_driver()
    assert probe["driver"] == "12.4"
    assert probe["count"] == 2
    assert probe["devices"].splitlines() == ["0: Fake A (sm_90, 80.0 GiB)",
                                             "1: Fake B (sm_90, 80.0 GiB)"]
    out = io.StringIO()
    doctor.report(out)
    driver_line = next(line for line in out.getvalue().splitlines()
                       if line.startswith("CUDA driver"))
    assert driver_line.split(":", 1)[1].strip() == "12.4"
    assert "Fake B" in out.getvalue()


def test_cuda_init_failure_is_reported(monkeypatch):
    _fake_libcuda(monkeypatch, _FakeLibcuda(init_rc=100))
    probe = doctor.probe_cuda_driver()
    assert probe["driver"] == "13.0 (cuInit failed: CUDA_ERROR_NO_DEVICE)"
    assert probe["count"] == 0


def test_cuda_toolkit_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_HOME", str(tmp_path / "nowhere"))
    toolkit, libdevice, ok = doctor.probe_cuda_toolkit()
    assert toolkit.startswith("not found") and libdevice.startswith("not found")
    assert ok is False


def test_cuda_toolkit_found(monkeypatch, tmp_path):
    nvcc = tmp_path / "bin" / "nvcc"
    nvcc.parent.mkdir()
    nvcc.write_text("#!/bin/sh\necho 'Cuda compilation tools, release 13.0, V13.0.88'\n")
    nvcc.chmod(0o755)
    libdevice = tmp_path / "nvvm" / "libdevice" / "libdevice.10.bc"
    libdevice.parent.mkdir(parents=True)
    libdevice.write_bytes(b"BC")
    monkeypatch.setenv("CUDA_HOME", str(tmp_path))
    toolkit, found, ok = doctor.probe_cuda_toolkit()
    assert toolkit == f"nvcc 13.0.88 ({tmp_path})"
    assert found == str(libdevice) and ok is True


# --------------------------------------------------------------------------- command line


def test_python_m_epochpp_doctor():
    proc = _run_module("doctor")
    text = proc.stdout
    assert proc.returncode == (0 if _core_importable_in_subprocess() else 1), proc.stderr
    labels = [line.split(":", 1)[0].strip() for line in text.splitlines() if " : " in line]
    for label in ("epochpp", "epochpp._core", "Python", "NumPy", "LLVM", "oneTBB",
                  "CPU", "CPU vector features", "threads", "CUDA driver", "CUDA devices",
                  "CUDA toolkit", "libdevice", "settings (EPOCHPP_*)"):
        assert label in labels, (label, text)
    assert "status:" in text
    # Two aligned columns: every "name : value" row has its colon in the same column.
    columns = {line.index(" : ") for line in text.splitlines()
               if " : " in line and not line.startswith(" ")}
    assert len(columns) == 1, text


def test_python_m_epochpp_version():
    proc = _run_module("version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"epochpp {doctor.epochpp_version()}"
    assert doctor.epochpp_version() != "unknown"


def test_version_in_process(capsys):
    assert cli.main(["version"]) == 0
    assert capsys.readouterr().out.strip().startswith("epochpp ")


def test_every_command_is_implemented():
    names = [name for name, *_ in cli.SUBCOMMANDS]
    assert set(names) >= {"run", "profile", "bench", "cache", "doctor", "version"}


@pytest.mark.parametrize("command", ["run", "profile", "bench"])
def test_missing_script_is_a_clear_error(command, capsys, tmp_path):
    missing = str(tmp_path / "nope.py")
    assert cli.main([command, missing]) == 2
    assert f"no such script: {missing}" in capsys.readouterr().err


def test_no_command_and_bad_arguments(capsys):
    assert cli.main([]) == 2
    assert "usage" in capsys.readouterr().err
    assert cli.main(["version", "--bogus"]) == 2
    assert cli.main(["nonsense"]) == 2
    assert cli.main(["--help"]) == 0
