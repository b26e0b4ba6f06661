"""RunConfig: validation, type normalisation, registry names and the store key (pinned)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from parity_frontiers.verify.config import (
    ACTIVATIONS,
    FLOAT32_MAX,
    INITS,
    KEY_OPTIONAL_DEFAULTS,
    MAX_SEED,
    RunConfig,
    RunResult,
)

BASE = dict(n=10, k=2, width=8)


def test_equal_configs_have_equal_keys():
    a = RunConfig(**BASE, lr=1, weight_decay=0, seed=np.int64(3), samples=np.int32(100))
    b = RunConfig(**BASE, lr=1.0, weight_decay=0.0, seed=3, samples=100)
    assert a == b and a.key() == b.key() and a.shape_key() == b.shape_key()
    assert type(a.seed) is int and type(a.samples) is int and type(a.lr) is float
    assert RunConfig.from_dict(a.as_dict()) == a


def test_seed_changes_key_not_shape():
    a, b = RunConfig(**BASE, seed=0), RunConfig(**BASE, seed=1)
    assert a.key() != b.key() and a.shape_key() == b.shape_key()


@pytest.mark.parametrize("bad, match", [
    (dict(n=3, k=4), "k must be <= n"),
    (dict(width=0), "width must be >= 1"),
    (dict(width=8.0), "width must be an integer"),
    (dict(width=True), "width must be an integer"),
    (dict(seed=-1), "seed must be >= 0"),
    (dict(seed=MAX_SEED), "seed must be < 2\\*\\*63"),
    (dict(max_steps=2**53 + 1), "max_steps must be <= 2\\*\\*53"),
    (dict(init="sparse"), "sparse init needs s"),
    (dict(s=2), "s is only meaningful"),
    (dict(init="sparse", s=11), "s must be <= n"),
    (dict(init="other"), "init must be one of"),
    (dict(loss="l1"), "loss must be one of"),
    (dict(lr=0), "lr must be > 0"),
    (dict(lr=float("nan")), "lr must be a finite number"),
    (dict(lr=float("inf")), "lr must be a finite number"),
    (dict(lr=1e300), "float32"),
    (dict(lr=1e30, weight_decay=1e10), "float32"),
    (dict(success_error=1.0), "success_error must be in \\[0, 1\\)"),
    (dict(success_error=-0.1), "success_error must be a finite number >= 0"),
])
def test_bad_configs(bad, match):
    with pytest.raises(ValueError, match=match):
        RunConfig(**{**BASE, **bad})


def test_largest_float32_learning_rate_accepted():
    assert RunConfig(**BASE, lr=FLOAT32_MAX, weight_decay=0.0).lr == FLOAT32_MAX


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown run config field"):
        RunConfig.from_dict({**BASE, "momentum": 0.9})


def test_run_result_end_reason_checked():
    with pytest.raises(ValueError, match="end_reason"):
        RunResult(RunConfig(**BASE), False, None, 0.5, 0.5, "timeout", 10)


# --- activation, registries, and the stability of store keys ------------------------------------

#: (config, key, shape_key) computed by the code *before* ``RunConfig.activation`` existed (one
#: commit earlier, every field hashed). A run's key is its identity in every results store
#: written since: these must never change.
PINNED_KEYS = [
    (dict(n=30, k=3, width=64),
     "2b907721a9623e23694ce50ea1b4e4bcba64d93d2e2245f80b469c77be10b7aa",
     "83efe5ad8c44041dce72ad7c15f32166e1f3d348eead46aeaa5edb8a136fe037"),
    (dict(n=50, k=3, width=1024, samples=1000, init="sparse", s=2, seed=7),
     "2e02bd9b5aba50748496348cd7bc480fdb1c7d3cdd35055fa0361fabb7ff1d62",
     "294d9b35e335fc5cfece2f54907d0d755de052a865aece5f153deab8f5d5b5a0"),
    (dict(n=20, k=4, width=16, depth=2, loss="logistic", lr=0.05, weight_decay=0.0, seed=3,
          max_steps=1000, eval_every=50, batch_size=64, test_size=2000, success_error=0.05),
     "69d0fd8b213166c6eabfca147ee2644954089f3f88872cf5bfaa131f941b5185",
     "7e7c125d3d0be62a5e6c1f8d7662fa06423d359d79319bdc8f038133a2c75eef"),
]

REFERENCE = Path(__file__).resolve().parents[1] / "figures" / "reference"


@pytest.mark.parametrize("fields_, key, shape_key", PINNED_KEYS)
def test_keys_of_earlier_configs_do_not_change(fields_, key, shape_key):
    config = RunConfig(**fields_)
    assert config.activation == "relu"
    assert (config.key(), config.shape_key()) == (key, shape_key)
    # the default written out is the same run, the same key
    assert RunConfig(**fields_, activation="relu").key() == key


def _reference_stores() -> list[Path]:
    """Committed results stores (PRAGMA application_id "PFRS"), whatever their folder."""
    stores = []
    for path in sorted(REFERENCE.rglob("*.db")):
        with open(path, "rb") as handle:
            header = handle.read(100)
        if header[68:72] == b"PFRS":
            stores.append(path)
    return stores


def test_reference_store_keys_are_the_recomputed_keys():
    # Every stored key was computed by the code of its day: the configs read back must still
    # give exactly those keys (else a resumed sweep would retrain, a report double-count).
    checked = {}
    for path in _reference_stores():
        uri = f"file:{path}?mode=ro&immutable=1"  # never touches the committed file
        with closing(sqlite3.connect(uri, uri=True)) as con:
            rows = con.execute("SELECT key, shape_key, config_json FROM runs").fetchall()
        checked[path.relative_to(REFERENCE).as_posix()] = len(rows)
        for key, shape_key, config_json in rows:
            config = RunConfig.from_dict(json.loads(config_json))
            assert (config.key(), config.shape_key()) == (key, shape_key), (path, config)
    assert checked["cpu/runs.db"] == 2560 and sum(checked.values()) > 2560, checked


def test_activation_enters_the_key_only_when_not_the_default():
    relu = RunConfig(**BASE)
    absolute = RunConfig(**BASE, activation="abs")
    assert relu.as_dict()["activation"] == "relu"  # stored with the run's config
    assert absolute.key() != relu.key() and absolute.shape_key() != relu.shape_key()
    assert RunConfig.from_dict(absolute.as_dict()) == absolute
    # a config written before the field existed reads back as ReLU, with its old key
    old = {k: v for k, v in relu.as_dict().items() if k != "activation"}
    assert RunConfig.from_dict(old) == relu and RunConfig.from_dict(old).key() == relu.key()
    assert KEY_OPTIONAL_DEFAULTS == {"activation": "relu"}


def test_sparse_gaussian_is_a_sparse_init():
    config = RunConfig(**BASE, init="sparse-gaussian", s=3)
    assert "sparse-gaussian" in INITS and "abs" in ACTIVATIONS
    assert config.key() != RunConfig(**BASE, init="sparse", s=3).key()


@pytest.mark.parametrize("bad, match", [
    (dict(activation="tanh"), "activation must be one of"),
    (dict(activation=None), "activation must be one of"),
    (dict(init="sparse-gaussian"), "sparse-gaussian init needs s"),
    (dict(init="sparse-gaussian", s=11), "s must be <= n"),
    (dict(s=2), "s is only meaningful with init='sparse' or init='sparse-gaussian'"),
])
def test_bad_registry_names(bad, match):
    with pytest.raises(ValueError, match=match):
        RunConfig(**{**BASE, **bad})
