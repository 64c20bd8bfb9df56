"""Every preset shows what it is named for, checked on its recorded run.

Each preset is trained once by the app's fast trainer into one run file, then read back
as the app reads it (``read_run`` for the stored logs, ``Replay`` for the replayed
weights). A preset that stops showing its lesson (after a Keras upgrade, say) is fixed in
the preset (seed, epochs, learning rate), not here.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from replay_core.data import presets
from replay_core.replay.compare import key_figures
from replay_core.replay.replayer import Replay
from replay_core.store.runfile import RunData, read_run

pytest.importorskip("keras")

REFERENCE = {"sigmoid": "reference", "tanh": "reference_tanh", "relu": "reference_relu"}
SEED42 = {"sigmoid": "reference_seed42", "tanh": "reference_tanh_seed42",
          "relu": "reference_relu_seed42"}


class TrainedPresets:
    """Presets trained on demand, each once, into one run file named after the preset."""

    def __init__(self, path) -> None:
        self.path = path
        self.done: set[str] = set()

    def run(self, name: str) -> RunData:
        from replay_core.train.trainer import DEFAULT_MAX_COST, train

        if name not in self.done:
            train(presets.get(name), self.path, name, max_budget=DEFAULT_MAX_COST)
            self.done.add(name)
        return read_run(self.path, name)

    def replay(self, name: str) -> Replay:
        self.run(name)
        return Replay(self.path, name)

    def first_perfect(self, name: str) -> int | None:
        """First epoch at 100 % training accuracy (replayed weights), None when never."""
        return key_figures(self.replay(name))["first_perfect_epoch"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> TrainedPresets:
    return TrainedPresets(tmp_path_factory.mktemp("presets") / "runs.h5")


def _stated_percentages(name: str) -> list[float]:
    """The "over N %" figures a preset's description promises, as fractions."""
    return [int(n) / 100 for n in re.findall(r"over (\d+) %", presets.PRESETS[name].description)]


# --------------------------------------------------------------------------- the article


def test_reference_runs_reach_100_percent_relu_then_tanh_then_sigmoid(trained):
    first = {activation: trained.first_perfect(name) for activation, name in REFERENCE.items()}
    epochs = presets.get("reference").training.epochs
    assert None not in first.values(), first
    assert first["relu"] < first["tanh"] < first["sigmoid"] <= epochs == 150, first
    for name in REFERENCE.values():
        run = trained.run(name)
        assert (run.status, run.epochs_done) == ("complete", epochs)
        assert run.spec["training"]["seed"] == presets.REFERENCE_SEED
    # The app shows the recorded sweep's figures for this seed: they are these runs'.
    recorded = dict(zip(presets.REFERENCE_ACTIVATIONS,
                        presets.REFERENCE_SWEEP[presets.REFERENCE_SEED]))
    for activation, epoch in first.items():
        assert abs(epoch - recorded[activation]) <= 3, (first, recorded)


@pytest.mark.slow
def test_with_the_article_seed_relu_never_classifies_every_sample(trained):
    assert trained.first_perfect(SEED42["relu"]) is None
    relu = trained.replay(SEED42["relu"])
    assert 0.6 < relu.loss_and_metric().accuracy[-1] < 0.8  # "about 75 %"
    # Both hidden units are positive on every sample: the relu network is linear.
    run = trained.run(SEED42["relu"])
    kernel, bias = run.weights[0][0][-1], run.weights[0][1][-1]
    assert run.layer_names[0] == "hidden"
    assert (run.inputs @ kernel + bias > 0).all()
    # Sigmoid and tanh still get there, tanh first.
    sigmoid, tanh = trained.first_perfect(SEED42["sigmoid"]), trained.first_perfect(SEED42["tanh"])
    assert sigmoid is not None and tanh is not None
    assert tanh < sigmoid <= 150


# --------------------------------------------------------------------------- the notebook


def test_exploding_gradient_diverges(trained):
    run = trained.run("exploding_gradient")
    assert run.status == "diverged"
    assert run.epochs_done < presets.get("exploding_gradient").training.epochs
    assert "nan" in run.message.lower() or "inf" in run.message.lower()


