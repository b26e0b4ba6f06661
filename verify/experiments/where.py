"""Run filters: ``--where "lr=0.1,depth=1"`` on every command that reads a results store.

A filter is a conjunction of ``field=value`` terms over :class:`~parity_frontiers.verify.config.
RunConfig` fields; a field given several times (``--where n=30 --where n=50``, or
``n=30|50``) matches any of its values. Values are parsed as the field's type, so ``lr=0.1``
matches a stored ``0.1`` exactly, ``samples=online`` matches online runs, and ``s=none``
matches runs without a support size. Unknown fields and unparsable values are a ValueError
that names the field and the allowed names.

Examples
--------
>>> from parity_frontiers.verify.config import RunConfig
>>> where = parse_where(["lr=0.1,depth=1", "n=30|50"])
>>> sorted(where)
['depth', 'lr', 'n']
>>> matches(RunConfig(n=30, k=3, width=8).as_dict(), where)
True
>>> matches(RunConfig(n=40, k=3, width=8).as_dict(), where)
False
>>> describe_where(where)
'depth=1, lr=0.1, n=30|50'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields

from parity_frontiers.verify.config import RunConfig

__all__ = ["WHERE_FIELDS", "parse_where", "matches", "filter_results", "describe_where"]

#: The fields a filter may name: every RunConfig field.
WHERE_FIELDS = tuple(f.name for f in fields(RunConfig))

_INT_FIELDS = ("n", "k", "width", "depth", "seed", "max_steps", "eval_every", "batch_size",
               "test_size")
_REAL_FIELDS = ("lr", "weight_decay", "success_error")
_NULLABLE_INT_FIELDS = ("samples", "s")
_NULL_WORDS = {"samples": ("online", "none"), "s": ("none", "-")}


def _parse_value(name: str, text: str):
    text = text.strip()
    if not text:
        raise ValueError(f"--where {name}= needs a value")
    if name in _NULLABLE_INT_FIELDS and text.lower() in _NULL_WORDS[name]:
        return None
    if name in _INT_FIELDS or name in _NULLABLE_INT_FIELDS:
        try:
            value = float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            value = None
        if value is None or (isinstance(value, float) and
                             (not math.isfinite(value) or value != int(value))):
            extra = " or 'online'" if name == "samples" else ""
            raise ValueError(f"--where {name}= must be an integer{extra}, got {text!r}")
        return int(value)
    if name in _REAL_FIELDS:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"--where {name}= must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"--where {name}= must be finite, got {text!r}")
        return value
    return text


def parse_where(texts: str | Sequence[str] | None) -> dict[str, frozenset]:
    """``{field: allowed values}`` from ``"a=1,b=2"`` strings (None or [] : no filter).

    Terms are separated by commas; ``field=v1|v2`` allows several values; the same field in
    several terms or strings allows the union of their values.
    """
    if texts is None:
        return {}
    if isinstance(texts, str):
        texts = [texts]
    where: dict[str, set] = {}
    for text in texts:
        if not isinstance(text, str):
            raise ValueError(f"--where takes 'field=value' text, got {text!r}")
        for term in text.split(","):
            term = term.strip()
            if not term:
                continue
            name, sep, values = term.partition("=")
            name = name.strip().replace("-", "_")
            if not sep:
                raise ValueError(f"--where terms are 'field=value', got {term!r}")
            if name not in WHERE_FIELDS:
                raise ValueError(f"--where: unknown field {name!r}; the fields are "
                                 + ", ".join(WHERE_FIELDS))
            where.setdefault(name, set()).update(_parse_value(name, v) for v in values.split("|"))
    return {name: frozenset(values) for name, values in where.items()}


def matches(config: Mapping, where: Mapping[str, Iterable]) -> bool:
    """Whether a config dict (:meth:`RunConfig.as_dict`) passes every term of ``where``."""
    return all(config.get(name) in values for name, values in where.items())


def filter_results(results: Iterable, where: Mapping[str, Iterable]) -> list:
    """The results (anything with a ``.config`` RunConfig) that pass ``where``."""
    if not where:
        return list(results)
    return [r for r in results if matches(r.config.as_dict(), where)]


def describe_where(where: Mapping[str, Iterable]) -> str:
    """The filter as one canonical line (fields sorted, values sorted), '' for none."""
    def text(value):
        return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    return ", ".join(f"{name}=" + "|".join(sorted((text(v) for v in values), key=_order))
                     for name, values in sorted(where.items()))


def _order(text: str):
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)
