"""Axis ranges fixed over every epoch, and the epochs of a run that blew up.

A view's limits are computed once over all epochs so motion on screen is motion of the
network. They are fitted on the bulk of the values (``robust_range``) and on the epochs
that did not blow up (``tame_epochs``): one epoch at 1e24 would otherwise squeeze every
other epoch into a dot. The samples of the epochs left out are moved onto the panel's
edge (``pull_inside``), in the direction they flew off, so every epoch shows them.

Example
-------
>>> import numpy as np
>>> tame_epochs(np.array([1.0, 2.0, 1.5, 80.0, np.inf])).tolist()
[True, True, True, False, False]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from replay_core.data import activations
from replay_core.replay.forward import Network

OVERFLOW = 1e6
"""Values of larger magnitude mean the network blew up."""
BLOW_UP = 20.0
"""An epoch whose largest value is this many times the run's typical (median) epoch's
has blown up too. Such epochs are left out when fitting projections and axis ranges, so
the epochs before them stay readable."""
_EDGE = 1.0 - 1e-3
"""Where ``pull_inside`` puts a point, as a share of the way from the centre to the edge:
a hair inside, so the point is drawn."""


def padded_range(values: np.ndarray, margin: float) -> tuple[float, float]:
    """``[min, max]`` of the finite values widened by ``margin`` of the span on each side."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return -1.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    if hi == lo:  # all values equal: a unit-sized window around them
        pad = max(abs(lo) * 0.1, 0.5)
    else:
        pad = (hi - lo) * margin
    return lo - pad, hi + pad


def robust_range(values: np.ndarray, margin: float = 0.05) -> tuple[float, float]:
    """Limits covering the values but not their outliers, widened by ``margin``.

    The 0.5th..99.5th percentiles are extended to the true extremes when those lie
    within half that span beyond, so a cloud without outliers is shown whole.
    """
    v = values[np.isfinite(values)]
    if v.size == 0:
        return -1.0, 1.0
    if v.size > 4_000_000:  # percentiles of an even subsample are as good, and faster
        v = v[:: v.size // 2_000_000]
    p_lo, p_hi = (float(q) for q in np.percentile(v, [0.5, 99.5]))
    span = p_hi - p_lo
    lo = max(float(v.min()), p_lo - 0.5 * span)
    hi = min(float(v.max()), p_hi + 0.5 * span)
    pad = (hi - lo) * margin if hi > lo else max(abs(lo) * 0.1, 0.5)
    return lo - pad, hi + pad


def epoch_scales(values: np.ndarray) -> np.ndarray:
    """(E+1,) the largest magnitude of each epoch's values (first axis); inf when any is
    not finite."""
    v = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    finite = np.isfinite(v).all(axis=1)
    scale = np.abs(np.where(np.isfinite(v), v, 0.0)).max(axis=1, initial=0.0)
    return np.where(finite, scale, np.inf)


def tame_epochs(scales: np.ndarray) -> np.ndarray:
    """(E+1,) bool: the epochs whose scale (see ``epoch_scales``) is finite, within
    ``OVERFLOW`` and within ``BLOW_UP`` times the median of those."""
    scales = np.asarray(scales, dtype=np.float64)
    ok = np.isfinite(scales) & (scales <= OVERFLOW)
    if ok.any():
        typical = float(np.median(scales[ok]))
        if typical > 0:
            ok &= scales <= BLOW_UP * typical
    return ok


def overflow_note(scales: np.ndarray, on_edge: bool = False) -> str:
    """One sentence naming the epochs left out of the ranges, or empty when none are;
    ``on_edge`` adds that their samples are drawn on the edge (``pull_inside``)."""
    scales = np.asarray(scales, dtype=np.float64)
    bad = np.flatnonzero(~tame_epochs(scales))
    if bad.size == 0:
        return ""
    shown = ", ".join(str(e) for e in bad[:4]) + (" and later" if bad.size > 4 else "")
    top = scales[bad].max()
    size = "values overflow" if not np.isfinite(top) else f"values up to {top:.1e}"
    return (f"The network blew up at epoch{'s' if bad.size > 1 else ''} {shown} ({size}); "
            "axes fit the other epochs"
            + (", and samples beyond them are drawn on the edge" if on_edge else ""))


def pull_inside(points: np.ndarray, xlim: Sequence[float], ylim: Sequence[float],
                epochs: np.ndarray) -> np.ndarray:
    """``points`` (E+1, ..., 2) with, at the chosen ``epochs`` ((E+1,) bool), every point
    outside the box moved onto its edge along the line from the box's centre.

    A run that blew up keeps its samples on screen at every epoch, placed where they left
    the panel. Infinite coordinates count as very far; NaN points stay NaN (they have no
    direction).
    """
    out = np.array(points, dtype=np.float64)
    chosen = np.asarray(epochs, dtype=bool)
    if not chosen.any():
        return out
    centre = np.array([(xlim[0] + xlim[1]) / 2.0, (ylim[0] + ylim[1]) / 2.0])
    half = np.array([(xlim[1] - xlim[0]) / 2.0, (ylim[1] - ylim[0]) / 2.0]) * _EDGE
    with np.errstate(all="ignore"):
        d = np.nan_to_num(out[chosen] - centre, nan=np.nan, posinf=1e300, neginf=-1e300)
        reach = np.max(np.abs(d) / half, axis=-1)
        scale = np.where(reach > 1.0, 1.0 / reach, 1.0)
        out[chosen] = centre + d * scale[..., None]
    return out


def layer_range(network: Network, i: int) -> tuple[float, float] | None:
    """The bounded output range of layer ``i`` (looking through identity layers)."""
    for layer in reversed(network.layers[: i + 1]):
        if not layer.is_identity:
            rng = activations.output_range(layer.activation_name)
            # A wide bound such as relu6's would leave most of the panel empty.
            return rng if rng is not None and rng[1] - rng[0] <= 2.0 else None
    return None
