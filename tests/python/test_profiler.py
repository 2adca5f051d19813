"""The profiler end to end: labelled workloads (tests/profiler_workloads) must get the right kind of
top hotspot; the JSON report follows its schema (profile_schema.json); the HTML report is one
self-contained file with the table; the speedscope file has the structure speedscope reads; threads,
sys.exit and uncaught exceptions still give a report."""
import atexit
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest

import diffharness  # noqa: F401  (puts the package on sys.path when it is not installed)

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = os.path.join(os.path.dirname(HERE), "profiler_workloads")
SCHEMA_PATH = os.path.join(HERE, "profile_schema.json")
KINDS = ("loop", "parallel", "array", "io")
CATEGORIES = ("python", "native", "compiled", "parallel", "gpu", "io", "other")
SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
SPEEDSCOPE_UNITS = {"none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"}


def _profiling():
    if diffharness.FAKE_JIT:
        pytest.skip("profiler tests need the real extension (EPOCHPP_TEST_FAKE_JIT=1)")
    diffharness.get_epochpp()  # puts python/ on sys.path for a source tree
    try:
        from epochpp import _core  # noqa: PLC0415
    except ImportError as err:
        pytest.fail(f"epochpp._core is not built: {err}", pytrace=False)
    if not hasattr(_core, "Sampler"):
        pytest.fail("epochpp._core has no Sampler: rebuild the extension", pytrace=False)
    try:
        import epochpp.profiling as profiling  # noqa: PLC0415
    except ImportError as err:
        import epochpp  # noqa: PLC0415

        pytest.fail(f"epochpp.profiling missing from {epochpp.__file__}: {err} (set PYTHONPATH=python?)", pytrace=False)
    return profiling


# ----------------------------------------------------------------------------------------------
# workloads: each file says what it is in its first lines ("# expect: loop", "# also: array io")
# ----------------------------------------------------------------------------------------------
def _labels(path):
    expect, also = None, ()
    with open(path) as f:
        for line in [f.readline() for _ in range(3)]:
            m = re.match(r"#\s*expect:\s*(\w+)", line)
            if m:
                expect = m.group(1)
            m = re.match(r"#\s*also:\s*(.+)", line)
            if m:
                also = tuple(m.group(1).replace(",", " ").split())
    return expect, also


WORKLOAD_FILES = sorted(f for f in os.listdir(WORKLOADS) if f.endswith(".py") and _labels(os.path.join(WORKLOADS, f))[0])

# Each workload runs in a fresh interpreter, as `epochpp profile` runs it: threads left over by other
# tests (or by IPython) must not share its profile. The driver writes every report, plus a few facts.
DRIVER = """
import json, sys
from epochpp.profiling import run_script
script, out = sys.argv[1], sys.argv[2]
code, prof = run_script(script)
prof.to_json(out + ".json")
prof.to_html(out + ".html")
prof.to_speedscope(out + ".speedscope.json")
a = prof.attribution
with open(out + ".facts.json", "w") as f:
    json.dump({"code": code, "thread_time": a.thread_time, "tids": len({s.tid for s in a.samples})}, f)
"""
_OUT = tempfile.mkdtemp(prefix="epochpp-profiles-")
atexit.register(shutil.rmtree, _OUT, True)
_RUNS: dict = {}


class Run:
    """One profiled workload: its exit code, the JSON dict, the HTML and speedscope paths."""

    def __init__(self, name, output, prefix):
        self.name, self.output = name, output
        with open(prefix + ".facts.json") as f:
            facts = json.load(f)
        self.code, self.thread_time, self.tids = facts["code"], facts["thread_time"], facts["tids"]
        with open(prefix + ".json") as f:
            self.profile = json.load(f)
        self.html_path, self.speedscope_path = prefix + ".html", prefix + ".speedscope.json"
        self.hotspots = self.profile["hotspots"]

    def describe(self):
        p = self.profile
        bd = ", ".join(f"{k} {100 * v:.1f}%" for k, v in p["breakdown"].items() if v >= 0.001)
        hs = "\n".join(f"    {h['kind']:8} {100 * h['share']:5.1f}%  {h['function']} "
                       f"({os.path.basename(h['file'])}:{h['line']}) L{h['level']}: {h['evidence']}"
                       for h in self.hotspots[:6])
        return f"{p['samples']} samples, {p['wall_s']:.2f} s wall; breakdown: {bd}\n  hotspots:\n{hs}"


