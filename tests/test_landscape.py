"""The loss landscape: its plane is the PCA of the weight trajectory (checked against
scikit-learn), its loss at a grid point is a forward pass of the weights at that point
(checked against Keras), and its panel moves only the current epoch's dot."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from prebuilt_runs import small_spec, write_small_run
from sklearn.decomposition import PCA

from replay_core.errors import ViewUnavailableError
from replay_core.replay import landscape
from replay_core.replay.landscape import loss_landscape
from replay_core.replay.replayer import Replay


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("landscape") / "runs.h5"
    write_small_run(path, "small", epochs=6)
    return Replay(path, "small")


@pytest.fixture(scope="module")
def view(small_run):
    return loss_landscape(small_run, grid_size=9)


def _trajectory(replay: Replay) -> np.ndarray:
    """Every epoch's weights flattened by hand: layer by layer, kernel then bias."""
    parts = []
    for layer in replay.network.layers:
        if layer.kernel is not None:
            parts += [layer.kernel.reshape(len(layer.kernel), -1), layer.bias]
    return np.concatenate(parts, axis=1)


def test_plane_is_scikit_learns_pca_of_the_trajectory(small_run, view):
    trajectory = _trajectory(small_run)
    assert trajectory.shape == (7, 9)  # 6 epochs + the initial weights; 2*2+2 + 2*1+1
    pca = PCA(n_components=2).fit(trajectory)
    assert_allclose(view.centre, pca.mean_, atol=1e-12)
    # A principal direction is defined up to its sign.
    for k in range(2):
        sign = np.sign(view.directions[k] @ pca.components_[k])
        assert_allclose(view.directions[k], sign * pca.components_[k], atol=1e-8)
    assert_allclose(view.variance_ratio, pca.explained_variance_ratio_, rtol=1e-8)
    assert_allclose(view.path, (trajectory - pca.mean_) @ view.directions.T, atol=1e-12)
    assert 0.0 < view.variance_kept <= 1.0


def test_loss_at_grid_points_is_a_keras_forward_pass(small_run, view):
    import keras

    from replay_core.train.model_builder import build_model

    spec = small_spec(6)
    model = build_model(spec.model, 2, spec.training.seed)
    X = small_run.inputs.astype(np.float32)
    y = small_run.targets.astype(np.float32)[:, None]
    for i, j in [(0, 0), (4, 4), (8, 2), (3, 7)]:
        w = view.centre + view.xs[j] * view.directions[0] + view.ys[i] * view.directions[1]
        model.set_weights([w[0:4].reshape(2, 2), w[4:6], w[6:8].reshape(2, 1), w[8:9]])
        expected = float(keras.ops.mean(keras.losses.binary_crossentropy(y, model(X))))
        assert view.loss[i, j] == pytest.approx(expected, rel=2e-5, abs=1e-6)


def test_path_loss_is_each_epochs_own_loss(small_run, view):
    assert_allclose(view.path_loss, small_run.loss_and_metric().loss, rtol=1e-12)
    # The grid spans the path with a margin on every side, the same extent both ways.
    assert view.xlim[0] < view.path[:, 0].min() and view.path[:, 0].max() < view.xlim[1]
    assert view.ylim[0] < view.path[:, 1].min() and view.path[:, 1].max() < view.ylim[1]
    assert view.xlim[1] - view.xlim[0] == pytest.approx(view.ylim[1] - view.ylim[0])
    assert np.all(np.diff(view.levels) > 0)


def _synthetic(n_states: int, n_classes: int = 2, seed: int = 0) -> Replay:
    rng = np.random.default_rng(seed)
    units = 1 if n_classes == 2 else n_classes
    weights = [[rng.normal(size=(n_states, 2, 3)), rng.normal(size=(n_states, 3))],
               [rng.normal(size=(n_states, 3, units)), rng.normal(size=(n_states, units))]]
    X = rng.normal(size=(60, 2))
    y = rng.integers(0, n_classes, 60)
    out = "sigmoid" if units == 1 else "softmax"
    return Replay.from_arrays(weights, ["tanh", out], X, y, ["hidden", "output"])


