"""One run's bookkeeping in a group trained by one program (``batched.train_group``).

What the single-run trainer does around its compiled epochs, per run: Keras' own
``ReduceLROnPlateau`` and ``EarlyStopping`` callbacks on a stand-in model that carries
the run's learning rate and ``stop_training``, the recorder's divergence rule, its
history and the figures that compare seeds, and how the run ended (:class:`BatchedRun`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from replay_core.data.spec import RunSpec

if TYPE_CHECKING:
    import keras

__all__ = ["BatchedRun", "GroupRun", "initial_weights"]


@dataclass(frozen=True)
class BatchedRun:
    """How one run of a group ended, and the figures that compare seeds.

    Args:
        result: what ``trainer.train`` returns for the run.
        first_perfect_epoch: first epoch (>= 1) whose end-of-epoch weights classify every
            training sample correctly (probability >= 0.5 for class 1, as on the Replay
            page); None when none does.
        final_loss, final_accuracy: cross-entropy and accuracy over the whole training set
            with the weights of the last recorded epoch (epoch 0 when none was).
    """

    result: Any
    first_perfect_epoch: int | None
    final_loss: float
    final_accuracy: float


class _RunOptimizer:
    """What Keras' ``ReduceLROnPlateau`` reads and sets: a float32 learning rate."""

    def __init__(self, learning_rate: float) -> None:
        self._lr = np.float32(learning_rate)

    @property
    def learning_rate(self) -> np.float32:
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        # The Keras optimizer assigns the new rate to a float32 variable.
        self._lr = np.float32(value)


class _RunModel:
    """The model a run's Keras callbacks see: its optimizer's rate and ``stop_training``."""

    def __init__(self, learning_rate: float) -> None:
        self.optimizer = _RunOptimizer(learning_rate)
        self.stop_training = False


def initial_weights(spec: RunSpec, model: keras.Model, input_dim: int) -> list[list[Any]]:
    """The weights ``build_model`` gives a run of ``spec`` (its seeded initializers)."""
    from replay_core.train.model_builder import layer_seed, make_initializer

    m = spec.model
    out = []
    n_layers = len(model.layers)
    d = input_dim
    for i, layer in enumerate(model.layers):
        last = i == n_layers - 1
        init = make_initializer(m.output_initializer if last else m.initializer,
                                m.output_init_stddev if last else m.init_stddev,
                                layer_seed(spec.training.seed, i))
        units = int(layer.units)
        out.append([np.asarray(init((d, units), dtype="float32"), np.float32),
                    np.zeros(units, np.float32)])
        d = units
    return out


class GroupRun:
    """One run's state in a group: its callbacks, history, figures and end.

    Args:
        spec: the run's spec (its epochs, learning rate, plateau and early stopping).

    Example
    -------
    >>> run = GroupRun(spec)                                              # doctest: +SKIP
    >>> ended = run.end_epoch(0, logs, lr, weights, (loss, acc), writer)  # doctest: +SKIP
    >>> run.outcome(writer).result.status                                 # doctest: +SKIP
    'complete'
    """

    def __init__(self, spec: RunSpec) -> None:
        from replay_core.train import trainer

        self.spec = spec
        self.model = _RunModel(spec.training.learning_rate)
        self.callbacks = trainer._keras_callbacks(spec)
        for callback in self.callbacks:
            callback.set_model(self.model)
            callback.on_train_begin()
        self.history: dict[str, list[float]] = {}
        self.figures: list[tuple[float, float]] = []  # per recorded epoch, 0 first
        self.recorded_last = False
        self.message = ""

    def end_epoch(self, epoch: int, logs: dict[str, float], lr: float,
                  weights: list[list[np.ndarray]], figures: tuple[float, float],
                  writer: Any, *, finite: bool | None = None) -> bool:
        """The recorder's and the callbacks' ``on_epoch_end``; True when the run ends.

        ``finite``: whether every weight is finite, when the caller checked it already
        (for a whole group at once); checked here when None.
        """
        self.recorded_last = False
        for key, value in [*logs.items(), ("learning_rate", lr)]:
            self.history.setdefault(key, []).append(value)
        number = writer.epochs_done + 1
        loss = logs["loss"]
        if not math.isfinite(loss):
            bad = "NaN" if math.isnan(loss) else "infinite"
            self._status(writer, "diverged", f"loss became {bad} at epoch {number}", number)
            self.model.stop_training = True
        elif not (finite if finite is not None
                  else all(np.isfinite(w).all() for layer in weights for w in layer)):
            self._status(writer, "diverged",
                         f"the weights became NaN or infinite at epoch {number}", number)
            self.model.stop_training = True
        else:
            writer.append_epoch(weights, logs, lr)
            self.figures.append(figures)
            self.recorded_last = True
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, dict(logs))
        if writer.status != "running":
            writer.close()
            return True
        if self.model.stop_training or epoch + 1 >= self.spec.training.epochs:
            self.close(writer, None, "")
            return True
        return False

    def _status(self, writer: Any, status: str, message: str,
                diverged_epoch: int | None = None) -> None:
        writer.set_status(status, message, diverged_epoch)
        self.message = message

    def close(self, writer: Any, status: str | None, message: str) -> None:
        """The recorder's ``on_train_end`` (no status) or ``close(status, message)``."""
        if writer.closed:
            return
        try:
            if status is not None:
                self._status(writer, status, message)
            elif writer.status == "running":
                done = writer.epochs_done
                early = self.model.stop_training and done < self.spec.training.epochs
                self._status(writer, "complete", f"early stopping at epoch {done}"
                             if early else "")
        finally:
            writer.close()

    def outcome(self, writer: Any) -> BatchedRun:
        from replay_core.train.trainer import TrainResult

        done = writer.epochs_done
        history = {key: values[:done] for key, values in self.history.items()}
        result = TrainResult(writer.status or "failed", done, self.message, history)
        accuracy = [acc for _, acc in self.figures[1:done + 1]]
        perfect = next((i + 1 for i, acc in enumerate(accuracy) if acc >= 1.0), None)
        loss, acc = self.figures[min(done, len(self.figures) - 1)]
        return BatchedRun(result, perfect, loss, acc)
