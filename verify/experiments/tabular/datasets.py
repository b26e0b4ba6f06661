r"""Datasets of the tabular proxy and their stratified train / test / fraction splits.

Three sources (docs/theory.md §5.10):

* ``sklearn``: classification datasets that ship inside scikit-learn (always offline):
  ``iris``, ``wine``, ``breast_cancer``, ``digits``;
* ``synthetic``: tasks with a hidden sparse rule among uninformative features (offline,
  deterministic): ``sparse_parity`` (the label is the parity of the signs of k hidden Gaussian
  features, the tabular twin of the paper's sparse parity) and ``axis_rule`` (an axis-aligned
  rule on three hidden features, the kind of target trees are built for);
* ``openml``: the 16 numerical classification tasks of Grinsztajn, Oyallon & Varoquaux 2022
  (OpenML suite 337), named ``openml-<data id>`` (alias ``grinsztajn`` for all of them).
  Downloaded once with :func:`sklearn.datasets.fetch_openml` and saved to
  ``<cache_dir>/openml-<id>.npz``; later loads read that file and never touch the network.
  A dataset that is not cached and cannot be downloaded is one clear ValueError.

Splits
------
For a dataset with class counts :math:`n_c`, the test split takes
:math:`t_c = \mathrm{round}(q\, n_c)` rows of class c, :math:`q = \min(\text{test\_fraction},
\text{max\_test} / n)`, clipped to :math:`[1, n_c - 1]`; the other :math:`p_c = n_c - t_c`
rows are the *pool*. A training fraction f takes the first
:math:`m_c = \lfloor f\, p_c + 1/2 \rfloor` rows (:math:`m_c = p_c` at f = 1) of a random
permutation of each class's pool, so the training sets of one trial are nested in f. A fraction
with :math:`m_c` below ``min_per_class`` for some class is an error (a class left empty, or
with too few rows to learn it from); :func:`train_counts` computes the counts and the message
up front, from the class counts alone, so a benchmark finds it before training anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["TabularDataset", "DATASETS", "GRINSZTAJN_OPENML_IDS", "dataset_names",
           "resolve_names", "load_dataset", "make_sparse_parity", "make_axis_rule",
           "split_counts", "train_counts", "stratified_split", "default_cache_dir",
           "openml_cached"]

#: OpenML data ids of the numerical classification suite (337) of Grinsztajn et al. 2022.
GRINSZTAJN_OPENML_IDS = (44089, 44120, 44121, 44122, 44123, 44125, 44126, 44128, 44129, 44130,
                         45019, 45020, 45021, 45022, 45026, 45028)

_SKLEARN = {
    "iris": ("load_iris", "Fisher's iris: 150 rows, 4 features, 3 classes"),
    "wine": ("load_wine", "wine recognition: 178 rows, 13 features, 3 classes"),
    "breast_cancer": ("load_breast_cancer",
                      "Wisconsin breast cancer: 569 rows, 30 features, 2 classes"),
    "digits": ("load_digits", "8x8 handwritten digits: 1797 rows, 64 features, 10 classes"),
}
_SYNTHETIC = {
    "sparse_parity": "parity of the signs of 3 hidden features among 20 Gaussian ones, "
                     "3000 rows",
    "axis_rule": "(x_a > 0 and x_b > 0) or x_c > 1 on 3 hidden features among 20 Gaussian "
                 "ones, 3000 rows",
}
#: Rows and features of the synthetic tasks (fixed: their names must mean one dataset).
SYNTHETIC_ROWS, SYNTHETIC_FEATURES = 3000, 20
_SYNTHETIC_SEED = 20230


@dataclass(frozen=True)
class TabularDataset:
    """A classification dataset: features ``X`` (float64, no NaN), labels ``y``."""

    name: str
    X: np.ndarray
    y: np.ndarray
    source: str
    description: str

    @property
    def class_counts(self) -> np.ndarray:
        """Rows per class, classes in sorted order."""
        return np.unique(self.y, return_counts=True)[1]


def _registry() -> dict[str, tuple[str, str]]:
    out = {name: ("sklearn", text) for name, (_, text) in _SKLEARN.items()}
    out.update({name: ("synthetic", text) for name, text in _SYNTHETIC.items()})
    out.update({f"openml-{i}": ("openml", f"OpenML data id {i} (Grinsztajn et al. 2022, "
                                          "suite 337)") for i in GRINSZTAJN_OPENML_IDS})
    return out


#: name -> (source, description) of every known dataset.
DATASETS = _registry()
_ALIASES = {"offline": tuple(n for n, (src, _) in DATASETS.items() if src != "openml"),
            "grinsztajn": tuple(f"openml-{i}" for i in GRINSZTAJN_OPENML_IDS)}


def dataset_names(source: str | None = None) -> list[str]:
    """Known dataset names, optionally of one source ("sklearn", "synthetic", "openml").

    Examples
    --------
    >>> dataset_names("synthetic")
    ['sparse_parity', 'axis_rule']
    """
    return [n for n, (src, _) in DATASETS.items() if source is None or src == source]


def resolve_names(names) -> list[str]:
    """Validate dataset names, expanding the aliases ``offline`` and ``grinsztajn``.

    Examples
    --------
    >>> resolve_names(["iris", "offline"])[:3]
    ['iris', 'wine', 'breast_cancer']
    """
    if isinstance(names, str):
        names = [names]
    out = []
    for name in names:
        expanded = _ALIASES.get(name, (name,))
        for item in expanded:
            if item not in DATASETS:
                raise ValueError(f"unknown dataset {item!r}; known: "
                                 f"{', '.join(list(DATASETS) + list(_ALIASES))}")
            if item not in out:
                out.append(item)
    if not out:
        raise ValueError("no dataset given")
    return out


def default_cache_dir() -> Path:
    """``$PARITY_FRONTIERS_DATA`` if set, else ``~/.cache/parity-frontiers/openml``."""
    env = os.environ.get("PARITY_FRONTIERS_DATA")
    return Path(env) if env else Path.home() / ".cache" / "parity-frontiers" / "openml"


def _cache_file(cache_dir, data_id: int) -> Path:
    return Path(cache_dir if cache_dir is not None else default_cache_dir()) / \
        f"openml-{data_id}.npz"


def openml_cached(name: str, cache_dir=None) -> bool:
    """Whether the OpenML dataset ``name`` (``openml-<id>``) is in the cache directory."""
    return _cache_file(cache_dir, int(name.split("-", 1)[1])).is_file()


# --- synthetic tasks ------------------------------------------------------------------------

def _synthetic_rng(random_state, label: str) -> np.random.Generator:
    digest = int(hashlib.sha256(label.encode()).hexdigest()[:8], 16)
    return np.random.default_rng(np.random.SeedSequence(random_state, spawn_key=(digest,)))


def make_sparse_parity(n_samples: int = SYNTHETIC_ROWS, n_features: int = SYNTHETIC_FEATURES,
                       k: int = 3, random_state: int = 0):
    r"""Gaussian features with a label that is the parity of k hidden sign bits.

    .. math:: x \sim N(0, I_n), \qquad y = \mathbb{1}\Big[\prod_{i \in S} \mathrm{sign}(x_i)
              = -1\Big], \quad S \subset [n],\ |S| = k \text{ uniform}

    (derived here: the paper's (n, k)-sparse parity read on the signs of real features; every
    feature outside S, and every subset of fewer than k features, is independent of y).

    Returns
    -------
    X : ndarray (n_samples, n_features), y : ndarray of {0, 1}, support : ndarray of k ints

    Examples
    --------
    >>> X, y, S = make_sparse_parity(200, 6, 2, random_state=1)
    >>> bool(np.all(y == (np.prod(np.sign(X[:, S]), axis=1) < 0)))
    True
    """
    from parity_frontiers.theory.checks import check_int

    n_samples = check_int("n_samples", n_samples, strict=True)
    n_features = check_int("n_features", n_features, strict=True)
    k = check_int("k", k, strict=True)
    if k > n_features:
        raise ValueError(f"k must be <= n_features, got k={k} > {n_features}")
    rng = _synthetic_rng(random_state, "sparse_parity")
    support = np.sort(rng.choice(n_features, size=k, replace=False))
    X = rng.standard_normal((n_samples, n_features))
    y = (np.prod(np.sign(X[:, support]), axis=1) < 0).astype(np.int64)
    return X, y, support


def make_axis_rule(n_samples: int = SYNTHETIC_ROWS, n_features: int = SYNTHETIC_FEATURES,
                   random_state: int = 0):
    r"""Gaussian features with an axis-aligned rule on three hidden features a, b, c.

    .. math:: y = \mathbb{1}[(x_a > 0 \wedge x_b > 0) \vee x_c > 1]

    (derived here), so :math:`P(y = 1) = 1/4 + (3/4)(1 - \Phi(1)) \approx 0.369`.

    Returns
    -------
    X : ndarray (n_samples, n_features), y : ndarray of {0, 1}, support : ndarray [a, b, c]

    Examples
    --------
    >>> X, y, (a, b, c) = make_axis_rule(100, 5, random_state=2)
    >>> bool(np.all(y == (((X[:, a] > 0) & (X[:, b] > 0)) | (X[:, c] > 1))))
    True
    """
    from parity_frontiers.theory.checks import check_int

    n_samples = check_int("n_samples", n_samples, strict=True)
    n_features = check_int("n_features", n_features, minimum=3, strict=True)
    rng = _synthetic_rng(random_state, "axis_rule")
    support = rng.choice(n_features, size=3, replace=False)
    X = rng.standard_normal((n_samples, n_features))
    a, b, c = support
    y = (((X[:, a] > 0) & (X[:, b] > 0)) | (X[:, c] > 1)).astype(np.int64)
    return X, y, support


# --- loading --------------------------------------------------------------------------------

def load_dataset(name: str, cache_dir=None, download: bool = True) -> TabularDataset:
    """Load one dataset by name (see the module docstring for the sources).

    Parameters
    ----------
    name : str
        A name of :data:`DATASETS`.
    cache_dir : path, optional
        Where OpenML datasets are cached (default :func:`default_cache_dir`).
    download : bool
        Whether an uncached OpenML dataset may be downloaded.

    Raises
    ------
    ValueError
        Unknown name; an OpenML dataset neither cached nor downloadable (one line).

    Examples
    --------
    >>> d = load_dataset("wine")
    >>> d.X.shape, d.class_counts.tolist()
    ((178, 13), [59, 71, 48])
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    source, text = DATASETS[name]
    if source == "sklearn":
        import sklearn.datasets

        X, y = getattr(sklearn.datasets, _SKLEARN[name][0])(return_X_y=True)
        return TabularDataset(name, np.asarray(X, dtype=np.float64), np.asarray(y), source,
                              text)
    if source == "synthetic":
        maker = make_sparse_parity if name == "sparse_parity" else make_axis_rule
        X, y, _ = maker(random_state=_SYNTHETIC_SEED)
        return TabularDataset(name, X, y, source, text)
    return _load_openml(name, int(name.split("-", 1)[1]), cache_dir, download)


