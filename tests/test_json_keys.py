"""Every subcommand's ``--json`` keys, against the list in tests/data/json_keys.json.

The subcommands are enumerated from :func:`parity_frontiers.cli.build_parser`, so a new one
without an entry here (in ``COMMANDS``) and in the key list fails
:func:`test_every_subcommand_has_a_key_list`. Each command runs on tiny inputs; those that
need a results store share one built by ``sweep`` in a temporary folder.

The key list holds, per command, the keys of its JSON object, recursively: a nested object is
an object of its keys, a list of objects is a one-element list with the keys of its elements
("?key": a key only some elements have, such as the fields of different findings), anything
else is null. A value may always be null (not computed). To rewrite the list
after a deliberate change of keys: ``PARITY_FRONTIERS_UPDATE_JSON_KEYS=1 pytest -m ''
tests/test_json_keys.py`` (then read the diff: it is the documentation of the change).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from parity_frontiers.cli import build_parser, main

KEYS_FILE = Path(__file__).parent / "data" / "json_keys.json"
UPDATE = bool(os.environ.get("PARITY_FRONTIERS_UPDATE_JSON_KEYS"))

TRAIN = ["--max-steps", "200", "--eval-every", "50", "--test-size", "100", "--device", "cpu",
         "--threads", "1", "--no-progress"]
TABULAR = ["--datasets", "iris", "--fractions", "1", "--trials", "2", "--models", "rf",
           "mlp:8:s=2", "--forest-trees", "5", "--max-epochs", "3", "--min-steps", "0",
           "--threads", "1", "--no-progress"]

#: command -> (argv after the command words, slow). {store}: the shared sweep store; {tmp}: a
#: per-test folder; {model}: a model fitted to the store; {tabular}: a tabular store.
COMMANDS = {
    "bound": (["--n", "50", "--k", "3", "--width", "10", "--steps", "100", "--samples", "100"],
              False),
    "lottery": (["--n", "20", "--k", "2", "--s", "2"], False),
    "gap": (["--s", "3", "--k", "2"], False),
    "upper": (["--n", "20", "--k", "3", "--s", "2", "4"], False),
    "demo": (["--n", "20", "--k", "3", "--no-train"], False),
    "simulate lottery": (["--n", "10", "--k", "2", "--s", "2", "--width", "3", "--trials",
                          "100"], False),
    "simulate gradient": (["--n", "10", "--k", "2", "--s", "2", "--samples", "50", "--trials",
                           "20"], False),
    "simulate onestep": (["--n", "10", "--k", "2", "--s", "2", "--width", "3", "10",
                          "--samples", "30", "100", "--trials", "20"], False),
    "simulate sq visible": (["--n", "8", "--k", "2", "--width", "4", "--tau", "0.01", "0.1",
                             "--trials", "2"], False),
    "simulate sq guess": (["--n", "10", "--k", "2", "--queries", "1", "5", "--tau", "0.5",
                           "--trials", "100"], False),
    "simulate sq noisy-gd": (["--n", "6", "--k", "2", "--width", "4", "--tau", "0.01",
                              "--steps", "3", "--trials", "2"], False),
    "train": (["--n", "8", "--k", "2", "--width", "8", "--seeds", "2", *TRAIN], False),
    "sweep": (["--store", "{store}"], False),  # the shared store's sweep, run again: all reused
    "results export": (["--store", "{store}", "--out", "{tmp}/runs.csv"], False),
    "results curves": (["--store", "{store}", "--out", "{tmp}/curves.csv"], False),
    "frontier": (["--n", "8", "--k", "2", "--width", "16", "--m-min", "10", "--m-max", "100",
                  "--points-per-decade", "3", "--max-runs", "6", "--store", "{tmp}/f.db",
                  *TRAIN], False),
    "plot": (["heatmap", "--store", "{store}", "--out", "{tmp}/plots", "--no-progress"], False),
    "report": (["--store", "{store}", "--out", "{tmp}/report", "--lottery-trials", "50",
                "--onestep-trials", "20", "--no-progress"], False),
    "reproduce": (["--scale", "smoke", "--out", "{tmp}/smoke", "--device", "cpu",
                   "--no-progress"], True),
    "lottery-ticket": (["--n", "12", "--k", "3", "--width", "32", "--keep", "4", "--seeds",
                        "2", "--max-steps", "300", "--retrain-steps", "100", "--eval-every",
                        "50", "--test-size", "200", "--device", "cpu", "--no-progress"],
                       False),
    "tabular datasets": (["--cache-dir", "{tmp}/openml"], False),
    "tabular run": (["--store", "{tmp}/t.db", *TABULAR], False),
    "tabular summary": (["--store", "{tabular}"], False),
    "tabular plot": (["--store", "{tabular}", "--out", "{tmp}/tabular"], False),
    "model fit": (["--store", "{store}", "--model", "phenomenological", "--bootstrap", "2",
                   "--out", "{tmp}/model.json"], False),
    "model predict": (["--model", "{model}", "--n", "8", "--k", "2", "--width", "4", "--init",
                       "dense"], False),
    "model score": (["--model", "{model}", "--store", "{store}"], False),
}

SWEEP = ["--n", "8", "--k", "2", "--width", "4", "16", "--samples", "50", "1000", "--init",
         "dense", "sparse", "--s", "2", "--seeds", "2", *TRAIN]


def subcommands(parser=None, words=()) -> list[str]:
    """Every leaf subcommand of the CLI, as "simulate sq visible"."""
    parser = parser or build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return [name for word, child in action.choices.items()
                    for name in subcommands(child, (*words, word))]
    return [" ".join(words)]


def run_json(capsys, command: str, argv: list[str]) -> dict:
    capsys.readouterr()  # what the fixtures printed
    code = main([*command.split(), *argv, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def _merge(first, second):
    """One spec for two list elements: a key only one of them has becomes optional ("?key")."""
    if not (isinstance(first, dict) and isinstance(second, dict)):
        if isinstance(first, list) and isinstance(second, list):
            return [_merge(first[0], second[0])]
        return first if second is None else second
    names = {key.lstrip("?") for key in (*first, *second)}
    merged = {}
    for name in sorted(names, key=[k.lstrip("?") for k in (*first, *second)].index):
        here = [spec.get(name, spec.get("?" + name, "absent")) for spec in (first, second)]
        optional = ("?" + name in first or "?" + name in second or "absent" in here)
        values = [value for value in here if value != "absent"]
        value = values[0] if len(values) == 1 else _merge(*values)
        merged[("?" if optional else "") + name] = value
    return merged


def key_spec(value):
    """The key list of a JSON value (module docstring)."""
    if isinstance(value, dict):
        return {key: key_spec(item) for key, item in value.items()}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        merged = key_spec(value[0])
        for item in value[1:]:
            merged = _merge(merged, key_spec(item))
        return [merged]
    return None


def mismatches(value, spec, where="") -> list[str]:
    """Where ``value`` departs from ``spec``: missing and unexpected keys, recursively."""
    if value is None or spec is None:
        return []
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return [f"{where or 'top'}: an object expected, got {type(value).__name__}"]
        names = {key.lstrip("?"): key for key in spec}
        found = [f"{where}.{key}: missing" for key in spec
                 if not key.startswith("?") and key not in value]
        found += [f"{where}.{key}: not in the key list" for key in value if key not in names]
        for key in names.keys() & value.keys():
            found += mismatches(value[key], spec[names[key]], f"{where}.{key}")
        return found
    if not isinstance(value, list):
        return [f"{where}: a list of objects expected, got {type(value).__name__}"]
    return [problem for index, item in enumerate(value)
            for problem in mismatches(item, spec[0], f"{where}[{index}]")]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("json_keys")


@pytest.fixture(scope="module")
def store(workdir):
    path = workdir / "runs.db"
    assert main(["sweep", "--store", str(path), *SWEEP]) == 0
    return str(path)


@pytest.fixture(scope="module")
def model(workdir, store):
    path = workdir / "fitted.json"
    assert main(["model", "fit", "--store", store, "--model", "phenomenological",
                 "--bootstrap", "2", "--out", str(path)]) == 0
    return str(path)


@pytest.fixture(scope="module")
def tabular(workdir):
    pytest.importorskip("sklearn")
    path = workdir / "tabular.db"
    assert main(["tabular", "run", "--store", str(path), *TABULAR]) == 0
    return str(path)


def _key_list() -> dict:
    return json.loads(KEYS_FILE.read_text()) if KEYS_FILE.exists() else {}


def test_every_subcommand_has_a_key_list():
    commands = subcommands()
    assert sorted(COMMANDS) == sorted(commands), "add the new subcommand to COMMANDS"
    if not UPDATE:
        assert sorted(_key_list()) == sorted(commands), f"add it to {KEYS_FILE.name}"


@pytest.mark.parametrize("command", [
    pytest.param(name, marks=[pytest.mark.slow] if slow else [])
    for name, (_, slow) in COMMANDS.items()])
def test_json_keys(command, request, tmp_path, capsys):
    argv, _ = COMMANDS[command]
    fill = {"tmp": str(tmp_path)}
    for name in ("store", "model", "tabular"):
        if any("{" + name + "}" in a for a in argv):
            fill[name] = request.getfixturevalue(name)
    if command == "sweep":
        argv = [*argv, *SWEEP]
    if command.startswith("tabular run"):
        pytest.importorskip("sklearn")
    out = run_json(capsys, command, [a.format(**fill) for a in argv])
    if UPDATE:
        keys = _key_list()
        keys[command] = key_spec(out)
        KEYS_FILE.write_text(json.dumps(dict(sorted(keys.items())), indent=1) + "\n")
        return
    expected = _key_list()[command]
    assert mismatches(out, expected) == []


def test_the_comparison_sees_missing_and_extra_keys():
    spec = {"a": None, "rows": [{"x": None, "y": {"z": None}}]}
    assert mismatches({"a": 1, "rows": [{"x": 1, "y": {"z": 2}}]}, spec) == []
    assert mismatches({"a": None, "rows": [{"x": 1, "y": None}]}, spec) == []  # null: fine
    assert mismatches({"rows": [{"x": 1, "y": {"z": 2, "w": 3}}], "b": 1}, spec) == [
        ".a: missing", ".b: not in the key list", ".rows[0].y.w: not in the key list"]
    assert mismatches({"a": 1, "rows": [{"x": 1, "y": {"z": 1}}, {"y": {"z": 1}}]}, spec) == [
        ".rows[1].x: missing"]
    assert key_spec({"a": [{"b": 1, "e": 0}, {"c": 2, "e": {"f": 1}}], "d": [1, 2]}) == {
        "a": [{"?b": None, "e": {"f": None}, "?c": None}], "d": None}
    optional = {"rows": [{"x": None, "?y": None}]}
    assert mismatches({"rows": [{"x": 1}, {"x": 2, "y": 3}]}, optional) == []
    assert mismatches({"rows": [{"y": 3}]}, optional) == [".rows[0].x: missing"]
