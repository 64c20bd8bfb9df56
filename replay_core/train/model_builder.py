"""Keras model, optimizer and compile settings from a spec.

The network is a ``keras.Sequential`` of Dense layers ending in one sigmoid unit (two
classes) or in ``k`` softmax units (``k > 2`` classes). Every
kernel initializer gets its own seed derived from the training seed and the layer index,
so the same spec always starts from the same weights, whatever else used the random
state before.

Example
-------
>>> from replay_core.data.spec import RunSpec                          # doctest: +SKIP
>>> from replay_core.train.model_builder import build_model, compile_model  # doctest: +SKIP
>>> spec = RunSpec()                                              # doctest: +SKIP
>>> model = build_model(spec.model, input_dim=2, seed=42)         # doctest: +SKIP
>>> compile_model(model, spec.training)                           # doctest: +SKIP
>>> [layer.name for layer in model.layers]                        # doctest: +SKIP
['hidden', 'output']
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import keras

from replay_core.data.spec import output_units

if TYPE_CHECKING:
    from replay_core.data.spec import LayerSpec, ModelSpec, TrainingSpec

_SEED_MODULUS = 2**31 - 1


def layer_seed(seed: int, index: int) -> int:
    """Seed of the kernel initializer of layer ``index`` (0-based, output last)."""
    return (int(seed) + int(index)) % _SEED_MODULUS


def make_initializer(name: str, stddev: float, seed: int) -> keras.initializers.Initializer:
    """A seeded Keras initializer for one of ``spec.INITIALIZERS``."""
    classes = {
        "glorot_normal": keras.initializers.GlorotNormal,
        "glorot_uniform": keras.initializers.GlorotUniform,
        "he_normal": keras.initializers.HeNormal,
        "he_uniform": keras.initializers.HeUniform,
        "lecun_normal": keras.initializers.LecunNormal,
    }
    if name == "random_normal":
        return keras.initializers.RandomNormal(mean=0.0, stddev=stddev, seed=seed)
    if name not in classes:
        raise ValueError(f"unknown initializer {name!r}; choose one of: "
                         f"{', '.join([*classes, 'random_normal'])}")
    return classes[name](seed=seed)


def make_activation(layer: LayerSpec) -> Callable[..., Any]:
    """The Keras activation function of a hidden layer.

    ``leaky_relu`` is a ``functools.partial`` of ``keras.activations.leaky_relu`` with
    ``negative_slope`` bound (``.func.__name__`` and ``.keywords`` describe it, and its
    ``__name__`` is ``'leaky_relu'``); ``swish`` is ``keras.activations.silu``.
    """
    name = layer.activation
    if name == "leaky_relu":
        act = functools.partial(keras.activations.leaky_relu,
                                negative_slope=float(layer.negative_slope))
        act.__name__ = "leaky_relu"
        return act
    if name == "swish":
        return keras.activations.silu
    return keras.activations.get(name)


def _regularizer(model_spec: ModelSpec) -> keras.regularizers.Regularizer | None:
    if model_spec.l1 == 0 and model_spec.l2 == 0:
        return None
    return keras.regularizers.L1L2(l1=model_spec.l1, l2=model_spec.l2)


def build_model(model_spec: ModelSpec, input_dim: int, seed: int,
                n_classes: int = 2) -> keras.Sequential:
    """Build the network of ``model_spec`` for inputs of ``input_dim`` features.

    Parameters
    ----------
    model_spec : the hidden layers, initializers and regularisation.
    input_dim : number of input features.
    seed : the training seed; layer ``i`` (the bottleneck, when there is one, next to
        last; the output last) is initialised with seed ``layer_seed(seed, i)``.
    n_classes : 2 for one sigmoid output unit; ``k > 2`` for ``Dense(k, softmax)``.

    Returns
    -------
    keras.Sequential
        Built (weights created), not compiled.
    """
    names = model_spec.layer_names()
    regularizer = _regularizer(model_spec)
    layers: list[keras.layers.Layer] = [keras.Input(shape=(int(input_dim),))]
    for i, layer in enumerate(model_spec.layers):
        layers.append(keras.layers.Dense(
            layer.units,
            activation=make_activation(layer),
            kernel_initializer=make_initializer(model_spec.initializer, model_spec.init_stddev,
                                                layer_seed(seed, i)),
            kernel_regularizer=regularizer,
            name=names[i],
        ))
    n_hidden = len(model_spec.layers)
    if model_spec.bottleneck:
        # The seed article's 2-unit linear layer: the rest is a logistic regression on it.
        layers.append(keras.layers.Dense(
            2,
            activation="linear",
            kernel_initializer=make_initializer(model_spec.initializer, model_spec.init_stddev,
                                                layer_seed(seed, n_hidden)),
            kernel_regularizer=regularizer,
            name="bottleneck",
        ))
        n_hidden += 1
    units = output_units(n_classes)
    layers.append(keras.layers.Dense(
        units,
        activation="sigmoid" if units == 1 else "softmax",
        kernel_initializer=make_initializer(model_spec.output_initializer,
                                            model_spec.output_init_stddev,
                                            layer_seed(seed, n_hidden)),
        kernel_regularizer=regularizer,
        name=names[-1],
    ))
    return keras.Sequential(layers, name="replay_model")


def build_optimizer(training_spec: TrainingSpec) -> keras.optimizers.Optimizer:
    """The optimizer of ``training_spec`` with its learning rate (Keras defaults otherwise)."""
    lr = float(training_spec.learning_rate)
    name = training_spec.optimizer
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=float(training_spec.momentum),
                                    nesterov=bool(training_spec.nesterov))
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr, momentum=float(training_spec.momentum))
    if name == "adagrad":
        return keras.optimizers.Adagrad(learning_rate=lr)
    raise ValueError(f"unknown optimizer {name!r}; choose one of: sgd, adam, rmsprop, adagrad")


def output_loss(model: keras.Model) -> str:
    """``binary_crossentropy`` for one output unit, ``sparse_categorical_crossentropy``
    (class-index targets) for a softmax layer of ``k`` units."""
    return ("binary_crossentropy" if model.layers[-1].units == 1
            else "sparse_categorical_crossentropy")


def compile_model(model: keras.Model, training_spec: TrainingSpec) -> keras.Model:
    """Compile with the spec's optimizer, the output's cross-entropy (``output_loss``) and
    accuracy; returns ``model``."""
    model.compile(optimizer=build_optimizer(training_spec), loss=output_loss(model),
                  metrics=["accuracy"])
    return model
