"""Where a run sits in an open HDF5 file: finding runs, and reading their layout safely.

A run is a top-level group with ``inputs``, ``targets``, ``loss`` and ``layer0``,
``layer1``... groups of ``weights0``, ``weights1``... datasets (see ``records``). These
functions find the runs of a file, count its layers and the epochs it can replay
(DeepReplay's zero padding included), and read its attributes and datasets through
``h5guard`` (no link followed, sizes bounded). The reader and the upload check build on
them; nothing here opens or closes a file.
"""

from __future__ import annotations

import math
from typing import Any

import h5py
import numpy as np

from replay_core.data import datasets
from replay_core.errors import RunFileError, RunNotFoundError
from replay_core.store import h5guard
from replay_core.store.records import LAYER_KEY, WEIGHTS_KEY

__all__ = [
    "SCAN_FLOATS", "activation_config", "checked_dataset", "get_run", "json_attr",
    "layer_count", "looks_like_run", "run_names", "stored_epochs", "weight_datasets",
    "whole_number", "why_no_runs",
]


def looks_like_run(obj: Any) -> bool:
    """Whether ``obj`` is a run's group: inputs, targets, loss and a layer0 group."""
    # Links are not followed: one could lead into another file.
    return (isinstance(obj, h5py.Group)
            and all(h5guard.has_member(obj, key) for key in ("inputs", "targets", "loss"))
            and isinstance(h5guard.hard_member(obj, "layer0"), h5py.Group))


def run_names(f: h5py.File) -> list[str]:
    """Runs in the file, oldest first (by ``created``; DeepReplay runs, which have none,
    first), ties in file order."""
    runs = []
    for position, name in enumerate(f):
        try:
            obj = h5guard.hard_member(f, name)  # a link is not followed, so not a run
            if looks_like_run(obj):
                created = h5guard.read_attr(obj, "created", repr(name))
                runs.append((str(created or ""), position, name))
        except (KeyError, OSError, RuntimeError, RunFileError):  # unreadable: not a run
            continue
    return [name for _, _, name in sorted(runs)]


def get_run(f: h5py.File, name: str, display: str) -> h5py.Group:
    """Run ``name`` of ``f``: ``RunNotFoundError`` (naming the runs held) or
    ``RunFileError`` when the group is not a run."""
    obj = (h5guard.hard_member(f, name) if isinstance(name, str) and name and "/" not in name
           else None)
    if obj is None:
        names = run_names(f)
        held = (f"; it holds {', '.join(map(repr, names))}" if names else
                "; it holds no runs")
        raise RunNotFoundError(f"no run {name!r} in {display!r}{held}")
    if not looks_like_run(obj):
        raise RunFileError(f"{name!r} in {display!r} is not a run (a run is a group with "
                           "inputs, targets, loss and layer0, layer1... groups)")
    return obj


def layer_count(group: h5py.Group) -> int:
    """Layer groups ``layer0``, ``layer1``... without a gap."""
    indices = {int(m.group(1)) for key in group if (m := LAYER_KEY.match(key))}
    n = 0
    while n in indices:
        n += 1
    return n


def weight_datasets(layer: h5py.Group) -> list[h5py.Dataset]:
    """A layer group's ``weights0``, ``weights1``... datasets, in that order."""
    found = sorted((int(m.group(1)), key) for key in layer if (m := WEIGHTS_KEY.match(key)))
    return [layer[key] for _, key in found]


SCAN_FLOATS = 2_000_000  # weights read at once while looking for DeepReplay's padding


