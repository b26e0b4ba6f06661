"""`parity-frontiers model fit | predict | score`: JSON keys, tables, bad input (exit 2)."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from parity_frontiers.cli import main
from parity_frontiers.verify.config import RunConfig, RunResult
from parity_frontiers.verify.experiments.store import ResultsStore


def _store(path, ns, seeds, k=3):
    rng = np.random.default_rng(0)
    with ResultsStore(path) as store:
        for n in ns:
            for width in (16, 64):
                for init in ("dense", "sparse"):
                    for m in (100, 300, 1000, 3000, None):
                        p = 1.0 if m is None else 1 / (1 + (400 * n / 30 / m) ** 3)
                        for seed in seeds:
                            config = RunConfig(n=n, k=k, width=width, samples=m, init=init,
                                               s=2 if init == "sparse" else None, seed=seed,
                                               max_steps=2000)
                            win = bool(rng.random() < p)
                            store.add(RunResult(config, win, 200 if win else None,
                                                0.0 if win else 0.5, 0.0,
                                                "success" if win else "max_steps",
                                                200 if win else 2000))
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("model")
    fit = _store(root / "fit.db", [20, 40], range(8))
    held = _store(root / "held.db", [30], range(100, 104))
    model = str(root / "model.json")
    assert main(["model", "fit", "--store", fit, "--model", "phenomenological", "--out", model,
                 "--bootstrap", "8", "--json"]) == 0
    return {"fit": fit, "held": held, "model": model, "root": root}


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_fit_writes_model_file(files, capsys):
    data = json.load(open(files["model"]))
    assert data["format"] == "parity-frontiers-model" and data["format_version"] == 1
    assert data["model"] == "phenomenological"
    assert len(data["bootstrap"]["draws"]) == 8 and data["bootstrap"]["unit"] == "seed"
    assert data["data"]["store"] == files["fit"] and data["data"]["runs"] == 2 * 2 * 2 * 5 * 8
    assert data["data"]["nk"] == [[20, 3], [40, 3]] and data["data"]["n_range"] == [20, 40]
    out = files["root"] / "sq.json"
    assert main(["model", "fit", "--store", files["fit"], "--model", "sq", "--out", str(out),
                 "--bootstrap", "2"]) == 0
    assert "sq model fitted on" in capsys.readouterr().out


def test_predict_json(files, capsys):
    out = _json(capsys, ["model", "predict", "--model", files["model"], "--n", "30", "--k", "3",
                         "--width", "64", "--init", "sparse", "--s", "2", "--samples", "100",
                         "1000", "online", "--json"])
    assert [r["samples"] for r in out["rows"]] == [100, 1000, None]
    for row in out["rows"]:
        assert row["p_low"] <= row["p_success"] <= row["p_high"] or \
            row["p_high"] - row["p_low"] < 1e-9
    assert out["m_star_low"] <= out["m_star"] <= out["m_star_high"]
    assert out["extrapolation"] is False
    far = _json(capsys, ["model", "predict", "--model", files["model"], "--n", "200", "--k",
                         "3", "--width", "16", "--init", "dense", "--json"])
    assert far["extrapolation"] is True and "far outside" in far["warning"]
    text = capsys.readouterr().out
    assert main(["model", "predict", "--model", files["model"], "--n", "30", "--k", "3",
                 "--width", "16", "--init", "dense"]) == 0
    text = capsys.readouterr().out
    assert "m* (P = 0.5)" in text


def test_score_json(files, capsys):
    out = _json(capsys, ["model", "score", "--model", files["model"], "--store", files["held"],
                         "--json"])
    for key in ("log_likelihood_per_run", "baseline_log_likelihood_per_run", "cells",
                "fraction_inside", "m_star_coverage", "verdict", "verdict_rule"):
        assert key in out
    assert out["verdict"] in ("consistent", "rejected")
    cell = out["cells"][0]
    for key in ("observed", "runs", "p_success", "p_low", "p_high", "inside"):
        assert key in cell
    assert main(["model", "score", "--model", files["model"], "--store", files["held"]]) == 0
    assert "verdict:" in capsys.readouterr().out


def _error(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and match in err, err


def test_bad_input(files, capsys, tmp_path):
    model, held = files["model"], files["held"]
    _error(capsys, ["model", "score", "--model", model, "--store", str(tmp_path / "no.db")],
           "does not exist")
    foreign = tmp_path / "foreign.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    _error(capsys, ["model", "score", "--model", model, "--store", str(foreign)], "error")
    _error(capsys, ["model", "score", "--model", held, "--store", held], "cannot read model")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**json.load(open(model)), "format_version": 7}))
    _error(capsys, ["model", "predict", "--model", str(wrong), "--n", "30", "--k", "3",
                    "--width", "16", "--init", "dense"], "version")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"rows": []}))
    _error(capsys, ["model", "score", "--model", str(other), "--store", held],
           "not a parity-frontiers model")
    _error(capsys, ["model", "predict", "--model", model, "--n", "30", "--k", "4",
                    "--width", "16", "--init", "dense"], "k = 4")
    far = _store(tmp_path / "far.db", [200], range(2))
    _error(capsys, ["model", "score", "--model", model, "--store", far], "never fitted near")
    _error(capsys, ["model", "fit", "--store", held, "--model", "sq", "--out",
                    str(tmp_path / "nodir" / "m.json")], "does not exist")
    _error(capsys, ["model", "predict", "--model", model, "--n", "30", "--k", "3",
                    "--width", "16", "--init", "sparse"], "--s")
    with pytest.raises(SystemExit) as exc:
        main(["model", "fit", "--store", held, "--model", "nope", "--out", "x.json"])
    assert exc.value.code == 2


@pytest.mark.parametrize("extra, message", [
    (["--init", "sparse-gaussian"], "--init sparse-gaussian needs --s"),
    (["--init", "dense", "--s", "2"], "--s applies to a sparse --init only, not --init dense"),
    (["--init", "sparse", "--s", "31"], "--s must be <= --n, got --s 31 > --n 30"),
    (["--init", "dense", "--k", "31"], "--k must be <= --n, got --k 31 > --n 30"),
])
def test_predict_checks_name_the_flags(files, capsys, extra, message):
    _error(capsys, ["model", "predict", "--model", files["model"], "--n", "30", "--k", "3",
                    "--width", "16", *extra], message)


def test_help_renders_percent_signs(capsys):
    texts = {}
    for action in ("fit", "predict", "score"):
        with pytest.raises(SystemExit):
            main(["model", action, "--help"])
        texts[action] = " ".join(capsys.readouterr().out.split())
        assert "%%" not in texts[action] and "%(" not in texts[action]
    assert "with its 95% bootstrap band" in texts["predict"]
    assert "--where" in texts["fit"] and "--where" in texts["score"]