def test_softmax_landscape_is_categorical_cross_entropy():
    import keras

    replay = _synthetic(5, n_classes=3)
    view = loss_landscape(replay, grid_size=5)
    assert view.loss_name == "categorical cross-entropy"
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="tanh"),
                              keras.layers.Dense(3, activation="softmax")])
    w = view.weights_at(view.xs[1], view.ys[3])
    model.set_weights([w[:6].reshape(2, 3), w[6:9], w[9:18].reshape(3, 3), w[18:21]])
    expected = float(keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
        replay.targets, model(replay.inputs.astype(np.float32)))))
    assert view.loss[3, 1] == pytest.approx(expected, rel=2e-5)


def test_one_epoch_has_a_line_not_a_plane():
    view = loss_landscape(_synthetic(2), grid_size=5)
    assert view.variance_ratio[0] == pytest.approx(1.0)
    assert view.variance_ratio[1] == 0.0
    assert_allclose(view.directions @ view.directions.T, np.eye(2), atol=1e-12)
    assert view.loss.shape == (5, 5) and np.isfinite(view.loss).all()


def test_no_finished_epoch_has_no_landscape():
    with pytest.raises(ViewUnavailableError, match="no finished epoch"):
        loss_landscape(_synthetic(1))


def test_large_runs_get_a_coarser_grid_then_fewer_samples(monkeypatch):
    replay = _synthetic(4)
    monkeypatch.setattr(landscape, "WORK_BUDGET", 21 * 21 * 60 * 13)
    assert loss_landscape(replay).loss.shape == (21, 21)
    monkeypatch.setattr(landscape, "WORK_BUDGET", 11 * 11 * 30 * 13)
    monkeypatch.setattr(landscape, "MIN_SAMPLES", 10)
    view = loss_landscape(replay)
    assert view.loss.shape == (11, 11) and view.samples_used == 30


def test_panel_moves_only_the_dot(view):
    from replay_core.render.landscape import LandscapeRenderer

    strip = LandscapeRenderer([view, view], size=(800, 300))
    first, last = strip.rgb(0), strip.rgb(6)
    assert first.shape == (300, 800, 3)
    changed = np.argwhere((first != last).any(axis=-1))
    assert len(changed) > 0
    # Only pixels near the two dots and their labels change; the contours stay.
    assert len(changed) < 0.05 * first.shape[0] * first.shape[1]
    assert np.array_equal(strip.rgb(0), first)


def test_frame_and_export_draw_the_landscape_panel(small_run, tmp_path):
    from PIL import Image

    from replay_core.render.export import export_frame, parse_panels
    from replay_core.render.frame import PANELS, FrameRenderer
    from replay_core.replay.landscape import with_landscape

    views = with_landscape(small_run.views(), small_run, grid_size=9)
    renderer = FrameRenderer(views, size=(1280, 720), panels=PANELS)
    renderer.rgb(2)
    dot = renderer.artists["landscape"].dot
    assert_allclose(np.column_stack(dot.get_data()), views.landscape.path[2:3])
    panels = parse_panels("feature_space,landscape")
    out = export_frame(views, tmp_path / "f.png", epoch=3, size=(960, 540), panels=panels)
    assert Image.open(out).size == (960, 540)
    # Views without a landscape get a panel that says so instead of failing.
    plain = FrameRenderer(small_run.views(), size=(640, 360), panels=("landscape",))
    assert "landscape" not in plain.artists and plain.rgb(1).std() > 0


def test_cli_exports_the_landscape_panel(small_run, tmp_path):
    from PIL import Image

    from replay_core.cli import main

    out = tmp_path / "landscape.png"
    assert main(["export", small_run.filename, "--run", "small", "--out", str(out),
                 "--views", "landscape,loss_and_metric", "--epoch", "2",
                 "--size", "800x400"]) == 0
    image = np.asarray(Image.open(out).convert("RGB"), float)
    assert image.shape == (400, 800, 3) and image.std() > 10
