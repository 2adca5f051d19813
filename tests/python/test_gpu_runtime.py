"""Level 4's runtime from Python: epochpp.gpu_info() / gpu_stats() without a driver and with the fake CUDA driver
(tests/cpp/fake_cuda, compiled here), ep_rt_gpu_for through ctypes, the profile's gpu section and report line.
Tests marked `gpu` run a real PTX kernel and skip where gpu_info()["available"] is False."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import diffharness

diffharness.get_epochpp()  # the epochpp in use (installed, or the source tree's python/)
import epochpp  # noqa: E402
import gpu_helpers as gh  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(epochpp.__file__)))


def run_python(source, **env):
    e = dict(os.environ, PYTHONPATH=os.pathsep.join([PYTHON_DIR, HERE]), PYTHONUNBUFFERED="1")
    e.pop("EPOCHPP_CUDA_LIBRARY", None)
    e.update(env)
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(source)], env=e, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr + p.stdout
    return p.stdout


@pytest.fixture(scope="module")
def fake_driver(tmp_path_factory):
    try:
        path = gh.build_fake_driver(str(tmp_path_factory.mktemp("fakecuda")))
    except subprocess.CalledProcessError as err:
        pytest.fail(f"the fake CUDA driver does not compile: {err}")
    if path is None:
        pytest.skip("no C++ compiler to build the fake CUDA driver")
    return path


def test_gpu_info_has_every_field():
    info = epochpp.gpu_info()
    for key in ("available", "reason", "name", "cc_major", "cc_minor", "sm_count", "max_threads_per_sm",
                "max_threads_per_block", "total_mem", "mem_bandwidth_gbs", "driver_version", "residency",
                "resident_bytes", "totals"):
        assert key in info
    assert info["available"] == (info["reason"] == "")
    stats = epochpp.gpu_stats()
    assert set(stats) == {"total", "kernels"}
    assert set(stats["total"]) == set(info["totals"])


def test_without_a_driver_gpu_info_says_why_and_loops_fall_back():
    out = run_python("""
        import json, numpy as np, epochpp, gpu_helpers as gh
        from epochpp import _core
        info = epochpp.gpu_info()
        a = np.arange(200000.0); b = np.zeros_like(a)
        rc = gh.launch_double(_core, a, b)
        print(json.dumps({"info": info, "rc": rc, "b": float(b.sum()), "stats": epochpp.gpu_stats()}))
    """, EPOCHPP_CUDA_LIBRARY="libepochpp-no-such-driver.so.1")
    r = json.loads(out)
    assert r["info"]["available"] is False
    assert r["info"]["reason"] == "no CUDA driver (libepochpp-no-such-driver.so.1 not found)"
    assert r["rc"] == gh.EP_DEOPT
    assert r["b"] == 0.0
    total = r["stats"]["total"]
    assert (total["calls"], total["fallbacks"], total["launches"]) == (1, 1, 0)
    assert total["last_reason"] == "line 42: no CUDA driver (libepochpp-no-such-driver.so.1 not found)"
    assert r["stats"]["kernels"]["ep_test_double"]["fallbacks"] == 1


def test_with_the_fake_driver_info_launch_residency_and_stats(fake_driver):
    out = run_python("""
        import ctypes, json, os, numpy as np, epochpp, gpu_helpers as gh
        from epochpp import _core
        _core.set_setting("gpu_min_elements", "1000"); _core.set_setting("gpu_min_speedup", "0")
        info = epochpp.gpu_info()
        lib = ctypes.CDLL(os.environ["EPOCHPP_CUDA_LIBRARY"])  # the same library the runtime loaded
        hook = gh.fake_hook_double(lib)
        a = np.arange(100000.0); b = np.zeros_like(a)
        first = gh.launch_double(_core, a, b)
        ok1 = bool((b == 2 * a).all())
        s1 = epochpp.gpu_stats(reset=True)
        second = gh.launch_double(_core, a, b)
        s2 = epochpp.gpu_stats()
        print(json.dumps({"info": info, "rc": [first, second], "ok1": ok1, "s1": s1, "s2": s2,
                          "after": epochpp.gpu_info()}))
    """, EPOCHPP_CUDA_LIBRARY=fake_driver)
    r = json.loads(out)
    info = r["info"]
    assert info["available"] is True and info["reason"] == ""
    assert info["name"] == "epochpp fake CUDA device"
    assert (info["cc_major"], info["cc_minor"], info["sm_count"]) == (9, 0, 4)
    assert info["total_mem"] == 1 << 30
    assert info["driver_version"] == 12040
    assert r["rc"] == [gh.EP_OK, gh.EP_OK]
    assert r["ok1"]
    k1 = r["s1"]["kernels"]["ep_test_double"]
    assert (k1["launches"], k1["bytes_up"], k1["bytes_down"], k1["resident_misses"]) == (1, 1600000, 800000, 2)
    k2 = r["s2"]["kernels"]["ep_test_double"]
    assert (k2["launches"], k2["bytes_up"], k2["resident_hits"]) == (1, 0, 2)  # both stayed on the "device"
    assert r["after"]["resident_spans"] == 2
    assert r["after"]["resident_bytes"] >= 1600000


def test_profile_has_a_gpu_section_and_a_report_line(fake_driver, tmp_path):
    path = tmp_path / "p.json"
    out = run_python(f"""
        import io, numpy as np, epochpp, gpu_helpers as gh
        from epochpp import _core
        _core.set_setting("gpu_min_elements", "1000"); _core.set_setting("gpu_min_speedup", "0")
        a = np.arange(100000.0); b = np.zeros_like(a)
        gh.launch_double(_core, a, b)  # before the profile: not counted in it
        with epochpp.profile(interval_ms=5) as p:
            gh.launch_double(_core, a + 1, b)    # a new array: uploaded, the fake "kernel" takes 400 ms
            gh.launch_double(_core, a, b, n=10)  # too small: a fallback
        p.to_json({str(path)!r})
        buf = io.StringIO(); p.report(file=buf, color=False); print(buf.getvalue())
    """, EPOCHPP_CUDA_LIBRARY=fake_driver, FAKE_CUDA_KERNEL_SLEEP_MS="400")
    prof = json.loads(path.read_text())
    g = prof["gpu"]
    assert g["launches"] == 1 and g["fallbacks"] == 1
    assert g["bytes_up"] == 800000  # a + 1 only: b was resident and unchanged
    assert g["bytes_down"] == 800000
    assert 0.39 < g["kernel_s"] < 0.41  # the fake reports its sleep as the kernel's event time
    assert g["transfer_s"] > 0
    assert g["last_reason"].startswith("line 42: too small: 10 iterations")
    assert prof["breakdown"]["gpu"] > 0.3, prof["breakdown"]  # the sampler saw the thread in GPU mode
    assert "GPU: 1 launches, 400.0 ms in kernels" in out
    assert "1 ran on the CPU instead (last: line 42: too small" in out
    from test_profiler import SCHEMA_PATH, schema_errors
    with open(SCHEMA_PATH) as f:
        assert schema_errors(prof, json.load(f)) == []


def test_no_gpu_line_when_level_4_was_not_used():
    import io
    with epochpp.profile(interval_ms=5) as p:
        sum(range(1000))
    assert p.to_dict()["gpu"]["launches"] == 0
    buf = io.StringIO()
    p.report(file=buf, color=False)
    assert "GPU:" not in buf.getvalue()


@pytest.mark.gpu
def test_real_gpu_runs_a_ptx_kernel():
    if not epochpp.gpu_info()["available"]:
        pytest.skip(f"no GPU: {epochpp.gpu_info()['reason']}")
    from epochpp import _core
    _core.set_setting("gpu_min_elements", "1000")
    _core.set_setting("gpu_min_speedup", "0")
    try:
        a = np.random.default_rng(1).standard_normal(1 << 21)
        b = np.zeros_like(a)
        before = epochpp.gpu_stats()["total"]
        assert gh.launch_double(_core, a, b) == gh.EP_OK, epochpp.gpu_stats()["total"]["last_reason"]
        assert (b == 2 * a).all()
        after = epochpp.gpu_stats()["total"]
        assert after["launches"] == before["launches"] + 1
        assert after["kernel_s"] > before["kernel_s"]
    finally:
        for name in ("gpu_min_elements", "gpu_min_speedup"):
            _core.set_setting(name, next(s["default"] for s in epochpp.settings() if s["name"] == name))
