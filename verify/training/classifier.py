"""The torch engine of the tabular proxy's classifier: one softmax MLP, trained and evaluated.

:class:`~parity_frontiers.verify.experiments.tabular.estimator.SparseInitMLPClassifier` is the
scikit-learn face (validation, standardisation, the split, the init draws, the fitted
attributes; no torch); this module does what needs torch: minibatch Adam or SGD (with momentum)
on softmax cross-entropy with the estimator's early-stopping rule (module docstring there), and
float64 logits of the fitted weights. The forward pass is :func:`.model.mlp_forward`, the one the
trainer's reference nets use.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from parity_frontiers.verify.training.model import mlp_forward

__all__ = ["CLASSIFIER_DEVICES", "ClassifierFit", "resolve_classifier_device", "fit_classifier",
           "classifier_logits"]

CLASSIFIER_DEVICES = ("auto", "cpu", "cuda")


def resolve_classifier_device(device: str) -> torch.device:
    """``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``, checked."""
    if device not in CLASSIFIER_DEVICES:
        raise ValueError(f"device must be one of {CLASSIFIER_DEVICES}, got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' requested but CUDA is not available")
    return torch.device(device)


@dataclass
class ClassifierFit:
    """What :func:`fit_classifier` returns: the kept weights (float32 ``[W, b]`` per layer in
    ``nn.Linear``'s layout) and the record of the run."""

    params: list[np.ndarray]
    n_epochs: int
    best_epoch: int
    n_steps: int
    best_validation_loss: float | None
    device: str
    seconds: float
    loss_curve: list[float] = field(default_factory=list)
    validation_loss_curve: list[float] = field(default_factory=list)


def fit_classifier(layers, Z: np.ndarray, y_index: np.ndarray, train_idx: np.ndarray,
                   val_idx: np.ndarray | None, *, activation: str, optimizer: str,
                   learning_rate: float, momentum: float, weight_decay: float, batch_size: int,
                   max_epochs: int, min_steps: int, patience: int, tol: float,
                   early_stopping: bool, device: str, batch_seed: int) -> ClassifierFit:
    """Train the MLP whose initial float32 ``(W, b)`` pairs are ``layers`` on rows ``train_idx``
    of ``Z`` (float32) with class indices ``y_index``; watch the validation loss on ``val_idx``
    (None: the training loss). The batch order comes from ``batch_seed``. Raises ValueError when
    the training loss stops being finite."""
    dev = resolve_classifier_device(device)
    batch_gen = torch.Generator().manual_seed(batch_seed)
    tensors = []
    for w, b in layers:
        tensors += [torch.tensor(w, device=dev, requires_grad=True),
                    torch.tensor(b, device=dev, requires_grad=True)]
    if optimizer == "adam":
        opt = torch.optim.Adam(tensors, lr=learning_rate, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(tensors, lr=learning_rate, momentum=momentum,
                              weight_decay=weight_decay)
    Z_t = torch.tensor(Z, device=dev)
    y_t = torch.tensor(y_index, dtype=torch.long, device=dev)
    X_train, y_train = Z_t[train_idx], y_t[train_idx]
    if val_idx is not None:
        X_val, y_val = Z_t[val_idx], y_t[val_idx]
    n_train = len(train_idx)
    batch = min(batch_size, n_train)
    loss_fn = torch.nn.functional.cross_entropy

    def forward(inputs):
        return mlp_forward(tensors, inputs, activation)

    start = time.perf_counter()
    loss_curve, validation_curve = [], []
    best, best_epoch, stale_steps, steps = math.inf, 0, 0, 0
    best_state = None
    epoch = 0
    steps_per_epoch = math.ceil(n_train / batch)
    max_epochs = max(max_epochs, math.ceil(min_steps / steps_per_epoch))
    for epoch in range(1, max_epochs + 1):
        order = torch.randperm(n_train, generator=batch_gen).to(dev)
        total = torch.zeros((), device=dev)
        for begin in range(0, n_train, batch):
            rows = order[begin:begin + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(forward(X_train[rows]), y_train[rows])
            loss.backward()
            opt.step()
            total += loss.detach() * len(rows)  # on the device: one sync per epoch
        steps += steps_per_epoch
        train_loss = float(total) / n_train
        if not math.isfinite(train_loss):
            raise ValueError(f"training diverged at epoch {epoch} (loss {train_loss}); "
                             "lower learning_rate")
        loss_curve.append(train_loss)
        if val_idx is not None:
            with torch.no_grad():
                watched = float(loss_fn(forward(X_val), y_val))
            validation_curve.append(watched)
        else:
            watched = train_loss
        if watched < best - tol:
            best, best_epoch, stale_steps = watched, epoch, 0
            if val_idx is not None:
                best_state = [t.detach().clone() for t in tensors]
        else:
            stale_steps += steps_per_epoch
            if early_stopping and stale_steps >= patience and steps >= min_steps:
                break
    if best_state is None:  # no validation split: keep the last epoch's weights
        best_state, best_epoch = [t.detach() for t in tensors], epoch
    return ClassifierFit(
        params=[t.cpu().numpy().astype(np.float32) for t in best_state], n_epochs=epoch,
        best_epoch=best_epoch, n_steps=steps,
        best_validation_loss=best if val_idx is not None else None, device=str(dev),
        seconds=time.perf_counter() - start, loss_curve=loss_curve,
        validation_loss_curve=validation_curve)


def classifier_logits(coefs, intercepts, Z: np.ndarray, activation: str, device: str,
                      chunk_bytes: int) -> np.ndarray:
    """Logits ``[rows, classes]`` in float64 of the weights ``coefs`` (scikit-learn's
    ``[fan_in, fan_out]`` layout) and ``intercepts`` on standardised rows ``Z``, in chunks of
    at most ``chunk_bytes`` of the widest layer's activations. ``device`` is where the model was
    fitted; a CUDA model predicts on the CPU where there is no CUDA (unpickled elsewhere)."""
    on_cuda = device.startswith("cuda")
    dev = torch.device(device if not on_cuda or torch.cuda.is_available() else "cpu")
    Z_t = torch.tensor(Z, dtype=torch.float64, device=dev)
    tensors = []
    for w, b in zip(coefs, intercepts, strict=True):
        tensors += [torch.tensor(w.T, dtype=torch.float64, device=dev),
                    torch.tensor(b, dtype=torch.float64, device=dev)]
    widest = max(w.shape[1] for w in coefs)
    chunk = max(1, chunk_bytes // (8 * widest))
    with torch.no_grad():
        parts = [mlp_forward(tensors, Z_t[i:i + chunk], activation).cpu().numpy()
                 for i in range(0, len(Z_t), chunk)]
    return np.concatenate(parts) if parts else np.empty((0, len(intercepts[-1])))
