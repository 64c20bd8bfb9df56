"""Drawings of the layer internals: violins per layer, curves over epochs, the explainer.

DeepReplay's ``LayerViolins`` redrew a seaborn violin plot per frame with limits taken
from that frame's data; here the violins are polygons whose vertices move, on an axis
fixed across epochs (so a distribution that shrinks is seen shrinking), and the figure
is a :class:`~replay_core.render.canvas.FrameCanvas` (cached background, blitting), as every
renderer.

Panels (``INTERNALS_PANELS``):

- ``z``, ``activations``, ``weights``, ``gradients``: one violin per layer (its values over
  every training sample and unit, or every kernel entry), with its interquartile bar and
  median;
- ``weights_std``, ``gradients_std``: standard deviation per layer over epochs (log
  scale), a marker at the epoch shown (DeepReplay's ``weights_std`` / ``gradients_std``);
- ``health``: share of dead relu units and of saturated sigmoid/tanh units per layer;
- ``learning_rate``: the rate in force during each epoch;
- ``explainer``: a layer's activation function and its derivative, with that layer's
  z-values at the epoch shown as a histogram under the curves.

Example
-------
>>> inside = Internals.from_replay(replay).views()                      # doctest: +SKIP
>>> renderer = InternalsRenderer({replay.name: inside}, size=(1280, 560))   # doctest: +SKIP
>>> open("layers.png", "wb").write(renderer.png(40))                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from replay_core.errors import RenderError
from replay_core.render.canvas import FrameCanvas, ViewArtists, check_epoch, parse_names
from replay_core.render.style import (
    SUPTITLE,
    TICK,
    Theme,
    draw_note,
    fix_limits,
    mute_legend,
    short_label,
    style_axes,
)
from replay_core.replay.internals import (
    ActivationExplainerView,
    InternalsViews,
    LayerDistributionsView,
    LayerStatsView,
)

__all__ = [
    "COMPARE_PANELS",
    "DEFAULT_PANELS",
    "INTERNALS_PANELS",
    "ActivationExplainerArtists",
    "InternalsRenderer",
    "LayerCurvesArtists",
    "LayerViolinArtists",
    "compose_internals",
    "parse_internals_panels",
]

INTERNALS_PANELS = ("z", "activations", "weights", "gradients", "weights_std",
                    "gradients_std", "health", "learning_rate", "explainer")
"""Names of the panels an :class:`InternalsRenderer` can show."""
DEFAULT_PANELS = ("z", "activations", "weights", "gradients", "explainer",
                  "weights_std", "gradients_std", "health", "learning_rate")
"""The Replay page's layout: the four violins and the explainer, then the curves."""
COMPARE_PANELS = ("z", "activations", "weights", "gradients")
"""One row per run in a comparison, as the initializers article's figure."""

# One colour per layer, from the first hidden layer to the output (Okabe-Ito, then Tol).
LAYER_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
                 "#999933", "#AA4499")
_TITLES = {"weights_std": "Std of weights", "gradients_std": "Std of gradients",
           "health": "Dead / saturated units", "learning_rate": "Learning rate"}


