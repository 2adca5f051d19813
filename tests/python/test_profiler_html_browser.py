"""The HTML report in a real browser: headless Chromium loads it with no console errors, and the
hotspot table and the flame graph (drawn by the page's script) are in the DOM. Skipped when no
`chromium` is installed (Debian: apt-get install chromium)."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from test_profiler import run_workload

CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")


def _chromium(*args, timeout=90):
    cmd = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions",
           "--enable-logging=stderr", "--v=0", *args]
    env = dict(os.environ, HOME=os.environ.get("HOME", "/tmp"))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def _console_problems(stderr):
    # console messages come out as `INFO:CONSOLE(line)] "message", source: ...`
    return [ln for ln in stderr.splitlines()
            if "Uncaught" in ln or ("CONSOLE" in ln and re.search(r"\b(Error|error)\b", ln))]


@pytest.fixture(scope="module")
def page():
    run = run_workload("mixed_pipeline.py")
    return run, pathlib.Path(run.html_path)


def test_page_loads_without_console_errors_and_shows_the_table(page):
    run, path = page
    r = _chromium("--virtual-time-budget=3000", "--dump-dom", path.as_uri())
    assert r.returncode == 0, r.stderr[-2000:]
    assert _console_problems(r.stderr) == []
    dom = r.stdout
    assert '<table id="hotspots"' in dom
    rows = re.findall(r'<tr data-fn="', dom)
    assert len(rows) == len(run.hotspots) > 0
    # the flame graph was drawn by the page's script: frames exist only after it ran
    frames = re.findall(r'<div class="fr[ "]', dom)
    assert len(frames) >= 5, "the flame graph script did not draw"
    assert ">chunk_scores<" in dom


def test_screenshot(page, tmp_path):
    _, path = page
    shot = tmp_path / "profile.png"
    r = _chromium("--hide-scrollbars", "--window-size=1400,1400", f"--screenshot={shot}", path.as_uri())
    assert r.returncode == 0, r.stderr[-2000:]
    assert _console_problems(r.stderr) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a page, not a blank image
    keep = os.environ.get("EPOCHPP_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
