"""Train many runs of one network graph together: one compiled program for a group of runs.

A seed sweep trains the same small network many times. Each run's step is a few hundred
multiply-adds, so run after run the time goes into per-run overhead (building a model,
tracing and compiling its function, a call per epoch). Here the runs of a *group*, those
whose computation graph is the same (dataset, layer sizes, batch size, optimizer type;
hidden activations among ``SELECTABLE`` are computed side by side and selected per run:
see :func:`group_key`), are trained together: every weight carries a leading run axis
``R``, and one compiled TensorFlow function runs an epoch of every run.

Each run is exactly the run the single-run trainer (``trainer.train``) makes of its spec:

- its initial weights are drawn by the same seeded Keras initializers
  (``model_builder.layer_seed``);
- its batches come in the same order (``numpy.random.default_rng(seed).permutation``
  every epoch);
- the forward pass, the loss and its gradient are the same Keras and TensorFlow
  operations. In a plain graph (runs of fewer than ``trainer.XLA_MIN_STEPS`` batches)
  each run's are the single trainer's own 2-D operations, so each run's floats are the
  run's alone bit for bit, a diverging run included: a batched matmul or a reduction
  over a run axis would pick other CPU kernels (oneDNN's GEMV for one output unit, a
  column reduction for a bias' gradient), which round the last bit differently, and a
  diverging run multiplies that difference every step. Under XLA, where each run alone
  is one compiled module of its own, they are computed on a run axis (XLA's code for a
  reduction or a small dot depends on the shapes of the whole module, so no layout
  reproduces a run's alone to the bit): the reference run's 150 epochs agree within a
  few float32 steps of the weights (about 1e-6);
- the optimizer update is Keras 3's ``update_step`` (SGD with momentum and Nesterov,
  Adam, RMSprop, Adagrad), written out operation by operation in the same float32 order
  with each run's own learning rate and momentum (TensorFlow's graph optimizer turns
  RMSprop's and Adagrad's division by a square root into a multiplication by ``rsqrt``
  here but not in Keras' own update, so those two agree to the last bits, not bit for
  bit);
- plateau schedules and early stopping are Keras' own ``ReduceLROnPlateau`` and
  ``EarlyStopping`` callbacks, one per run, and divergence is the recorder's rule.

A run that diverges, stops early or reaches its last epoch leaves the group through a
mask (its weights and optimizer state stop changing); the others go on. Every run is
recorded through its own writer, with the same layout and values a single training
writes.

TensorFlow is imported only when :func:`train_group` runs.

Example
-------
>>> from replay_core.data import presets                                  # doctest: +SKIP
>>> from replay_core.train.batched import train_group                     # doctest: +SKIP
>>> specs = [presets.get("reference").with_seed(s) for s in (1, 2, 3)]   # doctest: +SKIP
>>> out = train_group(specs, "runs.h5", ["s1", "s2", "s3"])               # doctest: +SKIP
>>> [r.result.status for r in out]                                        # doctest: +SKIP
['complete', 'complete', 'complete']
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from replay_core.data import csv_data, datasets
from replay_core.data.spec import RunSpec
from replay_core.store.runfile import EpochRecord, stored_logs

if TYPE_CHECKING:
    import keras

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = ["BatchedEpochs", "BatchedRun", "group_key", "group_specs", "max_group_runs",
           "train_group"]

# The float32 bytes the widest array of one program may hold (the training data gathered
# per run, or a layer's outputs over the whole data set): larger groups are split.
GROUP_BYTES = 96 * 2**20
# Thresholds of the figures that compare seeds, as the Replay page computes them.
THRESHOLD = 0.5
# Hidden activations one program may compute side by side, keeping each run's own with a
# select: their derivatives are finite wherever they are defined, so the zero gradient a
# select sends to the others adds exactly nothing (an exp that overflows, as in elu or
# softplus, would turn it into NaN).
SELECTABLE = ("sigmoid", "tanh", "relu", "linear")


def group_key(spec: RunSpec) -> str:
    """What runs must share to be trained in one program: everything in the spec except
    the seed, the number of epochs, the learning rate, the momentum, shuffling, the
    plateau schedule and early stopping (those differ run by run inside a group).

    :func:`train_group` splits a group further by the single-run trainer's choice of XLA
    (by the run's number of batches), so every run is computed by the same kind of
    compiled code as alone.
    """
    data = spec.to_dict()
    training = data["training"]
    for name in ("seed", "epochs", "learning_rate", "momentum", "shuffle", "reduce_lr",
                 "early_stopping"):
        training.pop(name, None)
    for layer in data["model"]["layers"]:
        if layer.get("activation") in SELECTABLE:
            # One program computes these activations side by side and keeps each run's.
            layer["activation"] = "selectable"
            layer.pop("negative_slope", None)
    return json.dumps(data, sort_keys=True)


def group_specs(specs: Sequence[RunSpec]) -> list[list[int]]:
    """Indices of ``specs`` in groups of one graph (:func:`group_key`), in order of first
    appearance."""
    groups: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(group_key(spec), []).append(i)
    return list(groups.values())


def max_group_runs(n_samples: int, widest: int) -> int:
    """The most runs one program holds for ``n_samples`` samples whose widest row
    (inputs or a layer's units) has ``widest`` values (``GROUP_BYTES`` of float32)."""
    return max(1, GROUP_BYTES // max(1, 4 * int(n_samples) * int(widest)))


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


# -- the compiled program -------------------------------------------------------------------


class BatchedEpochs:
    """One compiled call trains one epoch of every run of a group.

    The weights of layer ``i`` are variables of shape ``(R, *shape)``. The call gathers
    each run's samples in that run's order, runs every full batch in a ``tf.while_loop``
    and the last partial batch, evaluates the validation data and the whole training set
    (for the seed figures) with the updated weights, and returns the logs per run.

    Args:
        model: a Keras model of the group's graph (its layers give units and
            activations; its weights are not used).
        optimizer: the Keras optimizer of the group's spec (its constants are used:
            betas, epsilon, rho, nesterov...).
        initial: per layer, ``[kernel (R, d, u), bias (R, u)]``.
        X, y: training inputs (N, d) and class-index targets (N,).
        batch_size: samples per batch.
        X_val, y_val: optional validation arrays.
        l1, l2: the kernels' regularisation factors.
        jit_compile: compile with XLA.
        activations: per run, its activation function of each layer (the model's when
            None).
        per_run: compute each run's forward pass, loss and gradient with the single
            trainer's 2-D operations (bit for bit a run's alone), instead of on a run
            axis (fewer operations); by default in a plain graph, not under XLA.

    Example
    -------
    >>> epochs = BatchedEpochs(model, opt, initial, X, y, 16)     # doctest: +SKIP
    >>> logs, figures = epochs.run(orders, lr, momentum, active)   # doctest: +SKIP
    >>> logs["loss"].shape                                         # doctest: +SKIP
    (20,)
    """

    def __init__(self, model: keras.Model, optimizer: Any, initial: Sequence[Sequence[Any]],
                 X: np.ndarray, y: np.ndarray, batch_size: int,
                 X_val: np.ndarray | None = None, y_val: np.ndarray | None = None, *,
                 l1: float = 0.0, l2: float = 0.0, jit_compile: bool = True,
                 activations: Sequence[Sequence[Any]] | None = None,
                 per_run: bool | None = None) -> None:
        import tensorflow as tf

        R = int(np.asarray(initial[0][0]).shape[0])
        # Per layer: its distinct activation functions and, when several, which run uses
        # which (``activations[r][i]``: run r's function for layer i).
        self.activations: list[tuple[list[Any], Any]] = []
        # Per run, its activation function of each layer (for the per-run operations).
        self._run_activations: list[list[Any]] = [[] for _ in range(R)]
        for i, layer in enumerate(model.layers):
            if activations is None:
                self.activations.append(([layer.activation], None))
                for r in range(R):
                    self._run_activations[r].append(layer.activation)
                continue
            funcs: list[Any] = []
            keys: list[str] = []
            which = np.zeros(R, np.int32)
            for r in range(R):
                key = json.dumps(_describe(activations[r][i]), sort_keys=True, default=str)
                if key not in keys:
                    keys.append(key)
                    funcs.append(activations[r][i])
                which[r] = keys.index(key)
            for r in range(R):
                self._run_activations[r].append(funcs[which[r]])
            masks = None if len(funcs) == 1 else tf.constant(
                np.stack([which == k for k in range(len(funcs))]).reshape(len(funcs), R, 1, 1))
            self.activations.append((funcs, masks))
        self.softmax = int(model.layers[-1].units) > 1
        self.kind = type(optimizer).__name__.lower()
        if self.kind not in ("sgd", "adam", "rmsprop", "adagrad"):
            raise ValueError(f"the batched trainer has no {self.kind} optimizer")
        self.opt = optimizer
        self.l1, self.l2 = float(l1), float(l2)
        self.n = int(X.shape[0])
        self.dim = int(X.shape[1])
        self.batch_size = int(batch_size)
        self.n_full = self.n // self.batch_size
        self.R = int(np.asarray(initial[0][0]).shape[0])
        self.variables = [tf.Variable(np.asarray(w, np.float32), trainable=True)
                          for layer in initial for w in layer]
        self.slots = self._make_slots(tf)
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._X = tf.constant(np.ascontiguousarray(X, np.float32).reshape(-1, self.dim))
        self._Y = tf.constant(np.ascontiguousarray(y, np.float32).reshape(-1, 1))
        self._in_order = tf.constant(np.tile(np.arange(self.n, dtype=np.int32), (self.R, 1)))
        self._X_val = self._Y_val = None
        self.keys = ["loss", "accuracy"]
        if X_val is not None and y_val is not None:
            self._X_val = tf.constant(np.ascontiguousarray(X_val, np.float32).reshape(-1,
                                                                                       self.dim))
            self._Y_val = tf.constant(np.ascontiguousarray(y_val, np.float32).reshape(-1, 1))
            self.keys += ["val_loss", "val_accuracy"]
        self.traces = 0
        # No autograph: the loop is an explicit tf.while_loop, and converting the
        # optimizer's Python branches would only add to the time before the first epoch.
        self.per_run = (not jit_compile) if per_run is None else bool(per_run)
        self._epoch = tf.function(self._epoch_fn, jit_compile=bool(jit_compile),
                                  reduce_retracing=False, autograph=False)

    # optimizer state, as Keras 3 builds it for each variable
    def _make_slots(self, tf: Any) -> dict[str, list[Any]]:
        zeros = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.variables]
        if self.kind == "sgd":
            return {"momentums": zeros}
        if self.kind == "adam":
            return {"momentums": zeros,
                    "velocities": [tf.Variable(tf.zeros_like(v), trainable=False)
                                   for v in self.variables]}
        if self.kind == "rmsprop":
            return {"velocities": zeros,
                    "momentums": [tf.Variable(tf.zeros_like(v), trainable=False)
                                  for v in self.variables]}
        start = float(self.opt.initial_accumulator_value)
        return {"accumulators": [tf.Variable(tf.fill(tf.shape(v), start), trainable=False)
                                 for v in self.variables]}

    # the network, with a leading run axis
    def _forward(self, x: Any) -> Any:
        import tensorflow as tf

        for i, (funcs, masks) in enumerate(self.activations):
            kernel, bias = self.variables[2 * i], self.variables[2 * i + 1]
            x = tf.matmul(x, kernel)               # Dense: ops.matmul, then ops.add
            x = tf.add(x, tf.expand_dims(bias, 1))
            if masks is None:
                x = funcs[0](x)
            else:
                outs = [f(x) for f in funcs]
                y = outs[0]
                for k in range(1, len(funcs)):
                    y = tf.where(masks[k], outs[k], y)
                x = y
        return x

    def _cross_entropy(self, y_true: Any, y_pred: Any) -> Any:
        import keras

        # In a graph Keras' cross-entropies read the sigmoid's (softmax's) logits.
        if self.softmax:
            return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
        return keras.losses.binary_crossentropy(y_true, y_pred)

    def _loss(self, y_true: Any, y_pred: Any) -> Any:
        """Per run (R,): the mean cross-entropy plus the kernels' regularisation."""
        import tensorflow as tf

        losses = [tf.reduce_mean(self._cross_entropy(y_true, y_pred), axis=-1)]
        if self.l1 or self.l2:
            for kernel in self.variables[0::2]:
                # keras.regularizers.L1L2.__call__, per run.
                reg = tf.zeros([self.R], tf.float32)
                if self.l1:
                    reg += tf.cast(self.l1, tf.float32) * tf.reduce_sum(tf.abs(kernel),
                                                                       axis=[1, 2])
                if self.l2:
                    reg += tf.cast(self.l2, tf.float32) * tf.reduce_sum(tf.square(kernel),
                                                                       axis=[1, 2])
                losses.append(reg)
        return losses[0] if len(losses) == 1 else tf.reduce_sum(tf.stack(losses), axis=0)

    def _correct(self, y_true: Any, y_pred: Any, *, strict: bool = True) -> Any:
        """Per run (R,): correctly classified samples (Keras' accuracy with ``strict``;
        the Replay page's ``p >= 0.5`` without)."""
        import tensorflow as tf

        if self.softmax:
            predicted = tf.expand_dims(tf.argmax(y_pred, axis=-1), -1)
            hits = tf.equal(y_true, tf.cast(predicted, y_true.dtype))
        else:
            above = tf.greater(y_pred, 0.5) if strict else tf.greater_equal(y_pred, THRESHOLD)
            hits = tf.equal(y_true, tf.cast(above, y_true.dtype))
        return tf.reduce_sum(tf.cast(hits, tf.float32), axis=[1, 2])

    def _apply(self, grads: list[Any], lr: Any, momentum: Any, active: Any) -> None:
        """Keras 3's ``update_step`` of the optimizer, for every run at once; runs not
        ``active`` keep their weights and optimizer state."""
        import tensorflow as tf

        opt = self.opt
        local_step = tf.cast(self.iterations + 1, tf.float32)
        for j, (var, grad) in enumerate(zip(self.variables, grads)):
            shape = [-1] + [1] * (len(var.shape) - 1)
            lr_v = tf.reshape(lr, shape)
            mom_v = tf.reshape(momentum, shape)
            keep = tf.reshape(active, shape)
            updates: list[tuple[Any, Any]] = []
            if self.kind == "sgd":
                m = self.slots["momentums"][j]
                m_new = tf.subtract(tf.multiply(m, mom_v), tf.multiply(grad, lr_v))
                if opt.nesterov:
                    value = var + tf.subtract(tf.multiply(m_new, mom_v),
                                              tf.multiply(grad, lr_v))
                else:
                    value = var + m_new
                updates = [(m, m_new), (var, value)]
            elif self.kind == "adam":
                m, v = self.slots["momentums"][j], self.slots["velocities"][j]
                beta_1_power = tf.pow(tf.cast(opt.beta_1, tf.float32), local_step)
                beta_2_power = tf.pow(tf.cast(opt.beta_2, tf.float32), local_step)
                alpha = lr_v * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
                m_new = m + tf.multiply(tf.subtract(grad, m), 1 - opt.beta_1)
                v_new = v + tf.multiply(tf.subtract(tf.square(grad), v), 1 - opt.beta_2)
                value = var - tf.divide(tf.multiply(m_new, alpha),
                                        tf.add(tf.sqrt(v_new), opt.epsilon))
                updates = [(m, m_new), (v, v_new), (var, value)]
            elif self.kind == "rmsprop":
                vel, m = self.slots["velocities"][j], self.slots["momentums"][j]
                rho = opt.rho
                vel_new = tf.add(tf.multiply(rho, vel), tf.multiply(1 - rho, tf.square(grad)))
                increment = tf.divide(tf.multiply(lr_v, grad),
                                      tf.sqrt(tf.add(vel_new, opt.epsilon)))
                # Keras keeps no momentum slot at momentum 0: m_new is then the increment
                # itself (0 * m + increment), the same float.
                m_new = tf.add(tf.multiply(mom_v, m), increment)
                updates = [(vel, vel_new), (m, m_new), (var, var - m_new)]
            else:
                acc = self.slots["accumulators"][j]
                acc_new = acc + tf.square(grad)
                value = var - tf.divide(tf.multiply(lr_v, grad),
                                        tf.sqrt(tf.add(acc_new, opt.epsilon)))
                updates = [(acc, acc_new), (var, value)]
            for target, new in updates:
                target.assign(tf.where(keep, new, target))
        self.iterations.assign_add(1)

    def _run_pass(self, x: Any, y: Any) -> tuple[Any, Any]:
        """Per run (R,): the loss and the predictions, each run computed with the single
        trainer's own operations on its own 2-D arrays (Keras' ``Dense.call``: matmul, add,
        activation; the loss of ``CompiledEpochs._loss``).

        A batched matmul or a reduction over a run axis picks other kernels than the 2-D
        ones (oneDNN's GEMV for one output unit, a column reduction for the bias'
        gradient...), which round the last bit differently; a run that diverges grows
        such differences every step. ``x``, ``y``: (R or 1, B, d), (R or 1, B, 1).
        """
        import tensorflow as tf
        from keras import ops

        params = [tf.unstack(v) for v in self.variables]
        losses, preds = [], []
        for r in range(self.R):
            h = x[0] if x.shape[0] == 1 else x[r]
            for i, activation in enumerate(self._run_activations[r]):
                h = activation(ops.add(ops.matmul(h, params[2 * i][r]), params[2 * i + 1][r]))
            terms = [ops.mean(self._cross_entropy(y[0] if y.shape[0] == 1 else y[r], h))]
            for kernel in params[0::2]:
                if self.l1 or self.l2:  # keras.regularizers.L1L2.__call__
                    reg = ops.convert_to_tensor(0.0, dtype="float32")
                    if self.l1:
                        reg += ops.cast(self.l1, "float32") * ops.sum(ops.absolute(kernel[r]))
                    if self.l2:
                        reg += ops.cast(self.l2, "float32") * ops.sum(ops.square(kernel[r]))
                    terms.append(reg)
            losses.append(terms[0] if len(terms) == 1 else ops.sum(terms))
            preds.append(h)
        return tf.stack(losses), tf.stack(preds)

    def _step(self, xb: Any, yb: Any, lr: Any, momentum: Any, active: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            if self.per_run:
                loss, pred = self._run_pass(xb, yb)
            else:
                pred = self._forward(xb)
                loss = self._loss(yb, pred)
            # The runs' losses are independent: the gradient of their sum is each run's.
            total = tf.reduce_sum(loss)
        grads = tape.gradient(total, self.variables)
        self._apply(grads, lr, momentum, active)
        return loss * float(xb.shape[1]), self._correct(yb, pred)

    def _figures_fn(self) -> Any:
        """Whole-training-set cross-entropy and accuracy (Replay's threshold) per run."""
        import tensorflow as tf

        y = tf.broadcast_to(self._Y[None], [self.R, self.n, 1])
        pred = self._forward(self._X[None])
        if self.softmax:
            per_sample = self._cross_entropy(y, tf.identity(pred))
        else:
            # As the Replay page computes it: on the probabilities clipped to [eps, 1-eps]
            # in float64 (in float32, 1 - 1e-7 rounds to 1 - 1.2e-7), not on the logits.
            p = tf.clip_by_value(tf.cast(pred, tf.float64), 1e-7, 1.0 - 1e-7)
            t = tf.cast(y, tf.float64)
            per_sample = tf.cast(-(t * tf.math.log(p) + (1.0 - t) * tf.math.log1p(-p)),
                                 tf.float32)[..., 0]
        loss = tf.reduce_mean(per_sample, axis=-1)
        return tf.stack([loss, self._correct(y, pred, strict=False) / self.n])

    def _epoch_fn(self, orders: Any, lr: Any, momentum: Any, active: Any) -> Any:
        import tensorflow as tf

        self.traces += 1
        X = tf.gather(self._X, orders)          # (R, N, d), each run in its own order
        Y = tf.gather(self._Y, orders)
        R, size, dim = self.R, self.batch_size, self.dim

        def body(i: Any, loss_sum: Any, correct: Any) -> tuple[Any, Any, Any]:
            start = i * size
            loss, hits = self._step(tf.slice(X, [0, start, 0], [R, size, dim]),
                                    tf.slice(Y, [0, start, 0], [R, size, 1]),
                                    lr, momentum, active)
            return i + 1, loss_sum + loss, correct + hits

        zero = tf.zeros([R], tf.float32)
        _, loss_sum, correct = tf.while_loop(
            lambda i, *_: i < self.n_full, body, (tf.constant(0, tf.int32), zero, zero))
        tail = self.n_full * size
        if tail < self.n:
            loss, hits = self._step(X[:, tail:], Y[:, tail:], lr, momentum, active)
            loss_sum, correct = loss_sum + loss, correct + hits
        out = [loss_sum / self.n, correct / self.n]
        if self._X_val is not None:
            n_val = int(self._X_val.shape[0])
            y_val = tf.broadcast_to(self._Y_val[None], [R, n_val, 1])
            if self.per_run:
                loss, pred = self._run_pass(self._X_val[None], self._Y_val[None])
            else:
                pred = self._forward(self._X_val[None])
                loss = self._loss(y_val, pred)
            out += [loss, self._correct(y_val, pred) / float(n_val)]
        return tf.concat([tf.stack(out), self._figures_fn()], axis=0)

    def run(self, orders: np.ndarray | None, lr: np.ndarray, momentum: np.ndarray,
            active: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Train one epoch of every run.

        Parameters
        ----------
        orders : (R, N) sample order of each run, or None for every run in order.
        lr, momentum : (R,) each run's learning rate and momentum (float32).
        active : (R,) runs that train; the others keep their state.

        Returns
        -------
        logs : name -> (R,) values as ``model.fit`` reports them.
        figures : (2, R) whole-training-set loss and accuracy after the epoch.
        """
        import tensorflow as tf

        indices = self._in_order if orders is None else tf.convert_to_tensor(
            np.asarray(orders, np.int32))
        values = self._epoch(indices, tf.convert_to_tensor(np.asarray(lr, np.float32)),
                             tf.convert_to_tensor(np.asarray(momentum, np.float32)),
                             tf.convert_to_tensor(np.asarray(active, bool))).numpy()
        k = len(self.keys)
        return {key: values[i] for i, key in enumerate(self.keys)}, values[k:]

    def figures(self) -> np.ndarray:
        """(2, R) whole-training-set loss and accuracy of the current weights."""
        # Once per group: eagerly, with no second program to compile.
        return self._figures_fn().numpy()

    def weights(self) -> list[list[np.ndarray]]:
        """Per layer, ``[kernel (R, d, u), bias (R, u)]`` now."""
        values = [v.numpy() for v in self.variables]
        return [values[i:i + 2] for i in range(0, len(values), 2)]


# -- one run's bookkeeping ------------------------------------------------------------------


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


def _describe(func: Any) -> dict[str, Any]:
    from replay_core.train.recorder import describe_activation

    return describe_activation(func)


def _initial_weights(spec: RunSpec, model: keras.Model, input_dim: int) -> list[list[Any]]:
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


# -- training a group -----------------------------------------------------------------------


def train_group(
    specs: Sequence[RunSpec],
    filename: str | os.PathLike[str],
    run_names: Sequence[str],
    *,
    writer_factory: Callable[..., Any] | None = None,
    on_epoch: Callable[[int, EpochRecord], None] | None = None,
    on_group_epoch: Callable[[int], None] | None = None,
    stop_event: Any = None,
    max_budget: float | None = None,
) -> list[BatchedRun]:
    """Train runs of one graph (:func:`group_key`) together and record each of them.

    Parameters
    ----------
    specs : one spec per run; all with the same :func:`group_key`.
    filename : the run file (where a single training would write; uploaded CSV data is
        found in its folder).
    run_names : one new name per run.
    writer_factory : makes run ``i``'s writer, called as ``writer_factory(i, filename,
        name, **fields)`` with ``RunWriter``'s fields; a plain ``RunWriter`` when None.
    on_epoch : called with ``(i, EpochRecord)`` after run ``i`` records an epoch.
    on_group_epoch : called after every epoch of the group with the number of run epochs
        it finished (recorded, or ended by divergence).
    stop_event : anything with ``is_set()``, checked between epochs; when set, every run
        still training ends ``stopped`` with its finished epochs kept.
    max_budget : refuse the group when one run costs more (see ``trainer.training_cost``).

    Returns
    -------
    list of BatchedRun
        One per spec, in order: the run's ``TrainResult`` and its seed figures.

    Raises
    ------
    TrainingLimitError
        A run over ``max_budget``; nothing is written.
    ValueError
        Specs of different graphs.
    Exception
        Anything raised while training, after every run still training is marked
        ``failed``; a ``BaseException`` marks them ``stopped`` and propagates.
    """
    specs = list(specs)
    names = list(run_names)
    if not specs or len(specs) != len(names):
        raise ValueError("give one run name per spec, and at least one spec")
    if len({group_key(s) for s in specs}) != 1:
        raise ValueError("the specs of a group must share one graph (see group_key)")
    from replay_core.train import trainer

    with csv_data.data_folder(os.path.dirname(os.path.abspath(filename))):
        data = datasets.prepare(specs[0].dataset)
    if max_budget is not None:
        for spec in specs:
            trainer._check_budget(spec, max_budget, data)
    n, input_dim = data.X.shape
    widest = max([input_dim, data.n_classes, *(layer.units for layer in specs[0].model.layers)])
    chunk = max_group_runs(n + (0 if data.X_val is None else len(data.X_val)), widest)
    steps = math.ceil(n / specs[0].training.batch_size)
    by_jit: dict[bool, list[int]] = {}
    for i, spec in enumerate(specs):
        by_jit.setdefault(spec.training.epochs * steps >= trainer.XLA_MIN_STEPS, []).append(i)
    out: dict[int, BatchedRun] = {}
    for jit, members in by_jit.items():
        for start in range(0, len(members), chunk):
            part = members[start:start + chunk]
            results = _train_chunk([specs[i] for i in part], [names[i] for i in part], part,
                                   filename, data, jit, writer_factory, on_epoch,
                                   on_group_epoch, stop_event)
            out.update(zip(part, results))
    return [out[i] for i in range(len(specs))]


def _train_chunk(specs: list[RunSpec], names: list[str], index: list[int], filename: Any,
                 data: datasets.PreparedData, jit: bool, writer_factory: Callable[..., Any] | None,
                 on_epoch: Callable[[int, EpochRecord], None] | None,
                 on_group_epoch: Callable[[int], None] | None,
                 stop_event: Any) -> list[BatchedRun]:
    from replay_core.store.runfile import RunWriter
    from replay_core.train.model_builder import build_model, build_optimizer
    from replay_core.train.recorder import activation_config

    first = specs[0]
    n, input_dim = data.X.shape
    R = len(specs)
    models: dict[str, Any] = {}  # one Keras model per network (activations) in the group
    run_models = []
    for spec in specs:
        key = repr(spec.model)
        if key not in models:
            models[key] = build_model(spec.model, input_dim, first.training.seed,
                                      n_classes=data.n_classes)
        run_models.append(models[key])
    model = run_models[0]
    initial = [_initial_weights(s, m, input_dim) for s, m in zip(specs, run_models)]
    stacked = [[np.stack([w[i][j] for w in initial]) for j in range(2)]
               for i in range(len(model.layers))]
    epochs_planned = np.array([s.training.epochs for s in specs])

    fields = dict(
        inputs=data.X, targets=data.y,
        val_inputs=data.X_val if data.X_val is not None else None,
        val_targets=data.y_val if data.X_val is not None else None,
        layer_names=[layer.name for layer in model.layers],
        samples=int(n), batch_size=int(first.training.batch_size))
    writers: list[Any] = [None] * R
    runs = [_Run(s) for s in specs]
    active = np.zeros(R, bool)
    try:
        for r, spec in enumerate(specs):
            run_fields = dict(fields, initial_weights=initial[r],
                              activation_config=activation_config(run_models[r]),
                              n_epochs=int(spec.training.epochs), spec_json=spec.to_json())
            if writer_factory is None:
                writers[r] = RunWriter(filename, names[r], **run_fields)
            else:
                writers[r] = writer_factory(index[r], filename, names[r], **run_fields)
            active[r] = True
        program = BatchedEpochs(
            model, build_optimizer(first.training), stacked, data.X, data.y,
            first.training.batch_size, data.X_val, data.y_val,
            l1=first.model.l1, l2=first.model.l2, jit_compile=jit,
            activations=[[layer.activation for layer in m.layers] for m in run_models])
        figures = program.figures()
        for r, run in enumerate(runs):
            run.figures.append((float(figures[0, r]), float(figures[1, r])))
        shuffle = np.array([s.training.shuffle for s in specs])
        rngs = [np.random.default_rng(s.training.seed) for s in specs]
        in_order = np.arange(n)
        momentum = np.array([s.training.momentum for s in specs], np.float32)
        for epoch in range(int(epochs_planned.max())):
            if not active.any():
                break
            lr = np.array([run.model.optimizer.learning_rate for run in runs], np.float32)
            orders = None
            if shuffle.any():
                # Each run's generator draws one permutation per epoch it trains, as alone.
                orders = np.stack([rngs[r].permutation(n) if shuffle[r] and active[r]
                                   else in_order for r in range(R)])
            logs, figures = program.run(orders, lr, momentum, active)
            weights = program.weights()
            finished = 0
            for r in np.flatnonzero(active):
                run = runs[r]
                run_logs = {key: float(values[r]) for key, values in logs.items()}
                run_weights = [[w[r] for w in layer] for layer in weights]
                ended = run.end_epoch(epoch, run_logs, float(lr[r]), run_weights,
                                      (float(figures[0, r]), float(figures[1, r])),
                                      writers[r])
                finished += 1
                if on_epoch is not None and run.recorded_last:
                    on_epoch(index[r], EpochRecord(
                        epoch=writers[r].epochs_done, logs=stored_logs(run_logs),
                        lr=float(lr[r]), weights=run_weights))
                if ended:
                    active[r] = False
            if on_group_epoch is not None:
                on_group_epoch(finished)
            if (stop_event is not None and stop_event.is_set()):
                for r in np.flatnonzero(active):
                    runs[r].close(writers[r], "stopped",
                                  f"stopped by the user after epoch {writers[r].epochs_done}")
                    active[r] = False
        for r in np.flatnonzero(active):
            runs[r].close(writers[r], None, "")
    except Exception as exc:
        for r, writer in enumerate(writers):
            if writer is not None and writer.status == "running":
                runs[r].close(writer, "failed", f"training failed after epoch "
                              f"{writer.epochs_done}: {exc}")
        raise
    except BaseException:
        for r, writer in enumerate(writers):
            if writer is not None and writer.status == "running":
                runs[r].close(writer, "stopped",
                              f"stopped by the user after epoch {writer.epochs_done}")
        raise
    finally:
        for writer in writers:
            if writer is not None and not writer.closed:
                writer.close()
    return [run.outcome(writers[r]) for r, run in enumerate(runs)]


class _Run:
    """One run's state in a group: its callbacks, history, figures and end."""

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
                  writer: Any) -> bool:
        """The recorder's and the callbacks' ``on_epoch_end``; True when the run ends."""
        self.recorded_last = False
        for key, value in [*logs.items(), ("learning_rate", lr)]:
            self.history.setdefault(key, []).append(value)
        number = writer.epochs_done + 1
        loss = logs["loss"]
        if not math.isfinite(loss):
            bad = "NaN" if math.isnan(loss) else "infinite"
            self._status(writer, "diverged", f"loss became {bad} at epoch {number}", number)
            self.model.stop_training = True
        elif not all(np.isfinite(w).all() for layer in weights for w in layer):
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
