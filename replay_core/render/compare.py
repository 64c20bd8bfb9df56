"""One figure comparing 2 to 4 runs epoch by epoch, rendered with Agg blitting.

Top row: each run's feature space; middle row: each run's decision boundary; bottom row:
every run's accuracy curve overlaid (left) and loss curve overlaid (right), the current
epoch marked. The panels are the single-run frame's artists; a run shorter than the others
stays on its last epoch. The runs' legend sits in the title row, over no data, and every
panel title is fitted to its panel (a smaller font, then an ellipsis) once the layout is
known. The frame machinery (cached background, blitting, image out) is
:class:`~replay_core.render.canvas.FrameCanvas`, as for every renderer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

from replay_core.errors import RenderError
from replay_core.render import style
from replay_core.render.canvas import FrameCanvas, ViewArtists, check_epoch
from replay_core.render.curve_artists import FUTURE_CURVES
from replay_core.render.space_artists import DecisionBoundaryArtists, FeatureSpaceArtists
from replay_core.render.style import Theme, draw_note, fix_limits, style_axes
from replay_core.replay.views import LossAndMetricView, ReplayViews

__all__ = ["MIN_TEXT_PX", "RUN_COLOURS", "CompareRenderer", "OverlaidCurvesArtists",
           "fit_text", "fit_titles"]

# Not the class colours nor the current-epoch pink, so a run never reads as either.
RUN_COLOURS = ("#009E73", "#D55E00", "#56B4E9", "#6A3D9A")
MIN_RUNS, MAX_RUNS = 2, 4
MIN_TEXT_PX = 10.0
"""Smallest text a fitted title or legend is shrunk to, in frame pixels (the app shows the
frame at one frame pixel per screen pixel)."""
_GAP_PX = 6.0  # between two neighbouring titles, and between the legend and the title


def _short(name: str) -> str:
    return style.short_label(name, 28)


def _line_px(line: str, text: Text, renderer: RendererBase) -> float:
    width, _, _ = renderer.get_text_width_height_descent(line, text.get_fontproperties(),
                                                         ismath=False)
    return float(width)


def fit_text(text: Text, max_px: float, min_pt: float, renderer: RendererBase) -> None:
    """Make ``text`` at most ``max_px`` pixels wide: a smaller font, down to ``min_pt``
    points, then each line still too wide cut with an ellipsis (as measured by
    ``renderer``, so the cut is where the rendered text ends, not a character count).
    """
    lines = text.get_text().split("\n")

    def widest() -> float:
        return max(_line_px(line, text, renderer) for line in lines)

    size = float(text.get_fontsize())
    while size > min_pt and widest() > max_px:
        size = max(min_pt, size - 0.5)
        text.set_fontsize(size)
    fitted = []
    for line in lines:
        if _line_px(line, text, renderer) > max_px:
            # The longest prefix that fits with its ellipsis (widths grow with the prefix).
            low, high = 0, len(line)
            while low < high:
                mid = (low + high + 1) // 2
                if _line_px(line[:mid].rstrip() + "…", text, renderer) <= max_px:
                    low = mid
                else:
                    high = mid - 1
            line = line[:low].rstrip() + "…"
        fitted.append(line)
    text.set_text("\n".join(fitted))


def _title_room(ax: Axes, axes: Sequence[Axes], width_px: float) -> float:
    """How wide ``ax``'s centred title may be: up to half-way to the neighbouring axes
    of its row on each side (the figure's edge when there is none)."""
    box = ax.get_position()
    left, right = 0.0, 1.0
    for other in axes:
        o = other.get_position()
        if other is ax or o.y0 >= box.y1 or o.y1 <= box.y0:
            continue  # not in this row
        if o.x1 <= box.x0:
            left = max(left, (o.x1 + box.x0) / 2)
        elif o.x0 >= box.x1:
            right = min(right, (box.x1 + o.x0) / 2)
    centre = (box.x0 + box.x1) / 2
    return 2 * min(centre - left, right - centre) * width_px - _GAP_PX


def fit_titles(figure: Figure, min_pt: float) -> None:
    """Fit every Axes title of ``figure`` to its room (see ``fit_text``), with the axes
    where the layout put them; a title then neither leaves the frame nor runs into the
    next panel's title at any frame size."""
    renderer = figure.canvas.get_renderer()
    width_px = figure.bbox.width
    axes = [ax for ax in figure.axes if ax.get_visible()]
    for ax in axes:
        if ax.title.get_text():
            fit_text(ax.title, _title_room(ax, axes, width_px), min_pt, renderer)


class OverlaidCurvesArtists(ViewArtists):
    """One curve per run on one Axes; a marker at the epoch, a dot per run on its curve.

    A run with fewer epochs keeps its dot on its last epoch.

    Attributes
    ----------
    ax : the Axes; curves : run name -> Line2D of its curve (up to the epoch, or whole
    when ``future="full"``); dots : run name -> moving Line2D; marker : vertical Line2D
    at the epoch; dynamic : every artist ``update`` changes; future : how the epochs after
    the one shown are drawn, one of ``FUTURE_CURVES`` ("faint", "hidden", "full").

    Example
    -------
    >>> curves = OverlaidCurvesArtists(ax, {"a": lm_a, "b": lm_b}, "accuracy",   # doctest: +SKIP
    ...                                colours, theme)
    >>> curves.update(40)                                                        # doctest: +SKIP
    """

    def __init__(self, ax: Axes, views: Mapping[str, LossAndMetricView], quantity: str,
                 colours: Mapping[str, str], theme: Theme, epoch: int | None = None,
                 future: str = "full") -> None:
        if future not in FUTURE_CURVES:
            raise RenderError(f"future must be one of {', '.join(FUTURE_CURVES)}, "
                              f"got {future!r}")
        self.ax, self.future = ax, future
        self.series = {name: np.asarray(getattr(v, quantity), float) for name, v in views.items()}
        self.n_epochs = max(len(s) - 1 for s in self.series.values())
        e = self.n_epochs if epoch is None else check_epoch(epoch, self.n_epochs)
        title = "Accuracy" if quantity == "accuracy" else "Loss"
        style_axes(ax, theme, f"{title} (whole training set)")
        ax.set_xlabel("epoch", labelpad=1)
        ax.set_ylabel(quantity, labelpad=2)
        self.curves: dict[str, Line2D] = {}
        self.dots: dict[str, Line2D] = {}
        for name, values in self.series.items():
            epochs = np.arange(len(values))
            k = min(e, len(values) - 1)
            if future == "faint":  # where the curve goes, without giving the ending away
                ax.plot(epochs, values, color=colours[name], linewidth=1.5, zorder=2,
                        clip_on=False, alpha=0.22)
            shown = len(values) if future == "full" else k + 1
            (self.curves[name],) = ax.plot(epochs[:shown], values[:shown], color=colours[name],
                                           linewidth=1.5, zorder=3, clip_on=False,
                                           label=_short(name))
            (self.dots[name],) = ax.plot([k], [values[k]], marker="o", markersize=5,
                                         color=colours[name], markeredgecolor=theme.background,
                                         markeredgewidth=0.8, zorder=5, clip_on=False)
        if quantity == "accuracy":
            ylim = (0.0, 1.0)
        else:
            finite = np.concatenate([v[np.isfinite(v)] for v in self.series.values()])
            top = float(finite.max()) if finite.size else 0.0
            ylim = (0.0, top * 1.05 if top > 0 else 1.0)
        fix_limits(ax, (0.0, float(max(self.n_epochs, 1))), ylim)
        self.marker = ax.axvline(e, color=theme.current, linewidth=1.3, zorder=4)
        # Curves that grow with the epoch are redrawn every frame; whole ones stay put.
        growing = [] if future == "full" else list(self.curves.values())
        self.dynamic: list[Artist] = [*growing, self.marker, *self.dots.values()]
        self.epoch = e

    def _set(self, epoch: int) -> None:
        # The marker at ``epoch``, each dot at ``min(epoch, its run's last)``.
        self.marker.set_xdata([epoch, epoch])
        for name, values in self.series.items():
            k = min(epoch, len(values) - 1)
            self.dots[name].set_data([k], [values[k]])
            if self.future != "full":
                self.curves[name].set_data(np.arange(k + 1), values[: k + 1])


class CompareRenderer(FrameCanvas):
    """2 to 4 runs in one figure, rendered per epoch by updating artists only.

    Parameters
    ----------
    views_by_run : run name -> its views (insertion order = column order).
    size : (width, height) of every frame in pixels.
    dpi : dots per inch (text sizes are in points).
    theme : "light" or "dark".
    future_curves : how the overlaid curves draw the epochs after the one shown, one of
        ``FUTURE_CURVES``: "faint" (the default), "hidden" or "full", as
        :class:`~replay_core.render.frame.FrameRenderer`'s loss panel.

    Attributes
    ----------
    figure, canvas; n_epochs : the longest run's epochs; run_epochs : run name -> its
    epochs; colours : run name -> colour of its curves and titles;
    axes : {"feature_space": [Axes per run], "decision_boundary": [Axes per run],
    "accuracy": Axes, "loss": Axes}; artists : {"feature_space": {run: artists} (runs
    without a 2-unit layer are absent and show their note), "decision_boundary": {...},
    "accuracy": OverlaidCurvesArtists, "loss": OverlaidCurvesArtists}.

    Example
    -------
    >>> renderer = CompareRenderer({"sigmoid": v1, "tanh": v2, "relu": v3})   # doctest: +SKIP
    >>> renderer.rgb(80).shape                                                # doctest: +SKIP
    (820, 1600, 3)
    """

    def __init__(self, views_by_run: Mapping[str, ReplayViews], *,
                 size: Sequence[int] = (1600, 820), dpi: float = 100,
                 theme: str | Theme = "light", future_curves: str = "faint") -> None:
        if not MIN_RUNS <= len(views_by_run) <= MAX_RUNS:
            raise RenderError(f"compare {MIN_RUNS} to {MAX_RUNS} runs, got {len(views_by_run)}")
        super().__init__(size, dpi=dpi, theme=theme,
                         layout=dict(pad_px=6, wspace=0.03, hspace=0.05))
        self.views = dict(views_by_run)
        self.future_curves = future_curves
        self.run_epochs = {name: int(v.n_epochs) for name, v in self.views.items()}
        self.n_epochs = max(self.run_epochs.values())
        self.colours = dict(zip(self.views, RUN_COLOURS))
        self.axes: dict[str, object] = {}
        self.artists: dict[str, object] = {}
        self._run_titles: list[tuple[Axes, str]] = []  # each run's panels, for fitting
        self._build()
        for key in ("feature_space", "decision_boundary"):
            for art in self.artists[key].values():
                self._add_panel(art)
        self._add_panel(self.artists["accuracy"])
        self._add_panel(self.artists["loss"])
        self._title = self.figure.suptitle(self._title_text(self.n_epochs),
                                           color=self.theme.text, fontsize=style.SUPTITLE,
                                           fontweight="bold")

    # --- construction -------------------------------------------------------------------
    def _build(self) -> None:
        n = len(self.views)
        theme = self.theme
        outer = self.figure.add_gridspec(3, 1, height_ratios=(1.0, 1.0, 0.8))
        top = outer[0].subgridspec(1, n)
        middle = outer[1].subgridspec(1, n)
        bottom = outer[2].subgridspec(1, 2)
        width_px = self.size[0] / n
        feature_axes, boundary_axes = [], []
        feature_artists: dict[str, FeatureSpaceArtists] = {}
        boundary_artists: dict[str, DecisionBoundaryArtists] = {}
        for i, (name, views) in enumerate(self.views.items()):
            colour, label = self.colours[name], _short(name)
            ax = self.figure.add_subplot(top[0, i])
            feature_axes.append(ax)
            if views.feature_space is None:
                draw_note(ax, f"{label}: feature space", views.feature_space_note, theme,
                          width_px)
            else:
                art = FeatureSpaceArtists(ax, views.feature_space, views.n_epochs, theme)
                feature_artists[name] = art
                fs = views.feature_space
                title = f"{label}: feature space ({fs.layer_name})"
                if fs.projection_label:  # a wide layer: say which plane is shown
                    title += f"\n{fs.projection_label}"
                ax.set_title(title, fontsize=style.TITLE, pad=5)
            ax.title.set_color(colour)
            self._run_titles.append((ax, name))
            ax = self.figure.add_subplot(middle[0, i])
            boundary_axes.append(ax)
            if views.decision_boundary is None:
                draw_note(ax, f"{label}: decision boundary", views.decision_boundary_note,
                          theme, width_px)
            else:
                boundary_artists[name] = DecisionBoundaryArtists(
                    ax, views.decision_boundary, views.n_epochs, theme, colorbar=False)
                space = (" in latent space" if views.decision_boundary.space == "latent"
                         else "")
                ax.set_title(f"{label}: decision boundary{space}", fontsize=style.TITLE, pad=5)
            ax.title.set_color(colour)
            self._run_titles.append((ax, name))
        lms = {name: v.loss_and_metric for name, v in self.views.items()}
        ax_acc = self.figure.add_subplot(bottom[0, 0])
        ax_loss = self.figure.add_subplot(bottom[0, 1])
        accuracy = OverlaidCurvesArtists(ax_acc, lms, "accuracy", self.colours, theme,
                                         future=self.future_curves)
        loss = OverlaidCurvesArtists(ax_loss, lms, "loss", self.colours, theme,
                                     future=self.future_curves)
        # The runs' legend in the title row, right of the epoch: over no curve at any
        # epoch (the run titles above say the same in the same colours).
        handles = [Line2D([], [], color=self.colours[name], linewidth=2.0, label=_short(name))
                   for name in self.views]
        self._legend = self.figure.legend(
            handles=handles, loc="upper right", bbox_to_anchor=(0.998, 0.998),
            ncols=len(handles), frameon=False, fontsize=style.LABEL, handlelength=1.4,
            handletextpad=0.4, columnspacing=1.0, borderaxespad=0.0)
        self._legend.set_in_layout(False)
        style.mute_legend(self._legend, theme)
        self.axes = {"feature_space": feature_axes, "decision_boundary": boundary_axes,
                     "accuracy": ax_acc, "loss": ax_loss}
        self.artists = {"feature_space": feature_artists,
                        "decision_boundary": boundary_artists,
                        "accuracy": accuracy, "loss": loss}

    def _ensure_background(self) -> None:
        if self._background is None:
            self._fit_text()
        super()._ensure_background()

    def _fit_text(self) -> None:
        """Fit the titles and the legend to the frame, once the layout has placed the
        axes (it places them the same whatever the titles' widths)."""
        figure = self.figure
        figure.get_layout_engine().execute(figure)
        min_pt = MIN_TEXT_PX * 72.0 / figure.dpi
        renderer = self.canvas.get_renderer()
        width_px = figure.bbox.width
        # A long run name gives way first (down to 8 characters), so the rest of its
        # title ("feature space (hidden)") stays readable at a comfortable size.
        comfortable = max(min_pt, style.TITLE - 2)
        for ax, name in self._run_titles:
            label = _short(name)
            first, *others = ax.title.get_text().split("\n")
            rest, scale = first[len(label):], comfortable / ax.title.get_fontsize()
            room = _title_room(ax, figure.axes, width_px)
            limit = len(label)
            while limit > 8 and _line_px(first, ax.title, renderer) * scale > room:
                limit -= 1
                first = style.short_label(label, limit) + rest
            ax.title.set_text("\n".join([first, *others]))
        fit_titles(figure, min_pt)
        # Right of the widest epoch title ("Epoch 150 / 150"), which is centred.
        title_px = self._title.get_window_extent(renderer).width
        room = width_px / 2 - title_px / 2 - 2 * _GAP_PX
        names = list(self.views)
        texts = self._legend.get_texts()
        limit = max(len(_short(n)) for n in names)
        while self._legend.get_window_extent(renderer).width > room and limit > 4:
            limit -= 1
            for text, name in zip(texts, names):
                text.set_text(style.short_label(_short(name), limit))
        size = float(style.LABEL)
        while self._legend.get_window_extent(renderer).width > room and size > min_pt:
            size = max(min_pt, size - 0.5)
            for text in texts:
                text.set_fontsize(size)
        # The layout stays as computed (titles only got narrower or smaller): a second
        # pass would cost as much as drawing the frame.
        figure.set_layout_engine("none")

    def run_epoch(self, name: str, epoch: int) -> int:
        """The epoch run ``name`` shows at ``epoch``: its last one once it has ended."""
        return min(epoch, self.run_epochs[name])
