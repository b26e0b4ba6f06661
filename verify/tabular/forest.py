"""The random-forest baseline of the tabular proxy, with a small documented tuning grid.

The paper compares its MLPs with *tuned* random forests (PAPER.md, "Tabular proxy"). Ours:
:class:`sklearn.ensemble.RandomForestClassifier` with ``n_estimators`` trees (default 100),
tuned over :data:`FOREST_GRID` by stratified k-fold cross-validated accuracy
(:class:`sklearn.model_selection.GridSearchCV`, k = min(``cv``, rows of the rarest class)),
then refit on the whole training set.

:data:`FOREST_GRID` (4 points) spans the two knobs that matter most on small training sets:
``max_features`` ("sqrt": decorrelated trees, the classification default; 1.0: bagged trees,
best when few features are informative) and ``min_samples_leaf`` (1: fully grown; 5: smoother
leaves against label noise). A training set whose rarest class has a single row cannot be
cross-validated; the forest then uses the grid's first point (scikit-learn's defaults).
"""

from __future__ import annotations

import numpy as np

__all__ = ["FOREST_GRID", "fit_forest"]

#: The tuning grid (module docstring); its first point is scikit-learn's default forest.
FOREST_GRID = {"max_features": ["sqrt", 1.0], "min_samples_leaf": [1, 5]}


def fit_forest(X, y, random_state: int = 0, n_estimators: int = 100, cv: int = 3,
               grid: dict | None = None, n_jobs: int | None = 1):
    """Fit a random forest tuned over ``grid`` by cross-validation (module docstring).

    Parameters
    ----------
    X, y : array-like
        Training data.
    random_state : int
        Seeds the folds and the forest.
    n_estimators : int
        Trees per forest.
    cv : int
        Folds at most (fewer when the rarest class has fewer rows; none below 2).
    grid : dict, optional
        Parameter grid (default :data:`FOREST_GRID`).
    n_jobs : int or None
        Parallel jobs of the forest (scikit-learn's meaning).

    Returns
    -------
    model : fitted RandomForestClassifier
    details : dict
        ``best_params`` (the chosen grid point), ``cv_folds`` (0 when not tuned) and
        ``cv_accuracy`` (None when not tuned).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> model, details = fit_forest(X, y, n_estimators=20)
    >>> details["cv_folds"], model.score(X, y) > 0.9
    (3, True)
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    grid = dict(FOREST_GRID if grid is None else grid)
    if not grid or any(not values for values in grid.values()):
        raise ValueError("the forest grid needs at least one value per parameter")
    base = RandomForestClassifier(n_estimators=n_estimators, random_state=random_state,
                                  n_jobs=n_jobs)
    folds = min(int(cv), int(np.unique(y, return_counts=True)[1].min()))
    if folds < 2:
        first = {name: values[0] for name, values in grid.items()}
        model = base.set_params(**first).fit(X, y)
        return model, {"best_params": first, "cv_folds": 0, "cv_accuracy": None}
    search = GridSearchCV(base, grid, cv=StratifiedKFold(folds, shuffle=True,
                                                         random_state=random_state),
                          scoring="accuracy", refit=True, n_jobs=1)
    search.fit(X, y)
    return search.best_estimator_, {"best_params": search.best_params_, "cv_folds": folds,
                                    "cv_accuracy": float(search.best_score_)}
