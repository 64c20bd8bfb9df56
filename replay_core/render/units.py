"""A strip of small maps, one per unit of a layer, for one epoch (TensorFlow Playground
style): each map colours the unit's output over the 2-D input space.

The figure, titles and colour legend are drawn once into a cached background; a frame
only swaps the maps' pixels (the :class:`~replay_core.render.canvas.FrameCanvas` machinery
every renderer shares).

Example
-------
>>> strip = UnitStripRenderer(replay.unit_maps("hidden"), width=1180)   # doctest: +SKIP
>>> open("units.png", "wb").write(strip.png(80))                       # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap

from replay_core.render.canvas import FrameCanvas, ViewArtists
from replay_core.render.style import TICK, Theme, style_axes
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


class UnitMapsArtists(ViewArtists):
    """One image per unit, each on its own Axes; ``update`` swaps the images' pixels.

    Attributes
    ----------
    images : AxesImage per unit (extent = the view's input range, origin lower).
    dynamic : the images.
    """

    def __init__(self, axes: Sequence[Axes], view: UnitMapsView, epoch: int,
                 theme: Theme) -> None:
        self.view = view
        self.n_epochs = int(view.activations.shape[0]) - 1
        extent = (view.xs[0], view.xs[-1], view.ys[0], view.ys[-1])
        self.images = []
        for u, ax in enumerate(axes):
            style_axes(ax, theme)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"unit {u + 1}", color=theme.muted, fontsize=TICK, pad=2)
            self.images.append(ax.imshow(self.rgba(epoch, u), extent=extent, origin="lower",
                                         interpolation="bilinear", aspect="auto"))
        self.dynamic = list(self.images)
        self.epoch = epoch

    def rgba(self, epoch: int, unit: int) -> np.ndarray:
        """(G, G, 4) uint8 colours of ``unit``'s outputs at ``epoch``."""
        v = self.view
        return unit_colours(v.activations[epoch, unit], v.vmin, v.vmax)

    def _set(self, epoch: int) -> None:
        for u, image in enumerate(self.images):
            image.set_data(self.rgba(epoch, u))


class UnitStripRenderer(FrameCanvas):
    """Every unit of a layer as a small map, for any epoch; ``png``/``jpeg``/``rgb``.

    Parameters
    ----------
    view : the layer's unit maps (all epochs).
    width : frame width in pixels; the height follows from the number of rows.
    theme : "light" or "dark".
    dpi : dots per inch.

    Attributes
    ----------
    images : AxesImage per unit; artists : the :class:`UnitMapsArtists` holding them.
    """

    def __init__(self, view: UnitMapsView, *, width: int = 1180, theme: str | Theme = "light",
                 dpi: float = 100) -> None:
        n_units = view.n_units
        ncols = min(n_units, MAX_COLUMNS)
        nrows = math.ceil(n_units / ncols)
        cell = min(int(width) / MAX_COLUMNS, 110.0)
        height = int(nrows * (cell + 18) + 40)
        super().__init__((int(width), height), dpi=dpi, theme=theme)
        self.view = view
        self.n_epochs = int(view.activations.shape[0]) - 1
        w, h = self.size
        # Maps of equal size, left-aligned, in pixels converted to figure fractions.
        left, top, gap = 8.0, 30.0, 6.0
        cell = min(cell, (w - left - gap * ncols) / ncols)
        axes = []
        for u in range(n_units):
            r, c = divmod(u, ncols)
            x0 = left + c * (cell + gap)
            y0 = top + r * (cell + 18) + 14
            axes.append(self.figure.add_axes((x0 / w, 1 - (y0 + cell) / h, cell / w, cell / h)))
        self.artists = self._add_panel(UnitMapsArtists(axes, view, self.n_epochs, self.theme))
        self.images = self.artists.images
        lo, hi = view.vmin, view.vmax
        if lo < 0 < hi:
            scale = f"orange {lo:.3g}, white 0, blue {hi:.3g}"
        elif lo >= 0:
            scale = f"white {lo:.3g}, blue {hi:.3g}"
        else:
            scale = f"orange {lo:.3g}, white {hi:.3g}"
        text = f"Units of {view.layer_name}: output over the input space · {scale}"
        self.figure.text(left / w, 1 - 6 / h, text, ha="left", va="top",
                         color=self.theme.muted, fontsize=TICK + 1)
        self._title = self.figure.text(1 - left / w, 1 - 6 / h, "", ha="right", va="top",
                                       color=self.theme.text, fontsize=TICK + 1,
                                       fontweight="bold")

    def _title_text(self, epoch: int) -> str:
        return f"epoch {epoch}"
