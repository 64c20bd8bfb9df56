"""Per-epoch, per-layer histograms kept instead of the values: the violins' source.

A pass over every epoch of a deep, wide run cannot keep its z-values, activations and
gradients (400 MB per quantity for 5 x 100 units x 1000 samples x 101 epochs), so it keeps
a fine histogram of each (epoch, layer) over its own range; the violins on an axis fixed
across epochs, their quartiles and the explainers' counts are read from those.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from replay_core.errors import ViewUnavailableError
from replay_core.replay.internals_views import LABELS, LayerDistributionsView

FINE_BINS = 256
"""Bins of the per-epoch histograms kept by the pass (each over its own range)."""
VIOLIN_BINS = 80
"""Bins of the violins on the fixed axis."""
_TAIL = 0.002
"""Share of values left out at each end when the fixed axis is chosen (outliers)."""


class FineHistograms:
    """Per (epoch, layer) a ``FINE_BINS`` histogram over its own [min, max]: enough to draw
    the distribution on any fixed axis and read its quartiles, without keeping the values.
    """

    def __init__(self, n_states: int, n_layers: int) -> None:
        self.counts = np.zeros((n_states, n_layers, FINE_BINS))
        self.lo = np.zeros((n_states, n_layers))
        self.hi = np.zeros((n_states, n_layers))
        self.std = np.zeros((n_states, n_layers))

    def add(self, epochs: slice, layer: int, values: np.ndarray) -> None:
        """``values`` (epochs in the slice, M): one histogram per row. A row holding
        values that are not finite (a diverged epoch) keeps no histogram: NaN extremes."""
        rows, m = values.shape
        with np.errstate(all="ignore"):
            self._add(epochs, layer, values, rows, m)

    def _add(self, epochs: slice, layer: int, values: np.ndarray, rows: int, m: int) -> None:
        values = values.astype(np.float64, copy=False)
        lo = values.min(axis=1)
        hi = values.max(axis=1)
        bad = ~(np.isfinite(lo) & np.isfinite(hi))
        if bad.any():
            values = np.where(bad[:, None], 0.0, values)
            lo = np.where(bad, np.nan, lo)
            hi = np.where(bad, np.nan, hi)
        self.lo[epochs, layer] = lo
        self.hi[epochs, layer] = hi
        mean = values.sum(axis=1) / m
        square = np.einsum("ij,ij->i", values, values) / m
        self.std[epochs, layer] = np.sqrt(np.maximum(square - mean * mean, 0.0))
        scale = FINE_BINS / np.where(hi > lo, hi - lo, 1.0)
        idx = ((values - lo[:, None]) * scale[:, None]).astype(np.intp)
        np.minimum(idx, FINE_BINS - 1, out=idx)
        np.maximum(idx, 0, out=idx)  # NaN of a diverged run
        idx += (np.arange(rows) * FINE_BINS)[:, None]
        counts = np.bincount(idx.ravel(), minlength=rows * FINE_BINS).reshape(rows, FINE_BINS)
        counts[bad] = 0
        self.counts[epochs, layer] = counts
        if bad.any():
            self.std[epochs, layer] = np.where(bad, np.nan, self.std[epochs, layer])

    def _cumulative(self) -> np.ndarray:
        """(E+1, L, FINE_BINS+1) cumulative shares at the fine bins' edges."""
        total = np.maximum(self.counts.sum(axis=2, keepdims=True), 1.0)
        cum = np.cumsum(self.counts, axis=2) / total
        return np.concatenate([np.zeros(cum.shape[:2] + (1,)), cum], axis=2)

    def cdf(self, x: np.ndarray, layers: slice | int = slice(None)) -> np.ndarray:
        """Share of values at or below each ``x`` (P,), per epoch and layer: (E+1, L', P),
        the histogram's piecewise-linear CDF."""
        cum = self._cumulative()[:, layers]
        lo, hi = self.lo[:, layers][..., None], self.hi[:, layers][..., None]
        width = np.where(hi > lo, hi - lo, 1.0)
        t = (np.asarray(x, dtype=np.float64) - lo) / width * FINE_BINS
        t = np.clip(np.nan_to_num(t, nan=0.0), 0.0, float(FINE_BINS))
        j = np.minimum(t.astype(np.intp), FINE_BINS - 1)
        below = np.take_along_axis(cum, j, axis=-1)
        above = np.take_along_axis(cum, j + 1, axis=-1)
        out = below + (t - j) * (above - below)
        # every value equal: a step at lo
        return np.where(hi > lo, out, (np.asarray(x) >= lo).astype(np.float64))

    def quantiles(self, qs: Sequence[float], layers: slice | int = slice(None)) -> np.ndarray:
        """(E+1, L', Q) the values below which the shares ``qs`` lie."""
        cum = self._cumulative()[:, layers]
        lo, hi = self.lo[:, layers][..., None], self.hi[:, layers][..., None]
        q = np.asarray(qs, dtype=np.float64)
        # first fine edge whose cumulative share reaches q, then linear within the bin
        j = np.argmax(cum[..., None, :] >= q[:, None] - 1e-12, axis=-1)  # (E, L', Q)
        j = np.clip(j, 1, FINE_BINS)
        below = np.take_along_axis(cum, j - 1, axis=-1)
        above = np.take_along_axis(cum, j, axis=-1)
        frac = np.divide(q - below, above - below, out=np.zeros_like(below),
                         where=above > below)
        pos = (j - 1 + np.clip(frac, 0.0, 1.0)) / FINE_BINS
        return lo + pos * (hi - lo)

    def robust_range(self, layer: int | None = None) -> tuple[float, float]:
        layers = slice(None) if layer is None else slice(layer, layer + 1)
        ends = self.quantiles([_TAIL, 1 - _TAIL], layers)
        finite = np.isfinite(ends).all(axis=-1)
        if not finite.any():
            raise ViewUnavailableError("the layer values are not finite numbers at any epoch "
                                       "(the run diverged), so their distributions cannot "
                                       "be drawn")
        lo, hi = float(ends[..., 0][finite].min()), float(ends[..., 1][finite].max())
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        return lo, hi

    def counts_on(self, edges: np.ndarray, layer: int) -> np.ndarray:
        """(E+1, B) counts of ``layer``'s values in ``edges`` (values outside left out),
        moved from the fine bins by linear interpolation of their CDF."""
        cdf = self.cdf(edges, slice(layer, layer + 1))[:, 0]
        return np.diff(cdf, axis=-1) * self.counts[:, layer].sum(axis=-1, keepdims=True)

    def view(self, quantity: str, names: tuple[str, ...], n_shown: int) -> LayerDistributionsView:
        """The violins of the first ``n_shown`` layers, on an axis that fits them."""
        shown = slice(0, n_shown)
        lows, highs = zip(*(self.robust_range(i) for i in range(n_shown)))
        lo, hi = min(lows), max(highs)
        span = hi - lo
        ylim = (lo - 0.04 * span, hi + 0.04 * span)
        edges = np.linspace(ylim[0], ylim[1], VIOLIN_BINS + 1)
        with np.errstate(invalid="ignore"):
            density = np.nan_to_num(np.diff(self.cdf(edges, shown), axis=-1))
        peak = density.max(axis=2, keepdims=True)
        density = np.divide(density, peak, out=np.zeros_like(density), where=peak > 0)
        return LayerDistributionsView(
            quantity=quantity, label=LABELS[quantity], layer_names=names[:n_shown],
            edges=edges, density=density, quartiles=self.quantiles([0.25, 0.5, 0.75], shown),
            extremes=np.stack([self.lo[:, shown], self.hi[:, shown]], axis=-1),
            std=self.std[:, shown].copy(), ylim=ylim)
