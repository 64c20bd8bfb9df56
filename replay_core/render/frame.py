"""Matplotlib renderers of the five views: one draw function per view, a fast frame renderer.

Every ``draw_*`` function draws one epoch of its view on the given Axes, fixes the axes
limits from the view (so motion on screen is motion of the network) and returns a small
``*Artists`` object whose ``update(epoch)`` only changes artist data. The same update
serves a still figure (:func:`compose`), the app and an animation (:class:`FrameRenderer`).

:class:`FrameRenderer` builds one figure with every panel once, draws everything that does
not move into a cached background, and per frame restores that background and draws only
the moving artists (Agg blitting).

No pyplot and no rcParams: figures come from :class:`matplotlib.figure.Figure` and every
colour and size is passed explicitly, so this module is safe in a multi-threaded server.
"""

from __future__ import annotations

import io
import operator
import textwrap
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import LinearSegmentedColormap, Normalize, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import Bbox

from replay_core.errors import ViewUnavailableError
from replay_core.replay.events import Event
from replay_core.replay.narration import narration as epoch_sentences
from replay_core.replay.views import (
    ClassLossHistogramView,
    ClassProbabilityHistogramView,
    ConfusionView,
    DecisionBoundaryView,
    FeatureSpaceView,
    LossAndMetricView,
    LossHistogramView,
    ProbabilityHistogramView,
    ReplayViews,
)

__all__ = [
    "CLASS_PALETTE",
    "DARK",
    "DEFAULT_LAYOUT",
    "LIGHT",
    "PANELS",
    "ClassLossHistogramArtists",
    "ClassProbabilityHistogramArtists",
    "DecisionBoundaryArtists",
    "FeatureSpaceArtists",
    "FUTURE_CURVES",
    "FrameRenderer",
    "LossAndMetricArtists",
    "LossHistogramArtists",
    "ProbabilityHistogramArtists",
    "Theme",
    "class_colours",
    "class_lut",
    "class_masks",
    "class_regions_rgba",
    "compose",
    "draw_decision_boundary",
    "draw_feature_space",
    "draw_loss_and_metric",
    "draw_loss_histogram",
    "draw_probability_histogram",
    "probability_colormap",
]

PANELS = ("feature_space", "decision_boundary", "probability_histogram", "loss_and_metric",
          "loss_histogram", "landscape")
"""Names of the panels a :class:`FrameRenderer` can show ("landscape" draws
``views.landscape``, which ``Replay.views`` leaves out: see ``replay.landscape``)."""

DEFAULT_LAYOUT = ("feature_space", "decision_boundary", "loss_and_metric",
                  "probability_histogram", "loss_histogram")
"""Default panel order: feature space | boundary | curves over P neg | P pos | loss hist."""

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
CLASS0 = "#E69F00"
CLASS1 = "#0072B2"
WRONG = "#D55E00"
ACCURACY = "#009E73"
CURRENT = "#CC79A7"
CLASS_PALETTE = (CLASS0, CLASS1, "#009E73", "#CC79A7", "#56B4E9", "#9C755F", "#AA4499",
                 "#44AA99", "#999933", "#DDCC77")
"""Colours of classes 0..9 (classes 0 and 1 as in a binary run): Okabe-Ito's, then Paul
Tol's muted ones; mid-tones that read on both the light and the dark background."""


@dataclass(frozen=True)
class Theme:
    """Colours of a figure; class colours are shared by both themes.

    Example
    -------
    >>> FrameRenderer(views, theme=DARK)                       # doctest: +SKIP
    """

    name: str
    background: str
    text: str
    muted: str
    spine: str
    grid_line: str
    boundary: str
    hatch: str
    loss: str
    accuracy: str = ACCURACY
    current: str = CURRENT
    class0: str = CLASS0
    class1: str = CLASS1
    wrong: str = WRONG


LIGHT = Theme(name="light", background="#ffffff", text="#262730", muted="#5c606b",
              spine="#b9bcc4", grid_line="#a9adb6", boundary="#111111",
              hatch="#ffffff", loss="#262730")
DARK = Theme(name="dark", background="#0e1117", text="#fafafa", muted="#b3b8c4",
             spine="#4b5160", grid_line="#5a6070", boundary="#fafafa",
             hatch="#0e1117", loss="#fafafa")

# Font sizes in points; at the default 100 dpi they suit a 1280x720 frame.
_TITLE = 11.0
_LABEL = 9.0
_TICK = 8.0
_SUPTITLE = 13.0


def _theme(theme: str | Theme) -> Theme:
    if isinstance(theme, Theme):
        return theme
    if theme == "light":
        return LIGHT
    if theme == "dark":
        return DARK
    raise ValueError(f"theme must be 'light' or 'dark', got {theme!r}")


def probability_colormap() -> LinearSegmentedColormap:
    """Diverging colormap for P(y=1): light class-0 orange, white at 0.5, light class-1 blue."""
    return LinearSegmentedColormap.from_list(
        "replay_probability", [(0.0, "#e8a72a"), (0.25, "#f6d38f"), (0.5, "#ffffff"),
                               (0.75, "#9cc7e6"), (1.0, "#2b86c5")])


_LUT = probability_colormap()(np.linspace(0.0, 1.0, 256), bytes=True)


def class_lut(colours: Sequence[str], strength: float = 0.8) -> np.ndarray:
    """(k, 256, 4) uint8: class ``c`` at certainty ``i / 255``, from white (a tie) to
    ``strength`` of the class colour (sure)."""
    t = np.linspace(0.0, 1.0, 256)[None, :, None] * strength
    rgb = np.array([to_rgb(c) for c in colours])[:, None, :]
    mixed = (1.0 - t) * 1.0 + t * rgb
    alpha = np.ones(mixed.shape[:2] + (1,))
    return np.rint(np.concatenate([mixed, alpha], axis=-1) * 255.0).astype(np.uint8)


