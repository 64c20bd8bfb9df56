"""Reading run files nobody here wrote: check an uploaded file, then write its runs afresh.

An upload is checked in three passes before any of its data is trusted:

1. structure (``h5guard.walk``): no soft or external link, no external storage, no
   virtual dataset, only h5py's own filters, plain numeric datasets, bounded depth,
   object count, attributes and declared sizes; metadata only, nothing is read;
2. each run's layout against ``Limits`` (shapes, layer widths chaining from the inputs,
   epochs, weight floats, activation names, status, JSON attributes), still from metadata
   and small attributes;
3. each run's values: inputs finite, targets class indices (or one-hot rows) of the
   output's classes.

``import_file`` then reads plain numpy arrays (bounded by the checks) and writes every run
into a new file with this module's own code: only the run-file layout's datasets and
attributes, JSON re-serialised from parsed values. Nothing of the uploaded file's own
structure (links, storage, filters, attributes we do not know) reaches the new file.

Example
-------
>>> names = import_file("upload.h5", "session/run-1.h5", "my runs.h5",
...                     taken=["sigmoid"])                          # doctest: +SKIP
>>> names                                                           # doctest: +SKIP
['sigmoid (2)', 'tanh']
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from replay_core.data import activations, datasets
from replay_core.errors import ReplayError, RunFileError
from replay_core.store import h5guard
from replay_core.store.h5guard import DEFAULT, Limits
from replay_core.store.layout import (
    activation_config,
    layer_count,
    run_names,
    stored_epochs,
    why_no_runs,
)
from replay_core.store.names import check_name, unique_name
from replay_core.store.opening import READ_ERRORS, contained, file_problem, open_read, reason
from replay_core.store.records import LAYER_KEY, STATUSES, WEIGHTS_KEY
from replay_core.store.samples import check_classes, check_features, check_finite, check_rows

__all__ = ["DEFAULT", "Limits", "check_file", "import_file"]

_INT_ATTRS = ("samples", "batch_size", "n_batches", "n_epochs", "n_layers", "epochs_done",
              "diverged_epoch")
_TEXT_ATTRS = ("format", "status", "created", "message")
_JSON_ATTRS = {"spec": dict, "sweep": dict, "activation_config": list, "versions": dict}
_LIST_ATTRS = ("activation_functions", "layer_names")
_DATA = ("inputs", "targets", "val_inputs", "val_targets")
_MAX_INT_ATTR = 10**12


# -- checking -------------------------------------------------------------------------


def check_file(path: str | os.PathLike, display_name: str | None = None,
               limits: Limits = DEFAULT) -> list[str]:
    """Check that ``path`` is a run file that stays inside itself and inside ``limits``.

    Returns its run names (oldest first). The structure, every declared shape and the
    small attributes are checked before any dataset is read; then inputs and targets are
    read to check their values.

    Parameters
    ----------
    path : the file to check.
    display_name : how messages name the file (e.g. an upload's own name); the file's
        base name when None.
    limits : the most the file may hold.

    Raises
    ------
    RunFileError
        One sentence naming the file, the run and what is wrong (with the limit), e.g.
        ``'x.h5': 'run/inputs' keeps its data in an external file; ...``.
    """
    name = display_name or Path(path).name
    display = repr(name)
    problem = file_problem(path, name)
    if problem is not None:
        raise problem
    with open_read(path, name) as f:
        return contained(display, lambda: _check_open(f, display, limits))


def _check_open(f: h5py.File, display: str, limits: Limits) -> list[str]:
    h5guard.walk(f, display, limits)
    names = run_names(f)
    if not names:
        raise RunFileError(f"{display} holds no runs{why_no_runs(f)}")
    layouts = {}
    for name in names:
        where = f"{display} run {name!r}"
        _check_run_name(name, where)
        layouts[name] = _check_layout(f[name], where, limits)
    for name in names:
        _check_values(f[name], f"{display} run {name!r}", layouts[name])
    return names


def _check_run_name(name: str, where: str) -> None:
    check_name(name)
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise RunFileError(f"{where}: the run name holds control characters")


@dataclass(frozen=True)
class _Layout:
    """What the layout check learned about a run, for the value check and the copy."""

    n_layers: int
    epochs: int
    classes: int
    attrs: dict[str, Any]


def _dataset(g: h5py.Group, key: str, where: str, ndims: tuple[int, ...],
             kinds: str = "fiub") -> h5py.Dataset:
    ds = h5guard.get_member(g, key, where)
    if not isinstance(ds, h5py.Dataset):
        raise RunFileError(f"{where}: {key} is not a dataset")
    if ds.dtype.kind not in kinds:
        raise RunFileError(f"{where}: {key} has dtype {ds.dtype}; it must be numeric")
    if ds.ndim not in ndims:
        want = " or ".join(f"{n}-D" for n in ndims)
        raise RunFileError(f"{where}: {key} has shape {ds.shape}; it must be {want}")
    return ds


def _int_attr(attrs: dict[str, Any], key: str, where: str, low: int = 0,
              high: int = _MAX_INT_ATTR) -> int | None:
    value = attrs.get(key)
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value \
            or value in (float("inf"), float("-inf")) or int(value) != value:
        raise RunFileError(f"{where}: the {key} attribute must be a whole number, got "
                           f"{str(value)[:40]!r}")
    if not low <= value <= high:
        raise RunFileError(f"{where}: the {key} attribute is {int(value):,}; it must be "
                           f"between {low:,} and {high:,}")
    return int(value)


def _run_attrs(g: h5py.Group, where: str, limits: Limits) -> dict[str, Any]:
    """The run-file layout's attributes, parsed and bounded; others are left out."""
    out: dict[str, Any] = {}
    for key in _INT_ATTRS:
        value = h5guard.read_attr(g, key, where, limits)
        if value is not None:
            out[key] = value
            out[key] = _int_attr(out, key, where)
    for key in _TEXT_ATTRS:
        value = h5guard.read_attr(g, key, where, limits)
        if value is None:
            continue
        if not isinstance(value, str):
            raise RunFileError(f"{where}: the {key} attribute must be text")
        out[key] = value
    for key, kind in _JSON_ATTRS.items():
        value = h5guard.read_attr(g, key, where, limits)
        if value is None:
            continue
        parsed = h5guard.loads_json(value, where, f"the {key} attribute", limits)
        if not isinstance(parsed, kind):
            raise RunFileError(f"{where}: the {key} attribute must be a JSON "
                               f"{'object' if kind is dict else 'list'}")
        out[key] = parsed
    for key in _LIST_ATTRS:
        value = h5guard.read_attr(g, key, where, limits)
        if value is None:
            continue
        value = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) and len(v) <= limits.name_length for v in value):
            raise RunFileError(f"{where}: the {key} attribute must be a list of names of at "
                               f"most {limits.name_length} characters")
        out[key] = value
    status = out.get("status")
    if status is not None and status not in STATUSES:
        raise RunFileError(f"{where}: status {status[:40]!r} is not one of "
                           f"{', '.join(STATUSES)}")
    return out


