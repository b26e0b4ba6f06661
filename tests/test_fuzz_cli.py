"""Fuzzing the console command: no traceback, ever.

Every subcommand's argument space is read from the parser itself (so a new option is fuzzed the
day it is added) and filled with valid values, boundary values and hostile ones: negatives,
zero, 1e400, nan, inf, ``1/0``, empty strings, unicode and lone surrogates, 300-character
strings, newlines, duplicated and conflicting options, paths through files, over-long names,
unwritable and nonexistent places, empty / truncated / foreign / old stores. The command runs
in-process through :func:`parity_frontiers.cli.main` with stdout and stderr captured as a
terminal would encode them (strict UTF-8 on stdout), under a wall-clock limit, and:

* the exit status is 0 or 2 (or the run reached the expensive part, see below);
* on 2, stderr has at most 3 lines and no "Traceback";
* with ``--json`` and status 0, stdout is strict JSON (NaN and Infinity refused);
* nothing is written outside the example's own folder, and a refused command (status 2)
  leaves that folder exactly as it was.

Expensive work is fuzzed for argument handling only: training, Dask clusters, the report's
analysis, tabular fits and OpenML downloads are replaced by a sentinel that ends the run as
"reached" (everything before it -- parsing, validation, planning, store opening -- is real).

Profiles: the default runs a few hundred examples in well under a minute; ``-m slow`` runs
:func:`test_fuzz_everything_slow` under the ``slow`` profile (10 000 examples). Every case that
ever failed is kept in ``tests/fuzz_corpus.json`` and replayed by :func:`test_corpus`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from parity_frontiers.cli import build_parser, main

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "fuzz_corpus.json"
LONG = "a" * 300

settings.register_profile(
    "fuzz", max_examples=int(os.environ.get("PARITY_FRONTIERS_FUZZ_EXAMPLES", "50")),
    deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much])
settings.register_profile(
    "slow", max_examples=int(os.environ.get("PARITY_FRONTIERS_FUZZ_SLOW_EXAMPLES", "10000")),
    deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much])
FUZZ = settings.get_profile("fuzz")
SLOW = settings.get_profile("slow")

#: Wall-clock limit of one example (seconds): beyond it the example fails as too slow.
EXAMPLE_SECONDS = float(os.environ.get("PARITY_FRONTIERS_FUZZ_SECONDS", "30"))


# --- the sentinel for expensive work ---------------------------------------------------------

class Reached(BaseException):
    """Raised where the expensive part would start: argument handling is over by then."""


def _reach(what):
    def stop(*args, **kwargs):
        raise Reached(what)
    return stop


class _DaskStub:
    def __init__(self, *args, **kwargs):
        raise Reached("dask executor")


@pytest.fixture(scope="module")
def expensive_stubbed():
    """Replace training, Dask, the report's analysis, tabular fits and downloads."""
    import importlib

    targets = [
        ("parity_frontiers.verify.training.trainer", "train_ensemble", _reach("training")),
        ("parity_frontiers.verify.experiments.lottery_ticket", "train_ensemble",
         _reach("training")),
        ("parity_frontiers.verify.experiments.distributed", "DaskExecutor", _DaskStub),
        ("parity_frontiers.figures.report", "analyze", _reach("analysis")),
        ("parity_frontiers.verify.experiments.tabular.benchmark", "_fit_one",
         _reach("tabular fit")),
        ("parity_frontiers.verify.experiments.tabular.datasets", "_download_openml",
         _reach("download")),
    ]
    with pytest.MonkeyPatch.context() as mp:
        for module, name, value in targets:
            try:
                mod = importlib.import_module(module)
            except ImportError:  # an optional extra (dask) missing: nothing to stub
                continue
            if hasattr(mod, name):
                mp.setattr(mod, name, value)
        yield


# --- the folder of one example: fixture files every strategy may name ------------------------

def _make_store(path: Path, runs: int = 4) -> None:
    from parity_frontiers.verify.config import RunConfig, RunResult
    from parity_frontiers.verify.experiments.store import ResultsStore

    with ResultsStore(path) as store:
        for seed in range(runs):
            config = RunConfig(n=6, k=2, width=8, seed=seed, samples=100, max_steps=200,
                               test_size=100)
            store.add(RunResult(config, seed % 2 == 0, 100 if seed % 2 == 0 else None, 0.05,
                                0.0, "success" if seed % 2 == 0 else "max_steps", 200))


