"""Train configurations over many seeds in parallel, to tell luck from hyper-parameters.

A sweep trains every configuration with the same N seeds (1 to N: the training seed,
which sets the initial weights and the shuffling; the data stay the same). The runs of
one graph (every seed of a configuration; see ``batched.group_key``) train together as
one batched computation, one compiled program for the group, in a worker process with
its own TensorFlow (or in the calling process with ``in_process``). HDF5 files are not
safe for concurrent writers, so the workers never open the run file: each run's writer
in a worker forwards each call it would make on its ``RunWriter`` (open the run, append
an epoch, set the status, close) through a queue to the calling process, which is the
file's only writer. Every run carries the attribute ``sweep`` (id, configuration, seed),
so a sweep can be read back from the file later (:func:`read_sweep`). The figures that
compare seeds come from the training program itself (whole training set, end-of-epoch
weights), so a finished sweep is summarised without replaying its runs.

A stop (``stop_event``, Ctrl-C, or an exception raised by ``on_progress``, such as a
Streamlit rerun) ends the sweep after the current epoch: finished runs stay in the file,
and so do the runs it ended midway, with their finished epochs (status ``stopped``).

Example
-------
>>> from replay_core import presets, sweep                               # doctest: +SKIP
>>> configs = {a: presets.get(p) for a, p in [("sigmoid", "reference"),
...                                          ("relu", "reference_relu")]}  # doctest: +SKIP
>>> result = sweep.run_sweep(sweep.plan(configs, 10), "sweep.h5")       # doctest: +SKIP
>>> print(sweep.summary_table(result.runs))                             # doctest: +SKIP

This module is the sweep's public front; the work is in the modules it re-exports, in
the order of the data flow: ``sweep_plan`` (configurations x seeds -> tasks, budget),
``sweep_running`` (the tasks trained on the worker pool, the run file written),
``sweep_results`` (a sweep read back from the file, summarised per configuration) and
``machine`` (the cores and memory the workers may use).
"""

from __future__ import annotations

from replay_core.train.machine import (
    WORKER_MEMORY_BYTES,
    WORKERS_ENV,
    available_memory,
    default_workers,
    usable_cores,
)
from replay_core.train.sweep_plan import (
    MAX_CONFIGS,
    MAX_SEEDS,
    SweepError,
    SweepTask,
    check_budget,
    plan,
)
from replay_core.train.sweep_results import (
    ConfigSummary,
    SweepRun,
    describe_run,
    group_sweeps,
    read_sweep,
    summarize,
    summary_table,
    sweeps_in,
)
from replay_core.train.sweep_running import (
    BUFFER_BYTES,
    BUFFER_EPOCHS,
    HEARTBEAT_S,
    STOP_GRACE_S,
    SweepProgress,
    SweepResult,
    run_sweep,
)

__all__ = [
    "BUFFER_BYTES", "BUFFER_EPOCHS", "HEARTBEAT_S", "MAX_CONFIGS", "MAX_SEEDS", "STOP_GRACE_S",
    "WORKERS_ENV", "WORKER_MEMORY_BYTES", "ConfigSummary", "SweepError", "SweepProgress",
    "SweepResult", "SweepRun", "SweepTask", "available_memory", "check_budget",
    "default_workers", "describe_run", "group_sweeps", "plan", "read_sweep", "run_sweep",
    "summarize", "summary_table", "sweeps_in", "usable_cores",
]
