"""Every read and write of the HDF5 run file: one run is one top-level group.

The layout is DeepReplay's (attrs ``samples``, ``batch_size``, ``n_batches``,
``n_epochs``, ``n_layers``, ``activation_functions``; datasets ``inputs``, ``targets``,
``loss``, ``acc``, ``layer{i}/weights{j}``) with our additions beside it (``format``,
``spec``, ``status``, ``epochs_done``, ``created``, ``versions``, ``layer_names``,
``activation_config``, ``lr``, ``val_*``). Our datasets grow by one row per epoch and are
flushed every epoch, so a run cut off at any moment reads back the epochs it finished;
files written by the original DeepReplay package read back too.

Readers open the file read-only, copy what they need into memory and close it. Nothing
here imports TensorFlow.

Example
-------
>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "runs.h5")
>>> kernel, bias = np.zeros((2, 1), np.float32), np.zeros(1, np.float32)
>>> with RunWriter(path, "demo", inputs=np.zeros((4, 2)), targets=np.zeros(4),
...                layer_names=["out"], activation_config=[{"name": "sigmoid"}],
...                initial_weights=[[kernel, bias]], samples=4, batch_size=2,
...                n_epochs=1) as writer:
...     writer.append_epoch([[kernel + 1, bias]], {"loss": 0.5, "accuracy": 1.0}, lr=0.1)
...     writer.set_status("complete")
>>> run = read_run(path, "demo")
>>> run.epochs_done, run.weights[0][0].shape, sorted(run.logs)
(1, (2, 2, 1), ['acc', 'loss', 'lr'])
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from replay_core.errors import ReplayError, RunExistsError, RunFileError, RunNotFoundError
from replay_core.store import h5guard
from replay_core.store.names import MAX_NAME_LENGTH, check_name

__all__ = [
    "FORMAT", "LOG_NAMES", "MAX_NAME_LENGTH", "STATUSES", "EpochRecord", "RunData",
    "RunSummary", "RunWriter", "WriterState", "check_name", "check_status", "copy_runs",
    "delete_run", "effective_status", "list_runs", "mark_interrupted", "open_for_writing",
    "read_run", "rename_run", "stored_logs", "validate_file", "writer_alive",
]

FORMAT = "deepreplay-studio/1"
STATUSES = ("running", "complete", "stopped", "diverged", "failed")

LOG_NAMES = {"accuracy": "acc", "val_accuracy": "val_acc"}
"""Keras 3 log names -> the names stored in the run (DeepReplay's ``acc``)."""

_NOT_METRICS = frozenset({"learning_rate", "lr"})  # the rate goes to the `lr` dataset
_DATA_NAMES = frozenset({"inputs", "targets", "val_inputs", "val_targets"})
_LAYER = re.compile(r"^layer(\d+)$")
_WEIGHTS = re.compile(r"^weights(\d+)$")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


# -- records --------------------------------------------------------------------------


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch, as the recorder hands it to its ``on_epoch`` sink.

    Args:
        epoch: 1-based epoch number within the run (weights index ``epoch``).
        logs: the epoch's values under their stored names (``loss``, ``acc``,
            ``val_loss``, ``val_acc``...).
        lr: the learning rate in force during the epoch.
        weights: per model layer, its weight arrays after the epoch (``[]`` when none).

    Example
    -------
    >>> EpochRecord(1, {"loss": 0.69}, 0.05, [[]]).epoch
    1
    """

    epoch: int
    logs: dict[str, float]
    lr: float
    weights: list[list[np.ndarray]]


@dataclass(frozen=True)
class RunSummary:
    """What a run list shows about a run, read without loading its weights.

    Args:
        name: the run (top-level group) name.
        status: one of ``STATUSES`` (``complete`` for DeepReplay files).
        epochs_done: epochs stored after the initial state.
        n_epochs: epochs planned.
        samples: number of training samples.
        final_loss, final_acc: the last stored epoch's values (None with 0 epochs, no
            such dataset, or a non-finite value).
        spec: the RunSpec as a dict, or None.
        created: ISO-8601 UTC time the run was started, or None.
        is_deepreplay: written by the original DeepReplay package.
        message: why a run stopped, diverged or failed (empty otherwise).
        sweep: the run's place in a seed sweep (``id``, ``config``, ``seed``), or None.

    Example
    -------
    >>> RunSummary("a", "complete", 3, 3, 100, 0.4, 0.9, None, None, False).final_acc
    0.9
    """

    name: str
    status: str
    epochs_done: int
    n_epochs: int
    samples: int
    final_loss: float | None
    final_acc: float | None
    spec: dict | None
    created: str | None
    is_deepreplay: bool
    message: str = ""
    sweep: dict | None = None


@dataclass(frozen=True)
class RunData:
    """A whole run in memory (the file is closed once this exists).

    Args:
        name: the run name.
        inputs: (N, d) float64; targets: (N,) float64 ((N, k) kept for k > 1).
        val_inputs, val_targets: held-out data, or None.
        weights: per model layer, its arrays of shape (epochs_done + 1, *shape), float32;
            ``[]`` for a weightless layer.
        layer_names: one per model layer (``layer0``, ``layer1``... when not stored).
        activation_config: one dict per model layer, ``{"name": ..., **params}``.
        logs: per-epoch values, float64 arrays of length ``epochs_done`` (``loss``,
            ``acc``, ``lr``, ``val_loss``...).
        epochs_done: epochs stored after the initial state.
        status: one of ``STATUSES``.
        spec: the RunSpec as a dict, or None.
        attrs: every group attribute, decoded to Python values.
        message: why the run stopped, diverged or failed (empty otherwise).

    Example
    -------
    >>> run = read_run("runs.h5", "sigmoid")                   # doctest: +SKIP
    >>> run.weights[0][0].shape                                # doctest: +SKIP
    (151, 2, 2)
    """

    name: str
    inputs: np.ndarray
    targets: np.ndarray
    val_inputs: np.ndarray | None
    val_targets: np.ndarray | None
    weights: list[list[np.ndarray]]
    layer_names: list[str]
    activation_config: list[dict]
    logs: dict[str, np.ndarray]
    epochs_done: int
    status: str
    spec: dict | None
    attrs: dict
    message: str

    @property
    def is_deepreplay(self) -> bool:
        """Written by the original DeepReplay package (no ``format`` attribute)."""
        return "format" not in self.attrs


# -- names and small helpers ----------------------------------------------------------


def _fname(path: str | os.PathLike) -> str:
    return Path(path).name


def stored_logs(logs: Mapping[str, Any]) -> dict[str, float]:
    """Map Keras log names to stored names and values to floats.

    ``accuracy`` -> ``acc``, ``val_accuracy`` -> ``val_acc``; the learning rate
    (``learning_rate``/``lr``) is dropped (it is stored from the optimizer); a nested
    dict (e.g. ``compile_metrics``) is flattened; non-scalar values and names that would
    clash with the run's own datasets are skipped.
    """
    out: dict[str, float] = {}
    for key, value in logs.items():
        if isinstance(value, Mapping):
            for k, v in stored_logs(value).items():
                out.setdefault(k, v)
            continue
        name = LOG_NAMES.get(str(key), str(key)).replace("/", "_")
        if not name or name in _NOT_METRICS or name in _DATA_NAMES or _LAYER.match(name):
            continue
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if arr.size == 1 and name not in out:
            out[name] = float(arr.reshape(()))
    return out


def _attrs(obj: h5py.HLObject) -> dict[str, Any]:
    return {key: h5guard.decode_attr(obj.attrs[key]) for key in obj.attrs}


def _versions() -> str:
    from importlib import metadata

    import replay_core

    found: dict[str, str | None] = {"replay_core": getattr(replay_core, "__version__", None)}
    for dist in ("keras", "tensorflow"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    found["h5py"] = h5py.__version__
    found["numpy"] = np.__version__
    return json.dumps(found)


def _has_signature(path: str | os.PathLike) -> bool:
    """HDF5's signature at offset 0 or at a userblock offset (512, 1024, 2048...)."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        offset = 0
        while offset + len(_HDF5_SIGNATURE) <= size:
            fh.seek(offset)
            if fh.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def _file_problem(path: str | os.PathLike, display: str) -> RunFileError | None:
    """What is wrong with the file itself (missing, empty, not HDF5, unreadable), if anything."""
    try:
        if not os.path.exists(path):
            return RunFileError(f"{display!r} does not exist")
        if os.path.getsize(path) == 0:
            return RunFileError(f"{display!r} is empty")
        if not _has_signature(path):
            return RunFileError(f"{display!r} is not an HDF5 file")
    except OSError as exc:
        return RunFileError(f"{display!r} cannot be read: {exc.strerror or exc}")
    return None


