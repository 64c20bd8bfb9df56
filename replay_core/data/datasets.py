"""Datasets for classification: toy sets generated offline from a seed, and small real sets.

Every dataset is registered with its parameters, their defaults and allowed ranges, so a
user interface can build its controls from :data:`REGISTRY` and a spec can be validated
against it. Most are 2-D and binary; ``blobs`` and ``spiral`` take a number of classes,
``ball`` and ``hypercube`` a number of dimensions, and ``iris``, ``wine`` and
``breast_cancer`` are scikit-learn's bundled real datasets (fixed size, no download).
:func:`n_classes`, :func:`input_dim` and :func:`n_samples` tell the shape of a dataset
without generating it.

Example
-------
>>> from replay_core import datasets
>>> X, y = datasets.load("moons", n_samples=200, noise=0.1, seed=0)
>>> X.shape, y.shape
((200, 2), (200,))
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

# Preparing a dataset for a model (split, standardise) is in ``prepared``; re-exported.
from replay_core.data.prepared import PreparedData as PreparedData
from replay_core.data.prepared import prepare as prepare
from replay_core.data.prepared import split_and_standardize as split_and_standardize


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
    classes: int | Callable[[dict[str, Any]], int] = 2
    """Number of classes, or a function of the checked parameters giving it."""
    features: int | Callable[[dict[str, Any]], int] = 2
    """Number of input features, or a function of the checked parameters giving it."""
    size: int | Callable[[dict[str, Any]], int] | None = None
    """Number of samples of a fixed-size dataset; None when ``n_samples`` sets it."""
    standardize: bool = False
    """Recommended: features on very different scales train badly unless standardised."""
    class_names: tuple[str, ...] = ()
    """What the data calls its classes (a real set's ``target_names``); the neutral
    ``class 0``, ``class 1``... when empty."""

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
    n_samples: int, cluster_std: float, centers: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_blobs

    return make_blobs(
        n_samples=n_samples, centers=centers, n_features=2, cluster_std=cluster_std,
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
    n_samples: int, noise: float, turns: float, arms: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    # Arm k is class k, turned by k/arms of a full turn; the last arm takes the remainder.
    per_arm = n_samples // arms
    sizes = [per_arm] * (arms - 1) + [n_samples - per_arm * (arms - 1)]
    Xs, ys = [], []
    for arm, size in enumerate(sizes):
        t = np.linspace(0.0, 1.0, size)
        angle = 2 * np.pi * turns * t + arm * (2 * np.pi / arms)
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


def _ball(
    n_samples: int, dims: int, radius_fraction: float, hollow: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    # DeepReplay's n-ball: points spread uniformly in a ball of radius sqrt(dims) (or on
    # its surface only, a hollow ball), scaled to unit standard deviation; a point is
    # positive when |x1 + ... + xd| exceeds radius_fraction of the (scaled) radius, i.e.
    # when it lies beyond one of two parallel hyperplanes.
    radius = math.sqrt(dims)
    points = rng.normal(size=(n_samples, dims))
    X = radius * points / np.linalg.norm(points, axis=1, keepdims=True)
    if not hollow:
        X = X * rng.uniform(size=(n_samples, 1)) ** (1.0 / dims)
    adjustment = 1.0 / np.std(X)
    X = X * adjustment
    y = (np.abs(X.sum(axis=1)) > radius * adjustment * radius_fraction).astype(float)
    return X, y


def _hypercube(dims: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # DeepReplay's hypercube: every vertex of [-1, 1]^dims once, positive when at least
    # half of its coordinates are +1; shuffled.
    X = np.array(list(itertools.product((-1.0, 1.0), repeat=dims)))
    y = ((X > 0).sum(axis=1) >= dims / 2.0).astype(float)
    order = rng.permutation(len(X))
    return X[order], y[order]


def _bundled(loader: str) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """A maker for one of scikit-learn's bundled datasets, shuffled by the seed."""

    def make(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        import sklearn.datasets

        X, y = getattr(sklearn.datasets, loader)(return_X_y=True)
        order = rng.permutation(len(X))
        return X[order], y[order]

    make.__name__ = f"_{loader}"
    return make


def _sk_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def _dims(default: int = 3) -> ParamInfo:
    return ParamInfo("dims", int, default, 3, 10, "number of input dimensions")


REGISTRY: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("parabola", "Parabolas (seed article)",
                    (_n(2000), _noise(0.0)), _parabola,
                    "x1 evenly spaced in [-1, 1]; class 0 on x2 = x1², class 1 on x2 = x1² − 0.5"),
        DatasetInfo("moons", "Two moons", (_n(500), _noise(0.1)), _moons,
                    "two interleaving half circles"),
        DatasetInfo("circles", "Circles",
                    (_n(500), _noise(0.1),
                     ParamInfo("factor", float, 0.5, 0.05, 0.95, "inner radius / outer radius")),
                    _circles, "a small circle inside a large one"),
        DatasetInfo("blobs", "Blobs",
                    (_n(500), ParamInfo("cluster_std", float, 1.0, 0.1, 5.0, "spread of each blob"),
                     ParamInfo("centers", int, 2, 2, 6, "number of blobs, one class each")),
                    _blobs, "Gaussian clouds, one class each",
                    classes=lambda p: p["centers"]),
        DatasetInfo("tricky", "Tricky", (_n(500), _noise(0.0)), _tricky,
                    "two separable sets side by side, classes swapped in the second"),
        DatasetInfo("xor", "XOR", (_n(500), _noise(0.0)), _xor,
                    "class 1 where exactly one coordinate is negative"),
        DatasetInfo("spiral", "Spiral",
                    (_n(500), _noise(0.02, high=0.5),
                     ParamInfo("turns", float, 1.5, 0.25, 4.0, "turns of each arm"),
                     ParamInfo("arms", int, 2, 2, 3, "number of arms, one class each")),
                    _spiral, "interleaved spiral arms, one class each",
                    classes=lambda p: p["arms"]),
        DatasetInfo("gaussian_quantiles", "Gaussian quantiles", (_n(500),), _gaussian_quantiles,
                    "inner and outer shells of one Gaussian cloud"),
        DatasetInfo("ball", "Ball (n dimensions)",
                    (_n(1000), _dims(10),
                     ParamInfo("radius_fraction", float, 0.5, 0.05, 1.0,
                               "positive beyond this share of the radius along the diagonal"),
                     ParamInfo("hollow", int, 0, 0, 1, "1: points on the sphere only")),
                    _ball,
                    "points in a ball (or on a hollow sphere) of `dims` dimensions; positive "
                    "when |x1 + … + xd| is beyond a share of the radius (DeepReplay's ball)",
                    features=lambda p: p["dims"]),
        DatasetInfo("hypercube", "Hypercube vertices", (_dims(10),), _hypercube,
                    "the 2^dims vertices of [-1, 1]^dims; positive when at least half the "
                    "coordinates are +1 (DeepReplay's hypercube)",
                    features=lambda p: p["dims"], size=lambda p: 2 ** p["dims"]),
        DatasetInfo("iris", "Iris (real data)", (), _bundled("load_iris"),
                    "150 iris flowers, 4 measurements, 3 species (scikit-learn's copy)",
                    classes=3, features=4, size=150, standardize=True,
                    class_names=("setosa", "versicolor", "virginica")),
        DatasetInfo("wine", "Wine (real data)", (), _bundled("load_wine"),
                    "178 wines, 13 chemical measurements, 3 cultivars (scikit-learn's copy)",
                    classes=3, features=13, size=178, standardize=True,
                    class_names=("class_0", "class_1", "class_2")),
        DatasetInfo("breast_cancer", "Breast cancer (real data)", (),
                    _bundled("load_breast_cancer"),
                    "569 tumours, 30 cell-nucleus measurements, malignant (0) or benign (1) "
                    "(scikit-learn's copy)",
                    features=30, size=569, standardize=True,
                    class_names=("malignant", "benign")),
    )
}


