"""Fixed 2-D projections of a hidden layer's activations, for the feature space.

A layer with more than 2 units is drawn through a projection fitted once and then
applied unchanged to every epoch, so motion on screen is motion of the network:

- ``("units", i, j)``: two chosen units (0-based), the identity on those units;
- ``"pca"``: the first two principal components of the training inputs' activations at
  one epoch (the last by default); the mean and components stay frozen for every epoch.

Each component's sign is fixed so that its largest-magnitude loading is positive.

Example
-------
>>> import numpy as np
>>> A = np.random.default_rng(0).normal(size=(100, 5))
>>> proj = fit(A, "pca", fit_epoch=3)
>>> proj.apply(A).shape
(100, 2)
>>> proj.axis_labels[0].startswith("PC 1")
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replay_core.errors import NoFeatureLayerError


@dataclass(frozen=True, eq=False)
class Projection:
    """An affine map from a layer's ``U`` units to 2-D: ``(h - mean) @ components.T``.

    Attributes
    ----------
    kind : "units" or "pca".
    units : the two unit indices (0-based) for "units", None for "pca".
    mean : (U,) subtracted first (zeros for "units").
    components : (2, U) rows mapping units to the two axes.
    fit_epoch : the epoch whose activations fitted the PCA (and give the variance figures).
    axis_variance : (2,) share of the layer's total variance at ``fit_epoch`` along each axis.
    """

    kind: str
    units: tuple[int, int] | None
    mean: np.ndarray
    components: np.ndarray
    fit_epoch: int
    axis_variance: np.ndarray

    @property
    def n_units(self) -> int:
        return int(self.components.shape[1])

    @property
    def variance_kept(self) -> float:
        """Share of the layer's total variance at ``fit_epoch`` the two axes carry."""
        return float(np.sum(self.axis_variance))

    @property
    def is_identity(self) -> bool:
        """True for units (0, 1) of a 2-unit layer: the plain feature space."""
        return self.kind == "units" and self.units == (0, 1) and self.n_units == 2

    def apply(self, H: np.ndarray) -> np.ndarray:
        """Project activations ``(..., U)`` to ``(..., 2)``."""
        H = np.asarray(H, dtype=np.float64)
        if self.kind == "units":
            # Indexing, not a product: NaN in another unit must not leak into these two.
            return H[..., list(self.units)]
        return (H - self.mean) @ self.components.T

    def inverse(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(B (2, U), mean)`` with ``h = z @ B + mean`` when the map is invertible
        (a 2-unit layer), else None: only then is a boundary in this plane exact."""
        if self.n_units != 2:
            return None
        try:
            B = np.linalg.inv(self.components.T)
        except np.linalg.LinAlgError:
            return None
        return B, self.mean

    @property
    def axis_labels(self) -> tuple[str, str]:
        if self.kind == "units":
            return tuple(f"unit {u + 1}" for u in self.units)  # type: ignore[return-value]
        return tuple(f"PC {k + 1} ({_pct(v)} of variance)"  # type: ignore[return-value]
                     for k, v in enumerate(self.axis_variance))

    @property
    def label(self) -> str:
        """What the plane is, for a panel title; empty for the plain 2-unit feature space."""
        if self.is_identity:
            return ""
        if self.kind == "units":
            i, j = (u + 1 for u in self.units)
            return (f"units {i}, {j} of {self.n_units}: {_pct(self.variance_kept)} of "
                    f"variance (epoch {self.fit_epoch})")
        return (f"PCA of {self.n_units} units (epoch {self.fit_epoch}): "
                f"{_pct(self.variance_kept)} of variance")


def _pct(share: float) -> str:
    if not np.isfinite(share):
        return "n/a"
    return f"{100 * share:.0f}%" if share < 0.995 or share == 1.0 else f"{100 * share:.1f}%"


def parse(projection, n_units: int, where: str = "this layer") -> tuple[str, tuple | None]:
    """Check a projection argument for a layer of ``n_units``; return ``(kind, units)``.

    ``None`` picks the default: units (0, 1) of a 2-unit layer, PCA of a wider one.

    Raises
    ------
    NoFeatureLayerError
        An unknown projection, unit indices out of range or equal, or a 1-unit layer.
    """
    if n_units < 2:
        raise NoFeatureLayerError(
            f"{where} has {n_units} unit; the feature space needs a layer of at least 2 units")
    if projection is None:
        return ("units", (0, 1)) if n_units == 2 else ("pca", None)
    if isinstance(projection, str) and projection.lower() == "pca":
        return "pca", None
    if isinstance(projection, str) and projection.lower() == "units" and n_units == 2:
        return "units", (0, 1)
    if (isinstance(projection, (tuple, list)) and len(projection) == 3
            and projection[0] == "units"):
        try:
            i, j = (int(projection[1]), int(projection[2]))
        except (TypeError, ValueError):
            i = j = -1
        if not (0 <= i < n_units and 0 <= j < n_units) or i == j:
            raise NoFeatureLayerError(
                f"{where} has units 0..{n_units - 1}; a two-unit projection needs two "
                f"different ones, got {projection[1]!r} and {projection[2]!r}")
        return "units", (i, j)
    raise NoFeatureLayerError(
        f"projection must be 'pca' or ('units', i, j), got {projection!r}")


def fit(A: np.ndarray, projection=None, fit_epoch: int = 0,
        where: str = "this layer") -> Projection:
    """The projection ``projection`` fitted on activations ``A`` (N, U) of ``fit_epoch``.

    For "units" the fit only gives the variance figure: the share of the total variance
    (sum of every unit's variance) that the two units carry.
    """
    A = np.asarray(A, dtype=np.float64)
    n_units = A.shape[1]
    kind, units = parse(projection, n_units, where)
    finite = A[np.isfinite(A).all(axis=1)]
    mean = finite.mean(axis=0) if len(finite) else np.zeros(n_units)
    centred = finite - mean
    unit_var = (centred ** 2).sum(axis=0) / max(len(finite) - 1, 1)
    total = float(unit_var.sum())
    if kind == "units":
        components = np.zeros((2, n_units))
        components[0, units[0]] = components[1, units[1]] = 1.0
        share = unit_var[list(units)] / total if total > 0 else np.zeros(2)
        return Projection("units", units, np.zeros(n_units), components, int(fit_epoch),
                          share)
    if len(finite) >= 2 and total > 0:
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        components = vt[:2].copy()
        share = (s[:2] ** 2 / max(len(finite) - 1, 1)) / total
    else:  # no spread to analyse: the first two units, nothing explained
        components = np.eye(2, n_units)
        share = np.zeros(2)
    if len(share) < 2:
        share = np.r_[share, np.zeros(2 - len(share))]
        components = np.vstack([components, np.eye(2, n_units)[len(components):]])
    # Sign convention: each component's largest-magnitude loading is positive.
    flip = np.sign(components[np.arange(2), np.argmax(np.abs(components), axis=1)])
    components *= np.where(flip == 0, 1.0, flip)[:, None]
    return Projection("pca", None, mean, components, int(fit_epoch), share)
