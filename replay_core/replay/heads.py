"""The network's output head: the one place that knows two classes from k.

A run ends in a sigmoid unit or a 2-unit softmax (two classes: ``BinaryHead``), in a
softmax of k > 2 units (``SoftmaxHead``), or in something that gives no probabilities
(``NoProbabilityHead``, whose every method raises the reason). ``output_head`` chooses
once, from the network's layers; every view then asks the head for probabilities,
predicted classes, per-sample losses, boundary lines and the class-dependent views
instead of branching on the kind of output itself.

Example
-------
>>> import numpy as np
>>> from replay_core.replay.forward import Network
>>> net = Network.from_weights([[np.ones((2, 2, 1)), np.zeros((2, 1))]], ["sigmoid"])
>>> head = output_head(net, "run 'demo'")
>>> head.n_classes, head.predicted(net.forward(np.array([[1.0, 1.0]]))).tolist()
(2, [[1], [1]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from replay_core.errors import ViewUnavailableError
from replay_core.replay import histograms
from replay_core.replay.contours import THRESHOLD, ContourTracer, joined
from replay_core.replay.forward import Network

EPSILON = 1e-7
"""Keras' clipping epsilon for cross-entropy on probabilities."""
SIGMOID_LIKE = ("sigmoid", "hard_sigmoid", "sparse_sigmoid")


