"""RunConfig: validation, type normalisation and the store key."""

from __future__ import annotations

import numpy as np
import pytest
from parity_frontiers.verify.config import FLOAT32_MAX, MAX_SEED, RunConfig, RunResult

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
