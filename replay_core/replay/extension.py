"""A replay extended by the epochs a training has recorded since: a run that trains is
replayed without recomputing its past epochs.

``Replay.extended`` and ``Replay.views`` call these with the replays involved (this
module reads and sets their per-epoch arrays, as the class's own methods would): the
network's outputs and the views kept from the last ``views(keep=True)`` are taken over,
and only the new epochs go through the network. The result is the arrays a full build
gives (tests/test_live_views.py compares every field).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from replay_core.replay import confusion as confusion_view
from replay_core.replay import curves, histograms
from replay_core.replay import decision_boundary as boundaries
from replay_core.replay import feature_space as features
from replay_core.replay import views as v
from replay_core.replay.epoch_arrays import EpochArrays

if TYPE_CHECKING:
    from replay_core.replay.replayer import Replay

__all__ = ["continues", "extend_views", "take_over"]


def extend_views(self: Replay, n0: int, old: v.ReplayViews, old_scales: np.ndarray | None,
                  layer, projection, fit_epoch
                  ) -> tuple[v.ReplayViews, np.ndarray | None]:
    """The views of this run from ``old``, the same views of its first ``n0`` weight
    states: only the later states go through the network. What spans every epoch is
    recomputed from the kept per-epoch arrays: the loss histogram's edges (a
    percentile of every sample's loss at every epoch), the curves' limits, the events.
    A feature space whose axes or projection the new epochs move, or a latent space,
    is built in full.
    """
    later = features.later_states(self.network, n0)
    feature_space, scales = old.feature_space, old_scales
    if old.feature_space is not None or old.feature_space_note == "":
        feature_space, scales = self._feature_space(
            layer, projection=projection, fit_epoch=fit_epoch,
            earlier=(old.feature_space, old_scales))
    boundary = old.decision_boundary
    if boundary is not None:
        boundary = (boundaries.extend_decision_boundary(boundary, later, self.head,
                                                        self.inputs, self._grown.join)
                    or self.decision_boundary())
    out, predicted = self._train_output[n0:], self._train_predicted[n0:]
    val_output = None if self._val_output is None else self._val_output[n0:]
    loss_and_metric = curves.extend_loss_and_metric(
        old.loss_and_metric,
        curves.loss_and_metric(self.head, self._train_sample_loss[n0:], predicted,
                               self.targets, val_output, self.val_targets))
    probability_histogram = histograms.extend_counts(
        old.probability_histogram,
        self.head.probability_histogram(out, predicted, self.targets,
                                        len(old.probability_histogram.bin_edges) - 1))
    confusion = replace(old.confusion, counts=np.concatenate([
        old.confusion.counts,
        confusion_view.confusion(predicted, self.targets, self.n_classes).counts]))
    return replace(
        old, n_epochs=self.n_epochs, feature_space=feature_space,
        decision_boundary=boundary, probability_histogram=probability_histogram,
        loss_and_metric=loss_and_metric, loss_histogram=self.loss_histogram(),
        confusion=confusion, events=self.events(loss_and_metric)), scales


def continues(self: Replay, old: Replay) -> bool:
    """True when this replay is ``old``'s run with as many epochs or more."""
    def same(a, b) -> bool:
        return (a is None) == (b is None) and (a is None or np.array_equal(a, b))

    n0 = old.network.n_states
    return (self.name == old.name and self.layer_names == old.layer_names
            and self.activation_config == old.activation_config
            and self.network.n_states >= n0 and type(self.head) is type(old.head)
            and self.class_names == old.class_names
            and same(self.inputs, old.inputs) and same(self.targets, old.targets)
            and same(self.val_inputs, old.val_inputs)
            and same(self.val_targets, old.val_targets)
            and all(same(None if a is None else a[:n0], b)
                    for new, was in zip(self.network.layers, old.network.layers)
                    for a, b in ((new.kernel, was.kernel), (new.bias, was.bias))))

def take_over(self: Replay, old: Replay) -> None:
    """Keep ``old``'s per-epoch arrays, with the new epochs' appended."""
    n0 = old.network.n_states
    if n0 == self.network.n_states:  # no new epoch: the status or logs may differ
        return
    later = features.later_states(self.network, n0)
    kept = old.__dict__
    # The old replay's growing arrays become this one's: a second extension of the
    # old one copies instead of writing where this one's new epochs are.
    self._grown, old._grown = old._grown, EpochArrays()
    join = self._grown.join
    if "_train_output" in kept:
        tail = later.forward(self.inputs)
        self._train_output = join(kept["_train_output"], tail)
        if "_train_predicted" in kept:
            self._train_predicted = join(kept["_train_predicted"],
                                         self.head.predicted(tail))
        if "_train_sample_loss" in kept:
            self._train_sample_loss = join(kept["_train_sample_loss"],
                                           self.head.sample_loss(self.targets, tail))
    if kept.get("_val_output") is not None:
        self._val_output = join(kept["_val_output"], later.forward(self.val_inputs))
    self._scales = {i: np.concatenate([s, features.layer_scales(later, self.inputs, i)])
                    for i, s in old._scales.items()}
    self._earlier = (n0, dict(old._kept))