def _make_foreign_sqlite(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()


def _make_store_missing_columns(path: Path) -> None:
    from parity_frontiers.verify.experiments.store import APPLICATION_ID, SCHEMA_VERSION

    con = sqlite3.connect(path, isolation_level=None)
    signed = APPLICATION_ID - (1 << 32) if APPLICATION_ID >= 1 << 31 else APPLICATION_ID
    con.execute(f"PRAGMA application_id = {signed}")
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("CREATE TABLE runs (key TEXT PRIMARY KEY, n INTEGER)")
    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    con.close()


_TEMPLATE: dict = {}


def _template() -> Path:
    """The fixture files, built once per session and copied into every example's folder."""
    if "path" in _TEMPLATE:
        return _TEMPLATE["path"]
    root = Path(tempfile.mkdtemp(prefix="pf-fuzz-template-"))
    work = root / "work"
    work.mkdir()
    (work / "file.txt").write_text("not a store\n")
    (work / "empty.db").touch()
    (work / "r.db").write_text("a plain file\n")
    (work / "dir").mkdir()
    _make_store(work / "store.db")
    data = (work / "store.db").read_bytes()
    (work / "trunc.db").write_bytes(data[: len(data) // 2 + 1])
    (work / "header.db").write_bytes(data[:100])
    _make_store_missing_columns(work / "oldcols.db")
    _make_foreign_sqlite(work / "other.db")
    (work / "config.toml").write_text(
        '[grid]\nn = 8\nk = 2\nwidth = [8]\nsamples = [100]\nseeds = 2\n\n'
        '[train]\nmax_steps = 100\neval_every = 50\ntest_size = 100\n')
    (work / "bad.toml").write_text("[grid\nn = = 3\n")
    _TEMPLATE["path"] = root
    return root


def _snapshot(folder: Path) -> dict:
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            try:
                info = path.lstat()
            except OSError:
                continue
            found[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns)
    return found


# --- running one command line ---------------------------------------------------------------

class TooSlow(Exception):
    pass


def _alarm(signum, frame):
    raise TooSlow(f"example ran past {EXAMPLE_SECONDS:g} s")


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def run_cli(argv: list[str]) -> dict:
    """Run one command line in a fresh copy of the fixture folder; what came out."""
    base = Path(tempfile.mkdtemp(prefix="pf-fuzz-"))
    try:
        shutil.copytree(_template() / "work", base / "work", symlinks=True)
        (base / "outside").mkdir()
        (base / "outside" / "keep.txt").write_text("untouched\n")
        work = base / "work"
        before_base = sorted(os.listdir(base))
        before_outside = _snapshot(base / "outside")
        before_work = _snapshot(work)
        out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
        stdout = io.TextIOWrapper(out_bytes, encoding="utf-8", errors="strict",
                                  write_through=True)
        stderr = io.TextIOWrapper(err_bytes, encoding="utf-8", errors="backslashreplace",
                                  write_through=True)
        old_cwd = os.getcwd()
        old_env = os.environ.get("PARITY_FRONTIERS_DATA")
        os.environ["PARITY_FRONTIERS_DATA"] = str(base / "data")
        old_handler = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, EXAMPLE_SECONDS)
        reached = None
        started = time.perf_counter()
        try:
            os.chdir(work)
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                try:
                    code = main(list(argv))
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (
                        0 if exc.code is None else 2)
                except Reached as exc:
                    code, reached = 0, str(exc)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
            os.chdir(old_cwd)
            if old_env is None:
                os.environ.pop("PARITY_FRONTIERS_DATA", None)
            else:
                os.environ["PARITY_FRONTIERS_DATA"] = old_env
        return {"code": code, "reached": reached,
                "out": out_bytes.getvalue().decode("utf-8", errors="replace"),
                "err": err_bytes.getvalue().decode("utf-8", errors="replace"),
                "seconds": time.perf_counter() - started,
                "base_entries": (before_base, sorted(os.listdir(base))),
                "outside": (before_outside, _snapshot(base / "outside")),
                "work": (before_work, _snapshot(work)),
                "data_created": (base / "data").exists()}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _mentions_outside(argv) -> bool:
    return any("outside" in str(a) for a in argv)


#: Reading a valid WAL store read-only may create its -wal and -shm index beside it (SQLite's
#: doing, harmless); a file that is refused must get none.
_READ_SIDE_FILES = {"store.db-wal", "store.db-shm"}


def check_outcome(argv: list[str], result: dict, expect=None) -> None:
    """The invariants of the module docstring (``expect``: allowed statuses, from the corpus)."""
    shown = json.dumps(argv, ensure_ascii=True)
    err = result["err"]
    context = f"argv {shown}\nstatus {result['code']}\nstderr:\n{err[-2000:]}"
    assert "Traceback" not in err, context
    assert result["code"] in (0, 2), context
    if expect is not None:
        assert result["code"] in expect, context
    if result["code"] == 2:
        lines = err.strip().splitlines()
        assert 1 <= len(lines) <= 3, context
        before, after = result["work"]
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)
                         and k not in _READ_SIDE_FILES)
        assert not changed, f"{context}\nrefused, but changed {changed}"
    if result["code"] == 0 and result["reached"] is None and "--json" in argv \
            and not any(a in ("-h", "--help", "--version") for a in argv):
        try:
            json.loads(result["out"], parse_constant=_reject_constant)
        except ValueError as exc:
            raise AssertionError(f"{context}\nnot strict JSON ({exc}):\n"
                                 f"{result['out'][:500]}") from None
    assert result["base_entries"][0] == result["base_entries"][1], \
        f"{context}\nwrote beside the work folder: {result['base_entries'][1]}"
    if not _mentions_outside(argv):
        assert result["outside"][0] == result["outside"][1], f"{context}\ntouched outside/"
    assert not result["data_created"], f"{context}\ncreated the data cache"


