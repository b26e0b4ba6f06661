"""``parity-frontiers simulate {lottery,gradient,onestep}``: JSON keys, tables, grids and
one-line errors (exit status 2, no traceback)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numba
import pytest

from parity_frontiers.cli import main
from parity_frontiers.simulate.lottery import simulate_lottery
from parity_frontiers.simulate.onestep import simulate_onestep
from parity_frontiers.theory.lottery import p_at_least_one_lucky

REQUIRED = {"estimate", "stderr", "ci_low", "ci_high", "trials", "seed"}
ROOT = Path(__file__).resolve().parents[1]


def _reject_constant(name):
    raise AssertionError(f"non-standard JSON constant {name}")


def run_json(capsys, *argv):
    assert main(["simulate", *argv, "--json", "--no-progress"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out, parse_constant=_reject_constant)


def run_table(capsys, *argv):
    assert main(["simulate", *argv]) == 0
    captured = capsys.readouterr()
    return captured.out


def run_error(capsys, *argv):
    try:
        code = main(["simulate", *argv])
    except SystemExit as exc:  # argparse errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _check_estimate(obj, trials, seed):
    assert REQUIRED <= set(obj)
    for key in ("estimate", "stderr", "ci_low", "ci_high"):
        assert isinstance(obj[key], float) and math.isfinite(obj[key])
    assert obj["ci_low"] <= obj["estimate"] <= obj["ci_high"]
    assert obj["trials"] == trials and obj["seed"] == seed


# --- lottery -------------------------------------------------------------------------------

LOTTERY = ["lottery", "--n", "10", "--k", "2", "--s", "3", "--width", "5", "--trials", "2000",
           "--seed", "1"]


def test_lottery_json(capsys):
    out = run_json(capsys, *LOTTERY)
    _check_estimate(out, 2000, 1)
    assert out["exact"] == float(p_at_least_one_lucky(10, 2, 3, 5))
    _check_estimate(out["per_neuron"], 10_000, 1)
    assert math.isfinite(out["per_neuron"]["exact"])
    for o in out["overlap"]:
        _check_estimate(o, 10_000, 1)
    # The same numbers as the library call.
    assert out == json.loads(json.dumps(simulate_lottery(10, 2, 3, width=5, trials=2000,
                                                         seed=1)))


def test_lottery_table(capsys):
    text = run_table(capsys, *LOTTERY)
    assert "Lottery Monte Carlo" in text and "over-sparse" in text
    assert "P(>= 1 lucky among 5)" in text and "per neuron: P(lucky)" in text
    assert "P(|U n S| = 2)" in text and "[ci low, ci high]" in text


def test_lottery_json_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "parity_frontiers", "simulate", *LOTTERY, "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout, parse_constant=_reject_constant)
    _check_estimate(out, 2000, 1)
    assert "exact" in out


# --- gradient ------------------------------------------------------------------------------

GRADIENT = ["gradient", "--n", "10", "--k", "2", "--s", "4", "--samples", "200", "--trials",
            "300", "--seed", "2"]


def test_gradient_json(capsys):
    out = run_json(capsys, *GRADIENT)
    _check_estimate(out, 300, 2)
    _check_estimate(out["gap"], 300, 2)
    assert out["exact_gap"] == 0.125 and out["population_gap"] == 0.125
    assert set(out["classes"]) == {"in_S_in_U", "in_U_off_S", "outside"}
    for entry in out["classes"].values():
        _check_estimate(entry, 300, 2)
    assert out["classes"]["in_S_in_U"]["exact"] == 0.1875


def test_gradient_options(capsys):
    out = run_json(capsys, *GRADIENT, "--bias", "-1/2", "--overlap", "1", "--weights",
                   "gaussian")
    assert out["bias"] == "-1/2" and out["overlap"] == 1 and out["weights"] == "gaussian"
    assert out["exact_gap"] is None
    _check_estimate(out, 300, 2)


def test_gradient_table(capsys):
    text = run_table(capsys, *GRADIENT)
    assert "Gradient Monte Carlo" in text and "P(m-sample gradient selects S)" in text
    assert "sign(G) G in_S_in_U (2 coords)" in text and "0.1875" in text
    assert "|gradient|" not in text  # the estimate is signed: noise can make it negative


def test_gradient_table_without_enumeration(capsys):
    text = run_table(capsys, "gradient", "--n", "25", "--k", "2", "--s", "21", "--samples",
                     "64", "--trials", "5")
    assert "sign(G) G in_S_in_U" in text


# --- onestep -------------------------------------------------------------------------------

def test_onestep_grid_json(capsys):
    out = run_json(capsys, "onestep", "--n", "12", "--k", "2", "--s", "3", "--width", "10",
                   "100", "--samples", "30", "100", "--trials", "100", "--seed", "3")
    assert len(out["rows"]) == 4
    assert [(r["width"], r["samples"]) for r in out["rows"]] == [
        (10, 30), (10, 100), (100, 30), (100, 100)]
    for row in out["rows"]:
        _check_estimate(row, 100, 3)
    assert out == json.loads(json.dumps(simulate_onestep(
        12, 2, 3, widths=[10, 100], samples=[30, 100], trials=100, seed=3)))


def test_onestep_single_json(capsys):
    out = run_json(capsys, "onestep", "--n", "12", "--k", "2", "--s", "3", "--width", "10",
                   "--samples", "30", "--trials", "100")
    _check_estimate(out, 100, 0)
    assert len(out["rows"]) == 1


def test_onestep_table(capsys):
    text = run_table(capsys, "onestep", "--n", "12", "--k", "2", "--s", "3", "--width", "10",
                     "100", "--samples", "30", "100", "--trials", "100")
    assert "One-step selection Monte Carlo" in text and "P(some neuron selects S)" in text
    body = [line for line in text.splitlines() if line[:1].isdigit()]
    assert len(body) == 4


def test_threads_and_seed_flags(capsys):
    a = run_json(capsys, *LOTTERY, "--threads", "1")
    b = run_json(capsys, *LOTTERY)
    assert a == b
    c = run_json(capsys, *LOTTERY[:-1], "2")
    assert c["seed"] == 2 and c != a


# --- errors --------------------------------------------------------------------------------

BAD = [
    ["lottery", "--n", "5", "--k", "6", "--s", "2"],
    ["lottery", "--n", "5", "--k", "2", "--s", "2", "--trials", "0"],
    ["lottery", "--n", "5", "--k", "2", "--s", "2", "--threads", "0"],
    ["lottery", "--n", "5", "--k", "2", "--s", "2", "--threads",
     str(numba.config.NUMBA_NUM_THREADS + 1)],
    ["lottery", "--n", "5", "--k", "2", "--s", "2", "--seed", "-1"],
    ["lottery", "--n", "5", "--k", "2", "--s", "2", "--seed", str(2**63)],
    ["lottery", "--n", "5", "--k", "2", "--s", "2", "--memory-cap", "0"],
    ["lottery", "--n", "5", "--k", "2", "--s", "2", "--memory-cap", "1e-9"],
    ["lottery", "--n", "5", "--k", "2", "--s", "2.5"],
    ["gradient", "--n", "5", "--k", "2", "--s", "2", "--samples", "0"],
    ["gradient", "--n", "6", "--k", "3", "--s", "5", "--samples", "10", "--overlap", "1"],
    ["gradient", "--n", "5", "--k", "2", "--s", "2", "--samples", "10", "--weights", "x"],
    ["gradient", "--n", "5", "--k", "2", "--s", "2", "--samples", "10", "--bias", "1/0"],
    ["onestep", "--n", "10", "--k", "4", "--s", "2", "--width", "5", "--samples", "10"],
    ["onestep", "--n", "10", "--k", "2", "--s", "2", "--width", "--samples", "10"],
    ["onestep", "--n", "10", "--k", "2", "--s", "2", "--width", "5", "--samples", "10",
     "--trials", "0"],
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a[:1] + a[-2:]) for a in BAD])
def test_bad_input_exits_2_with_one_line(capsys, argv):
    code, out, err = run_error(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "error" in lines[0]
    assert lines[0].startswith("parity-frontiers")


def test_bad_input_subprocess_has_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "parity_frontiers", "simulate", "onestep", "--n", "10", "--k",
         "4", "--s", "2", "--width", "5", "--samples", "10"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "s >= k - 1" in proc.stderr


@pytest.mark.parametrize("argv", [
    ["lottery", "--n", "1000", "--k", "3", "--s", "500", "--width", "1000"],
    ["gradient", "--n", "1000", "--k", "3", "--s", "3", "--samples", "1e5"],
    ["onestep", "--n", "30", "--k", "3", "--s", "3", "--width", "1000", "--samples", "1e6"],
    ["sq", "visible", "--n", "16", "--k", "3", "--width", "64", "--tau", "0.1"],
    ["sq", "guess", "--n", "40", "--k", "3", "--queries", "9000", "--tau", "0.5"],
    ["sq", "noisy-gd", "--n", "12", "--k", "3", "--width", "16", "--tau", "0.1", "--steps",
     "10"]])
def test_every_memory_refusal_names_the_estimate_and_the_cap(capsys, argv):
    code, out, err = run_error(capsys, *argv, "--memory-cap", "1e-5")
    assert code == 2 and out == "" and err.count("\n") == 1
    estimate = re.search(r"needs an estimated ([\d.]+ [KMG]?i?B), above the memory cap "
                         r"\(--memory-cap\) of 10.5 KiB", err)
    assert estimate is not None, err