def class_regions_rgba(lut: np.ndarray, winners: np.ndarray,
                       probabilities: np.ndarray) -> np.ndarray:
    """(..., 4) uint8 colours of k-class regions: the winning class's colour from
    ``lut`` (see :func:`class_lut`), deeper as its probability rises from 1/k to 1."""
    k = len(lut)
    p = np.nan_to_num(np.asarray(probabilities, float), nan=1.0 / k)
    sure = np.clip((p - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)
    return lut[np.asarray(winners).astype(np.intp), np.rint(sure * 255.0).astype(np.intp)]


def _check_epoch(epoch: int, n_epochs: int) -> int:
    try:
        e = operator.index(epoch)
    except TypeError:
        raise TypeError(f"epoch must be an integer, got {epoch!r}") from None
    if not 0 <= e <= n_epochs:
        raise ValueError(f"epoch {e} is out of range 0..{n_epochs}")
    return e


def _style_axes(ax: Axes, theme: Theme, title: str | None = None) -> None:
    ax.set_facecolor(theme.background)
    for spine in ax.spines.values():
        spine.set_color(theme.spine)
        spine.set_linewidth(0.8)
    ax.tick_params(colors=theme.spine, labelcolor=theme.muted, labelsize=_TICK, length=3,
                   width=0.8, pad=2)
    ax.xaxis.label.set(color=theme.muted, fontsize=_LABEL)
    ax.yaxis.label.set(color=theme.muted, fontsize=_LABEL)
    if title is not None:
        ax.set_title(title, color=theme.text, fontsize=_TITLE, pad=5)


def _fix_limits(ax: Axes, xlim: Sequence[float], ylim: Sequence[float]) -> None:
    ax.set_xlim(float(xlim[0]), float(xlim[1]))
    ax.set_ylim(float(ylim[0]), float(ylim[1]))
    ax.set_autoscale_on(False)


def _hist_top(ymax: float) -> float:
    return float(ymax) * 1.05 if ymax > 0 else 1.0


class _ViewArtists:
    """Common part: the artists that move, the epoch shown, epoch checking."""

    n_epochs: int
    epoch: int
    dynamic: list[Artist]

    def update(self, epoch: int) -> None:
        """Move the artists to ``epoch``; only their data changes, never the axes."""
        e = _check_epoch(epoch, self.n_epochs)
        self._set(e)
        self.epoch = e

    def _set(self, epoch: int) -> None:
        raise NotImplementedError


def class_colours(theme: Theme, n_classes: int) -> list[str]:
    """The colours of classes ``0 .. n_classes - 1`` (the theme's two for a binary run)."""
    if n_classes > len(CLASS_PALETTE):
        raise ViewUnavailableError(
            f"at most {len(CLASS_PALETTE)} classes can be drawn, got {n_classes}")
    return [theme.class0, theme.class1, *CLASS_PALETTE[2:]][:max(n_classes, 2)]


def class_masks(targets: np.ndarray) -> tuple[np.ndarray, ...]:
    """Boolean masks of the samples of each class: below/at-or-above 0.5 for 0/1 targets,
    ``targets == c`` for class indices up to ``k - 1 > 1``."""
    t = np.asarray(targets).reshape(-1)
    k = int(np.nanmax(t)) + 1 if t.size else 2
    if k <= 2:
        return (t < 0.5, t >= 0.5)
    return tuple(t == c for c in range(k))


def _class_markers(ax: Axes, xy: np.ndarray, masks: Sequence[np.ndarray], theme: Theme, *,
                   size: float, edge_shade: float, edge_width: float,
                   zorder: float) -> list[Line2D]:
    # A Line2D with markers is stamped by Agg: ~10x faster than a scatter of 2000 points.
    lines = []
    for mask, colour in zip(masks, class_colours(theme, len(masks))):
        edge = tuple(c * edge_shade for c in to_rgb(colour))
        (line,) = ax.plot(xy[mask, 0], xy[mask, 1], linestyle="none", marker="o",
                          markersize=size, markerfacecolor=colour, markeredgecolor=edge,
                          markeredgewidth=edge_width, zorder=zorder)
        lines.append(line)
    return lines


class FeatureSpaceArtists(_ViewArtists):
    """The moving parts of a feature-space panel: samples, bent grid lines, boundary.

    Attributes
    ----------
    ax : the Axes drawn on.
    samples : two Line2D (class 0, class 1) holding ``features[epoch]`` of each class.
    grid : LineCollection of the bent input-space grid lines.
    boundary : Line2D of the output's 0.5 boundary.
    dynamic : every artist ``update`` changes, in drawing order.

    Example
    -------
    >>> fig = Figure(); ax = fig.add_subplot()
    >>> artists = draw_feature_space(ax, views.feature_space, 0)     # doctest: +SKIP
    >>> artists.update(80)                                           # doctest: +SKIP
    """

    def __init__(self, ax: Axes, view: FeatureSpaceView, epoch: int, theme: Theme) -> None:
        self.ax, self.view = ax, view
        self.n_epochs = view.features.shape[0] - 1
        e = _check_epoch(epoch, self.n_epochs)
        self._masks = class_masks(view.targets)
        title = f"Feature space ({view.layer_name})"
        if view.projection_label:
            title += f"\n{view.projection_label}"
        _style_axes(ax, theme, title)
        ax.set_xlabel(view.axis_labels[0], labelpad=1)
        ax.set_ylabel(view.axis_labels[1], labelpad=1)
        self.grid = LineCollection(view.grid_lines[e], colors=theme.grid_line, linewidths=0.6,
                                   zorder=1)
        ax.add_collection(self.grid, autolim=False)
        self.samples = _class_markers(ax, view.features[e], self._masks, theme, size=3.0,
                                      edge_shade=1.0, edge_width=0.0, zorder=2)
        b = np.asarray(view.boundary[e], float).reshape(-1, 2)
        (self.boundary,) = ax.plot(b[:, 0], b[:, 1], color=theme.boundary, linewidth=1.6,
                                   zorder=3)
        _fix_limits(ax, view.xlim, view.ylim)
        self.dynamic = [self.grid, *self.samples, self.boundary]
        notes = [textwrap.fill(n, 44) for n in (view.boundary_note,
                                                 getattr(view, "overflow_note", "")) if n]
        if notes:
            # Redrawn every frame so the moving samples never cover it.
            note = ax.text(0.02, 0.02, "\n".join(notes),
                           transform=ax.transAxes, ha="left", va="bottom", color=theme.muted,
                           fontsize=_TICK, zorder=4, linespacing=1.2,
                           bbox=dict(boxstyle="round,pad=0.25", facecolor=theme.background,
                                     edgecolor="none", alpha=0.8))
            self.dynamic.append(note)
        self.epoch = e

    def _set(self, epoch: int) -> None:
        view = self.view
        self.grid.set_segments(view.grid_lines[epoch])
        xy = view.features[epoch]
        for line, mask in zip(self.samples, self._masks):
            pts = xy[mask]
            line.set_data(pts[:, 0], pts[:, 1])
        b = np.asarray(view.boundary[epoch], float).reshape(-1, 2)
        self.boundary.set_data(b[:, 0], b[:, 1])


class DecisionBoundaryArtists(_ViewArtists):
    """The moving parts of a decision-boundary panel: probability image and 0.5 contour.

    The image holds RGBA colours (``rgba(epoch)``) rather than probabilities: colouring
    10k grid values through a lookup table is much cheaper than Matplotlib's resampled
    colour mapping. The samples do not move but are redrawn over the image every frame.

    Attributes
    ----------
    ax : the Axes drawn on.
    image : AxesImage of the probability map, extent = the view's limits, origin lower.
    contour : Line2D of the 0.5 contour.
    samples : two Line2D (class 0, class 1) at the inputs.
    dynamic : every artist redrawn per frame, in drawing order (the spines too, so the
        image does not cover them).

    Example
    -------
    >>> artists = draw_decision_boundary(ax, views.decision_boundary, 0)   # doctest: +SKIP
    >>> artists.update(150)                                                # doctest: +SKIP
    """

    def __init__(self, ax: Axes, view: DecisionBoundaryView, epoch: int, theme: Theme, *,
                 colorbar: bool = True) -> None:
        self.ax, self.view = ax, view
        self.n_epochs = view.probabilities.shape[0] - 1
        e = _check_epoch(epoch, self.n_epochs)
        masks = class_masks(view.targets)
        self._masks = masks
        # k classes: each grid point in its winning class's colour, deeper as it is surer.
        self._class_lut = (None if view.winners is None
                           else class_lut(class_colours(theme, view.n_classes)))
        title = "Decision boundary"
        if view.space == "latent":
            title = f"Decision boundary in latent space ({view.latent_layer})"
        elif view.space == "input_pca":
            title = "P(class) on the inputs' PC 1-2 plane"
        _style_axes(ax, theme, title)
        ax.set_xlabel(view.axis_labels[0], labelpad=1)
        ax.set_ylabel(view.axis_labels[1], labelpad=1)
        (x0, x1), (y0, y1) = view.xlim, view.ylim
        self.image = ax.imshow(self.rgba(e), extent=(x0, x1, y0, y1), origin="lower",
                               interpolation="bilinear", aspect="auto", zorder=0)
        c = np.asarray(view.contours[e], float).reshape(-1, 2)
        (self.contour,) = ax.plot(c[:, 0], c[:, 1], color="#111111", linewidth=1.6, zorder=2)
        shown = (np.asarray(view.inputs)[:, :2] if view.sample_positions is None
                 else view.sample_positions[e])
        self.samples = _class_markers(ax, shown, masks, theme,
                                      size=3.2, edge_shade=0.45, edge_width=0.3, zorder=3)
        _fix_limits(ax, view.xlim, view.ylim)
        if colorbar and self._class_lut is not None:
            k = view.n_classes
            grey = LinearSegmentedColormap.from_list("replay_certainty",
                                                     ["#ffffff", theme.muted])
            mappable = ScalarMappable(Normalize(1.0 / k, 1.0), grey)
            bar = ax.figure.colorbar(mappable, ax=ax, fraction=0.06, pad=0.02, aspect=25,
                                     ticks=[1.0 / k, 1.0])
            bar.outline.set_edgecolor(theme.spine)
            bar.ax.tick_params(colors=theme.spine, labelcolor=theme.muted, labelsize=_TICK,
                               length=2, pad=1)
            bar.ax.set_yticklabels([f"1/{k}", "1"])
            bar.set_label("P(winner)", color=theme.muted, fontsize=_TICK, labelpad=-2)
        elif colorbar:
            mappable = ScalarMappable(Normalize(0.0, 1.0), probability_colormap())
            bar = ax.figure.colorbar(mappable, ax=ax, fraction=0.06, pad=0.02, aspect=25,
                                     ticks=[0.0, 0.5, 1.0])
            bar.outline.set_edgecolor(theme.spine)
            bar.ax.tick_params(colors=theme.spine, labelcolor=theme.muted, labelsize=_TICK,
                               length=2, pad=1)
            bar.ax.set_yticklabels(["0", ".5", "1"])
        # The spines go last: the image would otherwise cover their inner half.
        self.dynamic = [self.image, self.contour, *self.samples, *ax.spines.values()]
        self.epoch = e

    def rgba(self, epoch: int) -> np.ndarray:
        """(G, G, 4) uint8 colours of ``probabilities[epoch]`` (row 0 = lowest y)."""
        if self._class_lut is not None:
            return class_regions_rgba(self._class_lut, self.view.winners[epoch],
                                      self.view.probabilities[epoch])
        p = np.nan_to_num(np.asarray(self.view.probabilities[epoch], float), nan=0.5)
        return _LUT[np.rint(np.clip(p, 0.0, 1.0) * 255.0).astype(np.intp)]

    def _set(self, epoch: int) -> None:
        self.image.set_data(self.rgba(epoch))
        c = np.asarray(self.view.contours[epoch], float).reshape(-1, 2)
        self.contour.set_data(c[:, 0], c[:, 1])
        if self.view.sample_positions is not None:  # a latent space: the samples move
            xy = self.view.sample_positions[epoch]
            for line, mask in zip(self.samples, self._masks):
                line.set_data(xy[mask, 0], xy[mask, 1])


def _stairs(ax: Axes, values, edges, baseline, **kw):
    return ax.stairs(values, edges, baseline=baseline, fill=True, **kw)


class ProbabilityHistogramArtists(_ViewArtists):
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

    def __init__(self, ax_neg: Axes, ax_pos: Axes, view: ProbabilityHistogramView, epoch: int,
                 theme: Theme) -> None:
        self.ax_neg, self.ax_pos, self.view = ax_neg, ax_pos, view
        self.n_epochs = view.negatives_correct.shape[0] - 1
        e = _check_epoch(epoch, self.n_epochs)
        edges = np.asarray(view.bin_edges, float)
        self._edges = edges
        top = _hist_top(view.ymax)
        wrong_kw = dict(facecolor=theme.wrong, edgecolor=theme.wrong, hatchcolor=theme.hatch,
                        hatch="////", linewidth=0.0, zorder=2)
        made = []
        for ax, title, colour, correct, wrong in (
                (ax_neg, "P(y=1) — negatives", theme.class0, view.negatives_correct,
                 view.negatives_wrong),
                (ax_pos, "P(y=1) — positives", theme.class1, view.positives_correct,
                 view.positives_wrong)):
            _style_axes(ax, theme, title)
            ax.axvline(0.5, color=theme.muted, linestyle=(0, (4, 3)), linewidth=1.0, zorder=3)
            c = np.asarray(correct[e], float)
            bars_c = _stairs(ax, c, edges, 0.0, facecolor=colour, edgecolor=colour,
                             linewidth=0.0, zorder=1)
            bars_w = _stairs(ax, c + wrong[e], edges, c, **wrong_kw)
            _fix_limits(ax, (edges[0], edges[-1]), (0.0, top))
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


FUTURE_CURVES = ("faint", "hidden", "full")
"""How the loss panel draws the epochs after the one shown: faintly, not at all, or as
drawn up to it (the whole run at once, which gives the ending away)."""


class LossAndMetricArtists(_ViewArtists):
    """Loss (left axis) and accuracy (right axis, 0..1) over epochs, current epoch marked.

    The curves grow with the epoch shown, as in DeepReplay's animation: drawn up to it,
    and after it faintly (``future="faint"``, the default), not at all (``"hidden"``) or
    in full (``"full"``). Training is a solid line, validation a dashed one; the title
    says so, so no legend lies over the curves.

    Attributes
    ----------
    ax : loss Axes; twin : accuracy Axes (``ax.twinx()``).
    curves : dict "loss", "accuracy", "val_loss", "val_accuracy" -> Line2D drawn up to
        the current epoch (the validation ones only when the view has them).
    marker : vertical Line2D at the current epoch; loss_dot, accuracy_dot : Line2D dots.
    dynamic : every artist ``update`` changes.

    Example
    -------
    >>> artists = draw_loss_and_metric(ax, views.loss_and_metric, 0)   # doctest: +SKIP
    >>> artists.curves["loss"].get_xdata()                              # doctest: +SKIP
    array([0.])
    """

    def __init__(self, ax: Axes, view: LossAndMetricView, epoch: int, theme: Theme,
                 events: Sequence[Event] = (), future: str = "faint") -> None:
        if future not in FUTURE_CURVES:
            raise ValueError(f"future must be one of {', '.join(FUTURE_CURVES)}, "
                             f"got {future!r}")
        self.ax, self.view, self.future = ax, view, future
        self.n_epochs = len(view.epochs) - 1
        e = _check_epoch(epoch, self.n_epochs)
        validation = view.val_loss is not None or view.val_accuracy is not None
        _style_axes(ax, theme, "Loss & accuracy" + (" (dashed: validation)" if validation
                                                    else ""))
        self.twin = twin = ax.twinx()
        _style_axes(twin, theme)
        self._epochs = epochs = np.asarray(view.epochs, float)
        series = [("loss", ax, view.loss, theme.loss, 1.5, "-"),
                  ("accuracy", twin, view.accuracy, theme.accuracy, 1.5, "-")]
        if view.val_loss is not None:
            series.append(("val_loss", ax, view.val_loss, theme.loss, 1.2, (0, (4, 2))))
        if view.val_accuracy is not None:
            series.append(("val_accuracy", twin, view.val_accuracy, theme.accuracy, 1.2,
                           (0, (4, 2))))
        self._values = {name: np.asarray(values, float) for name, _, values, *_ in series}
        self.curves: dict[str, Line2D] = {}
        for name, axes, values, colour, width, style in series:
            # Accuracy often reaches 1.0, the top of its axis: unclipped, the line stays whole.
            clip = axes is ax
            if future != "hidden":
                axes.plot(epochs, values, color=colour, linewidth=width, linestyle=style,
                          zorder=2, clip_on=clip, alpha=0.22 if future == "faint" else 1.0)
            (self.curves[name],) = axes.plot(epochs[: e + 1], values[: e + 1], color=colour,
                                             linewidth=width, linestyle=style, zorder=3,
                                             clip_on=clip)
        ax.set_xlabel("epoch", labelpad=1)
        ax.set_ylabel("loss", color=theme.loss, labelpad=2)
        twin.set_ylabel("accuracy", color=theme.accuracy, labelpad=2)
        ax.tick_params(axis="y", labelcolor=theme.loss)
        twin.tick_params(axis="y", labelcolor=theme.accuracy)
        twin.spines["right"].set_color(theme.accuracy)
        _fix_limits(ax, (0.0, float(max(self.n_epochs, 1))), view.loss_ylim)
        _fix_limits(twin, (0.0, float(max(self.n_epochs, 1))), (0.0, 1.0))
        # The twin sits on top of ax and hides ax's patch; keep ax's curves visible.
        twin.patch.set_visible(False)
        _draw_event_marks(ax, events, theme)
        self.marker = ax.axvline(e, color=theme.current, linewidth=1.3, zorder=4)
        (self.loss_dot,) = ax.plot([e], [view.loss[e]], marker="o", markersize=5,
                                   color=theme.loss, markeredgecolor=theme.background,
                                   markeredgewidth=0.8, zorder=5, clip_on=False)
        (self.accuracy_dot,) = twin.plot([e], [view.accuracy[e]], marker="o", markersize=5,
                                         color=theme.accuracy,
                                         markeredgecolor=theme.background,
                                         markeredgewidth=0.8, zorder=5, clip_on=False)
        self.dynamic = [*self.curves.values(), self.marker, self.loss_dot, self.accuracy_dot]
        self.epoch = e

    def _set(self, epoch: int) -> None:
        shown = self._epochs[: epoch + 1]
        for name, line in self.curves.items():
            line.set_data(shown, self._values[name][: epoch + 1])
        self.marker.set_xdata([epoch, epoch])
        self.loss_dot.set_data([epoch], [self.view.loss[epoch]])
        self.accuracy_dot.set_data([epoch], [self.view.accuracy[epoch]])


def _draw_event_marks(ax: Axes, events: Sequence[Event], theme: Theme) -> None:
    """The run's events on the loss panel, static (they go into the cached background):
    a triangle along the top and a dotted line per major event, a short tick along the
    bottom for each new low of misclassified samples."""
    on_x = ax.get_xaxis_transform()  # x in epochs, y in axes fraction
    major = sorted({e.epoch for e in events if e.major})
    minor = sorted({e.epoch for e in events if not e.major} - set(major))
    if minor:
        ax.vlines(minor, 0.0, 0.035, transform=on_x, colors=theme.muted, linewidths=0.8,
                  zorder=3)
    if major:
        ax.vlines(major, 0.0, 1.0, transform=on_x, colors=theme.muted, linewidths=0.8,
                  linestyles=(0, (1, 2)), alpha=0.8, zorder=1)
        ax.plot(major, [0.985] * len(major), transform=on_x, linestyle="none", marker="v",
                markersize=6, color=theme.text, markeredgecolor=theme.background,
                markeredgewidth=0.6, zorder=6, clip_on=False)


class LossHistogramArtists(_ViewArtists):
    """Histogram of the per-sample loss, positives stacked on the negatives.

    Attributes
    ----------
    ax : the Axes drawn on.
    negatives, positives : StepPatch bars; ``negatives.get_data().values`` holds the
        negatives' counts, ``positives`` sits on them (baseline = negatives' counts).
    dynamic : every artist ``update`` changes.

    Example
    -------
    >>> artists = draw_loss_histogram(ax, views.loss_histogram, 0)   # doctest: +SKIP
    """

    def __init__(self, ax: Axes, view: LossHistogramView, epoch: int, theme: Theme) -> None:
        self.ax, self.view = ax, view
        self.n_epochs = view.negatives.shape[0] - 1
        e = _check_epoch(epoch, self.n_epochs)
        self._edges = edges = np.asarray(view.bin_edges, float)
        _style_axes(ax, theme, "Loss per sample")
        ax.set_xlabel("binary cross-entropy", labelpad=1)
        ax.set_ylabel("samples", labelpad=2)
        neg = np.asarray(view.negatives[e], float)
        self.negatives = _stairs(ax, neg, edges, 0.0, facecolor=theme.class0,
                                 edgecolor=theme.class0, linewidth=0.0, zorder=1)
        self.positives = _stairs(ax, neg + view.positives[e], edges, neg,
                                 facecolor=theme.class1, edgecolor=theme.class1, linewidth=0.0,
                                 zorder=1)
        _fix_limits(ax, (edges[0], edges[-1]), (0.0, _hist_top(view.ymax)))
        self.dynamic = [self.negatives, self.positives]
        self.epoch = e

    def _set(self, epoch: int) -> None:
        neg = np.asarray(self.view.negatives[epoch], float)
        self.negatives.set_data(neg, self._edges, 0.0)
        self.positives.set_data(neg + self.view.positives[epoch], self._edges, neg)


class ClassProbabilityHistogramArtists(_ViewArtists):
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

    def __init__(self, ax_hist: Axes, ax_conf: Axes, view: ClassProbabilityHistogramView,
                 confusion: ConfusionView | None, epoch: int, theme: Theme) -> None:
        self.ax_hist, self.ax_conf, self.view, self.confusion = ax_hist, ax_conf, view, confusion
        self.n_epochs = view.correct.shape[0] - 1
        e = _check_epoch(epoch, self.n_epochs)
        k = view.n_classes
        self._edges = edges = np.asarray(view.bin_edges, float)
        self._scale = 0.9 / _hist_top(view.ymax)
        self.offsets = np.arange(k)[::-1].astype(float)
        _style_axes(ax_hist, theme, "P(true class) per class")
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
        ax_hist.set_yticks(self.offsets + 0.45, [f"class {c}" for c in range(k)])
        _fix_limits(ax_hist, (edges[0], edges[-1]), (-0.05, k))
        self.dynamic = [*self.correct, *self.wrong]
        self.matrix, self.cells = None, []
        if confusion is not None:
            self._draw_confusion(ax_conf, confusion, e, theme)
        else:
            _draw_note(ax_conf, "Confusion matrix", "", theme, 200)
        self.epoch = e

    def _heights(self, c: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(self.view.correct[epoch, c], float) * self._scale,
                np.asarray(self.view.wrong[epoch, c], float) * self._scale)

    def _draw_confusion(self, ax: Axes, confusion: ConfusionView, epoch: int,
                        theme: Theme) -> None:
        k = confusion.n_classes
        _style_axes(ax, theme, "Confusion matrix")
        self._cmap = LinearSegmentedColormap.from_list("replay_confusion",
                                                       [theme.background, theme.muted])
        self.matrix = ax.imshow(self._shares(epoch), cmap=self._cmap, vmin=0.0, vmax=1.0,
                                origin="upper", interpolation="nearest", aspect="auto",
                                extent=(-0.5, k - 0.5, k - 0.5, -0.5), zorder=0)
        size = _TICK if k <= 4 else _TICK - 1
        self._text_colours = (theme.text, theme.background)
        self.cells = [ax.text(j, i, "", ha="center", va="center", fontsize=size, zorder=1)
                      for i in range(k) for j in range(k)]
        self._fill_cells(epoch)
        ticks = list(range(k))
        ax.set_xticks(ticks, [str(c) for c in ticks])
        ax.set_yticks(ticks, [str(c) for c in ticks])
        ax.set_xlabel("predicted class", labelpad=1)
        ax.set_ylabel("true class", labelpad=1)
        _fix_limits(ax, (-0.5, k - 0.5), (k - 0.5, -0.5))
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


class ClassLossHistogramArtists(_ViewArtists):
    """For a k-class run: histogram of the per-sample categorical cross-entropy, the
    classes stacked in order.

    Attributes
    ----------
    ax : the Axes drawn on; bars : per class, a StepPatch whose baseline is the sum of
        the classes below it.
    dynamic : every artist ``update`` changes.
    """

    def __init__(self, ax: Axes, view: ClassLossHistogramView, epoch: int,
                 theme: Theme) -> None:
        self.ax, self.view = ax, view
        self.n_epochs = view.counts.shape[0] - 1
        e = _check_epoch(epoch, self.n_epochs)
        self._edges = edges = np.asarray(view.bin_edges, float)
        _style_axes(ax, theme, "Loss per sample")
        ax.set_xlabel("categorical cross-entropy", labelpad=1)
        ax.set_ylabel("samples", labelpad=2)
        self.bars = []
        for colour, (top, base) in zip(class_colours(theme, view.n_classes), self._stack(e)):
            self.bars.append(_stairs(ax, top, edges, base, facecolor=colour, edgecolor=colour,
                                     linewidth=0.0, zorder=1))
        _fix_limits(ax, (edges[0], edges[-1]), (0.0, _hist_top(view.ymax)))
        self.dynamic = list(self.bars)
        self.epoch = e

    def _stack(self, epoch: int) -> list[tuple[np.ndarray, np.ndarray]]:
        counts = np.asarray(self.view.counts[epoch], float)
        tops = np.cumsum(counts, axis=0)
        return [(tops[c], tops[c] - counts[c]) for c in range(len(counts))]

    def _set(self, epoch: int) -> None:
        for bars, (top, base) in zip(self.bars, self._stack(epoch)):
            bars.set_data(top, self._edges, base)


def draw_feature_space(ax: Axes, view: FeatureSpaceView, epoch: int, *,
                       theme: str | Theme = "light") -> FeatureSpaceArtists:
    """Draw one epoch of the feature space: bent grid (grey), samples by class, boundary.

    Returns the artists; ``update(epoch)`` moves them to another epoch.
    """
    return FeatureSpaceArtists(ax, view, epoch, _theme(theme))


def draw_decision_boundary(ax: Axes, view: DecisionBoundaryView, epoch: int, *,
                           theme: str | Theme = "light",
                           colorbar: bool = True) -> DecisionBoundaryArtists:
    """Draw one epoch of the probability map, its 0.5 contour and the samples on top."""
    return DecisionBoundaryArtists(ax, view, epoch, _theme(theme), colorbar=colorbar)


def draw_probability_histogram(
        ax_neg: Axes, ax_pos: Axes,
        view: ProbabilityHistogramView | ClassProbabilityHistogramView, epoch: int, *,
        theme: str | Theme = "light", confusion: ConfusionView | None = None,
) -> ProbabilityHistogramArtists | ClassProbabilityHistogramArtists:
    """Draw one epoch of the P(y=1) histograms of negatives and positives (threshold 0.5).

    For a k-class view: the P(true class) bands on ``ax_neg`` and ``confusion`` (the
    run's ``ReplayViews.confusion``) on ``ax_pos``.
    """
    if isinstance(view, ClassProbabilityHistogramView):
        return ClassProbabilityHistogramArtists(ax_neg, ax_pos, view, confusion, epoch,
                                                _theme(theme))
    return ProbabilityHistogramArtists(ax_neg, ax_pos, view, epoch, _theme(theme))


def draw_loss_and_metric(ax: Axes, view: LossAndMetricView, epoch: int, *,
                         theme: str | Theme = "light", events: Sequence[Event] = (),
                         future: str = "faint") -> LossAndMetricArtists:
    """Draw loss (left) and accuracy (twin right axis, 0..1) up to ``epoch`` with a marker
    there (later epochs as ``future`` says: "faint", "hidden" or "full") and the run's
    ``events`` (``ReplayViews.events.events``) marked along the epochs."""
    return LossAndMetricArtists(ax, view, epoch, _theme(theme), events, future)


def draw_loss_histogram(ax: Axes, view: LossHistogramView | ClassLossHistogramView, epoch: int,
                        *, theme: str | Theme = "light",
                        ) -> LossHistogramArtists | ClassLossHistogramArtists:
    """Draw one epoch of the per-sample loss histogram (negatives, positives stacked; the
    k classes stacked for a k-class view)."""
    if isinstance(view, ClassLossHistogramView):
        return ClassLossHistogramArtists(ax, view, epoch, _theme(theme))
    return LossHistogramArtists(ax, view, epoch, _theme(theme))


def _draw_note(ax: Axes, title: str, note: str, theme: Theme, width_px: float) -> None:
    """An empty panel that says why it is empty, wrapped to the panel's width."""
    _style_axes(ax, theme, title)
    ax.set_xticks([])
    ax.set_yticks([])
    fontsize = _LABEL + 1
    char_px = fontsize * ax.figure.dpi / 72.0 * 0.55
    text = textwrap.fill(note or f"{title}: not available for this run.",
                         width=max(16, int(width_px * 0.85 / char_px)))
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
            color=theme.muted, fontsize=fontsize, linespacing=1.4)


