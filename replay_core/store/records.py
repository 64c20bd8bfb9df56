"""What a run file holds, as Python values: the records and the names of the layout.

The layout is DeepReplay's (attrs ``samples``, ``batch_size``, ``n_batches``,
``n_epochs``, ``n_layers``, ``activation_functions``; datasets ``inputs``, ``targets``,
``loss``, ``acc``, ``layer{i}/weights{j}``) with our additions beside it (``format``,
``spec``, ``status``, ``epochs_done``, ``created``, ``versions``, ``layer_names``,
``activation_config``, ``class_names``, ``lr``, ``val_*``). This module holds the records a reader returns
(``RunData``, ``RunSummary``) and the recorder hands on (``EpochRecord``), the statuses,
and how Keras log names become stored names; it opens no file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from replay_core.errors import RunFileError

__all__ = [
    "DATA_NAMES", "FORMAT", "LAYER_KEY", "LOG_NAMES", "STATUSES", "WEIGHTS_KEY",
    "EpochRecord", "RunData", "RunSummary", "check_status", "stored_logs",
]

FORMAT = "deepreplay-studio/1"
STATUSES = ("running", "complete", "stopped", "diverged", "failed")

LOG_NAMES = {"accuracy": "acc", "val_accuracy": "val_acc"}
"""Keras 3 log names -> the names stored in the run (DeepReplay's ``acc``)."""

_NOT_METRICS = frozenset({"learning_rate", "lr"})  # the rate goes to the `lr` dataset
# The run's own datasets and groups: no metric may take these names.
DATA_NAMES = frozenset({"inputs", "targets", "val_inputs", "val_targets"})
LAYER_KEY = re.compile(r"^layer(\d+)$")
WEIGHTS_KEY = re.compile(r"^weights(\d+)$")


# -- records --------------------------------------------------------------------------


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch, as the recorder hands it to its ``on_epoch`` sink.

    Args:
        epoch: 1-based epoch number within the run (weights index ``epoch``).
        logs: the epoch's values under their stored names (``loss``, ``acc``,
            ``val_loss``, ``val_acc``...).
        lr: the learning rate in force during the epoch.
        weights: per model layer, its weight arrays after the epoch (``[]`` when none).

    Example
    -------
    >>> EpochRecord(1, {"loss": 0.69}, 0.05, [[]]).epoch
    1
    """

    epoch: int
    logs: dict[str, float]
    lr: float
    weights: list[list[np.ndarray]]


@dataclass(frozen=True)
class RunSummary:
    """What a run list shows about a run, read without loading its weights.

    Args:
        name: the run (top-level group) name.
        status: one of ``STATUSES`` (``complete`` for DeepReplay files).
        epochs_done: epochs stored after the initial state.
        n_epochs: epochs planned.
        samples: number of training samples.
        final_loss, final_acc: the last stored epoch's values (None with 0 epochs, no
            such dataset, or a non-finite value).
        spec: the RunSpec as a dict, or None.
        created: ISO-8601 UTC time the run was started, or None.
        is_deepreplay: written by the original DeepReplay package.
        message: why a run stopped, diverged or failed (empty otherwise).
        sweep: the run's place in a seed sweep (``id``, ``config``, ``seed``), or None.
        class_names: the output classes' names in index order (``class 0``... when the
            run stores none; ``()`` when not read).

    Example
    -------
    >>> RunSummary("a", "complete", 3, 3, 100, 0.4, 0.9, None, None, False).final_acc
    0.9
    """

    name: str
    status: str
    epochs_done: int
    n_epochs: int
    samples: int
    final_loss: float | None
    final_acc: float | None
    spec: dict | None
    created: str | None
    is_deepreplay: bool
    message: str = ""
    sweep: dict | None = None
    # Derived from the run's output and attributes: not part of what makes two equal.
    class_names: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class RunData:
    """A whole run in memory (the file is closed once this exists).

    Args:
        name: the run name.
        inputs: (N, d) float64; targets: (N,) float64 ((N, k) kept for k > 1).
        val_inputs, val_targets: held-out data, or None.
        weights: per model layer, its arrays of shape (epochs_done + 1, *shape), float32;
            ``[]`` for a weightless layer.
        layer_names: one per model layer (``layer0``, ``layer1``... when not stored).
        activation_config: one dict per model layer, ``{"name": ..., **params}``.
        logs: per-epoch values, float64 arrays of length ``epochs_done`` (``loss``,
            ``acc``, ``lr``, ``val_loss``...).
        epochs_done: epochs stored after the initial state.
        status: one of ``STATUSES``.
        spec: the RunSpec as a dict, or None.
        attrs: every group attribute, decoded to Python values.
        message: why the run stopped, diverged or failed (empty otherwise).
        class_names: the output classes' names in index order (``class 0``... when the
            run stores none; ``()`` when not given: ``Replay`` then names them so).

    Example
    -------
    >>> run = read_run("runs.h5", "sigmoid")                   # doctest: +SKIP
    >>> run.weights[0][0].shape                                # doctest: +SKIP
    (151, 2, 2)
    """

    name: str
    inputs: np.ndarray
    targets: np.ndarray
    val_inputs: np.ndarray | None
    val_targets: np.ndarray | None
    weights: list[list[np.ndarray]]
    layer_names: list[str]
    activation_config: list[dict]
    logs: dict[str, np.ndarray]
    epochs_done: int
    status: str
    spec: dict | None
    attrs: dict
    message: str
    class_names: tuple[str, ...] = ()

    @property
    def is_deepreplay(self) -> bool:
        """Written by the original DeepReplay package (no ``format`` attribute)."""
        return "format" not in self.attrs


# -- names --------------------------------------------------------------------------


def stored_logs(logs: Mapping[str, Any]) -> dict[str, float]:
    """Map Keras log names to stored names and values to floats.

    ``accuracy`` -> ``acc``, ``val_accuracy`` -> ``val_acc``; the learning rate
    (``learning_rate``/``lr``) is dropped (it is stored from the optimizer); a nested
    dict (e.g. ``compile_metrics``) is flattened; non-scalar values and names that would
    clash with the run's own datasets are skipped.
    """
    out: dict[str, float] = {}
    for key, value in logs.items():
        if isinstance(value, Mapping):
            for k, v in stored_logs(value).items():
                out.setdefault(k, v)
            continue
        name = LOG_NAMES.get(str(key), str(key)).replace("/", "_")
        if not name or name in _NOT_METRICS or name in DATA_NAMES or LAYER_KEY.match(name):
            continue
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if arr.size == 1 and name not in out:
            out[name] = float(arr.reshape(()))
    return out


def check_status(status: str) -> str:
    """Return ``status`` if it is one of ``STATUSES``, else raise ``RunFileError``."""
    if status not in STATUSES:
        raise RunFileError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    return status