def names() -> list[str]:
    """Names of the registered datasets."""
    return list(REGISTRY)


EXTERNAL = {"csv": "replay_core.data.csv_data"}
"""Datasets read from a session's folder rather than generated (an uploaded CSV file):
name -> module with ``check_params(params)``, ``shape(params, what)`` and ``load(params)``."""


def _external(name: Any) -> Any:
    """The module serving external dataset ``name``, or None for a generated one."""
    if isinstance(name, str) and name in EXTERNAL:
        import importlib

        return importlib.import_module(EXTERNAL[name])
    return None


def _shape_value(name: str, params: dict[str, Any] | None, what: str) -> int | None:
    if (external := _external(name)) is not None:
        return external.shape(params, what)
    checked = check_params(name, params)
    value = getattr(REGISTRY[name], what)
    return int(value(checked)) if callable(value) else value


def n_classes(name: str, params: dict[str, Any] | None = None) -> int:
    """Number of classes of dataset ``name`` with ``params`` (validated), without making it.

    >>> n_classes("spiral", {"arms": 3}), n_classes("moons")
    (3, 2)
    """
    return _shape_value(name, params, "classes")


def input_dim(name: str, params: dict[str, Any] | None = None) -> int:
    """Number of input features of dataset ``name`` with ``params``, without making it.

    >>> input_dim("ball", {"dims": 5}), input_dim("wine")
    (5, 13)
    """
    return _shape_value(name, params, "features")


