"""Every read and write of the HDF5 run file, in one import: one run is one top-level group.

The layout is DeepReplay's (attrs ``samples``, ``batch_size``, ``n_batches``,
``n_epochs``, ``n_layers``, ``activation_functions``; datasets ``inputs``, ``targets``,
``loss``, ``acc``, ``layer{i}/weights{j}``) with our additions beside it (``format``,
``spec``, ``status``, ``epochs_done``, ``created``, ``versions``, ``layer_names``,
``activation_config``, ``lr``, ``val_*``). Our datasets grow by one row per epoch and are
flushed every epoch, so a run cut off at any moment reads back the epochs it finished;
files written by the original DeepReplay package read back too.

This module is the store's public front; the work is done, in import order, by
``records`` (what a run holds), ``opening`` (opening files, their errors, the files this
process writes), ``layout`` (where a run sits in a file), ``reader`` (``list_runs``,
``read_run``), ``writer`` (``RunWriter``), ``edit`` (delete, rename, copy) and
``upload`` (``validate_file``: the checks of a file nobody here wrote). Readers open the
file read-only, copy what they need into memory and close it. Nothing here imports
TensorFlow.

Example
-------
>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "runs.h5")
>>> kernel, bias = np.zeros((2, 1), np.float32), np.zeros(1, np.float32)
>>> with RunWriter(path, "demo", inputs=np.zeros((4, 2)), targets=np.zeros(4),
...                layer_names=["out"], activation_config=[{"name": "sigmoid"}],
...                initial_weights=[[kernel, bias]], samples=4, batch_size=2,
...                n_epochs=1) as writer:
...     writer.append_epoch([[kernel + 1, bias]], {"loss": 0.5, "accuracy": 1.0}, lr=0.1)
...     writer.set_status("complete")
>>> run = read_run(path, "demo")
>>> run.epochs_done, run.weights[0][0].shape, sorted(run.logs)
(1, (2, 2, 1), ['acc', 'loss', 'lr'])
"""

from __future__ import annotations

import os

from replay_core.errors import RunExistsError, RunFileError, RunNotFoundError
from replay_core.store import upload
from replay_core.store.edit import copy_runs, delete_run, mark_interrupted, rename_run
from replay_core.store.names import MAX_NAME_LENGTH, check_name
from replay_core.store.opening import effective_status, open_for_writing, writer_alive
from replay_core.store.reader import list_runs, read_run
from replay_core.store.records import (
    FORMAT,
    LOG_NAMES,
    STATUSES,
    EpochRecord,
    RunData,
    RunSummary,
    check_status,
    stored_logs,
)
from replay_core.store.writer import RunWriter, WriterState

__all__ = [
    "FORMAT", "LOG_NAMES", "MAX_NAME_LENGTH", "STATUSES", "EpochRecord", "RunData",
    "RunExistsError", "RunFileError", "RunNotFoundError", "RunSummary", "RunWriter",
    "WriterState", "check_name", "check_status", "copy_runs", "delete_run",
    "effective_status", "list_runs", "mark_interrupted", "open_for_writing", "read_run",
    "rename_run", "stored_logs", "validate_file", "writer_alive",
]


def validate_file(path: str | os.PathLike, display_name: str | None = None) -> list[str]:
    """Check that ``path`` is a run file replay can read; return its run names.

    The one validation of run files, ``upload.check_file`` with the default limits: the
    HDF5 signature, that the file opens and stays inside itself (no links, external
    storage or virtual datasets), its structure and declared sizes, that it holds at
    least one run, and for each run: inputs 2-D numeric and finite, targets class indices
    of the output, the layer groups and weight datasets (at least one epoch row, Dense
    kernels chaining from the inputs' width), the activations, and our attributes when
    present. ``display_name`` is how messages name the file (its base name when None).

    Raises ``RunFileError`` with one sentence saying what is wrong, e.g. ``'x.h5' is not
    an HDF5 file``, ``'x.h5' run 'a': inputs has 3 rows but targets has 4``.
    """
    return upload.check_file(path, display_name)
