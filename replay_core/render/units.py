"""A strip of small maps, one per unit of a layer, for one epoch (TensorFlow Playground
style): each map colours the unit's output over the 2-D input space.

The figure, titles and colour legend are drawn once into a cached background; a frame
only swaps the maps' pixels (the ``FrameOutput`` mechanism of :mod:`render_mpl`).

Example
-------
>>> strip = UnitStripRenderer(replay.unit_maps("hidden"), width=1180)   # doctest: +SKIP
>>> open("units.png", "wb").write(strip.png(80))                       # doctest: +SKIP
"""

from __future__ import annotations

import math
import threading

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from replay_core.render.frame import _TICK, FrameOutput, Theme, _check_epoch, _style_axes, _theme
from replay_core.replay.views import UnitMapsView

MAX_COLUMNS = 16
"""Maps per row; wider layers wrap onto more rows."""


def unit_colormap() -> LinearSegmentedColormap:
    """Orange for negative outputs, white at zero, blue for positive ones."""
    return LinearSegmentedColormap.from_list(
        "replay_units", [(0.0, "#e8a72a"), (0.5, "#ffffff"), (1.0, "#2b86c5")])


_LUT = unit_colormap()(np.linspace(0.0, 1.0, 256), bytes=True)


def unit_colours(values: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """(..., 4) uint8 colours of activations over the fixed range ``[vmin, vmax]``.

    Zero is white: a range spanning zero scales each side to its own end (orange below,
    blue above); a range of non-negative outputs (relu, sigmoid) runs white to blue, one of
    non-positive outputs orange to white.
    """
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    span = vmax - vmin if vmax > vmin else 1.0
    if vmin < 0.0 < vmax:
        t = np.where(v < 0, 0.5 - 0.5 * v / vmin, 0.5 + 0.5 * v / vmax)
    elif vmin >= 0.0:
        t = 0.5 + 0.5 * (v - vmin) / span
    else:
        t = 0.5 * (v - vmin) / span
    return _LUT[np.rint(np.clip(t, 0.0, 1.0) * 255.0).astype(np.intp)]


class UnitStripRenderer(FrameOutput):
    """Every unit of a layer as a small map, for any epoch; ``png``/``jpeg``/``rgb``.

    Parameters
    ----------
    view : the layer's unit maps (all epochs).
    width : frame width in pixels; the height follows from the number of rows.
    theme : "light" or "dark".
    dpi : dots per inch.
    """

    def __init__(self, view: UnitMapsView, *, width: int = 1180, theme: str | Theme = "light",
                 dpi: float = 100) -> None:
        self.view = view
        self.theme = _theme(theme)
        self.n_epochs = int(view.activations.shape[0]) - 1
        n_units = view.n_units
        ncols = min(n_units, MAX_COLUMNS)
        nrows = math.ceil(n_units / ncols)
        cell = min(int(width) / MAX_COLUMNS, 110.0)
        height = int(nrows * (cell + 18) + 40)
        self.size = (int(width), height)
        self._lock = threading.Lock()
        self._background = None
        self._shown: int | None = None
        self.figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi,
                             facecolor=self.theme.background)
        self.canvas = FigureCanvasAgg(self.figure)
        w, h = self.size
        if self.canvas.get_width_height() != (w, h):
            self.figure.set_size_inches((w + 0.25) / dpi, (h + 0.25) / dpi)
        # Maps of equal size, left-aligned, in pixels converted to figure fractions.
        left, top, gap = 8.0, 30.0, 6.0
        cell = min(cell, (w - left - gap * ncols) / ncols)
        extent = (view.xs[0], view.xs[-1], view.ys[0], view.ys[-1])
        self.images = []
        for u in range(n_units):
            r, c = divmod(u, ncols)
            x0 = left + c * (cell + gap)
            y0 = top + r * (cell + 18) + 14
            ax = self.figure.add_axes((x0 / w, 1 - (y0 + cell) / h, cell / w, cell / h))
            _style_axes(ax, self.theme)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"unit {u + 1}", color=self.theme.muted, fontsize=_TICK, pad=2)
            self.images.append(ax.imshow(self._rgba(self.n_epochs, u), extent=extent,
                                         origin="lower", interpolation="bilinear",
                                         aspect="auto"))
        self._moving = list(self.images)
        lo, hi = view.vmin, view.vmax
        if lo < 0 < hi:
            scale = f"orange {lo:.3g}, white 0, blue {hi:.3g}"
        elif lo >= 0:
            scale = f"white {lo:.3g}, blue {hi:.3g}"
        else:
            scale = f"orange {lo:.3g}, white {hi:.3g}"
        text = f"Units of {view.layer_name}: output over the input space · {scale}"
        self.figure.text(left / w, 1 - 6 / h, text, ha="left", va="top",
                         color=self.theme.muted, fontsize=_TICK + 1)
        self._title = self.figure.text(1 - left / w, 1 - 6 / h, "", ha="right", va="top",
                                       color=self.theme.text, fontsize=_TICK + 1,
                                       fontweight="bold")

    def _rgba(self, epoch: int, unit: int) -> np.ndarray:
        v = self.view
        return unit_colours(v.activations[epoch, unit], v.vmin, v.vmax)

    def _render(self, epoch: int) -> None:
        e = _check_epoch(epoch, self.n_epochs)
        self._ensure_background()
        if self._shown == e:
            return
        for u, image in enumerate(self.images):
            image.set_data(self._rgba(e, u))
        self._title.set_text(f"epoch {e}")
        self.canvas.restore_region(self._background)
        for artist in [*self._moving, self._title]:
            self.figure.draw_artist(artist)
        self._shown = e
