"""The loss landscape around the optimizer's path, in the plane of the weight trajectory.

Every epoch's weights, all layers flattened into one vector, form the trajectory of the
run through weight space. A PCA of that trajectory (its ``E+1`` points) gives the plane
that keeps most of its motion: the centre is the mean weight vector and the axes are the
first two principal directions. Each grid point ``(a, b)`` of that plane is a full set of
weights, ``centre + a * d1 + b * d2``; the loss there is the cross-entropy of those
weights on the training data, computed for every grid point at once by the same
vectorised forward pass replay uses for the epochs (grid points take the place of
epochs). The path is each epoch's weights projected on the plane.

Example
-------
>>> from replay_core.replay.replayer import Replay          # doctest: +SKIP
>>> view = loss_landscape(Replay("runs.h5", "sigmoid"))      # doctest: +SKIP
>>> view.loss.shape, view.path.shape                         # doctest: +SKIP
((41, 41), (151, 2))
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from replay_core.errors import ViewUnavailableError
from replay_core.replay.forward import Network

if TYPE_CHECKING:
    from replay_core.replay.replayer import Replay
    from replay_core.replay.views import ReplayViews

__all__ = ["GRID_SIZE", "LandscapeView", "loss_landscape", "plane_loss", "trajectory_pca",
           "unflatten", "with_landscape"]

GRID_SIZE = 41
"""Grid points along each axis of the plane."""
MARGIN = 0.25
"""Share of the path's extent added around it on every side."""
MIN_GRID = 11
"""The grid never gets coarser than this, however large the network."""
MIN_SAMPLES = 200
"""A large run's grid averages the loss over at least this many training samples."""
WORK_BUDGET = 1.5e9
"""Grid points x samples x parameters one landscape may cost (the reference run's 41 x 41
grid costs 3e7); past it the grid is made coarser, then the samples thinned evenly."""
LEVELS = 16
"""Filled contour bands."""


@dataclass(frozen=True)
class LandscapeView:
    """The loss over the plane of a run's weight trajectory, and the path through it.

    Attributes
    ----------
    run_name : the run shown.
    centre : (P,) mean over every epoch of the flattened weights (all layers, kernel then
        bias, each in C order).
    directions : (2, P) the trajectory's first two principal directions (unit vectors).
    variance_ratio : (2,) share of the trajectory's variance along each direction.
    path : (E+1, 2) every epoch's weights in the plane, ``(w - centre) @ directions.T``.
    path_loss : (E+1,) the loss of every epoch's own weights (not projected).
    xs : (G,) and ys : (G,) the grid's coordinates along the two directions.
    loss : (G, G) the loss of ``centre + xs[j] * d1 + ys[i] * d2`` -> ``loss[i, j]``.
    levels : (L+1,) edges of the filled contour bands (log-spaced; the last band is open
        above).
    xlim, ylim : fixed limits (the grid's extent).
    loss_name : which loss ("binary cross-entropy", "categorical cross-entropy").
    samples_used : training samples the grid's loss averages over (all but for runs too
        large to evaluate on every sample; then an evenly spaced subset).
    n_samples : training samples of the run.
    """

    run_name: str
    centre: np.ndarray
    directions: np.ndarray
    variance_ratio: np.ndarray
    path: np.ndarray
    path_loss: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    loss: np.ndarray
    levels: np.ndarray
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    loss_name: str
    samples_used: int
    n_samples: int

    @property
    def n_epochs(self) -> int:
        """Epochs of the path (weight states minus the initial one)."""
        return int(self.path.shape[0]) - 1

    @property
    def variance_kept(self) -> float:
        """Share of the trajectory's variance the plane keeps."""
        return float(np.sum(self.variance_ratio))

    def weights_at(self, a: float, b: float) -> np.ndarray:
        """(P,) the flattened weights at point ``(a, b)`` of the plane."""
        return self.centre + a * self.directions[0] + b * self.directions[1]


