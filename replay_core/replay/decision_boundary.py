"""The decision boundary: the network's prediction over a grid of a plane, every epoch.

Three planes, as scikit-learn's ``DecisionBoundaryDisplay`` computes its response over a
grid from an estimator, here from the stored weights of every epoch at once:

- the 2-D input space (``input_space``), the grid covering the inputs with a margin;
- a 2-unit bottleneck's latent space (``latent_space``): the rest of the network maps each
  grid point, and the samples move with the encoder;
- the plane of the inputs' first two principal components through their mean
  (``input_plane``), for inputs of more than 2 features.

``decision_boundary`` picks the plane a run gets. Each returns a ``DecisionBoundaryView``.

Example
-------
>>> import numpy as np
>>> from replay_core.replay.forward import Network
>>> from replay_core.replay.heads import output_head
>>> rng = np.random.default_rng(0)
>>> net = Network.from_weights([[rng.normal(size=(3, 2, 1)), np.zeros((3, 1))]],
...                            ["sigmoid"])
>>> X, y = rng.normal(size=(20, 2)), rng.integers(0, 2, 20)
>>> view = decision_boundary(net, output_head(net, "run"), X, y, grid_size=30)
>>> view.probabilities.shape
(3, 30, 30)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from replay_core.errors import ViewUnavailableError
from replay_core.replay import projection as projections
from replay_core.replay.forward import Network
from replay_core.replay.heads import OutputHead
from replay_core.replay.ranges import (
    epoch_scales,
    padded_range,
    pull_inside,
    robust_range,
    tame_epochs,
)
from replay_core.replay.views import DecisionBoundaryView

MARGIN = 0.1
"""Share of the data's span the grid extends beyond it on each side."""


def latent_layer(network: Network) -> str | None:
    """The 2-unit hidden layer named ``bottleneck``, if the network has one."""
    return next((layer.name for layer in network.layers[:-1]
                 if layer.name == "bottleneck" and layer.units == 2), None)


def grid_probabilities(network: Network, head: OutputHead, xlim: tuple[float, float],
                       ylim: tuple[float, float], grid_size: int, start: int = 0,
                       lift: Callable[[np.ndarray], np.ndarray] | None = None
                       ) -> dict[str, Any]:
    """The network from layer ``start`` on, over a grid of its 2-D input plane:
    ``xs``, ``ys``, ``probabilities`` (P(class 1), or the winner's for k classes),
    ``winners`` (k classes only, else None) and the ``contours`` between classes.
    ``lift`` maps the plane's (M, 2) points into the network's input first."""
    xs = np.linspace(*xlim, grid_size)
    ys = np.linspace(*ylim, grid_size)
    gx, gy = np.meshgrid(xs, ys)
    plane = np.c_[gx.ravel(), gy.ravel()]
    out = network.forward(plane if lift is None else lift(plane), start=start)
    probabilities, winners = head.grid(out, grid_size)
    return {"xs": xs, "ys": ys, "probabilities": probabilities, "winners": winners,
            "contours": head.boundary_lines(out, xs, ys)}


def input_space(network: Network, head: OutputHead, inputs: np.ndarray,
                targets: np.ndarray, grid_size: int = 100) -> DecisionBoundaryView:
    """P(class 1) (or the winning class's probability) over a grid of 2-D inputs."""
    xlim = padded_range(inputs[:, 0], MARGIN)
    ylim = padded_range(inputs[:, 1], MARGIN)
    return DecisionBoundaryView(
        **grid_probabilities(network, head, xlim, ylim, grid_size),
        inputs=inputs, targets=targets, xlim=xlim, ylim=ylim, n_classes=head.n_classes)


