"""Panels in a plane: the feature space (a hidden layer's outputs, the bent input grid and
the output's boundary) and the decision boundary (probability map, 0.5 contour, samples).

Each ``*Artists`` class draws one epoch of its view on an Axes, fixes the limits from the
view and moves only its artists' data in ``update(epoch)`` (see
:class:`~replay_core.render.canvas.PanelArtists`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import LinearSegmentedColormap, Normalize, to_rgb
from matplotlib.lines import Line2D

from replay_core.render.canvas import ViewArtists, check_epoch
from replay_core.render.style import (
    TICK,
    Theme,
    class_colours,
    class_lut,
    class_masks,
    class_regions_rgba,
    fix_limits,
    probability_colormap,
    probability_rgba,
    style_axes,
    style_colorbar,
)
from replay_core.replay.views import DecisionBoundaryView, FeatureSpaceView

__all__ = ["DecisionBoundaryArtists", "FeatureSpaceArtists"]


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


class FeatureSpaceArtists(ViewArtists):
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
        e = check_epoch(epoch, self.n_epochs)
        self._masks = class_masks(view.targets)
        title = f"Feature space ({view.layer_name})"
        if view.projection_label:
            title += f"\n{view.projection_label}"
        style_axes(ax, theme, title)
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
        fix_limits(ax, view.xlim, view.ylim)
        self.dynamic = [self.grid, *self.samples, self.boundary]
        notes = [textwrap.fill(n, 44) for n in (view.boundary_note,
                                                 view.overflow_note) if n]
        if notes:
            # Redrawn every frame so the moving samples never cover it.
            note = ax.text(0.02, 0.02, "\n".join(notes),
                           transform=ax.transAxes, ha="left", va="bottom", color=theme.muted,
                           fontsize=TICK, zorder=4, linespacing=1.2,
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


class DecisionBoundaryArtists(ViewArtists):
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

    context = ("colorbar",)

    def __init__(self, ax: Axes, view: DecisionBoundaryView, epoch: int, theme: Theme, *,
                 colorbar: bool = True) -> None:
        self.ax, self.view = ax, view
        self.n_epochs = view.probabilities.shape[0] - 1
        e = check_epoch(epoch, self.n_epochs)
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
        style_axes(ax, theme, title)
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
        fix_limits(ax, view.xlim, view.ylim)
        if colorbar and self._class_lut is not None:
            k = view.n_classes
            grey = LinearSegmentedColormap.from_list("replay_certainty",
                                                     ["#ffffff", theme.muted])
            mappable = ScalarMappable(Normalize(1.0 / k, 1.0), grey)
            bar = ax.figure.colorbar(mappable, ax=ax, fraction=0.06, pad=0.02, aspect=25,
                                     ticks=[1.0 / k, 1.0])
            style_colorbar(bar, theme)
            bar.ax.set_yticklabels([f"1/{k}", "1"])
            bar.set_label("P(winner)", color=theme.muted, fontsize=TICK, labelpad=-2)
        elif colorbar:
            mappable = ScalarMappable(Normalize(0.0, 1.0), probability_colormap())
            bar = ax.figure.colorbar(mappable, ax=ax, fraction=0.06, pad=0.02, aspect=25,
                                     ticks=[0.0, 0.5, 1.0])
            style_colorbar(bar, theme)
            bar.ax.set_yticklabels(["0", ".5", "1"])
        # The spines go last: the image would otherwise cover their inner half.
        self.dynamic = [self.image, self.contour, *self.samples, *ax.spines.values()]
        self.epoch = e

    def rgba(self, epoch: int) -> np.ndarray:
        """(G, G, 4) uint8 colours of ``probabilities[epoch]`` (row 0 = lowest y)."""
        if self._class_lut is not None:
            return class_regions_rgba(self._class_lut, self.view.winners[epoch],
                                      self.view.probabilities[epoch])
        return probability_rgba(self.view.probabilities[epoch])

    def _set(self, epoch: int) -> None:
        self.image.set_data(self.rgba(epoch))
        c = np.asarray(self.view.contours[epoch], float).reshape(-1, 2)
        self.contour.set_data(c[:, 0], c[:, 1])
        if self.view.sample_positions is not None:  # a latent space: the samples move
            xy = self.view.sample_positions[epoch]
            for line, mask in zip(self.samples, self._masks):
                line.set_data(xy[mask, 0], xy[mask, 1])

