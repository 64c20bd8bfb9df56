"""The single-run frame: every panel of a run in one figure, rendered per epoch.

:class:`FrameRenderer` lays the panels out on a grid, draws each view with the artist
:data:`~replay_core.render.artists.ARTISTS` names for its type, and renders frames with the
shared machinery of :class:`~replay_core.render.canvas.FrameCanvas` (everything that does
not move drawn once into a cached background; per frame, only the moving artists).
:func:`compose` gives a normal, fully drawn Figure of one epoch.

The names this module has always offered (themes and colours from ``style``, the artists
and ``draw_*`` functions from ``artists``) are importable from here too.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from replay_core.render.artists import (
    FUTURE_CURVES,
    draw_decision_boundary,
    draw_feature_space,
    draw_loss_and_metric,
    draw_loss_histogram,
    draw_probability_histogram,
    draw_view,
)
from replay_core.render.canvas import FrameCanvas, ViewArtists, check_epoch, parse_names
from replay_core.render.curve_artists import LossAndMetricArtists
from replay_core.render.histogram_artists import (
    ClassLossHistogramArtists,
    ClassProbabilityHistogramArtists,
    LossHistogramArtists,
    ProbabilityHistogramArtists,
)
from replay_core.render.space_artists import DecisionBoundaryArtists, FeatureSpaceArtists
from replay_core.render.style import (
    CLASS_PALETTE,
    DARK,
    LABEL,
    LIGHT,
    SUPTITLE,
    Theme,
    class_colours,
    class_lut,
    class_masks,
    class_regions_rgba,
    draw_note,
    mute_legend,
    probability_colormap,
    short_label,
)
from replay_core.replay.narration import narration as epoch_sentences
from replay_core.replay.views import ReplayViews, class_labels

__all__ = [
    "CLASS_PALETTE",
    "DARK",
    "DEFAULT_LAYOUT",
    "FUTURE_CURVES",
    "LIGHT",
    "PANELS",
    "ClassLossHistogramArtists",
    "ClassProbabilityHistogramArtists",
    "DecisionBoundaryArtists",
    "FeatureSpaceArtists",
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
    "parse_panels",
    "probability_colormap",
]

PANELS = ("feature_space", "decision_boundary", "probability_histogram", "loss_and_metric",
          "loss_histogram", "landscape")
"""Names of the panels a :class:`FrameRenderer` can show ("landscape" draws
``views.landscape``, which ``Replay.views`` leaves out: see ``replay.landscape``)."""

DEFAULT_LAYOUT = ("feature_space", "decision_boundary", "loss_and_metric",
                  "probability_histogram", "loss_histogram")
"""Default panel order: feature space | boundary | curves over P neg | P pos | loss hist."""

_TWO_CELLS = ("probability_histogram",)
"""Panels drawn on two grid cells (negatives and positives, or bands and confusion)."""

LEGEND_NAME = 16
"""Characters of a class name in the header's legend (the full names are in the views)."""

_MISSING = {
    "feature_space": ("Feature space", lambda views: views.feature_space_note),
    "decision_boundary": ("Decision boundary", lambda views: views.decision_boundary_note),
    "landscape": ("Loss landscape", lambda views: "The loss landscape was not computed for "
                  "these views (replay.landscape.with_landscape adds it)."),
}
"""Title and note of a panel whose view the run does not have."""


def parse_panels(panels: str | Sequence[str] | None, *, flag: str | None = None,
                 noun: str = "panel") -> tuple[str, ...] | None:
    """Panel names from ``"feature_space,landscape"`` or a sequence, each in :data:`PANELS`,
    none twice; None stays None (the caller's default).

    ``flag`` and ``noun`` word the messages for a command-line option (``--views``).
    """
    if panels is None:
        return None
    return parse_names(panels, PANELS, noun=noun, flag=flag)


