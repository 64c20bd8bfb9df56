"""Run specs: the reference run as defaults, lossless JSON, and validation naming the field."""

from __future__ import annotations

import dataclasses
import doctest
import json

import pytest

from replay_core.data import presets, spec
from replay_core.data.spec import (
    ACTIVATIONS,
    INITIALIZERS,
    OPTIMIZERS,
    DatasetSpec,
    EarlyStoppingSpec,
    LayerSpec,
    ModelSpec,
    ReduceLROnPlateauSpec,
    RunSpec,
    TrainingSpec,
)


def _with(**sections) -> str:
    """JSON text of a spec made of the given sections."""
    return json.dumps(sections)


# --------------------------------------------------------------------------- the reference run


def test_default_spec_is_the_reference_run_of_design_md():
    s = RunSpec()
    # Dataset: parabolas, 2000 samples, no noise, nothing held out, not scaled.
    assert s.dataset.name == "parabola"
    assert s.dataset.params == {"n_samples": 2000, "noise": 0.0}
    assert s.dataset.seed == 42
    assert s.dataset.standardize is False
    assert s.dataset.validation_split == 0.0
    # Model: 2 -> Dense(2, sigmoid, Glorot normal, 'hidden') -> Dense(1, sigmoid, N(0, 0.05)).
    assert s.model.layers == (LayerSpec(units=2, activation="sigmoid", name="hidden"),)
    assert s.model.initializer == "glorot_normal"
    assert s.model.output_initializer == "random_normal"
    assert s.model.output_init_stddev == 0.05
    assert s.model.l1 == 0.0 and s.model.l2 == 0.0
    assert s.model.layer_names() == ["hidden", "output"]
    assert s.model.describe() == "2 → 2 sigmoid → 1 sigmoid"
    # Training: SGD 0.05, batch 16, 150 epochs, seed 42, no schedule.
    t = s.training
    assert (t.optimizer, t.learning_rate, t.momentum, t.nesterov) == ("sgd", 0.05, 0.0, False)
    assert (t.batch_size, t.epochs, t.seed) == (16, 150, 42)
    assert t.reduce_lr is None and t.early_stopping is None
    assert t.describe() == "SGD lr 0.05"
    # DESIGN.md's reference run (seed 42); the app's reference presets use another seed.
    assert s == presets.get("reference_seed42")


def test_doctests_of_the_module_pass():
    result = doctest.testmod(spec)
    assert result.attempted > 0 and result.failed == 0


def test_specs_are_frozen():
    s = RunSpec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.training.epochs = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.model = ModelSpec()  # type: ignore[misc]


# --------------------------------------------------------------------------- JSON round-trip


def _assert_round_trip(s: RunSpec) -> None:
    text = s.to_json()
    back = RunSpec.from_json(text)
    assert back == s
    assert back.to_json() == text
    assert back.to_dict() == s.to_dict()
    assert RunSpec.from_json(text.encode()) == s
    # Plain JSON types only, keys sorted (stable for URLs and file attributes).
    assert json.loads(text) == s.to_dict()
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))


@pytest.mark.parametrize("name", presets.names())
def test_every_preset_survives_a_json_round_trip(name):
    _assert_round_trip(presets.get(name))


