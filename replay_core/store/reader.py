"""Reading runs back: the run list's summaries and whole runs, into memory.

Readers open the file read-only, copy what they need into memory and close it; every
failure on the file's content becomes one ``RunFileError``. They read runs written here
(also cut off mid-training: the epochs ``epochs_done`` counts are read, a half-written
extra row is ignored) and files written by the original DeepReplay package.
"""

from __future__ import annotations

import math
import os
from typing import Any

import h5py
import numpy as np

from replay_core.errors import RunFileError, RunNotFoundError
from replay_core.store import h5guard
from replay_core.store.layout import (
    activation_config,
    checked_dataset,
    class_names,
    get_run,
    json_attr,
    layer_count,
    run_names,
    stored_epochs,
    weight_datasets,
    whole_number,
)
from replay_core.store.opening import base_name, contained, open_read
from replay_core.store.records import DATA_NAMES, RunData, RunSummary

__all__ = ["list_runs", "read_run"]


def list_runs(filename: str | os.PathLike) -> list[RunSummary]:
    """A summary of every run in the file, oldest first; ``[]`` when it does not exist."""
    if not os.path.exists(filename):
        return []
    display = base_name(filename)
    with open_read(filename) as f:
        return contained(f"{display!r}", lambda: [_summary(f[name], name)
                                                   for name in run_names(f)])


def _summary(g: h5py.Group, name: str) -> RunSummary:
    where = repr(name)
    # Only the attributes a summary shows: a run list is read on every page.
    a = {key: value for key in ("n_layers", "status", "samples", "n_epochs", "created",
                                "format", "message")
         if (value := h5guard.read_attr(g, key, where)) is not None}
    n_layers = (whole_number(a["n_layers"], "n_layers", where) if "n_layers" in a
                else layer_count(g))
    epochs = stored_epochs(g, n_layers)
    status = str(a.get("status", "complete"))
    samples = (whole_number(a["samples"], "samples", where) if "samples" in a
               else int(checked_dataset(g, "inputs", where).shape[0]))
    n_epochs = (whole_number(a["n_epochs"], "n_epochs", where) if "n_epochs" in a
                else int(checked_dataset(g, "loss", where).shape[0]))
    created = a.get("created")
    spec = json_attr(g, "spec")
    return RunSummary(
        name=name, status=status, epochs_done=epochs, n_epochs=n_epochs, samples=samples,
        final_loss=_final(g, "loss", epochs), final_acc=_final(g, "acc", epochs),
        spec=spec, created=None if created is None else str(created),
        is_deepreplay="format" not in a, message=str(a.get("message", "")),
        sweep=json_attr(g, "sweep"), class_names=class_names(g, n_layers, spec),
    )


def read_run(filename: str | os.PathLike, run_name: str) -> RunData:
    """Read one run into memory and close the file.

    Works on runs written here (also cut off mid-training: the epochs ``epochs_done``
    counts are read, a half-written extra row is ignored) and on DeepReplay files
    (epochs from ``len(loss)``, activations from ``activation_functions``).

    Raises
    ------
    RunNotFoundError
        The file does not exist or holds no run of that name.
    RunFileError
        The file is not HDF5, or the group is not a readable run.
    """
    display = base_name(filename)
    if not os.path.exists(filename):
        raise RunNotFoundError(f"no run {run_name!r}: {display!r} does not exist")
    with open_read(filename) as f:
        return contained(f"run {run_name!r} in {display!r}",
                          lambda: _read_group(get_run(f, run_name, display), run_name,
                                              display))


def _read_group(g: h5py.Group, name: str, display: str,
                limits: h5guard.Limits = h5guard.DEFAULT) -> RunData:
    where = f"run {name!r} in {display!r}"
    attrs = h5guard.read_attrs(g, where, limits)
    n_layers = (whole_number(attrs["n_layers"], "n_layers", where) if "n_layers" in attrs
                else layer_count(g))
    if not 0 <= n_layers <= limits.layers:
        raise RunFileError(f"{where} has {n_layers} layers; the limit is {limits.layers}")
    epochs = stored_epochs(g, n_layers, limits)
    weights: list[list[np.ndarray]] = []
    floats = 0
    for i in range(n_layers):
        layer = h5guard.get_member(g, f"layer{i}", where)
        if not isinstance(layer, h5py.Group):
            raise RunFileError(f"{where} has n_layers = {n_layers} but no group layer{i}")
        arrays = []
        for ds in weight_datasets(layer):
            h5guard.check_dataset(ds, where, ds.name.rsplit("/", 2)[-2] + "/"
                                  + ds.name.rsplit("/", 1)[-1], limits)
            floats += (epochs + 1) * math.prod(ds.shape[1:])
            if floats > limits.weight_floats:
                raise RunFileError(f"{where}: its weights hold more than "
                                   f"{limits.weight_floats:,} values; the limit")
            arrays.append(np.asarray(ds[: epochs + 1], dtype=np.float32))
        weights.append(arrays)
    names = attrs.get("layer_names")
    layer_names = ([str(n) for n in names] if isinstance(names, list) and len(names) == n_layers
                   else [f"layer{i}" for i in range(n_layers)])
    config = activation_config(g, n_layers, where)
    logs: dict[str, np.ndarray] = {}
    for key in g:
        ds = h5guard.get_member(g, key, where)
        if key in DATA_NAMES or not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
            continue
        if ds.dtype.kind not in "fiu":
            continue
        h5guard.check_dataset(ds, where, key, limits)
        values = np.asarray(ds[:epochs], dtype=np.float64)
        if len(values) < epochs:
            values = np.concatenate([values, np.full(epochs - len(values), np.nan)])
        logs[key] = values
    has_val = h5guard.has_member(g, "val_inputs") and h5guard.has_member(g, "val_targets")

    def data(key: str) -> h5py.Dataset:
        return checked_dataset(g, key, where, limits)

    return RunData(
        name=name,
        inputs=_float_array(data("inputs")),
        targets=_targets(data("targets")),
        val_inputs=_float_array(data("val_inputs")) if has_val else None,
        val_targets=_targets(data("val_targets")) if has_val else None,
        weights=weights,
        layer_names=layer_names,
        activation_config=config,
        logs=logs,
        epochs_done=epochs,
        status=str(attrs.get("status", "complete")),
        spec=json_attr(g, "spec"),
        attrs=attrs,
        message=str(attrs.get("message", "")),
        class_names=class_names(g, n_layers, json_attr(g, "spec")),
    )


def _final(group: h5py.Group, key: str, epochs: int) -> float | None:
    ds = h5guard.hard_member(group, key)
    if epochs == 0 or not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or ds.shape[0] < epochs:
        return None
    value = float(ds[epochs - 1])
    return value if math.isfinite(value) else None


def _float_array(ds: h5py.Dataset, dtype: Any = np.float64) -> np.ndarray:
    return np.asarray(ds[()], dtype=dtype)


def _targets(ds: h5py.Dataset) -> np.ndarray:
    t = _float_array(ds)
    return t[:, 0] if t.ndim == 2 and t.shape[1] == 1 else t