def _plane_lift(inputs: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Map points of the inputs' principal plane back to the inputs (``input_plane``)."""
    proj = projections.fit(inputs, "pca", 0, where="the inputs")
    return lambda z: z @ proj.components + proj.mean


def input_plane(network: Network, head: OutputHead, inputs: np.ndarray,
                targets: np.ndarray, grid_size: int = 100) -> DecisionBoundaryView:
    """Predicted probability over the plane of the inputs' first two principal
    components, through their mean: every grid point is a real input (the other
    directions at the data's mean), so the picture is exact on that plane. The samples
    are drawn at their projection onto it."""
    proj = projections.fit(inputs, "pca", 0, where="the inputs")
    on_plane = proj.apply(inputs)
    xlim, ylim = (padded_range(on_plane[:, k], MARGIN) for k in (0, 1))
    labels = tuple(f"inputs' PC {k + 1} ({100 * v:.0f}% of variance)"
                   for k, v in enumerate(proj.axis_variance))
    return DecisionBoundaryView(
        **grid_probabilities(network, head, xlim, ylim, grid_size, lift=_plane_lift(inputs)),
        inputs=on_plane.astype(np.float32), targets=targets, xlim=xlim, ylim=ylim,
        n_classes=head.n_classes, space="input_pca", axis_labels=labels)


def latent_space(network: Network, head: OutputHead, inputs: np.ndarray,
                 targets: np.ndarray, layer: str, grid_size: int = 100
                 ) -> DecisionBoundaryView:
    """P(class 1) over a grid of the 2-D latent space of ``layer``: the rest of the
    network (the decoder) maps every grid point, so the picture is exact. The samples
    sit where the encoder puts them at each epoch; at epochs that blew up, on the
    panel's edge in the direction they flew off."""
    i = network.index(layer)
    positions = network.forward(inputs, stop=i + 1)
    tame = tame_epochs(epoch_scales(positions))
    kept = positions[tame] if tame.any() else positions
    xlim, ylim = (robust_range(kept[..., k]) for k in (0, 1))
    positions = pull_inside(positions, xlim, ylim, ~tame).astype(np.float32)
    return DecisionBoundaryView(
        **grid_probabilities(network, head, xlim, ylim, grid_size, start=i + 1),
        inputs=positions[-1], targets=targets, xlim=xlim, ylim=ylim,
        n_classes=head.n_classes, space="latent", latent_layer=layer,
        sample_positions=positions, axis_labels=("latent 1", "latent 2"))


def decision_boundary(network: Network, head: OutputHead, inputs: np.ndarray,
                      targets: np.ndarray, grid_size: int = 100) -> DecisionBoundaryView:
    """The decision boundary in the plane a run gets: its 2-D input space, else its
    bottleneck's latent space, else the plane of its inputs' principal components.

    Raises
    ------
    ViewUnavailableError
        One input feature and no bottleneck: there is no plane to draw.
    """
    d = inputs.shape[1]
    if d == 2:
        return input_space(network, head, inputs, targets, grid_size)
    latent = latent_layer(network)
    if latent is not None:
        return latent_space(network, head, inputs, targets, latent, grid_size)
    if d > 2:
        return input_plane(network, head, inputs, targets, grid_size)
    raise ViewUnavailableError(
        "this run has 1 input feature; the decision boundary is drawn over a plane "
        "of at least 2 features")


def extend_decision_boundary(view: DecisionBoundaryView, later: Network, head: OutputHead,
                             inputs: np.ndarray, join: Callable | None = None
                             ) -> DecisionBoundaryView | None:
    """``view`` followed by the epochs of ``later`` (the network's newer weight states),
    computed over the same grid: what a full build of all the epochs gives. None for a
    latent space, whose grid covers where the samples went over all epochs (a full build
    is needed). ``join(old, new)`` appends the new epochs' arrays (``np.concatenate``
    when None; ``epoch_arrays.EpochArrays.join`` grows them in place)."""
    if join is None:
        def join(old: np.ndarray, new: np.ndarray) -> np.ndarray:
            return np.concatenate([old, new])

    if view.space == "input":
        lift = None
    elif view.space == "input_pca":
        lift = _plane_lift(inputs)
    else:
        return None
    new = grid_probabilities(later, head, view.xlim, view.ylim, len(view.xs), lift=lift)
    winners = None if view.winners is None else join(view.winners, new["winners"])
    return replace(view, probabilities=join(view.probabilities, new["probabilities"]),
                   winners=winners, contours=tuple(view.contours) + tuple(new["contours"]))
