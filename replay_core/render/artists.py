"""Which artist draws which view: one table from view type to artist class, and the
``draw_*`` functions that draw one epoch of a view on the Axes given.

Every artist follows :class:`~replay_core.render.canvas.PanelArtists`: it draws one epoch,
fixes the axes limits from the view (so motion on screen is motion of the network) and
moves only its artists' data in ``update(epoch)``. The same object serves a still figure
(:func:`~replay_core.render.frame.compose`), the app and an animation.

Example
-------
>>> fig = Figure(); ax = fig.add_subplot()                          # doctest: +SKIP
>>> artists = draw_view(ax, views.feature_space, 0, theme="dark")   # doctest: +SKIP
>>> artists.update(80)                                              # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes

from replay_core.errors import RenderError, ViewUnavailableError
from replay_core.render.canvas import ViewArtists
from replay_core.render.curve_artists import FUTURE_CURVES, LossAndMetricArtists
from replay_core.render.histogram_artists import (
    ClassLossHistogramArtists,
    ClassProbabilityHistogramArtists,
    LossHistogramArtists,
    ProbabilityHistogramArtists,
)
from replay_core.render.landscape import LandscapeArtists
from replay_core.render.space_artists import DecisionBoundaryArtists, FeatureSpaceArtists
from replay_core.render.style import Theme, theme_of
from replay_core.replay import views as v
from replay_core.replay.events import Event
from replay_core.replay.landscape import LandscapeView

__all__ = [
    "ARTISTS",
    "FUTURE_CURVES",
    "draw_decision_boundary",
    "draw_feature_space",
    "draw_loss_and_metric",
    "draw_loss_histogram",
    "draw_probability_histogram",
    "draw_view",
]

ARTISTS: dict[type, type[ViewArtists]] = {
    v.FeatureSpaceView: FeatureSpaceArtists,
    v.DecisionBoundaryView: DecisionBoundaryArtists,
    v.ProbabilityHistogramView: ProbabilityHistogramArtists,
    v.ClassProbabilityHistogramView: ClassProbabilityHistogramArtists,
    v.LossAndMetricView: LossAndMetricArtists,
    v.LossHistogramView: LossHistogramArtists,
    v.ClassLossHistogramView: ClassLossHistogramArtists,
    LandscapeView: LandscapeArtists,
}
"""The artist class that draws each view type."""


def draw_view(axes: Axes | Sequence[Axes], view: Any, epoch: int, *,
              theme: str | Theme = "light", **context: Any) -> ViewArtists:
    """Draw one epoch of ``view`` with the artist :data:`ARTISTS` names for its type.

    ``axes``: one Axes, or a sequence (the probability histograms take two). ``context``:
    what some panels use beyond their view, ignored by the others: ``confusion`` (a
    k-class run's matrix beside its histograms), ``events`` and ``future`` (the loss
    panel), ``colorbar`` (boundary, landscape).

    Raises
    ------
    ViewUnavailableError
        No artist draws a view of this type.
    """
    artist = ARTISTS.get(type(view))
    if artist is None:
        raise ViewUnavailableError(f"no panel draws a {type(view).__name__}")
    given = (axes,) if isinstance(axes, Axes) else tuple(axes)
    if len(given) < artist.n_axes:
        raise RenderError(f"a {type(view).__name__} is drawn on {artist.n_axes} Axes, "
                         f"got {len(given)}")
    wanted = {k: value for k, value in context.items() if k in artist.context}
    return artist(*given[:artist.n_axes], view, epoch, theme_of(theme), **wanted)


def draw_feature_space(ax: Axes, view: v.FeatureSpaceView, epoch: int, *,
                       theme: str | Theme = "light") -> FeatureSpaceArtists:
    """Draw one epoch of the feature space: bent grid (grey), samples by class, boundary.

    Returns the artists; ``update(epoch)`` moves them to another epoch.
    """
    return draw_view(ax, view, epoch, theme=theme)


def draw_decision_boundary(ax: Axes, view: v.DecisionBoundaryView, epoch: int, *,
                           theme: str | Theme = "light",
                           colorbar: bool = True) -> DecisionBoundaryArtists:
    """Draw one epoch of the probability map, its 0.5 contour and the samples on top."""
    return draw_view(ax, view, epoch, theme=theme, colorbar=colorbar)


def draw_probability_histogram(
        ax_neg: Axes, ax_pos: Axes,
        view: v.ProbabilityHistogramView | v.ClassProbabilityHistogramView, epoch: int, *,
        theme: str | Theme = "light", confusion: v.ConfusionView | None = None,
) -> ProbabilityHistogramArtists | ClassProbabilityHistogramArtists:
    """Draw one epoch of the P(y=1) histograms of negatives and positives (threshold 0.5).

    For a k-class view: the P(true class) bands on ``ax_neg`` and ``confusion`` (the
    run's ``ReplayViews.confusion``) on ``ax_pos``.
    """
    return draw_view((ax_neg, ax_pos), view, epoch, theme=theme, confusion=confusion)


def draw_loss_and_metric(ax: Axes, view: v.LossAndMetricView, epoch: int, *,
                         theme: str | Theme = "light", events: Sequence[Event] = (),
                         future: str = "faint") -> LossAndMetricArtists:
    """Draw loss (left) and accuracy (twin right axis, 0..1) up to ``epoch`` with a marker
    there (later epochs as ``future`` says: "faint", "hidden" or "full") and the run's
    ``events`` (``ReplayViews.events.events``) marked along the epochs."""
    return draw_view(ax, view, epoch, theme=theme, events=events, future=future)


def draw_loss_histogram(ax: Axes, view: v.LossHistogramView | v.ClassLossHistogramView,
                        epoch: int, *, theme: str | Theme = "light",
                        ) -> LossHistogramArtists | ClassLossHistogramArtists:
    """Draw one epoch of the per-sample loss histogram (negatives, positives stacked; the
    k classes stacked for a k-class view)."""
    return draw_view(ax, view, epoch, theme=theme)