def test_momentum_reaches_a_lower_loss_than_plain_sgd_by_the_same_epoch(trained):
    with_m = trained.run("with_momentum").logs["loss"]
    without = trained.run("without_momentum").logs["loss"]
    assert len(with_m) == len(without) == 150
    # Faster: lower by a third of the way and at the end, by a wide margin.
    for epoch in (50, 150):
        assert with_m[epoch - 1] < 0.5 * without[epoch - 1], (epoch, with_m[epoch - 1],
                                                              without[epoch - 1])


def test_the_plateau_preset_halves_its_learning_rate(trained):
    spec = presets.get("notebook_default")
    run = trained.run("notebook_default")
    assert run.status == "complete"
    lr = run.logs["lr"]
    assert lr[0] == pytest.approx(spec.training.learning_rate)
    drops = np.flatnonzero(np.diff(lr) < 0)
    assert drops.size >= 1, "the learning rate never decreased"
    first = drops[0]
    assert lr[first + 1] == pytest.approx(lr[first] * spec.training.reduce_lr.factor)
    # It drops after a plateau: no sooner than the patience allows.
    assert first + 1 >= spec.training.reduce_lr.patience


@pytest.mark.slow
def test_overfitting_validation_loss_turns_while_training_loss_keeps_falling(trained):
    run = trained.run("overfitting")
    loss, val = run.logs["loss"], run.logs["val_loss"]
    n = len(val)
    assert run.status == "complete" and n == 500
    best = int(np.argmin(val))
    assert best < n // 4, f"validation loss is lowest at epoch {best + 1} of {n}"
    # Rising after its minimum: the last fifth lies well above it ...
    tail = slice(4 * n // 5, n)
    assert np.median(val[tail]) > 2 * val[best]
    # ... while the training loss is lower than where validation was best, and still falls.
    assert np.median(loss[tail]) < 0.6 * loss[best]
    assert np.median(loss[tail]) < np.median(loss[3 * n // 5:4 * n // 5])


# --------------------------------------------------------------------------- more classes


@pytest.mark.slow
def test_spiral3_learns_every_arm_to_its_stated_accuracy(trained):
    (stated,) = _stated_percentages("spiral3")
    replay = trained.replay("spiral3")
    accuracy = replay.loss_and_metric().accuracy
    assert accuracy[0] < 0.5 and accuracy[-1] >= stated
    counts = replay.confusion().counts[-1]
    assert counts.shape == (3, 3)
    assert (np.diag(counts) / counts.sum(axis=1)).min() >= stated  # every arm


def test_iris_reaches_its_stated_training_and_validation_accuracy(trained):
    train_stated, val_stated = _stated_percentages("iris")
    assert train_stated >= 0.97  # "100 % or near": at most 3 of the 120 training flowers
    lm = trained.replay("iris").loss_and_metric()
    assert lm.val_accuracy is not None
    assert lm.accuracy[-1] >= train_stated
    assert lm.val_accuracy[-1] >= val_stated


def test_iris_shows_its_species_in_the_bottleneck_plane(trained):
    run = trained.run("iris")
    replay = trained.replay("iris")
    # a 2-unit layer right before the softmax, stored as such
    names = [layer["name"] for layer in run.spec["model"]["layers"]]
    assert run.spec["model"]["bottleneck"] is True and "hidden" in names
    kernel = run.weights[-2][0]  # the bottleneck's kernel, every epoch
    assert kernel.shape == (presets.get("iris").training.epochs + 1, 8, 2)
    # the five views: feature space and decision boundary both in the bottleneck's plane
    views = replay.views()
    assert views.feature_space is not None and views.feature_space.layer_name == "bottleneck"
    assert np.isfinite(views.feature_space.features).all()
    boundary = views.decision_boundary
    assert boundary is not None and boundary.space == "latent" and boundary.n_classes == 3
    assert views.probability_histogram is not None and views.loss_histogram is not None
    assert views.loss_and_metric.accuracy.shape == (presets.get("iris").training.epochs + 1,)
    # the species' regions in the plane classify the flowers' bottleneck points as well as
    # the stated accuracy
    final = boundary.winners[-1]
    ix = np.clip(np.searchsorted(boundary.xs, views.feature_space.features[-1, :, 0]), 0,
                 len(boundary.xs) - 1)
    iy = np.clip(np.searchsorted(boundary.ys, views.feature_space.features[-1, :, 1]), 0,
                 len(boundary.ys) - 1)
    agree = final[iy, ix] == views.feature_space.targets
    assert agree.mean() >= _stated_percentages("iris")[0] - 0.05  # grid cells, not points