def test_callbacks_and_awkward_floats_survive_a_json_round_trip():
    s = RunSpec(
        dataset=DatasetSpec("spiral", {"n_samples": 333, "noise": 0.1 + 0.2, "turns": 2.75},
                            seed=0, standardize=True, validation_split=0.1 + 0.2),
        model=ModelSpec(
            layers=(LayerSpec(7, "leaky_relu", negative_slope=1 / 3), LayerSpec(2, "tanh"),
                    LayerSpec(64, "gelu", name="wide_1")),
            initializer="he_uniform", init_stddev=1e-7, output_initializer="lecun_normal",
            output_init_stddev=0.1 + 0.2, l1=1e-7, l2=0.1 + 0.2,
        ),
        training=TrainingSpec(
            "rmsprop", learning_rate=0.1 + 0.2, momentum=0.9999, nesterov=True, batch_size=4096,
            epochs=2000, seed=2**31 - 1, shuffle=False,
            reduce_lr=ReduceLROnPlateauSpec("val_acc", factor=0.1 + 0.2, patience=3, min_lr=1e-7),
            early_stopping=EarlyStoppingSpec("loss", patience=2000, min_delta=1e-7),
        ),
    )
    _assert_round_trip(s)
    back = RunSpec.from_json(s.to_json())
    # Exactly the same floats, not merely close ones.
    assert back.training.learning_rate == 0.30000000000000004
    assert back.training.reduce_lr.min_lr == 1e-7
    assert back.training.early_stopping.min_delta == 1e-7
    assert back.dataset.validation_split == 0.1 + 0.2
    assert back.model.layers[0].negative_slope == 1 / 3
    assert isinstance(back.training.reduce_lr, ReduceLROnPlateauSpec)
    assert isinstance(back.training.early_stopping, EarlyStoppingSpec)
    assert isinstance(back.model.layers, tuple)
    assert all(isinstance(layer, LayerSpec) for layer in back.model.layers)


def test_partial_json_takes_defaults_for_the_rest():
    s = RunSpec.from_json('{"training": {"epochs": 10}}')
    assert s == RunSpec().replace(**{"training.epochs": 10})
    assert RunSpec.from_json("{}") == RunSpec()


def test_numbers_are_normalised_to_their_field_type():
    s = RunSpec.from_json(_with(training={"epochs": 10.0, "learning_rate": 1, "batch_size": 8.0},
                                model={"layers": [{"units": 3.0}], "l2": 0}))
    assert type(s.training.epochs) is int and s.training.epochs == 10
    assert type(s.training.batch_size) is int
    assert type(s.training.learning_rate) is float and s.training.learning_rate == 1.0
    assert type(s.model.layers[0].units) is int
    assert type(s.model.l2) is float