def run_workload(name, fresh=False):
    """The Run of one workload, profiled once per test session in its own interpreter
    (`fresh`: profile it again)."""
    if name not in _RUNS or fresh:
        profiling = _profiling()
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(profiling.__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")]),
                   # BLAS on the calling thread: its helper threads are not Python threads, and on a
                   # 2-core machine they make the main thread's state depend on the scheduler
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        prefix = os.path.join(_OUT, name[:-3])
        r = subprocess.run([sys.executable, "-c", DRIVER, os.path.join(WORKLOADS, name), prefix], env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"the profiling driver failed on {name}:\n{r.stdout}\n{r.stderr}"
        _RUNS[name] = Run(name, r.stdout + r.stderr, prefix)
    return _RUNS[name]


def describe(prof):
    """A Profile (in-process runs) in a few lines, for assertion messages."""
    bd = ", ".join(f"{k} {100 * v:.1f}%" for k, v in prof.breakdown.items() if v >= 0.001)
    hs = "\n".join(f"    {h.kind:8} {100 * h.share:5.1f}%  {h.function} ({os.path.basename(h.file)}:{h.line}) "
                   f"L{h.level}: {h.evidence}" for h in prof.hotspots[:6])
    return f"{prof.sample_count} samples, {prof.wall_s:.2f} s wall; breakdown: {bd}\n  hotspots:\n{hs}"


def test_every_kind_has_workloads():
    kinds = [_labels(os.path.join(WORKLOADS, f))[0] for f in WORKLOAD_FILES]
    for k in KINDS:
        assert kinds.count(k) >= 2, f"need at least two '{k}' workloads in {WORKLOADS}"
    assert any(_labels(os.path.join(WORKLOADS, f))[1] for f in WORKLOAD_FILES), "need a mixed workload (# also: ...)"


@pytest.mark.parametrize("name", WORKLOAD_FILES)
def test_workload_top_hotspot_kind(name):
    expect, also = _labels(os.path.join(WORKLOADS, name))
    run = run_workload(name)
    # a sampling profiler is statistical: on a loaded 2-core machine one run in a few can be
    # misled by scheduling, so a wrong kind gets one fresh run before it counts as a failure
    if run.code == 0 and run.hotspots and run.hotspots[0]["kind"] != expect:
        run = run_workload(name, fresh=True)
    assert run.code == 0, run.output
    assert run.hotspots, f"{name}: no hotspots\n  {run.describe()}"
    top = run.hotspots[0]
    assert top["kind"] == expect, f"{name}: top hotspot is {top['kind']}, expected {expect}\n  {run.describe()}"
    kinds = {h["kind"] for h in run.hotspots}
    for k in also:
        assert k in kinds, f"{name}: no '{k}' hotspot among the hotspots\n  {run.describe()}"


# ----------------------------------------------------------------------------------------------
# JSON: the schema (with jsonschema when installed, and always with the small validator below)
# ----------------------------------------------------------------------------------------------
def _type_ok(value, t):
    if isinstance(t, list):
        return any(_type_ok(value, x) for x in t)
    return {"object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str), "null": lambda v: v is None,
            "boolean": lambda v: isinstance(v, bool),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}[t](value)


def schema_errors(value, schema, root=None, where="$"):
    """The subset of JSON Schema (draft 7) that profile_schema.json uses; returns the errors."""
    root = root if root is not None else schema
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return schema_errors(value, target, root, where)
    errs = []
    if "type" in schema and not _type_ok(value, schema["type"]):
        return [f"{where}: {value!r} is not of type {schema['type']}"]
    if "const" in schema and value != schema["const"]:
        errs.append(f"{where}: {value!r} != {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{where}: {value!r} not in {schema['enum']}")
    if _type_ok(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        errs.append(f"{where}: shorter than {schema['minLength']}")
    if isinstance(value, dict):
        for k in schema.get("required", []):
            if k not in value:
                errs.append(f"{where}: missing {k!r}")
        props = schema.get("properties", {})
        for k, v in value.items():
            if k in props:
                errs += schema_errors(v, props[k], root, f"{where}.{k}")
            elif schema.get("additionalProperties") is False:
                errs.append(f"{where}: unexpected {k!r}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            errs += schema_errors(v, schema["items"], root, f"{where}[{i}]")
    return errs


def validate_profile_json(d):
    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    errs = schema_errors(d, schema)
    try:
        import jsonschema  # noqa: PLC0415
    except ImportError:
        jsonschema = None
    if jsonschema is not None:
        errs += [f"jsonschema: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(d)]
    # what a schema cannot say
    total = sum(d["breakdown"].values()) if isinstance(d.get("breakdown"), dict) else 0
    if not math.isclose(total, 1.0, abs_tol=1e-5):
        errs.append(f"breakdown sums to {total}, not 1")
    shares = [h.get("share", 0) for h in d.get("hotspots", [])]
    if shares != sorted(shares, reverse=True):
        errs.append(f"hotspots not sorted by share: {shares}")
    return errs


def test_schema_validator_rejects_bad_profiles():
    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    good = {"version": 1, "wall_s": 1.0, "cpu_s": 0.5, "samples": 10, "level": 0,
            "breakdown": dict.fromkeys(CATEGORIES, 0.0) | {"python": 1.0},
            "hotspots": [{"function": "f", "file": "x.py", "line": 3, "kind": "loop", "share": 0.5, "self_s": 0.5,
                          "calls": None, "level": 2, "evidence": "why"}]}
    assert validate_profile_json(good) == []
    bad_kind = json.loads(json.dumps(good))
    bad_kind["hotspots"][0]["kind"] = "gpu"
    assert schema_errors(bad_kind, schema)
    missing = {k: v for k, v in good.items() if k != "wall_s"}
    assert schema_errors(missing, schema)
    extra_cat = json.loads(json.dumps(good))
    extra_cat["breakdown"]["lock"] = 0.0
    assert schema_errors(extra_cat, schema)
    not_one = json.loads(json.dumps(good))
    not_one["breakdown"]["python"] = 0.7
    assert validate_profile_json(not_one)


@pytest.mark.parametrize("name", WORKLOAD_FILES)
def test_json_report_follows_schema(name):
    run = run_workload(name)
    d = run.profile
    assert validate_profile_json(d) == [], run.describe()
    assert d["samples"] > 0 and d["wall_s"] > 0
    assert d["script"].endswith(name)
    for h in d["hotspots"]:
        assert h["kind"] in KINDS and 0 < h["share"] <= 1


def test_in_process_profile_follows_schema():
    profiling = _profiling()
    with profiling.profile() as p:
        _busy_inner()
    assert validate_profile_json(p.to_dict()) == []


def test_breakdown_sums_to_one_without_samples():
    profiling = _profiling()
    with profiling.profile() as p:
        pass
    d = p.to_dict()
    assert validate_profile_json(d) == []
    assert d["hotspots"] == []


# ----------------------------------------------------------------------------------------------
# HTML and speedscope
# ----------------------------------------------------------------------------------------------
def test_html_is_self_contained_and_has_the_table():
    run = run_workload("mixed_pipeline.py")
    with open(run.html_path, encoding="utf-8") as f:
        text = f.read()
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://", text), "the page must not reference the network"
    assert not re.search(r"<(link|img|iframe)\b|\bsrc\s*=|@import|url\(", text), "the page must load nothing"
    assert '<table id="hotspots"' in text
    for h in run.hotspots:
        assert h["function"].replace("<", "&lt;").replace(">", "&gt;") in text
        assert f">{h['kind']}</span>" in text
    for c in CATEGORIES:
        assert c in text
    assert 'id="flame"' in text and 'id="epochpp-data"' in text
    # the flame graph data is valid JSON whose root holds all sampled time
    blob = re.search(r'<script type="application/json" id="epochpp-data">(.*?)</script>', text, re.S).group(1)
    data = json.loads(blob)
    root = data["tree"]
    assert root[0] == "all" and root[3] == pytest.approx(run.thread_time, rel=1e-3)
    assert sum(ch[3] for ch in root[6]) <= root[3] + 1e-6
    names = set()

    def walk(n):
        names.add(n[0])
        for ch in n[6]:
            walk(ch)
    walk(root)
    assert {"chunk_scores", "download", "big_transform"} <= names


def test_html_escapes_user_text(tmp_path):
    profiling = _profiling()
    script = tmp_path / "we<ird>&'name.py"
    script.write_text("def f():\n    s = 0\n    for i in range(300000):\n        s += i\n    return s\nf()\n")
    code, prof = profiling.run_script(str(script))
    assert code == 0
    path = tmp_path / "p.html"
    prof.to_html(str(path))
    text = path.read_text(encoding="utf-8")
    assert "we<ird>" not in text and "we&lt;ird&gt;" in text


def speedscope_errors(doc):
    """The structure speedscope's file-format-schema.json requires of a sampled-profile file."""
    errs = []
    for k in ("$schema", "shared", "profiles"):
        if k not in doc:
            errs.append(f"missing {k}")
    if errs:
        return errs
    if doc["$schema"] != SPEEDSCOPE_SCHEMA:
        errs.append("wrong $schema")
    frames = doc["shared"].get("frames")
    if not isinstance(frames, list):
        return errs + ["shared.frames is not a list"]
    for i, fr in enumerate(frames):
        if not isinstance(fr.get("name"), str):
            errs.append(f"frame {i}: no name")
        if "file" in fr and not isinstance(fr["file"], str):
            errs.append(f"frame {i}: file is not a string")
        for k in ("line", "col"):
            if k in fr and not _type_ok(fr[k], "number"):
                errs.append(f"frame {i}: {k} is not a number")
    if not isinstance(doc["profiles"], list) or not doc["profiles"]:
        return errs + ["no profiles"]
    for k, t in (("name", "string"), ("activeProfileIndex", "number"), ("exporter", "string")):
        if k in doc and not _type_ok(doc[k], t):
            errs.append(f"{k} is not a {t}")
    if not 0 <= doc.get("activeProfileIndex", 0) < len(doc["profiles"]):
        errs.append("activeProfileIndex out of range")
    for j, p in enumerate(doc["profiles"]):
        for k in ("type", "name", "unit", "startValue", "endValue", "samples", "weights"):
            if k not in p:
                errs.append(f"profile {j}: missing {k}")
        if errs:
            continue
        if p["type"] != "sampled" or p["unit"] not in SPEEDSCOPE_UNITS or not isinstance(p["name"], str):
            errs.append(f"profile {j}: bad type/unit/name")
        if not (_type_ok(p["startValue"], "number") and _type_ok(p["endValue"], "number")) \
                or p["endValue"] < p["startValue"]:
            errs.append(f"profile {j}: bad startValue/endValue")
        if len(p["samples"]) != len(p["weights"]):
            errs.append(f"profile {j}: {len(p['samples'])} samples but {len(p['weights'])} weights")
        for s in p["samples"]:
            if not isinstance(s, list) or not all(isinstance(i, int) and 0 <= i < len(frames) for i in s):
                errs.append(f"profile {j}: bad stack {s!r}")
                break
        if not all(_type_ok(w, "number") and w >= 0 for w in p["weights"]):
            errs.append(f"profile {j}: bad weights")
        if not math.isclose(sum(p["weights"]), p["endValue"] - p["startValue"], rel_tol=1e-6, abs_tol=1e-9):
            errs.append(f"profile {j}: weights do not add up to endValue - startValue")
    return errs


@pytest.mark.parametrize("name", ["mixed_pipeline.py", "threads_workers.py", "io_socket.py"])
def test_speedscope_file_validates(name):
    run = run_workload(name)
    with open(run.speedscope_path) as f:
        doc = json.load(f)
    assert speedscope_errors(doc) == []
    assert all(p["type"] == "sampled" and p["unit"] == "seconds" for p in doc["profiles"])
    assert len(doc["profiles"]) == run.tids  # one per thread
    total = sum(sum(p["weights"]) for p in doc["profiles"])
    assert total == pytest.approx(run.thread_time, rel=1e-6)
    frames = doc["shared"]["frames"]
    # stacks are outermost first: the script's <module> is the root of the main thread's samples
    main = doc["profiles"][0]
    assert main["name"].startswith("main thread")
    roots = {frames[s[0]]["name"] for s in main["samples"] if s}
    assert f"<module {name}>" in roots
    for h in run.hotspots:
        if h["function"].startswith("<module"):
            continue
        assert any(f["name"] == h["function"] and f.get("file") == h["file"] for f in frames), h["function"]


def _busy_inner():
    s = 0
    for i in range(300_000):
        s += i % 7
    return s


def test_in_process_profile_starts_stacks_at_the_with_block(tmp_path):
    profiling = _profiling()
    with profiling.profile() as p:
        _busy_inner()
        _busy_inner()
    assert top_in(p, __file__).function == "_busy_inner", describe(p)
    path = tmp_path / "p.speedscope.json"
    p.to_speedscope(str(path))
    doc = json.loads(path.read_text())
    assert speedscope_errors(doc) == []
    frames = doc["shared"]["frames"]
    roots = {frames[s[0]]["name"] for s in doc["profiles"][0]["samples"]}
    # pytest's frames around this test are gone; the stacks start at this test function
    assert roots == {"test_in_process_profile_starts_stacks_at_the_with_block"}


def test_speedscope_without_samples(tmp_path):
    profiling = _profiling()
    with profiling.profile() as p:
        pass
    path = tmp_path / "empty.speedscope.json"
    p.to_speedscope(str(path))
    assert speedscope_errors(json.loads(path.read_text())) == []


# ----------------------------------------------------------------------------------------------
# threads, sys.exit, exceptions
# ----------------------------------------------------------------------------------------------
def test_threads_are_reported():
    run = run_workload("threads_workers.py")
    assert run.code == 0, run.output
    assert run.tids >= 3, f"samples from {run.tids} threads only"
    crunch = [h for h in run.hotspots if h["function"] == "crunch"]
    assert crunch and crunch[0]["share"] > 0.3, run.describe()
    with open(run.speedscope_path) as f:
        doc = json.load(f)
    assert sum("crunch" in p["name"] for p in doc["profiles"]) >= 2


WORK = textwrap.dedent("""
    def work():
        s = 0
        for i in range(400_000):
            s += i * i
        return s
    """)


def top_in(prof, file):
    """The biggest hotspot in `file`. Tests run in-process beside threads of other tests (and,
    for users, of IPython): test_idle_threads_are_not_hotspots checks those separately."""
    mine = [h for h in prof.hotspots if h.file == os.path.abspath(str(file))]
    assert mine, f"no hotspot in {file}\n  {describe(prof)}"
    return mine[0]


def test_idle_threads_are_not_hotspots(tmp_path):
    """A thread that only waits the whole time (IPython's history thread, an idle pool worker) is
    not where the time goes: it must not top the hotspots, nor fill the breakdown."""
    import threading  # noqa: PLC0415

    profiling = _profiling()
    stop = threading.Event()
    idle = threading.Thread(target=stop.wait, name="idle-waiter", daemon=True)
    idle.start()
    try:
        script = tmp_path / "busy.py"
        script.write_text(WORK + "for _ in range(8):\n    work()\n")
        for attempt in range(2):  # statistical: one fresh run before a wrong answer counts
            code, prof = profiling.run_script(str(script))
            if prof.hotspots and prof.hotspots[0].function == "work" and prof.breakdown["other"] < 0.2:
                break
    finally:
        stop.set()
        idle.join()
    assert code == 0
    assert prof.hotspots[0].function == "work", describe(prof)
    # the idle thread's waiting is not in the breakdown (the main thread's wall time); how the
    # busy main thread splits into python/native depends on the scheduler on a loaded machine
    assert prof.breakdown["other"] < 0.2, describe(prof)
    assert prof.breakdown["python"] + prof.breakdown["native"] > 0.8, describe(prof)


def test_sys_exit_keeps_the_code_and_the_report(tmp_path, capsys):
    profiling = _profiling()
    script = tmp_path / "exits.py"
    script.write_text(WORK + "import sys\nwork()\nsys.exit(3)\n")
    code, prof = profiling.run_script(str(script))
    assert code == 3
    assert prof.sample_count > 0 and prof.wall_s > 0
    assert top_in(prof, script).function == "work", describe(prof)
    assert validate_profile_json(prof.to_dict()) == []
    prof.to_html(str(tmp_path / "p.html"))
    prof.to_speedscope(str(tmp_path / "p.speedscope.json"))


def test_sys_exit_with_a_message(tmp_path, capsys):
    profiling = _profiling()
    script = tmp_path / "exits_msg.py"
    script.write_text(WORK + "import sys\nwork()\nsys.exit('giving up')\n")
    code, prof = profiling.run_script(str(script))
    assert code == 1
    assert "giving up" in capsys.readouterr().err
    assert prof.hotspots


def test_uncaught_exception_gives_code_1_and_the_report(tmp_path, capsys):
    profiling = _profiling()
    script = tmp_path / "raises.py"
    script.write_text(WORK + "work()\nraise ValueError('bad input at the end')\n")
    code, prof = profiling.run_script(str(script))
    assert code == 1
    err = capsys.readouterr().err
    assert "ValueError: bad input at the end" in err and "raises.py" in err
    assert prof.sample_count > 0
    assert top_in(prof, script).function == "work", describe(prof)
    assert validate_profile_json(prof.to_dict()) == []
    prof.to_html(str(tmp_path / "p.html"))
    prof.to_speedscope(str(tmp_path / "p.speedscope.json"))
    assert sys.argv[0] != str(script), "run_script must restore sys.argv"


def test_terminal_report_renders(tmp_path):
    profiling = _profiling()
    script = tmp_path / "small.py"
    script.write_text(WORK + "work()\n")
    code, prof = profiling.run_script(str(script))
    assert code == 0
    out = io.StringIO()
    prof.report(file=out, color=False)
    text = out.getvalue()
    assert "Top hotspots" in text and "work" in text