def _load_openml(name: str, data_id: int, cache_dir, download: bool) -> TabularDataset:
    path = _cache_file(cache_dir, data_id)
    if not path.is_file():
        if not download:
            raise ValueError(f"OpenML dataset {name} is not cached in {path.parent} and "
                             "downloading is off")
        _download_openml(name, data_id, path)
    try:
        with np.load(path, allow_pickle=False) as saved:
            X, y, title = saved["X"], saved["y"], str(saved["title"])
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"cached OpenML dataset {path} is unreadable ({exc}); delete it to "
                         "download it again") from None
    return TabularDataset(name, X, y, "openml", f"{title} (OpenML data id {data_id})")


def _download_openml(name: str, data_id: int, path: Path) -> None:
    """Fetch one dataset with scikit-learn and save it as ``path`` (atomically)."""
    from sklearn.datasets import fetch_openml

    data_home = path.parent / "sklearn"
    # What exists before the download: a failed one removes everything else (and only that).
    missing_parents = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
    before = set(data_home.rglob("*")) if data_home.exists() else set()
    home_existed = data_home.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the OpenML cache directory {path.parent}: "
                         f"{exc.strerror or exc}") from None
    try:
        # scikit-learn warns "A network error occurred ... Retrying..." before it gives up;
        # the one-line error below says it all.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bunch = fetch_openml(data_id=data_id, data_home=str(data_home), as_frame=False,
                                 parser="auto")
    except Exception as exc:  # noqa: BLE001 - URLError, HTTPError, OSError, timeouts...
        _remove_new(data_home, before, home_existed, missing_parents)
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ValueError(f"OpenML dataset {name} is not cached in {path.parent} and could not "
                         f"be downloaded (no network? {type(exc).__name__}: {reason})") from None
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target).astype(str)
    keep = np.all(np.isfinite(X), axis=1)  # the suite has no missing values; be safe anyway
    title = str(bunch.details.get("name", name)) if hasattr(bunch, "details") else name
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    try:
        np.savez_compressed(tmp, X=X[keep], y=y[keep], title=np.array(title))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _remove_new(data_home: Path, before: set, home_existed: bool, created_parents) -> None:
    """Delete what a failed download left under ``data_home`` that was not in ``before``
    (files first, then folders deepest first), and the cache folders it had to create."""
    if data_home.exists():
        new = sorted(set(data_home.rglob("*")) - before, key=lambda p: len(p.parts),
                     reverse=True)
        for item in new:
            try:
                item.rmdir() if item.is_dir() and not item.is_symlink() else item.unlink()
            except OSError:
                pass  # best effort: a folder still holding someone else's file stays
        if not home_existed:
            with contextlib.suppress(OSError):
                data_home.rmdir()
    for folder in created_parents:  # nearest first; rmdir refuses a non-empty one
        with contextlib.suppress(OSError):
            folder.rmdir()


