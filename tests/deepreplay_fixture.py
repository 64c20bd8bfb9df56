"""Write a run exactly as the original DeepReplay package's ``ReplayData`` callback did.

DeepReplay (Keras 2) created the group in ``on_train_begin`` with attrs ``samples``,
``batch_size``, ``n_batches``, ``n_epochs``, ``n_layers`` and ``activation_functions``
(a list of ``np.bytes_``, ``b''`` for layers without activation), the datasets
``inputs`` and ``targets`` as given, ``loss`` and ``acc`` preallocated to ``(n_epochs,)``
float32, and ``layer{i}/weights{j}`` preallocated to ``(n_epochs + 1, *shape)`` float32
(an empty group for a layer without weights); nothing is resizable and none of our
attributes exist. Rows past the epochs written stay zero.

Example
-------
>>> write_deepreplay_run(path, "sgd", weights_per_epoch, X, y, ["sigmoid", "sigmoid"],
...                      losses, accs)                                 # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import h5py
import numpy as np


def write_deepreplay_run(
    path: str | os.PathLike,
    group: str,
    weights_per_epoch: Sequence[Sequence[Sequence[np.ndarray]]],
    inputs: np.ndarray,
    targets: np.ndarray,
    activations: Sequence[str],
    losses: Sequence[float],
    accs: Sequence[float],
    *,
    batch_size: int = 16,
    n_epochs: int | None = None,
) -> None:
    """Add run ``group`` to ``path`` in DeepReplay's layout.

    Parameters
    ----------
    path : the HDF5 file (opened in ``'a'`` mode, as DeepReplay did).
    group : the run name.
    weights_per_epoch : index 0 = before training, then one entry per finished epoch;
        each entry has, per model layer, its list of weight arrays (``[]`` when none).
    inputs, targets : stored as given (dtype and shape kept).
    activations : one name per model layer (``''`` for none).
    losses, accs : one value per finished epoch.
    batch_size : stored in ``batch_size`` (``n_batches`` follows).
    n_epochs : epochs planned (the preallocated size); ``len(losses)`` when None.
        More than the epochs given leaves zero rows, as a cut-off DeepReplay run did.
    """
    n_epochs = len(losses) if n_epochs is None else n_epochs
    layers = weights_per_epoch[0]
    with h5py.File(path, "a") as f:
        g = f.create_group(group)
        samples = len(inputs)
        g.attrs["samples"] = samples
        g.attrs["batch_size"] = batch_size
        g.attrs["n_batches"] = int(math.ceil(samples / batch_size))
        g.attrs["n_epochs"] = n_epochs
        g.attrs["n_layers"] = len(layers)
        g.attrs["activation_functions"] = [np.bytes_(name) for name in activations]
        g.create_dataset("inputs", data=inputs)
        g.create_dataset("targets", data=targets)
        g.create_dataset("loss", shape=(n_epochs,), dtype="f")
        g.create_dataset("acc", shape=(n_epochs,), dtype="f")
        g["loss"][: len(losses)] = losses
        g["acc"][: len(accs)] = accs
        for i, layer in enumerate(layers):
            layer_group = g.create_group(f"layer{i}")
            for j, weights in enumerate(layer):
                ds = layer_group.create_dataset(
                    f"weights{j}", shape=(n_epochs + 1, *np.shape(weights)), dtype="f")
                for epoch, state in enumerate(weights_per_epoch):
                    ds[epoch] = state[i][j]