# --------------------------------------------------------------------------- rejected input


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # Not a spec at all.
        ("{", "spec is not valid JSON"),
        ("", "spec is not valid JSON"),
        (b"\xff\xfe", "spec is not valid JSON"),
        ("[]", "spec must be an object, got list"),
        ("null", "spec must be an object, got NoneType"),
        ("42", "spec must be an object, got int"),
        ('{"foo": 1}', "unknown field spec.foo; known fields: dataset, model, training"),
        ('{"dataset": []}', "dataset must be an object, got []"),
        ('{"training": 5}', "training must be an object, got 5"),
        # Training.
        (_with(training={"epochs": 0}), "training.epochs must be in [1, 2000], got 0"),
        (_with(training={"epochs": 2001}), "training.epochs must be in [1, 2000], got 2001"),
        (_with(training={"epochs": 1.5}), "training.epochs must be a whole number, got 1.5"),
        (_with(training={"epochs": "10"}), "training.epochs must be a number, got '10'"),
        (_with(training={"epochs": True}), "training.epochs must be a number, got True"),
        (_with(training={"epochs": None}), "training.epochs must be a number, got None"),
        ('{"training": {"epochs": 1e999}}', "training.epochs must be a finite number, got inf"),
        ('{"training": {"epochs": NaN}}', "training.epochs must be a finite number, got nan"),
        pytest.param('{"training": {"epochs": ' + "9" * 400 + "}}",
                     "training.epochs must be in [1, 2000], got 999", id="huge-int-epochs"),
        pytest.param('{"training": {"learning_rate": ' + "9" * 400 + "}}",
                     "training.learning_rate must be in (0, 10]", id="huge-int-learning-rate"),
        (_with(training={"learning_rate": 0}), "training.learning_rate must be in (0, 10], got 0"),
        (_with(training={"learning_rate": -0.1}), "training.learning_rate must be in (0, 10], got -0.1"),
        (_with(training={"learning_rate": 10.5}), "training.learning_rate must be in (0, 10], got 10.5"),
        (_with(training={"momentum": -0.1}), "training.momentum must be in [0, 0.9999], got -0.1"),
        (_with(training={"momentum": 1}), "training.momentum must be in [0, 0.9999], got 1"),
        (_with(training={"batch_size": 0}), "training.batch_size must be in [1, 4096], got 0"),
        (_with(training={"batch_size": 4097}), "training.batch_size must be in [1, 4096], got 4097"),
        (_with(training={"seed": -1}), "training.seed must be in [0, 2.14748e+09], got -1"),
        (_with(training={"optimizer": "nadam"}),
         "training.optimizer must be one of sgd, adam, rmsprop, adagrad; got 'nadam'"),
        (_with(training={"optimizer": ["sgd"]}), "training.optimizer must be one of"),
        (_with(training={"nesterov": 1}), "training.nesterov must be true or false, got 1"),
        (_with(training={"shuffle": "yes"}), "training.shuffle must be true or false, got 'yes'"),
        (_with(training={"foo": 1}), "unknown field training.foo"),
        (_with(training={"reduce_lr": 5}), "training.reduce_lr must be an object or null, got 5"),
        (_with(training={"reduce_lr": {"monitor": "loss", "foo": 1}}),
         "unknown field training.reduce_lr.foo"),
        (_with(training={"reduce_lr": {"monitor": "lr"}}),
         "training.reduce_lr.monitor must be one of loss, acc, val_loss, val_acc; got 'lr'"),
        (_with(training={"reduce_lr": {"monitor": "loss", "factor": 1}}),
         "training.reduce_lr.factor must be below 1, got 1"),
        (_with(training={"reduce_lr": {"monitor": "loss", "factor": 0}}),
         "training.reduce_lr.factor must be in (0, 1], got 0"),
        (_with(training={"reduce_lr": {"monitor": "loss", "patience": 0}}),
         "training.reduce_lr.patience must be in [1, 2000], got 0"),
        (_with(training={"reduce_lr": {"monitor": "loss", "min_lr": -1e-7}}),
         "training.reduce_lr.min_lr must be in [0, 1], got -1e-07"),
        (_with(training={"early_stopping": {"monitor": "loss", "patience": 0}}),
         "training.early_stopping.patience must be in [1, 2000], got 0"),
        (_with(training={"early_stopping": {"monitor": "loss", "min_delta": -1}}),
         "training.early_stopping.min_delta must be in [0, 10], got -1"),
        (_with(training={"early_stopping": {"monitor": "accuracy"}}),
         "training.early_stopping.monitor must be one of"),
        (_with(training={"early_stopping": []}), "training.early_stopping must be an object or null"),
        # Validation monitors need validation data.
        (_with(training={"reduce_lr": {}}),
         "training.reduce_lr.monitor is 'val_loss' but dataset.validation_split is 0"),
        (_with(training={"early_stopping": {"monitor": "val_acc"}}),
         "training.early_stopping.monitor is 'val_acc' but dataset.validation_split is 0"),
        # Model.
        (_with(model={"layers": []}), "model.layers must hold 1 to 6 hidden layers, got 0"),
        (_with(model={"layers": [{"units": 4}] * 7}), "model.layers must hold 1 to 6 hidden layers, got 7"),
        (_with(model={"layers": "abc"}), "model.layers must hold 1 to 6 hidden layers, got abc"),
        (_with(model={"layers": [{"units": 2}, {"units": 0}]}),
         "model.layers[1].units must be in [1, 128], got 0"),
        (_with(model={"layers": [{"units": 129}]}),
         "model.layers[0].units must be in [1, 128], got 129"),
        (_with(model={"layers": [{"units": 2}, {"units": 2.5}]}),
         "model.layers[1].units must be a whole number, got 2.5"),
        (_with(model={"layers": [{"units": 2}, {"activation": "softmax"}]}),
         "model.layers[1].activation must be one of sigmoid, tanh"),
        (_with(model={"layers": [{"units": 2}, {"foo": 1}]}), "unknown field model.layers[1].foo"),
        (_with(model={"layers": [{"units": 2}, 5]}), "model.layers[1] must be an object, got int"),
        (_with(model={"layers": [{"negative_slope": 1.5}]}),
         "model.layers[0].negative_slope must be in [0, 1], got 1.5"),
        (_with(model={"layers": [{"name": "a b"}]}), "model.layers[0].name must be up to 40"),
        (_with(model={"layers": [{"name": "x" * 41}]}), "model.layers[0].name must be up to 40"),
        (_with(model={"layers": [{"name": 3}]}), "model.layers[0].name must be up to 40"),
        (_with(model={"initializer": "zeros"}), "model.initializer must be one of glorot_normal"),
        (_with(model={"output_initializer": "ones"}), "model.output_initializer must be one of"),
        (_with(model={"init_stddev": 0}), "model.init_stddev must be in (0, 10], got 0"),
        (_with(model={"output_init_stddev": 11}), "model.output_init_stddev must be in (0, 10], got 11"),
        (_with(model={"l1": -0.1}), "model.l1 must be in [0, 1], got -0.1"),
        (_with(model={"l2": 2}), "model.l2 must be in [0, 1], got 2"),
        (_with(model={"dropout": 0.5}), "unknown field model.dropout"),
        # Dataset.
        (_with(dataset={"name": "mnist"}), "unknown dataset 'mnist'; choose one of: parabola, moons"),
        (_with(dataset={"name": []}), "unknown dataset []"),
        (_with(dataset={"params": {"n_samples": 5}}),
         "dataset.n_samples must be between 20 and 10000, got 5"),
        (_with(dataset={"params": {"foo": 1}}), "dataset 'parabola' has no parameter 'foo'"),
        (_with(dataset={"params": [1]}), "dataset.params must be an object, got list"),
        (_with(dataset={"validation_split": 0.95}), "dataset.validation_split must be in [0, 0.9], got 0.95"),
        (_with(dataset={"validation_split": -0.1}), "dataset.validation_split must be in [0, 0.9]"),
        (_with(dataset={"seed": -1}), "dataset.seed must be in [0, 2.14748e+09], got -1"),
        (_with(dataset={"standardize": "true"}), "dataset.standardize must be true or false"),
        (_with(dataset={"name": "moons", "params": {"n_samples": 20}, "validation_split": 0.9}),
         "dataset.validation_split leaves fewer than 10 training samples"),
    ],
)
def test_bad_json_gives_a_value_error_naming_the_field(text, message):
    with pytest.raises(ValueError) as info:
        RunSpec.from_json(text)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("training", "epochs", 1), ("training", "epochs", 2000),
        ("training", "batch_size", 1), ("training", "batch_size", 4096),
        ("training", "learning_rate", 1e-12), ("training", "learning_rate", 10),
        ("training", "momentum", 0), ("training", "momentum", 0.9999),
        ("model", "l1", 1), ("model", "l2", 0),
        ("dataset", "validation_split", 0.9),
    ],
)
def test_the_ends_of_every_range_are_accepted(section, field, value):
    s = RunSpec().replace(**{f"{section}.{field}": value})
    assert getattr(getattr(s, section), field) == value


