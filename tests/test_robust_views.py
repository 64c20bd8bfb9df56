"""Runs that blow up stay readable, and inputs of more than 2 features get a faithful
decision boundary: the exploding-gradient and Iris presets, trained for real."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from replay_core.data import presets
from replay_core.replay.ranges import pull_inside
from replay_core.replay.replayer import OVERFLOW, Replay, overflow_note, tame_epochs


@pytest.fixture(scope="module")
def exploding(tmp_path_factory):
    from replay_core.train.trainer import train

    path = tmp_path_factory.mktemp("exploding") / "runs.h5"
    result = train(presets.get("exploding_gradient"), path, "Exploding gradient")
    assert result.status == "diverged", result
    return Replay(path, "Exploding gradient")


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    from replay_core.train.trainer import train

    # Without the preset's bottleneck: 4 input features and no plane of the network's own.
    spec = presets.get("iris").replace(**{"training.epochs": 20, "model.bottleneck": False})
    path = tmp_path_factory.mktemp("iris") / "runs.h5"
    train(spec, path, "Iris")
    return Replay(path, "Iris")


def _inside(points: np.ndarray, xlim, ylim) -> np.ndarray:
    """(E+1,) share of each epoch's points within the limits."""
    x, y = points[..., 0], points[..., 1]
    return ((x > xlim[0]) & (x < xlim[1]) & (y > ylim[0]) & (y < ylim[1])).mean(axis=1)


def test_the_exploding_preset_shows_its_samples_at_every_epoch_before_it_blew_up(exploding):
    layer = exploding.default_feature_layer()
    i = exploding.network.index(layer)
    raw = exploding.network.forward(exploding.inputs, stop=i + 1)
    peak = np.abs(raw).reshape(len(raw), -1).max(axis=1)
    assert peak.max() > OVERFLOW  # the preset does blow up within its stored epochs
    view = exploding.views().feature_space
    readable = tame_epochs(peak)
    # Every epoch whose activations are within BLOW_UP of the typical epoch's: its
    # samples lie in the panel, and they are not all squeezed into a dot.
    share = _inside(view.features, view.xlim, view.ylim)
    assert readable.sum() >= len(readable) - 3
    assert (share[readable] >= 0.9).all(), share
    width = view.xlim[1] - view.xlim[0]
    spread = np.ptp(view.features[readable][..., 0], axis=1)
    assert (spread > 0.005 * width).all()  # at least a few pixels of a 500-px panel
    # The PCA is fitted at the last readable epoch, on its own activations.
    assert view.fit_epoch == int(np.flatnonzero(readable)[-1])
    pca = PCA(2).fit(raw[view.fit_epoch])
    np.testing.assert_allclose(np.abs(view.components), np.abs(pca.components_), atol=1e-6)
    assert view.overflow_note.startswith("The network blew up at epoch")


def _on_screen(view) -> np.ndarray:
    """(E+1,) True where every sample is a finite point strictly inside the limits."""
    x, y = view.features[..., 0], view.features[..., 1]
    inside = ((x > view.xlim[0]) & (x < view.xlim[1]) & (y > view.ylim[0])
              & (y < view.ylim[1]))
    return (np.isfinite(view.features).all(axis=-1) & inside).all(axis=1)


# The Replay page asks for the PCA at the last epoch, where this run has blown up.
@pytest.mark.parametrize("projection, fit_epoch", [(None, None), ("pca", -1),
                                                   (("units", 0, 3), None)])
