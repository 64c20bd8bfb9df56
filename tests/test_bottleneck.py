"""The 2-unit linear bottleneck: spec field, model, and the latent-space views of a real
run on a 5-feature dataset, checked against Keras."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from replay_core.data import presets
from replay_core.data.spec import ModelSpec, RunSpec
from replay_core.replay.replayer import Replay
from replay_core.store import runfile
from replay_core.train.model_builder import build_model

EPOCHS = 4


def test_spec_field_round_trips_and_old_specs_load():
    spec = RunSpec().replace(**{"model.bottleneck": True})
    assert spec.model.bottleneck is True
    assert RunSpec.from_json(spec.to_json()) == spec
    old = json.loads(RunSpec().to_json())
    del old["model"]["bottleneck"]
    assert RunSpec.from_dict(old) == RunSpec() and RunSpec().model.bottleneck is False
    with pytest.raises(ValueError, match="model.bottleneck must be true or false, got 'yes'"):
        RunSpec.from_dict({"model": {"bottleneck": "yes"}})
    with pytest.raises(ValueError, match="repeated names"):
        ModelSpec(layers=({"units": 4, "name": "bottleneck"},), bottleneck=True)


def test_model_has_the_linear_bottleneck_before_the_output():
    model_spec = ModelSpec(layers=({"units": 8, "activation": "relu"},), bottleneck=True)
    model = build_model(model_spec, input_dim=5, seed=1)
    names = [layer.name for layer in model.layers]
    assert names == model_spec.layer_names() == ["dense_1", "bottleneck", "output"]
    bottleneck = model.get_layer("bottleneck")
    assert bottleneck.units == 2 and bottleneck.activation is keras.activations.linear
    assert model_spec.n_params(5) == model.count_params() == 5 * 8 + 8 + 8 * 2 + 2 + 2 + 1
    assert model_spec.describe(5) == "5 → 8 relu → 2 linear bottleneck → 1 sigmoid"
    plain = ModelSpec(layers=({"units": 8, "activation": "relu"},))
    assert plain.n_params(5) == build_model(plain, 5, seed=1).count_params()


@pytest.fixture(scope="module")
def ball_runs(tmp_path_factory):
    from replay_core.train.trainer import train

    base = presets.get("reference").replace(**{
        "dataset.name": "ball", "dataset.params": {"n_samples": 200, "dims": 5},
        "model.layers": [{"units": 8, "activation": "tanh"}], "training.epochs": EPOCHS,
        "training.optimizer": "adam", "training.learning_rate": 0.05})
    path = tmp_path_factory.mktemp("bottleneck") / "runs.h5"
    specs = {"with": base.replace(**{"model.bottleneck": True}), "without": base}
    for name, spec in specs.items():
        train(spec, path, name)
    return path, specs


def _keras_model(path, spec, name, epoch):
    run = runfile.read_run(path, name)
    model = build_model(spec.model, run.inputs.shape[1], seed=0)
    for layer, arrays in zip(model.layers, run.weights):
        if arrays:
            layer.set_weights([a[epoch] for a in arrays])
    return model, run


def test_latent_space_views_match_keras(ball_runs):
    path, specs = ball_runs
    replay = Replay(path, "with")
    views = replay.views()
    fs, db = views.feature_space, views.decision_boundary
    assert fs.layer_name == "bottleneck" and fs.projection_label == "" and fs.boundary_note == ""
    assert db is not None and db.space == "latent" and db.latent_layer == "bottleneck"
    assert views.decision_boundary_note == ""
    gx, gy = np.meshgrid(db.xs, db.ys)
    grid = np.c_[gx.ravel(), gy.ravel()].astype(np.float32)
    drawn = 0
    for epoch in range(EPOCHS + 1):
        model, run = _keras_model(path, specs["with"], "with", epoch)
        encoder = keras.Model(model.inputs[0], model.get_layer("bottleneck").output)
        latent = np.asarray(encoder(run.inputs.astype(np.float32)))
        np.testing.assert_allclose(fs.features[epoch], latent, atol=1e-4)
        np.testing.assert_allclose(db.sample_positions[epoch], latent, atol=1e-4)
        decoder = model.get_layer("output")
        p = np.asarray(decoder(grid))[:, 0].reshape(db.probabilities[epoch].shape)
        np.testing.assert_allclose(db.probabilities[epoch], p, atol=1e-5)
        # The decoder's boundary is the straight line of the feature-space panel.
        segment = fs.boundary[epoch]
        if len(segment):
            at_line = np.asarray(decoder(segment.astype(np.float32)))[:, 0]
            np.testing.assert_allclose(at_line, 0.5, atol=1e-5)
            drawn += 1
    assert drawn > 0


def test_without_bottleneck_a_five_feature_run_shows_the_inputs_pca_plane(ball_runs):
    path, _ = ball_runs
    views = Replay(path, "without").views()
    assert views.decision_boundary is not None and views.decision_boundary_note == ""
    assert views.decision_boundary.space == "input_pca"
    assert views.decision_boundary.inputs.shape[1] == 2
    fs = views.feature_space
    assert fs.layer_name == "dense_1" and fs.projection == "pca" and fs.n_units == 8


def test_latent_panel_is_titled_as_latent_space(ball_runs):
    from replay_core.render.frame import FrameRenderer

    path, _ = ball_runs
    renderer = FrameRenderer(Replay(path, "with").views(), size=(1180, 560))
    ax = renderer.axes["decision_boundary"]
    assert ax.get_title() == "Decision boundary in latent space (bottleneck)"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("latent 1", "latent 2")
    first, last = renderer.rgb(0), renderer.rgb(EPOCHS)
    assert first.shape == (560, 1180, 3) and not np.array_equal(first, last)

    from replay_core.render.compare import CompareRenderer

    both = {"with": Replay(path, "with").views(), "without": Replay(path, "without").views()}
    compare = CompareRenderer(both, size=(1000, 600))
    titles = [ax.get_title() for ax in compare.axes["decision_boundary"]]
    assert titles[0] == "with: decision boundary in latent space"


def test_three_class_latent_space_matches_the_keras_decoder(tmp_path):
    from replay_core.train.trainer import train

    spec = presets.get("reference").replace(**{
        "dataset.name": "iris", "dataset.params": {}, "dataset.standardize": True,
        "model.layers": [{"units": 6, "activation": "tanh"}], "model.bottleneck": True,
        "training.epochs": EPOCHS, "training.optimizer": "adam",
        "training.learning_rate": 0.05})
    path = tmp_path / "runs.h5"
    train(spec, path, "iris")
    db = Replay(path, "iris").decision_boundary(grid_size=30)
    assert db.space == "latent" and db.n_classes == 3
    gx, gy = np.meshgrid(db.xs, db.ys)
    grid = np.c_[gx.ravel(), gy.ravel()].astype(np.float32)
    run = runfile.read_run(path, "iris")
    model = build_model(spec.model, 4, seed=0, n_classes=3)
    for epoch in (0, EPOCHS):
        for layer, arrays in zip(model.layers, run.weights):
            if arrays:
                layer.set_weights([a[epoch] for a in arrays])
        proba = np.asarray(model.get_layer("output")(grid)).reshape(30, 30, 3)
        top2 = np.sort(proba, axis=-1)[..., -2:]
        clear = top2[..., 1] - top2[..., 0] > 1e-5  # float32 Keras vs float64 replay
        np.testing.assert_array_equal(db.winners[epoch][clear], proba.argmax(axis=-1)[clear])
        np.testing.assert_allclose(db.probabilities[epoch], proba.max(axis=-1), atol=1e-5)