@pytest.mark.parametrize("units", [1, 128])
@pytest.mark.parametrize("n_layers", [1, 6])
def test_layer_count_and_width_ends_are_accepted(units, n_layers):
    m = ModelSpec(layers=[{"units": units}] * n_layers)
    assert len(m.layers) == n_layers and all(layer.units == units for layer in m.layers)
    assert len(m.layer_names()) == n_layers + 1


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_is_accepted(activation):
    s = RunSpec().replace(**{"model.layers": [{"units": 2, "activation": activation}]})
    assert s.model.layers[0].activation == activation
    _assert_round_trip(s)


@pytest.mark.parametrize("initializer", INITIALIZERS)
def test_every_initializer_is_accepted(initializer):
    s = RunSpec().replace(**{"model.initializer": initializer,
                             "model.output_initializer": initializer})
    assert (s.model.initializer, s.model.output_initializer) == (initializer, initializer)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_is_accepted(optimizer):
    assert RunSpec().replace(**{"training.optimizer": optimizer}).training.optimizer == optimizer


def test_the_allowed_lists():
    assert {"sigmoid", "tanh", "relu", "leaky_relu", "linear"} <= set(ACTIVATIONS)
    assert {"glorot_normal", "glorot_uniform", "random_normal"} <= set(INITIALIZERS)
    assert set(OPTIMIZERS) == {"sgd", "adam", "rmsprop", "adagrad"}
    assert (spec.MAX_LAYERS, spec.MAX_UNITS, spec.MAX_EPOCHS) == (6, 128, 2000)


