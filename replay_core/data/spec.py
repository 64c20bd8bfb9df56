"""What a run is: dataset, network and training, as plain validated dataclasses.

Specs are checked on construction (a ``ValueError`` names the field and its allowed
range) and survive a JSON round-trip unchanged, so they can be stored in a run file and
put in a URL. The checks of a single field (range, choice, known keys, JSON nesting)
are in ``fields``.

Example
-------
>>> from replay_core.data.spec import RunSpec
>>> spec = RunSpec()                      # the seed article's reference run
>>> RunSpec.from_json(spec.to_json()) == spec
True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from replay_core.data import datasets
from replay_core.data.fields import boolean as _bool
from replay_core.data.fields import choice as _choice
from replay_core.data.fields import from_mapping as _from_mapping
from replay_core.data.fields import json_depth as json_depth
from replay_core.data.fields import number as _number
from replay_core.data.fields import set_frozen as _set

ACTIVATIONS = (
    "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softplus", "gelu", "swish", "linear",
)
INITIALIZERS = (
    "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal", "random_normal",
)
OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad")
MONITORS = ("loss", "acc", "val_loss", "val_acc")
MAX_LAYERS = 6
# The weight-initializers article's 5 x 100 network fits; the training budget bounds cost.
MAX_UNITS = 128
MAX_EPOCHS = 2000
# A spec's JSON is about 700 characters and 3 levels deep; anything far beyond is refused
# before it is parsed (deep nesting would exhaust the JSON parser's recursion).
MAX_SPEC_CHARS = 8192
MAX_SPEC_DEPTH = 8


@dataclass(frozen=True)
class DatasetSpec:
    """Which dataset, its parameters, and how it is split and scaled.

    Args:
        name: a key of ``replay_core.data.datasets.REGISTRY``.
        params: the dataset's parameters; missing ones take their defaults.
        seed: seed of the data generation and of the validation split.
        standardize: scale every feature to zero mean and unit variance (training part).
        validation_split: share of the samples held out for validation, 0 to 0.9.
    """

    name: str = "parabola"
    params: dict = field(default_factory=dict)
    seed: int = 42
    standardize: bool = False
    validation_split: float = 0.0

    def __post_init__(self) -> None:
        _set(self, "params", datasets.check_params(self.name, self.params))
        _set(self, "seed", _number("dataset.seed", self.seed, 0, 2**31 - 1, integer=True))
        _set(self, "standardize", _bool("dataset.standardize", self.standardize))
        _set(self, "validation_split",
             _number("dataset.validation_split", self.validation_split, 0.0, 0.9))
        n_total = datasets.n_samples(self.name, self.params)
        n_train = n_total * (1 - self.validation_split)
        if "n_samples" in self.params and n_train < 10:
            raise ValueError(
                "dataset.validation_split leaves fewer than 10 training samples; "
                "lower it or raise dataset.n_samples"
            )
        if self.validation_split > 0 and n_train < 10:
            raise ValueError(
                f"dataset.validation_split leaves fewer than 10 training samples of the "
                f"{n_total} in {self.name!r}; lower it"
            )

    @property
    def n_classes(self) -> int:
        """Number of classes of the dataset (2 for a binary one)."""
        return datasets.n_classes(self.name, self.params)

    @property
    def input_dim(self) -> int:
        """Number of input features of the dataset."""
        return datasets.input_dim(self.name, self.params)

    @classmethod
    def from_dict(cls, data: dict) -> DatasetSpec:
        return cls(**_from_mapping(cls, data, "dataset"))


def output_units(n_classes: int) -> int:
    """Units of the output layer: 1 sigmoid unit for two classes, else one per class."""
    return 1 if int(n_classes) <= 2 else int(n_classes)


def output_text(n_classes: int) -> str:
    """``1 sigmoid`` for two classes, ``k softmax`` for k > 2."""
    units = output_units(n_classes)
    return "1 sigmoid" if units == 1 else f"{units} softmax"


@dataclass(frozen=True)
class LayerSpec:
    """One hidden Dense layer.

    Args:
        units: 1 to 128 (``MAX_UNITS``).
        activation: one of ``ACTIVATIONS``.
        negative_slope: slope of leaky_relu for negative inputs (ignored otherwise).
        name: layer name; empty for the default (see ``ModelSpec.layer_names``).
    """

    units: int = 2
    activation: str = "sigmoid"
    negative_slope: float = 0.3
    name: str = ""

    def __post_init__(self) -> None:
        _set(self, "units", _number("layer.units", self.units, 1, MAX_UNITS, integer=True))
        _choice("layer.activation", self.activation, ACTIVATIONS)
        _set(self, "negative_slope",
             _number("layer.negative_slope", self.negative_slope, 0.0, 1.0))
        if not isinstance(self.name, str) or len(self.name) > 40 or (
            self.name and not self.name.replace("_", "").isalnum()
        ):
            raise ValueError(
                f"layer.name must be up to 40 letters, digits or underscores, got {self.name!r}"
            )

    @classmethod
    def from_dict(cls, data: dict) -> LayerSpec:
        return cls(**_from_mapping(cls, data, "model.layers[]"))


@dataclass(frozen=True)
class ModelSpec:
    """The network: hidden Dense layers, then the output layer.

    The output is one sigmoid unit (binary cross-entropy) for two classes, and ``k``
    softmax units (sparse categorical cross-entropy) for ``k > 2`` classes; the number of
    classes comes from the dataset, so ``describe`` and ``n_params`` take it as an argument.

    Args:
        layers: 1 to 6 hidden layers.
        initializer: kernel initializer of the hidden layers (``INITIALIZERS``).
        init_stddev: standard deviation for ``random_normal``.
        output_initializer: kernel initializer of the output unit.
        output_init_stddev: standard deviation for a ``random_normal`` output.
        l1, l2: kernel regularisation factors of every layer, 0 to 1.
        bottleneck: add a 2-unit linear Dense layer named ``bottleneck`` right before the
            output, so the network reads as an encoder (to the bottleneck) and a logistic
            regression on its learned 2-D latent space, which can always be drawn.
    """

    layers: tuple = (LayerSpec(2, "sigmoid", name="hidden"),)
    initializer: str = "glorot_normal"
    init_stddev: float = 0.05
    output_initializer: str = "random_normal"
    output_init_stddev: float = 0.05
    l1: float = 0.0
    l2: float = 0.0
    bottleneck: bool = False

    def __post_init__(self) -> None:
        layers = self.layers
        if not isinstance(layers, (list, tuple)) or not 1 <= len(layers) <= MAX_LAYERS:
            n = len(layers) if isinstance(layers, (list, tuple)) else layers
            raise ValueError(f"model.layers must hold 1 to {MAX_LAYERS} hidden layers, got {n}")
        checked = []
        for i, layer in enumerate(layers):
            try:
                checked.append(layer if isinstance(layer, LayerSpec) else LayerSpec.from_dict(layer))
            except ValueError as exc:
                text = str(exc).replace("layer.", f"model.layers[{i}].", 1)
                raise ValueError(text.replace("model.layers[]", f"model.layers[{i}]")) from None
        layers = tuple(checked)
        _set(self, "layers", layers)
        _choice("model.initializer", self.initializer, INITIALIZERS)
        _choice("model.output_initializer", self.output_initializer, INITIALIZERS)
        _set(self, "init_stddev",
             _number("model.init_stddev", self.init_stddev, 0.0, 10.0, low_open=True))
        _set(self, "output_init_stddev",
             _number("model.output_init_stddev", self.output_init_stddev, 0.0, 10.0, low_open=True))
        _set(self, "l1", _number("model.l1", self.l1, 0.0, 1.0))
        _set(self, "l2", _number("model.l2", self.l2, 0.0, 1.0))
        _set(self, "bottleneck", _bool("model.bottleneck", self.bottleneck))
        names = self.layer_names()
        if len(set(names)) != len(names):
            raise ValueError(f"model.layers have repeated names: {', '.join(names)}")

    def layer_names(self) -> list[str]:
        """Names of the hidden layers, ``bottleneck`` when there is one, then ``output``.

        An unnamed layer is called ``hidden`` when it is the first 2-unit layer (so the
        seed article's code reads the same), ``dense_<i>`` otherwise.
        """
        out: list[str] = []
        first_two = next((i for i, layer in enumerate(self.layers) if layer.units == 2), None)
        taken = {layer.name for layer in self.layers if layer.name}
        for i, layer in enumerate(self.layers):
            if layer.name:
                out.append(layer.name)
            elif i == first_two and "hidden" not in taken:
                out.append("hidden")
            else:
                out.append(f"dense_{i + 1}")
        return out + (["bottleneck"] if self.bottleneck else []) + ["output"]

    def describe(self, input_dim: int = 2, n_classes: int = 2) -> str:
        """Short architecture text, e.g. ``2 → 2 sigmoid → 1 sigmoid`` (``→ 3 softmax``
        for three classes)."""
        parts = [str(input_dim)]
        for layer in self.layers:
            act = layer.activation
            if act == "leaky_relu":
                act = f"leaky_relu({layer.negative_slope:g})"
            parts.append(f"{layer.units} {act}")
        if self.bottleneck:
            parts.append("2 linear bottleneck")
        return " → ".join(parts + [output_text(n_classes)])

    def activation_configs(self, n_classes: int = 2) -> list[dict]:
        """One ``{"name": ..., **params}`` per Dense layer of the built network (hidden
        layers, the linear bottleneck when there is one, the output), as the recorder
        stores them, so a replay of weights taken mid-training needs no model."""
        configs: list[dict] = []
        for layer in self.layers:
            config: dict = {"name": layer.activation}
            if layer.activation == "leaky_relu":
                config["negative_slope"] = float(layer.negative_slope)
            configs.append(config)
        if self.bottleneck:
            configs.append({"name": "linear"})
        return configs + [{"name": "sigmoid" if output_units(n_classes) == 1 else "softmax"}]

    def n_params(self, input_dim: int = 2, n_classes: int = 2) -> int:
        """Number of trainable parameters (kernels and biases)."""
        total, width = 0, input_dim
        bottleneck = [2] if self.bottleneck else []
        for units in [layer.units for layer in self.layers] + bottleneck + [output_units(n_classes)]:
            total += width * units + units
            width = units
        return total

    @classmethod
    def from_dict(cls, data: dict) -> ModelSpec:
        return cls(**_from_mapping(cls, data, "model"))


@dataclass(frozen=True)
class ReduceLROnPlateauSpec:
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without progress."""

    monitor: str = "val_loss"
    factor: float = 0.5
    patience: int = 10
    min_lr: float = 1e-5

    def __post_init__(self) -> None:
        _choice("training.reduce_lr.monitor", self.monitor, MONITORS)
        _set(self, "factor", _number("training.reduce_lr.factor", self.factor, 0.0, 1.0,
                                     low_open=True))
        if self.factor >= 1.0:
            raise ValueError(f"training.reduce_lr.factor must be below 1, got {self.factor:g}")
        _set(self, "patience", _number("training.reduce_lr.patience", self.patience, 1, MAX_EPOCHS,
                                       integer=True))
        _set(self, "min_lr", _number("training.reduce_lr.min_lr", self.min_lr, 0.0, 1.0))

    @classmethod
    def from_dict(cls, data: dict) -> ReduceLROnPlateauSpec:
        return cls(**_from_mapping(cls, data, "training.reduce_lr"))


@dataclass(frozen=True)
class EarlyStoppingSpec:
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    monitor: str = "val_loss"
    patience: int = 20
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        _choice("training.early_stopping.monitor", self.monitor, MONITORS)
        _set(self, "patience", _number("training.early_stopping.patience", self.patience, 1,
                                       MAX_EPOCHS, integer=True))
        _set(self, "min_delta", _number("training.early_stopping.min_delta", self.min_delta,
                                        0.0, 10.0))

    @classmethod
    def from_dict(cls, data: dict) -> EarlyStoppingSpec:
        return cls(**_from_mapping(cls, data, "training.early_stopping"))


@dataclass(frozen=True)
class TrainingSpec:
    """Optimizer, batches, epochs and the callbacks that steer training.

    Args:
        optimizer: one of ``OPTIMIZERS``.
        learning_rate: above 0, up to 10.
        momentum, nesterov: SGD only (momentum also used by RMSprop).
        batch_size: 1 to 4096.
        epochs: 1 to 2000.
        seed: seed of the initial weights and of the batch order.
        shuffle: reshuffle the samples every epoch.
        reduce_lr: optional reduce-on-plateau schedule.
        early_stopping: optional early stopping.
    """

    optimizer: str = "sgd"
    learning_rate: float = 0.05
    momentum: float = 0.0
    nesterov: bool = False
    batch_size: int = 16
    epochs: int = 150
    seed: int = 42
    shuffle: bool = True
    reduce_lr: ReduceLROnPlateauSpec | None = None
    early_stopping: EarlyStoppingSpec | None = None

    def __post_init__(self) -> None:
        _choice("training.optimizer", self.optimizer, OPTIMIZERS)
        _set(self, "learning_rate",
             _number("training.learning_rate", self.learning_rate, 0.0, 10.0, low_open=True))
        _set(self, "momentum", _number("training.momentum", self.momentum, 0.0, 0.9999))
        _set(self, "nesterov", _bool("training.nesterov", self.nesterov))
        _set(self, "batch_size",
             _number("training.batch_size", self.batch_size, 1, 4096, integer=True))
        _set(self, "epochs", _number("training.epochs", self.epochs, 1, MAX_EPOCHS, integer=True))
        _set(self, "seed", _number("training.seed", self.seed, 0, 2**31 - 1, integer=True))
        _set(self, "shuffle", _bool("training.shuffle", self.shuffle))
        if isinstance(self.reduce_lr, dict):
            _set(self, "reduce_lr", ReduceLROnPlateauSpec.from_dict(self.reduce_lr))
        if isinstance(self.early_stopping, dict):
            _set(self, "early_stopping", EarlyStoppingSpec.from_dict(self.early_stopping))
        for name, cls in (("reduce_lr", ReduceLROnPlateauSpec),
                          ("early_stopping", EarlyStoppingSpec)):
            value = getattr(self, name)
            if value is not None and not isinstance(value, cls):
                raise ValueError(f"training.{name} must be an object or null, got {value!r}")

    def describe(self) -> str:
        """Short optimizer text, e.g. ``SGD lr 0.05, momentum 0.9``."""
        names = {"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop", "adagrad": "Adagrad"}
        text = f"{names[self.optimizer]} lr {self.learning_rate:g}"
        if self.optimizer in ("sgd", "rmsprop") and self.momentum:
            text += f", momentum {self.momentum:g}"
        if self.optimizer == "sgd" and self.nesterov:
            text += " (Nesterov)"
        return text

    @classmethod
    def from_dict(cls, data: dict) -> TrainingSpec:
        return cls(**_from_mapping(cls, data, "training"))


@dataclass(frozen=True)
class RunSpec:
    """A whole run: dataset, model and training. Defaults give the reference run.

    Example
    -------
    >>> spec = RunSpec.from_dict({"training": {"epochs": 10}})
    >>> spec.training.epochs, spec.model.layer_names()
    (10, ['hidden', 'output'])
    """

    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    model: ModelSpec = field(default_factory=ModelSpec)
    training: TrainingSpec = field(default_factory=TrainingSpec)

    def __post_init__(self) -> None:
        for name, cls in (("dataset", DatasetSpec), ("model", ModelSpec),
                          ("training", TrainingSpec)):
            value = getattr(self, name)
            if isinstance(value, dict):
                _set(self, name, cls.from_dict(value))
            elif not isinstance(value, cls):
                raise ValueError(f"{name} must be an object, got {value!r}")
        has_val = self.dataset.validation_split > 0
        for name in ("reduce_lr", "early_stopping"):
            cb = getattr(self.training, name)
            if cb is not None and cb.monitor.startswith("val_") and not has_val:
                raise ValueError(
                    f"training.{name}.monitor is {cb.monitor!r} but dataset.validation_split "
                    "is 0; hold out validation data or monitor 'loss'"
                )

    def to_dict(self) -> dict:
        data = asdict(self)
        data["model"]["layers"] = [dict(layer) for layer in data["model"]["layers"]]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Any) -> RunSpec:
        return cls(**_from_mapping(cls, data, "spec"))

    @classmethod
    def from_stored(cls, data: Any) -> RunSpec | None:
        """The spec stored with a run, or None when there is none or it is no longer valid."""
        if not data:
            return None
        try:
            return cls.from_dict(data)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            return None

    @classmethod
    def from_json(cls, text: str | bytes) -> RunSpec:
        """Parse and validate a spec's JSON (from a link, a file, a form).

        Raises ``ValueError`` with one sentence for anything that is not a valid spec:
        over ``MAX_SPEC_CHARS`` characters or ``MAX_SPEC_DEPTH`` levels of nesting (both
        refused before parsing), not JSON, or not a valid spec.
        """
        if isinstance(text, (bytes, bytearray)):
            # json.loads finds the encoding itself; brackets are single bytes in any of
            # them, so a byte-wise scan bounds the nesting.
            scanned, limit = bytes(text).decode("latin-1"), 4 * MAX_SPEC_CHARS
        elif isinstance(text, str):
            scanned, limit = text, MAX_SPEC_CHARS
        else:
            raise ValueError(f"spec must be text, got {type(text).__name__}")
        if len(scanned) > limit:
            raise ValueError(f"spec is longer than {MAX_SPEC_CHARS} characters")
        if json_depth(scanned) > MAX_SPEC_DEPTH:
            raise ValueError(f"spec nests deeper than {MAX_SPEC_DEPTH} levels")
        try:
            data = json.loads(text)
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"spec is not valid JSON: {exc}") from None
        try:
            return cls.from_dict(data)
        except ValueError:
            raise
        except (TypeError, KeyError, AttributeError, RecursionError, OverflowError) as exc:
            raise ValueError(f"spec is not a valid run spec ({type(exc).__name__})") from None

    def replace(self, **changes: Any) -> RunSpec:
        """A copy with dotted fields changed, e.g. ``replace(**{"training.epochs": 5})``."""
        data = self.to_dict()
        for dotted, value in changes.items():
            node = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                if not isinstance(node.get(key), dict):
                    raise ValueError(f"unknown field {dotted}")
                node = node[key]
            node[leaf] = value
        return RunSpec.from_dict(data)