def _check_layout(g: h5py.Group, where: str, limits: Limits) -> _Layout:
    """Shapes, widths, epochs, activations and attributes of one run, from metadata."""
    attrs = _run_attrs(g, where, limits)
    inputs = _dataset(g, "inputs", where, (2,))
    targets = _dataset(g, "targets", where, (1, 2))
    rows, width = inputs.shape
    if rows == 0 or width == 0:
        raise RunFileError(f"{where}: inputs has shape {inputs.shape}; it needs samples and "
                           "features")
    if rows > limits.samples:
        raise RunFileError(f"{where}: inputs has {rows:,} samples; the limit is "
                           f"{limits.samples:,}")
    if width > limits.features:
        raise RunFileError(f"{where}: inputs has {width:,} features; the limit is "
                           f"{limits.features}")
    check_rows(targets.shape[0], rows, where=where)
    has_val = [h5guard.has_member(g, k) for k in ("val_inputs", "val_targets")]
    if has_val[0] != has_val[1]:
        raise RunFileError(f"{where}: has {'val_inputs' if has_val[0] else 'val_targets'} "
                           "without the other")
    if has_val[0]:
        val_inputs = _dataset(g, "val_inputs", where, (2,))
        val_targets = _dataset(g, "val_targets", where, (1, 2))
        check_features(val_inputs.shape[1], width, "val_inputs", "inputs", where)
        if val_inputs.shape[0] > limits.samples:
            raise RunFileError(f"{where}: val_inputs has {val_inputs.shape[0]:,} samples; the "
                               f"limit is {limits.samples:,}")
        check_rows(val_targets.shape[0], val_inputs.shape[0], "val_targets", "val_inputs",
                   where)
    loss = _dataset(g, "loss", where, (1,))
    loss_len = int(loss.shape[0])
    if loss_len > limits.epochs:
        raise RunFileError(f"{where}: loss holds {loss_len:,} epochs; the limit is "
                           f"{limits.epochs:,}")
    counted = layer_count(g)
    n_layers = attrs.get("n_layers", counted)
    if n_layers != counted:
        raise RunFileError(f"{where}: n_layers is {n_layers} but the run has {counted} "
                           "layer groups (layer0, layer1...)")
    if n_layers > limits.layers:
        raise RunFileError(f"{where}: the run has {n_layers} layers; the limit is "
                           f"{limits.layers}")
    done = attrs.get("epochs_done", loss_len)
    if not 0 <= done <= loss_len:
        raise RunFileError(f"{where}: epochs_done is {done} but loss holds {loss_len} epochs")
    names = attrs.get("layer_names")
    if names is not None and len(names) != n_layers:
        raise RunFileError(f"{where}: layer_names has {len(names)} entries for {n_layers} "
                           "layers")

    source = f"inputs has {width} columns"
    floats = 0
    out_units = None
    for i in range(n_layers):
        layer = h5guard.get_member(g, f"layer{i}", where)
        if not isinstance(layer, h5py.Group):
            raise RunFileError(f"{where}: layer{i} is not a group")
        keys = [k for k in layer if WEIGHTS_KEY.match(k)]
        if len(keys) > 2:
            raise RunFileError(f"{where}: layer{i} holds {len(keys)} weight arrays; replay "
                               "reads Dense layers (kernel and bias) only")
        if sorted(keys) != [f"weights{j}" for j in range(len(keys))]:
            raise RunFileError(f"{where}: layer{i} has weight datasets {sorted(keys)}; they "
                               "must be weights0, weights1... without gaps")
        datasets = []
        for key in sorted(keys):
            label = f"layer{i}/{key}"
            ds = h5guard.get_member(layer, key, where)
            if not isinstance(ds, h5py.Dataset) or ds.dtype.kind != "f":
                raise RunFileError(f"{where}: {label} must be a float dataset")
            if ds.ndim == 0 or ds.shape[0] < 1:
                raise RunFileError(f"{where}: {label} holds no epochs (its first axis is "
                                   f"{ds.shape[0] if ds.ndim else 'missing'})")
            if ds.shape[0] < done + 1:
                raise RunFileError(f"{where}: {label} has {ds.shape[0]} epoch rows but the run "
                                   f"records {done} epochs (it needs {done + 1})")
            if ds.shape[0] > limits.epochs + 1:
                raise RunFileError(f"{where}: {label} holds {ds.shape[0] - 1:,} epochs; the "
                                   f"limit is {limits.epochs:,}")
            floats += (done + 1) * int(np.prod(ds.shape[1:], dtype=np.int64))
            datasets.append(ds)
        if not datasets:
            continue
        kernel = datasets[0]
        if kernel.ndim != 3:
            raise RunFileError(f"{where}: layer{i} kernel has shape {kernel.shape[1:]} per "
                               "epoch; replay reads Dense kernels (inputs, units) only")
        k_in, k_out = int(kernel.shape[1]), int(kernel.shape[2])
        if k_in != width:
            raise RunFileError(f"{where}: layer{i} kernel takes {k_in} inputs but {source}")
        if k_out < 1 or k_out > limits.units:
            raise RunFileError(f"{where}: layer{i} has {k_out:,} units; a layer may have 1 to "
                               f"{limits.units}")
        if len(datasets) == 2 and datasets[1].shape[1:] != (k_out,):
            raise RunFileError(f"{where}: layer{i} bias has shape {datasets[1].shape[1:]} per "
                               f"epoch but its kernel has {k_out} units")
        width = out_units = k_out
        source = f"layer{i} gives {width} outputs"
    if out_units is None:
        raise RunFileError(f"{where}: no layer has weights, so there is nothing to replay")
    if floats > limits.weight_floats:
        raise RunFileError(f"{where}: its weights over {done} epochs hold {floats:,} values; "
                           f"the limit is {limits.weight_floats:,}")
    samples = rows + (val_inputs.shape[0] if has_val[0] else 0)
    if (done + 1) * samples > limits.epoch_samples:
        raise RunFileError(f"{where}: {done + 1:,} weight states of {samples:,} samples would "
                           f"be replayed ({(done + 1) * samples:,}); the limit is "
                           f"{limits.epoch_samples:,}")
    classes = 2 if out_units == 1 else out_units
    if classes > limits.classes:
        raise RunFileError(f"{where}: the output layer has {out_units} units; the limit is "
                           f"{limits.classes} classes")
    for key in ("targets", "val_targets"):
        ds = h5guard.get_member(g, key, where)
        if ds is not None and ds.ndim == 2 and ds.shape[1] > 1 and ds.shape[1] != classes:
            raise RunFileError(f"{where}: {key} has {ds.shape[1]} one-hot columns but the "
                               f"output has {classes} classes")
    config = activation_config(g, n_layers, where)
    if len(config) != n_layers:
        raise RunFileError(f"{where}: {len(config)} activations for {n_layers} layers")
    for i, entry in enumerate(config):
        try:
            activations.get(entry)
        except (ValueError, TypeError) as exc:
            raise RunFileError(f"{where}: layer{i}: {exc}") from exc
    return _Layout(n_layers=n_layers, epochs=done, classes=classes, attrs=attrs)


