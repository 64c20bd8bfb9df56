"""The data of the five views, for every epoch of a run.

Each view is a frozen dataclass of numpy arrays covering *all* epochs (index 0 is the
state before training, index ``e`` the state after epoch ``e``). Renderers draw one
epoch of a view; they never compute. Limits (``xlim``/``ylim``) are computed once over
all epochs so the axes stay fixed while the network moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FeatureSpaceView:
    """Output of a 2-unit layer for every sample, with a bent input-space grid.

    Attributes
    ----------
    layer_name : name of the 2-unit layer shown.
    features : (E+1, N, 2) the layer's output for every sample.
    targets : (N,) 0/1 class of every sample.
    grid_lines : (E+1, L, P, 2) ``L`` input-space grid lines (11 horizontal and 11
        vertical for 2-D inputs), each sampled at ``P`` points, mapped through the same
        layers as the samples.
    boundary : tuple of E+1 arrays (M, 2): the output's 0.5 boundary in this space,
        clipped to the limits (a straight segment when the layer feeds the output
        directly, a contour polyline otherwise); NaN rows separate pieces, empty when
        the boundary lies outside the limits.
    xlim, ylim : fixed limits over all epochs.
    """

    layer_name: str
    features: np.ndarray
    targets: np.ndarray
    grid_lines: np.ndarray
    boundary: tuple
    xlim: tuple[float, float]
    ylim: tuple[float, float]


@dataclass(frozen=True)
class DecisionBoundaryView:
    """Predicted probability over an input-space grid covering the data, with margin.

    Attributes
    ----------
    xs : (G,) grid x coordinates; ys : (G,) grid y coordinates.
    probabilities : (E+1, G, G) P(class 1) at (ys[i], xs[j]) -> probabilities[e, i, j].
    contours : tuple of E+1 arrays (M, 2): the 0.5 contour, NaN rows between pieces.
    inputs : (N, 2) the samples; targets : (N,) their 0/1 class.
    xlim, ylim : fixed limits (the grid's extent).
    """

    xs: np.ndarray
    ys: np.ndarray
    probabilities: np.ndarray
    contours: tuple
    inputs: np.ndarray
    targets: np.ndarray
    xlim: tuple[float, float]
    ylim: tuple[float, float]


@dataclass(frozen=True)
class ProbabilityHistogramView:
    """Histograms of the predicted probability of the negatives and of the positives.

    Attributes
    ----------
    bin_edges : (B+1,) edges over [0, 1].
    negatives_correct, negatives_wrong : (E+1, B) counts of class-0 samples predicted
        below / at-or-above the 0.5 threshold.
    positives_correct, positives_wrong : (E+1, B) counts of class-1 samples predicted
        at-or-above / below 0.5.
    ymax : largest bar over all epochs and both classes (fixed y limit).
    """

    bin_edges: np.ndarray
    negatives_correct: np.ndarray
    negatives_wrong: np.ndarray
    positives_correct: np.ndarray
    positives_wrong: np.ndarray
    ymax: float


@dataclass(frozen=True)
class LossAndMetricView:
    """Loss and accuracy over the whole dataset at every epoch (0 = initial weights).

    Attributes
    ----------
    epochs : (E+1,) 0..E.
    loss, accuracy : (E+1,) binary cross-entropy and accuracy (threshold 0.5) of the
        stored weights on all training samples.
    val_loss, val_accuracy : (E+1,) the same on the validation data, or None.
    loss_ylim : fixed limits of the loss axis (accuracy is always 0..1).
    """

    epochs: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    val_loss: np.ndarray | None
    val_accuracy: np.ndarray | None
    loss_ylim: tuple[float, float]


@dataclass(frozen=True)
class LossHistogramView:
    """Histogram of the per-sample binary cross-entropy.

    Attributes
    ----------
    bin_edges : (B+1,) fixed edges over all epochs.
    negatives, positives : (E+1, B) counts per bin for class-0 and class-1 samples.
    ymax : largest stacked bar over all epochs.
    """

    bin_edges: np.ndarray
    negatives: np.ndarray
    positives: np.ndarray
    ymax: float


@dataclass(frozen=True)
class ReplayViews:
    """The five views of one run, for every epoch.

    ``feature_space`` is None when the run has no 2-unit layer; ``feature_space_note``
    then says why (and how to get one). ``decision_boundary`` is None when the inputs
    are not 2-D, with ``decision_boundary_note`` saying why.
    """

    run_name: str
    n_epochs: int
    feature_space: FeatureSpaceView | None
    decision_boundary: DecisionBoundaryView | None
    probability_histogram: ProbabilityHistogramView
    loss_and_metric: LossAndMetricView
    loss_histogram: LossHistogramView
    feature_space_note: str = ""
    decision_boundary_note: str = ""