def test_constructors_validate_too():
    with pytest.raises(ValueError, match=r"^training\.epochs must be in \[1, 2000\], got 0$"):
        TrainingSpec(epochs=0)
    with pytest.raises(ValueError, match=r"^layer\.units must be in \[1, 128\], got 0$"):
        LayerSpec(units=0)
    with pytest.raises(ValueError, match=r"model\.layers\[2\]\.activation must be one of"):
        ModelSpec(layers=(LayerSpec(4), LayerSpec(4), {"activation": "softmax"}))
    with pytest.raises(ValueError, match="model must be an object"):
        RunSpec(model=5)


def test_validation_monitors_are_fine_with_held_out_data_and_others_without():
    held_out = DatasetSpec(validation_split=0.2)
    for monitor in ("val_loss", "val_acc"):
        s = RunSpec(dataset=held_out,
                    training=TrainingSpec(reduce_lr=ReduceLROnPlateauSpec(monitor),
                                          early_stopping=EarlyStoppingSpec(monitor)))
        assert s.training.reduce_lr.monitor == monitor
    for monitor in ("loss", "acc"):
        s = RunSpec(training=TrainingSpec(reduce_lr=ReduceLROnPlateauSpec(monitor),
                                          early_stopping=EarlyStoppingSpec(monitor)))
        assert s.training.early_stopping.monitor == monitor
    with pytest.raises(ValueError, match=r"training\.reduce_lr\.monitor is 'val_loss'"):
        RunSpec(training=TrainingSpec(reduce_lr=ReduceLROnPlateauSpec()))


# --------------------------------------------------------------------------- layer names


@pytest.mark.parametrize(
    ("layers", "names"),
    [
        ([{"units": 2}], ["hidden", "output"]),
        ([{"units": 10}, {"units": 2}, {"units": 2}], ["dense_1", "hidden", "dense_3", "output"]),
        ([{"units": 10}, {"units": 10}], ["dense_1", "dense_2", "output"]),
        ([{"units": 2, "name": "feat"}, {"units": 2}], ["feat", "dense_2", "output"]),
        ([{"units": 2}, {"units": 3, "name": "hidden"}], ["dense_1", "hidden", "output"]),
        ([{"units": 5, "name": "a"}, {"units": 2, "name": "b_2"}], ["a", "b_2", "output"]),
    ],
)
def test_layer_names(layers, names):
    m = ModelSpec(layers=layers)
    assert m.layer_names() == names
    back = RunSpec.from_json(RunSpec(model=m).to_json())
    assert back.model.layer_names() == names


@pytest.mark.parametrize(
    "layers",
    [
        [{"units": 4, "name": "a"}, {"units": 4, "name": "a"}],
        [{"units": 4, "name": "output"}],
        [{"units": 4, "name": "dense_2"}, {"units": 3}],
        [{"units": 4, "name": "hidden"}, {"units": 2, "name": "hidden"}],
    ],
)
def test_repeated_layer_names_are_rejected(layers):
    with pytest.raises(ValueError, match="model.layers have repeated names"):
        ModelSpec(layers=layers)


# --------------------------------------------------------------------------- size and text


@pytest.mark.parametrize(
    ("units", "input_dim", "expected"),
    [
        ((2,), 2, 2 * 2 + 2 + 2 * 1 + 1),                              # 9, the reference run
        ((2,), 3, 3 * 2 + 2 + 2 + 1),                                  # 11
        ((10, 10), 2, (2 * 10 + 10) + (10 * 10 + 10) + (10 + 1)),      # 151
        ((50, 50, 50), 2, 150 + 2550 + 2550 + 51),                     # 5301
        ((1,), 2, 2 + 1 + 1 + 1),                                      # 5
        ((64,) * 6, 2, (2 * 64 + 64) + 5 * (64 * 64 + 64) + 65),       # 21057
    ],
)
def test_n_params_equals_a_hand_count(units, input_dim, expected):
    m = ModelSpec(layers=[{"units": u} for u in units])
    assert m.n_params(input_dim) == expected


