"""Unit maps: every unit of one layer over a grid of the 2-D input space, every epoch.

Example
-------
>>> import numpy as np
>>> from replay_core.replay.forward import Network
>>> rng = np.random.default_rng(0)
>>> net = Network.from_weights([[rng.normal(size=(3, 2, 4)), np.zeros((3, 4))]], ["tanh"])
>>> unit_maps(net, rng.normal(size=(20, 2)), 0, grid_size=8).activations.shape
(3, 4, 8, 8)
"""

from __future__ import annotations

import numpy as np

from replay_core.replay.forward import Network
from replay_core.replay.ranges import layer_range, padded_range, robust_range
from replay_core.replay.views import UnitMapsView

UNIT_MAP_ELEMENTS = 8_000_000
"""Values the default unit maps of a layer hold over all epochs (32 MB as float32)."""
MARGIN = 0.1
"""Share of the inputs' span the grid extends beyond them (as the decision boundary's)."""


def default_grid_size(network: Network, i: int) -> int:
    """32 points a side, or fewer (down to 8) so that every epoch's maps of layer ``i``
    stay within ``UNIT_MAP_ELEMENTS`` values."""
    per_point = network.n_states * network.layers[i].units
    return int(min(32, max(8, (UNIT_MAP_ELEMENTS / per_point) ** 0.5)))


def unit_maps(network: Network, inputs: np.ndarray, i: int,
              grid_size: int | None = None) -> UnitMapsView:
    """Layer ``i``'s units over a ``grid_size``² grid covering the 2-D ``inputs`` (N, 2).

    The colour range is the activation's own when it is bounded, else the maps' robust
    range (made symmetric around 0 when it spans 0, so white is zero).
    """
    if grid_size is None:
        grid_size = default_grid_size(network, i)
    xs = np.linspace(*padded_range(inputs[:, 0], MARGIN), grid_size)
    ys = np.linspace(*padded_range(inputs[:, 1], MARGIN), grid_size)
    gx, gy = np.meshgrid(xs, ys)
    acts = network.forward(np.c_[gx.ravel(), gy.ravel()], stop=i + 1)
    acts = acts.reshape(acts.shape[0], grid_size, grid_size, -1).transpose(0, 3, 1, 2)
    bounds = layer_range(network, i)
    if bounds is None:
        lo, hi = robust_range(acts, 0.0)
        if lo < 0 < hi:  # symmetric, so white is zero
            lo, hi = -max(-lo, hi), max(-lo, hi)
    else:
        lo, hi = bounds
    return UnitMapsView(layer_name=network.layers[i].name, xs=xs, ys=ys,
                        activations=acts.astype(np.float32), vmin=float(lo), vmax=float(hi))
