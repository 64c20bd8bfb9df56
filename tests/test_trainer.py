"""The fast trainer computes what ``model.fit`` computes, and records every ending right.

Real Keras, real HDF5 files in ``tmp_path``; small data and few epochs.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from replay_core.data import datasets, presets  # noqa: E402
from replay_core.data.spec import RunSpec, TrainingSpec  # noqa: E402
from replay_core.errors import RunExistsError, TrainingLimitError  # noqa: E402
from replay_core.store import runfile  # noqa: E402
from replay_core.train import trainer  # noqa: E402
from replay_core.train.model_builder import (  # noqa: E402
    build_model,
    build_optimizer,
    compile_model,
)
from replay_core.train.trainer import STEP_COST, CompiledEpochs, estimate_cost, train  # noqa: E402

SMALL = presets.get("reference").replace(**{
    "dataset.params": {"n_samples": 200, "noise": 0.0},
    "training.epochs": 5,
})


THREE_CLASSES = {
    "dataset.name": "spiral", "dataset.params": {"n_samples": 200, "arms": 3},
    "model.layers": [{"units": 6, "activation": "tanh"}, {"units": 2, "activation": "tanh"}],
    "training.optimizer": "adam", "training.learning_rate": 0.02, "model.l2": 0.001,
    "training.batch_size": 16,
}


def _fit(spec: RunSpec, callbacks: list | None = None) -> tuple[dict, list]:
    """Plain ``model.fit`` of ``spec`` without shuffling: its History and final weights."""
    data = datasets.prepare(spec.dataset)
    t = spec.training
    model = compile_model(build_model(spec.model, data.X.shape[1], t.seed,
                                      n_classes=data.n_classes), t)
    validation = (data.X_val, data.y_val) if data.X_val is not None else None
    history = model.fit(data.X, data.y, batch_size=t.batch_size, epochs=t.epochs,
                        shuffle=False, validation_data=validation, callbacks=callbacks or [],
                        verbose=0)
    return history.history, [layer.get_weights() for layer in model.layers]


def _train(spec: RunSpec, tmp_path, name: str = "run", **kwargs):
    """``train`` into ``tmp_path/runs.h5``; returns the result and the epoch records."""
    records = []
    sink = kwargs.pop("on_epoch", None)

    def on_epoch(record):
        records.append(record)
        if sink is not None:
            sink(record)

    result = train(spec, tmp_path / "runs.h5", name, on_epoch=on_epoch, **kwargs)
    return result, records


@pytest.mark.parametrize(("changes", "xla"), [
    # SGD with momentum, L2, a partial last batch (150 % 7 = 3) and validation data.
    ({"training.momentum": 0.9, "model.l2": 0.01, "training.batch_size": 7}, True),
    ({"training.momentum": 0.9, "model.l2": 0.01, "training.batch_size": 7}, False),
    # Adam, L1 + L2, a partial last batch (150 % 16 = 6) and validation data.
    ({"training.optimizer": "adam", "training.learning_rate": 0.01, "model.l1": 0.001,
      "model.l2": 0.01}, True),
    # Three classes: a 3-unit softmax output, sparse categorical cross-entropy.
    (THREE_CLASSES, True),
    (THREE_CLASSES, False),
], ids=["sgd_momentum_l2-xla", "sgd_momentum_l2-graph", "adam_l1_l2-xla",
        "softmax3_adam_l2-xla", "softmax3_adam_l2-graph"])
def test_matches_model_fit(tmp_path, monkeypatch, changes, xla):
    monkeypatch.setattr(trainer, "XLA_MIN_STEPS", 0 if xla else 10**12)
    spec = SMALL.replace(**{**changes, "training.shuffle": False,
                            "dataset.validation_split": 0.25})
    expected, fit_weights = _fit(spec)

    result, records = _train(spec, tmp_path)

    assert result.status == "complete" and result.epochs_done == 5
    k = spec.dataset.n_classes
    assert fit_weights[-1][0].shape[-1] == (1 if k == 2 else k)
    assert sorted(expected) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    for key, values in expected.items():
        np.testing.assert_allclose(result.history[key], values, rtol=1e-5, atol=1e-6,
                                   err_msg=key)
    for mine, theirs in zip(records[-1].weights, fit_weights):
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    run = runfile.read_run(tmp_path / "runs.h5", "run")
    np.testing.assert_allclose(run.logs["loss"], expected["loss"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run.logs["val_acc"], expected["val_accuracy"], atol=1e-6)
    np.testing.assert_allclose(run.weights[0][0][-1], fit_weights[0][0], rtol=1e-5, atol=1e-6)


def test_reduce_lr_on_plateau_lowers_the_recorded_lr_like_keras(tmp_path):
    # Accuracy sits at 0.5 for the first epochs: a plateau with patience 1.
    spec = SMALL.replace(**{
        "training.shuffle": False, "training.epochs": 6,
        "training.reduce_lr": {"monitor": "acc", "factor": 0.5, "patience": 1,
                               "min_lr": 0.01},
    })
    keras_cb = keras.callbacks.ReduceLROnPlateau(monitor="accuracy", mode="max", factor=0.5,
                                                 patience=1, min_lr=0.01)
    expected, _ = _fit(spec, [keras_cb])

    result, _ = _train(spec, tmp_path)

    run = runfile.read_run(tmp_path / "runs.h5", "run")
    # Keras logs the rate in force during the epoch, before the callback lowers it.
    np.testing.assert_allclose(run.logs["lr"], expected["learning_rate"], rtol=1e-6)
    np.testing.assert_allclose(result.history["learning_rate"], expected["learning_rate"],
                               rtol=1e-6)
    assert run.logs["lr"][0] == pytest.approx(0.05)
    assert run.logs["lr"][-1] < 0.05


def test_early_stopping_ends_complete_without_padding(tmp_path):
    # min_delta above any loss change: no epoch after the first counts as progress.
    spec = SMALL.replace(**{"training.epochs": 10, "training.early_stopping": {
        "monitor": "loss", "patience": 1, "min_delta": 5.0}})

    result, records = _train(spec, tmp_path)

    assert (result.status, result.epochs_done) == ("complete", 2)
    assert "early stopping" in result.message
    assert len(records) == 2
    run = runfile.read_run(tmp_path / "runs.h5", "run")
    assert run.status == "complete" and run.epochs_done == 2
    assert run.logs["loss"].shape == (2,)
    assert run.weights[0][0].shape == (3, 2, 2)


def test_diverging_run_keeps_the_finished_epochs(tmp_path):
    # Linear layers, a large step and heavy momentum: the loss overflows at epoch 3.
    spec = SMALL.replace(**{
        "training.epochs": 6, "training.learning_rate": 0.5, "training.momentum": 0.99,
        "training.shuffle": False,
        "model.layers": [{"units": 8, "activation": "linear"},
                         {"units": 8, "activation": "linear"}],
    })

    result, records = _train(spec, tmp_path)

    assert result.status == "diverged"
    assert result.message in ("loss became NaN at epoch 3", "loss became inf at epoch 3")
    assert result.epochs_done == 2 and len(records) == 2
    run = runfile.read_run(tmp_path / "runs.h5", "run")
    assert run.status == "diverged" and run.epochs_done == 2
    assert run.message == result.message
    assert run.attrs["diverged_epoch"] == 3
    for layer in run.weights:
        assert layer[0].shape[0] == 3
        assert np.isfinite(layer[0]).all()
    assert np.isfinite(run.logs["loss"]).all()


def test_stop_event_set_after_epoch_2_stops_there(tmp_path):
    stop = threading.Event()

    def on_epoch(record):
        if record.epoch == 2:
            stop.set()

    result, _ = _train(SMALL, tmp_path, on_epoch=on_epoch, stop_event=stop)

    assert (result.status, result.epochs_done) == ("stopped", 2)
    assert result.message == "stopped by the user after epoch 2"
    run = runfile.read_run(tmp_path / "runs.h5", "run")
    assert (run.status, run.epochs_done, run.message) == (
        "stopped", 2, "stopped by the user after epoch 2")
    assert run.weights[0][0].shape[0] == 3


def test_keyboard_interrupt_from_the_sink_marks_the_run_stopped(tmp_path):
    def on_epoch(record):
        if record.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(SMALL, tmp_path, on_epoch=on_epoch)

    run = runfile.read_run(tmp_path / "runs.h5", "run")
    assert run.status == "stopped"
    assert run.epochs_done == 2
    assert run.message == "stopped by the user after epoch 2"
    assert run.weights[0][0].shape[0] == 3


def test_an_error_in_the_sink_marks_the_run_failed_and_propagates(tmp_path):
    def on_epoch(record):
        if record.epoch == 1:
            raise RuntimeError("sink broke")

    with pytest.raises(RuntimeError, match="sink broke"):
        _train(SMALL, tmp_path, on_epoch=on_epoch)

    run = runfile.read_run(tmp_path / "runs.h5", "run")
    assert run.status == "failed"
    assert "sink broke" in run.message


def test_an_existing_run_name_is_refused_and_left_alone(tmp_path):
    spec = SMALL.replace(**{"training.epochs": 2})
    train(spec, tmp_path / "runs.h5", "run")

    with pytest.raises(RunExistsError):
        train(spec, tmp_path / "runs.h5", "run")

    [summary] = runfile.list_runs(tmp_path / "runs.h5")
    assert (summary.status, summary.epochs_done) == ("complete", 2)


def test_over_budget_raises_before_writing_anything(tmp_path):
    spec = SMALL.replace(**{"dataset.validation_split": 0.25})
    cost = estimate_cost(spec)
    # 150 training samples in 10 batches of 16; all 200 samples evaluated every epoch.
    assert cost == 5 * spec.model.n_params(2) * (10 * STEP_COST + 200)

    with pytest.raises(TrainingLimitError, match=r"5 epochs x 10 batches of 16 x 9 parameters"):
        train(spec, tmp_path / "runs.h5", "big", max_budget=cost - 1)

    assert runfile.list_runs(tmp_path / "runs.h5") == []
    result = train(spec.replace(**{"training.epochs": 1}), tmp_path / "runs.h5", "small",
                   max_budget=cost - 1)
    assert result.status == "complete"


def test_same_seed_gives_the_same_run(tmp_path):
    spec = SMALL.replace(**{"training.epochs": 3})  # shuffled batches
    train(spec, tmp_path / "runs.h5", "a")
    train(spec, tmp_path / "runs.h5", "b")
    train(spec.replace(**{"training.seed": 7}), tmp_path / "runs.h5", "c")

    a, b, c = (runfile.read_run(tmp_path / "runs.h5", name) for name in "abc")
    for la, lb in zip(a.weights, b.weights):
        for wa, wb in zip(la, lb):
            np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a.logs["loss"], b.logs["loss"])
    assert not np.array_equal(a.weights[0][0], c.weights[0][0])


def test_compiled_epochs_trace_once_and_match_fit():
    spec = SMALL.replace(**{"training.batch_size": 25, "training.epochs": 3})
    data = datasets.prepare(spec.dataset)
    t = spec.training
    fitted = compile_model(build_model(spec.model, 2, t.seed), t)
    fast = compile_model(build_model(spec.model, 2, t.seed), t)
    rng = np.random.default_rng(0)
    orders = [rng.permutation(len(data.X)) for _ in range(3)]

    epochs = CompiledEpochs(fast, data.X, data.y, t.batch_size)
    logs = [epochs.run(order) for order in orders]
    for order, expected_logs in zip(orders, logs):
        history = fitted.fit(data.X[order], data.y[order], batch_size=t.batch_size, epochs=1,
                             shuffle=False, verbose=0).history
        assert history["loss"][0] == pytest.approx(expected_logs["loss"], rel=1e-5)
        assert history["accuracy"][0] == pytest.approx(expected_logs["accuracy"], abs=1e-6)
    for a, b in zip(fitted.get_weights(), fast.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    epochs.run()  # in order, the other argument form
    assert epochs.traces == 1


def test_build_model_follows_the_spec():
    spec = RunSpec.from_dict({"model": {
        "layers": [{"units": 3, "activation": "leaky_relu", "negative_slope": 0.1},
                   {"units": 2, "activation": "swish"}],
        "initializer": "he_uniform", "l1": 0.01, "l2": 0.02,
    }})
    model = build_model(spec.model, 2, seed=5)

    assert [layer.name for layer in model.layers] == ["dense_1", "hidden", "output"]
    assert [layer.units for layer in model.layers] == [3, 2, 1]
    leaky = model.layers[0].activation
    assert leaky.__name__ == "leaky_relu" and leaky.keywords == {"negative_slope": 0.1}
    x = np.array([[-2.0, 3.0]], dtype=np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(leaky(x)), [[-0.2, 3.0]])
    assert model.layers[1].activation is keras.activations.silu
    assert model.layers[2].activation is keras.activations.sigmoid
    reg = model.layers[0].kernel_regularizer
    assert (reg.l1, reg.l2) == pytest.approx((0.01, 0.02))
    same = build_model(spec.model, 2, seed=5).get_weights()
    other = build_model(spec.model, 2, seed=6).get_weights()
    for a, b in zip(model.get_weights(), same):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.get_weights()[0], other[0])


@pytest.mark.parametrize(("name", "cls", "extra"), [
    ("sgd", "SGD", {"momentum": 0.9, "nesterov": True}),
    ("adam", "Adam", {}),
    ("rmsprop", "RMSprop", {"momentum": 0.5}),
    ("adagrad", "Adagrad", {}),
])
def test_build_optimizer(name, cls, extra):
    spec = TrainingSpec(optimizer=name, learning_rate=0.02, **extra)
    optimizer = build_optimizer(spec)
    assert type(optimizer).__name__ == cls
    assert float(optimizer.learning_rate.numpy()) == pytest.approx(0.02)
    for key, value in extra.items():
        assert getattr(optimizer, key) == value


def test_every_activation_builds_and_is_described_for_replay():
    from replay_core.data.spec import ACTIVATIONS
    from replay_core.train.recorder import activation_config

    layers = [{"units": 3, "activation": name, "negative_slope": 0.1} for name in ACTIVATIONS]
    spec = RunSpec.from_dict({"model": {"layers": layers[:6]}})
    spec2 = RunSpec.from_dict({"model": {"layers": layers[6:]}})
    configs = []
    for s in (spec, spec2):
        model = build_model(s.model, 2, seed=0)
        out = keras.ops.convert_to_numpy(model(np.ones((4, 2), dtype=np.float32)))
        assert out.shape == (4, 1) and np.isfinite(out).all()
        configs += activation_config(model)[:-1]
    names = [c["name"] for c in configs]
    assert names == [("silu" if a == "swish" else a) for a in ACTIVATIONS]
    assert configs[ACTIVATIONS.index("leaky_relu")] == {"name": "leaky_relu",
                                                        "negative_slope": 0.1}
