"""The compiled program of a group of runs: one call trains one epoch of every run.

The weights of every run of a group (``batched.train_group``) are stacked along a leading
run axis ``R``; one TensorFlow function gathers each run's batches in that run's order,
takes every step of every run, applies Keras 3's optimizer update run by run (each with
its own learning rate and momentum, under a mask of the runs still training) and
evaluates the validation data and the whole training set. How each run's floats relate to
the run trained alone is told in ``batched``'s docstring.

TensorFlow is imported only when a :class:`BatchedEpochs` is made.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras

__all__ = ["THRESHOLD", "BatchedEpochs"]

# Thresholds of the figures that compare seeds, as the Replay page computes them.
THRESHOLD = 0.5


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

    def reset(self, initial: Sequence[Sequence[Any]]) -> None:
        """Start again from ``initial`` (per layer ``[kernel (R, d, u), bias (R, u)]``)
        with the optimizer's state as Keras builds it: the same compiled program trains
        another group of the same shape, with no new trace or compile."""
        values = [np.asarray(w, np.float32) for layer in initial for w in layer]
        if [v.shape for v in values] != [tuple(v.shape) for v in self.variables]:
            raise ValueError("reset needs weights of the program's shapes")
        for var, value in zip(self.variables, values):
            var.assign(value)
        start = (float(self.opt.initial_accumulator_value) if self.kind == "adagrad"
                 else 0.0)
        for slots in self.slots.values():
            for slot in slots:
                slot.assign(np.full(slot.shape, start, np.float32))
        self.iterations.assign(0)


def _describe(func: Any) -> dict[str, Any]:
    from replay_core.train.recorder import describe_activation

    return describe_activation(func)
