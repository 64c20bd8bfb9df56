"""``ReplayData`` inside real ``model.fit`` calls: what it stores and how runs end.

Real Keras, real HDF5 files in ``tmp_path``; tiny models and few epochs.
"""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from replay_core.errors import RunExistsError, RunFileError  # noqa: E402
from replay_core.replay.forward import Network  # noqa: E402
from replay_core.store import runfile  # noqa: E402
from replay_core.train.recorder import (  # noqa: E402
    EpochRecord,
    ReplayData,
    activation_config,
    describe_activation,
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 2)).astype(np.float32)
Y = (X[:, 0] * X[:, 1] > 0).astype(np.float32)
X_VAL = RNG.normal(size=(20, 2)).astype(np.float32)
Y_VAL = (X_VAL[:, 0] * X_VAL[:, 1] > 0).astype(np.float32)


def _model(lr: float = 0.1, seed: int = 1) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((2,)),
        keras.layers.Dense(2, activation="sigmoid", name="hidden"),
        keras.layers.Dense(1, activation="sigmoid", name="output"),
    ])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def _weights(model: keras.Model) -> list[list[np.ndarray]]:
    return [layer.get_weights() for layer in model.layers]


def test_fit_records_initial_and_every_epoch(tmp_path):
    path = tmp_path / "runs.h5"
    model = _model()
    initial = _weights(model)
    records: list[EpochRecord] = []
    recorder = ReplayData(X, Y, path, "fit", on_epoch=records.append)
    assert not path.exists()  # nothing is opened before training

    history = model.fit(X, Y, epochs=3, batch_size=16, callbacks=[recorder], verbose=0)

    run = runfile.read_run(path, "fit")
    assert (run.status, run.epochs_done, run.message) == ("complete", 3, "")
    assert recorder.status == "complete" and recorder.epochs_done == 3
    final = _weights(model)
    for i in range(2):
        for j in range(2):
            assert run.weights[i][j].shape == (4, *initial[i][j].shape)
            np.testing.assert_array_equal(run.weights[i][j][0], initial[i][j])
            np.testing.assert_array_equal(run.weights[i][j][-1], final[i][j])
    np.testing.assert_allclose(run.logs["loss"], history.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(run.logs["acc"], history.history["accuracy"], rtol=1e-6)
    np.testing.assert_allclose(run.logs["lr"], [0.1] * 3, rtol=1e-6)
    assert sorted(run.logs) == ["acc", "loss", "lr"]
    assert run.layer_names == ["hidden", "output"]
    assert run.activation_config == [{"name": "sigmoid"}, {"name": "sigmoid"}]
    a = run.attrs
    assert (a["samples"], a["batch_size"], a["n_batches"], a["n_epochs"], a["n_layers"]) == (
        64, 16, 4, 3, 2)
    assert a["activation_functions"] == ["sigmoid", "sigmoid"]
    assert "spec" not in a and run.spec is None
    np.testing.assert_array_equal(run.inputs, X)
    np.testing.assert_array_equal(run.targets, Y)

    assert [r.epoch for r in records] == [1, 2, 3]
    assert records[-1].logs == pytest.approx({"loss": history.history["loss"][-1],
                                              "acc": history.history["accuracy"][-1]})
    assert records[0].lr == pytest.approx(0.1)
    for i in range(2):
        for j in range(2):
            np.testing.assert_array_equal(records[1].weights[i][j], run.weights[i][j][2])


def test_validation_data_and_spec_are_stored(tmp_path):
    path = tmp_path / "runs.h5"
    model = _model()
    spec = {"training": {"epochs": 2}}
    recorder = ReplayData(X, Y[:, None], path, "val", validation_data=(X_VAL, Y_VAL),
                          spec=spec, batch_size=16, epochs=2)

    history = model.fit(X, Y, epochs=2, batch_size=16, validation_data=(X_VAL, Y_VAL),
                        callbacks=[recorder], verbose=0)

    run = runfile.read_run(path, "val")
    np.testing.assert_array_equal(run.val_inputs, X_VAL)
    np.testing.assert_array_equal(run.val_targets, Y_VAL)
    assert sorted(run.logs) == ["acc", "loss", "lr", "val_acc", "val_loss"]
    np.testing.assert_allclose(run.logs["val_loss"], history.history["val_loss"], rtol=1e-6)
    np.testing.assert_allclose(run.logs["val_acc"], history.history["val_accuracy"], rtol=1e-6)
    assert run.spec == spec


def test_spec_object_is_stored_as_its_json(tmp_path):
    from replay_core.data import presets

    spec = presets.get("reference")
    recorder = ReplayData(X, Y, tmp_path / "runs.h5", "spec", spec=spec)
    _model().fit(X, Y, epochs=1, batch_size=16, callbacks=[recorder], verbose=0)
    assert runfile.read_run(tmp_path / "runs.h5", "spec").spec == json.loads(spec.to_json())


def test_an_existing_name_raises_from_fit_and_leaves_the_first_run(tmp_path):
    path = tmp_path / "runs.h5"
    model = _model()
    model.fit(X, Y, epochs=2, batch_size=16, verbose=0,
              callbacks=[ReplayData(X, Y, path, "run")])
    before = runfile.read_run(path, "run")

    again = _model(seed=2)
    untrained = _weights(again)
    with pytest.raises(RunExistsError) as info:
        again.fit(X, Y, epochs=2, batch_size=16, verbose=0,
                  callbacks=[ReplayData(X, Y, path, "run")])
    assert str(info.value) == "run 'run' already exists in 'runs.h5'; pick another name"

    after = runfile.read_run(path, "run")
    assert (after.status, after.epochs_done) == ("complete", 2)
    for layer_before, layer_after in zip(before.weights, after.weights):
        for a, b in zip(layer_before, layer_after):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(after.logs["loss"], before.logs["loss"])
    for a, b in zip(untrained, _weights(again)):
        np.testing.assert_array_equal(a[0], b[0])  # refused before any training step


def test_the_callback_is_reusable_across_fits(tmp_path):
    path = tmp_path / "runs.h5"
    model = _model()
    recorder = ReplayData(X, Y, path, "first")
    model.fit(X, Y, epochs=2, batch_size=16, callbacks=[recorder], verbose=0)
    recorder.group_name = "second"
    model.fit(X, Y, epochs=3, batch_size=32, callbacks=[recorder], verbose=0)

    first = runfile.read_run(path, "first")
    second = runfile.read_run(path, "second")
    assert (first.epochs_done, second.epochs_done) == (2, 3)
    assert (second.attrs["batch_size"], second.attrs["n_epochs"]) == (32, 3)
    # The second run starts where the first ended.
    np.testing.assert_array_equal(second.weights[0][0][0], first.weights[0][0][-1])
    assert second.status == "complete"

    with pytest.raises(RunExistsError, match="run 'second' already exists in 'runs.h5'"):
        model.fit(X, Y, epochs=1, batch_size=16, callbacks=[recorder], verbose=0)
    assert runfile.read_run(path, "second").epochs_done == 3


def _diverging_model(lr: float) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    return model


def test_a_huge_learning_rate_diverges_and_keeps_the_epochs_before(tmp_path):
    path = tmp_path / "runs.h5"
    model = _diverging_model(lr=0.3)
    records = []
    recorder = ReplayData(X * 3, Y, path, "nan", on_epoch=records.append)

    history = model.fit(X * 3, Y, epochs=20, batch_size=16, shuffle=False,
                        callbacks=[recorder], verbose=0)

    run = runfile.read_run(path, "nan")
    assert run.status == "diverged"
    k = run.attrs["diverged_epoch"]
    assert run.message in (f"loss became NaN at epoch {k}", f"loss became infinite at epoch {k}")
    assert k >= 2 and run.epochs_done == k - 1 and len(records) == k - 1
    assert len(history.history["loss"]) == k  # stop_training ended fit right there
    assert not math.isfinite(history.history["loss"][-1])
    for layer in run.weights:
        for arrays in layer:
            assert arrays.shape[0] == k and np.isfinite(arrays).all()
    np.testing.assert_allclose(run.logs["loss"], history.history["loss"][:-1], rtol=1e-6)
    assert recorder.status == "diverged" and recorder.message == run.message


def test_inputs_scaled_to_1e30_diverge_in_the_first_epoch(tmp_path):
    path = tmp_path / "runs.h5"
    model = _diverging_model(lr=0.01)
    big = X * np.float32(1e30)

    model.fit(big, Y, epochs=5, batch_size=16, verbose=0,
              callbacks=[ReplayData(big, Y, path, "big")])

    run = runfile.read_run(path, "big")
    assert (run.status, run.epochs_done, run.attrs["diverged_epoch"]) == ("diverged", 0, 1)
    assert run.message in ("loss became NaN at epoch 1", "loss became infinite at epoch 1")
    assert run.weights[0][0].shape == (1, 2, 4)
    assert run.logs["loss"].shape == (0,)


def test_early_stopping_is_complete_without_padding(tmp_path):
    path = tmp_path / "runs.h5"
    stop = keras.callbacks.EarlyStopping(monitor="loss", min_delta=5.0, patience=1)
    _model().fit(X, Y, epochs=10, batch_size=16, verbose=0,
                 callbacks=[ReplayData(X, Y, path, "early"), stop])

    run = runfile.read_run(path, "early")
    assert (run.status, run.epochs_done, run.message) == (
        "complete", 2, "early stopping at epoch 2")
    assert run.attrs["n_epochs"] == 10
    assert run.weights[0][0].shape == (3, 2, 2)
    with __import__("h5py").File(path, "r") as f:
        assert f["early/loss"].shape == (2,) and f["early/layer0/weights0"].shape[0] == 3


def test_lr_is_the_rate_in_force_during_the_epoch(tmp_path):
    path = tmp_path / "runs.h5"
    # Placed before the recorder: it lowers the rate in on_epoch_end before ours runs.
    reduce = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0,
                                               min_delta=10.0, min_lr=0.001)
    history = _model().fit(X, Y, epochs=4, batch_size=16, verbose=0,
                           callbacks=[reduce, ReplayData(X, Y, path, "lr")])

    run = runfile.read_run(path, "lr")
    np.testing.assert_allclose(run.logs["lr"], [0.1, 0.1, 0.05, 0.025], rtol=1e-6)
    np.testing.assert_allclose(run.logs["lr"], history.history["learning_rate"], rtol=1e-6)
    assert "learning_rate" not in run.logs


