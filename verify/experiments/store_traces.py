"""Learning curves (:class:`~parity_frontiers.verify.config.RunTrace`) as compact, exact blobs.

Each of a trace's four arrays is one BLOB of the ``traces`` table: a one-byte codec tag, then
the zlib-compressed little-endian payload. Every codec round-trips its array exactly (bit for
bit, NaN included):

``D`` (integers: ``steps``, ``test_samples``)
    int64 first differences: an evaluation every ``eval_every`` steps, or a test count that
    rarely changes, is a run of equal differences that zlib shrinks to a few bytes.
``C`` (``test_error``)
    int64 first differences of the error *counts* ``c = test_error * test_samples``, used when
    ``c / test_samples`` gives back every stored float64 exactly -- as it does for an error the
    trainer computed as a count over the samples counted (derived here: IEEE division is
    correctly rounded, so the same integers give the same float).
``f`` / ``F`` (floats)
    float32 when every value is a float32 (NaN -- "not measured" -- included), else float64.

The row also holds the point count, and :func:`decode_trace` checks every array against it: a
damaged blob is a ValueError naming what is wrong, never a silently shorter curve.

Examples
--------
>>> import numpy as np
>>> from parity_frontiers.verify.config import RunTrace
>>> trace = RunTrace(np.arange(100, 2100, 100), np.linspace(0.5, 0.0, 20).round(4),
...                  np.full(20, 10_000), np.full(20, np.nan))
>>> row = encode_trace(trace)
>>> row["points"], decode_trace(row).steps[-1]
(20, np.int64(2000))
"""

from __future__ import annotations

import zlib

import numpy as np

from parity_frontiers.verify.config import RunTrace

__all__ = ["encode_trace", "decode_trace", "TRACE_ARRAYS"]

#: The arrays of a trace, each a BLOB column of the ``traces`` table.
TRACE_ARRAYS = ("steps", "test_error", "test_samples", "train_error")
_LEVEL = 6


def _pack(tag: bytes, array: np.ndarray) -> bytes:
    return tag + zlib.compress(array.tobytes(), _LEVEL)


def _diffs(values: np.ndarray) -> np.ndarray:
    # int64 differences wrap on overflow, and the cumulative sum wraps back: exact for any int64
    with np.errstate(over="ignore"):
        return np.diff(values.astype("<i8"), prepend=np.int64(0)).astype("<i8")


def _encode_floats(values: np.ndarray, samples: np.ndarray | None) -> bytes:
    values = values.astype(np.float64)
    if samples is not None and np.all(np.isfinite(values)) and np.all(samples > 0):
        counts = np.rint(values * samples)
        if np.all(np.abs(counts) < 2**53) and np.array_equal(counts / samples, values):
            return _pack(b"C", _diffs(counts.astype(np.int64)))
    as32 = values.astype(np.float32)
    if np.array_equal(as32.astype(np.float64), values, equal_nan=True):
        return _pack(b"f", as32.astype("<f4"))
    return _pack(b"F", values.astype("<f8"))


def encode_trace(trace: RunTrace) -> dict:
    """The ``traces`` row of ``trace`` (without its run key): ``points`` and one blob per array."""
    return {"points": len(trace), "steps": _pack(b"D", _diffs(trace.steps)),
            "test_error": _encode_floats(trace.test_error, trace.test_samples),
            "test_samples": _pack(b"D", _diffs(trace.test_samples)),
            "train_error": _encode_floats(trace.train_error, None)}


def _decode(name: str, blob, points: int, samples: np.ndarray | None) -> np.ndarray:
    if not isinstance(blob, bytes) or not blob:
        raise ValueError(f"its {name} is not a trace blob")
    tag, body = blob[:1], blob[1:]
    try:
        raw = zlib.decompress(body)
    except zlib.error as exc:
        raise ValueError(f"its {name} does not decompress ({exc})") from None
    width = {b"D": 8, b"C": 8, b"f": 4, b"F": 8}.get(tag)
    if width is None:
        raise ValueError(f"its {name} has the unknown codec {tag!r}")
    if len(raw) != width * points:
        raise ValueError(f"its {name} holds {len(raw)} bytes, not the {width * points} of "
                         f"{points} points")
    if tag in (b"D", b"C"):
        with np.errstate(over="ignore"):
            values = np.cumsum(np.frombuffer(raw, "<i8"), dtype=np.int64)
        if tag == b"C":
            if samples is None:
                raise ValueError(f"its {name} is stored as counts without sample counts")
            return values / samples
        return values
    return np.frombuffer(raw, "<f4" if tag == b"f" else "<f8").astype(np.float64)


def decode_trace(row) -> RunTrace:
    """The :class:`RunTrace` of a ``traces`` row (a mapping with ``points`` and the four blobs);
    ValueError saying what is wrong with a damaged one."""
    points = row["points"]
    if not isinstance(points, int) or points < 0:
        raise ValueError(f"its point count is {points!r}")
    steps = _decode("steps", row["steps"], points, None)
    test_samples = _decode("test_samples", row["test_samples"], points, None)
    test_error = _decode("test_error", row["test_error"], points, test_samples)
    train_error = _decode("train_error", row["train_error"], points, None)
    return RunTrace(steps, test_error, test_samples, train_error)