def stored_epochs(group: h5py.Group, n_layers: int,
                  limits: h5guard.Limits = h5guard.DEFAULT) -> int:
    """Epochs that can be replayed: ``epochs_done`` (ours) or ``len(loss)`` (DeepReplay),
    never more than the loss or any weights dataset holds."""
    where = repr(group.name.lstrip("/"))
    loss = checked_dataset(group, "loss", where, limits)
    loss_len = int(loss.shape[0]) if loss.shape else 0
    done = h5guard.read_attr(group, "epochs_done", where, limits)
    ours = done is not None
    epochs = whole_number(done, "epochs_done", where) if ours else loss_len
    bounds = [epochs, loss_len]
    datasets = []
    for i in range(n_layers):
        layer = h5guard.get_member(group, f"layer{i}", where)
        if isinstance(layer, h5py.Group):
            datasets += [ds for ds in weight_datasets(layer) if ds.shape]
    bounds += [int(ds.shape[0]) - 1 for ds in datasets]
    epochs = max(0, min(bounds))
    if not ours and datasets and epochs > 0:
        # DeepReplay preallocated every planned epoch: a run cut off (or stopped early)
        # leaves zero rows. A trained epoch never has a loss of exactly 0 and all-zero
        # weights, so trailing epochs that do are padding. The loss is read once; weights
        # only for the trailing zero-loss epochs, a block of rows per read.
        nonzero = np.flatnonzero(np.asarray(loss[:epochs]) != 0)
        last_loss = int(nonzero[-1]) + 1 if len(nonzero) else 0
        per_row = sum(max(1, math.prod(ds.shape[1:])) for ds in datasets)
        block = max(1, SCAN_FLOATS // per_row)
        while epochs > last_loss:
            low = max(last_loss, epochs - block)
            used = np.zeros(epochs - low, dtype=bool)
            for ds in datasets:  # epoch k's weights are row k
                rows = np.asarray(ds[low + 1: epochs + 1]).reshape(epochs - low, -1)
                used |= rows.any(axis=1)
            if used.any():
                return low + int(np.flatnonzero(used)[-1]) + 1
            epochs = low
    return epochs


def whole_number(value: Any, key: str, where: str) -> int:
    """An attribute that must hold a whole number (``RunFileError`` if it does not)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or int(value) != value or abs(value) > 2**62:
        raise RunFileError(f"{where}: the {key} attribute must be a whole number")
    return int(value)


def checked_dataset(group: h5py.Group, key: str, where: str,
                    limits: h5guard.Limits = h5guard.DEFAULT) -> h5py.Dataset:
    """Dataset ``key`` of ``group``, refused when it is a link, keeps its data outside the
    file, is a virtual dataset, or declares more than ``limits`` allow."""
    ds = h5guard.get_member(group, key, where)
    if not isinstance(ds, h5py.Dataset):
        raise RunFileError(f"{where}: {key} is {'missing' if ds is None else 'not a dataset'}")
    h5guard.check_dataset(ds, where, key, limits)
    return ds


def activation_config(group: h5py.Group, n_layers: int, where: str) -> list[dict]:
    """Per layer ``{"name": ..., **params}``; from ``activation_functions`` when the run
    has no ``activation_config`` (DeepReplay files)."""
    raw = h5guard.read_attr(group, "activation_config", where)
    if raw is not None:
        config = h5guard.loads_json(raw, where, "the activation_config attribute")
        if not isinstance(config, list) or not all(
                isinstance(c, dict) and isinstance(c.get("name", ""), str) for c in config):
            raise RunFileError(f"{where}: activation_config must be a list of dicts with a "
                               "'name'")
        return [dict(c) for c in config]
    decoded = h5guard.read_attr(group, "activation_functions", where)
    if decoded is None:
        raise RunFileError(f"{where} has neither an activation_config nor an "
                           "activation_functions attribute")
    names = decoded if isinstance(decoded, list) else [decoded]
    out = []
    for i, name in enumerate(names):
        config: dict[str, Any] = {"name": str(name)}
        layer = h5guard.hard_member(group, f"layer{i}")
        if name and isinstance(layer, h5py.Group) and not weight_datasets(layer):
            # DeepReplay recorded Activation layers by their function name.
            config["layer"] = "activation"
        out.append(config)
    return out


def json_attr(group: h5py.Group, key: str) -> dict | None:
    """A JSON object attribute, or None when missing, not an object, too long or too deep
    (its length and nesting are bounded before it is parsed)."""
    try:
        raw = h5guard.read_attr(group, key, key)
        value = None if raw is None else h5guard.loads_json(raw, key, key)
    except RunFileError:
        return None
    return value if isinstance(value, dict) else None


def output_classes(group: h5py.Group, n_layers: int) -> int:
    """Classes of the run's output, from its last weighted layer's declared shape (one
    sigmoid unit: 2); 2 when no layer has weights."""
    for i in reversed(range(n_layers)):
        layer = h5guard.hard_member(group, f"layer{i}")
        if isinstance(layer, h5py.Group):
            found = weight_datasets(layer)
            if found and found[0].ndim >= 2:
                units = int(found[0].shape[-1])
                return 2 if units == 1 else units
    return 2


def class_names(group: h5py.Group, n_layers: int, spec: dict | None = None) -> tuple[str, ...]:
    """The run's class names: its ``class_names`` attribute when it holds one bounded name
    per output class; else the names its spec's dataset gives (a run written before the
    attribute); else ``class 0``, ``class 1``... (DeepReplay files)."""
    k = output_classes(group, n_layers)
    try:
        raw = h5guard.read_attr(group, "class_names", "class_names")
        value = None if raw is None else h5guard.loads_json(raw, "class_names", "class_names")
    except RunFileError:
        value = None
    return datasets.check_class_names(value, k) or spec_class_names(spec, k)


def spec_class_names(spec: Any, k: int) -> tuple[str, ...]:
    """The class names a stored spec's dataset gives, when it gives ``k``; else the
    neutral names (a spec read from a file may be anything)."""
    dataset = spec.get("dataset") if isinstance(spec, dict) else None
    if isinstance(dataset, dict):
        try:
            names = datasets.class_names(dataset)
        except (ValueError, TypeError, KeyError, AttributeError):
            names = ()
        if len(names) == k:
            return names
    return datasets.default_class_names(k)


def why_no_runs(f: h5py.File) -> str:
    """Why the closest candidate group is not a run, for the 'holds no runs' message."""
    for key in f:
        obj = h5guard.hard_member(f, key)
        if not isinstance(obj, h5py.Group):
            continue
        missing = [k for k in ("inputs", "targets", "loss") if not h5guard.has_member(obj, k)]
        if not isinstance(h5guard.hard_member(obj, "layer0"), h5py.Group):
            missing.append("layer0")
        if len(missing) < 4:
            return f" (group {key!r} lacks {', '.join(missing)})"
    return " (a run is a group with inputs, targets, loss and layer0, layer1... groups)"