# --- strategies: read from the parser ---------------------------------------------------------

HOSTILE = ["0", "-1", "-0", "1e400", "-1e400", "nan", "inf", "-inf", "1/0", "", " ", "é",
           "\u0661\u0662", "18446744073709551617", "1e300", "9" * 400, "0x10", "1_0", " 3 ",
           "3.5", "5e-324", "1e-400", LONG, "a\nb\nc\nd", "--", "-", "\udcff", "None",
           "../outside/x", "/nonexistent/dir/x", "/dev/null", "/proc/version", ".", "/",
           "2**63", "9223372036854775808", "-9223372036854775809", "1e15", "1e12", "1e9",
           "true", "[1]", "\x00x"]

SMALL = {"n": ["8", "10", "20", "12", "2", "1", "3e1"], "k": ["1", "2", "3", "4"],
         "s": ["1", "2", "3", "4"], "width": ["1", "4", "8", "16", "1e1"],
         "trials": ["2", "10", "50", "100"],
         "samples": ["16", "64", "100", "200", "online"], "seeds": ["1", "2", "3"],
         "seed": ["0", "1", "42"], "seed_start": ["0", "5"], "threads": ["1", "2"],
         "memory_cap": ["0.5", "1", "4"], "max_seconds": ["5", "60", "0.001", "inf"],
         "steps": ["1", "5", "20"], "max_steps": ["10", "50", "100"],
         "retrain_steps": ["10", "50"], "eval_every": ["5", "10", "100"],
         "batch_size": ["4", "16", "32"], "test_size": ["50", "100"],
         "depth": ["1", "2"], "lr": ["0.1", "0.01", "1"], "weight_decay": ["0", "0.01"],
         "success_error": ["0.1", "0.25"], "tau": ["0.1", "0.5", "1", "2"],
         "queries": ["1", "10", "100"], "parities": ["2", "8"], "overlap": ["0", "1", "2"],
         "bias": ["0", "1/2", "-1", "0.25"], "delta": ["0.01", "0.5", "1/10"],
         "target": ["0.5", "0.25"], "tol": ["0.1", "0.05"], "m_min": ["10", "100"],
         "m_max": ["1000", "1e4"], "points_per_decade": ["2", "4", "24"],
         "batch": ["2", "4"], "probe_batch": ["2"], "max_runs": ["4", "16"],
         "max_runs_per_cell": ["2", "8"], "keep": ["1", "2", "5"], "params": ["10", "1e6"],
         "c2": ["1", "0.5"], "c3": ["1"], "c4": ["1"], "epsilon": ["0.1", "0.5"],
         "onestep_trials": ["2", "10"], "lottery_trials": ["2", "10"],
         "fractions": ["0.5", "1", "0.2"], "test_fraction": ["0.25", "0.5"],
         "max_test": ["50", "500"], "min_per_class": ["1", "2"], "max_epochs": ["1", "2"],
         "patience": ["1", "5"], "min_steps": ["0", "1"], "forest_trees": ["1", "5"],
         "max_ensemble": ["1", "4"], "workers": ["1", "2"], "threads_per_worker": ["1"],
         "bootstrap": ["0", "1", "2"],
         "models": ["rf", "mlp:8", "mlp:8:s=2", "mlp:8x4", "mlp:0", "mlp", "mlp:8:s=0",
                    "mlp:1e9", "mlp:10000000", "xgb", "rf:3"],
         "datasets": ["wine", "breast_cancer", "sparse_parity", "axis_rule", "offline", "iris",
                      "nonexistent", "grinsztajn", "electricity"],
         "stem": ["tabular", "x/y", LONG, ""], "scheduler": ["tcp://127.0.0.1:1", "bogus"]}