def test_the_exploding_preset_shows_every_sample_at_every_epoch(exploding, projection,
                                                                fit_epoch):
    view = exploding.feature_space(projection=projection, fit_epoch=fit_epoch)
    assert _on_screen(view).all(), np.flatnonzero(~_on_screen(view))
    assert np.isfinite(view.grid_lines).all()
    # The epochs that did not blow up are drawn as they are: the layer's output through
    # the frozen projection. Those that did keep each sample's direction from the panel's
    # centre, on the panel's edge.
    i = exploding.network.index(view.layer_name)
    raw = (exploding.network.forward(exploding.inputs, stop=i + 1) - view.mean) @ view.components.T
    scales = np.abs(raw).reshape(len(raw), -1).max(axis=1)
    tame = tame_epochs(scales)
    assert tame.sum() >= 10 and not tame.all()
    assert tame[view.fit_epoch] and not tame[view.fit_epoch + 1:].any()
    np.testing.assert_allclose(view.features[tame], raw[tame], rtol=1e-5, atol=1e-5)
    # ... and not squeezed into a dot: a few pixels of a 500-px panel at least.
    spread = np.ptp(view.features[tame], axis=1) / [np.ptp(view.xlim), np.ptp(view.ylim)]
    assert (spread.max(axis=1) > 0.005).all()
    centre = np.array([np.mean(view.xlim), np.mean(view.ylim)])
    away, shown = raw[~tame] - centre, view.features[~tame] - centre
    outside = (np.abs(raw[~tame][..., 0] - centre[0]) > np.ptp(view.xlim) / 2) | (
        np.abs(raw[~tame][..., 1] - centre[1]) > np.ptp(view.ylim) / 2)
    assert outside.any()
    cos = (away * shown).sum(-1) / np.linalg.norm(away, axis=-1) / np.linalg.norm(shown, axis=-1)
    np.testing.assert_allclose(cos[outside], 1.0, atol=1e-4)
    edge = np.maximum(np.abs(shown[..., 0]) / (np.ptp(view.xlim) / 2),
                      np.abs(shown[..., 1]) / (np.ptp(view.ylim) / 2))
    np.testing.assert_allclose(edge[outside], 1.0, atol=2e-3)
    assert "drawn on the edge" in view.overflow_note


def test_pull_inside_moves_only_the_points_off_the_box_at_the_chosen_epochs():
    points = np.array([[[0.5, 0.5], [3.0, 1.0]],
                       [[0.5, 0.5], [3.0, 1.0]],
                       [[np.inf, 0.0], [np.nan, 0.0]]])
    out = pull_inside(points, (-1.0, 1.0), (-1.0, 1.0), np.array([False, True, True]))
    np.testing.assert_array_equal(out[0], points[0])
    np.testing.assert_array_equal(out[1, 0], [0.5, 0.5])
    # (3, 1) leaves the box through x = 1, at a third of its height: (1, 1/3), a hair in.
    np.testing.assert_allclose(out[1, 1], [1.0, 1.0 / 3.0], rtol=2e-3)
    assert out[1, 1, 0] < 1.0
    np.testing.assert_allclose(out[2, 0], [1.0, 0.0], rtol=2e-3)
    assert np.isnan(out[2, 1, 0])  # no direction: still not drawn


def test_overflow_note_names_the_epochs_left_out():
    scales = np.array([1.0, 2.0, 1.5, 2.0, 80.0, np.inf])
    np.testing.assert_array_equal(tame_epochs(scales), [1, 1, 1, 1, 0, 0])
    assert overflow_note(scales) == ("The network blew up at epochs 4, 5 (values overflow); "
                                     "axes fit the other epochs")
    assert overflow_note(np.ones(4)) == ""


def test_iris_without_a_bottleneck_shows_five_views_with_the_boundary_on_the_inputs_pca_plane(
        iris):
    views = iris.views()
    assert views.feature_space is not None and views.decision_boundary is not None
    assert views.probability_histogram is not None and views.loss_and_metric is not None
    assert views.loss_histogram is not None
    assert views.decision_boundary_note == ""
    db = views.decision_boundary
    assert db.space == "input_pca"
    assert db.axis_labels[0].startswith("inputs' PC 1 (")
    pca = PCA(2).fit(iris.inputs)
    # Samples at their projection on the plane (signs of components are a convention).
    np.testing.assert_allclose(np.abs(db.inputs), np.abs(pca.transform(iris.inputs)),
                               atol=1e-4)
    # A grid point is the input mean + z1 PC1 + z2 PC2, predicted by the stored network.
    e, gi, gj = iris.n_epochs, 37, 61
    comps = _signed_components(db, pca, iris)
    point = pca.mean_ + db.xs[gj] * comps[0] + db.ys[gi] * comps[1]
    proba = iris.predict_proba(point[None])[e, 0]
    assert db.probabilities[e, gi, gj] == pytest.approx(proba.max(), abs=1e-5)
    assert db.winners[e, gi, gj] == int(np.argmax(proba))


def _signed_components(db, pca, replay) -> np.ndarray:
    """(2, d) scikit-learn's components with the view's signs."""
    z = pca.transform(replay.inputs)
    flip = np.sign(np.sum(z * db.inputs, axis=0))
    return flip[:, None] * pca.components_


def test_no_view_message_names_a_file(iris, exploding):
    for replay in (iris, exploding):
        views = replay.views()
        for note in (views.feature_space_note, views.decision_boundary_note):
            assert ".h5" not in note
