"""``ReplayData``: a Keras callback recording every epoch of ``model.fit`` to a run file.

The successor of DeepReplay's callback, for Keras 3: the file is opened when training
begins (never when the callback is built), each epoch is appended and flushed, and the
run's status says how training ended. All HDF5 work goes through ``runfile.RunWriter``.

Example
-------
>>> from replay_core.train.recorder import ReplayData                      # doctest: +SKIP
>>> recorder = ReplayData(X, y, "runs.h5", "sigmoid")                # doctest: +SKIP
>>> model.fit(X, y, epochs=150, batch_size=16, callbacks=[recorder])  # doctest: +SKIP
>>> recorder.status, recorder.epochs_done                           # doctest: +SKIP
('complete', 150)
"""

from __future__ import annotations

import functools
import inspect
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np

from replay_core.errors import RunFileError
from replay_core.store.runfile import EpochRecord, RunWriter, check_name, stored_logs
from replay_core.store.samples import check_features, check_inputs, check_targets

__all__ = ["EpochRecord", "ReplayData", "activation_config", "describe_activation"]

# Weightless activation layers: the config keys that are the activation's parameters.
_ACTIVATION_LAYERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "LeakyReLU": ("leaky_relu", ("negative_slope",)),
    "ReLU": ("relu", ("negative_slope", "max_value", "threshold")),
    "ELU": ("elu", ("alpha",)),
    "Softmax": ("softmax", ("axis",)),
}


