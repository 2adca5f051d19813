"""The IPython extension: %load_ext epochpp, %epochpp_level, %%epochpp_profile."""
import pytest

import diffharness

IPython = pytest.importorskip("IPython")
pytestmark = pytest.mark.skipif(diffharness.FAKE_JIT, reason="needs the real compiler")


@pytest.fixture()
def ip():
    from IPython.testing.globalipapp import start_ipython
    shell = start_ipython()
    yield shell
    shell.run_line_magic("epochpp_level", "0")


def test_magics(ip, capsys):
    ip.run_line_magic("load_ext", "epochpp")
    ip.run_cell("def f(n):\n    s = 0\n    for i in range(n):\n        s += i\n    return s\n")
    ip.run_line_magic("epochpp_level", "2")
    assert "epochpp level 2" in capsys.readouterr().out
    ip.run_cell("r = f(100)")
    assert ip.user_ns["r"] == 4950
    assert type(ip.user_ns["f"]).__name__ == "Dispatcher"
    assert ip.user_ns["f"].stats["native_calls"] == 1
    # a function defined in a later cell is accelerated after the cell runs
    ip.run_cell("def g(n):\n    t = 0.0\n    for i in range(n):\n        t += 0.5\n    return t\n")
    assert type(ip.user_ns["g"]).__name__ == "Dispatcher"
    ip.run_cell_magic("epochpp_profile", "", "import time\nx = 0\nfor i in range(300000):\n    x += i\n")
    out = capsys.readouterr().out
    assert "Where the time goes" in out or "epochpp" in out
