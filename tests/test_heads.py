"""The output head holds the two-class / k-class difference: a 2-unit softmax replays as
the sigmoid unit it equals, k-class losses match scikit-learn's, and an output without
probabilities says why in every view that needs them."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss

from replay_core.errors import ViewUnavailableError
from replay_core.replay.heads import BinaryHead, NoProbabilityHead, SoftmaxHead, output_head
from replay_core.replay.replayer import Replay

STATES = 4


@pytest.fixture(scope="module")
def twins():
    """A sigmoid unit and the 2-unit softmax whose logits are (0, z): the same classifier."""
    rng = np.random.default_rng(5)
    hidden = [rng.normal(0, 0.8, size=(STATES, 2, 2)), rng.normal(0, 0.3, size=(STATES, 2))]
    w, b = rng.normal(size=(STATES, 2, 1)), rng.normal(size=(STATES, 1))
    X = rng.normal(size=(80, 2))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int)
    sigmoid = Replay.from_arrays([hidden, [w, b]], ["tanh", "sigmoid"], X, y)
    softmax = Replay.from_arrays(
        [hidden, [np.concatenate([np.zeros_like(w), w], axis=2),
                  np.concatenate([np.zeros_like(b), b], axis=1)]],
        ["tanh", "softmax"], X, y)
    return sigmoid, softmax


def test_a_two_unit_softmax_replays_as_the_sigmoid_unit_it_equals(twins):
    sigmoid, softmax = twins
    assert isinstance(sigmoid.head, BinaryHead) and isinstance(softmax.head, BinaryHead)
    assert sigmoid.n_classes == softmax.n_classes == 2
    np.testing.assert_allclose(softmax.predict_proba()[..., 1], sigmoid.predict_proba(),
                               rtol=1e-12)
    a, b = sigmoid.views(), softmax.views()
    np.testing.assert_allclose(a.loss_and_metric.loss, b.loss_and_metric.loss, rtol=1e-9)
    np.testing.assert_array_equal(a.loss_and_metric.accuracy, b.loss_and_metric.accuracy)
    for name in ("negatives_correct", "negatives_wrong", "positives_correct",
                 "positives_wrong"):
        np.testing.assert_array_equal(getattr(a.probability_histogram, name),
                                      getattr(b.probability_histogram, name))
    np.testing.assert_array_equal(a.confusion.counts, b.confusion.counts)
    np.testing.assert_allclose(a.decision_boundary.probabilities,
                               b.decision_boundary.probabilities, atol=1e-6)
    assert b.decision_boundary.winners is None
    # The feature space's boundary is the same straight line for both.
    for e in range(STATES):
        np.testing.assert_allclose(a.feature_space.boundary[e], b.feature_space.boundary[e],
                                   atol=1e-9)
    # ... where the output's probability is 0.5.
    i = sigmoid.network.index(a.feature_space.layer_name)
    ends = a.feature_space.boundary[-1]
    p = sigmoid.network.forward(ends, start=i + 1)[-1, :, 0]
    np.testing.assert_allclose(p, 0.5, atol=1e-9)


def test_k_class_losses_and_predictions_match_scikit_learn():
    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(60, 2)), rng.integers(0, 3, 60)
    # Moderate weights: no probability below Keras' clipping epsilon, which scikit-learn
    # does not apply.
    replay = Replay.from_arrays([[rng.normal(0, 0.5, size=(STATES, 2, 4)), np.zeros((STATES, 4))],
                                 [rng.normal(0, 0.5, size=(STATES, 4, 3)), np.zeros((STATES, 3))]],
                                ["relu", "softmax"], X, y)
    assert replay.predict_proba().min() > 1e-6
    assert isinstance(replay.head, SoftmaxHead) and replay.n_classes == 3
    proba = replay.predict_proba()
    curves = replay.loss_and_metric()
    for e in range(STATES):
        assert curves.loss[e] == pytest.approx(log_loss(y, proba[e], labels=[0, 1, 2]),
                                               rel=1e-9)
        assert curves.accuracy[e] == pytest.approx(np.mean(np.argmax(proba[e], 1) == y))
    counts = replay.confusion().counts
    assert counts.shape == (STATES, 3, 3) and (counts.sum(axis=(1, 2)) == len(y)).all()


def test_an_output_without_probabilities_says_why_in_every_view():
    rng = np.random.default_rng(2)
    replay = Replay.from_arrays([[rng.normal(size=(STATES, 2, 2)), np.zeros((STATES, 2))],
                                 [rng.normal(size=(STATES, 2, 1)), np.zeros((STATES, 1))]],
                                ["tanh", "linear"], rng.normal(size=(30, 2)),
                                rng.integers(0, 2, 30), name="plain")
    assert isinstance(replay.head, NoProbabilityHead)
    assert replay.layer_outputs(0).shape == (STATES, 30, 2)  # no probability needed
    for view in (replay.predict_proba, replay.probability_histogram, replay.loss_histogram,
                 replay.loss_and_metric, replay.confusion, replay.decision_boundary,
                 replay.views):
        with pytest.raises(ViewUnavailableError, match="ends in layer 'layer1' with 1 unit"):
            view()
    one_unit = Replay.from_arrays([[np.ones((STATES, 2, 1)), np.zeros((STATES, 1))]],
                                  ["softmax"], np.ones((3, 2)), [0, 1, 0]).network
    assert isinstance(output_head(one_unit, "run 'x'"), NoProbabilityHead)