def n_samples(name: str, params: dict[str, Any] | None = None) -> int:
    """Number of samples of dataset ``name`` with ``params``, without making it.

    >>> n_samples("hypercube", {"dims": 4}), n_samples("moons", {"n_samples": 300})
    (16, 300)
    """
    size = _shape_value(name, params, "size")
    return int(check_params(name, params)["n_samples"]) if size is None else size


MAX_CLASS_NAME = 40
"""Characters of one class name, as stored in a run and shown in tables."""


def default_class_names(k: int) -> tuple[str, ...]:
    """The neutral names of ``k`` classes: ``("class 0", "class 1", ...)``."""
    return tuple(f"class {c}" for c in range(int(k)))


def clean_class_name(name: Any) -> str:
    """``name`` as a storable class name: text, trimmed, control characters replaced,
    at most :data:`MAX_CLASS_NAME` characters (a longer one ends in "…").

    >>> clean_class_name("  a b  "), len(clean_class_name("x" * 99))
    ('a b', 40)
    """
    text = "".join(ch if ch.isprintable() else " " for ch in str(name)).strip()
    if len(text) > MAX_CLASS_NAME:
        text = text[: MAX_CLASS_NAME - 1].rstrip() + "…"
    return text


def check_class_names(value: Any, k: int) -> tuple[str, ...] | None:
    """``value`` as ``k`` class names, or None when it is not exactly ``k`` strings of 1 to
    :data:`MAX_CLASS_NAME` printable characters once trimmed (read from a file: hostile).

    >>> check_class_names(["cat ", "dog"], 2), check_class_names(["cat"], 2)
    (('cat', 'dog'), None)
    """
    if not isinstance(value, list | tuple) or len(value) != k:
        return None
    names = []
    for name in value:
        if not isinstance(name, str) or len(name) > 4 * MAX_CLASS_NAME:
            return None
        name = name.strip()
        if not 0 < len(name) <= MAX_CLASS_NAME or not name.isprintable():
            return None
        names.append(name)
    return tuple(names)


def class_names(dataset_spec: Any) -> tuple[str, ...]:
    """The names of a dataset's classes, in class-index order.

    ``dataset_spec`` is a ``DatasetSpec`` (or a dict with ``name`` and ``params``, as in a
    stored spec). A real set gives scikit-learn's ``target_names`` (Iris: setosa,
    versicolor, virginica); an uploaded CSV its class column's values as written (when
    its data is in the current data folder); a generated set ``class 0``, ``class 1``...

    >>> class_names({"name": "iris"}), class_names({"name": "moons"})
    (('setosa', 'versicolor', 'virginica'), ('class 0', 'class 1'))
    """
    if isinstance(dataset_spec, dict):
        name, params = dataset_spec.get("name"), dataset_spec.get("params")
    else:
        name, params = getattr(dataset_spec, "name", None), getattr(dataset_spec, "params", None)
    k = n_classes(name, params)
    if (external := _external(name)) is not None:
        try:
            stored = external.stored(params).class_names
        except ValueError:  # the CSV's data is not in this folder: neutral names
            return default_class_names(k)
        return check_class_names([clean_class_name(c) for c in stored], k) or (
            default_class_names(k))
    return REGISTRY[name].class_names or default_class_names(k)


def check_params(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate ``params`` for dataset ``name`` and return them completed with defaults.

    Raises
    ------
    ValueError
        Unknown dataset, unknown parameter, wrong type or a value out of range; the
        message names the parameter and its allowed range.
    """
    if (external := _external(name)) is not None:
        return external.check_params(params)
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
    X : (n_samples, input_dim) float32 inputs.
    y : (n_samples,) float32 labels, the class index 0 .. n_classes - 1.
    """
    checked = check_params(name, params)
    if (external := _external(name)) is not None:  # stored data: the seed plays no part
        X, y = external.load(checked)
        return np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.float32)
    rng = np.random.default_rng(seed)
    X, y = REGISTRY[name].make(**checked, rng=rng)
    return np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.float32)
