"""Writing a run: ``RunWriter`` appends one new run to a run file, epoch by epoch.

Kept whole on purpose (about 575 lines): one class and the few HDF5 helpers only it uses
(free-space checks, row appends), the run file's whole write path in one place.

Our datasets grow by one row per epoch and are flushed every epoch, so a run cut off at
any moment reads back the epochs it finished. A disk that fills up stops the run cleanly
before the write that would not fit (the file keeps every finished epoch and says why);
a write that fails midway gives the file up with one sentence saying so. Nothing here
imports TensorFlow.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import h5py
import numpy as np

from replay_core.data import datasets
from replay_core.errors import RunExistsError, RunFileError
from replay_core.store.names import check_name
from replay_core.store.opening import (
    base_name,
    has_failed,
    is_disk_full,
    mark_failed,
    open_write,
    reason,
    register,
    unregister,
)
from replay_core.store.records import FORMAT, check_status, stored_logs
from replay_core.store.samples import check_features, check_inputs, check_targets

__all__ = ["RunWriter", "WriterState"]

# Room kept free beyond an epoch's rows for HDF5's chunk index and the final status.
_WRITE_MARGIN = 128 * 1024


@functools.lru_cache(maxsize=1)
def _versions() -> str:
    """The library versions a run records (looked up once: a sweep opens many runs)."""
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


def _stored(values: np.ndarray) -> np.ndarray:
    """Samples as the run stores them: float32, (samples,) targets as a column."""
    arr = np.asarray(values, dtype=np.float32)
    return arr[:, None] if arr.ndim == 1 else arr


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
        class_names: the output classes' names in index order, stored as the JSON list
            attribute ``class_names`` (each trimmed to at most 40 characters); None
            stores none (readers then say ``class 0``, ``class 1``...).

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
        class_names: Sequence[str] | None = None,
    ) -> None:
        self.filename = str(filename)
        self.name = check_name(run_name)
        where = f"run {self.name!r}"
        X = _stored(check_inputs(inputs))
        y = _stored(check_targets(targets, len(X), where=where))
        if (val_inputs is None) != (val_targets is None):
            raise RunFileError(f"{where}: give both val_inputs and val_targets, or neither")
        Xv = yv = None
        if val_inputs is not None:
            Xv = _stored(check_inputs(val_inputs, "val_inputs"))
            yv = _stored(check_targets(val_targets, len(Xv), "val_targets", "val_inputs",
                                       where))
            check_features(Xv.shape[1], X.shape[1], "val_inputs", "inputs", where)
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
        names_json = None
        if class_names is not None:
            if isinstance(class_names, str) or not isinstance(class_names, Sequence):
                raise RunFileError(f"{where}: class_names must be a list of names")
            names_json = json.dumps([datasets.clean_class_name(c) for c in class_names])
        self._shapes = [[w.shape for w in layer] for layer in weights]
        self._epochs_done = 0
        self._status = "running"
        self._file: h5py.File | None = None
        self._failure: RunFileError | None = None

        # Registered before the file opens, so no reader of this process ever sees the
        # new run without a live writer.
        register(self.filename)
        try:
            f = open_write(self.filename)
        except BaseException:
            unregister(self.filename)
            raise
        if self.name in f:
            f.close()
            unregister(self.filename)
            raise RunExistsError(f"run {self.name!r} already exists in "
                                 f"{base_name(self.filename)!r}; pick another name")
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
            if names_json is not None:
                a["class_names"] = names_json
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
                unregister(self.filename)
            if isinstance(exc, OSError | RuntimeError):
                raise self._start_error(exc) from exc
            raise
        self._file = f
        self._group = g

    def _start_error(self, exc: BaseException) -> RunFileError:
        if is_disk_full(exc):
            return RunFileError(f"the disk is full: run {self.name!r} could not start")
        return RunFileError(f"could not write run {self.name!r} in "
                            f"{base_name(self.filename)!r} ({reason(exc)})")

    def _write_failed(self, exc: BaseException) -> RunFileError:
        """Give up the file after a write failed midway; the error says so.

        HDF5 may have written part of the failed flush, so the file may not open again
        (readers then report it damaged); the file is released, and other files are
        untouched. ``_stop_for_room`` avoids getting here when the disk fills up.
        """
        done = self._epochs_done
        if is_disk_full(exc):
            error = RunFileError(f"the disk is full: the run stopped after epoch {done}; a "
                                 "write failed midway, so its file may not be readable")
        else:
            error = RunFileError(f"could not write run {self.name!r} ({reason(exc)}): the run "
                                 f"stopped after epoch {done}; its file may not be readable")
        self._failure = error
        f, self._file = self._file, None
        if f is not None:
            _divert_failed_writes(f)  # before any object of the file is released
        self._group = None
        self._weights, self._logs = [], {}
        if f is not None:
            mark_failed(self.filename)
            try:
                f.close()
            except (OSError, RuntimeError, ValueError):
                pass
            unregister(self.filename)
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
            unregister(self.filename)
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
        if self._failure is None and self._file is not None and has_failed(self.filename):
            self._failure = RunFileError(
                f"the disk is full: the run stopped after epoch {self._epochs_done}; a write "
                "to its file failed midway, so the file may not be readable")
            self._file, self._group = None, None
            unregister(self.filename)
        if self._failure is not None:
            raise self._failure
        if self._file is None:
            raise RunFileError(f"run {self.name!r} in {base_name(self.filename)!r} is closed "
                               "for writing")

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
        keys = list(dict.fromkeys(key for row in rows for key in row))
        columns = {key: np.array([r.get(key, np.nan) for r in rows], np.float32)
                   for key in keys}
        self._write_rows([[np.stack(ws) for ws in layer] for layer in per_layer], columns,
                         len(rows))

    def append_stacked(self, weights: Sequence[Sequence[Any]], logs: Mapping[str, Any],
                       lr: Any) -> None:
        """Store ``k`` finished epochs given as stacked arrays, in one write per dataset.

        The same rows as ``append_epochs`` of the ``k`` epochs, without gathering them
        first: what a group of runs trained together sends, a chunk of epochs at a time.
        Flushes once. Nothing is written when any array is malformed.

        Args:
            weights: per model layer, each weight array with the epochs first,
                ``(k, *shape)``.
            logs: name (as stored, or Keras' name) -> ``(k,)`` values; NaN where an epoch
                has no value.
            lr: ``(k,)`` learning rates in force during the epochs.
        """
        self._require_open()
        where = f"run {self.name!r}"
        rates = np.asarray(lr, dtype=np.float32).reshape(-1)
        n = len(rates)
        if n == 0:
            return
        e = self._epochs_done
        if len(weights) != len(self._shapes):
            raise RunFileError(f"{where}: epochs {e + 1}-{e + n} give weights for "
                               f"{len(weights)} layers; the run has {len(self._shapes)}")
        stacked = []
        for i, (layer, shapes) in enumerate(zip(weights, self._shapes)):
            layer = [np.asarray(w, dtype=np.float32) for w in layer]
            got = [w.shape for w in layer]
            if got != [(n, *shape) for shape in shapes]:
                raise RunFileError(f"{where}: epochs {e + 1}-{e + n} give layer{i} weights "
                                   f"of shapes {got}; the run stores {shapes} per epoch")
            stacked.append(layer)
        columns: dict[str, np.ndarray] = {}
        for key, values in logs.items():
            # The names ``stored_logs`` keeps, mapped as it maps them.
            name = next(iter(stored_logs({key: 0.0})), None)
            column = np.asarray(values, dtype=np.float32).reshape(-1)
            if name is None or name == "lr" or name in columns:
                continue
            if len(column) != n:
                raise RunFileError(f"{where}: log {name!r} has {len(column)} values for "
                                   f"{n} epochs")
            columns[name] = column
        columns["lr"] = rates
        self._write_rows(stacked, columns, n)

    def _write_rows(self, stacked: list[list[np.ndarray]], columns: dict[str, np.ndarray],
                    n: int) -> None:
        """Append ``n`` epochs: per layer its stacked weights ``(n, *shape)``, and each
        log column ``(n,)`` (logs the run has but ``columns`` lacks get NaN)."""
        e = self._epochs_done
        rows_bytes = 4 * n * (sum(int(np.prod(shape)) for shapes in self._shapes
                                  for shape in shapes) + len(self._logs | columns))
        chunks = n * (sum(len(shapes) for shapes in self._shapes) + len(self._logs | columns))
        self._stop_for_room(2 * rows_bytes + 512 * chunks)
        try:
            for datasets, layer in zip(self._weights, stacked):
                for ds, ws in zip(datasets, layer):
                    _append_rows(ds, e + 1, ws)
            for key in columns:
                if key not in self._logs:
                    self._logs[key] = self._new_log(self._group, key, e)
            missing = np.full(n, np.nan, np.float32)
            for key, ds in self._logs.items():
                _append_rows(ds, e, columns.get(key, missing))
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
                f"could not write run {self.name!r} ({reason(exc)})")
            raise self._failure from exc
        finally:
            unregister(self.filename)