# --- splits ---------------------------------------------------------------------------------

def split_counts(class_counts, test_fraction: float = 0.25, max_test: int = 5000):
    r"""Rows per class of the test split and of the pool (module docstring).

    .. math:: t_c = \mathrm{clip}(\mathrm{round}(q n_c), 1, n_c - 1), \quad
              q = \min(\text{test\_fraction}, \text{max\_test} / n), \quad p_c = n_c - t_c

    Examples
    --------
    >>> t, p = split_counts([50, 50, 50], 0.2)
    >>> t.tolist(), p.tolist()
    ([10, 10, 10], [40, 40, 40])
    """
    counts = np.asarray(class_counts, dtype=np.int64)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    if counts.min() < 2:
        raise ValueError("every class needs at least 2 rows (one to test, one to train), got "
                         f"class counts {counts.tolist()}")
    q = min(test_fraction, max_test / counts.sum())
    test = np.clip(np.round(q * counts).astype(np.int64), 1, counts - 1)
    return test, counts - test


def train_counts(pool_counts, fraction: float, min_per_class: int = 2, dataset: str = "",
                 class_labels=None) -> np.ndarray:
    r"""Training rows per class for a training fraction of the pool.

    .. math:: m_c = \lfloor f\, p_c + 1/2 \rfloor \ (f < 1), \qquad m_c = p_c \ (f = 1)

    Raises
    ------
    ValueError
        ``fraction`` outside (0, 1], or a class with fewer than ``min_per_class`` rows; the
        message gives the smallest fraction that works.

    Examples
    --------
    >>> train_counts([400, 100], 0.05).tolist()
    [20, 5]
    >>> try:
    ...     train_counts([400, 100], 0.01)
    ... except ValueError as exc:
    ...     print(str(exc).replace(", ", ",\n"))
    training fraction 0.01 leaves class 1 with 1 training rows (of 100 in the pool),
    fewer than min_per_class=2; the smallest fraction that works is 0.015
    """
    pool = np.asarray(pool_counts, dtype=np.int64)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)) \
            or not math.isfinite(fraction) or not 0 < fraction <= 1:
        raise ValueError(f"training fraction must be in (0, 1], got {fraction!r}")
    counts = pool.copy() if fraction == 1 else np.floor(fraction * pool + 0.5).astype(np.int64)
    low = np.flatnonzero(counts < min_per_class)
    if low.size:
        worst = low[np.argmin(pool[low])]
        label = class_labels[worst] if class_labels is not None else worst
        where = f" of dataset {dataset}" if dataset else ""
        # m_c >= min  <=>  f p_c + 1/2 >= min  <=>  f >= (min - 1/2) / p_c, for every class.
        needed = _smallest_working_fraction(int(pool.min()), min_per_class)
        advice = (f"the smallest fraction that works is {needed:.3g}" if needed <= 1 else
                  "no fraction works: the pool itself has too few rows of that class")
        raise ValueError(f"training fraction {fraction:g}{where} leaves class {label} with "
                         f"{counts[worst]} training rows (of {pool[worst]} in the pool), fewer "
                         f"than min_per_class={min_per_class}; {advice}")
    return counts


