"""pytest configuration for the Python tests: makes diffharness importable, reports mode.

EPOCHPP_TEST_FAKE_JIT=1 is a harness self-test: the differential tests then run against an
identity "jit" (see diffharness.py) so the test logic itself can be validated against
CPython while the compiler is unfinished. Never use it to judge the compiler.
"""

import atexit
import os
import shutil
import sys
import tempfile

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import diffharness  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(params=[2, 3])
def level(request, monkeypatch):
    """Levels 2 and 3, with every Level 3 parallel loop on the workers however small (a module
    that needs other levels defines its own `level`)."""
    monkeypatch.setenv("EPOCHPP_PARALLEL_MIN_WORK", "0")
    return request.param

# The tests compile thousands of functions: they get a cache directory of their own (inherited by the
# subprocesses they start), not the user's ~/.cache/epochpp, which would grow by ~200 MB a run.
if "EPOCHPP_CACHE_DIR" not in os.environ:
    _CACHE = tempfile.mkdtemp(prefix="epochpp-test-cache-")
    os.environ["EPOCHPP_CACHE_DIR"] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, True)


def pytest_report_header(config):
    if diffharness.FAKE_JIT:
        return ("epochpp differential tests: EPOCHPP_TEST_FAKE_JIT=1 "
                "(harness self-test, NOT the compiler)")
    return "epochpp differential tests: against the real epochpp.jit"