def _plain(value: Any) -> Any:
    """A JSON-ready version of an activation parameter (numpy scalars, tuples)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple | list):
        items = [_plain(v) for v in value]
        return items[0] if len(items) == 1 else items
    return value


def describe_activation(func: Any) -> dict[str, Any]:
    """``{"name": ..., **params}`` of a Keras activation function.

    The name is the function's ``__name__`` (``'silu'`` for swish); a
    ``functools.partial`` gives its function's name and keywords. Every parameter with a
    default is written out (e.g. ``leaky_relu``'s ``negative_slope=0.2``), so a replay
    computes exactly what Keras computed even if a default changes later.

    Example
    -------
    >>> import functools, keras
    >>> describe_activation(functools.partial(keras.activations.leaky_relu,
    ...                                       negative_slope=0.3))
    {'name': 'leaky_relu', 'negative_slope': 0.3}
    >>> describe_activation(keras.activations.gelu)
    {'name': 'gelu', 'approximate': False}
    """
    if func is None:
        return {"name": ""}
    if isinstance(func, keras.layers.Layer):
        config = _describe_layer(func)
        config.pop("layer", None)
        return config
    keywords: dict[str, Any] = {}
    base = func
    while isinstance(base, functools.partial):
        keywords = {**base.keywords, **keywords}
        base = base.func
    name = getattr(base, "__name__", type(base).__name__)
    config: dict[str, Any] = {"name": str(name)}
    try:
        params = list(inspect.signature(base).parameters.values())[1:]
    except (TypeError, ValueError):
        params = []
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name in keywords:
            config[p.name] = _plain(keywords[p.name])
        elif p.default is not p.empty:
            config[p.name] = _plain(p.default)
    for key, value in keywords.items():
        config.setdefault(key, _plain(value))
    return config


def _describe_layer(layer: Any) -> dict[str, Any]:
    kind = type(layer).__name__
    if kind in _ACTIVATION_LAYERS:
        name, keys = _ACTIVATION_LAYERS[kind]
        layer_config = layer.get_config()
        return {"name": name, **{k: _plain(layer_config[k]) for k in keys if k in layer_config},
                "layer": "activation"}
    if isinstance(layer, keras.layers.Activation):
        return {**describe_activation(layer.activation), "layer": "activation"}
    if hasattr(layer, "activation"):
        return describe_activation(layer.activation)
    return {"name": ""}


def activation_config(model: Any) -> list[dict[str, Any]]:
    """One ``{"name": ..., **params}`` per layer of ``model.layers``.

    Dense (and any other layer with an ``activation``) -> its activation;
    ``Activation``, ``LeakyReLU``, ``ReLU``, ``ELU``, ``Softmax`` -> their activation
    with ``"layer": "activation"``; any other weightless layer (Dropout, Flatten,
    InputLayer...) -> ``{"name": ""}``, the identity at inference.
    """
    return [_describe_layer(layer) for layer in model.layers]


def _positive(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{what} must be a positive integer or None; got {value!r}")
    return int(value)


class ReplayData(keras.callbacks.Callback):
    """Record every epoch of training (weights, logs, learning rate) to an HDF5 run.

    Use it in a plain ``model.fit(..., callbacks=[ReplayData(...)])``. When training
    begins it creates run ``group_name`` in ``filename`` and stores the data and the
    initial weights; after each epoch it appends the weights of every layer, the logs and
    the learning rate in force during the epoch, flushes, and calls ``on_epoch``.

    A loss that becomes NaN or infinite ends training (``model.stop_training``): the
    run is marked ``diverged`` and that epoch is not stored. Training that ends normally
    (also by early stopping) marks the run ``complete``. If ``fit`` is left by an
    exception, call ``close()`` (idempotent) from a ``finally``; it marks a run still
    running as ``stopped``.

    The callback can be reused: each ``fit`` records a new run; change ``group_name``
    between them (a name already in the file raises ``RunExistsError`` from ``fit``).

    Args:
        inputs: (N, d) training inputs to replay.
        targets: (N,) or (N, 1) targets.
        filename: the HDF5 run file (created when missing; other runs are kept).
        group_name: the run's name, not yet in the file.
        validation_data: ``(X_val, y_val)`` stored as ``val_inputs``/``val_targets``.
        spec: the RunSpec (object with ``to_json``, dict or JSON string), or None.
        on_epoch: called with an ``EpochRecord`` after every stored epoch.
        writer_factory: makes the run's writer, called like ``RunWriter(filename,
            group_name, **fields)``; ``RunWriter`` when None. A sweep passes one that
            forwards every call to the single process writing the file.
        batch_size, epochs: stored as the run's ``batch_size``/``n_epochs``; when None
            they come from Keras (``epochs`` from ``self.params``, the batch size as
            ``ceil(samples / steps)``).
        class_names: the classes' names in index order, stored as the run's
            ``class_names``; None stores none.

    Example
    -------
    >>> recorder = ReplayData(X, y, "runs.h5", "tanh", on_epoch=print)   # doctest: +SKIP
    >>> model.fit(X, y, epochs=20, batch_size=16, callbacks=[recorder])  # doctest: +SKIP
    """

    def __init__(
        self,
        inputs: Any,
        targets: Any,
        filename: Any,
        group_name: str,
        *,
        validation_data: tuple | None = None,
        spec: Any = None,
        on_epoch: Callable[[EpochRecord], None] | None = None,
        batch_size: int | None = None,
        epochs: int | None = None,
        writer_factory: Callable[..., RunWriter] | None = None,
        class_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.inputs = check_inputs(inputs, "inputs")
        self.targets = check_targets(targets, len(self.inputs), "targets", "inputs")
        self.val_inputs = self.val_targets = None
        if validation_data is not None:
            if not isinstance(validation_data, tuple | list) or len(validation_data) < 2:
                raise ValueError("validation_data must be a tuple (X_val, y_val)")
            self.val_inputs = check_inputs(validation_data[0], "validation inputs")
            check_features(self.val_inputs.shape[1], self.inputs.shape[1], "validation inputs",
                           "inputs")
            self.val_targets = check_targets(validation_data[1], len(self.val_inputs),
                                             "validation targets", "validation inputs")
        self.filename = filename
        self.group_name = check_name(group_name)
        self.spec_json = self._spec_json(spec)
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        if on_epoch is not None and not callable(on_epoch):
            raise TypeError(f"on_epoch must be callable; got {type(on_epoch).__name__}")
        self.on_epoch = on_epoch
        self.batch_size = _positive(batch_size, "batch_size")
        self.epochs = _positive(epochs, "epochs")
        if writer_factory is not None and not callable(writer_factory):
            raise TypeError("writer_factory must be callable; got "
                            f"{type(writer_factory).__name__}")
        self.writer_factory = writer_factory or RunWriter
        self._writer: RunWriter | None = None
        self._lr = math.nan
        self._n_epochs = 0

    @staticmethod
    def _spec_json(spec: Any) -> str | None:
        if spec is None:
            return None
        if isinstance(spec, str):
            try:
                json.loads(spec)
            except ValueError as exc:
                raise ValueError(f"spec is not valid JSON ({exc})") from exc
            return spec
        if hasattr(spec, "to_json"):
            return spec.to_json()
        if isinstance(spec, Mapping):
            return json.dumps(dict(spec))
        raise TypeError(f"spec must be a RunSpec, a dict or a JSON string; got "
                        f"{type(spec).__name__}")

    # -- state ------------------------------------------------------------------------

    @property
    def status(self) -> str | None:
        """The run's status as last written (None before training began)."""
        return None if self._writer is None else self._writer.status

    @property
    def epochs_done(self) -> int:
        """Epochs stored in the current (or last) run."""
        return 0 if self._writer is None else self._writer.epochs_done

    @property
    def message(self) -> str:
        """The message written with the status (empty when none)."""
        return getattr(self, "_message", "")

    def _learning_rate(self) -> float:
        optimizer = getattr(self.model, "optimizer", None)
        try:
            lr = optimizer.learning_rate
            # A Variable (or a schedule's tensor) converts exactly through .numpy().
            return float(np.asarray(lr.numpy() if hasattr(lr, "numpy") else lr))
        except (AttributeError, TypeError, ValueError):
            return math.nan

    def _set_status(self, status: str, message: str = "",
                    diverged_epoch: int | None = None) -> None:
        self._writer.set_status(status, message, diverged_epoch)
        self._message = message

    # -- Keras hooks ------------------------------------------------------------------

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.close()  # a previous fit left by an exception
        self._message = ""
        params = self.params or {}
        samples = len(self.inputs)
        self._n_epochs = self.epochs or int(params.get("epochs") or 0)
        batch_size = self.batch_size
        if batch_size is None:
            steps = params.get("steps")
            batch_size = math.ceil(samples / steps) if steps else 0
        layers = self.model.layers
        self._writer = self.writer_factory(
            self.filename, self.group_name,
            inputs=self.inputs, targets=self.targets,
            val_inputs=self.val_inputs, val_targets=self.val_targets,
            layer_names=[layer.name for layer in layers],
            activation_config=activation_config(self.model),
            initial_weights=[layer.get_weights() for layer in layers],
            samples=samples, batch_size=batch_size, n_epochs=self._n_epochs,
            spec_json=self.spec_json,
            # Only when known, so a writer factory without the argument keeps working.
            **({} if self.class_names is None else {"class_names": self.class_names}),
        )
        self._lr = self._learning_rate()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        # Callbacks such as ReduceLROnPlateau change the rate in their on_epoch_end,
        # possibly before ours runs: the rate in force is read before the epoch.
        self._lr = self._learning_rate()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        writer = self._writer
        if writer is None or writer.closed:
            raise RunFileError("ReplayData received an epoch before training began; use it "
                               "in model.fit(callbacks=[...])")
        if writer.status != "running":
            return
        number = writer.epochs_done + 1
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            bad = "NaN" if math.isnan(float(loss)) else "infinite"
            self._set_status("diverged", f"loss became {bad} at epoch {number}", number)
            self.model.stop_training = True
            return
        weights = [layer.get_weights() for layer in self.model.layers]
        if not all(np.isfinite(w).all() for layer in weights for w in layer):
            self._set_status("diverged", f"the weights became NaN or infinite at epoch "
                             f"{number}", number)
            self.model.stop_training = True
            return
        writer.append_epoch(weights, logs, self._lr)
        if self.on_epoch is not None:
            self.on_epoch(EpochRecord(epoch=number, logs=stored_logs(logs), lr=self._lr,
                                      weights=weights))

    def on_train_end(self, logs: dict | None = None) -> None:
        writer = self._writer
        if writer is None or writer.closed:
            return
        if writer.status == "running":
            done = writer.epochs_done
            stopped_early = bool(getattr(self.model, "stop_training", False))
            message = (f"early stopping at epoch {done}"
                       if stopped_early and done < self._n_epochs else "")
            self._set_status("complete", message)
        writer.close()

    def close(self, status: str | None = None, message: str = "") -> None:
        """Write ``status`` (when given) and release the file. Idempotent.

        Without a status, a run still ``running`` becomes ``stopped`` ("training ended
        before the last epoch"), or ``complete`` if every planned epoch is stored.
        """
        writer = self._writer
        if writer is None or writer.closed:
            return
        try:
            if status is not None:
                self._set_status(status, message)
            elif writer.status == "running":
                if self._n_epochs and writer.epochs_done >= self._n_epochs:
                    self._set_status("complete", message)
                else:
                    self._set_status("stopped", message or "training ended before the last "
                                     "epoch")
        finally:
            writer.close()