def _open_error(path: str | os.PathLike, display: str, exc: BaseException,
                doing: str) -> RunFileError:
    """The precise error for a file h5py could not open."""
    problem = _file_problem(path, display)
    if problem is not None:
        return problem
    if _is_lock_error(exc):
        return RunFileError(f"{display!r} is in use by another process; try again when it "
                            "has finished")
    return RunFileError(f"{display!r} could not be {doing} as HDF5 ({_reason(exc)})")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.split("\n")[0][:200]


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "unable to lock file" in text or "errno = 11" in text


def _open_read(path: str | os.PathLike, display: str | None = None) -> h5py.File:
    """Open read-only; a file another process holds for writing is read without locks.

    A writer flushes after every epoch, so what is on disk between flushes is a
    consistent run; in the same process h5py shares the writer's open file instead.
    """
    display = display or _fname(path)
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        if _is_lock_error(exc):
            try:
                return h5py.File(path, "r", locking=False)
            except OSError as again:
                raise _open_error(path, display, again, "opened") from again
        raise _open_error(path, display, exc, "opened") from exc


def _open_write(path: str | os.PathLike) -> h5py.File:
    display = _fname(path)
    try:
        return h5py.File(path, "a", track_order=True)
    except (OSError, RuntimeError) as exc:
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise RunFileError(f"cannot create {display!r}: its folder does not exist") from exc
        if _is_disk_full(exc):
            raise RunFileError(f"the disk is full: {display!r} could not be written") from exc
        raise _open_error(path, display, exc, "opened for writing") from exc


def _looks_like_run(obj: Any) -> bool:
    # Links are not followed: one could lead into another file.
    return (isinstance(obj, h5py.Group)
            and all(h5guard.has_member(obj, key) for key in ("inputs", "targets", "loss"))
            and isinstance(h5guard.hard_member(obj, "layer0"), h5py.Group))


def _run_names(f: h5py.File) -> list[str]:
    """Runs in the file, oldest first (by ``created``; DeepReplay runs, which have none,
    first), ties in file order."""
    runs = []
    for position, name in enumerate(f):
        try:
            obj = h5guard.hard_member(f, name)  # a link is not followed, so not a run
            if _looks_like_run(obj):
                created = h5guard.read_attr(obj, "created", repr(name))
                runs.append((str(created or ""), position, name))
        except (KeyError, OSError, RuntimeError, RunFileError):  # unreadable: not a run
            continue
    return [name for _, _, name in sorted(runs)]


