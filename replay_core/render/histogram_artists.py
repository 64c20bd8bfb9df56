"""Histogram panels: P(y=1) of the negatives and positives (binary), P(true class) per
class beside the confusion matrix (k classes), and the per-sample loss stacked by class.

Bars are StepPatches whose heights change per epoch; the axes are fixed from the view's
largest count over all epochs, so a histogram that fills up is seen filling up.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap

from replay_core.render.canvas import ViewArtists, check_epoch
from replay_core.render.style import (
    TICK,
    Theme,
    class_colours,
    draw_note,
    fix_limits,
    hist_top,
    short_label,
    style_axes,
)
from replay_core.replay.views import (
    ClassLossHistogramView,
    ClassProbabilityHistogramView,
    ConfusionView,
    LossHistogramView,
    ProbabilityHistogramView,
    class_labels,
)

__all__ = [
    "ClassLossHistogramArtists",
    "ClassProbabilityHistogramArtists",
    "LossHistogramArtists",
    "ProbabilityHistogramArtists",
]

TICK_NAME = 11
"""Characters of a class name as a tick label of the per-class histogram."""


def _stairs(ax: Axes, values, edges, baseline, **kw):
    return ax.stairs(values, edges, baseline=baseline, fill=True, **kw)


class ProbabilityHistogramArtists(ViewArtists):
    """Histograms of P(y=1) for the negatives and the positives, misclassified stacked.

    Attributes
    ----------
    ax_neg, ax_pos : the two Axes.
    neg_correct, neg_wrong, pos_correct, pos_wrong : StepPatch bars; ``get_data().values``
        holds the counts (the ``wrong`` bars sit on the ``correct`` ones: their
        ``baseline`` is the correct counts, their values correct + wrong).
    dynamic : every artist ``update`` changes.

    Example
    -------
    >>> fig = Figure(); ax_neg, ax_pos = fig.subplots(1, 2)
    >>> artists = draw_probability_histogram(ax_neg, ax_pos, view, 0)   # doctest: +SKIP
    """

    n_axes = 2

    def __init__(self, ax_neg: Axes, ax_pos: Axes, view: ProbabilityHistogramView, epoch: int,
                 theme: Theme) -> None:
        self.ax_neg, self.ax_pos, self.view = ax_neg, ax_pos, view
        self.n_epochs = view.negatives_correct.shape[0] - 1
        e = check_epoch(epoch, self.n_epochs)
        edges = np.asarray(view.bin_edges, float)
        self._edges = edges
        top = hist_top(view.ymax)
        wrong_kw = dict(facecolor=theme.wrong, edgecolor=theme.wrong, hatchcolor=theme.hatch,
                        hatch="////", linewidth=0.0, zorder=2)
        made = []
        titles = ("P(y=1) — negatives", "P(y=1) — positives")
        names = class_labels(view.class_names, 2)
        if names != class_labels((), 2):  # classes with names of their own: say them
            positive = short_label(names[1], TICK_NAME)
            titles = tuple(f"P({positive}) — {short_label(n, TICK_NAME)}" for n in names)
        for ax, title, colour, correct, wrong in (
                (ax_neg, titles[0], theme.class0, view.negatives_correct,
                 view.negatives_wrong),
                (ax_pos, titles[1], theme.class1, view.positives_correct,
                 view.positives_wrong)):
            style_axes(ax, theme, title)
            ax.axvline(0.5, color=theme.muted, linestyle=(0, (4, 3)), linewidth=1.0, zorder=3)
            c = np.asarray(correct[e], float)
            bars_c = _stairs(ax, c, edges, 0.0, facecolor=colour, edgecolor=colour,
                             linewidth=0.0, zorder=1)
            bars_w = _stairs(ax, c + wrong[e], edges, c, **wrong_kw)
            fix_limits(ax, (edges[0], edges[-1]), (0.0, top))
            made.append((bars_c, bars_w))
        ax_neg.set_ylabel("samples", labelpad=2)
        (self.neg_correct, self.neg_wrong), (self.pos_correct, self.pos_wrong) = made
        self.dynamic = [self.neg_correct, self.neg_wrong, self.pos_correct, self.pos_wrong]
        self.epoch = e

    def _set(self, epoch: int) -> None:
        v = self.view
        for bars_c, bars_w, correct, wrong in (
                (self.neg_correct, self.neg_wrong, v.negatives_correct, v.negatives_wrong),
                (self.pos_correct, self.pos_wrong, v.positives_correct, v.positives_wrong)):
            c = np.asarray(correct[epoch], float)
            bars_c.set_data(c, self._edges, 0.0)
            bars_w.set_data(c + wrong[epoch], self._edges, c)


class ClassProbabilityHistogramArtists(ViewArtists):
    """For a k-class run: P(true class) histograms, one band per class, misclassified
    stacked; beside them the confusion matrix of the same epoch.

    Attributes
    ----------
    ax_hist : Axes of the k bands (class 0 on top); ax_conf : Axes of the matrix.
    correct, wrong : per class, StepPatch bars; band ``c`` sits at ``offsets[c]`` and a
        bar's height is its count / ``ymax`` x 0.9 (the wrong bars sit on the correct ones).
    matrix : AxesImage of the row-normalised confusion matrix; cells : k x k Texts with
        the counts.
    dynamic : every artist ``update`` changes.
    """

    n_axes = 2
    context = ("confusion",)

    def __init__(self, ax_hist: Axes, ax_conf: Axes, view: ClassProbabilityHistogramView,
                 epoch: int, theme: Theme, *, confusion: ConfusionView | None = None) -> None:
        self.ax_hist, self.ax_conf, self.view, self.confusion = ax_hist, ax_conf, view, confusion
        self.n_epochs = view.correct.shape[0] - 1
        e = check_epoch(epoch, self.n_epochs)
        k = view.n_classes
        self._edges = edges = np.asarray(view.bin_edges, float)
        self._scale = 0.9 / hist_top(view.ymax)
        self.offsets = np.arange(k)[::-1].astype(float)
        style_axes(ax_hist, theme, "P(true class) per class")
        ax_hist.set_xlabel("probability of the true class", labelpad=1)
        wrong_kw = dict(facecolor=theme.wrong, edgecolor=theme.wrong, hatchcolor=theme.hatch,
                        hatch="////", linewidth=0.0, zorder=2)
        self.correct, self.wrong = [], []
        for c, colour in enumerate(class_colours(theme, k)):
            base = self.offsets[c]
            ax_hist.axhline(base, color=theme.spine, linewidth=0.6, zorder=0)
            ok, bad = self._heights(c, e)
            self.correct.append(_stairs(ax_hist, base + ok, edges, base, facecolor=colour,
                                        edgecolor=colour, linewidth=0.0, zorder=1))
            self.wrong.append(_stairs(ax_hist, base + ok + bad, edges, base + ok, **wrong_kw))
        ax_hist.set_yticks(self.offsets + 0.45, [short_label(name, TICK_NAME) for name in
                                                 class_labels(view.class_names, k)])
        fix_limits(ax_hist, (edges[0], edges[-1]), (-0.05, k))
        self.dynamic = [*self.correct, *self.wrong]
        self.matrix, self.cells = None, []
        if confusion is not None:
            self._draw_confusion(ax_conf, confusion, e, theme)
        else:
            draw_note(ax_conf, "Confusion matrix", "", theme, 200)
        self.epoch = e

    def _heights(self, c: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(self.view.correct[epoch, c], float) * self._scale,
                np.asarray(self.view.wrong[epoch, c], float) * self._scale)

    def _draw_confusion(self, ax: Axes, confusion: ConfusionView, epoch: int,
                        theme: Theme) -> None:
        k = confusion.n_classes
        style_axes(ax, theme, "Confusion matrix")
        self._cmap = LinearSegmentedColormap.from_list("replay_confusion",
                                                       [theme.background, theme.muted])
        self.matrix = ax.imshow(self._shares(epoch), cmap=self._cmap, vmin=0.0, vmax=1.0,
                                origin="upper", interpolation="nearest", aspect="auto",
                                extent=(-0.5, k - 0.5, k - 0.5, -0.5), zorder=0)
        size = TICK if k <= 4 else TICK - 1
        self._text_colours = (theme.text, theme.background)
        self.cells = [ax.text(j, i, "", ha="center", va="center", fontsize=size, zorder=1)
                      for i in range(k) for j in range(k)]
        self._fill_cells(epoch)
        ticks = list(range(k))
        # Indices when the classes have no names of their own; short names when they do.
        names = class_labels(confusion.class_names, k)
        if names == class_labels((), k):
            names = tuple(str(c) for c in ticks)
        ax.set_xticks(ticks, [short_label(n, 5) for n in names])
        ax.set_yticks(ticks, [short_label(n, 5) for n in names])
        ax.set_xlabel("predicted class", labelpad=1)
        ax.set_ylabel("true class", labelpad=1)
        fix_limits(ax, (-0.5, k - 0.5), (k - 0.5, -0.5))
        self.dynamic += [self.matrix, *self.cells]

    def _shares(self, epoch: int) -> np.ndarray:
        counts = np.asarray(self.confusion.counts[epoch], float)
        rows = counts.sum(axis=1, keepdims=True)
        return np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)

    def _fill_cells(self, epoch: int) -> None:
        counts = self.confusion.counts[epoch]
        shares = self._shares(epoch)
        k = counts.shape[0]
        for idx, text in enumerate(self.cells):
            i, j = divmod(idx, k)
            text.set_text(str(int(counts[i, j])))
            # Light text on the darker half of the colour ramp.
            text.set_color(self._text_colours[int(shares[i, j] > 0.55)])

    def _set(self, epoch: int) -> None:
        for c, (ok_bars, bad_bars) in enumerate(zip(self.correct, self.wrong)):
            base = self.offsets[c]
            ok, bad = self._heights(c, epoch)
            ok_bars.set_data(base + ok, self._edges, base)
            bad_bars.set_data(base + ok + bad, self._edges, base + ok)
        if self.matrix is not None:
            self.matrix.set_data(self._shares(epoch))
            self._fill_cells(epoch)


class ClassLossHistogramArtists(ViewArtists):
    """For a k-class run: histogram of the per-sample categorical cross-entropy, the
    classes stacked in order.

    Attributes
    ----------
    ax : the Axes drawn on; bars : per class, a StepPatch whose baseline is the sum of
        the classes below it (0 for the first).
    dynamic : every artist ``update`` changes.
    """

    _xlabel = "categorical cross-entropy"
    _per_epoch = "counts"  # the view's array with one row per epoch

    def __init__(self, ax: Axes, view: ClassLossHistogramView | LossHistogramView, epoch: int,
                 theme: Theme) -> None:
        self.ax, self.view = ax, view
        self.n_epochs = np.shape(getattr(view, self._per_epoch))[0] - 1
        e = check_epoch(epoch, self.n_epochs)
        self._edges = edges = np.asarray(view.bin_edges, float)
        style_axes(ax, theme, "Loss per sample")
        ax.set_xlabel(self._xlabel, labelpad=1)
        ax.set_ylabel("samples", labelpad=2)
        self.bars = []
        stack = self._stack(e)
        for colour, (top, base) in zip(class_colours(theme, len(stack)), stack):
            self.bars.append(_stairs(ax, top, edges, base, facecolor=colour, edgecolor=colour,
                                     linewidth=0.0, zorder=1))
        fix_limits(ax, (edges[0], edges[-1]), (0.0, hist_top(view.ymax)))
        self.dynamic = list(self.bars)
        self.epoch = e

    def _counts(self, epoch: int) -> np.ndarray:
        """(k, bins) float counts of each class at ``epoch``."""
        return np.asarray(self.view.counts[epoch], float)

    def _stack(self, epoch: int) -> list[tuple[np.ndarray, np.ndarray | float]]:
        tops = np.cumsum(self._counts(epoch), axis=0)
        return [(tops[c], tops[c - 1] if c else 0.0) for c in range(len(tops))]

    def _set(self, epoch: int) -> None:
        for bars, (top, base) in zip(self.bars, self._stack(epoch)):
            bars.set_data(top, self._edges, base)


class LossHistogramArtists(ClassLossHistogramArtists):
    """Histogram of the per-sample loss, positives stacked on the negatives.

    Attributes
    ----------
    ax : the Axes drawn on.
    negatives, positives : StepPatch bars; ``negatives.get_data().values`` holds the
        negatives' counts, ``positives`` sits on them (baseline = negatives' counts).
    bars : both, in that order.
    dynamic : every artist ``update`` changes.

    Example
    -------
    >>> artists = draw_loss_histogram(ax, views.loss_histogram, 0)   # doctest: +SKIP
    """

    _xlabel = "binary cross-entropy"
    _per_epoch = "negatives"

    def _counts(self, epoch: int) -> np.ndarray:
        return np.stack([np.asarray(self.view.negatives[epoch], float),
                         np.asarray(self.view.positives[epoch], float)])

    @property
    def negatives(self):
        return self.bars[0]

    @property
    def positives(self):
        return self.bars[1]