def _grid_shape(n_cells: int) -> tuple[int, int]:
    return {1: (1, 1), 2: (1, 2), 3: (1, 3), 4: (2, 2)}.get(n_cells,
                                                           (2, max(3, -(-n_cells // 2))))


def _panels(panels: Sequence[str] | None) -> tuple[str, ...]:
    if panels is None:
        return DEFAULT_LAYOUT
    if isinstance(panels, str):
        panels = (panels,)
    names = tuple(panels)
    unknown = [p for p in names if p not in PANELS]
    if unknown:
        raise ValueError(f"unknown panel {unknown[0]!r}; choose from {', '.join(PANELS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"panels must not repeat a name, got {list(names)}")
    if not names:
        raise ValueError(f"panels must name at least one of {', '.join(PANELS)}")
    return names


def _size(size: Sequence[int]) -> tuple[int, int]:
    try:
        w, h = (operator.index(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (width, height) in pixels, got {size!r}") from None
    if w < 80 or h < 60:
        raise ValueError(f"size must be at least 80x60 pixels, got {w}x{h}")
    return w, h


class FrameOutput:
    """Frame output shared by the renderers: ``update``, ``rgb``, ``png``, ``jpeg``.

    A subclass provides ``size``, ``figure``, ``canvas``, a ``_lock``, the title and the
    ``_moving`` artists, ``_background = None`` and ``_render(epoch)``, which leaves the
    frame of ``epoch`` in the canvas.
    """

    def _ensure_background(self) -> None:
        if self._background is not None:
            return
        for artist in [*self._moving, self._title]:
            artist.set_animated(True)
        self.canvas.draw()
        # The layout is computed once; later draws must not move the axes under the cache.
        self.figure.set_layout_engine("none")
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)

    def _image(self):
        from PIL import Image

        w, h = self.size
        # Pillow drops the alpha byte in C; numpy's [..., :3] copy is ~20x slower.
        return Image.frombytes("RGB", (w, h), self.canvas.buffer_rgba(), "raw", "RGBX")

    def update(self, epoch: int) -> None:
        """Move every panel to ``epoch`` and render it into the canvas."""
        with self._lock:
            self._render(epoch)

    def rgb(self, epoch: int) -> np.ndarray:
        """The frame of ``epoch`` as an (height, width, 3) uint8 array."""
        with self._lock:
            self._render(epoch)
            return np.array(self._image())

    def png(self, epoch: int) -> bytes:
        """The frame of ``epoch`` as PNG bytes."""
        with self._lock:
            self._render(epoch)
            out = io.BytesIO()
            self._image().save(out, format="PNG", compress_level=1)
        return out.getvalue()

    def jpeg(self, epoch: int, quality: int = 85) -> bytes:
        """The frame of ``epoch`` as JPEG bytes (4:4:4, so thin coloured lines stay sharp)."""
        with self._lock:
            self._render(epoch)
            out = io.BytesIO()
            self._image().save(out, format="JPEG", quality=int(quality), subsampling=0)
        return out.getvalue()



class FrameRenderer(FrameOutput):
    """All panels of a run in one figure, rendered per epoch by updating artists only.

    The figure, axes, ticks, labels, titles and static curves are drawn once into a
    cached background; each frame restores it and draws only the artists that move
    (Agg blitting). Axes limits are fixed from the views, so the background stays valid
    for every epoch. Thread-safe: one lock guards the figure.

    Parameters
    ----------
    views : the run's views (all epochs).
    size : (width, height) of every frame in pixels.
    dpi : dots per inch; text and line sizes are in points, so a higher dpi makes them
        larger in the frame (1920x1080 at dpi=150 looks like 1280x720 at dpi=100).
    theme : "light" or "dark" (background #0e1117, like Streamlit's dark theme).
    panels : ordered subset of :data:`PANELS` laid out on a grid in that order
        ("probability_histogram" takes two cells); None = all five, 2 rows x 3 columns.
    narration : a line under the panels with the epoch's plain-language sentence
        (``replay.narration``; needs ``views.events``).
    future_curves : how the loss panel draws the epochs after the one shown, one of
        :data:`FUTURE_CURVES` ("faint" by default).

    Attributes
    ----------
    figure : the Figure (once a frame is rendered its moving artists are *animated* and
        ``figure.savefig`` leaves them out; use :meth:`png` or :func:`compose` for a file).
    artists : dict panel name -> ``*Artists`` object (absent for panels shown as notes).
    axes : dict panel name -> Axes (a pair for "probability_histogram").
    n_epochs, views, size, theme.

    Example
    -------
    >>> renderer = FrameRenderer(views, size=(1280, 720), theme="dark")   # doctest: +SKIP
    >>> renderer.rgb(80).shape                                            # doctest: +SKIP
    (720, 1280, 3)
    >>> open("epoch80.jpg", "wb").write(renderer.jpeg(80))                # doctest: +SKIP
    """

    def __init__(self, views: ReplayViews, *, size: Sequence[int] = (1280, 720),
                 dpi: float = 100, theme: str | Theme = "light",
                 panels: Sequence[str] | None = None, narration: bool = False,
                 future_curves: str = "faint") -> None:
        self.views = views
        self.future_curves = future_curves
        self.n_epochs = int(views.n_epochs)
        self.size = _size(size)
        if not dpi or dpi <= 0:
            raise ValueError(f"dpi must be positive, got {dpi!r}")
        self.theme = _theme(theme)
        self.panels = _panels(panels)
        self._lock = threading.Lock()
        self._background = None
        self._shown: int | None = None
        self.figure = self._build_figure(float(dpi))
        self.canvas = FigureCanvasAgg(self.figure)
        self._check_pixels()
        self.artists: dict[str, _ViewArtists] = {}
        self.axes: dict[str, Axes | tuple[Axes, Axes]] = {}
        self._build_panels()
        self._moving: list[Artist] = [a for art in self.artists.values() for a in art.dynamic]
        self._sentences: list[str] = []
        if narration and views.events is not None:
            self._add_narration_line()
        self._title = self.figure.suptitle(self._title_text(self.n_epochs), color=self.theme.text,
                                           fontsize=_SUPTITLE, fontweight="bold")
        # Rendering text costs ~4 ms a frame; each epoch's title is rendered once and kept
        # as pixels (a few kB each).
        self._title_pixels: dict[int, object] = {}
        self._epoch = self.n_epochs
        self._header()

    # --- construction -------------------------------------------------------------------
    def _build_figure(self, dpi: float) -> Figure:
        w, h = self.size
        fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi, facecolor=self.theme.background,
                     layout="constrained")
        fig.get_layout_engine().set(w_pad=6 / dpi, h_pad=6 / dpi, wspace=0.03, hspace=0.06)
        return fig

    def _check_pixels(self) -> None:
        # Agg truncates width*dpi/dpi; nudge the inches so the canvas is exactly size.
        w, h = self.size
        dpi = self.figure.dpi
        if self.canvas.get_width_height() != (w, h):
            self.figure.set_size_inches((w + 0.25) / dpi, (h + 0.25) / dpi)
        if self.canvas.get_width_height() != (w, h):
            raise ValueError(f"cannot make a {w}x{h} canvas at dpi {dpi}")

    def _build_panels(self) -> None:
        cells: list[tuple[str, int]] = []
        for name in self.panels:
            cells.extend([(name, 0), (name, 1)] if name == "probability_histogram"
                         else [(name, 0)])
        nrows, ncols = _grid_shape(len(cells))
        grid = self.figure.add_gridspec(nrows, ncols)
        cell_axes: dict[tuple[str, int], Axes] = {}
        for i, key in enumerate(cells):
            cell_axes[key] = self.figure.add_subplot(grid[i // ncols, i % ncols])
        width_px = self.size[0] / ncols
        views, theme, e = self.views, self.theme, self.n_epochs
        for name in self.panels:
            ax = cell_axes[(name, 0)]
            if name == "feature_space":
                self.axes[name] = ax
                if views.feature_space is None:
                    _draw_note(ax, "Feature space", views.feature_space_note, theme, width_px)
                else:
                    self.artists[name] = FeatureSpaceArtists(ax, views.feature_space, e, theme)
            elif name == "decision_boundary":
                self.axes[name] = ax
                if views.decision_boundary is None:
                    _draw_note(ax, "Decision boundary", views.decision_boundary_note, theme,
                               width_px)
                else:
                    self.artists[name] = DecisionBoundaryArtists(ax, views.decision_boundary,
                                                                 e, theme)
            elif name == "probability_histogram":
                ax_pos = cell_axes[(name, 1)]
                self.axes[name] = (ax, ax_pos)
                if isinstance(views.probability_histogram, ClassProbabilityHistogramView):
                    self.artists[name] = ClassProbabilityHistogramArtists(
                        ax, ax_pos, views.probability_histogram, views.confusion, e, theme)
                else:
                    self.artists[name] = ProbabilityHistogramArtists(
                        ax, ax_pos, views.probability_histogram, e, theme)
            elif name == "loss_and_metric":
                self.axes[name] = ax
                self.artists[name] = LossAndMetricArtists(
                    ax, views.loss_and_metric, e, theme,
                    views.events.events if views.events is not None else (),
                    self.future_curves)
            elif name == "landscape":
                from replay_core.render.landscape import LandscapeArtists

                self.axes[name] = ax
                if views.landscape is None:
                    _draw_note(ax, "Loss landscape", "The loss landscape was not computed "
                               "for these views (replay.landscape.with_landscape adds it).",
                               theme, width_px)
                else:
                    self.artists[name] = LandscapeArtists(ax, views.landscape, e, theme)
            else:
                self.axes[name] = ax
                if isinstance(views.loss_histogram, ClassLossHistogramView):
                    self.artists[name] = ClassLossHistogramArtists(ax, views.loss_histogram,
                                                                   e, theme)
                else:
                    self.artists[name] = LossHistogramArtists(ax, views.loss_histogram, e,
                                                              theme)

    def _header(self) -> None:
        """Run name on the left and the class legend on the right of the title row."""
        theme = self.theme
        self.figure.text(0.008, 0.985, self.views.run_name, ha="left", va="top",
                         color=theme.muted, fontsize=_LABEL + 1)
        handles = [
            Line2D([], [], linestyle="none", marker="o", markersize=6,
                   markerfacecolor=colour, markeredgecolor=colour, label=f"class {c}")
            for c, colour in enumerate(class_colours(theme, self.views.n_classes))
        ]
        if "probability_histogram" in self.panels:
            handles.append(Patch(facecolor=theme.wrong, edgecolor=theme.wrong, hatch="////",
                                 hatchcolor=theme.hatch, linewidth=0.0, label="misclassified"))
        legend = self.figure.legend(handles=handles, loc="upper right",
                                    bbox_to_anchor=(0.995, 0.998), ncols=len(handles),
                                    frameon=False, fontsize=_LABEL, handletextpad=0.3,
                                    columnspacing=1.2, borderaxespad=0.0, handlelength=1.2)
        legend.set_in_layout(False)
        for text in legend.get_texts():
            text.set_color(theme.muted)

    def _title_text(self, epoch: int) -> str:
        return f"Epoch {epoch} / {self.n_epochs}"

    def _add_narration_line(self) -> None:
        """A text line under the panels that ``_set_epoch`` fills with each epoch's
        sentence, wrapped to the frame's width; the layout keeps room for the longest."""
        width_pt = self.size[0] / self.figure.dpi * 72
        chars = max(40, int(width_pt / (_LABEL * 0.52)))
        self._sentences = [textwrap.fill(s, chars) for s in epoch_sentences(self.views.events)]
        longest = max(self._sentences, key=lambda s: s.count("\n"))
        self._narration = self.figure.supxlabel(longest, color=self.theme.text,
                                                fontsize=_LABEL, ha="center", va="bottom")
        self._moving.append(self._narration)

    # --- per frame ----------------------------------------------------------------------
    def _set_epoch(self, epoch: int) -> None:
        for artists in self.artists.values():
            artists.update(epoch)
        self._title.set_text(self._title_text(epoch))
        if self._sentences:
            self._narration.set_text(self._sentences[epoch])
        self._epoch = epoch

    def _render(self, epoch: int) -> None:
        e = _check_epoch(epoch, self.n_epochs)
        self._ensure_background()
        if self._shown == e:
            return
        self._set_epoch(e)
        self.canvas.restore_region(self._background)
        self._draw_title(e)
        for artist in self._moving:
            self.figure.draw_artist(artist)
        self._shown = e

    def _draw_title(self, epoch: int) -> None:
        # Drawn first, onto the bare background, so its cached pixels hold nothing else.
        pixels = self._title_pixels.get(epoch)
        if pixels is not None:
            self.canvas.restore_region(pixels)
            return
        self.figure.draw_artist(self._title)
        box = self._title.get_window_extent(self.canvas.get_renderer()).padded(3)
        box = Bbox.intersection(box, self.figure.bbox)
        if box is not None:
            self._title_pixels[epoch] = self.canvas.copy_from_bbox(box)


def compose(views: ReplayViews, epoch: int, **kw) -> Figure:
    """A normal, fully drawn Figure of every panel at ``epoch`` (for notebooks, ``savefig``).

    Keyword arguments are those of :class:`FrameRenderer` (size, dpi, theme, panels).

    Example
    -------
    >>> compose(views, 80, theme="dark").savefig("epoch80.png")   # doctest: +SKIP
    """
    renderer = FrameRenderer(views, **kw)
    e = _check_epoch(epoch, renderer.n_epochs)
    renderer._set_epoch(e)
    return renderer.figure