def _get_run(f: h5py.File, name: str, display: str) -> h5py.Group:
    obj = (h5guard.hard_member(f, name) if isinstance(name, str) and name and "/" not in name
           else None)
    if obj is None:
        names = _run_names(f)
        held = (f"; it holds {', '.join(map(repr, names))}" if names else
                "; it holds no runs")
        raise RunNotFoundError(f"no run {name!r} in {display!r}{held}")
    if not _looks_like_run(obj):
        raise RunFileError(f"{name!r} in {display!r} is not a run (a run is a group with "
                           "inputs, targets, loss and layer0, layer1... groups)")
    return obj


def _layer_count(group: h5py.Group) -> int:
    indices = {int(m.group(1)) for key in group if (m := _LAYER.match(key))}
    n = 0
    while n in indices:
        n += 1
    return n


def _weight_datasets(layer: h5py.Group) -> list[h5py.Dataset]:
    found = sorted((int(m.group(1)), key) for key in layer if (m := _WEIGHTS.match(key)))
    return [layer[key] for _, key in found]


_SCAN_FLOATS = 2_000_000  # weights read at once while looking for DeepReplay's padding


def _stored_epochs(group: h5py.Group, n_layers: int,
                   limits: h5guard.Limits = h5guard.DEFAULT) -> int:
    """Epochs that can be replayed: ``epochs_done`` (ours) or ``len(loss)`` (DeepReplay),
    never more than the loss or any weights dataset holds."""
    where = repr(group.name.lstrip("/"))
    loss = _checked(group, "loss", where, limits)
    loss_len = int(loss.shape[0]) if loss.shape else 0
    done = h5guard.read_attr(group, "epochs_done", where, limits)
    ours = done is not None
    epochs = _whole(done, "epochs_done", where) if ours else loss_len
    bounds = [epochs, loss_len]
    datasets = []
    for i in range(n_layers):
        layer = h5guard.get_member(group, f"layer{i}", where)
        if isinstance(layer, h5py.Group):
            datasets += [ds for ds in _weight_datasets(layer) if ds.shape]
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
        block = max(1, _SCAN_FLOATS // per_row)
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


def _whole(value: Any, key: str, where: str) -> int:
    """An attribute that must hold a whole number (``RunFileError`` if it does not)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or int(value) != value or abs(value) > 2**62:
        raise RunFileError(f"{where}: the {key} attribute must be a whole number")
    return int(value)


def _checked(group: h5py.Group, key: str, where: str,
             limits: h5guard.Limits = h5guard.DEFAULT) -> h5py.Dataset:
    """Dataset ``key`` of ``group``, refused when it is a link, keeps its data outside the
    file, is a virtual dataset, or declares more than ``limits`` allow."""
    ds = h5guard.get_member(group, key, where)
    if not isinstance(ds, h5py.Dataset):
        raise RunFileError(f"{where}: {key} is {'missing' if ds is None else 'not a dataset'}")
    h5guard.check_dataset(ds, where, key, limits)
    return ds


def _activation_config(group: h5py.Group, n_layers: int, where: str) -> list[dict]:
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
        if name and isinstance(layer, h5py.Group) and not _weight_datasets(layer):
            # DeepReplay recorded Activation layers by their function name.
            config["layer"] = "activation"
        out.append(config)
    return out


def _json_attr(group: h5py.Group, key: str) -> dict | None:
    """A JSON object attribute, or None when missing, not an object, too long or too deep
    (its length and nesting are bounded before it is parsed)."""
    try:
        raw = h5guard.read_attr(group, key, key)
        value = None if raw is None else h5guard.loads_json(raw, key, key)
    except RunFileError:
        return None
    return value if isinstance(value, dict) else None


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


# -- writing --------------------------------------------------------------------------

# Files a RunWriter of this process has open. HDF5's file lock tells another process's
# writer apart, but in one process h5py shares the open file, so the lock says nothing.
_WRITING_LOCK = threading.Lock()
_WRITING: dict[str, int] = {}
# Files whose writes failed: every writer still on one of them stops too.
_FAILED: set[str] = set()
# Room kept free beyond an epoch's rows for HDF5's chunk index and the final status.
_WRITE_MARGIN = 128 * 1024


def _writer_key(path: str | os.PathLike) -> str:
    return os.path.realpath(path)


def _register(path: str | os.PathLike) -> None:
    key = _writer_key(path)
    with _WRITING_LOCK:
        _WRITING[key] = _WRITING.get(key, 0) + 1


def _unregister(path: str | os.PathLike) -> None:
    key = _writer_key(path)
    with _WRITING_LOCK:
        left = _WRITING.get(key, 0) - 1
        if left > 0:
            _WRITING[key] = left
        else:
            _WRITING.pop(key, None)
            _FAILED.discard(key)


def open_for_writing() -> list[str]:
    """The files (real paths) a ``RunWriter`` of this process has open now."""
    with _WRITING_LOCK:
        return list(_WRITING)


def writer_alive(path: str | os.PathLike) -> bool:
    """Whether some writer has ``path`` open: a ``RunWriter`` of this process, or another
    process holding HDF5's write lock on it."""
    if _writer_key(path) in _WRITING:
        return True
    try:
        # The default locking, as every reader here opens: a writer elsewhere holds an
        # exclusive lock, so this open fails while it lives and succeeds once it is gone.
        h5py.File(path, "r").close()
    except FileNotFoundError:
        return False
    except OSError as exc:
        # "flag values don't match": this process has the file open with other lock
        # settings (a reader that found it locked by a writer elsewhere).
        return _is_lock_error(exc) or "don't match" in str(exc)
    return False


def effective_status(path: str | os.PathLike, status: str) -> str:
    """``status`` as a reader should show it: ``stopped`` for a ``running`` run whose
    writer is gone (a process killed mid-training), else ``status`` unchanged."""
    if status != "running" or writer_alive(path):
        return status
    return "stopped"


def mark_interrupted(filename: str | os.PathLike, run_name: str, message: str) -> bool:
    """Store ``stopped`` and ``message`` for run ``run_name`` when it is still marked
    ``running`` but no writer has its file; return whether it was changed.

    Raises ``RunFileError`` when the file cannot be opened for writing.
    """
    if not os.path.exists(filename) or writer_alive(filename):
        return False
    display = _fname(filename)
    try:
        with _open_write(filename) as f:
            a = _get_run(f, run_name, display).attrs
            if h5guard.decode_attr(a.get("status", "complete")) != "running":
                return False
            a["status"] = "stopped"
            a["message"] = str(message)
            return True
    except (OSError, RuntimeError) as exc:
        raise RunFileError(f"{display!r} could not be updated ({_reason(exc)})") from exc


def _room(path: str | os.PathLike) -> int | None:
    """Bytes ``path`` may still grow by: free disk space, and the process's file-size
    limit (``RLIMIT_FSIZE``) when there is one; None when unknown."""
    room = None
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)))
        room = st.f_bavail * st.f_frsize
    except (OSError, AttributeError):
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if soft != resource.RLIM_INFINITY:
            left = soft - os.path.getsize(path)
            room = left if room is None else min(room, left)
    except (ImportError, OSError, ValueError):
        pass
    return room