def _check_values(g: h5py.Group, where: str, layout: _Layout) -> None:
    """Inputs finite; targets class indices below the output's classes (or one-hot)."""
    for x_key, y_key in (("inputs", "targets"), ("val_inputs", "val_targets")):
        if not h5guard.has_member(g, x_key):
            continue
        check_finite(np.asarray(g[x_key][()]), x_key, where)
        check_classes(np.asarray(g[y_key][()], dtype=np.float64), layout.classes, y_key, where)


# -- importing ------------------------------------------------------------------------


@dataclass(frozen=True)
class _PlainRun:
    """One run as plain numpy arrays and parsed attributes, ready to be written."""

    attrs: dict[str, Any]
    data: dict[str, np.ndarray]
    logs: dict[str, np.ndarray]
    weights: list[list[np.ndarray]]


def import_file(src: str | os.PathLike, dst: str | os.PathLike,
                display_name: str | None = None, taken: Collection[str] = (),
                limits: Limits = DEFAULT) -> list[str]:
    """Check ``src`` (``check_file``) and write its runs afresh into the new file ``dst``.

    Each run is read as plain numeric arrays and written with this module's own code:
    inputs, targets (and validation data), one dataset per logged metric, the weights
    per layer (resizable along the epoch axis, one chunk per epoch, as ``RunWriter``
    writes them) and the layout's attributes re-serialised from their parsed values.
    DeepReplay runs stay DeepReplay runs (no ``format`` attribute); the epochs past a run's
    last replayable epoch (DeepReplay's zero padding, a half-written row) are left out.

    Parameters
    ----------
    src : the uploaded file.
    dst : the file to create; it must not exist.
    display_name : how messages name the upload (``src``'s base name when None).
    taken : run names already used (e.g. the session's): a run whose name is taken, or
        given twice, is renamed ``name (2)``, ``name (3)``...
    limits : the most the upload may hold.

    Returns
    -------
    list of str
        The runs' names in ``dst``, in the order of ``check_file``.

    Raises
    ------
    RunFileError
        ``src`` is refused (one sentence saying why), ``dst`` exists, or ``dst`` could not
        be written; ``dst`` does not exist afterwards (unless it existed before).
    """
    display = repr(display_name or Path(src).name)
    if os.path.lexists(dst):
        raise RunFileError(f"{Path(dst).name!r} already exists; an upload is written into a "
                           "new file")
    names = check_file(src, display_name, limits)
    with open_read(src, display_name or Path(src).name) as f:
        runs = contained(display, lambda: [_read_plain(f[name], f"{display} run {name!r}",
                                                       limits) for name in names])
    new_names = _new_names(names, taken, limits)
    try:
        with h5py.File(dst, "x", track_order=True) as out:
            for name, run in zip(new_names, runs):
                _write_run(out, name, run)
    except BaseException as exc:
        Path(dst).unlink(missing_ok=True)
        if isinstance(exc, READ_ERRORS) and not isinstance(exc, ReplayError):
            raise RunFileError(f"the runs of {display} could not be written to "
                               f"{Path(dst).name!r} ({reason(exc)})") from exc
        raise
    return new_names


