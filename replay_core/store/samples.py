"""The checks of a run's samples (inputs and targets), one sentence for each fault.

The recorder (when its callback is built), the writer (when a run starts), the upload
check (on a file's arrays) and replay (on a run read back or given as arrays) check
samples with these functions, so a fault reads the same wherever it is caught. Every
check raises ``RunFileError`` (a ``ValueError`` too); its message starts with
``where: `` when a ``where`` is given (e.g. ``run 'a'``).

Example
-------
>>> import numpy as np
>>> X = check_inputs(np.zeros((4, 2)))
>>> y = check_targets([0, 1, 1, 0], len(X))
>>> check_classes(y, classes=2)
>>> check_targets([0, 1, 1], len(X), where="run 'a'")
Traceback (most recent call last):
...
replay_core.errors.RunFileError: run 'a': inputs has 4 rows but targets has 3
"""

from __future__ import annotations

from typing import Any

import numpy as np

from replay_core.errors import RunFileError

__all__ = ["check_classes", "check_features", "check_finite", "check_inputs", "check_rows",
           "check_targets", "class_indices"]

_NUMERIC = "fiub"  # float, signed and unsigned integer, bool


def _at(where: str) -> str:
    return f"{where}: " if where else ""


def check_inputs(values: Any, what: str = "inputs", where: str = "", *,
                 column: bool = False) -> np.ndarray:
    """``values`` as a numeric (samples, features) array.

    Parameters
    ----------
    values : the inputs, array-like.
    what, where : how the message names the array and the run.
    column : take a 1-D array as one feature, (N,) -> (N, 1).

    Raises
    ------
    RunFileError
        Not 2-D (``inputs must be 2-D (samples, features); got shape (4,)``) or not
        numeric.
    """
    arr = np.asarray(values)
    if column and arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise RunFileError(f"{_at(where)}{what} must be 2-D (samples, features); got shape "
                           f"{arr.shape}")
    if arr.dtype.kind not in _NUMERIC:
        raise RunFileError(f"{_at(where)}{what} must be numeric; got dtype {arr.dtype}")
    return arr


def check_rows(rows: int, n: int, what: str = "targets", of: str = "inputs",
               where: str = "") -> None:
    """``RunFileError`` unless ``what`` has as many rows (``rows``) as ``of`` (``n``)."""
    if rows != n:
        raise RunFileError(f"{_at(where)}{of} has {n} rows but {what} has {rows}")


def check_targets(values: Any, n: int, what: str = "targets", of: str = "inputs",
                  where: str = "") -> np.ndarray:
    """``values`` as a numeric (samples,) or (samples, k) array of ``n`` rows.

    Raises
    ------
    RunFileError
        Another shape or dtype, or another number of rows than ``of`` has
        (``inputs has 4 rows but targets has 3``).
    """
    arr = np.asarray(values)
    if arr.ndim not in (1, 2) or arr.dtype.kind not in _NUMERIC:
        raise RunFileError(f"{_at(where)}{what} must be numeric (samples,) or (samples, k); got "
                           f"shape {arr.shape} and dtype {arr.dtype}")
    check_rows(len(arr), n, what, of, where)
    return arr


def check_features(got: int, want: int, what: str = "val_inputs", of: str = "inputs",
                   where: str = "") -> None:
    """``RunFileError`` unless ``what`` has as many features (``got``) as ``of`` (``want``)."""
    if got != want:
        raise RunFileError(f"{_at(where)}{what} have {got} features but {of} have {want}")


def check_finite(values: np.ndarray, what: str = "inputs", where: str = "") -> None:
    """``RunFileError`` counting the NaN and infinite values, when there are any."""
    bad = ~np.isfinite(values)
    if bad.any():
        raise RunFileError(f"{_at(where)}{what} holds {int(bad.sum())} NaN or infinite values")


def check_classes(targets: np.ndarray, classes: int, what: str = "targets",
                  where: str = "") -> None:
    """Targets must be class indices of the output, so every view can index, count and
    colour by them: finite whole numbers 0 to ``classes - 1``, or one-hot rows of
    ``classes`` columns.

    Raises
    ------
    RunFileError
        E.g. ``targets holds 3 values that are not class indices 0 to 1 (e.g. 0.5)``.
    """
    y = np.asarray(targets, dtype=np.float64)
    check_finite(y, what, where)
    if y.ndim == 2 and y.shape[1] > 1:
        if y.shape[1] != classes:
            raise RunFileError(f"{_at(where)}{what} has {y.shape[1]} one-hot columns but the "
                               f"output has {classes} classes")
        if not np.isin(y, (0.0, 1.0)).all() or not (y.sum(axis=1) == 1).all():
            raise RunFileError(f"{_at(where)}{what} has {y.shape[1]} columns but its rows are "
                               "not one-hot (a single 1 among 0s)")
        return
    bad = (y < 0) | (y >= classes) | (y != np.floor(y))
    if bad.any():
        value = float(y.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]])
        raise RunFileError(f"{_at(where)}{what} holds {int(bad.sum())} values that are not "
                           f"class indices 0 to {classes - 1} (e.g. {value:g})")


def class_indices(targets: np.ndarray) -> np.ndarray:
    """(N,) float64 class indices: a (N, 1) column squeezed, one-hot (N, k) rows argmaxed."""
    t = np.asarray(targets, dtype=np.float64)
    if t.ndim == 2 and t.shape[1] == 1:
        return t[:, 0]
    if t.ndim == 2 and t.shape[1] > 1:
        return np.argmax(t, axis=1).astype(np.float64)
    return t
