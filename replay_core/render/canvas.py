"""The frame machinery every renderer shares, and the panel protocol it drives.

A renderer (the single-run frame, compare, unit strip, layer internals, landscape strip)
is a :class:`FrameCanvas`: one Figure on an Agg canvas of exactly ``size`` pixels, panels
that follow :class:`PanelArtists` (they move their artists to an epoch, nothing else), a
background with everything that does not move drawn once and cached, and per frame a
restore of that background plus a draw of the moving artists only (Agg blitting). The
frame then leaves as an RGB array, PNG or JPEG.

Also here, in one place: checking an epoch, a frame size and a list of panel names.
"""

from __future__ import annotations

import io
import operator
import threading
from collections.abc import Mapping, Sequence
from typing import ClassVar, Protocol

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from replay_core.errors import RenderError
from replay_core.render.style import Theme, theme_of

__all__ = [
    "MAX_FRAME",
    "MIN_FRAME",
    "FrameCanvas",
    "PanelArtists",
    "ViewArtists",
    "check_epoch",
    "frame_size",
    "parse_names",
]

MIN_FRAME = (80, 60)
"""Smallest frame a renderer draws (width, height) in pixels."""
MAX_FRAME = (7680, 4320)
"""Largest frame a renderer draws: 8K, 130 MB of RGBA, bounded before any allocation."""


def check_epoch(epoch: int, n_epochs: int) -> int:
    """``epoch`` as an int within ``0..n_epochs``; TypeError or ValueError otherwise."""
    try:
        e = operator.index(epoch)
    except TypeError:
        raise TypeError(f"epoch must be an integer, got {epoch!r}") from None
    if not 0 <= e <= n_epochs:
        raise RenderError(f"epoch {e} is out of range 0..{n_epochs}")
    return e


def frame_size(size: Sequence[int], minimum: Sequence[int] = MIN_FRAME,
               maximum: Sequence[int] = MAX_FRAME, what: str = "size") -> tuple[int, int]:
    """``size`` as ``(width, height)`` ints within ``minimum .. maximum``.

    Raises
    ------
    RenderError
        Not two integers (``size must be (width, height) in pixels, got ...``) or out of
        bounds (``{what} 10x10 is outside 80x60 .. 7680x4320``).
    """
    try:
        w, h = (operator.index(v) for v in size)
    except (TypeError, ValueError):
        raise RenderError(f"size must be (width, height) in pixels, got {size!r}") from None
    (w0, h0), (w1, h1) = minimum, maximum
    if not (w0 <= w <= w1 and h0 <= h <= h1):
        raise RenderError(f"{what} {w}x{h} is outside {w0}x{h0} .. {w1}x{h1}")
    return w, h


def parse_names(names: str | Sequence[str], known: Sequence[str], *, noun: str = "panel",
                flag: str | None = None,
                groups: Mapping[str, Sequence[str]] | None = None) -> tuple[str, ...]:
    """Panel names from ``"a,b"`` or a sequence, each in ``known``, none twice, at least one.

    ``groups`` maps a name to the names it stands for (``"layers"`` -> the default layer
    panels); ``noun`` and ``flag`` (a command-line option) word the messages, e.g.
    ``unknown view 'foo' in --views; choose from feature_space, ...``.
    """
    groups = groups or {}
    raw = names.split(",") if isinstance(names, str) else list(names)
    choices = ", ".join([*groups, *known])
    subject = flag or f"{noun}s"
    out: list[str] = []
    for name in (str(n).strip() for n in raw):
        if not name:
            continue
        for n in groups.get(name, (name,)):
            if n not in known:
                where = f" in {flag}" if flag else ""
                raise RenderError(f"unknown {noun} {n!r}{where}; choose from {choices}")
            if n in out:
                raise RenderError(f"{subject} must not repeat a name: {n!r} is listed twice")
            out.append(n)
    if not out:
        raise RenderError(f"{subject} must name at least one of {choices}")
    return tuple(out)


class PanelArtists(Protocol):
    """What a renderer needs of a panel: the artists that move and a way to move them.

    ``update(epoch)`` changes artist data only, never the axes, so the cached background
    stays valid; ``dynamic`` lists the artists it changes, in drawing order.
    """

    n_epochs: int
    epoch: int
    dynamic: list[Artist]

    def update(self, epoch: int) -> None: ...


