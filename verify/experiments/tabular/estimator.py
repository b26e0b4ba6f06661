r"""A scikit-learn compatible MLP classifier with dense or s-sparse first-layer init.

The tabular proxy of the paper (docs/theory.md §5.10; Sec. 5 of Edelman et al. 2023):
wide MLPs whose first layer starts *sparse* -- every first-layer neuron connected to s random
input features -- against random forests on small training sets.

Model
-----
:math:`h_0 = z` (the standardised input), :math:`h_l = \phi(W_l h_{l-1} + b_l)` for
the hidden layers ``hidden_layer_sizes`` = :math:`(r_1, \dots, r_L)` (:math:`\phi` = ReLU by
default, any ``activation`` of the registry), logits :math:`W_{L+1} h_L + b_{L+1}` with one
output per class, trained with softmax cross-entropy (binary problems too: two logits). The
forward pass is :func:`~parity_frontiers.verify.training.model.mlp_forward`, the trainer's.

Init law: the first layer is drawn by the ``init`` entry of
:data:`~parity_frontiers.verify.training.registry.INIT_REGISTRY` (the laws the trainer uses and
tests), the other layers by ``dense``:

* dense: weights and biases i.i.d. :math:`U(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})`
  (PyTorch's ``nn.Linear`` default);
* sparse: each neuron has ``s`` non-zero weights on inputs chosen uniformly without
  replacement, weights *and bias* i.i.d. :math:`U(-1/\sqrt{s}, 1/\sqrt{s})`;
* sparse-gaussian: the same supports, weights and bias i.i.d. :math:`N(0, 1/s)`.

Training updates every weight (the mask shapes the start only).

``s`` larger than the number of features is capped at it (a neuron cannot see more inputs
than exist): then every neuron sees every input, with the :math:`1/\sqrt{s}` scale.

Training: minibatch SGD (with momentum) or Adam on the standardised inputs
:math:`z = (x - \mu) / \sigma` (:math:`\sigma = 1` for a constant feature), reshuffled every
epoch, for at most ``max(max_epochs, ceil(min_steps / steps_per_epoch))`` epochs: ``min_steps``
is a budget of optimiser steps, so a tiny training set (one step per epoch) still gets
``min_steps`` updates. With ``early_stopping`` a stratified validation split of
:math:`v = \lfloor \text{validation\_fraction}\cdot n + 1/2 \rfloor` rows is held out; training
stops once the validation cross-entropy has not improved by ``tol`` for ``patience``
*optimiser steps* (checked at the end of each epoch) and at least ``min_steps`` steps were
taken, and the weights of the best validation epoch are restored. Counting steps, not epochs,
keeps the patience meaningful on both small and large training sets: 20 epochs of a
100-row set are 20 Adam steps, too few to leave the initial loss plateau of a sparse parity.

The split is made only when it costs little: :math:`v \ge` the number of classes (one
validation row per class at least) and every class keeps at least 2 training rows. Otherwise
(small training sets, where holding rows out would handicap the MLP most: 4 rows would lose
2) there is no split, the plateau of the training loss stops training (same ``patience`` and
``min_steps``), the last epoch's weights are kept, and ``validation_used_`` is False.

Everything random (supports, weights, the split, the batch order) comes from ``random_state``,
so a fit is reproducible on one machine. Predictions are computed in float64 from the fitted
float32 weights, so they do not depend on how the rows are batched.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from parity_frontiers.theory.checks import check_in_interval, check_int
from parity_frontiers.verify.config import ACTIVATIONS, INITS
from parity_frontiers.verify.training.registry import DEFAULT_ACTIVATION, get_activation, get_init

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)

__all__ = ["SparseInitMLPClassifier", "INITS", "ACTIVATIONS", "OPTIMIZERS", "DEVICES"]

OPTIMIZERS = ("adam", "sgd")
DEVICES = ("auto", "cpu", "cuda")

# Rows per chunk at prediction time: bounds the float64 activations of the widest layer to
# about this many bytes, whatever the test set's size.
_PREDICT_CHUNK_BYTES = 64 * 2**20


def _check_positive_int(name, value, minimum=1):
    # integers only (an sklearn parameter of 3.0 is a caller's bug), with the bound in words
    try:
        return check_int(name, value, minimum, strict=True)
    except ValueError:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}") from None


class SparseInitMLPClassifier(ClassifierMixin, BaseEstimator):
    r"""MLP classifier (trained by torch) with dense or s-sparse first-layer initialisation.

    See the module docstring for the model, the init law and the training loop
    (source: docs/theory.md §5.10 and Sec. 5; the value scale of the sparse init is our
    choice, as in :mod:`verify.model`).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (256,)
        Widths of the hidden layers; its length is the depth.
    init : {"sparse", "dense", "sparse-gaussian"}, default "sparse"
        First-layer initialisation (a name of the init registry).
    s : int, default 2
        Inputs per first-layer neuron with a sparse init (capped at the number of features);
        ignored for dense init.
    optimizer : {"adam", "sgd"}, default "adam"
    learning_rate : float, default 1e-3
    momentum : float, default 0.9
        SGD momentum (ignored by Adam).
    weight_decay : float, default 0.0
        L2 penalty (the optimiser's ``weight_decay``).
    batch_size : int, default 128
        Minibatch size (capped at the number of training rows).
    max_epochs : int, default 200
    early_stopping : bool, default True
        Hold out a stratified validation split and stop on its loss (module docstring).
    validation_fraction : float, default 0.1
        Fraction of the rows held out for early stopping, in (0, 1); no split when that
        is under one row per class or leaves a class fewer than 2 training rows.
    patience : int, default 200
        Optimiser steps without an improvement larger than ``tol`` before stopping.
    min_steps : int, default 0
        Optimiser steps always taken: no early stop before them, and the epoch limit is
        raised to reach them.
    tol : float, default 1e-4
    standardize : bool, default True
        Standardise the inputs with the training mean and standard deviation.
    random_state : int, RandomState or None, default None
    device : {"auto", "cpu", "cuda"}, default "auto"
        Where to train: "auto" is CUDA when available.
    activation : {"relu", "abs"}, default "relu"
        Hidden-layer nonlinearity (a name of the activation registry).

    Attributes
    ----------
    classes_ : ndarray
        The class labels, sorted.
    n_features_in_ : int
    coefs_ : list of ndarray
        Fitted weights, ``coefs_[l]`` of shape ``(fan_in, fan_out)`` (scikit-learn's layout).
    intercepts_ : list of ndarray
    initial_coefs_, initial_intercepts_ : list of ndarray
        The weights at initialisation (the sparse supports are ``initial_coefs_[0] != 0``).
    effective_s_ : int or None
        ``s`` after capping at the number of features (None for dense init).
    n_epochs_ : int
        Epochs run.
    n_steps_ : int
        Optimiser steps taken.
    validation_used_ : bool
        Whether early stopping used a validation split.
    loss_curve_, validation_loss_curve_ : list of float
        Mean training loss and validation loss per epoch (the latter empty without a split).
    best_epoch_ : int
        Epoch (1-based) whose weights were kept.
    device_ : str
        Device it was trained on.
    fit_seconds_ : float

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SparseInitMLPClassifier(hidden_layer_sizes=(64,), s=2, learning_rate=2e-2,
    ...                               max_epochs=40, random_state=0, device="cpu").fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    >>> [int(c) for c in (clf.initial_coefs_[0] != 0).sum(axis=0)[:5]]
    [2, 2, 2, 2, 2]
    """

    def __init__(self, hidden_layer_sizes=(256,), init="sparse", s=2, optimizer="adam",
                 learning_rate=1e-3, momentum=0.9, weight_decay=0.0, batch_size=128,
                 max_epochs=200, early_stopping=True, validation_fraction=0.1, patience=200,
                 min_steps=0, tol=1e-4, standardize=True, random_state=None, device="auto",
                 activation=DEFAULT_ACTIVATION):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.init = init
        self.s = s
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.min_steps = min_steps
        self.tol = tol
        self.standardize = standardize
        self.random_state = random_state
        self.device = device
        self.activation = activation

    # --- validation ---------------------------------------------------------------------------

    def _checked_params(self) -> dict:
        """Every hyper-parameter validated, in one ValueError naming the first bad one."""
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, (Integral, np.integer)) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise ValueError("hidden_layer_sizes must be a tuple of positive integers, got "
                             f"{self.hidden_layer_sizes!r}") from None
        if not sizes:
            raise ValueError("hidden_layer_sizes must have at least one layer")
        sizes = tuple(_check_positive_int("hidden_layer_sizes entry", w) for w in sizes)
        law = get_init(self.init)  # ValueError naming the registered laws
        get_activation(self.activation)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        for name in ("early_stopping", "standardize"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        return dict(
            sizes=sizes,
            s=_check_positive_int("s", self.s) if law.sparse else None,
            learning_rate=check_in_interval("learning_rate", self.learning_rate, 0, None, True),
            momentum=check_in_interval("momentum", self.momentum, 0, 1, high_open=True),
            weight_decay=check_in_interval("weight_decay", self.weight_decay, 0, None),
            batch_size=_check_positive_int("batch_size", self.batch_size),
            max_epochs=_check_positive_int("max_epochs", self.max_epochs),
            validation_fraction=check_in_interval("validation_fraction", self.validation_fraction,
                                            0, 1, True, True),
            patience=_check_positive_int("patience", self.patience),
            min_steps=_check_positive_int("min_steps", self.min_steps, minimum=0),
            tol=check_in_interval("tol", self.tol, 0, None),
        )

    # --- fitting ------------------------------------------------------------------------------

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and class labels ``y``; returns self.

        The training loop runs in :func:`~parity_frontiers.verify.training.classifier.
        fit_classifier` (torch is imported there, on first fit)."""
        from parity_frontiers.verify.training.classifier import (
            fit_classifier,
            resolve_classifier_device,
        )

        params = self._checked_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("SparseInitMLPClassifier needs at least 2 classes in the data, got "
                             f"{len(self.classes_)} class")
        resolve_classifier_device(self.device)  # CUDA asked for and absent: fail before work
        rng = check_random_state(self.random_state)
        # One draw from random_state seeds everything, so an int seed or a RandomState both
        # give independent but reproducible streams for init, split and batch order.
        seed = int(rng.randint(np.iinfo(np.int32).max))
        streams = np.random.SeedSequence(seed).spawn(3)
        init_rng, split_rng = (np.random.default_rng(s) for s in streams[:2])

        if self.standardize:
            mean = X.mean(axis=0)
            scale = X.std(axis=0)
            scale[~(scale > 0)] = 1.0  # a constant feature stays constant, not NaN
        else:
            mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        self.input_mean_, self.input_scale_ = mean, scale
        Z = ((X - mean) / scale).astype(np.float32)

        train_idx, val_idx = self._split(y_index, params["validation_fraction"], split_rng)
        self.validation_used_ = val_idx is not None
        n_features = X.shape[1]
        self.effective_s_ = None if params["s"] is None else min(params["s"], n_features)
        widths = (n_features, *params["sizes"], len(self.classes_))
        weights = self._init_weights(widths, init_rng)
        self.initial_coefs_ = [w.T.copy() for w, _ in weights]
        self.initial_intercepts_ = [b.copy() for _, b in weights]

        fit = fit_classifier(
            weights, Z, y_index, train_idx, val_idx, activation=self.activation,
            optimizer=self.optimizer, learning_rate=params["learning_rate"],
            momentum=params["momentum"], weight_decay=params["weight_decay"],
            batch_size=params["batch_size"], max_epochs=params["max_epochs"],
            min_steps=params["min_steps"], patience=params["patience"], tol=params["tol"],
            early_stopping=bool(self.early_stopping), device=self.device,
            batch_seed=int(streams[2].generate_state(1)[0]))
        self.loss_curve_, self.validation_loss_curve_ = fit.loss_curve, fit.validation_loss_curve
        self.n_epochs_, self.best_epoch_, self.n_steps_ = fit.n_epochs, fit.best_epoch, fit.n_steps
        self.best_validation_loss_ = fit.best_validation_loss
        self.coefs_ = [w.T.copy() for w in fit.params[0::2]]
        self.intercepts_ = [b.copy() for b in fit.params[1::2]]
        self.device_ = fit.device
        self.fit_seconds_ = fit.seconds
        return self

    def _split(self, y_index, fraction, rng):
        """Stratified (train, validation) row indices, or (all rows, None) without a split."""
        n = len(y_index)
        if not self.early_stopping:
            return np.arange(n), None
        counts = np.bincount(y_index)
        n_val = math.floor(fraction * n + 0.5)
        # Split only when it is cheap: a validation row per class within the asked fraction
        # and 2 training rows left per class. Otherwise the split would take a large share of
        # a small training set (the regime the benchmark is about) or mislead early stopping;
        # the training loss plateau is the better signal there.
        if n_val < len(counts) or counts.min() < 3:
            return np.arange(n), None
        # Per class, its share of n_val rounded, at least 1 and leaving at least 2 to train.
        per_class = np.clip(np.round(counts * n_val / n).astype(int), 1, counts - 2)
        val = []
        for label, take in enumerate(per_class):
            rows = np.flatnonzero(y_index == label)
            val.append(rng.choice(rows, size=take, replace=False))
        val = np.sort(np.concatenate(val))
        train = np.setdiff1d(np.arange(n), val, assume_unique=True)
        return train, val

    def _init_weights(self, widths, rng):
        """(W [fan_out, fan_in], b [fan_out]) float32 per layer: the ``init`` law for the first
        layer, the dense law after it (module docstring)."""
        first, dense = get_init(self.init), get_init("dense")
        layers = []
        for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            if index == 0:
                layers.append(first.draw_layer(rng, fan_out, fan_in, self.effective_s_))
            else:
                layers.append(dense.draw_layer(rng, fan_out, fan_in))
        return layers

    # --- prediction ---------------------------------------------------------------------------

    def _logits(self, X) -> np.ndarray:
        from parity_frontiers.verify.training.classifier import classifier_logits

        check_is_fitted(self, "coefs_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        # a model pickled before the activation parameter existed is a ReLU net
        activation = getattr(self, "activation", DEFAULT_ACTIVATION)
        return classifier_logits(self.coefs_, self.intercepts_,
                                 (X - self.input_mean_) / self.input_scale_, activation,
                                 self.device_, _PREDICT_CHUNK_BYTES)

    def predict_proba(self, X) -> np.ndarray:
        r"""Class probabilities, the softmax of the logits: shape (n_samples, n_classes).

        .. math:: p_c(x) = e^{f_c(x)} / \sum_{c'} e^{f_{c'}(x)}
        """
        logits = self._logits(X)
        logits -= logits.max(axis=1, keepdims=True)
        expo = np.exp(logits)
        return expo / expo.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row (argmax of the logits)."""
        logits = self._logits(X)  # first: it raises NotFittedError before classes_ is read
        return self.classes_[np.argmax(logits, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