PATHS = {"store": ["new.db", "store.db", "empty.db", "trunc.db", "header.db", "oldcols.db",
                   "other.db", "file.txt", "dir", "r.db/x.db", "sub/new.db", "\u00fc.db",
                   LONG + ".db", f"dir/{LONG}", "/nonexistent/x.db", "/dev/null", "dir/"],
         "out": ["out", "dir", "file.txt", "r.db/x", "deep/er/out", "out.csv", "out.parquet",
                 "model.json", LONG, f"{LONG}/x", "/nonexistent/out", "/dev/null", ".",
                 "store.db"],
         "config": ["config.toml", "bad.toml", "missing.toml", "file.txt", "dir", LONG,
                    "store.db"],
         "model": ["model.json", "file.txt", "store.db", "missing.json", LONG, "dir"],
         "cache_dir": ["cache", "dir", "file.txt", LONG, "/nonexistent/c"]}


def _value_pool(action: argparse.Action) -> list[str]:
    dest = action.dest
    if action.choices is not None and not isinstance(action.choices, dict):
        valid = [str(c) for c in action.choices]
    elif dest in PATHS:
        valid = PATHS[dest]
    elif dest in SMALL:
        valid = SMALL[dest]
    else:
        valid = ["1", "2", "0.5", "10"]
    return valid


def _option_strategy(action: argparse.Action, hostility: float):
    """Tokens for one option: its flag and zero or more values, each hostile with probability
    ``hostility`` (drawn per example: some examples are all valid, some mostly hostile)."""
    flag = st.sampled_from([s for s in action.option_strings if s.startswith("--")]
                           or action.option_strings)
    if action.nargs == 0:
        return flag.map(lambda f: [f])
    valid = st.sampled_from(_value_pool(action))
    hostile = st.one_of(st.sampled_from(HOSTILE), st.sampled_from(HOSTILE),
                        st.text(max_size=12))
    value = st.floats(0, 1).flatmap(lambda u: hostile if u < hostility else valid)
    if action.nargs in ("+", "*"):
        values = st.lists(value, min_size=1 if action.nargs == "+" else 0, max_size=3)
    else:
        values = value.map(lambda v: [v])
    return st.tuples(flag, values).map(lambda fv: [fv[0], *fv[1]])


def _commands(parser, prefix=()) -> dict:
    """``{("simulate", "lottery"): parser, ...}`` for every leaf subcommand."""
    found = {}
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {prefix: parser}
    for name, child in subs[0].choices.items():
        found.update(_commands(child, prefix + (name,)))
    return found


COMMANDS = _commands(build_parser())

#: Options worth sending often; the rest are added with a smaller probability.
_NO_TRAIN = {("demo",): ["--no-train"]}


@st.composite
def command_lines(draw, commands=None):
    names = sorted(COMMANDS) if commands is None else commands
    words = draw(st.sampled_from(names))
    parser = COMMANDS[words]
    argv = list(words)
    positionals = [a for a in parser._actions if not a.option_strings
                   and not isinstance(a, argparse._SubParsersAction)]
    for action in positionals:
        pool = [str(c) for c in (action.choices or ["x"])]
        argv.append(draw(st.one_of(st.sampled_from(pool), st.sampled_from(pool),
                                   st.sampled_from(HOSTILE))))
    options = [a for a in parser._actions if a.option_strings
               and not isinstance(a, (argparse._HelpAction, argparse._VersionAction))]
    hostility = draw(st.sampled_from([0.0, 0.0, 0.05, 0.2, 0.6]))
    chunks = []
    for action in options:
        wanted = (0.97 if action.required else 0.25) if hostility < 0.5 else \
            (0.9 if action.required else 0.35)
        if draw(st.floats(0, 1)) < wanted:
            chunks.append(draw(_option_strategy(action, hostility)))
            if draw(st.floats(0, 1)) < 0.05:  # the same option twice
                chunks.append(draw(_option_strategy(action, hostility)))
    chunks = draw(st.permutations(chunks)) if chunks else chunks
    for chunk in chunks:
        argv.extend(chunk)
    if words in _NO_TRAIN and draw(st.floats(0, 1)) < 0.9:
        argv.extend(_NO_TRAIN[words])
    extra = draw(st.floats(0, 1))
    if extra < 0.03:
        argv.append(draw(st.sampled_from(["--help", "--bogus", LONG, "é", "--json"])))
    return argv