def _smallest_working_fraction(pool_size: int, min_per_class: int, digits: int = 3) -> float:
    r"""The exact bound :math:`(m - 1/2) / p` rounded *up* at ``digits`` significant digits.

    Rounding to nearest could go below the bound and suggest a fraction that fails again; the
    candidate is checked with the very rule of :func:`train_counts` (floating point included)
    and raised by one unit of its last digit until it passes.

    Examples
    --------
    >>> _smallest_working_fraction(159, 2)  # 1.5 / 159 = 0.009434..., not 0.00943
    0.00944
    """
    exact = (min_per_class - 0.5) / pool_size
    if exact > 1:
        return exact
    step = 10.0 ** (math.floor(math.log10(exact)) - digits + 1)
    units = math.ceil(round(exact / step, 9))
    while True:
        candidate = float(f"{units * step:.{digits}g}")
        if math.floor(candidate * pool_size + 0.5) >= min_per_class:
            return min(candidate, 1.0)
        units += 1


def stratified_split(y, rng: np.random.Generator, test_fraction: float = 0.25,
                     max_test: int = 5000):
    """Test rows and each class's pool rows in random order (module docstring).

    Returns
    -------
    test_rows : ndarray of int
    pools : list of ndarray of int, one per class (sorted labels), randomly permuted: a
        training set of fraction f is the first ``train_counts(...)[c]`` rows of each.

    Examples
    --------
    >>> y = np.array([0] * 8 + [1] * 4)
    >>> test, pools = stratified_split(y, np.random.default_rng(0), test_fraction=0.25)
    >>> len(test), [len(p) for p in pools]
    (3, [6, 3])
    """
    labels, y_index = np.unique(y, return_inverse=True)
    test_c, _ = split_counts(np.bincount(y_index), test_fraction, max_test)
    test, pools = [], []
    for label in range(len(labels)):
        rows = rng.permutation(np.flatnonzero(y_index == label))
        test.append(rows[:test_c[label]])
        pools.append(rows[test_c[label]:])
    return np.sort(np.concatenate(test)), pools