def test_an_error_in_the_sink_leaves_a_run_that_close_marks_stopped(tmp_path):
    path = tmp_path / "runs.h5"

    def sink(record):
        if record.epoch == 2:
            raise RuntimeError("sink broke")

    recorder = ReplayData(X, Y, path, "broken", on_epoch=sink)
    with pytest.raises(RuntimeError, match="sink broke"):
        _model().fit(X, Y, epochs=5, batch_size=16, callbacks=[recorder], verbose=0)

    # Keras skips on_train_end when fit raises: the run is still open and running.
    assert runfile.read_run(path, "broken").status == "running"
    recorder.close()
    recorder.close()
    run = runfile.read_run(path, "broken")
    assert (run.status, run.epochs_done, run.message) == (
        "stopped", 2, "training ended before the last epoch")


def test_close_with_a_status(tmp_path):
    path = tmp_path / "runs.h5"

    def sink(record):
        raise KeyError("boom")

    recorder = ReplayData(X, Y, path, "failed", on_epoch=sink)
    with pytest.raises(KeyError):
        _model().fit(X, Y, epochs=3, batch_size=16, callbacks=[recorder], verbose=0)
    recorder.close("failed", "training failed after epoch 1: 'boom'")
    recorder.close("stopped", "ignored: already closed")
    run = runfile.read_run(path, "failed")
    assert (run.status, run.message) == ("failed", "training failed after epoch 1: 'boom'")
    ReplayData(X, Y, path, "never").close()  # never trained: nothing to close


