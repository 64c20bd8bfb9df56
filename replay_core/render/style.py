"""How every frame looks: themes, class colours, font sizes and the styling of an Axes.

Shared by all renderers (the single-run frame, compare, unit strip, layer internals,
landscape) so a panel looks the same wherever it is drawn. No pyplot and no rcParams:
every colour and size is passed explicitly, so drawing is safe in a multi-threaded server.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colorbar import Colorbar
from matplotlib.colors import LinearSegmentedColormap, to_rgb
from matplotlib.legend import Legend

from replay_core.errors import RenderError, ViewUnavailableError

__all__ = [
    "CLASS_PALETTE",
    "DARK",
    "LABEL",
    "LIGHT",
    "SUPTITLE",
    "TICK",
    "TITLE",
    "Theme",
    "class_colours",
    "class_lut",
    "class_masks",
    "class_regions_rgba",
    "draw_note",
    "fix_limits",
    "hist_top",
    "mute_legend",
    "probability_colormap",
    "probability_rgba",
    "short_label",
    "style_axes",
    "style_colorbar",
    "theme_of",
]

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
CLASS0 = "#E69F00"
CLASS1 = "#0072B2"
WRONG = "#D55E00"
ACCURACY = "#009E73"
CURRENT = "#CC79A7"
CLASS_PALETTE = (CLASS0, CLASS1, "#009E73", "#CC79A7", "#56B4E9", "#9C755F", "#AA4499",
                 "#44AA99", "#999933", "#DDCC77")
"""Colours of classes 0..9 (classes 0 and 1 as in a binary run): Okabe-Ito's, then Paul
Tol's muted ones; mid-tones that read on both the light and the dark background."""


@dataclass(frozen=True)
class Theme:
    """Colours of a figure; class colours are shared by both themes.

    Example
    -------
    >>> FrameRenderer(views, theme=DARK)                       # doctest: +SKIP
    """

    name: str
    background: str
    text: str
    muted: str
    spine: str
    grid_line: str
    boundary: str
    hatch: str
    loss: str
    accuracy: str = ACCURACY
    current: str = CURRENT
    class0: str = CLASS0
    class1: str = CLASS1
    wrong: str = WRONG


LIGHT = Theme(name="light", background="#ffffff", text="#262730", muted="#5c606b",
              spine="#b9bcc4", grid_line="#a9adb6", boundary="#111111",
              hatch="#ffffff", loss="#262730")
DARK = Theme(name="dark", background="#0e1117", text="#fafafa", muted="#b3b8c4",
             spine="#4b5160", grid_line="#5a6070", boundary="#fafafa",
             hatch="#0e1117", loss="#fafafa")

# Font sizes in points; at the default 100 dpi they suit a 1280x720 frame.
TITLE = 11.0
LABEL = 9.0
TICK = 8.0
SUPTITLE = 13.0


def theme_of(theme: str | Theme) -> Theme:
    """``theme`` itself, or the theme named "light" or "dark"."""
    if isinstance(theme, Theme):
        return theme
    if theme == "light":
        return LIGHT
    if theme == "dark":
        return DARK
    raise RenderError(f"theme must be 'light' or 'dark', got {theme!r}")


def probability_colormap() -> LinearSegmentedColormap:
    """Diverging colormap for P(y=1): light class-0 orange, white at 0.5, light class-1 blue."""
    return LinearSegmentedColormap.from_list(
        "replay_probability", [(0.0, "#e8a72a"), (0.25, "#f6d38f"), (0.5, "#ffffff"),
                               (0.75, "#9cc7e6"), (1.0, "#2b86c5")])


_PROBABILITY_LUT = probability_colormap()(np.linspace(0.0, 1.0, 256), bytes=True)


def probability_rgba(probabilities: np.ndarray) -> np.ndarray:
    """(..., 4) uint8 colours of P(y=1) values through :func:`probability_colormap`
    (a lookup table: much cheaper than Matplotlib's resampled colour mapping)."""
    p = np.nan_to_num(np.asarray(probabilities, float), nan=0.5)
    return _PROBABILITY_LUT[np.rint(np.clip(p, 0.0, 1.0) * 255.0).astype(np.intp)]


