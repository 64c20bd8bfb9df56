"""Per-unit maps of a layer over the input space: values against Keras on a real run."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from replay_core.data import presets
from replay_core.data.spec import RunSpec
from replay_core.errors import ViewUnavailableError
from replay_core.render.units import UnitStripRenderer, unit_colours
from replay_core.replay.replayer import Replay
from replay_core.store import runfile
from replay_core.train.model_builder import build_model

EPOCHS = 3


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from replay_core.train.trainer import train

    spec = presets.get("reference").replace(**{
        "dataset.name": "moons", "dataset.params": {"n_samples": 120, "noise": 0.1},
        "model.layers": [{"units": 6, "activation": "tanh"}, {"units": 3, "activation": "relu"}],
        "training.epochs": EPOCHS, "training.optimizer": "adam",
        "training.learning_rate": 0.05})
    path = tmp_path_factory.mktemp("units") / "runs.h5"
    train(spec, path, "units")
    return path, spec


def _keras_layer_output(path, spec: RunSpec, layer: str, epoch: int, points: np.ndarray):
    """The layer's output for ``points`` with the stored weights of ``epoch``, by Keras."""
    run = runfile.read_run(path, "units")
    model = build_model(spec.model, 2, seed=0)
    for keras_layer, arrays in zip(model.layers, run.weights):
        if arrays:
            keras_layer.set_weights([a[epoch] for a in arrays])
    probe = keras.Model(model.inputs[0], model.get_layer(layer).output)
    return np.asarray(probe(points.astype(np.float32)))


@pytest.mark.parametrize("layer", ["dense_1", "dense_2"])
def test_unit_maps_equal_keras_layer_outputs(trained, layer):
    path, spec = trained
    view = Replay(path, "units").unit_maps(layer, grid_size=12)
    n_units = {"dense_1": 6, "dense_2": 3}[layer]
    assert view.activations.shape == (EPOCHS + 1, n_units, 12, 12)
    gx, gy = np.meshgrid(view.xs, view.ys)
    points = np.c_[gx.ravel(), gy.ravel()]
    for epoch in range(EPOCHS + 1):
        expected = _keras_layer_output(path, spec, layer, epoch, points)
        got = view.activations[epoch].reshape(n_units, -1).T
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_unit_map_colour_range_and_grid(trained):
    path, _ = trained
    replay = Replay(path, "units")
    view = replay.unit_maps("dense_1", grid_size=10)
    assert (view.vmin, view.vmax) == (-1.0, 1.0)  # tanh's own range
    pad = 0.1 * np.ptp(replay.inputs[:, 0])
    assert view.xs[0] == pytest.approx(replay.inputs[:, 0].min() - pad)
    assert view.xs[-1] == pytest.approx(replay.inputs[:, 0].max() + pad)
    relu = replay.unit_maps("dense_2", grid_size=10)
    # relu is unbounded: the range is the outputs' own, starting at relu's 0
    assert relu.vmin == pytest.approx(float(relu.activations.min()))
    assert 0 < relu.vmax <= float(relu.activations.max()) + 1e-6
    white, orange, blue = unit_colours(np.array([0.0, -1.0, 1.0]), -1.0, 1.0)
    assert min(white[:3]) >= 250
    assert orange[0] > orange[2] and blue[2] > blue[0]
    zero, top = unit_colours(np.array([0.0, 5.0]), 0.0, 5.0)  # relu: white up to blue
    np.testing.assert_array_equal(zero, white)
    np.testing.assert_array_equal(top, blue)


def test_strip_frame_shows_every_unit(trained):
    path, _ = trained
    view = Replay(path, "units").unit_maps("dense_1", grid_size=10)
    strip = UnitStripRenderer(view, width=800)
    frame = strip.rgb(EPOCHS)
    assert frame.shape == (strip.size[1], 800, 3)
    assert len(strip.images) == 6
    for u, image in enumerate(strip.images):
        np.testing.assert_array_equal(image.get_array(),
                                      unit_colours(view.activations[EPOCHS, u], -1.0, 1.0))
    assert not np.array_equal(strip.rgb(0), frame)


def test_unit_maps_need_two_dimensional_inputs():
    rng = np.random.default_rng(0)
    w = [[rng.normal(size=(2, 3, 4)), np.zeros((2, 4))], [rng.normal(size=(2, 4, 1)),
                                                          np.zeros((2, 1))]]
    replay = Replay.from_arrays(w, ["relu", "sigmoid"], rng.normal(size=(20, 3)),
                                rng.integers(0, 2, 20), name="three")
    with pytest.raises(ViewUnavailableError, match="run 'three' has 3 input features; unit maps"):
        replay.unit_maps()


def test_long_runs_of_wide_layers_get_coarser_maps():
    from replay_core.replay.replayer import UNIT_MAP_ELEMENTS

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 2)), rng.integers(0, 2, 30)

    def replay(states: int, units: int) -> Replay:
        w = [[rng.normal(size=(states, 2, units)), np.zeros((states, units))],
             [rng.normal(size=(states, units, 1)), np.zeros((states, 1))]]
        return Replay.from_arrays(w, ["tanh", "sigmoid"], X, y)

    assert replay(11, 4).unit_maps().activations.shape == (11, 4, 32, 32)
    mid = replay(151, 64).unit_maps().activations
    g = mid.shape[-1]
    assert g < 32 and mid.size <= UNIT_MAP_ELEMENTS < 151 * 64 * (g + 1) ** 2  # the finest fit
    assert replay(2001, 64).unit_maps().activations.shape == (2001, 64, 8, 8)  # the floor
    assert replay(3, 4).unit_maps(grid_size=7).activations.shape == (3, 4, 7, 7)