def trajectory_pca(trajectory: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre, first two principal directions and their variance ratios of a trajectory.

    Parameters
    ----------
    trajectory : (S, P) one flattened weight vector per state.

    Returns
    -------
    centre : (P,) the mean; directions : (2, P) unit rows, signed as scikit-learn's PCA
    signs them (the largest entry of each direction is positive); variance_ratio : (2,)
    each direction's share of the total variance (0 when the trajectory has no motion
    along it, whose direction is then any unit vector orthogonal to the first).
    """
    W = np.asarray(trajectory, dtype=np.float64)
    if W.ndim != 2 or W.shape[1] < 2:
        raise ViewUnavailableError("a loss landscape needs a network of at least 2 weights")
    centre = W.mean(axis=0)
    _, s, vt = np.linalg.svd(W - centre, full_matrices=False)
    variance = s**2
    total = float(variance.sum())
    directions = np.zeros((2, W.shape[1]))
    ratio = np.zeros(2)
    for k in range(2):
        if k < len(s) and total > 0 and variance[k] > total * 1e-24:
            d = vt[k]
            ratio[k] = variance[k] / total
        else:  # no motion along it: any unit vector orthogonal to the ones before
            d = np.zeros(W.shape[1])
            d[k] = 1.0
            for prev in directions[:k]:
                d -= (d @ prev) * prev
            if np.linalg.norm(d) < 1e-12:
                d = np.ones(W.shape[1]) - np.sum(directions[:k], axis=0)
            d /= np.linalg.norm(d)
        d = d * (1.0 if d[np.argmax(np.abs(d))] >= 0 else -1.0)
        directions[k] = d
    return centre, directions, ratio


def _dense_layers(network: Network) -> list[int]:
    return [i for i, layer in enumerate(network.layers) if layer.has_weights]


def flatten(network: Network) -> np.ndarray:
    """(E+1, P) every epoch's weights, layer by layer, kernel then bias, each in C order."""
    parts = []
    for i in _dense_layers(network):
        layer = network.layers[i]
        parts.append(layer.kernel.reshape(network.n_states, -1))
        if layer.bias is not None:
            parts.append(layer.bias.reshape(network.n_states, -1))
    return np.concatenate(parts, axis=1)


