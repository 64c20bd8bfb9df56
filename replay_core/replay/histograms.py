"""The histogram views, every epoch at once: predicted probabilities and per-sample loss.

Each function takes the arrays of all epochs and returns a frozen view of counts; one
``np.bincount`` counts every epoch, class and bin together. Which function a run uses
(two classes or k) is chosen by its output head (``heads``).

Example
-------
>>> import numpy as np
>>> p1 = np.array([[0.2, 0.7, 0.9]])                  # one epoch, three samples
>>> view = binary_probability_histogram(p1, (p1 >= 0.5).astype(int), np.array([0, 0, 1]), 2)
>>> view.negatives_wrong.tolist(), view.positives_correct.tolist()
([[0, 1]], [[0, 1]])
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np

from replay_core.replay.views import (
    ClassLossHistogramView,
    ClassProbabilityHistogramView,
    LossHistogramView,
    ProbabilityHistogramView,
)


def counts(values: np.ndarray, edges: np.ndarray, category: np.ndarray,
           n_categories: int) -> np.ndarray:
    """Histogram counts (E+1, C, B) of ``values[e]`` split by ``category[e]`` in 0..C-1.

    Values beyond the edges (and NaN) are counted in the first or last bin.
    """
    n_bins = len(edges) - 1
    idx = np.searchsorted(edges, values, side="right") - 1
    np.clip(idx, 0, n_bins - 1, out=idx)
    epoch = np.arange(values.shape[0])[:, None]
    flat = (epoch * n_categories + category) * n_bins + idx
    total = np.bincount(flat.ravel(), minlength=values.shape[0] * n_categories * n_bins)
    return total.reshape(values.shape[0], n_categories, n_bins)


def binary_probability_histogram(p1: np.ndarray, predicted: np.ndarray,
                                 targets: np.ndarray, bins: int) -> ProbabilityHistogramView:
    """Counts of P(class 1) ``p1`` (E+1, N) per class, correct and wrong.

    ``predicted`` (E+1, N) is each sample's predicted class, ``targets`` (N,) its class.
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    positive = (targets > 0.5).astype(np.intp)
    # 0 negative correct, 1 negative wrong, 2 positive wrong, 3 positive correct
    c = counts(p1, edges, 2 * positive + predicted, 4)
    neg_ok, neg_wrong, pos_wrong, pos_ok = (c[:, k] for k in range(4))
    ymax = max(float((neg_ok + neg_wrong).max()), float((pos_ok + pos_wrong).max()))
    return ProbabilityHistogramView(
        bin_edges=edges, negatives_correct=neg_ok, negatives_wrong=neg_wrong,
        positives_correct=pos_ok, positives_wrong=pos_wrong, ymax=ymax)


def class_probability_histogram(proba: np.ndarray, predicted: np.ndarray,
                                targets: np.ndarray, bins: int
                                ) -> ClassProbabilityHistogramView:
    """Counts of the probability given to each sample's true class, per true class,
    correct (the most probable class) and wrong; ``proba`` (E+1, N, k)."""
    k = proba.shape[-1]
    edges = np.linspace(0.0, 1.0, bins + 1)
    target = targets.astype(np.intp)
    p_true = np.take_along_axis(
        proba, np.broadcast_to(target[:, None], proba.shape[:-1] + (1,)), axis=-1)[..., 0]
    wrong = (predicted != target).astype(np.intp)
    c = counts(p_true, edges, 2 * target + wrong, 2 * k).reshape(len(p_true), k, 2, bins)
    correct, wrong_counts = c[:, :, 0], c[:, :, 1]
    return ClassProbabilityHistogramView(
        bin_edges=edges, correct=correct, wrong=wrong_counts,
        ymax=float((correct + wrong_counts).max()))


def loss_edges(losses: np.ndarray, bins: int) -> np.ndarray:
    """(B+1,) edges from 0 to the 99th percentile of the finite losses of every epoch
    (larger losses are counted in the last bin)."""
    finite = losses[np.isfinite(losses)]
    upper = float(np.percentile(finite, 99.0)) if finite.size else 0.0
    if not upper > 0.0:
        upper = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    return np.linspace(0.0, upper, bins + 1)


def binary_loss_histogram(losses: np.ndarray, targets: np.ndarray,
                          edges: np.ndarray) -> LossHistogramView:
    """Counts of the per-sample loss (E+1, N) of the negatives and of the positives."""
    c = counts(losses, edges, (targets > 0.5).astype(np.intp), 2)
    negatives, positives = c[:, 0], c[:, 1]
    return LossHistogramView(bin_edges=edges, negatives=negatives, positives=positives,
                             ymax=float((negatives + positives).max()))


def class_loss_histogram(losses: np.ndarray, targets: np.ndarray, edges: np.ndarray,
                         n_classes: int) -> ClassLossHistogramView:
    """Counts of the per-sample loss (E+1, N) of each class's samples."""
    c = counts(losses, edges, targets.astype(np.intp), n_classes)
    return ClassLossHistogramView(bin_edges=edges, counts=c, ymax=float(c.sum(axis=1).max()))


def extend_counts(view, later):
    """The histogram ``view`` (any view of this module with per-epoch counts) followed by
    ``later``'s epochs, counted over the same edges: the larger ``ymax`` of the two is
    the one a count of all the epochs gives."""
    counted = {f.name: np.concatenate([getattr(view, f.name), getattr(later, f.name)])
               for f in fields(view) if f.name not in ("bin_edges", "ymax", "class_names")}
    return replace(view, **counted, ymax=max(view.ymax, later.ymax))
