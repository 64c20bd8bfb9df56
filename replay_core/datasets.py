"""Toy datasets for binary classification, generated offline from a seed.

Every dataset is registered with its parameters, their defaults and allowed ranges, so a
user interface can build its controls from :data:`REGISTRY` and a spec can be validated
against it.

Example
-------
>>> from replay_core import datasets
>>> X, y = datasets.load("moons", n_samples=200, noise=0.1, seed=0)
>>> X.shape, y.shape
((200, 2), (200,))
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ParamInfo:
    """One dataset parameter: its type, default and inclusive range."""

    name: str
    kind: type
    default: Any
    low: float
    high: float
    help: str = ""


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset: a title, its parameters and the function that makes it."""

    name: str
    title: str
    params: tuple[ParamInfo, ...]
    make: Callable[..., tuple[np.ndarray, np.ndarray]]
    description: str = ""

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


def _n(default: int = 2000) -> ParamInfo:
    return ParamInfo("n_samples", int, default, 20, 10000, "number of samples")


def _noise(default: float = 0.1, high: float = 1.0) -> ParamInfo:
    return ParamInfo("noise", float, default, 0.0, high, "standard deviation of Gaussian noise")


def _parabola(n_samples: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # The seed article's set: x1 evenly spaced in [-1, 1], class 0 on x2 = x1**2,
    # class 1 on the same parabola shifted down by 0.5.
    # An odd n_samples gives class 0 the extra point, so the set has n_samples rows.
    n_neg, n_pos = n_samples - n_samples // 2, n_samples // 2
    x1_neg, x1_pos = np.linspace(-1.0, 1.0, n_neg), np.linspace(-1.0, 1.0, n_pos)
    negatives = np.column_stack([x1_neg, x1_neg**2])
    positives = np.column_stack([x1_pos, x1_pos**2 - 0.5])
    X = np.concatenate([negatives, positives])
    y = np.concatenate([np.zeros(n_neg), np.ones(n_pos)])
    if noise > 0:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X, y


def _moons(n_samples: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    return make_moons(n_samples=n_samples, noise=noise, random_state=_sk_seed(rng))


def _circles(
    n_samples: int, noise: float, factor: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles

    return make_circles(n_samples=n_samples, noise=noise, factor=factor, random_state=_sk_seed(rng))


def _blobs(
    n_samples: int, cluster_std: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_blobs

    return make_blobs(
        n_samples=n_samples, centers=2, n_features=2, cluster_std=cluster_std,
        random_state=_sk_seed(rng),
    )


def _tricky(n_samples: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Two linearly separable clouds of two informative features, one cluster pair each,
    # side by side: no single straight line separates the union.
    from sklearn.datasets import make_classification

    first = n_samples // 2
    parts = []
    for i, size in enumerate((first, n_samples - first)):
        X, y = make_classification(
            n_samples=size, n_features=2, n_redundant=0, n_informative=2,
            n_clusters_per_class=1, random_state=_sk_seed(rng) + i,
        )
        parts.append((X, y))
    X = np.concatenate([parts[0][0], parts[1][0] + np.array([4.0, 0.0])])
    y = np.concatenate([parts[0][1], 1 - parts[1][1]])
    if noise > 0:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X, y


def _xor(n_samples: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    y = (X[:, 0] * X[:, 1] < 0).astype(float)
    if noise > 0:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X, y


def _spiral(
    n_samples: int, noise: float, turns: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    per_arm = n_samples // 2
    sizes = (per_arm, n_samples - per_arm)
    Xs, ys = [], []
    for arm, size in enumerate(sizes):
        t = np.linspace(0.0, 1.0, size)
        angle = 2 * np.pi * turns * t + arm * np.pi
        radius = 0.1 + 0.9 * t
        Xs.append(np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]))
        ys.append(np.full(size, float(arm)))
    X = np.concatenate(Xs)
    if noise > 0:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X, np.concatenate(ys)


def _gaussian_quantiles(n_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_gaussian_quantiles

    return make_gaussian_quantiles(
        n_samples=n_samples, n_features=2, n_classes=2, random_state=_sk_seed(rng)
    )


def _sk_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


REGISTRY: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("parabola", "Parabolas (the seed article's set)",
                    (_n(2000), _noise(0.0)), _parabola,
                    "x1 evenly spaced in [-1, 1]; class 0 on x2 = x1², class 1 on x2 = x1² − 0.5"),
        DatasetInfo("moons", "Two moons", (_n(500), _noise(0.1)), _moons,
                    "two interleaving half circles"),
        DatasetInfo("circles", "Circles",
                    (_n(500), _noise(0.1),
                     ParamInfo("factor", float, 0.5, 0.05, 0.95, "inner radius / outer radius")),
                    _circles, "a small circle inside a large one"),
        DatasetInfo("blobs", "Two blobs",
                    (_n(500), ParamInfo("cluster_std", float, 1.0, 0.1, 5.0, "spread of each blob")),
                    _blobs, "two Gaussian clouds"),
        DatasetInfo("tricky", "Tricky", (_n(500), _noise(0.0)), _tricky,
                    "two separable sets side by side, classes swapped in the second"),
        DatasetInfo("xor", "XOR", (_n(500), _noise(0.0)), _xor,
                    "class 1 where exactly one coordinate is negative"),
        DatasetInfo("spiral", "Two-arm spiral",
                    (_n(500), _noise(0.02, high=0.5),
                     ParamInfo("turns", float, 1.5, 0.25, 4.0, "turns of each arm")),
                    _spiral, "two interleaved spiral arms"),
        DatasetInfo("gaussian_quantiles", "Gaussian quantiles", (_n(500),), _gaussian_quantiles,
                    "inner and outer shells of one Gaussian cloud"),
    )
}


def names() -> list[str]:
    """Names of the registered datasets."""
    return list(REGISTRY)


def check_params(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate ``params`` for dataset ``name`` and return them completed with defaults.

    Raises
    ------
    ValueError
        Unknown dataset, unknown parameter, wrong type or a value out of range; the
        message names the parameter and its allowed range.
    """
    if not isinstance(name, str) or name not in REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(REGISTRY)}")
    info = REGISTRY[name]
    if params is not None and not isinstance(params, dict):
        raise ValueError(f"dataset.params must be an object, got {type(params).__name__}")
    params = dict(params or {})
    known = {p.name: p for p in info.params}
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ValueError(
            f"dataset {name!r} has no parameter {unknown[0]!r}; its parameters are: "
            f"{', '.join(known) or 'none'}"
        )
    out: dict[str, Any] = {}
    for p in info.params:
        value = params.get(p.name, p.default)
        between = f"between {p.low:g} and {p.high:g}"
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"dataset.{p.name} must be a number {between}, got {value!r}")
        if not (p.low <= value <= p.high):  # also rejects nan; exact for huge integers
            raise ValueError(f"dataset.{p.name} must be {between}, got {value}")
        if p.kind is int:
            if float(value) != int(value):
                raise ValueError(
                    f"dataset.{p.name} must be a whole number {between}, got {value!r}"
                )
            value = int(value)
        else:
            value = float(value)
        out[p.name] = value
    return out


def load(name: str, seed: int = 42, **params: Any) -> tuple[np.ndarray, np.ndarray]:
    """Generate dataset ``name``.

    Parameters
    ----------
    name : a key of :data:`REGISTRY`.
    seed : seed of every random choice; the same seed gives the same arrays.
    **params : the dataset's parameters (see ``REGISTRY[name].params``).

    Returns
    -------
    X : (n_samples, 2) float32 inputs.
    y : (n_samples,) float32 labels, 0 or 1.
    """
    checked = check_params(name, params)
    rng = np.random.default_rng(seed)
    X, y = REGISTRY[name].make(**checked, rng=rng)
    return np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.float32)


@dataclass(frozen=True)
class PreparedData:
    """Training (and optional validation) arrays ready for a model."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None


def split_and_standardize(
    X: np.ndarray, y: np.ndarray, *, validation_split: float = 0.0,
    standardize: bool = False, seed: int = 42,
) -> PreparedData:
    """Hold out a stratified share of the samples and optionally standardise.

    The mean and scale come from the training part only and are applied to both parts.
    """
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    X_val = y_val = None
    if validation_split > 0:
        from sklearn.model_selection import train_test_split

        # Stratify when every class can be on both sides (else sklearn refuses, e.g. a
        # 1-sample validation share of 2 classes).
        _, counts = np.unique(y, return_counts=True)
        n_val = math.ceil(validation_split * len(y))
        can_stratify = counts.size > 1 and counts.min() >= 2 and (
            min(n_val, len(y) - n_val) >= counts.size
        )
        stratify = y if can_stratify else None
        X, X_val, y, y_val = train_test_split(
            X, y, test_size=validation_split, random_state=seed, stratify=stratify
        )
    mean = scale = None
    if standardize:
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        X = (X - mean) / scale
        if X_val is not None:
            X_val = (X_val - mean) / scale
    return PreparedData(_as32(X), _as32(y), _as32(X_val), _as32(y_val), mean, scale)


def _as32(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else np.ascontiguousarray(a, dtype=np.float32)


def prepare(dataset_spec: Any) -> PreparedData:
    """Arrays for a ``replay_core.spec.DatasetSpec``: generated, split, standardised."""
    X, y = load(dataset_spec.name, seed=dataset_spec.seed, **dataset_spec.params)
    return split_and_standardize(
        X, y, validation_split=dataset_spec.validation_split,
        standardize=dataset_spec.standardize, seed=dataset_spec.seed,
    )