def _new_names(names: list[str], taken: Collection[str], limits: Limits) -> list[str]:
    used = set(taken)
    out = []
    for name in names:
        # Room for a " (999)" suffix within the name limit.
        new = unique_name(name if name not in used else name[: limits.name_length - 6], used)
        used.add(new)
        out.append(new)
    return out


def _native(array: np.ndarray) -> np.ndarray:
    """A plain, native-endian, C-ordered copy (no HDF5 type survives)."""
    array = np.asarray(array)
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))


_LOG_NAME = re.compile(r"^[\w.:+=,()-]{1,100}$")


def class_names_attr(g: h5py.Group, classes: int, limits: Limits) -> tuple[str, ...] | None:
    """The run's ``class_names`` when it is one bounded name per output class; None when
    absent or anything else (the copy then has none: readers use neutral names)."""
    try:
        raw = h5guard.read_attr(g, "class_names", "class_names", limits)
        value = None if raw is None else h5guard.loads_json(raw, "class_names",
                                                            "class_names", limits)
    except RunFileError:
        return None
    return datasets.check_class_names(value, classes)


def _read_plain(g: h5py.Group, where: str, limits: Limits) -> _PlainRun:
    """Read a checked run: its arrays (bounded by the checks) and parsed attributes."""
    layout = _check_layout(g, where, limits)
    epochs = stored_epochs(g, layout.n_layers)
    data = {key: _native(g[key][()]) for key in _DATA if h5guard.has_member(g, key)}
    logs = {}
    for key in g:
        if key in _DATA or LAYER_KEY.match(key) or not _LOG_NAME.match(key):
            continue
        ds = h5guard.get_member(g, key, where)
        if isinstance(ds, h5py.Dataset) and ds.ndim == 1 and ds.dtype.kind in "fiu":
            values = _native(ds[:epochs])
            if len(values) < epochs:  # a metric logged for fewer epochs: NaN, as read_run
                values = np.concatenate([values.astype(np.float32),
                                         np.full(epochs - len(values), np.nan, np.float32)])
            logs[key] = values
    weights = [[_native(g[f"layer{i}/weights{j}"][: epochs + 1])
                for j in range(len([k for k in g[f"layer{i}"] if WEIGHTS_KEY.match(k)]))]
               for i in range(layout.n_layers)]
    attrs = dict(layout.attrs)
    names = class_names_attr(g, layout.classes, limits)
    if names is not None:
        attrs["class_names"] = list(names)
    if "epochs_done" in attrs:
        attrs["epochs_done"] = epochs
    attrs["n_layers"] = layout.n_layers
    return _PlainRun(attrs=attrs, data=data, logs=logs, weights=weights)


def _write_run(f: h5py.File, name: str, run: _PlainRun) -> None:
    """Write one run in the run-file layout, from plain values only."""
    g = f.create_group(name)
    a = g.attrs
    for key, value in run.attrs.items():
        if key in _INT_ATTRS:
            a[key] = int(value)
        elif key in _TEXT_ATTRS:
            a[key] = str(value)
        elif key in _JSON_ATTRS:
            a[key] = h5guard.dumps_json(value)
        elif key in _LIST_ATTRS:
            a[key] = np.array([str(v).encode("utf-8") for v in value], dtype="S")
        elif key == "class_names":
            a[key] = h5guard.dumps_json(list(value))
    for key, values in run.data.items():
        g.create_dataset(key, data=values)
    for key, values in run.logs.items():
        g.create_dataset(key, data=values, maxshape=(None,), chunks=(1,))
    for i, layer in enumerate(run.weights):
        lg = g.create_group(f"layer{i}")
        for j, w in enumerate(layer):
            lg.create_dataset(f"weights{j}", data=w, maxshape=(None, *w.shape[1:]),
                              chunks=(1, *(max(1, s) for s in w.shape[1:])))
