"""The data of the five views, for every epoch of a run.

Each view is a frozen dataclass of numpy arrays covering *all* epochs (index 0 is the
state before training, index ``e`` the state after epoch ``e``). Renderers draw one
epoch of a view; they never compute. Limits (``xlim``/``ylim``) are computed once over
all epochs so the axes stay fixed while the network moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replay_core.replay.events import RunEvents
from replay_core.replay.landscape import LandscapeView


def class_labels(names: tuple[str, ...] | list[str], k: int) -> tuple[str, ...]:
    """``names`` when it names all ``k`` classes, else ``class 0``, ``class 1``...

    >>> class_labels(("cat", "dog"), 2), class_labels((), 2)
    (('cat', 'dog'), ('class 0', 'class 1'))
    """
    k = int(k)
    return tuple(names) if len(names) == k else tuple(f"class {c}" for c in range(k))


@dataclass(frozen=True)
class FeatureSpaceView:
    """Output of a hidden layer for every sample, with a bent input-space grid: a 2-unit
    layer as it is, a wider one through a projection fixed for every epoch.

    Attributes
    ----------
    layer_name : name of the layer shown.
    features : (E+1, N, 2) the layer's output (projected) for every sample; at the epochs
        named in ``overflow_note``, samples beyond the limits sit on their edge.
    targets : (N,) class index of every sample.
    grid_lines : (E+1, L, P, 2) ``L`` input-space grid lines (11 horizontal and 11
        vertical for 2-D inputs), each sampled at ``P`` points, mapped through the same
        layers as the samples.
    boundary : tuple of E+1 arrays (M, 2): the output's 0.5 boundary in this space,
        clipped to the limits (a straight segment when the layer feeds the output
        directly, a contour polyline otherwise); NaN rows separate pieces, empty when
        the boundary lies outside the limits.
    xlim, ylim : fixed limits over all epochs.
    projection : "units" (two chosen units, the identity on them) or "pca" (a PCA
        fitted once at ``fit_epoch`` and frozen for every epoch).
    projection_label : what the plane is, with the share of variance it keeps; empty
        for the plain view of a 2-unit layer.
    axis_labels : the two axes' labels ("unit 1", "PC 1 (62% of variance)"...).
    variance_kept : share of the layer's total variance at ``fit_epoch`` kept by the plane.
    fit_epoch : the epoch the projection (and its variance figure) was computed at.
    n_units : units of the layer.
    boundary_note : why ``boundary`` is empty at every epoch (a projection of a layer of
        more than 2 units has no exact boundary), else empty.
    mean, components : the projection ``(h - mean) @ components.T``; (U,) and (2, U).
    overflow_note : which epochs blew up (values beyond ``ranges.OVERFLOW``, or far
        beyond the typical epoch's) and were left out of the fit and the limits, else
        empty.
    """

    layer_name: str
    features: np.ndarray
    targets: np.ndarray
    grid_lines: np.ndarray
    boundary: tuple
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    projection: str = "units"
    projection_label: str = ""
    axis_labels: tuple[str, str] = ("unit 1", "unit 2")
    variance_kept: float = 1.0
    fit_epoch: int | None = None
    n_units: int = 2
    boundary_note: str = ""
    mean: np.ndarray | None = None
    components: np.ndarray | None = None
    overflow_note: str = ""


@dataclass(frozen=True)
class DecisionBoundaryView:
    """Predicted probability over a grid covering the data, with margin.

    Attributes
    ----------
    xs : (G,) grid x coordinates; ys : (G,) grid y coordinates.
    probabilities : (E+1, G, G) P(class 1) at (ys[i], xs[j]) -> probabilities[e, i, j]
        (for k > 2 classes the winning class's probability, see ``winners``).
    contours : tuple of E+1 arrays (M, 2): the 0.5 contour (for k > 2 classes the lines
        between the class regions), NaN rows between pieces.
    inputs : (N, 2) the samples; targets : (N,) their class index.
    xlim, ylim : fixed limits (the grid's extent).
    space : "input" (the grid covers the inputs), "latent": the grid covers the 2-D
        output of ``latent_layer`` (a bottleneck) and the rest of the network maps it, or
        "input_pca": inputs of more than 2 features, the grid covers the plane of their
        first two principal components through their mean (``inputs`` then holds the
        samples' (N, 2) projections onto it).
    latent_layer : the layer whose output is the plane, for a latent space, else "".
    sample_positions : (E+1, N, 2) where the samples lie in a latent space at every
        epoch (they move with the encoder), else None (``inputs`` do not move).
    axis_labels : the two axes' labels.
    """

    xs: np.ndarray
    ys: np.ndarray
    probabilities: np.ndarray
    contours: tuple
    inputs: np.ndarray
    targets: np.ndarray
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    space: str = "input"
    latent_layer: str = ""
    sample_positions: np.ndarray | None = None
    axis_labels: tuple[str, str] = ("x1", "x2")
    winners: np.ndarray | None = None
    """(E+1, G, G) int8 index of the most probable class, for a k-class (k > 2) run:
    ``probabilities`` then holds that class's probability and ``contours`` the lines
    between classes. None for a binary run."""
    n_classes: int = 2


@dataclass(frozen=True)
class ProbabilityHistogramView:
    """Histograms of the predicted probability of the negatives and of the positives, for
    a two-class run (a k-class run's is a ``ClassProbabilityHistogramView``).

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
    class_names: tuple[str, ...] = ()
    """The classes' names in index order (``class_labels`` gives ``class 0``... when
    empty)."""


@dataclass(frozen=True)
class LossAndMetricView:
    """Loss and accuracy over the whole dataset at every epoch (0 = initial weights).

    Attributes
    ----------
    epochs : (E+1,) 0..E.
    loss, accuracy : (E+1,) cross-entropy and accuracy of the stored weights on all
        training samples: binary cross-entropy and threshold 0.5 for two classes,
        categorical cross-entropy and the most probable class for k > 2.
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
    """Histogram of the per-sample binary cross-entropy of a two-class run (a k-class
    run's is a ``ClassLossHistogramView``).

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
    class_names: tuple[str, ...] = ()
    """The classes' names in index order (``class_labels`` gives ``class 0``... when
    empty)."""


@dataclass(frozen=True)
class UnitMapsView:
    """Every unit of one layer over a 2-D input grid, for every epoch.

    Attributes
    ----------
    layer_name : the layer shown.
    xs, ys : (G,) grid coordinates over the inputs (with a 10% margin).
    activations : (E+1, U, G, G) unit ``u``'s output at (ys[i], xs[j]) ->
        ``activations[e, u, i, j]``.
    vmin, vmax : fixed colour range over all epochs and units (the activation's own
        range when it is bounded).
    """

    layer_name: str
    xs: np.ndarray
    ys: np.ndarray
    activations: np.ndarray
    vmin: float
    vmax: float

    @property
    def n_units(self) -> int:
        return int(self.activations.shape[1])


@dataclass(frozen=True)
class ReplayViews:
    """The five views of one run, for every epoch.

    ``feature_space`` is None when the run has no hidden layer of 2 or more units;
    ``feature_space_note`` then says why (and how to get one). ``decision_boundary`` is
    None when there is no plane to draw it on (one input feature and no bottleneck), with
    ``decision_boundary_note`` saying why.
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
    confusion: ConfusionView | None = None
    n_classes: int = 2
    """2 for a binary run; ``k > 2`` for a softmax run, whose ``probability_histogram``
    is a ``ClassProbabilityHistogramView`` and ``loss_histogram`` a
    ``ClassLossHistogramView``."""
    events: RunEvents | None = None
    """The run's events and the figures its narration reads (``replay.events``), or None
    for views built without them."""
    landscape: LandscapeView | None = None
    """The run's loss landscape around its path (``replay.landscape.with_landscape``), or
    None: ``Replay.views`` leaves it out, since it costs a grid of forward passes."""
    class_names: tuple[str, ...] = ()
    """The classes' names in index order (``class_labels`` gives ``class 0``... when
    empty)."""


@dataclass(frozen=True)
class ConfusionView:
    """Confusion matrix of the training samples at every epoch.

    Attributes
    ----------
    counts : (E+1, k, k) int; ``counts[e, t, p]`` samples of true class ``t`` predicted
        as class ``p`` (the most probable class; P(class 1) at or above 0.5 for a binary
        run).
    """

    counts: np.ndarray
    class_names: tuple[str, ...] = ()
    """The classes' names in index order (``class_labels`` gives ``class 0``... when
    empty)."""

    @property
    def n_classes(self) -> int:
        return int(self.counts.shape[1])

    def accuracy(self, epoch: int) -> float:
        """Share of the samples on the diagonal at ``epoch``."""
        c = self.counts[epoch]
        total = c.sum()
        return float(np.trace(c) / total) if total else float("nan")


@dataclass(frozen=True)
class ClassProbabilityHistogramView:
    """For a k-class run: histograms of the probability given to each sample's true class.

    Attributes
    ----------
    bin_edges : (B+1,) edges over [0, 1].
    correct, wrong : (E+1, k, B) counts, per true class, of samples whose true class is
        (is not) the most probable one.
    ymax : largest stacked bar over all epochs and classes (fixed y limit).
    """

    bin_edges: np.ndarray
    correct: np.ndarray
    wrong: np.ndarray
    ymax: float
    class_names: tuple[str, ...] = ()
    """The classes' names in index order (``class_labels`` gives ``class 0``... when
    empty)."""

    @property
    def n_classes(self) -> int:
        return int(self.correct.shape[1])


@dataclass(frozen=True)
class ClassLossHistogramView:
    """For a k-class run: histogram of the per-sample categorical cross-entropy.

    Attributes
    ----------
    bin_edges : (B+1,) fixed edges over all epochs.
    counts : (E+1, k, B) counts per bin for the samples of each class (stacked in class
        order when drawn).
    ymax : largest stacked bar over all epochs.
    """

    bin_edges: np.ndarray
    counts: np.ndarray
    ymax: float
    class_names: tuple[str, ...] = ()
    """The classes' names in index order (``class_labels`` gives ``class 0``... when
    empty)."""

    @property
    def n_classes(self) -> int:
        return int(self.counts.shape[1])
