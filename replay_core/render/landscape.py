"""Draw a loss landscape: filled loss contours, the optimizer's path, the current epoch.

The contours and the path do not move, so they live in the cached background; a frame
only moves the dot of the current epoch (and its label). :class:`LandscapeArtists` is the
panel (used by the frame renderer's ``landscape`` panel and by :class:`LandscapeRenderer`);
:class:`LandscapeRenderer` puts one to four runs' landscapes side by side for the app's
strip under the frame (Replay: one run; Compare: each run on its own plane).

Example
-------
>>> from replay_core.replay.landscape import loss_landscape             # doctest: +SKIP
>>> strip = LandscapeRenderer([loss_landscape(replay)], size=(1180, 360))  # doctest: +SKIP
>>> open("landscape.png", "wb").write(strip.png(80))                    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm
from matplotlib.ticker import FixedLocator

from replay_core.errors import RenderError
from replay_core.render.canvas import FrameCanvas, ViewArtists, check_epoch
from replay_core.render.style import (
    LABEL,
    TICK,
    Theme,
    fix_limits,
    style_axes,
    style_colorbar,
    theme_of,
)
from replay_core.replay.landscape import LandscapeView

__all__ = ["LandscapeArtists", "LandscapeRenderer", "draw_landscape", "landscape_title"]

# Perceptually uniform and readable with colour-vision deficiencies; low loss is dark.
_CMAP = "viridis"


def landscape_title(view: LandscapeView) -> str:
    """``Loss landscape`` and, on a second line, the share of variance the plane keeps."""
    text = f"Loss landscape · plane keeps {view.variance_kept:.1%} of the path's variance"
    if view.samples_used < view.n_samples:
        text += f"\nloss on {view.samples_used:,} of {view.n_samples:,} samples"
    return text


class LandscapeArtists(ViewArtists):
    """A landscape panel: static contours and path, a dot at the current epoch.

    Attributes
    ----------
    ax : the Axes; contours : the filled contour set; path : Line2D of every epoch's
    point; dot : Line2D of the current epoch; label : its loss as text.
    dynamic : the artists ``update`` changes.

    Example
    -------
    >>> artists = draw_landscape(ax, view, 0)    # doctest: +SKIP
    >>> artists.update(80)                       # doctest: +SKIP
    """

    context = ("colorbar",)

    def __init__(self, ax: Axes, view: LandscapeView, epoch: int, theme: Theme, *,
                 colorbar: bool = True, title: str | None = None) -> None:
        self.ax, self.view = ax, view
        self.n_epochs = view.n_epochs
        e = check_epoch(epoch, self.n_epochs)
        style_axes(ax, theme, landscape_title(view) if title is None else title)
        ax.title.set_fontsize(LABEL + 1)
        r = view.variance_ratio
        ax.set_xlabel(f"PC 1 ({r[0]:.1%} of variance)", labelpad=1)
        ax.set_ylabel(f"PC 2 ({r[1]:.1%})", labelpad=1)
        levels = view.levels
        norm = BoundaryNorm(levels, 256, extend="max")
        loss = np.nan_to_num(view.loss, nan=float(levels[-1]) * 10,
                             posinf=float(levels[-1]) * 10)
        self.contours = ax.contourf(view.xs, view.ys, loss, levels=levels, cmap=_CMAP,
                                    norm=norm, extend="max", zorder=0)
        p = view.path
        (self.path,) = ax.plot(p[:, 0], p[:, 1], color="#ffffff", linewidth=1.2,
                               alpha=0.9, zorder=2)
        ax.plot(p[:1, 0], p[:1, 1], linestyle="none", marker="o", markersize=5,
                markerfacecolor="none", markeredgecolor="#ffffff", zorder=3)
        (self.dot,) = ax.plot(p[e:e + 1, 0], p[e:e + 1, 1], linestyle="none", marker="o",
                              markersize=8, markerfacecolor=theme.current,
                              markeredgecolor="#ffffff", markeredgewidth=1.2, zorder=4)
        self.label = ax.text(0.02, 0.97, self._label_text(e), transform=ax.transAxes,
                             ha="left", va="top", color="#ffffff", fontsize=TICK, zorder=5)
        fix_limits(ax, view.xlim, view.ylim)
        if colorbar:
            bar = ax.figure.colorbar(self.contours, ax=ax, fraction=0.06, pad=0.02,
                                     aspect=25)
            ticks = levels[:: max(1, len(levels) // 4)]
            bar.locator = FixedLocator(ticks)
            bar.update_ticks()
            bar.ax.set_yticklabels([f"{t:.3g}" for t in ticks])
            style_colorbar(bar, theme)
            bar.set_label("loss", color=theme.muted, fontsize=TICK, labelpad=1)
        self.dynamic = [self.dot, self.label]
        self.epoch = e

    def _label_text(self, epoch: int) -> str:
        return f"epoch {epoch}: loss {self.view.path_loss[epoch]:.4f}"

    def _set(self, epoch: int) -> None:
        p = self.view.path
        self.dot.set_data(p[epoch:epoch + 1, 0], p[epoch:epoch + 1, 1])
        self.label.set_text(self._label_text(epoch))


def draw_landscape(ax: Axes, view: LandscapeView, epoch: int, *,
                   theme: str | Theme = "light", colorbar: bool = True) -> LandscapeArtists:
    """Draw the loss contours, the whole path and the dot at ``epoch`` on ``ax``."""
    return LandscapeArtists(ax, view, epoch, theme_of(theme), colorbar=colorbar)


class LandscapeRenderer(FrameCanvas):
    """One to four runs' landscapes side by side, for any epoch; ``png``/``jpeg``/``rgb``.

    A run with fewer epochs than the longest keeps its dot on its last epoch.

    Parameters
    ----------
    views : the runs' landscapes, in the order shown.
    size : (width, height) in pixels.
    theme : "light" or "dark"; dpi : dots per inch.
    """

    def __init__(self, views: Sequence[LandscapeView], *, size: Sequence[int] = (1180, 380),
                 theme: str | Theme = "light", dpi: float = 100) -> None:
        views = list(views)
        if not 1 <= len(views) <= 4:
            raise RenderError(f"a landscape strip shows 1 to 4 runs, got {len(views)}")
        super().__init__(size, dpi=dpi, theme=theme, layout={})
        self.views = views
        self.n_epochs = max(view.n_epochs for view in views)
        axes = self.figure.subplots(1, len(views), squeeze=False)[0]
        self.artists = []
        for ax, view in zip(axes, views):
            title = landscape_title(view)
            if len(views) > 1:
                title = f"{view.run_name}\n{title.replace('Loss landscape · ', '')}"
            self.artists.append(self._add_panel(
                LandscapeArtists(ax, view, view.n_epochs, self.theme, title=title)))