class ViewArtists:
    """Base of the panels: ``update`` checks the epoch, ``_set`` moves the artists.

    ``n_axes`` is how many Axes the constructor takes before the view; ``context`` names
    the keyword arguments it takes beyond ``(axes..., view, epoch, theme)`` (what a panel
    needs of the run besides its own view: the confusion matrix, the events...).
    """

    n_axes: ClassVar[int] = 1
    context: ClassVar[tuple[str, ...]] = ()
    n_epochs: int
    epoch: int
    dynamic: list[Artist]

    def update(self, epoch: int) -> None:
        """Move the artists to ``epoch``; only their data changes, never the axes."""
        e = check_epoch(epoch, self.n_epochs)
        self._set(e)
        self.epoch = e

    def _set(self, epoch: int) -> None:
        raise NotImplementedError


class FrameCanvas:
    """A figure of panels rendered per epoch by blitting; ``update``, ``rgb``, ``png``, ``jpeg``.

    A renderer calls ``__init__`` first (figure and canvas of exactly ``size``), adds its
    panels with :meth:`_add_panel` (and extra moving artists to ``_moving``), may set
    ``_title`` (a Text whose ``_title_text(epoch)`` changes per frame) and sets
    ``n_epochs``. A panel with fewer epochs than the renderer stays on its last one.
    Thread-safe: one lock guards the figure.

    Parameters
    ----------
    size : (width, height) of the frame in pixels (checked by :func:`frame_size`).
    dpi : dots per inch; text and line sizes are in points.
    theme : "light", "dark" or a :class:`~replay_core.render.style.Theme`.
    layout : None for no layout engine (the renderer places its axes), else the
        constrained layout's settings (``{}`` for its defaults; ``pad_px`` sets both pads
        in pixels).
    """

    n_epochs: int

    def __init__(self, size: Sequence[int], *, dpi: float, theme: str | Theme,
                 layout: Mapping[str, float] | None = None) -> None:
        self.size = frame_size(size)
        if not dpi or dpi <= 0:
            raise RenderError(f"dpi must be positive, got {dpi!r}")
        self.theme = theme_of(theme)
        self._lock = threading.Lock()
        self._background = None
        self._shown: int | None = None
        self._panels: list[PanelArtists] = []
        self._moving: list[Artist] = []
        self._title: Text | None = None
        # Rendering text costs ~4 ms a frame; each epoch's title is rendered once and kept
        # as pixels (a few kB each).
        self._title_pixels: dict[int, object] = {}
        w, h = self.size
        self.figure = Figure(figsize=(w / dpi, h / dpi), dpi=dpi,
                             facecolor=self.theme.background,
                             layout=None if layout is None else "constrained")
        if layout:
            settings = dict(layout)
            pad = settings.pop("pad_px", None)
            if pad is not None:  # the same margin in pixels at any dpi
                settings.update(w_pad=pad / dpi, h_pad=pad / dpi)
            self.figure.get_layout_engine().set(**settings)
        self.canvas = FigureCanvasAgg(self.figure)
        # Agg truncates width*dpi/dpi; nudge the inches so the canvas is exactly size.
        if self.canvas.get_width_height() != (w, h):
            self.figure.set_size_inches((w + 0.25) / dpi, (h + 0.25) / dpi)
        if self.canvas.get_width_height() != (w, h):
            raise RenderError(f"cannot make a {w}x{h} canvas at dpi {dpi}")

    def _add_panel(self, artists: PanelArtists) -> PanelArtists:
        """Register a panel: it moves with the epoch and its dynamic artists are blitted."""
        self._panels.append(artists)
        self._moving.extend(artists.dynamic)
        return artists

    def _title_text(self, epoch: int) -> str:
        return f"Epoch {epoch} / {self.n_epochs}"

    # --- per frame ----------------------------------------------------------------------
    def _set_epoch(self, epoch: int) -> None:
        """Move every panel (and the title) to ``epoch`` without drawing."""
        for artists in self._panels:
            artists.update(min(epoch, artists.n_epochs))
        if self._title is not None:
            self._title.set_text(self._title_text(epoch))

    def _ensure_background(self) -> None:
        if self._background is not None:
            return
        for artist in self._moving:
            artist.set_animated(True)
        if self._title is not None:
            self._title.set_animated(True)
        self.canvas.draw()
        # The layout is computed once; later draws must not move the axes under the cache.
        self.figure.set_layout_engine("none")
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)

    def _render(self, epoch: int) -> None:
        e = check_epoch(epoch, self.n_epochs)
        self._ensure_background()
        if self._shown == e:
            return
        self._set_epoch(e)
        self.canvas.restore_region(self._background)
        if self._title is not None:
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

    def _image(self):
        from PIL import Image

        w, h = self.size
        # Pillow drops the alpha byte in C; numpy's [..., :3] copy is ~20x slower.
        return Image.frombytes("RGB", (w, h), self.canvas.buffer_rgba(), "raw", "RGBX")

    # --- output -------------------------------------------------------------------------
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
