"""A dataset made ready for a model: generated, split into training and validation, standardised.

``datasets`` generates the samples; this module holds out a stratified validation share
and standardises with the training part's mean and scale (:func:`prepare` for a
``DatasetSpec``, :func:`split_and_standardize` for arrays). ``datasets`` re-exports both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

__all__ = ["PreparedData", "prepare", "split_and_standardize"]


@dataclass(frozen=True)
class PreparedData:
    """Training (and optional validation) arrays ready for a model."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    n_classes: int = 2
    class_names: tuple[str, ...] = ()
    """The classes' names in index order (see ``datasets.class_names``)."""


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
    """Arrays for a ``replay_core.data.spec.DatasetSpec``: generated, split, standardised."""
    # Imported here: ``datasets`` re-exports this module's names, so it loads first.
    from replay_core.data import datasets

    X, y = datasets.load(dataset_spec.name, seed=dataset_spec.seed, **dataset_spec.params)
    data = split_and_standardize(
        X, y, validation_split=dataset_spec.validation_split,
        standardize=dataset_spec.standardize, seed=dataset_spec.seed,
    )
    return replace(data, n_classes=datasets.n_classes(dataset_spec.name, dataset_spec.params),
                   class_names=datasets.class_names(dataset_spec))
