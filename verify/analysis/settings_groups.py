"""Split runs into groups that share their training settings, one analysis per group.

The report's analysis pools runs over the axes of the paper's grid
(:data:`~parity_frontiers.verify.analysis.report_tables.GRID_AXES`: n, k, init, s, width,
samples, seed) and nothing else: two runs that differ in any other RunConfig field (learning
rate, depth, budget, loss, activation ...) belong to different experiments. A store written by
several sweeps, or by one sweep with a learning-rate axis, is therefore split here by
:data:`SETTING_FIELDS` into groups, each analysed on its own. Groups are named by the settings
that differ between them (``lr=0.05, depth=2``) and ordered by those values.

Examples
--------
>>> from parity_frontiers.verify.config import RunConfig
>>> configs = [RunConfig(n=8, k=2, width=4, lr=lr, seed=s) for lr in (0.1, 0.05)
...            for s in range(2)]
>>> groups = split_by_settings(configs, config=lambda c: c)
>>> [(g.label, len(g.items)) for g in groups]
[('lr=0.05', 2), ('lr=0.1', 2)]
>>> groups[0].suffix
'lr0.05'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields

from parity_frontiers.verify.analysis.report_tables import GRID_AXES
from parity_frontiers.verify.config import RunConfig

__all__ = ["SETTING_FIELDS", "SettingsGroup", "split_by_settings", "settings_text"]

#: The RunConfig fields that are not axes of the report's grid: runs differing in one of them
#: are never pooled.
SETTING_FIELDS = tuple(f.name for f in fields(RunConfig) if f.name not in GRID_AXES)


@dataclass(frozen=True)
class SettingsGroup:
    """The items (runs or configs) that share ``settings``; ``varying`` holds the settings
    that differ between the groups of one split (empty when there is one group)."""

    settings: dict
    varying: dict
    items: list

    @property
    def label(self) -> str:
        """``lr=0.05, depth=2``: the varying settings ('' for a lone group)."""
        return settings_text(self.varying)

    @property
    def suffix(self) -> str:
        """The label as a file-name part: ``lr0.05_depth2_abs`` ('' for a lone group); a
        name-valued setting (loss, activation) by its value alone."""
        parts = (value if isinstance(value, str) else f"{name}{_value_text(value)}"
                 for name, value in self.varying.items())
        return re.sub(r"[^A-Za-z0-9._+-]+", "-", "_".join(parts))


def _value_text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings_text(settings: dict) -> str:
    """``lr=0.05, depth=2``."""
    return ", ".join(f"{name}={_value_text(value)}" for name, value in settings.items())


def _order(value):
    # None, numbers and strings never compare with each other: order by kind first.
    return (value is None, isinstance(value, str), value if value is not None else 0)


def split_by_settings(items: Iterable, *, config: Callable = lambda r: r.config,
                      fields_: Sequence[str] = SETTING_FIELDS) -> list[SettingsGroup]:
    """Group ``items`` by the values of ``fields_`` in ``config(item)``.

    Parameters
    ----------
    items : iterable
        Runs (anything with a ``.config``) or, with ``config=lambda c: c``, configs.
    config : callable
        The RunConfig of an item.
    fields_ : sequence of str
        The settings that separate groups (default :data:`SETTING_FIELDS`).

    Returns
    -------
    list of SettingsGroup
        Ordered by the varying settings' values; items keep their order within a group. One
        group (with ``varying`` empty) when no setting varies; none for no items.
    """
    buckets: dict[tuple, list] = {}
    for item in items:
        cfg = config(item)
        buckets.setdefault(tuple(getattr(cfg, name) for name in fields_), []).append(item)
    varying_names = [name for i, name in enumerate(fields_)
                     if len({key[i] for key in buckets}) > 1]
    index = {name: fields_.index(name) for name in varying_names}
    keys = sorted(buckets, key=lambda key: [_order(key[index[n]]) for n in varying_names])
    return [SettingsGroup(settings=dict(zip(fields_, key, strict=True)),
                          varying={name: key[index[name]] for name in varying_names},
                          items=buckets[key]) for key in keys]