def _grid_shape(n_cells: int) -> tuple[int, int]:
    return {1: (1, 1), 2: (1, 2), 3: (1, 3), 4: (2, 2)}.get(n_cells,
                                                           (2, max(3, -(-n_cells // 2))))


class FrameRenderer(FrameCanvas):
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
        self.panels = parse_panels(panels) or DEFAULT_LAYOUT
        super().__init__(size, dpi=dpi, theme=theme,
                         layout=dict(pad_px=6, wspace=0.03, hspace=0.06))
        self.artists: dict[str, ViewArtists] = {}
        self.axes: dict[str, Axes | tuple[Axes, Axes]] = {}
        self._build_panels()
        self._sentences: list[str] = []
        if narration and views.events is not None:
            self._add_narration_line()
        self._title = self.figure.suptitle(self._title_text(self.n_epochs), color=self.theme.text,
                                           fontsize=SUPTITLE, fontweight="bold")
        self._header()

    # --- construction -------------------------------------------------------------------
    def _build_panels(self) -> None:
        cells = [(name, i) for name in self.panels
                 for i in range(2 if name in _TWO_CELLS else 1)]
        nrows, ncols = _grid_shape(len(cells))
        grid = self.figure.add_gridspec(nrows, ncols)
        axes: dict[str, list[Axes]] = {}
        for i, (name, _) in enumerate(cells):
            axes.setdefault(name, []).append(
                self.figure.add_subplot(grid[i // ncols, i % ncols]))
        width_px = self.size[0] / ncols
        views, theme = self.views, self.theme
        events = views.events.events if views.events is not None else ()
        for name in self.panels:
            panel_axes = axes[name]
            self.axes[name] = tuple(panel_axes) if len(panel_axes) > 1 else panel_axes[0]
            view = getattr(views, name)
            if view is None:
                title, note = _MISSING.get(name, (name, lambda _: ""))
                draw_note(panel_axes[0], title, note(views), theme, width_px)
                continue
            self.artists[name] = self._add_panel(draw_view(
                panel_axes, view, self.n_epochs, theme=theme, confusion=views.confusion,
                events=events, future=self.future_curves))

    def _header(self) -> None:
        """Run name on the left and the class legend on the right of the title row."""
        theme = self.theme
        self.figure.text(0.008, 0.985, self.views.run_name, ha="left", va="top",
                         color=theme.muted, fontsize=LABEL + 1)
        handles = [
            Line2D([], [], linestyle="none", marker="o", markersize=6,
                   markerfacecolor=colour, markeredgecolor=colour,
                   label=short_label(name, LEGEND_NAME))
            for name, colour in zip(class_labels(self.views.class_names, self.views.n_classes),
                                    class_colours(theme, self.views.n_classes))
        ]
        if "probability_histogram" in self.panels:
            handles.append(Patch(facecolor=theme.wrong, edgecolor=theme.wrong, hatch="////",
                                 hatchcolor=theme.hatch, linewidth=0.0, label="misclassified"))
        legend = self.figure.legend(handles=handles, loc="upper right",
                                    bbox_to_anchor=(0.995, 0.998), ncols=len(handles),
                                    frameon=False, fontsize=LABEL, handletextpad=0.3,
                                    columnspacing=1.2, borderaxespad=0.0, handlelength=1.2)
        legend.set_in_layout(False)
        mute_legend(legend, theme)

    def _add_narration_line(self) -> None:
        """A text line under the panels that ``_set_epoch`` fills with each epoch's
        sentence, wrapped to the frame's width; the layout keeps room for the longest."""
        width_pt = self.size[0] / self.figure.dpi * 72
        chars = max(40, int(width_pt / (LABEL * 0.52)))
        self._sentences = [textwrap.fill(s, chars) for s in epoch_sentences(self.views.events)]
        longest = max(self._sentences, key=lambda s: s.count("\n"))
        self._narration = self.figure.supxlabel(longest, color=self.theme.text,
                                                fontsize=LABEL, ha="center", va="bottom")
        self._moving.append(self._narration)

    # --- per frame ----------------------------------------------------------------------
    def _set_epoch(self, epoch: int) -> None:
        super()._set_epoch(epoch)
        if self._sentences:
            self._narration.set_text(self._sentences[epoch])


def compose(views: ReplayViews, epoch: int, **kw) -> Figure:
    """A normal, fully drawn Figure of every panel at ``epoch`` (for notebooks, ``savefig``).

    Keyword arguments are those of :class:`FrameRenderer` (size, dpi, theme, panels).

    Example
    -------
    >>> compose(views, 80, theme="dark").savefig("epoch80.png")   # doctest: +SKIP
    """
    renderer = FrameRenderer(views, **kw)
    e = check_epoch(epoch, renderer.n_epochs)
    renderer._set_epoch(e)
    return renderer.figure
