"""The console command: fixed JSON keys, values checked independently, one-line errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from fractions import Fraction
from itertools import combinations

import pytest

from parity_frontiers.cli import main


def _reject_constant(name):
    raise AssertionError(f"non-standard JSON constant {name}")


def run_json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    out = capsys.readouterr().out
    return json.loads(out, parse_constant=_reject_constant)


def run_error(capsys, *argv):
    with pytest.raises(SystemExit) as info:
        code = main(list(argv))
        raise SystemExit(code)
    captured = capsys.readouterr()
    return info.value.code, captured.err


# --- bound ---------------------------------------------------------------------------------

def test_bound_json_keys_and_value(capsys):
    out = run_json(capsys, "bound", "--n", "50", "--k", "3", "--params", "7",
                   "--steps", "11", "--samples", "13")
    for key in ("max_success_probability", "log10_cost", "log10_threshold"):
        assert key in out
    exact = Fraction(2 * 7 * 11 * 13, math.comb(50, 3))
    assert out["max_success_probability"] == pytest.approx(float(exact), rel=1e-12)
    assert out["log10_threshold"] == pytest.approx(math.log10(math.comb(50, 3) / 2), rel=1e-12)
    assert out["log10_cost"] == pytest.approx(math.log10(7 * 11 * 13), rel=1e-12)


def test_bound_width_means_two_layer_params(capsys):
    out = run_json(capsys, "bound", "--n", "40", "--k", "2", "--width", "3", "--steps", "1",
                   "--tau", "0.5")
    assert out["params"] == 3 * 40 + 3 + 3 + 1
    expected = 2 * out["params"] * 1 / 0.25 / math.comb(40, 2)
    assert out["max_success_probability"] == pytest.approx(min(1.0, expected), rel=1e-12)


@pytest.mark.parametrize("resource", ["params", "steps", "samples"])
def test_bound_solve_for_integer_resources(capsys, resource):
    known = {"params": "1000", "steps": "100", "samples": "10"}
    del known[resource]
    argv = ["bound", "--n", "200", "--k", "4", "--delta", "0.3", "--solve-for", resource]
    for name, value in known.items():
        argv += [f"--{name}", value]
    out = run_json(capsys, *argv)
    value = out["solved_value"]
    assert isinstance(value, int)
    product = {name: int(v) for name, v in known.items()}
    product[resource] = value
    cost = Fraction(2 * product["params"] * product["steps"] * product["samples"])
    c = math.comb(200, 4)
    delta = Fraction(0.3)
    assert cost / c >= delta                       # reaches delta ...
    product[resource] = value - 1                  # ... and one less does not
    smaller = Fraction(2 * product["params"] * product["steps"] * product["samples"])
    assert value == 1 or smaller / c < delta


def test_bound_solve_for_delta(capsys):
    out = run_json(capsys, "bound", "--n", "30", "--k", "3", "--params", "2", "--steps", "3",
                   "--samples", "5", "--solve-for", "delta")
    assert out["solved_value"] == pytest.approx(60 / math.comb(30, 3), rel=1e-12)


def test_bound_huge_binomial_stays_finite(capsys):
    out = run_json(capsys, "bound", "--n", "1e6", "--k", "60", "--width", "1e5", "--steps",
                   "1e5", "--samples", "1e6")
    assert out["max_success_probability"] >= 0.0
    assert out["log10_max_success_probability"] < -250
    assert out["log10_threshold"] == pytest.approx(
        math.log10(math.comb(10**6, 60)) - math.log10(2), rel=1e-12)


# --- lottery ---------------------------------------------------------------------------------

def test_lottery_keys_against_enumeration(capsys):
    n, k, s = 9, 3, 4
    out = run_json(capsys, "lottery", "--n", str(n), "--k", str(k), "--s", str(s),
                   "--width", "20", "--delta", "0.05")
    target = set(range(k))
    counts = [0] * (min(s, k) + 1)
    for support in combinations(range(n), s):
        counts[len(target & set(support))] += 1
    total = math.comb(n, s)
    assert out["overlap_pmf"] == pytest.approx([c / total for c in counts], rel=1e-12)
    p = Fraction(counts[k], total)
    assert out["p_lucky"] == pytest.approx(float(p), rel=1e-12)
    assert out["p_at_least_one"] == pytest.approx(float(1 - (1 - p) ** 20), rel=1e-12)
    r = out["width_needed"]
    assert (1 - p) ** r <= Fraction(0.05) < (1 - p) ** (r - 1)


def test_lottery_without_optional_flags_has_its_optional_keys_null(capsys):
    out = run_json(capsys, "lottery", "--n", "20", "--k", "2", "--s", "2")
    for key in ("width", "p_at_least_one", "expected_lucky", "log10_expected_lucky", "delta",
                "width_needed", "log10_width_needed"):
        assert out[key] is None, key


def test_lottery_astronomical_width_is_null_with_log(capsys):
    out = run_json(capsys, "lottery", "--n", "1e6", "--k", "200", "--s", "200", "--delta", "0.1")
    assert out["width_needed"] is None
    assert 800 < out["log10_width_needed"] < 850


# --- gap -------------------------------------------------------------------------------------

def _brute_kappa(s, b, d):
    total = 0
    for minus in range(s + 1):
        for negatives in combinations(range(s), minus):
            if s - 2 * minus + b > 0:
                total += (-1) ** sum(1 for i in negatives if i < d)
    return Fraction(total, 2**s)


def test_gap_keys_and_kappa_by_enumeration(capsys):
    out = run_json(capsys, "gap", "--s", "5", "--k", "3", "--bias", "1/2", "--n", "64")
    expected = [_brute_kappa(5, Fraction(1, 2), d) for d in range(6)]
    assert out["kappa_exact"] == [str(v) for v in expected]  # "0", never "0/1"
    assert "0" in out["kappa_exact"]
    assert out["kappa"] == [float(v) for v in expected]
    gap = abs(expected[2]) - abs(expected[4])
    assert Fraction(out["gap_exact"]) == gap
    assert out["gap"] == float(gap)
    if gap > 0:
        assert out["samples_needed"] == math.ceil(8 * math.log(2 * 64 / 0.01) / float(gap) ** 2)
    else:
        assert out["samples_needed"] is None


def test_gap_samples_needed_only_with_n(capsys):
    out = run_json(capsys, "gap", "--s", "2", "--k", "3", "--bias", "0")
    assert out["n"] is None and out["samples_needed"] is None
    assert out["log10_samples_needed"] is None
    assert out["gap_exact"] == "1/4"  # |kappa(2, 0, 2)| = 1/4, the s = k - 1 case


# --- upper and demo --------------------------------------------------------------------------

def test_upper_rows(capsys):
    out = run_json(capsys, "upper", "--n", "100", "--k", "4", "--s", "2", "8", "--c2", "3")
    thm5, thm4 = out["rows"]
    assert thm5["theorem"] == 5 and thm4["theorem"] == 4
    assert thm4["log10_width"] == pytest.approx(math.log10(3 * (100 / 8) ** 4), rel=1e-12)
    assert thm5["log10_samples"] == pytest.approx(math.log10((100 / 4) ** 1), rel=1e-12)


def test_demo_prints_all_tables(capsys):
    assert main(["demo", "--no-train"]) == 0
    text = capsys.readouterr().out
    for title in ("SQ lower bound", "Lottery tickets", "Fourier gap", "Upper-bound frontier"):
        assert title in text
    out = run_json(capsys, "demo", "--n", "30", "--k", "4", "--no-train")
    assert {"sq", "lottery", "gaps", "upper"} <= set(out)


@pytest.mark.parametrize("argv", [
    ["bound", "--n", "50", "--k", "3", "--width", "10", "--steps", "10", "--samples", "10"],
    ["lottery", "--n", "50", "--k", "3", "--s", "2"],
    ["gap", "--s", "3", "--k", "3"],
    ["upper", "--n", "50", "--k", "4"],
])
def test_latex_flag(capsys, argv):
    assert main([*argv, "--latex"]) == 0
    text = capsys.readouterr().out
    assert "LaTeX" in text and "\\" in text
    out = run_json(capsys, *argv, "--latex")
    assert all(isinstance(v, str) for v in out["latex"].values())


# --- errors ----------------------------------------------------------------------------------

BAD = [
    (["bound", "--n", "5", "--k", "7", "--width", "3", "--steps", "1", "--samples", "1"], "k"),
    (["bound", "--n", "50", "--k", "3", "--width", "3.5", "--steps", "1", "--samples", "1"],
     "--width"),
    (["bound", "--n", "50", "--k", "3", "--width", "-2", "--steps", "1", "--samples", "1"],
     "width"),
    (["bound", "--n", "50", "--k", "3", "--width", "2", "--steps", "1", "--tau", "0"], "tau"),
    (["bound", "--n", "50", "--k", "3", "--width", "2", "--steps", "1", "--tau", "-1"], "tau"),
    (["bound", "--n", "50", "--k", "3", "--width", "2", "--steps", "1", "--samples", "1",
      "--delta", "1"], "delta"),
    (["bound", "--n", "50", "--k", "3", "--width", "2", "--steps", "1", "--samples", "1",
      "--delta", "0"], "delta"),
    (["bound", "--n", "50", "--k", "3", "--steps", "1", "--samples", "1", "--solve-for",
      "params"], "delta"),
    (["bound", "--n", "50", "--k", "3", "--width", "2", "--steps", "1", "--samples", "1",
      "--delta", "0.5", "--solve-for", "steps"], "steps"),
    (["bound", "--n", "50", "--k", "3", "--width", "2", "--samples", "1"], "steps"),
    (["bound", "--n", "nan", "--k", "3"], "--n"),
    (["lottery", "--n", "10", "--k", "3", "--s", "11"], "s"),
    (["lottery", "--n", "10", "--k", "3", "--s", "0"], "s"),
    (["lottery", "--n", "10", "--k", "0", "--s", "2"], "k"),
    (["lottery", "--n", "10", "--k", "3", "--s", "2", "--delta", "2"], "delta"),
    (["lottery", "--n", "10", "--k", "3", "--s", "2", "--width", "0"], "width"),
    (["gap", "--s", "3", "--k", "2", "--bias", "x"], "--bias"),
    (["gap", "--s", "3", "--k", "2", "--n", "2"], "s"),
    (["gap", "--s", "3", "--k", "2", "--n", "10", "--delta", "1.5"], "delta"),
    (["gap", "--s", "3", "--k", "2", "--delta", "1.5"], "delta"),
    (["gap", "--s", "6000", "--k", "2"], "s"),
    (["lottery", "--n", "1e16", "--k", "3", "--s", "2"], "n"),
    (["upper", "--n", "10", "--k", "3", "--s", "20"], "s"),
    (["upper", "--n", "10", "--k", "3", "--c2", "0"], "c2"),
    (["bogus"], "COMMAND"),
    (["demo", "--k", "60", "--no-train"], "k"),
]


@pytest.mark.parametrize("argv,name", BAD)
def test_bad_input_exits_2_with_one_line(capsys, argv, name):
    code, err = run_error(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert "error:" in lines[0] and name in lines[0]


def test_console_script_and_module_entry_points():
    exe = [sys.executable, "-m", "parity_frontiers"]
    done = subprocess.run([*exe, "gap", "--s", "3", "--k", "1", "--json"], capture_output=True,
                          text=True, check=True)
    assert json.loads(done.stdout)["kappa_exact"][0] == "1/2"
    bad = subprocess.run([*exe, "lottery", "--n", "3", "--k", "4", "--s", "1"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stdout == ""


def test_bound_solution_beyond_float_range_is_null_with_log(capsys):
    # C(1e7, 20000) has about 62,654 digits: exact arithmetic still runs, but the answer is
    # reported by its log10 (JSON has no room for 62,000-digit integers in practice).
    out = run_json(capsys, "bound", "--n", "1e7", "--k", "20000", "--width", "1e5", "--steps",
                   "1e5", "--delta", "0.5", "--solve-for", "samples")
    assert out["solved_value"] is None and out["binomial"] is None
    params = 10**5 * (10**7 + 2) + 1
    expected = (math.log10(0.5) + out["log10_binomial"] - math.log10(2 * params * 10**5))
    assert out["log10_solved_value"] == pytest.approx(expected, rel=1e-12)
    assert main(["bound", "--n", "1e7", "--k", "20000", "--width", "1e5", "--steps", "1e5",
                 "--delta", "0.5", "--solve-for", "samples"]) == 0
    assert "10^62636.4" in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("parity-frontiers ")


def test_bound_forbidden_and_solved_width(capsys):
    out = run_json(capsys, "bound", "--n", "50", "--k", "3", "--params", "10", "--steps", "10",
                   "--delta", "0.5", "--solve-for", "samples")
    assert out["solved_value"] == 49 and out["forbidden"] is False     # exactly at 1/2
    out = run_json(capsys, "bound", "--n", "50", "--k", "3", "--params", "10", "--steps", "10",
                   "--samples", "48", "--delta", "0.5")
    assert out["forbidden"] is True                                     # 48/98 < 1/2
    out = run_json(capsys, "bound", "--n", "100", "--k", "4", "--steps", "10", "--samples",
                   "10", "--delta", "0.5", "--solve-for", "params")
    assert out["solved_width"] == -(-(out["solved_value"] - 1) // 102)


def test_bound_tau_form_in_label_and_latex(capsys):
    assert main(["bound", "--n", "50", "--k", "3", "--width", "10", "--delta", "0.5",
                 "--tau", "0.1", "--solve-for", "steps", "--latex"]) == 0
    text = capsys.readouterr().out
    assert "r T / tau^2 / delta" in text
    frontier = text.split("frontier_steps:")[1]
    assert "\\delta \\tau^{2}" in frontier and "2 T m" not in frontier


def test_lottery_json_when_s_equals_n(capsys):
    out = run_json(capsys, "lottery", "--n", "10", "--k", "3", "--s", "10", "--delta", "0.1")
    assert out["width_needed"] == 1 and out["log10_width_needed"] == 0.0
    demo = run_json(capsys, "demo", "--n", "6", "--k", "3", "--no-train")
    assert all(row["width_needed"] >= 1 for row in demo["lottery"])


def test_gap_negative_fraction_bias(capsys):
    out = run_json(capsys, "gap", "--s", "3", "--k", "1", "--bias", "-1/2")
    assert out["bias"] == "-1/2"
    # threshold z1+z2+z3 > 1/2 fires when at most one z is -1: mean 4/8, degree-1 coefficient
    # E[z1 * 1[...]] = (3 - 1) / 8 = 1/4 (z1 = +1 in 3 firing inputs, -1 in 1).
    assert out["kappa_exact"][:2] == ["1/2", "1/4"]
    assert out["gradients"][1]["in_S_in_U"] == "1/2"     # kappa(3, -1/2, 0) for k = 1


def test_upper_steps_beyond_float_range(capsys):
    out = run_json(capsys, "upper", "--n", "100", "--k", "4", "--s", "4", "--epsilon", "1e-170",
                   "--c4", "3")
    row = out["rows"][0]
    assert row["steps"] is None
    assert row["log10_steps"] == pytest.approx(math.log10(3) + 340, rel=1e-14)
    assert main(["upper", "--n", "100", "--k", "4", "--s", "4", "--epsilon", "1e-170"]) == 0
    assert "10^340.00" in capsys.readouterr().out


def test_output_helpers():
    from parity_frontiers.output import dumps_json, format_fraction, format_number
    assert format_number(10**400) == "1.000000e+400"
    assert format_number(True) == "yes" and format_number(None, 12.5) == "10^12.50"
    assert format_fraction("0/1") == "0" and format_fraction("6/4") == "3/2"
    assert format_fraction(f"1/{2**60}").startswith("~")
    with pytest.raises(ValueError, match="non-finite"):
        dumps_json({"a": [1.0, float("inf")]})


def test_lottery_table_with_too_long_law(capsys):
    assert main(["lottery", "--n", "1e12", "--k", "5e11", "--s", "5e11", "--delta", "0.01"]) == 0
    text = capsys.readouterr().out
    assert "500000000001 entries, not shown" in text
    out = run_json(capsys, "lottery", "--n", "1e12", "--k", "5e11", "--s", "5e11")
    assert out["overlap_pmf"] is None and out["log10_p_lucky"] < -3e11


def _leaf_parsers(parser, words=()):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word, child in action.choices.items():
                yield from _leaf_parsers(child, (*words, word))
            return
    yield " ".join(words), parser


def test_no_help_or_description_shows_a_doubled_percent_sign():
    # argparse expands % in option help but prints descriptions as they are written
    from parity_frontiers.cli import build_parser

    for name, parser in _leaf_parsers(build_parser()):
        assert "%%" not in parser.format_help(), name


OWN_COMMANDS = ("bound", "lottery", "gap", "upper", "demo", "simulate", "frontier",
                "lottery-ticket", "tabular")


def test_every_option_has_help():
    import argparse

    from parity_frontiers.cli import build_parser

    for name, parser in _leaf_parsers(build_parser()):
        if name.split()[0] not in OWN_COMMANDS:
            continue
        for action in parser._actions:
            if action.option_strings and action.help is not argparse.SUPPRESS:
                assert action.help, (name, action.option_strings)