def class_lut(colours: Sequence[str], strength: float = 0.8) -> np.ndarray:
    """(k, 256, 4) uint8: class ``c`` at certainty ``i / 255``, from white (a tie) to
    ``strength`` of the class colour (sure)."""
    t = np.linspace(0.0, 1.0, 256)[None, :, None] * strength
    rgb = np.array([to_rgb(c) for c in colours])[:, None, :]
    mixed = (1.0 - t) * 1.0 + t * rgb
    alpha = np.ones(mixed.shape[:2] + (1,))
    return np.rint(np.concatenate([mixed, alpha], axis=-1) * 255.0).astype(np.uint8)


def class_regions_rgba(lut: np.ndarray, winners: np.ndarray,
                       probabilities: np.ndarray) -> np.ndarray:
    """(..., 4) uint8 colours of k-class regions: the winning class's colour from
    ``lut`` (see :func:`class_lut`), deeper as its probability rises from 1/k to 1."""
    k = len(lut)
    p = np.nan_to_num(np.asarray(probabilities, float), nan=1.0 / k)
    sure = np.clip((p - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)
    return lut[np.asarray(winners).astype(np.intp), np.rint(sure * 255.0).astype(np.intp)]


def class_colours(theme: Theme, n_classes: int) -> list[str]:
    """The colours of classes ``0 .. n_classes - 1`` (the theme's two for a binary run)."""
    if n_classes > len(CLASS_PALETTE):
        raise ViewUnavailableError(
            f"at most {len(CLASS_PALETTE)} classes can be drawn, got {n_classes}")
    return [theme.class0, theme.class1, *CLASS_PALETTE[2:]][:max(n_classes, 2)]


def class_masks(targets: np.ndarray) -> tuple[np.ndarray, ...]:
    """Boolean masks of the samples of each class: below/at-or-above 0.5 for 0/1 targets,
    ``targets == c`` for class indices up to ``k - 1 > 1``."""
    t = np.asarray(targets).reshape(-1)
    k = int(np.nanmax(t)) + 1 if t.size else 2
    if k <= 2:
        return (t < 0.5, t >= 0.5)
    return tuple(t == c for c in range(k))


def style_axes(ax: Axes, theme: Theme, title: str | None = None) -> None:
    """Background, spines, ticks and labels of ``ax`` in the theme's colours."""
    ax.set_facecolor(theme.background)
    for spine in ax.spines.values():
        spine.set_color(theme.spine)
        spine.set_linewidth(0.8)
    ax.tick_params(colors=theme.spine, labelcolor=theme.muted, labelsize=TICK, length=3,
                   width=0.8, pad=2)
    ax.xaxis.label.set(color=theme.muted, fontsize=LABEL)
    ax.yaxis.label.set(color=theme.muted, fontsize=LABEL)
    if title is not None:
        ax.set_title(title, color=theme.text, fontsize=TITLE, pad=5)


def style_colorbar(bar: Colorbar, theme: Theme) -> None:
    """A colour bar's outline and ticks in the theme's colours."""
    bar.outline.set_edgecolor(theme.spine)
    bar.ax.tick_params(colors=theme.spine, labelcolor=theme.muted, labelsize=TICK,
                       length=2, pad=1)


def mute_legend(legend: Legend, theme: Theme) -> Legend:
    """The legend's texts in the theme's muted colour; returns ``legend``."""
    for text in legend.get_texts():
        text.set_color(theme.muted)
    return legend


def fix_limits(ax: Axes, xlim: Sequence[float], ylim: Sequence[float]) -> None:
    """Fix the axes limits (no autoscale), so motion on screen is motion of the data."""
    ax.set_xlim(float(xlim[0]), float(xlim[1]))
    ax.set_ylim(float(ylim[0]), float(ylim[1]))
    ax.set_autoscale_on(False)


def hist_top(ymax: float) -> float:
    """The top of a histogram axis whose tallest bar over all epochs is ``ymax``."""
    return float(ymax) * 1.05 if ymax > 0 else 1.0


def short_label(name: str, limit: int = 12) -> str:
    """``name`` cut to ``limit`` characters with an ellipsis, for titles and legends."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


def draw_note(ax: Axes, title: str, note: str, theme: Theme, width_px: float) -> None:
    """An empty panel that says why it is empty, wrapped to the panel's width."""
    style_axes(ax, theme, title)
    ax.set_xticks([])
    ax.set_yticks([])
    fontsize = LABEL + 1
    char_px = fontsize * ax.figure.dpi / 72.0 * 0.55
    text = textwrap.fill(note or f"{title}: not available for this run.",
                         width=max(16, int(width_px * 0.85 / char_px)))
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
            color=theme.muted, fontsize=fontsize, linespacing=1.4)
