"""The `epochpp` command line: one function pair per subcommand, dispatched by argparse.

To add or implement a subcommand: write `_setup_<name>(parser)` (its arguments) and
`cmd_<name>(args) -> int` (its exit code), and list it in SUBCOMMANDS. Keep imports
inside the cmd_ functions so `epochpp version` and `epochpp doctor` stay fast and work
when the native core is not built.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, List, Optional, Sequence, Tuple

EXIT_NOT_IMPLEMENTED = 2


def _not_implemented(name: str) -> int:
    print(f"epochpp {name}: not implemented yet", file=sys.stderr)
    return EXIT_NOT_IMPLEMENTED


# --------------------------------------------------------------------------- doctor


def _setup_doctor(parser: argparse.ArgumentParser) -> None:
    del parser  # no options yet


def cmd_doctor(args: argparse.Namespace) -> int:
    from epochpp import doctor

    return doctor.report(sys.stdout)


# --------------------------------------------------------------------------- version


def _setup_version(parser: argparse.ArgumentParser) -> None:
    del parser


def cmd_version(args: argparse.Namespace) -> int:
    from epochpp.doctor import epochpp_version

    print(f"epochpp {epochpp_version()}")
    return 0


# --------------------------------------------------------------------------- run


def _setup_run(parser: argparse.ArgumentParser) -> None:
    import os

    text = os.environ.get("EPOCHPP_LEVEL", "").strip()
    default = int(text) if text in {"0", "1", "2", "3", "4"} else 3  # a bad value is reported when used
    parser.add_argument("--level", type=int, default=default, choices=range(0, 5), metavar="N",
                        help="acceleration level 0-4 (default EPOCHPP_LEVEL or 3)")
    parser.add_argument("--compare", action="store_true",
                        help="run plain (level 0) and accelerated, check outputs match, show before/after")
    parser.add_argument("--json", metavar="F", help="write the profile (with --compare: before, after, speedup)")
    parser.add_argument("--html", metavar="F", help="write an HTML report (with --compare: side by side)")
    parser.add_argument("--interval", metavar="MS", type=float, default=10.0, help="sampling interval (ms, default 10)")
    parser.add_argument("--report", action="store_true", help="print the profile after the run")
    parser.add_argument("--cluster", metavar="ADDRESS",
                        help="run the script's epochpp.parallel_map calls on the Dask cluster whose scheduler "
                             "is at ADDRESS (tcp://host:8786); see docs/dask.md")
    parser.add_argument("--no-report", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("script", help="the Python script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")


def cmd_run(args: argparse.Namespace) -> int:
    import os

    text = os.environ.get("EPOCHPP_LEVEL", "").strip()
    if text and text not in {"0", "1", "2", "3", "4"}:
        print(f"epochpp run: EPOCHPP_LEVEL must be 0-4, not {text!r}", file=sys.stderr)
        return 2

    if not os.path.isfile(args.script):
        print(f"epochpp run: no such script: {args.script}", file=sys.stderr)
        return 2
    if args.cluster is not None and not _use_cluster(args.cluster):
        return 2
    from epochpp import runner

    if args.compare:
        return runner.compare(args.script, args.args, level=args.level, interval_ms=args.interval,
                              json_out=args.json, html_out=args.html)
    want_profile = bool(args.json or args.html or args.report)
    code, prof, _ = runner.run_accelerated(args.script, args.args, level=args.level,
                                           interval_ms=args.interval, profile=want_profile)
    if prof is not None:
        if args.report and not args.no_report:
            prof.report(file=sys.stderr)
        _write_outputs(prof, args)
    return code


def _use_cluster(address: str) -> bool:
    """--cluster: parallel_map defaults to the dask backend at ADDRESS, in this process and in
    the child runs of --compare (they inherit the environment)."""
    import importlib.util
    import os

    if not address.strip():
        print("epochpp run: --cluster needs the scheduler's address, e.g. tcp://host:8786", file=sys.stderr)
        return False
    if importlib.util.find_spec("distributed") is None:
        print('epochpp run: --cluster needs dask.distributed, which is not installed: '
              'pip install "epochpp[dask]"  (or: pip install "dask[distributed]")', file=sys.stderr)
        return False
    os.environ["EPOCHPP_DASK_ADDRESS"] = address.strip()
    os.environ["EPOCHPP_PARALLEL_BACKEND"] = "dask"
    return True


# --------------------------------------------------------------------------- profile


def _setup_profile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="F", help="write the profile as JSON (versioned schema)")
    parser.add_argument("--html", metavar="F", help="write a self-contained HTML report with a flame graph")
    parser.add_argument("--speedscope", metavar="F", help="write a file for https://www.speedscope.app")
    parser.add_argument("--interval", metavar="MS", type=float, default=10.0,
                        help="sampling interval in milliseconds (default 10)")
    parser.add_argument("--no-color", action="store_true", help="plain text report")
    parser.add_argument("script", help="the Python script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")


def _write_outputs(prof, args) -> None:
    for attr, method in (("json", "to_json"), ("html", "to_html"), ("speedscope", "to_speedscope")):
        path = getattr(args, attr, None)
        if path:
            getattr(prof, method)(path)
            if not getattr(args, "no_report", False):
                print(f"epochpp: wrote {path}", file=sys.stderr)


def cmd_profile(args: argparse.Namespace) -> int:
    import os

    from epochpp.profiling import run_script

    if not os.path.isfile(args.script):
        print(f"epochpp profile: no such script: {args.script}", file=sys.stderr)
        return 2
    code, prof = run_script(args.script, args.args, interval_ms=args.interval)
    sys.stdout.flush()
    prof.report(file=sys.stderr, color=False if args.no_color else None)
    _write_outputs(prof, args)
    return code


# --------------------------------------------------------------------------- bench


def _setup_bench(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", action="store_true", help="the built-in kernel suite (default without a script)")
    parser.add_argument("--levels", default="0,1,2,3,4", help="comma list of levels (default 0,1,2,3,4)")
    parser.add_argument("--repeat", type=int, default=3, metavar="K", help="runs per level (default 3)")
    parser.add_argument("--out", default="bench-results", metavar="DIR", help="where bench.md/.html/.json go")
    parser.add_argument("--quick", action="store_true", help="suite: ~10x smaller inputs")
    parser.add_argument("--only", metavar="NAMES", help="suite: comma list of kernels")
    parser.add_argument("script", nargs="?", help="a workload script (runs via `epochpp run --level N`)")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")


def cmd_bench(args: argparse.Namespace) -> int:
    from epochpp import bench

    if args.script and not __import__("os").path.isfile(args.script):
        print(f"epochpp bench: no such script: {args.script}", file=sys.stderr)
        return 2
    return bench.main(args)


# --------------------------------------------------------------------------- cache


def _setup_cache(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["info", "clear"], help="show the cache's place and size, or empty it")


def cmd_cache(args: argparse.Namespace) -> int:
    import glob
    import os

    from epochpp import _native

    d = _native().cache_dir()
    if not d:
        print("the compiled-code cache is off (EPOCHPP_CACHE_DIR=off, or no writable directory)")
        return 0
    files = glob.glob(os.path.join(d, "*.o")) + glob.glob(os.path.join(d, "*.gpu"))  # objects, Level 4 sidecars
    if args.action == "clear":
        for f in files:
            os.remove(f)
        ledger = os.path.join(d, "size.ledger")  # the running total that bounds the cache (runtime/disk_cache.cpp)
        if os.path.exists(ledger):
            os.remove(ledger)
        print(f"removed {len(files)} cached object(s) from {d}")
        return 0
    size = sum(os.path.getsize(f) for f in files)
    print(f"directory : {d}\nentries   : {len(files)}\nsize      : {size / 1024:.1f} KiB")
    print("key       : the compiled IR (after all passes), the level, the CPU and its features, and the builds of\n"
          "            epochpp and LLVM; a changed function or callee, a rebound global constant or a new build\n"
          "            gives a new key. Set EPOCHPP_CACHE_DIR to move it, EPOCHPP_CACHE_DIR=off to disable it.")
    return 0


# --------------------------------------------------------------------------- table and entry point

Setup = Callable[[argparse.ArgumentParser], None]
Command = Callable[[argparse.Namespace], int]

# (name, one-line help, argument setup, command) in the order `epochpp --help` lists them.
SUBCOMMANDS: Tuple[Tuple[str, str, Setup, Command], ...] = (
    ("run", "run a script with epochpp enabled", _setup_run, cmd_run),
    ("profile", "profile a script and classify its hotspots", _setup_profile, cmd_profile),
    ("bench", "run the benchmark suite", _setup_bench, cmd_bench),
    ("cache", "inspect or clear the compiled-code cache", _setup_cache, cmd_cache),
    ("doctor", "check the installation: versions, CPU, CUDA, settings",
     _setup_doctor, cmd_doctor),
    ("version", "print the epochpp version", _setup_version, cmd_version),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="epochpp",
        description="epochpp: profile Python, then run it faster (JIT, parallel, GPU).")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for name, help_text, setup, command in SUBCOMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        setup(p)
        p.set_defaults(func=command)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the `epochpp` console script and `python -m epochpp`."""
    parser = build_parser()
    args_list: List[str] = list(sys.argv[1:] if argv is None else argv)
    try:
        args, unknown = parser.parse_known_args(args_list)
        if unknown and not getattr(args, "accepts_unknown", False):
            parser.error("unrecognized arguments: " + " ".join(unknown))
    except SystemExit as exc:  # --help (0) or a usage error (2): return, do not exit
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    args.unknown = unknown
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    return int(func(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
