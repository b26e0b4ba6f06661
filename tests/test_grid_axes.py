"""Every RunConfig field as a grid axis: build_grid, sweep TOML files, `sweep` flags with several
values, packaged examples by name (example:NAME)."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import fields
from pathlib import Path

import pytest
from test_cli_verify import run_error, run_json  # tests/ is on sys.path (rootdir)
from test_verify_sweep import FakeTrainer

import parity_frontiers.verify.experiments.local as local_module
from parity_frontiers.cli import main
from parity_frontiers.cli_verify import checkpoint_bytes
from parity_frontiers.verify.config import RunConfig
from parity_frontiers.verify.experiments.grid import (
    AXIS_KEYS,
    GRID_KEYS,
    TRAIN_KEYS,
    build_grid,
    example_names,
    example_path,
    grid_from_toml,
)
from parity_frontiers.verify.experiments.store import ResultsStore

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(max_steps=200, eval_every=50, test_size=500)
TINY_FLAGS = ["--max-steps", "200", "--eval-every", "50", "--test-size", "500"]
#: Two values of every training setting, each a valid config with the others at their default.
TWO_VALUES = dict(depth=[1, 2], max_steps=[200, 400], eval_every=[50, 100], batch_size=[8, 32],
                  lr=[0.1, 0.05], weight_decay=[0.01, 0.0], loss=["hinge", "square"],
                  test_size=[100, 500], success_error=[0.1, 0.2])


@pytest.fixture
def fake(monkeypatch):
    trainer = FakeTrainer()
    monkeypatch.setattr(local_module, "_trainer_module", lambda: trainer)
    return trainer


def test_every_field_but_the_seed_is_an_axis():
    assert set(AXIS_KEYS) == {f.name for f in fields(RunConfig)} - {"seed"}
    assert set(TWO_VALUES) == set(TRAIN_KEYS) and set(AXIS_KEYS) <= set(GRID_KEYS + TRAIN_KEYS)


@pytest.mark.parametrize("name", sorted(TWO_VALUES))
def test_each_training_setting_as_an_axis(name):
    grid = build_grid(n=6, k=2, width=8, seeds=3, **{name: TWO_VALUES[name]})
    assert len(grid) == 6 and len({c.key() for c in grid}) == 6
    assert [getattr(c, name) for c in grid] == [v for v in TWO_VALUES[name] for _ in range(3)]
    assert [c.seed for c in grid] == [0, 1, 2] * 2  # each point's seeds consecutive


def test_the_product_of_every_axis_against_itertools():
    axes = dict(n=[6, 8], width=[8, 16], samples=[100, None], lr=[0.1, 0.05], depth=[1, 2],
                loss=["hinge", "logistic"])
    grid = build_grid(k=2, seeds=2, **axes)
    names = list(axes)
    expected = Counter(combo for combo in itertools.product(*axes.values()) for _ in range(2))
    assert Counter(tuple(getattr(c, n) for n in names) for c in grid) == expected
    assert len(grid) == 2**6 * 2 and len({c.key() for c in grid}) == len(grid)


def test_scalars_give_the_keys_of_before():
    # A grid without lists is the same runs (same store keys) as before training axes existed.
    one = build_grid(n=6, k=2, width=8, lr=0.05, depth=2, seeds=2)
    assert [c.key() for c in one] == [RunConfig(n=6, k=2, width=8, lr=0.05, depth=2,
                                                seed=s).key() for s in (0, 1)]
    # repeats are dropped after normalisation: 0.1, 1e-1 and 1/10 are one learning rate
    assert len(build_grid(n=6, k=2, width=8, lr=[0.1, 1e-1, 1 / 10], max_steps=[1e3, 1000])) == 1


def test_sparse_s_rule_with_training_axes():
    grid = build_grid(n=8, k=2, width=8, init=["dense", "sparse"], s=[2, 3], lr=[0.1, 0.05])
    assert Counter((c.init, c.s) for c in grid) == {("dense", None): 2, ("sparse", 2): 2,
                                                    ("sparse", 3): 2}


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=[0.1, "x"]), "lr must be a number, got 'x'"),
    (dict(lr=[0.1, True]), "lr must be a number, got True"),
    (dict(depth=[1, 2.5]), "depth must be an integer, got 2.5"),
    (dict(depth=[1, 0]), "depth must be >= 1, got 0"),
    (dict(batch_size=[]), "batch_size must have at least one value"),
    (dict(loss=["hinge", "l1"]), "loss must be one of"),
    (dict(max_steps={"a": 1}), "max_steps must be a value or a list of values, not a table"),
    (dict(weight_decay=[[0.1]]), "weight_decay: each value must be a single value, not a list"),
    (dict(lr=[0.1, 0.0]), r"invalid grid point \(n=6, k=2, width=8, samples=online, "
                          r"init=dense, lr=0.0\): lr must be > 0"),
    (dict(lr=10**400), "lr is too large for floating point"),
    (dict(momentum=0.9), "unknown training setting"),
])
def test_bad_axis_values_name_the_key(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_grid(n=6, k=2, width=8, **kwargs)


def test_messages_name_flags_when_asked():
    with pytest.raises(ValueError, match="^--depth must be >= 1, got 0$"):
        build_grid(n=6, k=2, width=8, depth=[1, 0], flags=True)
    with pytest.raises(ValueError, match="--init sparse needs --s"):
        build_grid(n=6, k=2, width=8, init="sparse", flags=True)
    with pytest.raises(ValueError, match=r"--seed-start \+ --seeds - 1"):
        build_grid(n=6, k=2, width=8, seeds=3, seed_start=2**63 - 2, flags=True)


def test_grid_size_counts_training_axes():
    with pytest.raises(ValueError, match=r"has 1,200,000 runs \(12 point\(s\) x 100,000 seed"):
        build_grid(n=6, k=2, width=8, lr=[0.1, 0.05, 0.02], depth=[1, 2, 3, 4], seeds=100_000)


# --- TOML ----------------------------------------------------------------------------------------

def test_toml_axes_in_either_table(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[grid]\nn = 6\nk = 2\nwidth = 8\nlr = [0.1, 0.05]\nseeds = 2\n"
                    "[train]\ndepth = [1, 2]\nmax_steps = 200\n")
    grid = grid_from_toml(path)
    assert Counter((c.lr, c.depth) for c in grid) == {(0.1, 1): 2, (0.1, 2): 2, (0.05, 1): 2,
                                                      (0.05, 2): 2}
    assert {c.max_steps for c in grid} == {200}


@pytest.mark.parametrize("text, match", [
    ("[grid]\nn = 6\nk = 2\nwidth = 8\nlr = 0.1\n[train]\nlr = 0.2\n",
     "lr set in both \\[grid\\] and \\[train\\]"),
    ("[grid]\nn = 6\nk = 2\nwidth = 8\nmomentum = 1\n",
     r"unknown key\(s\) in \[grid\]: momentum; allowed: n, k, width, .*, success_error$"),
    ("[grid]\nn = 6\nk = 2\nwidth = 8\n[train]\nn = 1\n",
     r"unknown key\(s\) in \[train\]: n \(grid keys go in \[grid\]\); allowed: depth, "),
    ("[grid]\nn = 6\nk = 2\nwidth = 8\n[train]\nlr = [0.1, '0.2']\n",
     "lr must be a number, got '0.2'"),
])
def test_toml_errors(tmp_path, text, match):
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        grid_from_toml(path)
    assert str(info.value).startswith(f"sweep file {path}")


@pytest.mark.parametrize("path", sorted((ROOT / "figures" / "scales").glob("*.toml"))
                         + sorted((ROOT / "verify" / "examples").glob("*.toml")),
                         ids=lambda p: p.name)
def test_shipped_files_stay_valid(path):
    assert grid_from_toml(path)


# --- packaged examples -----------------------------------------------------------------------

def test_examples_by_name():
    assert {"sweep_small", "sweep_lr"} <= set(example_names())
    assert example_path("sweep_small").read_text() == \
        (ROOT / "verify" / "examples" / "sweep_small.toml").read_text()
    lr = grid_from_toml("example:sweep_lr")
    assert sorted({c.lr for c in lr}) == [0.02, 0.05, 0.1, 0.2] and len(lr) == 32
    with pytest.raises(ValueError, match="no such example; the examples are .*example:sweep_lr"):
        example_path("nope")


def test_sweep_help_lists_the_examples(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "example:sweep_small" in text and "example:sweep_lr" in text
    assert "verify/sweep.py" not in text and "%%" not in text
    assert "several values make an axis of the grid" in text


def test_sweep_example_by_name(fake, capsys, tmp_path):
    out = run_json(capsys, "sweep", "--config", "example:sweep_lr", "--store",
                   str(tmp_path / "lr.db"))
    assert out["total"] == 32 and len(out["cells"]) == 8
    assert sorted({c["lr"] for c in out["cells"]}) == [0.02, 0.05, 0.1, 0.2]
    err = run_error(capsys, "sweep", "--config", "example:missing", "--store",
                    str(tmp_path / "x.db"))
    assert "example:sweep_small" in err and not (tmp_path / "x.db").exists()


# --- sweep flags with several values ------------------------------------------------------------

def test_sweep_flags_make_axes(fake, capsys, tmp_path):
    store = str(tmp_path / "runs.db")
    argv = ["sweep", "--n", "6", "--k", "2", "--width", "8", "--lr", "0.1", "0.05", "--depth",
            "1", "2", "--loss", "hinge", "square", "--seeds", "2", "--store", store, *TINY_FLAGS]
    out = run_json(capsys, *argv)
    assert out["total"] == 16 and len(out["cells"]) == 8
    assert Counter((c["lr"], c["depth"], c["loss"]) for c in out["cells"]) == Counter(
        itertools.product([0.1, 0.05], [1, 2], ["hinge", "square"]))
    assert main(argv) == 0
    table = capsys.readouterr().out
    header = next(line for line in table.splitlines() if "success rate [Wilson" in line)
    for column in ("depth", "lr", "loss"):
        assert column in header
    assert "max_steps" not in header  # one value: no column


@pytest.mark.parametrize("argv, match", [
    (["--depth", "1", "0"], "--depth must be >= 1, got 0"),
    (["--lr", "0.1", "0"], "lr must be > 0"),
    (["--init", "sparse"], "--init sparse needs --s"),
])
def test_sweep_axis_errors_name_flags(fake, capsys, tmp_path, argv, match):
    err = run_error(capsys, "sweep", "--n", "6", "--k", "2", "--width", "8", *argv,
                    "--store", str(tmp_path / "runs.db"))
    assert match in err and not (tmp_path / "runs.db").exists()
    assert fake.calls == []


def test_train_takes_single_values(capsys):
    try:
        main(["train", "--n", "6", "--k", "2", "--width", "8", "--lr", "0.1", "0.05"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "unrecognized arguments: 0.05" in capsys.readouterr().err


def test_sweep_json_is_strict(fake, capsys, tmp_path):
    assert main(["sweep", "--n", "6", "--k", "2", "--width", "8", "--store",
                 str(tmp_path / "r.db"), "--json", *TINY_FLAGS]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "points" not in out and len(out["cells"]) == 1


# --- sweep --checkpoint-every ------------------------------------------------------------------

def test_sweep_checkpoints_next_to_the_store(capsys, tmp_path, one_torch_thread):
    from parity_frontiers.verify.experiments.checkpoints import list_checkpoints, load_checkpoint

    store = tmp_path / "runs.db"
    # lr tiny: no run succeeds early, so each has a checkpoint at every multiple of 100
    out = run_json(capsys, "sweep", "--n", "6", "--k", "2", "--width", "8", "--seeds", "2",
                   "--lr", "1e-6", "--max-steps", "200", "--eval-every", "50", "--test-size",
                   "200", "--device", "cpu", "--checkpoint-every", "100", "--store", str(store))
    folder = tmp_path / "runs.db.checkpoints"
    assert out["checkpoints"] == str(folder) and out["trained"] == 2
    with ResultsStore(store, readonly=True) as s:
        configs = [r.config for r in s.results()]
    for config in configs:
        assert list_checkpoints(folder, config) == [100, 200]
        params = load_checkpoint(folder, config.key(), 200)
        assert params[0].shape == (8, 6) and params[0].dtype == "float32"
        # the disk estimate counts what the trainer writes: every parameter, both steps
        written = sum(p.nbytes for step in (100, 200)
                      for p in load_checkpoint(folder, config.key(), step))
        assert checkpoint_bytes(config, 100) == written


def test_sweep_checkpoints_refused_beyond_the_free_disk(capsys, tmp_path, monkeypatch):
    import shutil

    import parity_frontiers.cli_verify as cli_verify

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(cli_verify.shutil, "disk_usage", lambda path: usage._replace(free=1000))
    err = run_error(capsys, "sweep", "--n", "6", "--k", "2", "--width", "8", "--seeds", "2",
                    *TINY_FLAGS, "--checkpoint-every", "50", "--store", str(tmp_path / "r.db"))
    # 65 parameters x 4 bytes x 4 checkpoints x 2 runs
    assert f"may take up to {2080 / 2**30:.3g} GiB, more than the" in err
    assert list(tmp_path.iterdir()) == []


def test_sweep_checkpoints_refused_off_the_local_executor(capsys, tmp_path):
    err = run_error(capsys, "sweep", "--n", "6", "--k", "2", "--width", "8", "--executor",
                    "dask-local", "--checkpoint-every", "100", "--store", str(tmp_path / "r.db"))
    assert "--checkpoint-every goes with --executor local only" in err
    assert list(tmp_path.iterdir()) == []
