"""Side by side comparison of runs: which settings differ, and a few figures per run.

Numpy only; the Compare page and the comparison renderer read these, tests check them on
arrays.

Example
-------
>>> from replay_core import presets
>>> config_differences({"sigmoid": presets.get("reference").to_dict(),
...                     "tanh": presets.get("reference_tanh").to_dict()})
[{'field': 'model.layers[0].activation', 'sigmoid': 'sigmoid', 'tanh': 'tanh'}]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from replay_core.replay.views import LossAndMetricView

__all__ = ["MISSING", "config_differences", "flatten_spec", "key_figures"]

MISSING = None
"""The value a run gets for a field its spec does not have (or when it has no spec)."""


def flatten_spec(spec: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Leaves of a nested spec dict by dotted path; list items as ``name[i]``.

    >>> flatten_spec({"model": {"layers": [{"units": 2}], "l2": 0.0}})
    {'model.layers[0].units': 2, 'model.l2': 0.0}
    """
    flat: dict[str, Any] = {}
    for key, value in spec.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        _flatten_into(flat, path, value)
    return flat


def _flatten_into(flat: dict[str, Any], path: str, value: Any) -> None:
    if isinstance(value, Mapping):
        if not value:
            flat[path] = {}
        for key, item in value.items():
            _flatten_into(flat, f"{path}.{key}", item)
    elif isinstance(value, (list, tuple)):
        if not value:
            flat[path] = []
        for i, item in enumerate(value):
            _flatten_into(flat, f"{path}[{i}]", item)
    else:
        flat[path] = value


def config_differences(specs: Mapping[str, Mapping[str, Any] | None]) -> list[dict[str, Any]]:
    """One row per spec field whose value differs between the runs that have a spec.

    Parameters
    ----------
    specs : run name -> the run's spec as a dict (``RunSpec.to_dict()``), or None for a
        run without a recorded spec (a DeepReplay file).

    Returns
    -------
    list of dict
        ``{"field": dotted path, <run name>: value, ...}`` in the order the fields first
        appear; a run lacking the field (fewer layers, no spec) gets ``MISSING``. Runs
        without a spec take no part in deciding what differs, so with fewer than two
        specs the list is empty.
    """
    flat = {name: (flatten_spec(spec) if spec else None) for name, spec in specs.items()}
    known = [f for f in flat.values() if f is not None]
    fields: dict[str, None] = {}
    for f in known:
        fields.update(dict.fromkeys(f))
    rows = []
    for field in fields:
        present = [f.get(field, MISSING) for f in known]
        if all(_same(present[0], v) for v in present[1:]):
            continue
        row: dict[str, Any] = {"field": field}
        for name, f in flat.items():
            row[name] = MISSING if f is None else f.get(field, MISSING)
        rows.append(row)
    return rows


def _same(a: Any, b: Any) -> bool:
    # 1 and 1.0 are the same setting; True and 1 are not.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def key_figures(replay: Any) -> dict[str, Any]:
    """The figures that tell runs apart, from the whole-dataset loss and accuracy curves.

    Parameters
    ----------
    replay : a ``Replay`` (its ``loss_and_metric()`` is computed), ``ReplayViews`` or a
        ``LossAndMetricView``.

    Returns
    -------
    dict
        ``n_epochs``; ``first_perfect_epoch``: the first epoch (>= 1) whose weights
        classify every training sample correctly, None when none does ("never");
        ``final_loss`` and ``final_accuracy`` at the last stored epoch;
        ``best_val_loss`` (the lowest validation loss over epochs >= 1, epoch 0 when
        there is no finished epoch) and ``best_val_epoch``, both None without validation
        data.
    """
    lm = _loss_and_metric(replay)
    accuracy = np.asarray(lm.accuracy, float)
    loss = np.asarray(lm.loss, float)
    n_epochs = len(accuracy) - 1
    perfect = np.flatnonzero(accuracy[1:] >= 1.0)
    best_val_loss = best_val_epoch = None
    if lm.val_loss is not None:
        val = np.asarray(lm.val_loss, float)
        first = 1 if n_epochs >= 1 else 0
        finite = np.where(np.isfinite(val[first:]), val[first:], np.inf)
        if np.isfinite(finite).any():
            best_val_epoch = int(np.argmin(finite)) + first
            best_val_loss = float(val[best_val_epoch])
    return {
        "n_epochs": n_epochs,
        "first_perfect_epoch": int(perfect[0]) + 1 if perfect.size else None,
        "final_loss": float(loss[-1]),
        "final_accuracy": float(accuracy[-1]),
        "best_val_loss": best_val_loss,
        "best_val_epoch": best_val_epoch,
    }


def _loss_and_metric(source: Any) -> LossAndMetricView:
    if isinstance(source, LossAndMetricView):
        return source
    lm = getattr(source, "loss_and_metric", None)
    if callable(lm):
        lm = lm()
    if not isinstance(lm, LossAndMetricView):
        raise TypeError("key_figures needs a Replay, ReplayViews or LossAndMetricView, got "
                        f"{type(source).__name__}")
    return lm
