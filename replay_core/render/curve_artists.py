"""The loss and accuracy panel: curves over epochs that grow with the epoch shown, the
current epoch marked and the run's events along the epoch axis."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from replay_core.errors import RenderError
from replay_core.render.canvas import ViewArtists, check_epoch
from replay_core.render.style import Theme, fix_limits, style_axes
from replay_core.replay.events import Event
from replay_core.replay.views import LossAndMetricView

__all__ = ["FUTURE_CURVES", "LossAndMetricArtists"]

FUTURE_CURVES = ("faint", "hidden", "full")
"""How the loss panel draws the epochs after the one shown: faintly, not at all, or as
drawn up to it (the whole run at once, which gives the ending away)."""


class LossAndMetricArtists(ViewArtists):
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

    context = ("events", "future")

    def __init__(self, ax: Axes, view: LossAndMetricView, epoch: int, theme: Theme,
                 events: Sequence[Event] = (), future: str = "faint") -> None:
        if future not in FUTURE_CURVES:
            raise RenderError(f"future must be one of {', '.join(FUTURE_CURVES)}, "
                             f"got {future!r}")
        self.ax, self.view, self.future = ax, view, future
        self.n_epochs = len(view.epochs) - 1
        e = check_epoch(epoch, self.n_epochs)
        validation = view.val_loss is not None or view.val_accuracy is not None
        style_axes(ax, theme, "Loss & accuracy" + (" (dashed: validation)" if validation
                                                   else ""))
        self.twin = twin = ax.twinx()
        style_axes(twin, theme)
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
        fix_limits(ax, (0.0, float(max(self.n_epochs, 1))), view.loss_ylim)
        fix_limits(twin, (0.0, float(max(self.n_epochs, 1))), (0.0, 1.0))
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


