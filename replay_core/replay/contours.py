"""Boundary lines as polylines: a straight line clipped to a box, the contours of a grid.

Every boundary a view holds is an (M, 2) array with NaN rows between its pieces, so a
renderer draws it with one line artist whatever its shape.

Example
-------
>>> import numpy as np
>>> clip_line(np.array([1.0, -1.0]), 0.0, (0, 1), (0, 1)).tolist()
[[0.0, 0.0], [1.0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import contourpy
import numpy as np

THRESHOLD = 0.5
"""The probability level a decision boundary is traced at."""


def clip_line(w: np.ndarray, b: float, xlim: Sequence[float],
              ylim: Sequence[float]) -> np.ndarray:
    """The part of the line ``w[0]*x + w[1]*y + b = 0`` inside a box.

    Returns
    -------
    np.ndarray
        (2, 2) end points, or (0, 2) when the line misses the box (or ``w`` is zero).
    """
    (x0, x1), (y0, y1) = (float(v) for v in xlim), (float(v) for v in ylim)
    w0, w1, b = float(w[0]), float(w[1]), float(b)
    norm = np.hypot(w0, w1)
    if not (np.isfinite(norm) and np.isfinite(b)) or norm == 0.0:
        return np.empty((0, 2))
    tol = 1e-9 * max(x1 - x0, y1 - y0)
    points = []
    if abs(w1) > 1e-12 * norm:
        for x in (x0, x1):
            y = -(w0 * x + b) / w1
            if y0 - tol <= y <= y1 + tol:
                points.append((x, min(max(y, y0), y1)))
    if abs(w0) > 1e-12 * norm:
        for y in (y0, y1):
            x = -(w1 * y + b) / w0
            if x0 - tol <= x <= x1 + tol:
                points.append((min(max(x, x0), x1), y))
    if len(points) < 2:
        return np.empty((0, 2))
    pts = np.array(points, dtype=float)
    along = pts @ np.array([-w1, w0])
    segment = pts[[int(np.argmin(along)), int(np.argmax(along))]]
    if np.allclose(segment[0], segment[1]):
        return np.empty((0, 2))
    return segment


class ContourTracer:
    """Traces contours of many ``z[i, j]`` arrays given at ``(xs[j], ys[i])`` on one grid.

    Builds contourpy's serial generator directly (what ``contourpy.contour_generator``
    builds by default) so its input checks are not repeated for every epoch.
    """

    def __init__(self, xs: np.ndarray, ys: np.ndarray) -> None:
        self.xs = np.asarray(xs, dtype=np.float64)
        self.ys = np.asarray(ys, dtype=np.float64)
        self._gx, self._gy = np.meshgrid(self.xs, self.ys)

    def lines(self, z: np.ndarray, level: float = THRESHOLD) -> np.ndarray:
        """The ``level`` contour of ``z`` as (M, 2), NaN rows between pieces."""
        z = np.ascontiguousarray(z, dtype=np.float64)
        if np.isfinite(z).all():
            gen = contourpy.SerialContourGenerator(
                self._gx, self._gy, z, None, corner_mask=True,
                line_type=contourpy.LineType.ChunkCombinedNan,
                fill_type=contourpy.FillType.OuterOffset, quad_as_tri=False,
                z_interp=contourpy.ZInterp.Linear)
        else:
            gen = contourpy.contour_generator(self.xs, self.ys, np.ma.masked_invalid(z),
                                              line_type=contourpy.LineType.ChunkCombinedNan)
        lines = gen.lines(level)[0][0]
        return np.empty((0, 2)) if lines is None else np.asarray(lines, dtype=np.float64)


def joined(pieces: Sequence[np.ndarray]) -> np.ndarray:
    """Polylines (M_i, 2) joined into one (M, 2) array with a NaN row between pieces."""
    parts = [piece for piece in pieces if len(piece)]
    if not parts:
        return np.empty((0, 2))
    gap = np.full((1, 2), np.nan)
    out = [parts[0]]
    for piece in parts[1:]:
        out += [gap, piece]
    return np.concatenate(out)
