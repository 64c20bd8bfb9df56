"""The feature space: a hidden layer's output for every sample, every epoch.

The samples and an 11 x 11 grid of input-space lines are run through the network up to
the layer and drawn in its plane: the layer itself when it has 2 units, else a projection
fitted once (``projection``) and applied unchanged to every epoch. The output's 0.5
boundary is added: a straight line when the layer feeds the output's affine map, a
contour of the rest of the network otherwise.

A run that blew up keeps every epoch readable: the projection is fitted at the last epoch
that did not blow up, the axes on the epochs that did not (``ranges``), and the samples
of the other epochs sit on the panel's edge, in the direction they flew off.

Example
-------
>>> import numpy as np
>>> from replay_core.replay.forward import Network
>>> from replay_core.replay.heads import output_head
>>> kernels = [np.tile(np.eye(2), (3, 1, 1)), np.ones((3, 2, 1))]   # 3 weight states
>>> net = Network.from_weights([[k, np.zeros(k.shape[::2])] for k in kernels],
...                            ["tanh", "sigmoid"])
>>> X = np.random.default_rng(0).normal(size=(20, 2))
>>> proj = projections.fit(net.forward(X, stop=1)[-1], None, 2)
>>> view = feature_space(net, output_head(net, "run"), X, (X[:, 0] > 0) * 1, 0, proj)
>>> view.features.shape, view.boundary[0].shape
((3, 20, 2), (2, 2))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from replay_core.errors import NoFeatureLayerError, ViewUnavailableError
from replay_core.replay import projection as projections
from replay_core.replay.contours import clip_line
from replay_core.replay.forward import CHUNK_ELEMENTS, Network
from replay_core.replay.heads import OutputHead
from replay_core.replay.ranges import (
    epoch_scales,
    layer_range,
    overflow_note,
    pull_inside,
    robust_range,
    tame_epochs,
)
from replay_core.replay.views import FeatureSpaceView

GRID_POINTS = 60
"""Points along each bent grid line of the feature space."""
BOUNDARY_GRID = 80
"""Resolution of the feature-space grid the non-linear 0.5 boundary is traced on."""


def two_unit_layers(network: Network) -> list[str]:
    """Names of the hidden layers (not the output layer) with exactly 2 units."""
    return [layer.name for layer in network.layers[:-1] if layer.units == 2]


def feature_layers(network: Network) -> list[str]:
    """Names of the hidden layers (not the output layer) with at least 2 units."""
    return [layer.name for layer in network.layers[:-1] if layer.units >= 2]


def default_feature_layer(network: Network) -> str | None:
    """A 2-unit layer named ``bottleneck``, else the first 2-unit hidden layer, else the
    last hidden layer of at least 2 units; None when there is none."""
    for layer in network.layers[:-1]:
        if layer.name == "bottleneck" and layer.units == 2:
            return layer.name
    two = two_unit_layers(network)
    if two:
        return two[0]
    wide = feature_layers(network)
    return wide[-1] if wide else None


def describe_layers(network: Network) -> str:
    """Every layer's name and units, for messages."""
    return ", ".join(f"{layer.name!r} {layer.units} unit{'s' if layer.units != 1 else ''}"
                     for layer in network.layers)


def named_layer(network: Network, layer: str | int, context: str) -> int:
    """The index of ``layer`` (name or index); ``NoFeatureLayerError`` when there is none
    (``context`` names the run)."""
    try:
        return network.index(layer)
    except (KeyError, IndexError) as exc:
        raise NoFeatureLayerError(
            f"{context} has no layer {layer!r} (layers: {describe_layers(network)})") from exc


def feature_layer(network: Network, layer: str | int | None, context: str) -> int:
    """The index of the layer whose feature space is shown: ``layer``, or
    ``default_feature_layer`` when None.

    Raises
    ------
    NoFeatureLayerError
        No such layer, a 1-unit layer, or (``layer`` None) no layer of 2 or more units.
    """
    if layer is None:
        name = default_feature_layer(network)
        if name is None:
            raise NoFeatureLayerError(
                f"{context} has no hidden layer with 2 or more units (layers: "
                f"{describe_layers(network)}); add one to see its feature space")
        return network.index(name)
    i = named_layer(network, layer, context)
    units = network.layers[i].units
    if units < 2:
        shown = ", ".join(map(repr, feature_layers(network))) or "none"
        raise NoFeatureLayerError(
            f"layer {network.layers[i].name!r} of {context} has {units} unit; the feature "
            f"space needs a layer of at least 2 units (such layers: {shown})")
    return i