def test_n_params_equals_keras_count_params():
    keras = pytest.importorskip("keras")
    models = [presets.get(name).model for name in presets.names()] + [
        ModelSpec(layers=[{"units": u} for u in (3, 1, 64, 2, 7, 5)]),
    ]
    for m in models:
        for input_dim in (2, 3):
            net = keras.Sequential(
                [keras.Input((input_dim,))]
                + [keras.layers.Dense(layer.units) for layer in m.layers]
                + ([keras.layers.Dense(2)] if m.bottleneck else [])  # the 2-unit bottleneck
                + [keras.layers.Dense(1)]
            )
            assert net.count_params() == m.n_params(input_dim), (m.describe(input_dim))


def test_model_describe():
    assert ModelSpec().describe() == "2 → 2 sigmoid → 1 sigmoid"
    assert ModelSpec().describe(input_dim=3) == "3 → 2 sigmoid → 1 sigmoid"
    m = ModelSpec(layers=(LayerSpec(10, "leaky_relu", negative_slope=0.3),
                          LayerSpec(4, "relu"), LayerSpec(2, "tanh")))
    assert m.describe() == "2 → 10 leaky_relu(0.3) → 4 relu → 2 tanh → 1 sigmoid"


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({}, "SGD lr 0.05"),
        ({"learning_rate": 0.1, "momentum": 0.9}, "SGD lr 0.1, momentum 0.9"),
        ({"learning_rate": 0.1, "momentum": 0.9, "nesterov": True},
         "SGD lr 0.1, momentum 0.9 (Nesterov)"),
        ({"optimizer": "adam", "learning_rate": 0.001, "momentum": 0.9, "nesterov": True},
         "Adam lr 0.001"),
        ({"optimizer": "rmsprop", "learning_rate": 0.01, "momentum": 0.5}, "RMSprop lr 0.01, momentum 0.5"),
        ({"optimizer": "adagrad", "learning_rate": 2e-5}, "Adagrad lr 2e-05"),
    ],
)
def test_training_describe(kwargs, text):
    assert TrainingSpec(**kwargs).describe() == text


# --------------------------------------------------------------------------- replace


def test_replace_changes_dotted_fields_only():
    base = RunSpec()
    s = base.replace(**{"training.epochs": 5, "training.learning_rate": 0.1,
                        "dataset.validation_split": 0.2,
                        "training.reduce_lr": {"monitor": "val_loss", "patience": 3}})
    assert s.training.epochs == 5 and s.training.learning_rate == 0.1
    assert s.dataset.validation_split == 0.2
    assert s.training.reduce_lr == ReduceLROnPlateauSpec("val_loss", patience=3)
    assert base == RunSpec(), "the original must not change"
    # Everything else is the original.
    assert s.model == base.model
    assert dataclasses.replace(s.training, epochs=150, learning_rate=0.05, reduce_lr=None) == base.training


def test_replace_nested_dataset_params_and_layers():
    s = RunSpec().replace(**{"dataset.params.n_samples": 100})
    assert s.dataset.params == {"n_samples": 100, "noise": 0.0}
    s = RunSpec().replace(**{"dataset.name": "circles", "dataset.params": {"n_samples": 60}})
    assert s.dataset.params == {"n_samples": 60, "noise": 0.1, "factor": 0.5}
    s = RunSpec().replace(**{"model.layers": [{"units": 3}, {"units": 2, "activation": "tanh"}]})
    assert s.model.layers == (LayerSpec(3), LayerSpec(2, "tanh"))
    assert s.model.layer_names() == ["dense_1", "hidden", "output"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"training.epochs": 0}, "training.epochs must be in [1, 2000], got 0"),
        ({"training.foo": 1}, "unknown field training.foo"),
        ({"foo.bar": 1}, "unknown field foo.bar"),
        ({"training.epochs.x": 1}, "unknown field training.epochs.x"),
        ({"model.layers": []}, "model.layers must hold 1 to 6 hidden layers, got 0"),
        ({"training.early_stopping": {"monitor": "val_loss"}},
         "training.early_stopping.monitor is 'val_loss' but dataset.validation_split is 0"),
    ],
)
def test_replace_validates(changes, message):
    with pytest.raises(ValueError) as info:
        RunSpec().replace(**changes)
    assert message in str(info.value)
