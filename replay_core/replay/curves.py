"""The loss and metric curves: cross-entropy and accuracy of every epoch's weights.

Computed from the replayed network on all the data (not the training loop's running
averages), so the curves agree with the other views at every epoch.

Example
-------
>>> import numpy as np
>>> from replay_core.replay.heads import BinaryHead
>>> head = BinaryHead(sigmoid=True)
>>> out = np.array([[[0.9], [0.2]], [[0.4], [0.3]]])   # two epochs, two samples
>>> y = np.array([1.0, 0.0])
>>> view = loss_and_metric(head, head.sample_loss(y, out), head.predicted(out), y)
>>> view.accuracy.tolist()
[1.0, 0.5]
"""

from __future__ import annotations

import numpy as np

from replay_core.replay.heads import OutputHead
from replay_core.replay.views import LossAndMetricView


def loss_and_metric(head: OutputHead, losses: np.ndarray, predicted: np.ndarray,
                    targets: np.ndarray, val_output: np.ndarray | None = None,
                    val_targets: np.ndarray | None = None) -> LossAndMetricView:
    """Mean loss and accuracy per epoch, with the validation data's when given.

    Parameters
    ----------
    head : the run's output head (which loss, which predicted class).
    losses : (E+1, N) per-sample training loss; predicted : (E+1, N) predicted classes.
    targets : (N,) class indices.
    val_output : (E+1, M, units) the network's output on the validation inputs, or None;
    val_targets : (M,) their classes.
    """
    loss = losses.mean(axis=1)
    accuracy = (predicted == targets.astype(np.intp)).mean(axis=1)
    val_loss = val_accuracy = None
    if val_output is not None and val_targets is not None:
        val_loss = head.sample_loss(val_targets, val_output).mean(axis=1)
        val_accuracy = (head.predicted(val_output)
                        == val_targets.astype(np.intp)).mean(axis=1)
    return _curves(loss, accuracy, val_loss, val_accuracy)


def _curves(loss: np.ndarray, accuracy: np.ndarray, val_loss: np.ndarray | None,
            val_accuracy: np.ndarray | None) -> LossAndMetricView:
    curves = loss if val_loss is None else np.concatenate([loss, val_loss])
    finite = curves[np.isfinite(curves)]
    top = float(finite.max()) if finite.size else 0.0
    return LossAndMetricView(
        epochs=np.arange(len(loss)), loss=loss, accuracy=accuracy,
        val_loss=val_loss, val_accuracy=val_accuracy,
        loss_ylim=(0.0, top * 1.05 if top > 0 else 1.0))


def extend_loss_and_metric(view: LossAndMetricView,
                           later: LossAndMetricView) -> LossAndMetricView:
    """``view``'s curves followed by ``later``'s epochs (each epoch's mean is its own, so
    this is what ``loss_and_metric`` of all the epochs gives)."""
    def joined(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
        return None if a is None or b is None else np.concatenate([a, b])

    return _curves(joined(view.loss, later.loss), joined(view.accuracy, later.accuracy),
                   joined(view.val_loss, later.val_loss),
                   joined(view.val_accuracy, later.val_accuracy))