def _divert_failed_writes(f: h5py.File) -> None:
    """Let HDF5 give up the changes it could not write to a failing file.

    HDF5 keeps them and tries again whenever an object of the file is released, on
    close, and at interpreter exit, where h5py then crashes. Pointing the file's
    descriptor at /dev/null lets those writes (the failed ones) go nowhere, so every
    release and the close finish; the file on disk keeps what was flushed before.
    """
    try:
        fd = f.id.get_vfd_handle()
        null = os.open(os.devnull, os.O_RDWR)
        try:
            os.dup2(null, int(fd))
        finally:
            os.close(null)
    except (OSError, RuntimeError, ValueError, TypeError, AttributeError):
        pass


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return True
    text = str(exc)
    return any(sign in text for sign in ("No space left", "File too large", "Disk quota",
                                         "errno = 28", "errno = 27", "errno = 122"))


def _column_array(values: Any, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise RunFileError(f"{what} must be (samples,) or (samples, k), got shape {arr.shape}")
    return arr


def _inputs_array(values: Any, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float32)
    if arr.ndim != 2:
        raise RunFileError(f"{what} must be 2-D (samples, features), got shape {arr.shape}")
    return arr


def _append_rows(ds: h5py.Dataset, row: int, values: np.ndarray) -> None:
    """Grow ``ds`` to ``row + len(values)`` rows and write ``values`` from row ``row``."""
    values = np.array(values, dtype=np.float32, order="C")
    if len(values) == 1:
        _append_row(ds, row, values[0])
        return
    ds.id.set_extent((row + len(values), *values.shape[1:]))
    file_space = ds.id.get_space()
    file_space.select_hyperslab((row, *(0 for _ in values.shape[1:])), values.shape)
    ds.id.write(h5py.h5s.create_simple(values.shape), file_space, values)


def _append_row(ds: h5py.Dataset, row: int, value: np.ndarray) -> None:
    """Grow ``ds`` to ``row + 1`` rows and write ``value`` as row ``row``.

    The same as ``ds.resize(row + 1, axis=0); ds[row] = value`` through h5py's low-level
    API, which is about five times faster per call; recording pays it for every weight
    array and log value of every epoch.
    """
    value = np.array(value, dtype=np.float32, order="C")  # keeps a scalar 0-d
    shape = (1, *value.shape)
    ds.id.set_extent((row + 1, *value.shape))
    file_space = ds.id.get_space()
    file_space.select_hyperslab((row, *(0 for _ in value.shape)), shape)
    ds.id.write(h5py.h5s.create_simple(shape), file_space, value.reshape(shape))


def check_status(status: str) -> str:
    """Return ``status`` if it is one of ``STATUSES``, else raise ``RunFileError``."""
    if status not in STATUSES:
        raise RunFileError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    return status


class WriterState:
    """What the recorder reads back from any run writer: epochs written and status."""

    _epochs_done: int
    _status: str

    @property
    def epochs_done(self) -> int:
        """Epochs appended so far."""
        return self._epochs_done

    @property
    def status(self) -> str:
        """The status last written."""
        return self._status


class RunWriter(WriterState):
    """Append-only writer of one new run; the recorder's only way into the file.

    The constructor opens the file (created when missing; other runs are kept), creates
    the run's group with its attributes, data and initial weights, and flushes.
    Every ``append_epoch`` grows each per-epoch dataset by one row and flushes, so a
    process killed at any moment leaves the finished epochs readable.

    Args:
        filename: the HDF5 run file.
        run_name: a name not yet in the file (see ``check_name``).
        inputs, targets: the training data replayed, (N, d) and (N,) or (N, 1).
        val_inputs, val_targets: held-out data, or None.
        layer_names, activation_config: one per model layer.
        initial_weights: per model layer, its weight arrays before training.
        samples, batch_size, n_epochs: DeepReplay's attributes (epochs planned).
        spec_json: the RunSpec as JSON, or None.
        sweep: for a run of a seed sweep, what places it there (JSON-able mapping such as
            ``{"id": ..., "config": ..., "seed": ...}``), stored as the attribute
            ``sweep``; None otherwise.

    Raises:
        RunExistsError: ``run_name`` is in the file already (nothing is changed).
        RunFileError: a bad name, inconsistent arguments, or a file that cannot be
            opened for writing.

    Example
    -------
    >>> writer = RunWriter("runs.h5", "a", inputs=X, targets=y, layer_names=["out"],
    ...                    activation_config=[{"name": "sigmoid"}],
    ...                    initial_weights=[[k0, b0]], samples=len(X), batch_size=16,
    ...                    n_epochs=10)                                   # doctest: +SKIP
    >>> writer.append_epoch([[k1, b1]], {"loss": 0.6}, lr=0.05)           # doctest: +SKIP
    >>> writer.set_status("complete"); writer.close()                     # doctest: +SKIP
    """

    def __init__(
        self,
        filename: str | os.PathLike,
        run_name: str,
        *,
        inputs: Any,
        targets: Any,
        val_inputs: Any = None,
        val_targets: Any = None,
        layer_names: Sequence[str],
        activation_config: Sequence[Mapping[str, Any]],
        initial_weights: Sequence[Sequence[Any]],
        samples: int,
        batch_size: int,
        n_epochs: int,
        spec_json: str | None = None,
        sweep: Mapping[str, Any] | None = None,
    ) -> None:
        self.filename = str(filename)
        self.name = check_name(run_name)
        where = f"run {self.name!r}"
        X = _inputs_array(inputs, "inputs")
        y = _column_array(targets, "targets")
        if len(y) != len(X):
            raise RunFileError(f"{where}: inputs has {len(X)} rows but targets has {len(y)}")
        if (val_inputs is None) != (val_targets is None):
            raise RunFileError(f"{where}: give both val_inputs and val_targets, or neither")
        Xv = yv = None
        if val_inputs is not None:
            Xv = _inputs_array(val_inputs, "val_inputs")
            yv = _column_array(val_targets, "val_targets")
            if len(yv) != len(Xv):
                raise RunFileError(f"{where}: val_inputs has {len(Xv)} rows but val_targets "
                                   f"has {len(yv)}")
            if Xv.shape[1] != X.shape[1]:
                raise RunFileError(f"{where}: val_inputs has {Xv.shape[1]} columns but inputs "
                                   f"has {X.shape[1]}")
        n_layers = len(initial_weights)
        if len(layer_names) != n_layers or len(activation_config) != n_layers:
            raise RunFileError(
                f"{where}: {n_layers} layers of weights but {len(layer_names)} layer names and "
                f"{len(activation_config)} activation configs; give one of each per layer")
        weights = [[np.asarray(w, dtype=np.float32) for w in layer] for layer in initial_weights]
        if spec_json is not None:
            try:
                json.loads(spec_json)
            except (TypeError, ValueError) as exc:
                raise RunFileError(f"{where}: spec_json is not valid JSON ({exc})") from exc
        config_json = json.dumps([dict(c) for c in activation_config], default=str)
        sweep_json = None
        if sweep is not None:
            try:
                sweep_json = json.dumps(dict(sweep), allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise RunFileError(f"{where}: sweep must be a JSON object ({exc})") from exc
        self._shapes = [[w.shape for w in layer] for layer in weights]
        self._epochs_done = 0
        self._status = "running"
        self._file: h5py.File | None = None
        self._failure: RunFileError | None = None

        # Registered before the file opens, so no reader of this process ever sees the
        # new run without a live writer.
        _register(self.filename)
        try:
            f = _open_write(self.filename)
        except BaseException:
            _unregister(self.filename)
            raise
        if self.name in f:
            f.close()
            _unregister(self.filename)
            raise RunExistsError(f"run {self.name!r} already exists in "
                                 f"{_fname(self.filename)!r}; pick another name")
        try:
            g = f.create_group(self.name)
            a = g.attrs
            a["samples"] = int(samples)
            a["batch_size"] = int(batch_size)
            a["n_batches"] = math.ceil(int(samples) / int(batch_size)) if batch_size else 0
            a["n_epochs"] = int(n_epochs)
            a["n_layers"] = n_layers
            a["activation_functions"] = np.array(
                [str(c.get("name", "")).encode() for c in activation_config], dtype="S")
            a["format"] = FORMAT
            if spec_json is not None:
                a["spec"] = spec_json
            if sweep_json is not None:
                a["sweep"] = sweep_json
            a["status"] = "running"
            a["epochs_done"] = 0
            a["created"] = datetime.now(timezone.utc).isoformat(timespec="microseconds")
            a["versions"] = _versions()
            a["layer_names"] = np.array([str(n).encode() for n in layer_names], dtype="S")
            a["activation_config"] = config_json
            g.create_dataset("inputs", data=X)
            g.create_dataset("targets", data=y)
            if Xv is not None:
                g.create_dataset("val_inputs", data=Xv)
                g.create_dataset("val_targets", data=yv)
            self._logs: dict[str, h5py.Dataset] = {}
            for key in ("loss", "lr"):
                self._logs[key] = self._new_log(g, key, 0)
            self._weights: list[list[h5py.Dataset]] = []
            for i, layer in enumerate(weights):
                lg = g.create_group(f"layer{i}")
                self._weights.append([
                    lg.create_dataset(f"weights{j}", data=w[None], maxshape=(None, *w.shape),
                                      chunks=(1, *(max(1, s) for s in w.shape)))
                    for j, w in enumerate(layer)])
            f.flush()
        except BaseException as exc:
            try:
                if self.name in f:
                    del f[self.name]
                f.close()
            except (OSError, RuntimeError, KeyError):
                pass  # the file is failing already; the error below says why
            finally:
                _unregister(self.filename)
            if isinstance(exc, OSError | RuntimeError):
                raise self._start_error(exc) from exc
            raise
        self._file = f
        self._group = g

    def _start_error(self, exc: BaseException) -> RunFileError:
        if _is_disk_full(exc):
            return RunFileError(f"the disk is full: run {self.name!r} could not start")
        return RunFileError(f"could not write run {self.name!r} in {_fname(self.filename)!r} "
                            f"({_reason(exc)})")

    def _write_failed(self, exc: BaseException) -> RunFileError:
        """Give up the file after a write failed midway; the error says so.

        HDF5 may have written part of the failed flush, so the file may not open again
        (readers then report it damaged); the file is released, and other files are
        untouched. ``_stop_for_room`` avoids getting here when the disk fills up.
        """
        done = self._epochs_done
        if _is_disk_full(exc):
            error = RunFileError(f"the disk is full: the run stopped after epoch {done}; a "
                                 "write failed midway, so its file may not be readable")
        else:
            error = RunFileError(f"could not write run {self.name!r} ({_reason(exc)}): the run "
                                 f"stopped after epoch {done}; its file may not be readable")
        self._failure = error
        f, self._file = self._file, None
        if f is not None:
            _divert_failed_writes(f)  # before any object of the file is released
        self._group = None
        self._weights, self._logs = [], {}
        if f is not None:
            with _WRITING_LOCK:
                _FAILED.add(_writer_key(self.filename))
            try:
                f.close()
            except (OSError, RuntimeError, ValueError):
                pass
            _unregister(self.filename)
        return error

    def _stop_for_room(self, need: int) -> None:
        """Stop the run cleanly when the next write would not fit on the disk.

        Checked before writing, so the file keeps a consistent state with every epoch
        written so far and says why the run stopped.
        """
        room = _room(self.filename)
        if room is None or room >= need + _WRITE_MARGIN:
            return
        done = self._epochs_done
        message = (f"the disk is full: the run stopped after epoch {done}; its finished "
                   "epochs are kept")
        try:
            self._group.attrs["status"] = "stopped"
            self._group.attrs["message"] = message
            self._file.flush()
        except (OSError, RuntimeError) as exc:
            raise self._write_failed(exc) from exc
        self._status = "stopped"
        f, self._file = self._file, None
        self._group = None
        self._weights, self._logs = [], {}
        try:
            f.close()
        except (OSError, RuntimeError):
            pass  # flushed just above: nothing is lost
        finally:
            _unregister(self.filename)
        self._failure = RunFileError(message)
        raise self._failure

    @staticmethod
    def _new_log(group: h5py.Group, key: str, rows: int) -> h5py.Dataset:
        # A metric first seen after epoch 1 gets NaN for the epochs before it.
        return group.create_dataset(key, data=np.full(rows, np.nan, np.float32),
                                    maxshape=(None,), chunks=(1,))

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._file is None

    def _require_open(self) -> None:
        if self._failure is None and self._file is not None and \
                _writer_key(self.filename) in _FAILED:
            self._failure = RunFileError(
                f"the disk is full: the run stopped after epoch {self._epochs_done}; a write "
                "to its file failed midway, so the file may not be readable")
            self._file, self._group = None, None
            _unregister(self.filename)
        if self._failure is not None:
            raise self._failure
        if self._file is None:
            raise RunFileError(f"run {self.name!r} in {_fname(self.filename)!r} is closed for "
                               "writing")

    def append_epoch(self, weights: Sequence[Sequence[Any]], logs: Mapping[str, Any],
                     lr: float) -> None:
        """Store one finished epoch: every layer's weights, the logs and the rate.

        ``logs`` may use Keras names (see ``stored_logs``). Flushes the file.
        """
        self.append_epochs([(weights, logs, lr)])

    def append_epochs(self, epochs: Sequence[tuple[Sequence[Sequence[Any]],
                                                   Mapping[str, Any], float]]) -> None:
        """Store several finished epochs at once, as ``(weights, logs, lr)`` each.

        The same rows as one ``append_epoch`` per epoch, written with one resize and one
        write per dataset and one flush (a process that gathers a run's epochs first,
        such as a sweep's writer, saves most of the per-epoch cost). Nothing is written
        when any epoch is malformed.
        """
        self._require_open()
        if not epochs:
            return
        where = f"run {self.name!r}"
        e = self._epochs_done
        per_layer: list[list[list[np.ndarray]]] = [[[] for _ in shapes] for shapes in self._shapes]
        rows: list[dict[str, float]] = []
        for k, (weights, logs, lr) in enumerate(epochs):
            number = e + k + 1
            if len(weights) != len(self._shapes):
                raise RunFileError(f"{where}: epoch {number} gives weights for "
                                   f"{len(weights)} layers; the run has {len(self._shapes)}")
            for i, (layer, shapes) in enumerate(zip(weights, self._shapes)):
                layer = [np.asarray(w, dtype=np.float32) for w in layer]
                got = [w.shape for w in layer]
                if got != shapes:
                    raise RunFileError(f"{where}: epoch {number} gives layer{i} weights of "
                                       f"shapes {got}; the run stores {shapes}")
                for j, w in enumerate(layer):
                    per_layer[i][j].append(w)
            values = stored_logs(logs)
            values["lr"] = float(lr)
            rows.append(values)
        n = len(rows)
        rows_bytes = 4 * n * (sum(w.size for layer in per_layer for ws in layer for w in ws[:1])
                              + len(self._logs) + len(rows[0]))
        chunks = n * (sum(len(layer) for layer in per_layer) + len(self._logs) + 1)
        self._stop_for_room(2 * rows_bytes + 512 * chunks)
        try:
            for datasets, layer in zip(self._weights, per_layer):
                for ds, ws in zip(datasets, layer):
                    _append_rows(ds, e + 1, np.stack(ws))
            for key in set().union(*rows) - self._logs.keys():
                self._logs[key] = self._new_log(self._group, key, e)
            for key, ds in self._logs.items():
                _append_rows(ds, e, np.array([r.get(key, np.nan) for r in rows], np.float32))
            # Rows first, then the count: a reader never counts a row not yet written.
            self._group.attrs["epochs_done"] = e + n
            self._file.flush()
        except (OSError, RuntimeError) as exc:
            raise self._write_failed(exc) from exc
        self._epochs_done = e + n

    def set_status(self, status: str, message: str = "",
                   diverged_epoch: int | None = None) -> None:
        """Write ``status`` (one of ``STATUSES``), its message and the diverged epoch."""
        check_status(status)
        self._require_open()
        a = self._group.attrs
        try:
            a["status"] = status
            a["message"] = str(message)
            if diverged_epoch is not None:
                a["diverged_epoch"] = int(diverged_epoch)
            elif "diverged_epoch" in a:
                del a["diverged_epoch"]
            self._file.flush()
        except (OSError, RuntimeError) as exc:
            raise self._write_failed(exc) from exc
        self._status = status

    def close(self) -> None:
        """Flush and release the file; the status is left as it is. Idempotent.

        Raises ``RunFileError`` when the last changes cannot be written (the file is
        released all the same).
        """
        if self._file is None:
            return
        try:
            self._file.flush()
        except (OSError, RuntimeError) as exc:
            raise self._write_failed(exc) from exc
        f, self._file = self._file, None
        try:
            f.close()
        except (OSError, RuntimeError) as exc:
            self._failure = self._failure or RunFileError(
                f"could not write run {self.name!r} ({_reason(exc)})")
            raise self._failure from exc
        finally:
            _unregister(self.filename)


# -- reading --------------------------------------------------------------------------


def list_runs(filename: str | os.PathLike) -> list[RunSummary]:
    """A summary of every run in the file, oldest first; ``[]`` when it does not exist."""
    if not os.path.exists(filename):
        return []
    display = _fname(filename)
    with _open_read(filename) as f:
        return _contained(f"{display!r}", lambda: [_summary(f[name], name)
                                                    for name in _run_names(f)])


# What h5py, HDF5 and numpy raise on odd file content; the public readers turn each into
# a RunFileError, so only ReplayError subclasses leave them.
_READ_ERRORS = (MemoryError, RecursionError, RuntimeError, OSError, KeyError, ValueError,
                TypeError, OverflowError, IndexError)


def _contained(what: str, read: Any) -> Any:
    """``read()``, with any failure on the file's content as one ``RunFileError``."""
    try:
        return read()
    except ReplayError:
        raise
    except _READ_ERRORS as exc:
        raise RunFileError(f"{what} could not be read ({_reason(exc)})") from exc


def _summary(g: h5py.Group, name: str) -> RunSummary:
    where = repr(name)
    # Only the attributes a summary shows: a run list is read on every page.
    a = {key: value for key in ("n_layers", "status", "samples", "n_epochs", "created",
                                "format", "message")
         if (value := h5guard.read_attr(g, key, where)) is not None}
    n_layers = _whole(a["n_layers"], "n_layers", where) if "n_layers" in a else _layer_count(g)
    epochs = _stored_epochs(g, n_layers)
    status = str(a.get("status", "complete"))
    samples = (_whole(a["samples"], "samples", where) if "samples" in a
               else int(_checked(g, "inputs", where).shape[0]))
    n_epochs = (_whole(a["n_epochs"], "n_epochs", where) if "n_epochs" in a
                else int(_checked(g, "loss", where).shape[0]))
    created = a.get("created")
    return RunSummary(
        name=name, status=status, epochs_done=epochs, n_epochs=n_epochs, samples=samples,
        final_loss=_final(g, "loss", epochs), final_acc=_final(g, "acc", epochs),
        spec=_json_attr(g, "spec"), created=None if created is None else str(created),
        is_deepreplay="format" not in a, message=str(a.get("message", "")),
        sweep=_json_attr(g, "sweep"),
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
    display = _fname(filename)
    if not os.path.exists(filename):
        raise RunNotFoundError(f"no run {run_name!r}: {display!r} does not exist")
    with _open_read(filename) as f:
        return _contained(f"run {run_name!r} in {display!r}",
                          lambda: _read_group(_get_run(f, run_name, display), run_name,
                                              display))


def _read_group(g: h5py.Group, name: str, display: str,
                limits: h5guard.Limits = h5guard.DEFAULT) -> RunData:
    where = f"run {name!r} in {display!r}"
    attrs = h5guard.read_attrs(g, where, limits)
    n_layers = (_whole(attrs["n_layers"], "n_layers", where) if "n_layers" in attrs
                else _layer_count(g))
    if not 0 <= n_layers <= limits.layers:
        raise RunFileError(f"{where} has {n_layers} layers; the limit is {limits.layers}")
    epochs = _stored_epochs(g, n_layers, limits)
    weights: list[list[np.ndarray]] = []
    floats = 0
    for i in range(n_layers):
        layer = h5guard.get_member(g, f"layer{i}", where)
        if not isinstance(layer, h5py.Group):
            raise RunFileError(f"{where} has n_layers = {n_layers} but no group layer{i}")
        arrays = []
        for ds in _weight_datasets(layer):
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
    config = _activation_config(g, n_layers, where)
    logs: dict[str, np.ndarray] = {}
    for key in g:
        ds = h5guard.get_member(g, key, where)
        if key in _DATA_NAMES or not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
            continue
        if ds.dtype.kind not in "fiu":
            continue
        h5guard.check_dataset(ds, where, key, limits)
        values = np.asarray(ds[:epochs], dtype=np.float64)
        if len(values) < epochs:
            values = np.concatenate([values, np.full(epochs - len(values), np.nan)])
        logs[key] = values
    has_val = h5guard.has_member(g, "val_inputs") and h5guard.has_member(g, "val_targets")
    return RunData(
        name=name,
        inputs=_float_array(_checked(g, "inputs", where, limits)),
        targets=_targets(_checked(g, "targets", where, limits)),
        val_inputs=_float_array(_checked(g, "val_inputs", where, limits)) if has_val else None,
        val_targets=_targets(_checked(g, "val_targets", where, limits)) if has_val else None,
        weights=weights,
        layer_names=layer_names,
        activation_config=config,
        logs=logs,
        epochs_done=epochs,
        status=str(attrs.get("status", "complete")),
        spec=_json_attr(g, "spec"),
        attrs=attrs,
        message=str(attrs.get("message", "")),
    )


# -- validation -----------------------------------------------------------------------


def validate_file(path: str | os.PathLike, display_name: str | None = None) -> list[str]:
    """Check that ``path`` is a run file replay can read; return its run names.

    The one validation of run files, ``upload.check_file`` with the default limits: the
    HDF5 signature, that the file opens and stays inside itself (no links, external
    storage or virtual datasets), its structure and declared sizes, that it holds at
    least one run, and for each run: inputs 2-D numeric and finite, targets class indices
    of the output, the layer groups and weight datasets (at least one epoch row, Dense
    kernels chaining from the inputs' width), the activations, and our attributes when
    present.

    Parameters
    ----------
    path : the file to check.
    display_name : how messages name the file (e.g. an upload's own name); the file's
        base name when None.

    Raises
    ------
    RunFileError
        With one sentence saying what is wrong, e.g. ``'x.h5' is not an HDF5 file``,
        ``'x.h5' holds no runs``, ``'x.h5' run 'a': inputs has 3 rows but targets has 4``.
    """
    from replay_core.store import upload  # upload builds on this module's readers

    return upload.check_file(path, display_name)


def _why_no_runs(f: h5py.File) -> str:
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


# -- managing runs --------------------------------------------------------------------


def delete_run(filename: str | os.PathLike, run_name: str) -> None:
    """Remove a run from the file.

    Raises ``RunNotFoundError`` when the file or the run does not exist.
    """
    display = _fname(filename)
    if not os.path.exists(filename):
        raise RunNotFoundError(f"no run {run_name!r}: {display!r} does not exist")
    with _open_write(filename) as f:
        _get_run(f, run_name, display)
        del f[run_name]


def rename_run(filename: str | os.PathLike, old: str, new: str) -> None:
    """Rename run ``old`` to ``new``.

    Raises ``RunNotFoundError`` (no ``old``), ``RunExistsError`` (``new`` is taken) or
    ``RunFileError`` (``new`` is not a valid name).
    """
    display = _fname(filename)
    check_name(new)
    if not os.path.exists(filename):
        raise RunNotFoundError(f"no run {old!r}: {display!r} does not exist")
    with _open_write(filename) as f:
        _get_run(f, old, display)
        if new == old:
            return
        if new in f:
            raise RunExistsError(f"run {new!r} already exists in {display!r}; pick another "
                                 "name")
        f.move(old, new)


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def copy_runs(src: str | os.PathLike, dst: str | os.PathLike,
              names: Sequence[str] | None = None,
              rename: Mapping[str, str] | None = None) -> list[str]:
    """Copy runs (groups with every attribute and dataset) from ``src`` into ``dst``.

    Parameters
    ----------
    src : the file to copy from.
    dst : the file to copy into (created when missing; its runs are kept).
    names : the runs to copy; every run of ``src`` when None.
    rename : ``{name in src: name in dst}`` for the runs that need another name.

    Returns
    -------
    list of str
        The names the runs have in ``dst``, in the order copied.

    Raises
    ------
    RunNotFoundError
        A name is not a run of ``src``.
    RunExistsError
        A target name is taken in ``dst`` (or given twice); nothing is copied.
    """
    rename = dict(rename or {})
    src_display = _fname(src)
    if not os.path.exists(src):
        raise RunNotFoundError(f"{src_display!r} does not exist")
    same = _same_file(src, dst)
    with (_open_write(src) if same else _open_read(src)) as fs:
        chosen = _run_names(fs) if names is None else list(names)
        for name in chosen:
            run = _get_run(fs, name, src_display)
            _contained(f"{src_display!r}",
                       lambda run=run, name=name: h5guard.walk(
                           run, f"{src_display!r} run {name!r}", depth=1))
        targets = [check_name(rename.get(name, name)) for name in chosen]
        dst_display = _fname(dst)
        seen: set[str] = set()
        for target in targets:
            if target in seen:
                raise RunExistsError(f"run {target!r} would be copied into {dst_display!r} "
                                     "twice; rename one")
            seen.add(target)
        fd = fs if same else _open_write(dst)
        try:
            taken = [t for t in targets if t in fd]
            if len(taken) == 1:
                raise RunExistsError(f"run {taken[0]!r} already exists in {dst_display!r}; "
                                     "rename it to copy it")
            if taken:
                raise RunExistsError(f"runs {', '.join(map(repr, taken))} already exist in "
                                     f"{dst_display!r}; rename them to copy them")
            for name, target in zip(chosen, targets):
                fs.copy(fs[name], fd, name=target)
            fd.flush()
        finally:
            if not same:
                fd.close()
    return targets