def test_a_manual_callback_list_with_settings_from_kwargs(tmp_path):
    # The way a custom loop (like replay_core.train.trainer) drives the recorder.
    path = tmp_path / "runs.h5"
    model = _model()
    recorder = ReplayData(X, Y, path, "manual", batch_size=10, epochs=2)
    callbacks = keras.callbacks.CallbackList([recorder], model=model)
    callbacks.on_train_begin()
    for epoch in range(2):
        callbacks.on_epoch_begin(epoch)
        callbacks.on_epoch_end(epoch, {"loss": 0.5 - epoch / 10, "accuracy": 0.5})
    callbacks.on_train_end()
    run = runfile.read_run(path, "manual")
    assert (run.attrs["batch_size"], run.attrs["n_batches"], run.attrs["n_epochs"]) == (10, 7, 2)
    assert (run.status, run.epochs_done) == ("complete", 2)
    np.testing.assert_allclose(run.logs["loss"], [0.5, 0.4], rtol=1e-6)


def test_arguments_are_checked_when_the_callback_is_built(tmp_path):
    path = tmp_path / "runs.h5"
    with pytest.raises(ValueError, match=r"^inputs must be 2-D \(samples, features\); got "
                                         r"shape \(64,\)$"):
        ReplayData(Y, Y, path, "x")
    with pytest.raises(ValueError, match=r"^inputs has 64 rows but targets has 63$"):
        ReplayData(X, Y[:-1], path, "x")
    with pytest.raises(TypeError, match=r"^on_epoch must be callable; got int$"):
        ReplayData(X, Y, path, "x", on_epoch=3)
    with pytest.raises(RunFileError, match=r"^a run name cannot be empty$"):
        ReplayData(X, Y, path, "")
    with pytest.raises(ValueError, match=r"^batch_size must be a positive integer or None; "
                                         r"got 0$"):
        ReplayData(X, Y, path, "x", batch_size=0)
    with pytest.raises(ValueError, match=r"^validation inputs have 3 features but inputs "
                                         r"have 2$"):
        ReplayData(X, Y, path, "x", validation_data=(np.zeros((5, 3)), np.zeros(5)))
    with pytest.raises(ValueError, match=r"^spec is not valid JSON"):
        ReplayData(X, Y, path, "x", spec="{")
    assert not path.exists()