def parse_internals_panels(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """Panel names from ``"z,gradients"`` or a sequence; ``"layers"`` means the default
    set; None gives the default set.

    Raises
    ------
    RenderError
        An unknown or repeated name (the message lists the known ones).
    """
    if text is None:
        return DEFAULT_PANELS
    return parse_names(text, INTERNALS_PANELS, noun="layer panel",
                       groups={"layers": DEFAULT_PANELS})


def _layer_colour(i: int) -> str:
    return LAYER_COLOURS[i % len(LAYER_COLOURS)]


class LayerViolinArtists(ViewArtists):
    """One violin per layer of a :class:`LayerDistributionsView`; vertices move per epoch.

    Attributes
    ----------
    ax : the Axes; bodies : one Polygon per layer; boxes : interquartile bars
        (LineCollection); medians : Line2D dots; dynamic : the artists that move.
    """

    def __init__(self, ax: Axes, view: LayerDistributionsView, epoch: int, theme: Theme,
                 title: str | None = None) -> None:
        self.ax, self.view = ax, view
        self.n_epochs = int(view.density.shape[0]) - 1
        e = check_epoch(epoch, self.n_epochs)
        n_layers = len(view.layer_names)
        style_axes(ax, theme, title or view.label)
        self._centres = 0.5 * (view.edges[:-1] + view.edges[1:])
        self.bodies = []
        for i in range(n_layers):
            colour = _layer_colour(i)
            body = Polygon(np.zeros((3, 2)), closed=True, facecolor=colour, alpha=0.55,
                           edgecolor=colour, linewidth=0.8)
            ax.add_patch(body)
            self.bodies.append(body)
        self.boxes = LineCollection([], colors=theme.text, linewidths=3.0, zorder=3)
        ax.add_collection(self.boxes)
        (self.medians,) = ax.plot([], [], linestyle="none", marker="o", markersize=3.5,
                                  color=theme.background, markeredgecolor=theme.text,
                                  markeredgewidth=0.6, zorder=4)
        ax.set_xticks(range(n_layers))
        ax.set_xticklabels([short_label(n) for n in view.layer_names], fontsize=TICK)
        ax.axhline(0.0, color=theme.spine, linewidth=0.6, zorder=0)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
        ax.yaxis.get_offset_text().set(color=theme.muted, fontsize=TICK)
        fix_limits(ax, (-0.6, n_layers - 0.4), view.ylim)
        self.dynamic: list[Artist] = [*self.bodies, self.boxes, self.medians]
        self._set(e)
        self.epoch = e

    def _set(self, epoch: int) -> None:
        v = self.view
        ys = self._centres
        for i, body in enumerate(self.bodies):
            d = v.density[epoch, i]
            nz = np.flatnonzero(d > 1e-3)
            if nz.size == 0:  # every value beyond the axis, or a constant: a thin bar
                lo, hi = np.clip(v.extremes[epoch, i], *v.ylim)
                body.set_xy([(i - 0.05, lo), (i + 0.05, lo), (i + 0.05, hi), (i - 0.05, hi)])
                continue
            sl = slice(nz[0], nz[-1] + 1)
            y, w = ys[sl], 0.42 * d[sl]
            body.set_xy(np.concatenate([np.column_stack([i + w, y]),
                                        np.column_stack([i - w[::-1], y[::-1]])]))
        q = v.quartiles[epoch]
        positions = np.arange(len(self.bodies), dtype=float)
        self.boxes.set_segments([[(x, a), (x, b)] for x, a, b in zip(positions, q[:, 0], q[:, 2])])
        self.medians.set_data(positions, q[:, 1])


class LayerCurvesArtists(ViewArtists):
    """Per-layer curves over epochs (static) with a marker at the epoch shown.

    ``quantity``: "weights_std", "gradients_std" (log scale), "health" (dead share solid,
    saturated share dashed, 0 to 1) or "learning_rate".
    """

    def __init__(self, ax: Axes, stats: LayerStatsView, quantity: str, epoch: int,
                 theme: Theme) -> None:
        self.ax, self.stats, self.quantity = ax, stats, quantity
        n_states = int(stats.weights_std.shape[0])
        self.n_epochs = n_states - 1
        e = check_epoch(epoch, self.n_epochs)
        style_axes(ax, theme, _TITLES[quantity])
        epochs = np.arange(n_states, dtype=float)
        names = stats.layer_names
        self.curves: list[np.ndarray] = []
        x_end = float(max(self.n_epochs, 1))
        if quantity in ("weights_std", "gradients_std"):
            data = stats.weights_std if quantity == "weights_std" else stats.gradients_std
            positive = data[np.isfinite(data) & (data > 0)]
            lo = float(positive.min()) if positive.size else 1e-8
            hi = float(positive.max()) if positive.size else 1.0
            ax.set_yscale("log")
            ax.tick_params(which="both", labelsize=TICK)
            for i, name in enumerate(names):
                y = np.where(data[:, i] > 0, data[:, i], np.nan)
                ax.plot(epochs, y, color=_layer_colour(i), linewidth=1.3,
                        label=short_label(name))
                self.curves.append(y)
            fix_limits(ax, (0.0, x_end), (lo / 1.5, hi * 1.5))
            mute_legend(ax.legend(fontsize=TICK - 1, frameon=False, ncols=2, loc="best",
                                  handlelength=1.2, columnspacing=0.8, labelspacing=0.2),
                        theme)
        elif quantity == "health":
            for i, name in enumerate(names):
                colour = _layer_colour(i)
                if np.isfinite(stats.dead_share[:, i]).any():
                    ax.plot(epochs, stats.dead_share[:, i], color=colour, linewidth=1.3,
                            label=f"{short_label(name)} dead")
                    self.curves.append(stats.dead_share[:, i])
                if np.isfinite(stats.saturated_share[:, i]).any():
                    ax.plot(epochs, stats.saturated_share[:, i], color=colour, linewidth=1.3,
                            linestyle=(0, (4, 2)),
                            label=f"{short_label(name)} saturated")
                    self.curves.append(stats.saturated_share[:, i])
            fix_limits(ax, (0.0, x_end), (-0.03, 1.03))
            ax.set_ylabel("share of units", labelpad=2)
            if self.curves:
                mute_legend(ax.legend(fontsize=TICK - 1, frameon=False, loc="best",
                                      handlelength=1.6, labelspacing=0.2), theme)
        else:
            lr = stats.learning_rate
            y = np.concatenate([[lr[0]], lr]) if lr is not None else np.full(n_states, np.nan)
            ax.step(epochs, y, where="pre", color=theme.loss, linewidth=1.3)
            self.curves.append(y)
            finite = y[np.isfinite(y)]
            top = float(finite.max()) if finite.size else 1.0
            fix_limits(ax, (0.0, x_end), (0.0, top * 1.15 if top > 0 else 1.0))
        ax.set_xlabel("epoch", labelpad=1)
        self.marker = ax.axvline(e, color=theme.current, linewidth=1.3, zorder=4)
        (self.dots,) = ax.plot([], [], linestyle="none", marker="o", markersize=4,
                               color=theme.current, zorder=5, clip_on=False)
        self.dynamic: list[Artist] = [self.marker, self.dots]
        self._set(e)
        self.epoch = e

    def _set(self, epoch: int) -> None:
        self.marker.set_xdata([epoch, epoch])
        ys = [c[epoch] for c in self.curves if np.isfinite(c[epoch])]
        self.dots.set_data([epoch] * len(ys), ys)


class ActivationExplainerArtists(ViewArtists):
    """f and f' of a layer's activation (static), the layer's z-values below (moving)."""

    def __init__(self, ax: Axes, view: ActivationExplainerView, epoch: int,
                 theme: Theme) -> None:
        self.ax, self.view = ax, view
        self.n_epochs = int(view.counts.shape[0]) - 1
        e = check_epoch(epoch, self.n_epochs)
        style_axes(ax, theme, f"{view.activation_name} of {short_label(view.layer_name, 16)}")
        self.twin = twin = ax.twinx()
        style_axes(twin, theme)
        twin.set_zorder(ax.get_zorder() - 1)  # the histogram under the curves
        ax.patch.set_visible(False)
        lo, hi = view.xlim
        if view.saturated_beyond is not None:
            s = view.saturated_beyond
            for a, b in ((lo, -s), (s, hi)):
                if b > a:
                    ax.axvspan(a, b, color=theme.wrong, alpha=0.08, linewidth=0)
            ax.text(0.99, 0.02, f"|z| > {s:g}: saturated", transform=ax.transAxes,
                    ha="right", va="bottom", color=theme.wrong, fontsize=TICK - 1)
        if view.dead_below is not None:
            ax.axvspan(lo, view.dead_below, color=theme.wrong, alpha=0.08, linewidth=0)
            ax.text(0.02, 0.5, "z < 0: no output,\nno gradient", transform=ax.transAxes,
                    ha="left", va="center", color=theme.wrong, fontsize=TICK - 1)
        ax.plot(view.xs, view.values, color=theme.loss, linewidth=1.6, label="f(z)")
        if view.derivative is not None:
            ax.plot(view.xs, view.derivative, color=theme.current, linewidth=1.4,
                    linestyle=(0, (4, 2)), label="f′(z)")
        mute_legend(ax.legend(fontsize=TICK - 1, frameon=False, loc="upper left",
                              handlelength=1.6), theme)
        ax.set_xlabel("z  (bars: z-values at this epoch)", labelpad=1)
        fix_limits(ax, view.xlim, view.ylim)
        fix_limits(twin, view.xlim, (0.0, max(view.ymax, 1.0) * 1.1))
        twin.set_yticks([])
        counts = view.counts[e]
        self.bars = twin.stairs(counts, view.edges, fill=True, color=theme.class1, alpha=0.3,
                                linewidth=0)
        self.dynamic: list[Artist] = [self.bars]
        self.epoch = e

    def _set(self, epoch: int) -> None:
        self.bars.set_data(self.view.counts[epoch], self.view.edges, 0.0)


def _grid(n_cells: int) -> tuple[int, int]:
    if n_cells <= 5:
        return 1, n_cells
    ncols = 5 if n_cells > 8 else 4
    return -(-n_cells // ncols), ncols


class InternalsRenderer(FrameCanvas):
    """Layer-internals panels of one run, or rows of 2-4 runs, rendered per epoch.

    Parameters
    ----------
    views_by_run : run name -> :class:`InternalsViews` (1 to 4 runs).
    panels : ordered subset of :data:`INTERNALS_PANELS` (one run: laid out on a grid;
        several runs: one row each); None = :data:`DEFAULT_PANELS` for one run,
        :data:`COMPARE_PANELS` for several.
    size, dpi, theme : as :class:`~replay_core.render.frame.FrameRenderer`.
    explain_layer : the layer of the ``explainer`` panel (the last hidden one when None).

    A run with fewer epochs than the longest is shown at its last epoch beyond it.
    """

    def __init__(self, views_by_run: Mapping[str, InternalsViews], *,
                 panels: Sequence[str] | None = None, size: Sequence[int] = (1280, 560),
                 dpi: float = 100, theme: str | Theme = "light",
                 explain_layer: str | None = None) -> None:
        if not 1 <= len(views_by_run) <= 4:
            raise RenderError(f"show 1 to 4 runs, got {len(views_by_run)}")
        self.views_by_run = dict(views_by_run)
        multi = len(self.views_by_run) > 1
        self.panels = parse_internals_panels(
            panels if panels is not None else (COMPARE_PANELS if multi else DEFAULT_PANELS))
        # Fixed margins, not a layout engine: with log axes, legends and twin axes the
        # constrained layout sometimes collapsed a column; these are the same every frame.
        super().__init__(size, dpi=dpi, theme=theme)
        self.n_epochs = max(v.n_epochs for v in self.views_by_run.values())
        self.explain_layer = explain_layer
        self.artists: dict[tuple[str, str], ViewArtists] = {}
        self._build(multi)
        self._title = self.figure.suptitle(self._title_text(self.n_epochs),
                                           color=self.theme.text, fontsize=SUPTITLE,
                                           fontweight="bold")

    def _build(self, multi: bool) -> None:
        runs = list(self.views_by_run.items())
        if multi:
            nrows, ncols = len(runs), len(self.panels)
        else:
            nrows, ncols = _grid(len(self.panels))
        w, h = self.size
        dpi = self.figure.dpi
        grid = self.figure.add_gridspec(
            nrows, ncols, left=70 / w * dpi / 100, right=1 - 25 / w * dpi / 100,
            top=1 - 56 / h * dpi / 100, bottom=48 / h * dpi / 100,
            wspace=0.42, hspace=0.55 if nrows > 1 else 0.2)
        width_px = self.size[0] / ncols
        for r, (run, views) in enumerate(runs):
            for c, panel in enumerate(self.panels):
                cell = (r, c) if multi else divmod(c, ncols)
                ax = self.figure.add_subplot(grid[cell[0], cell[1]])
                art = self._panel(ax, views, panel, width_px,
                                  title_prefix=f"{run}: " if multi else "")
                if art is not None:
                    self.artists[(run, panel)] = self._add_panel(art)

    def _panel(self, ax: Axes, views: InternalsViews, panel: str, width_px: float,
               title_prefix: str = ""):
        theme, e = self.theme, views.n_epochs
        if panel in ("z", "activations", "weights", "gradients"):
            view = views.distribution(panel)
            return LayerViolinArtists(ax, view, e, theme, title=title_prefix + view.label)
        if panel == "explainer":
            try:
                view = views.explainer(self.explain_layer)
            except ValueError as exc:
                draw_note(ax, "Activation", str(exc), theme, width_px)
                return None
            return ActivationExplainerArtists(ax, view, e, theme)
        stats = views.stats
        if panel == "learning_rate" and stats.learning_rate is None:
            draw_note(ax, _TITLES[panel], "This run stores no learning rate per epoch.",
                      theme, width_px)
            return None
        if panel == "health" and not (np.isfinite(stats.dead_share).any()
                                       or np.isfinite(stats.saturated_share).any()):
            draw_note(ax, _TITLES[panel], "No relu, sigmoid or tanh layer: no unit can die "
                      "or saturate.", theme, width_px)
            return None
        return LayerCurvesArtists(ax, stats, panel, e, theme)

    def _title_text(self, epoch: int) -> str:
        return f"Inside the network · epoch {epoch} / {self.n_epochs}"

    def run_epoch(self, run: str, epoch: int) -> int:
        """The epoch ``run`` shows when the renderer shows ``epoch``."""
        return min(epoch, self.views_by_run[run].n_epochs)


def compose_internals(views_by_run: Mapping[str, InternalsViews], epoch: int,
                      **kw) -> Figure:
    """A fully drawn Figure of the layer panels at ``epoch`` (for notebooks, ``savefig``);
    keyword arguments as :class:`InternalsRenderer`'s."""
    renderer = InternalsRenderer(views_by_run, **kw)
    renderer._set_epoch(check_epoch(epoch, renderer.n_epochs))
    return renderer.figure

