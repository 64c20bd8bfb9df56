"""Train a spec's network fast and record every epoch to a run file.

Each epoch is one call of a compiled TensorFlow function that loops over the batches
itself, so the Python work per epoch is a handful of calls instead of one per batch.
Runs of many batches use XLA (``jit_compile=True``: about a second to compile, then a
few microseconds per batch); short runs use a plain graph function, which needs no
compiling but costs tens of microseconds per batch.

The numbers reported are the ones ``model.fit`` reports for the same batches: Keras'
binary cross-entropy plus the regularisation losses, averaged over the epoch's batches
weighted by their size, and Keras' binary accuracy. Recording goes through the
``ReplayData`` callback, the same one a plain ``model.fit`` uses, together with Keras'
own ``ReduceLROnPlateau`` and ``EarlyStopping``.

TensorFlow is imported only when :func:`train` runs.

Example
-------
>>> from replay_core import presets                                  # doctest: +SKIP
>>> from replay_core.train.trainer import train                            # doctest: +SKIP
>>> result = train(presets.get("reference"), "runs.h5", "sigmoid")   # doctest: +SKIP
>>> result.status, result.epochs_done                                # doctest: +SKIP
('complete', 150)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from replay_core.data import csv_data, datasets
from replay_core.data.spec import RunSpec
from replay_core.errors import TrainingLimitError

if TYPE_CHECKING:
    import keras

# TensorFlow's C++ start-up chatter is noise for people watching a progress bar.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["DEFAULT_MAX_COST", "CompiledEpochs", "TrainResult", "TrainingCost",
           "TrainingLimitError", "estimate_cost", "train", "training_cost"]

# From this many batches in a run (epochs x batches per epoch), XLA's compile time
# (about 1 s on 2 CPU cores) is paid back by its faster steps (~8 us vs ~60 us a batch).
XLA_MIN_STEPS = 10_000

# Spec metric names -> the names Keras 3 puts in the logs the callbacks see.
_KERAS_MONITOR = {"loss": "loss", "acc": "accuracy", "val_loss": "val_loss",
                  "val_acc": "val_accuracy"}


class _StopFlag(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class TrainResult:
    """How a training run ended.

    Args:
        status: ``complete``, ``stopped`` or ``diverged`` (``failed`` runs raise).
        epochs_done: epochs recorded in the run file.
        message: a sentence for early stopping, a stop or a divergence; empty otherwise.
        history: per recorded epoch, the logs under Keras 3 names (``loss``,
            ``accuracy``, ``val_loss``, ``val_accuracy``) and ``learning_rate``, the rate
            in force during the epoch.

    Example
    -------
    >>> TrainResult("complete", 2, "", {"loss": [0.7, 0.6]}).epochs_done
    2
    """

    status: str
    epochs_done: int
    message: str = ""
    history: dict[str, list[float]] = field(default_factory=dict)


# The default budget of one run (``DEEPREPLAY_MAX_COST`` in the app), in the units of
# ``training_cost``: every preset fits with room (the costliest, "Dead relus" on 5 x 100
# units, costs 4.1e9), while moons of 10,000 samples in batches of 1 for
# 2,000 epochs (2.3e10, minutes of CPU on a shared server) does not.
DEFAULT_MAX_COST = 10_000_000_000
# An optimizer step (forward and backward pass of a batch, the update, and the fixed work
# every step does whatever its size) counted as the forward pass of this many samples:
# the same epochs in batches of 1 then cost about 16 times those in batches of 16.
STEP_COST = 128


@dataclass(frozen=True)
class TrainingCost:
    """What a run costs: its optimizer steps and its per-epoch evaluation, per parameter.

    ``total = epochs x params x (batches x STEP_COST + evaluated)``: every epoch runs
    ``batches`` optimizer steps and evaluates its ``evaluated`` samples (training and
    validation) once, at the cost of a forward pass each.

    Example
    -------
    >>> TrainingCost(epochs=150, batches=125, params=9, evaluated=2000).total
    24300000
    """

    epochs: int
    batches: int
    params: int
    evaluated: int

    @property
    def steps(self) -> int:
        """Optimizer steps of the whole run."""
        return self.epochs * self.batches

    @property
    def total(self) -> int:
        return self.epochs * self.params * (self.batches * STEP_COST + self.evaluated)

    def max_epochs(self, max_budget: float) -> int:
        """The most epochs that keep these batches and parameters within ``max_budget``."""
        return int(max_budget // (self.params * (self.batches * STEP_COST + self.evaluated)))


def _n_train(spec: RunSpec) -> int:
    n = datasets.n_samples(spec.dataset.name, spec.dataset.params)
    split = spec.dataset.validation_split
    # scikit-learn's train_test_split rounds the held-out share up.
    return n - math.ceil(split * n) if split > 0 else n


def training_cost(spec: RunSpec, data: datasets.PreparedData | None = None) -> TrainingCost:
    """The cost of training ``spec``: counted from the spec, or from ``data`` when given
    (the prepared arrays, needed for uploaded CSV data whose size only the file knows)."""
    ds = spec.dataset
    if data is None:
        n_train = _n_train(spec)
        n_all = datasets.n_samples(ds.name, ds.params)
        input_dim, n_classes = ds.input_dim, ds.n_classes
    else:
        n_train = int(data.X.shape[0])
        n_all = n_train + (0 if data.X_val is None else int(data.X_val.shape[0]))
        input_dim, n_classes = int(data.X.shape[1]), data.n_classes
    return TrainingCost(epochs=spec.training.epochs,
                        batches=math.ceil(n_train / spec.training.batch_size),
                        params=spec.model.n_params(input_dim, n_classes), evaluated=n_all)


def estimate_cost(spec: RunSpec) -> int:
    """The budget units ``spec`` costs: ``training_cost(spec).total``."""
    return training_cost(spec).total


def _check_budget(spec: RunSpec, max_budget: float,
                  data: datasets.PreparedData | None = None) -> TrainingCost:
    """Raise ``TrainingLimitError`` when ``spec`` costs more than ``max_budget``; return
    its cost otherwise."""
    cost = training_cost(spec, data)
    if cost.total > max_budget:
        max_epochs = cost.max_epochs(max_budget)
        hint = (f"at most {max_epochs:,} epochs with this data, batch size and network"
                if max_epochs >= 1 else "no epoch fits with this data, batch size and network")
        raise TrainingLimitError(
            f"this run costs {cost.total:,} ({cost.epochs:,} epochs x {cost.batches:,} "
            f"batches of {spec.training.batch_size:,} x {cost.params:,} parameters, plus "
            f"evaluating {cost.evaluated:,} samples every epoch), over the budget of "
            f"{max_budget:,.0f}; lower the epochs, the samples or the layer sizes, or choose "
            f"a larger batch size ({hint})"
        )
    return cost


class CompiledEpochs:
    """One compiled call per training epoch.

    The function gathers the samples in the given order, runs every full batch
    in a ``tf.while_loop`` (forward pass, loss, gradients, ``optimizer.apply``), then the
    last partial batch with its own static shape, then evaluates the validation data
    with the updated weights. It returns the epoch's logs as ``model.fit`` reports them.

    Args:
        model: a built and compiled model ending in one sigmoid unit (binary
            cross-entropy) or in a k-unit softmax (sparse categorical cross-entropy).
        X, y: training inputs (N, d) and class-index targets (N,) or (N, 1) (0/1 for a
            sigmoid output).
        batch_size: samples per batch.
        X_val, y_val: optional validation arrays.
        jit_compile: compile with XLA (worth it from about ``XLA_MIN_STEPS`` batches).

    Example
    -------
    >>> epochs = CompiledEpochs(model, X, y, 16)            # doctest: +SKIP
    >>> epochs.run(np.random.default_rng(0).permutation(len(X)))   # doctest: +SKIP
    {'loss': 0.69..., 'accuracy': 0.5}
    >>> epochs.traces                                       # doctest: +SKIP
    1
    """

    def __init__(self, model: keras.Model, X: np.ndarray, y: np.ndarray, batch_size: int,
                 X_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
                 *, jit_compile: bool = True) -> None:
        import tensorflow as tf

        self.model = model
        self.optimizer = model.optimizer
        self.optimizer.build(model.trainable_variables)
        self.n = int(X.shape[0])
        self.batch_size = int(batch_size)
        self.n_full = self.n // self.batch_size
        self.softmax = int(model.layers[-1].units) > 1
        self.traces = 0
        self._X = tf.constant(_column(X, X.shape[1]))
        self._Y = tf.constant(_column(y, 1))
        self._in_order = tf.range(self.n, dtype=tf.int32)
        self._X_val = self._Y_val = None
        self.keys = ["loss", "accuracy"]
        if X_val is not None and y_val is not None:
            self._X_val = tf.constant(_column(X_val, X.shape[1]))
            self._Y_val = tf.constant(_column(y_val, 1))
            self.keys += ["val_loss", "val_accuracy"]
        self.jit_compile = bool(jit_compile)
        self._epoch = tf.function(self._epoch_fn, jit_compile=self.jit_compile,
                                  reduce_retracing=False)

    def _loss(self, y_true: Any, y_pred: Any) -> Any:
        import keras
        from keras import ops

        # In a graph Keras' cross-entropies read the sigmoid's (softmax's) logits, as fit does.
        if self.softmax:
            first = keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
        else:
            first = keras.losses.binary_crossentropy(y_true, y_pred)
        losses = [ops.mean(first)]
        losses += [ops.cast(loss, "float32") for loss in self.model.losses]
        return losses[0] if len(losses) == 1 else ops.sum(losses)

    def _correct(self, y_true: Any, y_pred: Any) -> Any:
        from keras import ops

        if self.softmax:  # Keras' sparse categorical accuracy: the argmax is the class
            predicted = ops.expand_dims(ops.argmax(y_pred, axis=-1), -1)
            hits = ops.equal(y_true, ops.cast(predicted, y_true.dtype))
        else:
            hits = ops.equal(y_true, ops.cast(ops.greater(y_pred, 0.5), y_true.dtype))
        return ops.sum(ops.cast(hits, "float32"))

    def _step(self, xb: Any, yb: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            pred = self.model(xb, training=True)
            loss = self._loss(yb, pred)
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        # Keras' loss tracker weights each batch's loss by its number of samples.
        return loss * float(xb.shape[0]), self._correct(yb, pred)

    def _epoch_fn(self, order: Any) -> Any:
        import tensorflow as tf

        self.traces += 1
        X = tf.gather(self._X, order)
        Y = tf.gather(self._Y, order)
        size, dim = self.batch_size, int(self._X.shape[1])

        def body(i: Any, loss_sum: Any, correct: Any) -> tuple[Any, Any, Any]:
            start = i * size
            loss, hits = self._step(tf.slice(X, [start, 0], [size, dim]),
                                    tf.slice(Y, [start, 0], [size, 1]))
            return i + 1, loss_sum + loss, correct + hits

        zero = tf.constant(0.0, tf.float32)
        _, loss_sum, correct = tf.while_loop(
            lambda i, *_: i < self.n_full, body, (tf.constant(0, tf.int32), zero, zero),
        )
        tail = self.n_full * size
        if tail < self.n:
            loss, hits = self._step(X[tail:], Y[tail:])
            loss_sum, correct = loss_sum + loss, correct + hits
        out = [loss_sum / self.n, correct / self.n]
        if self._X_val is not None:
            pred = self.model(self._X_val, training=False)
            n_val = float(self._X_val.shape[0])
            out += [self._loss(self._Y_val, pred), self._correct(self._Y_val, pred) / n_val]
        return tf.stack(out)

    def run(self, order: np.ndarray | None = None) -> dict[str, float]:
        """Train one epoch over the samples in ``order`` (all, in order, when None).

        Returns the logs: ``loss``, ``accuracy`` and, with validation data, ``val_loss``
        and ``val_accuracy`` (computed after the epoch's last update).
        """
        import tensorflow as tf

        # A tensor argument skips tf.function's slower numpy-argument path.
        indices = self._in_order if order is None else tf.convert_to_tensor(
            np.asarray(order, dtype=np.int32))
        values = self._epoch(indices).numpy()
        return {key: float(v) for key, v in zip(self.keys, values)}


def _column(a: np.ndarray, width: int) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).reshape(-1, width)


def _keras_callbacks(spec: RunSpec) -> list[keras.callbacks.Callback]:
    import keras

    training = spec.training
    out: list[keras.callbacks.Callback] = []
    if training.reduce_lr is not None:
        r = training.reduce_lr
        out.append(keras.callbacks.ReduceLROnPlateau(
            monitor=_KERAS_MONITOR[r.monitor], factor=r.factor, patience=r.patience,
            min_lr=r.min_lr, mode="max" if r.monitor.endswith("acc") else "min", verbose=0,
        ))
    if training.early_stopping is not None:
        e = training.early_stopping
        out.append(keras.callbacks.EarlyStopping(
            monitor=_KERAS_MONITOR[e.monitor], patience=e.patience, min_delta=e.min_delta,
            mode="max" if e.monitor.endswith("acc") else "min", verbose=0,
        ))
    return out


def train(
    spec: RunSpec,
    filename: str | os.PathLike[str],
    run_name: str,
    *,
    on_epoch: Callable[[Any], None] | None = None,
    stop_event: _StopFlag | None = None,
    max_budget: float | None = None,
    writer_factory: Callable[..., Any] | None = None,
) -> TrainResult:
    """Train ``spec`` and record every epoch as run ``run_name`` of ``filename``.

    Parameters
    ----------
    spec : the dataset, network and training.
    filename : the HDF5 run file (created when missing; other runs are kept).
    run_name : a name not yet used in the file.
    on_epoch : called with the recorder's ``EpochRecord`` after every recorded epoch.
    stop_event : anything with ``is_set()`` (e.g. ``threading.Event``), checked between
        epochs; when set, training ends with status ``stopped``.
    max_budget : refuse runs that cost more (see :func:`training_cost`: epochs x batches x
        parameters, plus the evaluation of every epoch), before TensorFlow is loaded.
    writer_factory : how the recorder makes its writer (see ``ReplayData``); a plain
        ``RunWriter`` on ``filename`` when None.

    Returns
    -------
    TrainResult
        ``complete`` (also after early stopping, with a message), ``stopped`` or
        ``diverged`` (loss NaN or infinite; the epochs before it are recorded).

    Raises
    ------
    TrainingLimitError
        Over ``max_budget``; nothing is written.
    RunExistsError
        ``run_name`` is already in the file.
    Exception
        Anything raised while training, after the run is marked ``failed``. A
        ``KeyboardInterrupt`` or another ``BaseException`` (such as a Streamlit stop
        raised from ``on_epoch``) marks it ``stopped`` and propagates.
    """
    # An uploaded CSV dataset is stored in the run file's folder (the session's).
    with csv_data.data_folder(os.path.dirname(os.path.abspath(filename))):
        data = datasets.prepare(spec.dataset)
    n, input_dim = data.X.shape
    if max_budget is not None:
        _check_budget(spec, max_budget, data)

    import keras

    from replay_core.train.model_builder import build_model, compile_model
    from replay_core.train.recorder import ReplayData

    training = spec.training
    keras.utils.set_random_seed(training.seed)
    model = build_model(spec.model, input_dim, training.seed, n_classes=data.n_classes)
    compile_model(model, training)
    validation = (data.X_val, data.y_val) if data.X_val is not None else None
    recorder = ReplayData(
        data.X, data.y, filename, run_name, validation_data=validation, spec=spec.to_json(),
        on_epoch=on_epoch, batch_size=training.batch_size, epochs=training.epochs,
        writer_factory=writer_factory, class_names=data.class_names or None,
    )
    steps = math.ceil(n / training.batch_size)
    callbacks = keras.callbacks.CallbackList(
        [recorder, *_keras_callbacks(spec)], model=model,
        epochs=training.epochs, steps=steps, verbose=0,
    )
    history: dict[str, list[float]] = {}
    try:
        epochs = CompiledEpochs(model, data.X, data.y, training.batch_size,
                                data.X_val, data.y_val,
                                jit_compile=training.epochs * steps >= XLA_MIN_STEPS)
        rng = np.random.default_rng(training.seed)
        model.stop_training = False
        callbacks.on_train_begin()
        stopped = False
        for epoch in range(training.epochs):
            callbacks.on_epoch_begin(epoch)
            lr = float(model.optimizer.learning_rate.numpy())
            logs = epochs.run(rng.permutation(n) if training.shuffle else None)
            callbacks.on_epoch_end(epoch, dict(logs))
            for key, value in [*logs.items(), ("learning_rate", lr)]:
                history.setdefault(key, []).append(value)
            if model.stop_training:  # diverged or early stopping
                break
            if stop_event is not None and stop_event.is_set() and epoch + 1 < training.epochs:
                stopped = True
                break
        if stopped:
            recorder.close("stopped", _stopped_message(recorder))
        else:
            callbacks.on_train_end()
    except Exception as exc:
        recorder.close("failed", f"training failed after epoch {recorder.epochs_done}: {exc}")
        raise
    except BaseException:
        recorder.close("stopped", _stopped_message(recorder))
        raise
    finally:
        recorder.close()
    done = recorder.epochs_done
    # A diverged epoch is not recorded, so it is left out of the history too.
    history = {key: values[:done] for key, values in history.items()}
    return TrainResult(recorder.status or "failed", done, recorder.message, history)


def _stopped_message(recorder: Any) -> str:
    return f"stopped by the user after epoch {recorder.epochs_done}"