def epoch_index(n_epochs: int, epoch: int | None, context: str,
                what: str = "fit_epoch") -> int:
    """An epoch index 0..E (None = the last, negative counts from the end)."""
    if epoch is None:
        return n_epochs
    e = int(epoch)
    if e < 0:
        e += n_epochs + 1
    if not 0 <= e <= n_epochs:
        raise ViewUnavailableError(
            f"{what} must be an epoch of {context}, 0 to {n_epochs}; got {epoch}")
    return e


def epoch_network(network: Network, epoch: int) -> Network:
    """The network with only the weights of one epoch (one state)."""
    one = slice(epoch, epoch + 1)
    layers = [replace(layer,
                      kernel=None if layer.kernel is None else layer.kernel[one],
                      bias=None if layer.bias is None else layer.bias[one])
              for layer in network.layers]
    return Network(layers, input_dim=network.input_dim)


def _concatenate(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    return np.concatenate([old, new])


def later_states(network: Network, start: int) -> Network:
    """The network with only the weight states from ``start`` on (epochs ``start``..E):
    what a replay that already has the earlier epochs computes for the new ones."""
    rest = slice(start, None)
    layers = [replace(layer,
                      kernel=None if layer.kernel is None else layer.kernel[rest],
                      bias=None if layer.bias is None else layer.bias[rest])
              for layer in network.layers]
    return Network(layers, input_dim=network.input_dim)


def layer_scales(network: Network, inputs: np.ndarray, i: int) -> np.ndarray:
    """(E+1,) the largest magnitude of layer ``i``'s output over ``inputs`` per epoch
    (inf when any is not finite), in row chunks like ``projected``."""
    n_states = network.n_states
    units = max(network.layers[i].units or 1, 1)
    rows = max(1, CHUNK_ELEMENTS // (n_states * units))
    scales = np.zeros(n_states)
    for r0 in range(0, len(inputs), rows):
        out = network.forward(inputs[r0:r0 + rows], stop=i + 1)
        scales = np.maximum(scales, epoch_scales(out))
    return scales


def fit_epoch_of(network: Network, inputs: np.ndarray, i: int,
                 wanted: int | None = None) -> int:
    """The epoch a projection of layer ``i`` is fitted at: ``wanted`` (the last epoch when
    None) unless the layer's outputs blew up there (see ``tame_epochs``), else the last
    epoch before it that did not (the first after it when there is none before), or
    ``wanted`` when every epoch blew up.

    A projection fitted on values of 1e24 keeps nothing of the other epochs: every one of
    them would be a dot.
    """
    return fit_epoch_from_scales(layer_scales(network, inputs, i), wanted)


def fit_epoch_from_scales(scales: np.ndarray, wanted: int | None = None) -> int:
    """``fit_epoch_of`` from the layer's per-epoch scales (``layer_scales``) (E+1,)."""
    e = len(scales) - 1 if wanted is None else int(wanted)
    tame = tame_epochs(scales)
    if tame[e] or not tame.any():
        return e
    before = np.flatnonzero(tame[:e + 1])
    return int(before[-1]) if before.size else int(np.flatnonzero(tame)[0])


def fit_projection(network: Network, inputs: np.ndarray, i: int, projection=None,
                   fit_epoch: int | None = None, context: str = "run",
                   scales: np.ndarray | None = None) -> projections.Projection:
    """``projection`` of layer ``i`` fitted on the activations of ``inputs`` at
    ``fit_epoch`` (the last epoch when None), or at the nearest earlier epoch that did not
    blow up when it did (``fit_epoch_of``); ``scales`` are the layer's ``layer_scales``
    when already known."""
    wanted = None if fit_epoch is None else epoch_index(network.n_epochs, fit_epoch, context)
    if scales is None:
        scales = layer_scales(network, inputs, i)
    e = fit_epoch_from_scales(scales, wanted)
    acts = epoch_network(network, e).forward(inputs, stop=i + 1)[0]
    where = f"layer {network.layers[i].name!r} of {context}"
    return projections.fit(acts, projection, e, where=where)


def projected(network: Network, points: np.ndarray, stop: int,
              proj: projections.Projection) -> np.ndarray:
    """``proj`` of layer ``stop - 1``'s output (E+1, M, 2), in row chunks so a wide
    layer's activations for every epoch are never held at once."""
    n_states = network.n_states
    rows = max(1, CHUNK_ELEMENTS // (n_states * max(proj.n_units, 1)))
    if proj.is_identity or rows >= len(points):
        return proj.apply(network.forward(points, stop=stop))
    out = np.empty((n_states, len(points), 2))
    for r0 in range(0, len(points), rows):
        out[:, r0:r0 + rows] = proj.apply(network.forward(points[r0:r0 + rows], stop=stop))
    return out


def input_grid(inputs: np.ndarray, n_lines: int, n_points: int) -> np.ndarray | None:
    """(L, P, 2) horizontal then vertical lines over the inputs' range (2-D inputs only).

    The range is the data's, without outliers (see ``robust_range``).
    """
    if inputs.shape[1] != 2 or n_lines <= 0:
        return None
    # The bulk of the data, so one stray sample does not stretch the whole grid.
    (x0, x1), (y0, y1) = (robust_range(inputs[:, k], 0.0) for k in (0, 1))
    s = np.linspace(0.0, 1.0, n_points)
    horizontal = [np.c_[x0 + (x1 - x0) * s, np.full(n_points, v)]
                  for v in np.linspace(y0, y1, n_lines)]
    vertical = [np.c_[np.full(n_points, v), y0 + (y1 - y0) * s]
                for v in np.linspace(x0, x1, n_lines)]
    return np.stack(horizontal + vertical)


def straight_boundary(network: Network, head: OutputHead,
                      i: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(w (E+1, 2), b (E+1,))`` when layer ``i`` feeds one affine map followed only by
    the output's activation, so the boundary is ``w.h + b = 0``; else None."""
    rest = [layer for layer in network.layers[i + 1:] if not layer.is_identity]
    if not rest or not rest[0].has_weights or any(lay.has_weights for lay in rest[1:]):
        return None
    if sum(lay.activation_name != "linear" for lay in rest) != 1:
        return None
    dense = rest[0]
    kernel = dense.kernel
    bias = dense.bias if dense.bias is not None else np.zeros(kernel.shape[::2])
    return head.straight_line(kernel, bias)


def feature_boundary(network: Network, head: OutputHead, i: int, xlim: tuple[float, float],
                     ylim: tuple[float, float],
                     inverse: tuple[np.ndarray, np.ndarray] | None = None) -> tuple:
    """The 0.5 boundary in the plane of layer ``i``; ``inverse = (B, m)`` maps plane
    points back to the layer (``h = z @ B + m``) when the plane is a projection."""
    straight = straight_boundary(network, head, i)
    if straight is not None:
        w, b = straight
        if inverse is not None:  # w.h + b = (w B^T).z + (w.m + b)
            B, m = inverse
            w, b = w @ B.T, b + w @ m
        return tuple(clip_line(w[e], b[e], xlim, ylim) for e in range(len(b)))
    xs = np.linspace(*xlim, BOUNDARY_GRID)
    ys = np.linspace(*ylim, BOUNDARY_GRID)
    gx, gy = np.meshgrid(xs, ys)
    plane = np.c_[gx.ravel(), gy.ravel()]
    if inverse is not None:
        plane = plane @ inverse[0] + inverse[1]
    return head.boundary_lines(network.forward(plane, start=i + 1), xs, ys)


def feature_space(network: Network, head: OutputHead, inputs: np.ndarray,
                  targets: np.ndarray, i: int, proj: projections.Projection,
                  grid_lines: int = 11, grid_points: int = GRID_POINTS) -> FeatureSpaceView:
    """The samples and the bent input grid in the plane ``proj`` of layer ``i``.

    Parameters
    ----------
    network, head : the replayed network and its output head.
    inputs : (N, d) the samples; targets : (N,) their classes.
    i : index of a layer of at least 2 units; proj : its fitted projection.
    grid_lines : lines per direction of the input-space grid (2-D inputs only).
    grid_points : points along each grid line.
    """
    return feature_space_and_scales(network, head, inputs, targets, i, proj, grid_lines,
                                    grid_points)[0]


def _mapped_points(network: Network, inputs: np.ndarray, i: int,
                   proj: projections.Projection, grid: np.ndarray | None,
                   grid_points: int) -> tuple[np.ndarray, np.ndarray]:
    """``(features (E+1, N, 2), grid lines (E+1, L, P, 2))`` in the plane, not pulled in."""
    n_states = network.n_states
    points = inputs if grid is None else np.concatenate([inputs, grid.reshape(-1, 2)])
    mapped = projected(network, points, i + 1, proj)
    n = len(inputs)
    if grid is None:
        return mapped[:, :n], np.empty((n_states, 0, grid_points, 2))
    return mapped[:, :n], mapped[:, n:].reshape(n_states, *grid.shape)


def _plane_boundary(network: Network, head: OutputHead, i: int,
                    proj: projections.Projection, xlim: tuple[float, float],
                    ylim: tuple[float, float]) -> tuple[tuple, str]:
    """``(boundary per state, note)`` of the 0.5 boundary in the plane ``proj``."""
    if proj.is_identity:
        return feature_boundary(network, head, i, xlim, ylim), ""
    if (inverse := proj.inverse()) is not None:
        return feature_boundary(network, head, i, xlim, ylim, inverse), ""
    return (tuple(np.empty((0, 2)) for _ in range(network.n_states)),
            f"No 0.5 boundary: a 2-D projection of {proj.n_units} units has none that is exact")


def extend_feature_space(view: FeatureSpaceView, scales: np.ndarray, later: Network,
                         head: OutputHead, inputs: np.ndarray, i: int,
                         proj: projections.Projection, join: Callable = _concatenate
                         ) -> tuple[FeatureSpaceView, np.ndarray] | None:
    """``view`` followed by the epochs of ``later`` (``later_states``): the same arrays a
    full build of all those epochs gives, with ``scales`` (the view's ``epoch_scales``,
    see ``feature_space_and_scales``) extended to match. ``join(old, new)`` appends the
    new epochs' arrays (``epoch_arrays.EpochArrays.join`` grows them in place).

    None when the new epochs would change what is shown at the old ones, so only a full
    build is right: axes fitted on the data (not a bounded activation's range), a
    projection that moved (a PCA refitted at a later epoch), or an old epoch that the new
    ones turn into a blow-up (or back).
    """
    same_map = (proj.kind == view.projection and view.components is not None
                and np.array_equal(proj.components, view.components)
                and np.array_equal(proj.mean, view.mean))
    bounds = layer_range(later, i) if proj.kind == "units" else None
    if not same_map or bounds is None:
        return None
    n_lines, n_points = view.grid_lines.shape[1], view.grid_lines.shape[2]
    grid = input_grid(inputs, n_lines // 2, n_points) if n_lines else None
    features, lines = _mapped_points(later, inputs, i, proj, grid, n_points)
    all_scales = np.concatenate([scales, epoch_scales(features)])
    tame = tame_epochs(all_scales)
    if not np.array_equal(tame[:len(scales)], tame_epochs(scales)):
        return None
    wild = ~tame[len(scales):]
    boundary, _ = _plane_boundary(later, head, i, proj, view.xlim, view.ylim)
    return replace(
        view,
        features=join(view.features, pull_inside(
            features, view.xlim, view.ylim, wild).astype(np.float32)),
        grid_lines=join(view.grid_lines, pull_inside(
            lines, view.xlim, view.ylim, wild).astype(np.float32)),
        boundary=tuple(view.boundary) + tuple(boundary),
        projection_label=proj.label, axis_labels=proj.axis_labels,
        variance_kept=proj.variance_kept, fit_epoch=proj.fit_epoch,
        overflow_note=overflow_note(all_scales, on_edge=True)), all_scales


def feature_space_and_scales(network: Network, head: OutputHead, inputs: np.ndarray,
                             targets: np.ndarray, i: int, proj: projections.Projection,
                             grid_lines: int = 11, grid_points: int = GRID_POINTS
                             ) -> tuple[FeatureSpaceView, np.ndarray]:
    """``feature_space`` and the ``epoch_scales`` (E+1,) of its samples before they are
    pulled inside the axes, which ``extend_feature_space`` needs."""
    grid = input_grid(inputs, grid_lines, grid_points)
    features, lines = _mapped_points(network, inputs, i, proj, grid, grid_points)

    bounds = layer_range(network, i) if proj.kind == "units" else None
    scales = epoch_scales(features)
    tame = tame_epochs(scales)
    # Epochs that blew up would stretch the axes until every other epoch is one dot.
    kept = tame if tame.any() else np.ones_like(tame)
    if bounds is not None:
        pad = 0.05 * (bounds[1] - bounds[0])
        xlim = ylim = (bounds[0] - pad, bounds[1] + pad)
    else:
        xlim, ylim = (robust_range(np.concatenate([features[kept][..., k].ravel(),
                                                   lines[kept][..., k].ravel()]))
                      for k in (0, 1))
    boundary, note = _plane_boundary(network, head, i, proj, xlim, ylim)
    view = FeatureSpaceView(
        layer_name=network.layers[i].name,
        features=pull_inside(features, xlim, ylim, ~tame).astype(np.float32),
        targets=targets,
        grid_lines=pull_inside(lines, xlim, ylim, ~tame).astype(np.float32),
        boundary=boundary,
        xlim=xlim,
        ylim=ylim,
        projection=proj.kind,
        projection_label=proj.label,
        axis_labels=proj.axis_labels,
        variance_kept=proj.variance_kept,
        fit_epoch=proj.fit_epoch,
        n_units=proj.n_units,
        boundary_note=note,
        overflow_note=overflow_note(scales, on_edge=True),
        mean=proj.mean,
        components=proj.components,
    )
    return view, scales