def _fuzz_one(argv: list[str]) -> None:
    note(json.dumps(argv, ensure_ascii=True))
    result = run_cli(argv)
    check_outcome(argv, result)


def _group(*prefixes: str) -> list[tuple]:
    return sorted(w for w in COMMANDS if w[0] in prefixes)


THEORY = _group("bound", "lottery", "gap", "upper", "demo")
SIMULATE = _group("simulate")
TRAINING = _group("train", "sweep", "frontier", "lottery-ticket")
STORES = _group("results", "plot", "report", "reproduce", "model")
TABULAR = _group("tabular")


FUZZED = {"theory": THEORY, "simulate": SIMULATE, "training": TRAINING,
          "stores and reports": STORES, "tabular": TABULAR}


@pytest.mark.usefixtures("expensive_stubbed")
@pytest.mark.parametrize("group", FUZZED)
@FUZZ
@given(data=st.data())
def test_fuzz(group, data):
    _fuzz_one(data.draw(command_lines(FUZZED[group]), label="argv"))


@pytest.mark.slow
@pytest.mark.usefixtures("expensive_stubbed")
@SLOW
@given(argv=command_lines())
def test_fuzz_everything_slow(argv):
    _fuzz_one(argv)


def test_every_subcommand_is_fuzzed():
    grouped = {words for group in FUZZED.values() for words in group}
    assert grouped == set(COMMANDS), sorted(set(COMMANDS) - grouped)


# --- the regression corpus: every case that ever failed --------------------------------------

def _corpus() -> list[dict]:
    cases = json.loads(CORPUS.read_text(encoding="utf-8"))["cases"]
    for case in cases:
        case["argv"] = [a.replace("{LONG}", LONG) for a in case["argv"]]
    return cases


def _case_id(case: dict) -> str:
    return case.get("id") or " ".join(case["argv"])[:60]


@pytest.mark.usefixtures("expensive_stubbed")
@pytest.mark.parametrize("case", _corpus(), ids=_case_id)
def test_corpus(case):
    result = run_cli(case["argv"])
    check_outcome(case["argv"], result, expect=case.get("expect"))
    for text in case.get("stderr_contains", []):
        assert text in result["err"], (case["argv"], result["err"])
    for text in case.get("stderr_lacks", []):
        assert text not in result["err"], (case["argv"], result["err"])
    if "reached" in case:
        assert result["reached"] == case["reached"], (case["argv"], result)


def test_corpus_is_well_formed():
    cases = _corpus()
    assert len(cases) >= 40
    ids = [_case_id(c) for c in cases]
    assert len(ids) == len(set(ids)), "duplicate corpus ids"
    for case in cases:
        assert set(case) <= {"id", "argv", "why", "expect", "stderr_contains", "stderr_lacks",
                             "reached"}, case
        assert tuple(case["argv"][:2]) in COMMANDS or tuple(case["argv"][:1]) in COMMANDS \
            or tuple(case["argv"][:3]) in COMMANDS, case


@pytest.mark.usefixtures("expensive_stubbed")
def test_harness_sees_bugs(monkeypatch):
    """The checks are not vacuous: a bug propagates from main(argv) (and fails the example),
    and from the console it is one 'internal error' line with status 1, which the checks
    refuse."""
    import parity_frontiers.cli as cli

    def broken(args):
        raise AttributeError("'int' object has no attribute 'item'")

    monkeypatch.setattr(cli, "_cmd_lottery", broken)
    argv = ["lottery", "--n", "10", "--k", "2", "--s", "2"]
    with pytest.raises(AttributeError):
        run_cli(argv)
    monkeypatch.setattr(sys, "argv", ["parity-frontiers", *argv])
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = cli.main()
    assert code == 1 and "internal error (AttributeError" in err.getvalue()
    result = {"code": code, "err": err.getvalue(), "out": "", "reached": None,
              "work": ({}, {}), "base_entries": ([], []), "outside": ({}, {}),
              "data_created": False}
    with pytest.raises(AssertionError):
        check_outcome(argv, result)