def test_activation_configs_record_every_parameter():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((2,)),
        keras.layers.Dense(3, activation=functools.partial(keras.activations.leaky_relu,
                                                           negative_slope=0.3)),
        keras.layers.Dense(3, activation="leaky_relu"),
        keras.layers.Dense(3, activation="elu"),
        keras.layers.Dense(3, activation="gelu"),
        keras.layers.Dense(3, activation="swish"),
        keras.layers.Dense(3, activation="relu"),
        keras.layers.Dense(3),
        keras.layers.LeakyReLU(negative_slope=0.1),
        keras.layers.ReLU(max_value=6.0),
        keras.layers.ELU(alpha=0.5),
        keras.layers.Activation("tanh"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(2),
        keras.layers.Softmax(),
    ])
    assert activation_config(model) == [
        {"name": "leaky_relu", "negative_slope": 0.3},
        {"name": "leaky_relu", "negative_slope": 0.2},
        {"name": "elu", "alpha": 1.0},
        {"name": "gelu", "approximate": False},
        {"name": "silu"},
        {"name": "relu", "negative_slope": 0.0, "max_value": None, "threshold": 0.0},
        {"name": "linear"},
        {"name": "leaky_relu", "negative_slope": 0.1, "layer": "activation"},
        {"name": "relu", "negative_slope": 0.0, "max_value": 6.0, "threshold": 0.0,
         "layer": "activation"},
        {"name": "elu", "alpha": 0.5, "layer": "activation"},
        {"name": "tanh", "layer": "activation"},
        {"name": ""},
        {"name": "linear"},
        {"name": "softmax", "axis": -1, "layer": "activation"},
    ]
    assert describe_activation(None) == {"name": ""}


def test_recorded_activations_replay_exactly(tmp_path):
    """The stored weights and activation configs give model.predict in numpy."""
    path = tmp_path / "runs.h5"
    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((2,)),
        keras.layers.Dense(4, activation=functools.partial(keras.activations.leaky_relu,
                                                           negative_slope=0.3)),
        keras.layers.Dense(4, activation="gelu"),
        keras.layers.Dense(3),
        keras.layers.ELU(alpha=0.7),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(2, activation="swish", name="features"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(X, Y, epochs=2, batch_size=16, verbose=0,
              callbacks=[ReplayData(X, Y, path, "acts")])

    run = runfile.read_run(path, "acts")
    net = Network.from_weights(run.weights, run.activation_config, run.layer_names)
    replayed = net.forward(X)[-1]
    np.testing.assert_allclose(replayed, model.predict(X, verbose=0), rtol=1e-4, atol=1e-6)
    assert runfile.validate_file(path) == ["acts"]
