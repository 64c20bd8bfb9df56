"""Named runs, one click each in the app and ``--preset`` on the command line.

The seed article's reference run and its tanh and relu siblings, and the cases of the
notebook that redraws a network's prediction map while momentum, learning-rate decay on
plateau and regularisation change.

Example
-------
>>> from replay_core import presets
>>> presets.get("reference").training.learning_rate
0.05
"""

from __future__ import annotations

from dataclasses import dataclass

from replay_core.spec import (
    DatasetSpec,
    LayerSpec,
    ModelSpec,
    ReduceLROnPlateauSpec,
    RunSpec,
    TrainingSpec,
)


@dataclass(frozen=True)
class Preset:
    """A named run with a one-line description."""

    name: str
    title: str
    description: str
    spec: RunSpec


def _reference(activation: str) -> RunSpec:
    return RunSpec(
        dataset=DatasetSpec("parabola", {"n_samples": 2000, "noise": 0.0}, seed=42),
        model=ModelSpec(
            layers=(LayerSpec(2, activation, name="hidden"),),
            initializer="glorot_normal",
            output_initializer="random_normal", output_init_stddev=0.05,
        ),
        training=TrainingSpec("sgd", learning_rate=0.05, batch_size=16, epochs=150, seed=42),
    )


def _notebook(*, units: tuple[int, ...] = (10, 10), lr: float = 0.1, momentum: float = 0.9,
              epochs: int = 100, dataset: DatasetSpec | None = None) -> RunSpec:
    dataset = dataset or DatasetSpec("moons", {"n_samples": 100, "noise": 0.1}, seed=42)
    return RunSpec(
        dataset=DatasetSpec(dataset.name, dataset.params, seed=dataset.seed,
                            standardize=True, validation_split=0.4),
        model=ModelSpec(
            layers=tuple(LayerSpec(u, "leaky_relu", negative_slope=0.3) for u in units),
            initializer="glorot_uniform", output_initializer="glorot_uniform",
        ),
        training=TrainingSpec(
            "sgd", learning_rate=lr, momentum=momentum, batch_size=10, epochs=epochs, seed=42,
            reduce_lr=ReduceLROnPlateauSpec("val_loss", factor=0.5, patience=50, min_lr=4e-5),
        ),
    )


def _spiral3() -> RunSpec:
    return RunSpec(
        dataset=DatasetSpec("spiral", {"n_samples": 600, "noise": 0.02, "turns": 1.5,
                                       "arms": 3}, seed=42),
        model=ModelSpec(
            layers=(LayerSpec(32, "tanh"), LayerSpec(32, "tanh"),
                    LayerSpec(2, "tanh", name="hidden")),
            initializer="glorot_uniform", output_initializer="glorot_uniform",
        ),
        training=TrainingSpec("adam", learning_rate=0.01, batch_size=32, epochs=300, seed=42),
    )


def _iris() -> RunSpec:
    return RunSpec(
        dataset=DatasetSpec("iris", seed=42, standardize=True, validation_split=0.2),
        model=ModelSpec(
            layers=(LayerSpec(8, "tanh"), LayerSpec(2, "tanh", name="hidden")),
            initializer="glorot_uniform", output_initializer="glorot_uniform",
        ),
        training=TrainingSpec("adam", learning_rate=0.01, batch_size=16, epochs=200, seed=42),
    )


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("reference", "Reference: sigmoid",
               "The seed article's run: parabolas, 2 → 2 sigmoid → 1, SGD lr 0.05, batch 16, "
               "150 epochs.", _reference("sigmoid")),
        Preset("reference_tanh", "Reference: tanh",
               "The reference run with a tanh hidden layer.", _reference("tanh")),
        Preset("reference_relu", "Reference: relu",
               "The reference run with a relu hidden layer.", _reference("relu")),
        Preset("notebook_default", "Notebook: moons 10-10",
               "Moons (100 samples, noise 0.1), two leaky-ReLU layers of 10, SGD lr 0.1 with "
               "momentum 0.9, lr halved on a validation-loss plateau.", _notebook()),
        Preset("exploding_gradient", "Exploding gradient",
               "The notebook's network with lr 0.5: watch the loss blow up.",
               _notebook(lr=0.5, epochs=150)),
        Preset("without_momentum", "Without momentum",
               "lr 0.07 and no momentum: slow, steady progress.",
               _notebook(lr=0.07, momentum=0.0, epochs=150)),
        Preset("with_momentum", "With momentum",
               "lr 0.07 with momentum 0.9: faster, with overshoot.",
               _notebook(lr=0.07, momentum=0.9, epochs=150)),
        Preset("overfitting", "Overfitting",
               "Circles (noise 0.3, factor 0.5), 50-50-50, lr 0.002, momentum 0.999, "
               "500 epochs: training loss falls while validation loss rises.",
               _notebook(units=(50, 50, 50), lr=0.002, momentum=0.999, epochs=500,
                         dataset=DatasetSpec("circles", {"n_samples": 100, "noise": 0.3,
                                                         "factor": 0.5}, seed=42))),
        Preset("spiral3", "Spiral: 3 classes",
               "A 3-arm spiral (600 samples), 32-32 tanh then a 2-unit tanh layer and a "
               "3-unit softmax, Adam lr 0.01, 300 epochs: watch the arms untwist.",
               _spiral3()),
        Preset("iris", "Iris: 3 species",
               "scikit-learn's iris flowers (4 features, standardised, 20% held out), 8 tanh "
               "then a 2-unit tanh layer and a 3-unit softmax, Adam lr 0.01, 200 epochs.",
               _iris()),
    )
}


def names() -> list[str]:
    """Names of the presets."""
    return list(PRESETS)


def get(name: str) -> RunSpec:
    """The spec of preset ``name``; an unknown name raises ``ValueError`` listing them."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name].spec