def unflatten(vectors: np.ndarray, network: Network) -> Network:
    """The network of ``network``'s layers with weights ``vectors`` (S, P), one state each
    (the inverse of :func:`flatten` for any number of states)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    n = vectors.shape[0]
    layers = list(network.layers)
    at = 0
    for i in _dense_layers(network):
        layer = layers[i]
        shape = layer.kernel.shape[1:]
        size = int(np.prod(shape))
        kernel = vectors[:, at:at + size].reshape(n, *shape)
        at += size
        bias = None
        if layer.bias is not None:
            bias = vectors[:, at:at + layer.units]
            at += layer.units
        layers[i] = replace(layer, kernel=kernel, bias=bias)
    if at != vectors.shape[1]:
        raise ViewUnavailableError(f"weight vectors of {vectors.shape[1]} values do not fit a "
                                   f"network of {at} weights")
    return Network(layers, input_dim=network.input_dim)


def _mean_loss(output: np.ndarray, targets: np.ndarray) -> np.ndarray:
    from replay_core.replay.replayer import binary_crossentropy, categorical_crossentropy

    if output.shape[-1] == 1:
        return binary_crossentropy(targets, output[..., 0]).mean(axis=-1)
    return categorical_crossentropy(targets, output).mean(axis=-1)


def plane_loss(network: Network, centre: np.ndarray, directions: np.ndarray,
               xs: np.ndarray, ys: np.ndarray, inputs: np.ndarray,
               targets: np.ndarray) -> np.ndarray:
    """The mean cross-entropy of the weights ``centre + xs[j] d1 + ys[i] d2`` on the data.

    Parameters
    ----------
    network : the run's network (its layers and activations; its weights are not used).
    centre : (P,); directions : (2, P); xs : (Gx,); ys : (Gy,).
    inputs : (N, d); targets : (N,) class indices (0/1 for a sigmoid output).

    Returns
    -------
    np.ndarray
        (Gy, Gx) the loss at every grid point: binary cross-entropy for one sigmoid output
        unit, categorical cross-entropy for a softmax layer (clipped as Keras clips).
    """
    gx, gy = np.meshgrid(np.asarray(xs, float), np.asarray(ys, float))
    points = centre + gx.reshape(-1, 1) * directions[0] + gy.reshape(-1, 1) * directions[1]
    grid_net = unflatten(points, network)
    out = grid_net.forward(inputs)  # grid points play the epochs: (G*G, N, units)
    return _mean_loss(out, np.asarray(targets, float)).reshape(gx.shape)


def _window(path: np.ndarray, scale: float, margin: float) -> tuple[float, float, float]:
    """Centre x, centre y and half-width of a square window around the path: the same
    extent along both directions, so the picture is not stretched along the minor one."""
    lo, hi = path.min(axis=0), path.max(axis=0)
    half = 0.5 * float(np.max(hi - lo)) * (1.0 + 2.0 * margin)
    if not half > 0.0:  # a path that does not move: a window scaled to the weights
        half = max(0.1 * scale, 1e-3)
    mid = 0.5 * (lo + hi)
    return float(mid[0]), float(mid[1]), half


def _levels(loss: np.ndarray, path_loss: np.ndarray) -> np.ndarray:
    finite = loss[np.isfinite(loss)]
    if finite.size == 0:
        return np.geomspace(1e-3, 10.0, LEVELS + 1)
    lo = max(float(finite.min()), 1e-6)
    # The bands cover the path's losses and most of the grid; the far corners of a wide
    # window can be orders of magnitude higher and share the last, open band.
    hi = float(np.percentile(finite, 95))
    path_finite = path_loss[np.isfinite(path_loss)]
    if path_finite.size:
        hi = max(hi, float(path_finite.max()) * 1.05)
    if not hi > lo * 1.001:
        hi = lo * 1.5 + 1e-6
    return np.geomspace(lo, hi, LEVELS + 1)


def _plan(n_samples: int, n_params: int, grid_size: int) -> tuple[int, int]:
    """Grid size and samples used, within ``WORK_BUDGET``."""
    grid = grid_size
    while grid > MIN_GRID and grid * grid * n_samples * n_params > WORK_BUDGET:
        grid -= 2
    samples = n_samples
    if grid * grid * samples * n_params > WORK_BUDGET:
        samples = max(MIN_SAMPLES, int(WORK_BUDGET / (grid * grid * n_params)))
    return grid, min(samples, n_samples)


def loss_landscape(replay: Replay, grid_size: int = GRID_SIZE,
                   margin: float = MARGIN) -> LandscapeView:
    """The loss landscape of a run around its optimizer's path.

    Parameters
    ----------
    replay : the run.
    grid_size : points along each axis of the plane (3 to 101); large networks get a
        coarser grid (down to ``MIN_GRID``) and then a subset of the samples, so one
        landscape costs at most ``WORK_BUDGET``.
    margin : share of the path's extent added on every side of it (0 to 2).

    Raises
    ------
    ViewUnavailableError
        The run has no finished epoch (a trajectory of one point has no plane), or its
        output does not give probabilities.
    """
    if not 3 <= int(grid_size) <= 101:
        raise ViewUnavailableError(f"the landscape grid takes 3 to 101 points a side, got "
                                   f"{grid_size}")
    if not 0.0 <= float(margin) <= 2.0:
        raise ViewUnavailableError(f"the landscape margin must be in 0..2, got {margin}")
    network = replay.network
    if network.n_states < 2:
        raise ViewUnavailableError(
            f"run {replay.name!r} has no finished epoch yet, so there is no path to show a "
            "loss landscape around")
    _ = replay.n_classes  # refuses an output that gives no probabilities
    trajectory = flatten(network)
    if not np.isfinite(trajectory).all():
        raise ViewUnavailableError(f"run {replay.name!r} holds weights that are not finite, so "
                                   "its trajectory has no principal plane")
    centre, directions, ratio = trajectory_pca(trajectory)
    path = (trajectory - centre) @ directions.T
    grid, samples = _plan(len(replay.inputs), trajectory.shape[1], int(grid_size))
    if grid % 2 == 0 and grid < grid_size:
        grid += 1
    cx, cy, half = _window(path, float(np.linalg.norm(centre)), float(margin))
    xs = np.linspace(cx - half, cx + half, grid)
    ys = np.linspace(cy - half, cy + half, grid)
    inputs, targets = replay.inputs, replay.targets
    if samples < len(inputs):
        pick = np.linspace(0, len(inputs) - 1, samples).round().astype(np.intp)
        inputs, targets = inputs[pick], targets[pick]
    loss = plane_loss(network, centre, directions, xs, ys, inputs, targets)
    path_loss = _mean_loss(network.forward(replay.inputs), replay.targets)
    units = network.layers[-1].units
    return LandscapeView(
        run_name=replay.name, centre=centre, directions=directions, variance_ratio=ratio,
        path=path, path_loss=path_loss, xs=xs, ys=ys, loss=loss,
        levels=_levels(loss, path_loss), xlim=(float(xs[0]), float(xs[-1])),
        ylim=(float(ys[0]), float(ys[-1])),
        loss_name="binary cross-entropy" if units == 1 else "categorical cross-entropy",
        samples_used=len(inputs), n_samples=len(replay.inputs))


def with_landscape(views: ReplayViews, replay: Replay,
                   grid_size: int = GRID_SIZE) -> ReplayViews:
    """``views`` with its ``landscape`` filled in, for the frame's ``landscape`` panel
    (export, compose)."""
    return replace(views, landscape=loss_landscape(replay, grid_size))


def describe(view: LandscapeView) -> str:
    """One line on what the plane is: ``PC 1 and PC 2 keep 97.3% of the path's variance``."""
    text = (f"PC 1 and PC 2 of the weight trajectory keep {view.variance_kept:.1%} of its "
            "variance")
    if view.samples_used < view.n_samples:
        text += f"; loss on {view.samples_used:,} of {view.n_samples:,} samples"
    return text