def binary_crossentropy(targets: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per-sample binary cross-entropy, with probabilities clipped to ``[eps, 1-eps]`` as
    Keras does; ``targets`` (N,) broadcasts against ``proba`` (..., N)."""
    p = np.clip(proba, EPSILON, 1.0 - EPSILON)
    return -(targets * np.log(p) + (1.0 - targets) * np.log1p(-p))


def categorical_crossentropy(targets: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per-sample categorical cross-entropy of class-index ``targets`` (N,) against class
    probabilities ``proba`` (..., N, k), computed as Keras does on probabilities: clipped
    to ``[eps, 1-eps]``, renormalised, ``-log p[target]``."""
    p = np.clip(proba, EPSILON, 1.0 - EPSILON)
    index = np.broadcast_to(np.asarray(targets, dtype=np.intp)[:, None], p.shape[:-1] + (1,))
    p_true = np.take_along_axis(p, index, axis=-1)[..., 0]
    return np.log(p.sum(axis=-1)) - np.log(p_true)


def class_margins(proba: np.ndarray) -> np.ndarray:
    """``(p_c - max_{j != c} p_j + 1) / 2`` for every class ``c`` of ``proba`` (..., k).

    Class ``c`` wins where its margin is above 0.5, so the 0.5 contours of the margins are
    the lines between the class regions.
    """
    top2 = -np.partition(-proba, 1, axis=-1)[..., :2]
    best, second = top2[..., :1], top2[..., 1:]
    other = np.where(proba >= best, second, best)
    return (proba - other + 1.0) / 2.0


class OutputHead:
    """What a view needs from the output layer; ``output`` arrays are the network's
    output (E+1, M, units) for M points."""

    n_classes: int

    def check(self) -> OutputHead:
        """The head itself; a head that gives no probabilities raises why."""
        return self

    def proba(self, output: np.ndarray) -> np.ndarray:
        """``Replay.predict_proba``'s array: (E+1, M) P(class 1) for a sigmoid unit,
        else the output (E+1, M, k)."""
        raise NotImplementedError

    def predicted(self, output: np.ndarray) -> np.ndarray:
        """(E+1, M) the predicted class of every point."""
        raise NotImplementedError

    def sample_loss(self, targets: np.ndarray, output: np.ndarray) -> np.ndarray:
        """(E+1, M) the cross-entropy of every point against its class index ``targets``."""
        raise NotImplementedError

    def grid(self, output: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Over a ``size`` x ``size`` grid: the probability shown (E+1, G, G) float32, and
        the winning class (E+1, G, G) int8 for k > 2 classes (else None)."""
        raise NotImplementedError

    def boundary_lines(self, output: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple:
        """Per epoch, the decision boundary traced on a (len(ys), len(xs)) grid whose
        output is ``output`` (E+1, G*G, units), as (M, 2) polylines."""
        raise NotImplementedError

    def straight_line(self, kernel: np.ndarray,
                      bias: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``(w (E+1, 2), b (E+1,))`` whose sign decides the class, when the output is
        that Dense map (E+1, 2, units) followed by the head's activation; else None."""
        raise NotImplementedError

    def probability_histogram(self, output: np.ndarray, predicted: np.ndarray,
                              targets: np.ndarray, bins: int) -> Any:
        """The probability-histogram view of the training output."""
        raise NotImplementedError

    def loss_histogram(self, losses: np.ndarray, targets: np.ndarray,
                       edges: np.ndarray) -> Any:
        """The per-sample loss histogram view."""
        raise NotImplementedError


class BinaryHead(OutputHead):
    """Two classes: a sigmoid unit (``sigmoid=True``) or a 2-unit softmax; P(class 1)
    at or above 0.5 predicts class 1."""

    n_classes = 2

    def __init__(self, sigmoid: bool) -> None:
        self.sigmoid = sigmoid

    def p1(self, output: np.ndarray) -> np.ndarray:
        """P(class 1) (E+1, M)."""
        return output[..., 0] if self.sigmoid else output[..., 1]

    def proba(self, output: np.ndarray) -> np.ndarray:
        return output[..., 0] if self.sigmoid else output

    def predicted(self, output: np.ndarray) -> np.ndarray:
        return (self.p1(output) >= THRESHOLD).astype(np.intp)

    def sample_loss(self, targets: np.ndarray, output: np.ndarray) -> np.ndarray:
        return binary_crossentropy(targets, self.p1(output))

    def grid(self, output: np.ndarray, size: int) -> tuple[np.ndarray, None]:
        return self.p1(output).reshape(-1, size, size).astype(np.float32), None

    def boundary_lines(self, output: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple:
        tracer = ContourTracer(xs, ys)
        p = self.p1(output).reshape(-1, len(ys), len(xs))
        return tuple(tracer.lines(p[e]) for e in range(len(p)))

    def straight_line(self, kernel: np.ndarray,
                      bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.sigmoid:  # sigmoid(w.h + b) >= 0.5 where w.h + b >= 0
            return kernel[:, :, 0], bias[:, 0]
        # softmax: p1 >= p0 where (w1 - w0).h + (b1 - b0) >= 0
        return kernel[:, :, 1] - kernel[:, :, 0], bias[:, 1] - bias[:, 0]

    def probability_histogram(self, output: np.ndarray, predicted: np.ndarray,
                              targets: np.ndarray, bins: int):
        return histograms.binary_probability_histogram(self.p1(output), predicted, targets,
                                                       bins)

    def loss_histogram(self, losses: np.ndarray, targets: np.ndarray, edges: np.ndarray):
        return histograms.binary_loss_histogram(losses, targets, edges)


class SoftmaxHead(OutputHead):
    """k > 2 classes from a softmax layer; the most probable class is predicted."""

    def __init__(self, n_classes: int) -> None:
        self.n_classes = int(n_classes)

    def proba(self, output: np.ndarray) -> np.ndarray:
        return output

    def predicted(self, output: np.ndarray) -> np.ndarray:
        return np.argmax(output, axis=-1)

    def sample_loss(self, targets: np.ndarray, output: np.ndarray) -> np.ndarray:
        return categorical_crossentropy(targets, output)

    def grid(self, output: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        proba = output.reshape(-1, size, size, output.shape[-1])
        winners = np.argmax(proba, axis=-1).astype(np.int8)
        return proba.max(axis=-1).astype(np.float32), winners

    def boundary_lines(self, output: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple:
        tracer = ContourTracer(xs, ys)
        margins = class_margins(output).reshape(-1, len(ys), len(xs), output.shape[-1])
        return tuple(joined([tracer.lines(margins[e, ..., c])
                             for c in range(margins.shape[-1])])
                     for e in range(len(margins)))

    def straight_line(self, kernel: np.ndarray, bias: np.ndarray) -> None:
        return None  # the regions of k > 2 classes meet along several lines

    def probability_histogram(self, output: np.ndarray, predicted: np.ndarray,
                              targets: np.ndarray, bins: int):
        return histograms.class_probability_histogram(output, predicted, targets, bins)

    def loss_histogram(self, losses: np.ndarray, targets: np.ndarray, edges: np.ndarray):
        return histograms.class_loss_histogram(losses, targets, edges, self.n_classes)


class NoProbabilityHead(OutputHead):
    """An output that gives no probabilities: every view that needs them raises
    ``ViewUnavailableError`` with ``reason``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def _refuse(self, *args: Any) -> Any:
        raise ViewUnavailableError(self.reason)

    @property
    def n_classes(self) -> int:  # type: ignore[override]
        return self._refuse()

    check = proba = predicted = sample_loss = grid = boundary_lines = straight_line = _refuse
    probability_histogram = loss_histogram = _refuse


def _last_activation(network: Network) -> str:
    return next((layer.activation_name for layer in reversed(network.layers)
                 if not layer.is_identity), "linear")


def output_head(network: Network, context: str) -> OutputHead:
    """The head of ``network``: ``BinaryHead`` for a sigmoid unit or a 2-unit softmax,
    ``SoftmaxHead`` for a wider softmax, else a ``NoProbabilityHead`` naming the output
    (``context`` names the run in its message)."""
    act = _last_activation(network)
    last = network.layers[-1]
    if last.units == 1 and act in SIGMOID_LIKE:
        return BinaryHead(sigmoid=True)
    if last.units == 2 and act == "softmax":
        return BinaryHead(sigmoid=False)
    if last.units > 2 and act == "softmax":
        return SoftmaxHead(last.units)
    return NoProbabilityHead(
        f"{context} ends in layer {last.name!r} with {last.units} unit(s) and activation "
        f"{act!r}; replay needs a sigmoid output unit (or a softmax layer) to give "
        "probabilities")
