"""Realistic ``ReplayViews`` built from numpy alone, for renderer tests and benchmarks.

The data is the reference run's parabola (class 0 on x2 = x1², class 1 on x2 = x1² − 0.5)
fed through a 2 -> 2 (sigmoid) -> 1 (sigmoid) network whose weights drift from a small
random start towards a separating solution along a noisy path. Every view is derived from
those weights the way a replay derives it, so shapes, limits and motion look like a real
run without training anything or importing any other ``replay_core`` module.
"""

from __future__ import annotations

from dataclasses import replace

import contourpy
import numpy as np

from replay_core.replay.views import (
    DecisionBoundaryView,
    FeatureSpaceView,
    LossAndMetricView,
    LossHistogramView,
    ProbabilityHistogramView,
    ReplayViews,
)

_EPS = 1e-7


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def parabola(n_per_class: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """The reference dataset: ``(X (2n, 2), y (2n,))``."""
    x1 = np.linspace(-1.0, 1.0, n_per_class)
    X = np.concatenate([np.c_[x1, x1**2], np.c_[x1, x1**2 - 0.5]])
    y = np.concatenate([np.zeros(n_per_class), np.ones(n_per_class)])
    return X, y


def _weights(n_epochs: int, rng: np.random.Generator):
    """Weights per epoch, shape (E+1, ...): a smooth drift plus a small random walk."""
    t = 1.0 - np.exp(-np.arange(n_epochs + 1) / max(n_epochs / 4.0, 1.0))
    w1_0 = rng.normal(0.0, 0.7, (2, 2))
    b1_0 = np.zeros(2)
    w2_0 = rng.normal(0.0, 0.05, 2)
    b2_0 = 0.0
    # Two sigmoid units above the lines x2 = ±x1 − 0.25; class 0 where both fire.
    w1_1 = np.array([[-6.0, 6.0], [6.0, 6.0]])
    b1_1 = np.array([1.5, 1.5])
    w2_1 = np.array([-7.0, -7.0])
    b2_1 = 10.0

    def path(start, end, scale):
        start, end = np.asarray(start, float), np.asarray(end, float)
        shape = (n_epochs + 1, *start.shape)
        walk = np.cumsum(rng.normal(0.0, scale, shape), axis=0)
        walk -= walk[:1]
        tt = t.reshape(-1, *([1] * start.ndim))
        return start + (end - start) * tt + walk

    return path(w1_0, w1_1, 0.02), path(b1_0, b1_1, 0.01), path(w2_0, w2_1, 0.02), path(
        b2_0, b2_1, 0.02)


def _forward(X, w1, b1, w2, b2):
    """Hidden features (E+1, N, 2) and P(y=1) (E+1, N) for every epoch."""
    h = _sigmoid(np.einsum("nd,edk->enk", X, w1) + b1[:, None, :])
    p = _sigmoid(np.einsum("enk,ek->en", h, w2) + b2[:, None])
    return h, p


def _limits(values: np.ndarray, margin: float = 0.05) -> tuple[float, float]:
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    pad = (hi - lo) * margin or 0.5
    return lo - pad, hi + pad


def _join(pieces: list[np.ndarray]) -> np.ndarray:
    """Polylines joined into one (M, 2) array with NaN rows between pieces."""
    out: list[np.ndarray] = []
    for piece in pieces:
        if out:
            out.append(np.full((1, 2), np.nan))
        out.append(np.asarray(piece, float))
    return np.concatenate(out) if out else np.empty((0, 2))


def _clip_line(w: np.ndarray, b: float, xlim, ylim) -> np.ndarray:
    """Segment of w·h + b = 0 inside the box, as (2, 2), or (0, 2) when it misses."""
    (x0, x1), (y0, y1) = xlim, ylim
    points = []
    if abs(w[1]) > 1e-12:
        for x in (x0, x1):
            y = -(w[0] * x + b) / w[1]
            if y0 <= y <= y1:
                points.append((x, y))
    if abs(w[0]) > 1e-12:
        for y in (y0, y1):
            x = -(w[1] * y + b) / w[0]
            if x0 <= x <= x1:
                points.append((x, y))
    if len(points) < 2:
        return np.empty((0, 2))
    points.sort()
    return np.array([points[0], points[-1]], float)


def _counts(values: np.ndarray, edges: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-epoch histogram counts (E+1, B) of ``values[e, mask[e]]``."""
    n_bins = len(edges) - 1
    idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n_bins - 1)
    offsets = np.arange(values.shape[0])[:, None] * n_bins
    flat = (idx + offsets)[mask]
    return np.bincount(flat, minlength=values.shape[0] * n_bins).reshape(-1, n_bins)


def synthetic_views(
    n_epochs: int = 150,
    n_per_class: int = 1000,
    grid_size: int = 100,
    grid_lines: int = 11,
    grid_points: int = 60,
    probability_bins: int = 20,
    loss_bins: int = 30,
    validation: bool = False,
    seed: int = 42,
    run_name: str = "synthetic",
) -> ReplayViews:
    """Five views of a simulated run, shaped like the reference run's (151 x 2000 samples).

    Example
    -------
    >>> views = synthetic_views(n_epochs=10)
    >>> views.feature_space.features.shape
    (11, 2000, 2)
    """
    rng = np.random.default_rng(seed)
    X, y = parabola(n_per_class)
    w1, b1, w2, b2 = _weights(n_epochs, rng)
    feats, proba = _forward(X, w1, b1, w2, b2)

    # Input-space grid lines (horizontal then vertical) bent through the hidden layer.
    (gx0, gx1), (gy0, gy1) = _limits(X[:, 0], 0.0), _limits(X[:, 1], 0.0)
    s = np.linspace(0.0, 1.0, grid_points)
    lines = [np.c_[gx0 + (gx1 - gx0) * s, np.full_like(s, v)]
             for v in np.linspace(gy0, gy1, grid_lines)]
    lines += [np.c_[np.full_like(s, v), gy0 + (gy1 - gy0) * s]
              for v in np.linspace(gx0, gx1, grid_lines)]
    grid_in = np.stack(lines)  # (L, P, 2)
    grid_h = _sigmoid(np.einsum("lpd,edk->elpk", grid_in, w1) + b1[:, None, None, :])
    fxlim, fylim = _limits(feats[..., 0]), _limits(feats[..., 1])
    fs_boundary = tuple(_clip_line(w2[e], b2[e], fxlim, fylim) for e in range(n_epochs + 1))
    feature_space = FeatureSpaceView(
        layer_name="hidden", features=feats, targets=y, grid_lines=grid_h,
        boundary=fs_boundary, xlim=fxlim, ylim=fylim)

    # Probability map over the inputs with a 10% margin.
    dxlim, dylim = _limits(X[:, 0], 0.1), _limits(X[:, 1], 0.1)
    xs = np.linspace(*dxlim, grid_size)
    ys = np.linspace(*dylim, grid_size)
    gx, gy = np.meshgrid(xs, ys)
    _, grid_p = _forward(np.c_[gx.ravel(), gy.ravel()], w1, b1, w2, b2)
    grid_p = grid_p.reshape(n_epochs + 1, grid_size, grid_size)
    contours = []
    for e in range(n_epochs + 1):
        gen = contourpy.contour_generator(xs, ys, grid_p[e], line_type="Separate")
        contours.append(_join(gen.lines(0.5)))
    decision_boundary = DecisionBoundaryView(
        xs=xs, ys=ys, probabilities=grid_p, contours=tuple(contours), inputs=X, targets=y,
        xlim=dxlim, ylim=dylim)

    # Probability histograms, threshold 0.5.
    edges = np.linspace(0.0, 1.0, probability_bins + 1)
    pos = np.broadcast_to(y == 1, proba.shape)
    hit = proba >= 0.5
    prob_hist = ProbabilityHistogramView(
        bin_edges=edges,
        negatives_correct=_counts(proba, edges, ~pos & ~hit),
        negatives_wrong=_counts(proba, edges, ~pos & hit),
        positives_correct=_counts(proba, edges, pos & hit),
        positives_wrong=_counts(proba, edges, pos & ~hit),
        ymax=0.0)
    ymax = max(float((prob_hist.negatives_correct + prob_hist.negatives_wrong).max()),
               float((prob_hist.positives_correct + prob_hist.positives_wrong).max()))
    prob_hist = replace(prob_hist, ymax=ymax)

    # Per-sample binary cross-entropy and its curves.
    pc = np.clip(proba, _EPS, 1 - _EPS)
    sample_loss = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    loss = sample_loss.mean(axis=1)
    acc = (hit == pos).mean(axis=1)
    val_loss = val_acc = None
    if validation:
        Xv = X + rng.normal(0.0, 0.05, X.shape)
        _, pv = _forward(Xv, w1, b1, w2, b2)
        pv = np.clip(pv, _EPS, 1 - _EPS)
        val_loss = -(y * np.log(pv) + (1 - y) * np.log(1 - pv)).mean(axis=1)
        val_acc = ((pv >= 0.5) == (y == 1)).mean(axis=1)
    top = max(float(loss.max()), float(val_loss.max()) if val_loss is not None else 0.0)
    loss_and_metric = LossAndMetricView(
        epochs=np.arange(n_epochs + 1), loss=loss, accuracy=acc, val_loss=val_loss,
        val_accuracy=val_acc, loss_ylim=(0.0, top * 1.05))

    loss_edges = np.linspace(0.0, float(sample_loss.max()), loss_bins + 1)
    neg_counts = _counts(sample_loss, loss_edges, ~pos)
    pos_counts = _counts(sample_loss, loss_edges, pos)
    loss_hist = LossHistogramView(
        bin_edges=loss_edges, negatives=neg_counts, positives=pos_counts,
        ymax=float((neg_counts + pos_counts).max()))

    return ReplayViews(
        run_name=run_name, n_epochs=n_epochs, feature_space=feature_space,
        decision_boundary=decision_boundary, probability_histogram=prob_hist,
        loss_and_metric=loss_and_metric, loss_histogram=loss_hist)


def without_feature_space(views: ReplayViews) -> ReplayViews:
    """The same views as a run with no 2-unit layer and no 2-D inputs would give."""
    return replace(
        views, feature_space=None, decision_boundary=None,
        feature_space_note=("This network has no layer with exactly 2 units, so there is no "
                            "feature space to show. Add a hidden layer with 2 units to see one."),
        decision_boundary_note="The inputs are not 2-D, so the decision boundary cannot be drawn.")
