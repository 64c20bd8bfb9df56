"""Named runs, one click each in the app and ``--preset`` on the command line.

The seed article's reference run and its tanh and relu siblings, and the cases of the
notebook that redraws a network's prediction map while momentum, learning-rate decay on
plateau and regularisation change.

The article trained its three reference runs with seed 42 and "got lucky": relu reached
100 % training accuracy first, then tanh, then sigmoid. Keras 3 draws other initial
weights from seed 42 (there relu stalls short of 100 %), so the reference presets use
``REFERENCE_SEED``, a seed of this library's own seed sweep that shows the article's
order, and the "seed 42" presets keep the article's seed as part of the lesson.
``REFERENCE_SWEEP`` holds that sweep's figures so the app can show how often each order
happens without training again.

Example
-------
>>> from replay_core import presets
>>> presets.get("reference").training.learning_rate
0.05
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from replay_core.data.spec import (
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


# The hidden activations of the reference runs, in the order of REFERENCE_SWEEP's rows.
REFERENCE_ACTIVATIONS = ("sigmoid", "tanh", "relu")
# The seed the article used, and the one the reference presets use instead: one of the
# seeds 1-20 below where relu, then tanh, then sigmoid reach 100 % (relu 13, tanh 17,
# sigmoid 68: relu in about 75 % of tanh's time, as the article says).
ARTICLE_SEED = 42
REFERENCE_SEED = 18

# First epoch at 100 % training accuracy (replayed weights, whole training set) of the
# reference run per training seed and hidden activation (sigmoid, tanh, relu); None: not
# within its 150 epochs. Recorded with Keras 3.15 / TensorFlow 2.21 on CPU by
#   python -m replay_core sweep --preset reference --activations sigmoid,tanh,relu \
#       --seeds 20 --file sweep.h5 --workers 1
# then read back with replay_core.train.sweep.read_sweep (first_perfect_epoch of each run).
REFERENCE_SWEEP: dict[int, tuple[int | None, int | None, int | None]] = {
    1: (72, 19, 24), 2: (None, 23, 17), 3: (68, 22, 25), 4: (88, 44, 22),
    5: (69, 21, 23), 6: (74, 20, 30), 7: (72, 18, 15), 8: (91, 28, 27),
    9: (None, 28, 24), 10: (75, 25, 26), 11: (76, 23, 26), 12: (86, 28, 45),
    13: (86, 23, 16), 14: (83, 21, 24), 15: (76, 18, 33), 16: (None, None, 34),
    17: (76, 20, None), 18: (68, 17, 13), 19: (89, 23, 25), 20: (81, 22, 30),
}


@dataclass(frozen=True)
class SweepOrders:
    """How often each order of reaching 100 % training accuracy happened over a sweep.

    Args:
        seeds: the seeds swept (1 to ``seeds``).
        orders: activations from first to last -> number of seeds with that strict order,
            most frequent first.
        never: seeds where at least one activation never reached 100 %.
        ties: seeds where all reached 100 % but two did at the same epoch.
    """

    seeds: int
    orders: dict[tuple[str, ...], int]
    never: int
    ties: int


def reference_orders(
    table: dict[int, tuple[int | None, ...]] | None = None,
    activations: tuple[str, ...] = REFERENCE_ACTIVATIONS,
) -> SweepOrders:
    """Count the orders in ``table`` (seed -> first epoch at 100 % per activation;
    ``REFERENCE_SWEEP`` when None)."""
    table = REFERENCE_SWEEP if table is None else table
    orders: Counter[tuple[str, ...]] = Counter()
    never = ties = 0
    for epochs in table.values():
        if any(e is None for e in epochs):
            never += 1
        elif len(set(epochs)) < len(epochs):
            ties += 1
        else:
            orders[tuple(a for _, a in sorted(zip(epochs, activations)))] += 1
    return SweepOrders(len(table), dict(orders.most_common()), never, ties)


def reference_sweep_sentence() -> str:
    """One sentence: how often each order happened over the recorded seed sweep."""
    counts = reference_orders()
    article = ("relu", "tanh", "sigmoid")
    parts = [f"{' → '.join(order)}{' (the article' + chr(39) + 's)' if order == article else ''} "
             f"{_times(n)}" for order, n in counts.orders.items()]
    text = f"Over seeds 1–{counts.seeds} the order to 100 % was " + " and ".join(parts)
    if counts.ties:
        text += f"; in {_times(counts.ties)} two reached 100 % at the same epoch"
    if counts.never:
        text += (f"; with {counts.never} seed{'s' if counts.never != 1 else ''} at least one "
                 "activation never reached 100 % within 150 epochs")
    return text + "."


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _reference(activation: str, seed: int = REFERENCE_SEED) -> RunSpec:
    return RunSpec(
        dataset=DatasetSpec("parabola", {"n_samples": 2000, "noise": 0.0}, seed=42),
        model=ModelSpec(
            layers=(LayerSpec(2, activation, name="hidden"),),
            initializer="glorot_normal",
            output_initializer="random_normal", output_init_stddev=0.05,
        ),
        training=TrainingSpec("sgd", learning_rate=0.05, batch_size=16, epochs=150, seed=seed),
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
        # 4 features cannot be drawn: the 2-unit linear bottleneck is a plane that can, so
        # Replay shows the flowers there and the species' regions in that plane.
        model=ModelSpec(
            layers=(LayerSpec(8, "tanh", name="hidden"),), bottleneck=True,
            initializer="glorot_uniform", output_initializer="glorot_uniform",
        ),
        training=TrainingSpec("adam", learning_rate=0.01, batch_size=16, epochs=200, seed=42),
    )


# The weight-initializers article: ball data in 10 dimensions, 5 hidden layers of 100 units
# and the output initialised alike, seed 13. Batches of 100 keep 40 epochs within the
# app's training budget (41,501 parameters).
INITIALIZER_CASES = ("init_sigmoid_normal", "init_tanh_glorot", "init_relu_he")


def _ball_deep(activation: str, initializer: str, *, stddev: float = 0.05, units: int = 100,
               layers: int = 5, lr: float = 0.05, batch_size: int = 100, epochs: int = 40,
               seed: int = 13, optimizer: str = "sgd") -> RunSpec:
    return RunSpec(
        dataset=DatasetSpec("ball", {"n_samples": 1000, "dims": 10}, seed=seed),
        model=ModelSpec(
            layers=tuple(LayerSpec(units, activation, name=f"h{i + 1}") for i in range(layers)),
            initializer=initializer, init_stddev=stddev,
            output_initializer=initializer, output_init_stddev=stddev,
        ),
        training=TrainingSpec(optimizer, learning_rate=lr, batch_size=batch_size,
                              epochs=epochs, seed=seed),
    )


_SEED_NOTE = (f"Seed {REFERENCE_SEED}: under Keras 3 the article's seed {ARTICLE_SEED} gives "
              "a different start; see the seed sweep.")

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("reference", "Reference: sigmoid",
               "The seed article's run: parabolas, 2 → 2 sigmoid → 1, SGD lr 0.05, batch 16, "
               f"150 epochs. {_SEED_NOTE}", _reference("sigmoid")),
        Preset("reference_tanh", "Reference: tanh",
               f"The reference run with a tanh hidden layer. {_SEED_NOTE}", _reference("tanh")),
        Preset("reference_relu", "Reference: relu",
               f"The reference run with a relu hidden layer: the first of the three to "
               f"classify every sample. {_SEED_NOTE}", _reference("relu")),
        Preset("reference_seed42", "Seed 42: sigmoid",
               f"The reference run with the article's seed {ARTICLE_SEED}, which under Keras 3 "
               "draws other initial weights than the article's: sigmoid still classifies every "
               "sample, later than tanh, while relu never does.",
               _reference("sigmoid", ARTICLE_SEED)),
        Preset("reference_tanh_seed42", "Seed 42: tanh",
               f"The reference run with a tanh hidden layer and the article's seed "
               f"{ARTICLE_SEED}: tanh classifies every sample, before sigmoid, while relu never "
               "does.",
               _reference("tanh", ARTICLE_SEED)),
        Preset("reference_relu_seed42", "Seed 42: relu",
               f"The reference run with a relu hidden layer and the article's seed "
               f"{ARTICLE_SEED}: both hidden units end up positive on every sample, so the "
               "network stays linear and never classifies every sample (about 75 %). The "
               "article got lucky.", _reference("relu", ARTICLE_SEED)),
        Preset("notebook_default", "Notebook: moons 10-10",
               "Moons (100 samples, noise 0.1), two leaky-ReLU layers of 10, SGD lr 0.1 with "
               "momentum 0.9, 300 epochs: the lr is halved once the validation loss has not "
               "improved for 50 epochs (a plateau).", _notebook(epochs=300)),
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
        Preset("init_sigmoid_normal", "Init: sigmoid, σ = 0.01",
               "The weight-initializers article's first case: ball (10 dimensions), 5 sigmoid "
               "layers of 100 units initialised from a normal of standard deviation 0.01, "
               "seed 13. Open Layers in Replay: the z-values collapse to 0 layer after layer, "
               "every activation sits at 0.5 and the gradients vanish.",
               _ball_deep("sigmoid", "random_normal", stddev=0.01)),
        Preset("init_tanh_glorot", "Init: tanh, Glorot uniform",
               "The same network with tanh and Glorot uniform initial weights: activations "
               "and gradients keep their spread through the 5 layers.",
               _ball_deep("tanh", "glorot_uniform")),
        Preset("init_relu_he", "Init: relu, He uniform",
               "The same network with relu and He uniform initial weights: z-values keep "
               "their spread from layer to layer, the gradients flow.",
               _ball_deep("relu", "he_uniform")),
        Preset("vanishing_gradients", "Vanishing gradients",
               "Ball (10 dimensions) through 6 sigmoid layers of 32: each sigmoid passes at "
               "most a quarter of the gradient back, so the first layers' gradients are "
               "orders of magnitude smaller than the last ones' (Layers in Replay).",
               _ball_deep("sigmoid", "glorot_normal", units=32, layers=6, lr=0.1,
                          batch_size=32, epochs=100)),
        Preset("dead_relus", "Dead relus",
               "Ball (10 dimensions) through 4 relu layers of 64 trained by Adam at a large "
               "learning rate (0.1): within a few epochs big updates push most units of the "
               "deeper layers below zero on every sample, where they output 0 and get no "
               "gradient again, and the network ends up predicting one class (Layers in "
               "Replay: dead units).",
               _ball_deep("relu", "he_uniform", units=64, layers=4, lr=0.1, batch_size=32,
                          epochs=60, optimizer="adam")),
        Preset("spiral3", "Spiral: 3 classes",
               "A 3-arm spiral (600 samples), 32-32 tanh then a 2-unit tanh layer and a "
               "3-unit softmax, Adam lr 0.01, 300 epochs: watch the arms untwist, to over 95 % "
               "training accuracy on every arm.",
               _spiral3()),
        Preset("iris", "Iris: 3 species",
               "scikit-learn's iris flowers (4 features, standardised, 20% held out), 8 tanh "
               "units, a 2-unit linear bottleneck (the plane Replay draws the species in) and "
               "a 3-unit softmax, Adam lr 0.01, 200 epochs: over 97 % of the training flowers "
               "and over 90 % of the held-out ones right.",
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
