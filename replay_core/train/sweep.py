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
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import queue
import statistics
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from replay_core.data.spec import RunSpec
from replay_core.errors import ReplayError
from replay_core.store import runfile
from replay_core.store.names import unique_name
from replay_core.train import pool

__all__ = [
    "MAX_SEEDS", "ConfigSummary", "SweepProgress", "SweepResult", "SweepRun", "SweepTask",
    "available_memory", "check_budget", "default_workers", "group_sweeps", "plan",
    "read_sweep", "run_sweep", "summarize", "summary_table", "sweeps_in", "usable_cores",
]

MAX_SEEDS = 200
MAX_CONFIGS = 8
# Seconds between two progress calls while nothing finishes (a caller such as a web page
# uses them to notice a stop request).
HEARTBEAT_S = 0.25
# Seconds the workers get to finish their epoch after a stop before they are killed.
STOP_GRACE_S = 20.0
# The writing process gathers up to this many epochs (or bytes) of a run before writing.
BUFFER_EPOCHS = 256
BUFFER_BYTES = 8 * 2**20


class SweepError(ReplayError, ValueError):
    """A sweep that cannot run as asked (a bad seed count, no configuration...)."""


@dataclass(frozen=True)
class SweepTask:
    """One run of a sweep: a configuration's spec with one seed, and its run name."""

    index: int
    config: str
    seed: int
    run_name: str
    spec_json: str
    sweep_id: str

    @property
    def spec(self) -> RunSpec:
        return RunSpec.from_json(self.spec_json)


@dataclass(frozen=True)
class SweepRun:
    """A finished run of a sweep and the figures that compare seeds.

    Args:
        name: the run's name in the file.
        config, seed: its configuration's label and its training seed.
        status: ``complete`` or ``diverged``.
        epochs_done: epochs recorded.
        first_perfect_epoch: first epoch whose weights classify every training sample
            correctly; None when none does within the run ("never").
        final_loss, final_accuracy: at the last recorded epoch (whole training set,
            replayed weights, as on the Compare page).
        message: the run's status message (early stopping, divergence), or empty.
    """

    name: str
    config: str
    seed: int
    status: str
    epochs_done: int
    first_perfect_epoch: int | None
    final_loss: float
    final_accuracy: float
    message: str = ""


@dataclass(frozen=True)
class SweepProgress:
    """Where a sweep is: ``done`` of ``total`` runs finished (``failed`` among them),
    ``running`` in the workers now, the run that finished last (None on a heartbeat
    or before any finished), and ``epochs_done`` of the ``epochs_total`` epochs its runs
    plan (a run that ends early counts all its planned epochs as done)."""

    done: int
    total: int
    running: int
    failed: int
    last: SweepRun | None = None
    epochs_done: int = 0
    epochs_total: int = 0


@dataclass(frozen=True)
class SweepResult:
    """How a sweep ended: the runs it kept, whether it was stopped, what failed, and the
    runs a stop ended midway (kept in the file with their finished epochs, status
    ``stopped``; not in ``runs``)."""

    sweep_id: str
    runs: list[SweepRun]
    stopped: bool
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 1
    kept_stopped: list[str] = field(default_factory=list)


# -- planning ----------------------------------------------------------------------------


# A worker holds its own TensorFlow: about 0.85 GB resident once it has trained a run
# (measured on the reference run with XLA).
WORKER_MEMORY_BYTES = 900 * 2**20
WORKERS_ENV = "DEEPREPLAY_SWEEP_WORKERS"


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _cgroup_cpus() -> float | None:
    """The CPU quota of this container in cores (cgroup v2 or v1), None when unlimited."""
    v2 = _read("/sys/fs/cgroup/cpu.max")
    if v2:
        quota, _, period = v2.partition(" ")
        if quota != "max" and period:
            return int(quota) / int(period)
        return None
    quota, period = (_read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                     _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))
    if quota and period and int(quota) > 0:
        return int(quota) / int(period)
    return None


def _available_memory() -> int | None:
    """Bytes this process could still use: the container's limit less its usage, or the
    machine's available memory, whichever is smaller; None when unknown."""
    values = []
    for limit_path, usage_path in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read(limit_path), _read(usage_path)
        if limit and usage and limit.isdigit() and usage.isdigit() and int(limit) < 2**60:
            values.append(int(limit) - int(usage))
    meminfo = _read("/proc/meminfo") or ""
    for line in meminfo.splitlines():
        if line.startswith("MemAvailable:"):
            values.append(int(line.split()[1]) * 1024)
    return min(values) if values else None


def usable_cores() -> int:
    """The cores this process may run on, capped by a container's CPU quota (a shared
    server often shows all of the host's cores); at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_cpus()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, int(cores))


def available_memory() -> int | None:
    """Bytes this process could still use (see ``_available_memory``); None when unknown."""
    return _available_memory()


def default_workers() -> int:
    """One worker per core this process may use, as far as memory allows.

    Cores are those of :func:`usable_cores`; each worker needs about
    ``WORKER_MEMORY_BYTES`` of the memory available now. ``DEEPREPLAY_SWEEP_WORKERS``
    sets an upper bound.
    """
    cores = usable_cores()
    memory = _available_memory()
    if memory is not None:
        cores = min(cores, max(1, memory // WORKER_MEMORY_BYTES))
    cap = os.environ.get(WORKERS_ENV, "").strip()
    if cap.isdigit() and int(cap) >= 1:
        cores = min(cores, int(cap))
    return max(1, int(cores))


def _seed_list(seeds: int | Iterable[int]) -> list[int]:
    if isinstance(seeds, bool):
        raise SweepError(f"seeds must be a number of seeds (1 to {MAX_SEEDS}) or a list")
    if isinstance(seeds, int | np.integer):
        if not 1 <= int(seeds) <= MAX_SEEDS:
            raise SweepError(f"the number of seeds must be 1 to {MAX_SEEDS}, got {int(seeds)}")
        return list(range(1, int(seeds) + 1))
    out = [int(s) for s in seeds]
    if not 1 <= len(out) <= MAX_SEEDS:
        raise SweepError(f"give 1 to {MAX_SEEDS} seeds, got {len(out)}")
    if len(set(out)) != len(out):
        raise SweepError("the seeds of a sweep must differ")
    if any(not 0 <= s < 2**31 for s in out):
        raise SweepError("seeds must be whole numbers from 0 to 2147483647")
    return out


def plan(configs: Mapping[str, RunSpec] | Sequence[RunSpec], seeds: int | Iterable[int], *,
         taken: Iterable[str] = (), sweep_id: str | None = None) -> list[SweepTask]:
    """The runs of a sweep: every configuration with every seed.

    Parameters
    ----------
    configs : label -> spec (a sequence is labelled by each spec's hidden activations).
    seeds : a count N (seeds 1 to N) or the seeds themselves; at most ``MAX_SEEDS``.
    taken : run names already in the file; new names avoid them.
    sweep_id : the sweep's id (a new random one when None).

    Returns
    -------
    list of SweepTask, configuration by configuration, seeds in order. Runs are named
    ``<label> seed <s>`` (with `` (2)`` and so on when a name is taken).
    """
    if not isinstance(configs, Mapping):
        configs = _label(list(configs))
    if not configs:
        raise SweepError("a sweep needs at least one configuration")
    if len(configs) > MAX_CONFIGS:
        raise SweepError(f"a sweep takes at most {MAX_CONFIGS} configurations, got "
                         f"{len(configs)}")
    seed_values = _seed_list(seeds)
    sweep_id = sweep_id or uuid.uuid4().hex[:12]
    used = set(taken)
    tasks = []
    for label, spec in configs.items():
        if not isinstance(spec, RunSpec):
            raise SweepError(f"configuration {label!r} is not a RunSpec")
        if not str(label).strip() or "/" in str(label):
            raise SweepError(f"configuration label {label!r} must be non-empty, without '/'")
        data = spec.to_dict()
        for seed in seed_values:
            data["training"]["seed"] = seed
            name = unique_name(f"{label} seed {seed}", used)
            used.add(name)
            tasks.append(SweepTask(len(tasks), str(label), seed, name,
                                   RunSpec.from_dict(data).to_json(), sweep_id))
    return tasks


def _label(specs: list[RunSpec]) -> dict[str, RunSpec]:
    out: dict[str, RunSpec] = {}
    for spec in specs:
        base = "-".join(layer.activation for layer in spec.model.layers)
        out[unique_name(base, set(out))] = spec
    return out


def check_budget(tasks: Sequence[SweepTask], max_budget: float,
                 filename: str | os.PathLike = "runs.h5", *,
                 max_total: float | None = None) -> int:
    """Raise ``TrainingLimitError`` when a run of the sweep costs more than ``max_budget``
    or all its runs together cost more than ``max_total`` (no total limit when None);
    return the total otherwise.

    Costs are those of ``trainer.training_cost``; uploaded CSV data is looked up beside
    ``filename``, as the trainer does.
    """
    from replay_core.data import csv_data, datasets
    from replay_core.errors import TrainingLimitError
    from replay_core.train import trainer

    costs: dict[str, int] = {}  # runs that differ only in their seed cost the same
    total = 0
    for task in tasks:
        data = task.spec.to_dict()
        data["training"]["seed"] = 0
        key = json.dumps(data, sort_keys=True)
        if key not in costs:
            with csv_data.data_folder(os.path.dirname(os.path.abspath(filename))):
                prepared = datasets.prepare(task.spec.dataset)
            costs[key] = trainer._check_budget(task.spec, max_budget, prepared).total
        total += costs[key]
    if max_total is not None and total > max_total:
        configs = len({task.config for task in tasks})
        raise TrainingLimitError(
            f"this sweep costs {total:,} in all ({len(tasks):,} runs of {configs:,} "
            f"configuration{'s' if configs != 1 else ''}), over the sweep budget of "
            f"{max_total:,.0f}; choose fewer seeds or fewer configurations, or cheaper runs"
        )
    return total


# -- the workers -------------------------------------------------------------------------


# The worker loop and the forwarding writer are those of ``pool`` (a server's
# long-lived workers use them too); these names stay for code that imported them here.
_ForwardingWriter = pool.ForwardingWriter
_worker = pool.worker_main


def _train_group(group: Sequence[SweepTask], events: Any, stop: Any,
                 max_budget: float | None, filename: str, worker_id: int) -> None:
    """Train the tasks of one graph as one batched computation (``pool.train_group_unit``)."""
    pool.train_group_unit(pool.GroupUnit(tuple(group), filename, max_budget), events, stop,
                          worker_id)


# -- the writing process -------------------------------------------------------------------


class _Interrupted(BaseException):
    """``on_progress`` raised while training ran in this process: end the training (its
    runs are marked stopped) and raise ``error`` from ``run_sweep``."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _InlineStop:
    def __init__(self, stop_event: Any) -> None:
        self._event = stop_event

    def is_set(self) -> bool:
        return self._event is not None and bool(self._event.is_set())


class _InlineEvents:
    """The message queue of a sweep trained in this process: each message is handled
    (written) at once, and progress reported every ``HEARTBEAT_S`` or when a run ends."""

    def __init__(self, job: _Sweep) -> None:
        self._job = job
        self._last_call = 0.0

    def put(self, msg: tuple) -> None:
        last = self._job.handle(msg)
        on_progress = self._job.on_progress
        now = time.monotonic()
        if on_progress is not None and (last is not None
                                        or now - self._last_call >= HEARTBEAT_S):
            self._last_call = now
            try:
                on_progress(self._job.progress(last))
            except BaseException as exc:
                raise _Interrupted(exc) from exc


_plain_main = pool.plain_main


class _Sweep:
    """The parent's side: hands out tasks, writes the file, tracks what finished."""

    def __init__(self, tasks: Sequence[SweepTask], filename: str, workers: int,
                 max_budget: float | None, on_progress: Callable[[SweepProgress], None] | None,
                 stop_event: Any) -> None:
        from replay_core.train import batched

        self.tasks = list(tasks)
        specs = [task.spec for task in self.tasks]
        # Runs of one graph train together as one batched computation in one worker.
        self.groups = [[self.tasks[i] for i in group] for group in batched.group_specs(specs)]
        self.planned = [spec.training.epochs for spec in specs]
        self.recorded: dict[int, int] = {}  # epochs received per run
        self.kept: set[int] = set()  # runs a stop ended midway, kept with their epochs
        self.filename = filename
        self.on_progress = on_progress
        self.stop_event = stop_event
        self.max_budget = max_budget
        self.ctx = multiprocessing.get_context("spawn")
        self.task_queue = self.ctx.Queue()
        self.events = self.ctx.Queue()
        self.stop = self.ctx.Event()
        self.writers: dict[int, runfile.RunWriter] = {}
        self.buffers: dict[int, list[tuple]] = {}  # epochs not yet written, per run
        self.opened: set[int] = set()      # runs created in the file
        self.finished: dict[int, SweepRun] = {}
        self.failures: dict[int, str] = {}
        self.running: dict[int, int] = {}  # task -> worker
        threads = max(1, default_workers() // max(1, workers))
        self.procs = [
            self.ctx.Process(target=pool.worker_main, name=f"sweep-worker-{i}", daemon=True,
                             args=(i, self.task_queue, self.events, self.stop, None, threads))
            for i in range(workers)]

    # messages from the workers
    def handle(self, msg: tuple) -> SweepRun | None:
        kind = msg[0]
        if kind in ("ready", "idle"):
            return None
        if kind in ("exit", "broken"):
            if kind == "broken":
                self.failures.setdefault(-1 - msg[1], f"a worker could not start: {msg[2]}")
            return None
        index = msg[1]
        task = self.tasks[index]
        if kind == "start":
            self.running[index] = msg[2]
        elif kind == "open":
            try:
                self.writers[index] = runfile.RunWriter(
                    self.filename, task.run_name, **msg[2],
                    sweep={"id": task.sweep_id, "config": task.config, "seed": task.seed,
                           "index": task.index})
                self.opened.add(index)
            except ReplayError as exc:
                self.failures[index] = f"{task.run_name}: {exc}"
        elif kind == "epoch":
            self.recorded[index] = self.recorded.get(index, 0) + 1
            if index in self.writers:
                buffer = self.buffers.setdefault(index, [])
                buffer.append((msg[2], msg[3], msg[4]))
                if len(buffer) >= BUFFER_EPOCHS or sum(
                        w.nbytes for layer in msg[2] for w in layer) * len(buffer) > BUFFER_BYTES:
                    self._write_buffer(index)
        elif kind == "status":
            writer = self.writers.get(index)
            if writer is not None:
                self._write_buffer(index)
                self._guard(index, lambda: writer.set_status(msg[2], msg[3], msg[4]))
                if msg[2] == "stopped" and self.recorded.get(index, 0) > 0:
                    self.kept.add(index)
        elif kind == "close":
            self._write_buffer(index)
            writer = self.writers.pop(index, None)
            if writer is not None:
                writer.close()
        elif kind == "failed":
            self.running.pop(index, None)
            self._drop_writer(index)
            self.failures.setdefault(index, f"{task.run_name}: {msg[2]}")
        elif kind == "done":
            self.running.pop(index, None)
            self._drop_writer(index)
            status = msg[2]
            if index in self.failures or status not in ("complete", "diverged"):
                return None
            if len(msg) > 5:
                # The figures the batched program computed with every epoch's weights:
                # nothing is re-read or replayed.
                figures = msg[5]
                run = SweepRun(name=task.run_name, config=task.config, seed=task.seed,
                               status=status, epochs_done=int(msg[4]),
                               first_perfect_epoch=figures["first_perfect_epoch"],
                               final_loss=float(figures["final_loss"]),
                               final_accuracy=float(figures["final_accuracy"]),
                               message=str(msg[3]))
            else:
                try:
                    run = describe_run(self.filename, task.run_name, task)
                except ReplayError as exc:
                    self.failures[index] = f"{task.run_name}: {exc}"
                    return None
            self.finished[index] = run
            return run
        return None

    def _write_buffer(self, index: int) -> None:
        """Write the epochs gathered for a run in one go (a sweep keeps only finished
        runs, so it need not flush every epoch as a single training does)."""
        epochs = self.buffers.pop(index, None)
        writer = self.writers.get(index)
        if epochs and writer is not None:
            self._guard(index, lambda: writer.append_epochs(epochs))

    def _guard(self, index: int, write: Callable[[], None]) -> None:
        try:
            write()
        except ReplayError as exc:
            self.failures[index] = f"{self.tasks[index].run_name}: {exc}"
            self._drop_writer(index)

    def _keep_stopped(self, index: int) -> None:
        """A run cut off with finished epochs (its worker ended before saying so) is kept,
        marked stopped, like the runs a stop ends between epochs."""
        if self.recorded.get(index, 0) == 0 or index in self.failures:
            return
        self._write_buffer(index)
        writer = self.writers.get(index)
        if writer is None or writer.status != "running" or writer.epochs_done == 0:
            return
        done = writer.epochs_done
        self._guard(index, lambda: writer.set_status(
            "stopped", f"stopped by the user after epoch {done}"))
        if index in self.writers:
            self.kept.add(index)

    def _drop_writer(self, index: int) -> None:
        self.buffers.pop(index, None)
        writer = self.writers.pop(index, None)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()

    def progress(self, last: SweepRun | None) -> SweepProgress:
        failed = sum(1 for i in self.failures if i >= 0)
        ended = set(self.finished) | set(self.failures)
        epochs = sum(self.planned[i] if i in ended else self.recorded.get(i, 0)
                     for i in range(len(self.tasks)))
        return SweepProgress(len(self.finished) + failed, len(self.tasks), len(self.running),
                             failed, last, epochs, sum(self.planned))

    def settled(self) -> bool:
        return all(i in self.finished or i in self.failures for i in range(len(self.tasks)))

    def run(self) -> bool:
        """Run to the end or to a stop; True when stopped."""
        with _plain_main():
            for proc in self.procs:
                proc.start()
        for group in self.groups:
            self.task_queue.put(pool.GroupUnit(tuple(group), self.filename, self.max_budget))
        for _ in self.procs:
            self.task_queue.put(None)
        last_call = 0.0
        stopped = False
        while not self.settled():
            if not stopped and self.stop_event is not None and self.stop_event.is_set():
                stopped = True
                self.stop.set()
            try:
                msg = self.events.get(timeout=HEARTBEAT_S)
            except queue.Empty:
                msg = None
            last = self.handle(msg) if msg is not None else None
            if msg is None and not self.alive_workers():
                # Every worker is gone (killed, out of memory): nothing more will come.
                self.drain()
                for i, task in enumerate(self.tasks):
                    if i not in self.finished and i not in self.failures and not stopped:
                        self.failures[i] = f"{task.run_name}: its worker process ended"
                break
            if stopped and not self.running and self.alive_workers() == 0:
                break
            now = time.monotonic()
            if self.on_progress is not None and (last is not None or msg is None
                                                 or now - last_call >= HEARTBEAT_S):
                last_call = now
                self.on_progress(self.progress(last))
            if stopped and not self.running:
                break
        return stopped

    def run_here(self) -> bool:
        """Train every group in this process, one after another; True when stopped."""
        events = _InlineEvents(self)
        stop = _InlineStop(self.stop_event)
        try:
            for group in self.groups:
                if stop.is_set():
                    break
                _train_group(group, events, stop, self.max_budget, self.filename, 0)
        except _Interrupted as exc:
            raise exc.error from None
        if self.on_progress is not None:
            self.on_progress(self.progress(None))
        return stop.is_set()

    def alive_workers(self) -> int:
        return sum(1 for p in self.procs if p.is_alive())

    def drain(self) -> None:
        while True:
            try:
                msg = self.events.get_nowait()
            except queue.Empty:
                return
            self.handle(msg)

    def shut_down(self, *, graceful: bool) -> None:
        """Stop the workers, close open writers, remove unfinished runs."""
        self.stop.set()
        if graceful:
            deadline = time.monotonic() + STOP_GRACE_S
            while self.running and time.monotonic() < deadline and self.alive_workers():
                try:
                    self.handle(self.events.get(timeout=HEARTBEAT_S))
                except queue.Empty:
                    pass
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self.procs:
            proc.join(timeout=5)
        for index in list(self.writers):
            self._keep_stopped(index)
            self._drop_writer(index)
        for q in (self.task_queue, self.events):
            q.cancel_join_thread()
            q.close()
        unfinished = [self.tasks[i].run_name for i in self.opened
                      if i not in self.finished and i not in self.kept]
        for name in unfinished:
            with contextlib.suppress(ReplayError, OSError):
                runfile.delete_run(self.filename, name)


def run_sweep(tasks: Sequence[SweepTask], filename: str | os.PathLike, *,
              workers: int | None = None,
              on_progress: Callable[[SweepProgress], None] | None = None,
              stop_event: Any = None, max_budget: float | None = None,
              max_total_budget: float | None = None, in_process: bool = False) -> SweepResult:
    """Train every task, recording the runs to ``filename``.

    Tasks whose specs share one graph (``batched.group_key``: every seed of a
    configuration, and configurations that differ only in learning rate, momentum,
    epochs or callbacks) train together as one batched computation; the groups go to
    worker processes (at most one per group), or train one after another in this
    process with ``in_process``.

    Parameters
    ----------
    tasks : from :func:`plan`.
    filename : the run file; this process is its only writer while the sweep runs.
    workers : worker processes (default one per core, never more than the groups).
    on_progress : called with a :class:`SweepProgress` whenever a run finishes and every
        ``HEARTBEAT_S`` seconds; an exception raised by it stops the sweep (finished
        runs are kept) and propagates.
    stop_event : anything with ``is_set()``; when set, the sweep stops after the current
        epoch: finished runs are kept, and so are the runs it ends midway (status
        ``stopped``, their finished epochs recorded).
    max_budget : refuse the sweep, before anything starts, when a run costs more.
    max_total_budget : refuse it, before anything starts, when all runs together cost more.
    in_process : train in this process (it loads TensorFlow) instead of worker processes.

    Returns
    -------
    SweepResult
        The kept runs in task order (``complete`` or ``diverged``), failures as one
        sentence each, whether it was stopped.
    """
    tasks = list(tasks)
    if not tasks:
        raise SweepError("the sweep has no runs")
    if max_budget is not None or max_total_budget is not None:
        check_budget(tasks, math.inf if max_budget is None else max_budget, filename,
                     max_total=max_total_budget)
    names = {t.run_name for t in tasks}
    clash = names & {r.name for r in runfile.list_runs(filename)}
    if clash:
        raise runfile.RunExistsError(
            f"run {sorted(clash)[0]!r} is already in {os.path.basename(os.fspath(filename))!r}; "
            "plan the sweep with taken=<the file's run names>")
    if workers is not None and workers < 1:
        raise SweepError(f"workers must be at least 1, got {workers}")
    from replay_core.train import batched

    n_groups = len(batched.group_specs([task.spec for task in tasks]))
    n_workers = 0 if in_process else min(n_groups, workers or default_workers())
    start = time.perf_counter()
    job = _Sweep(tasks, os.fspath(filename), n_workers, max_budget, on_progress, stop_event)
    try:
        stopped = job.run_here() if in_process else job.run()
    except BaseException:
        # Even when interrupted (a page's rerun, Ctrl-C), the workers get to end their
        # epoch and mark the runs they cut short: a batched group ends in milliseconds.
        job.shut_down(graceful=True)
        raise
    job.shut_down(graceful=True)
    runs = [job.finished[i] for i in sorted(job.finished)]
    failures = [job.failures[i] for i in sorted(job.failures)]
    kept = [tasks[i].run_name for i in sorted(job.kept)]
    return SweepResult(tasks[0].sweep_id, runs, stopped, failures,
                       time.perf_counter() - start, n_workers, kept)


# -- reading a sweep back ----------------------------------------------------------------


def describe_run(filename: str | os.PathLike, run_name: str,
                 task: SweepTask | None = None, sweep: Mapping | None = None) -> SweepRun:
    """A sweep run's figures, replayed from the file (numpy only)."""
    from replay_core.replay.compare import key_figures
    from replay_core.replay.replayer import Replay

    replay = Replay(filename, run_name)
    figures = key_figures(replay)
    info = sweep or {}
    return SweepRun(
        name=run_name,
        config=task.config if task else str(info.get("config", "")),
        seed=task.seed if task else int(info.get("seed", -1)),
        status=replay.status, epochs_done=replay.epochs_done,
        first_perfect_epoch=figures["first_perfect_epoch"],
        final_loss=figures["final_loss"], final_accuracy=figures["final_accuracy"],
        message=replay.message)


def sweeps_in(filename: str | os.PathLike) -> dict[str, list[runfile.RunSummary]]:
    """The sweeps recorded in a file: sweep id -> its runs' summaries, oldest sweep first."""
    return group_sweeps(runfile.list_runs(filename))


def group_sweeps(summaries: Iterable[runfile.RunSummary]) -> dict[str, list[runfile.RunSummary]]:
    """Run summaries (``list_runs``) grouped by sweep id, oldest sweep first; runs of no
    sweep are left out."""
    out: dict[str, list[runfile.RunSummary]] = {}
    for summary in summaries:
        info = summary.sweep
        if info and isinstance(info.get("id"), str):
            out.setdefault(info["id"], []).append(summary)
    for runs in out.values():
        # In planned order (configuration, then seed): parallel workers start runs in any
        # order, so their creation times are no order to show.
        runs.sort(key=_planned_position)
    return out


def _planned_position(summary: runfile.RunSummary) -> tuple[int, int]:
    index = (summary.sweep or {}).get("index")
    return (0, index) if isinstance(index, int) and not isinstance(index, bool) else (1, 0)


def read_sweep(filename: str | os.PathLike, sweep_id: str) -> list[SweepRun]:
    """The kept runs of sweep ``sweep_id`` in ``filename``, with their figures."""
    summaries = sweeps_in(filename).get(sweep_id)
    if not summaries:
        raise SweepError(f"no sweep {sweep_id!r} in {os.path.basename(os.fspath(filename))!r}")
    return [describe_run(filename, s.name, sweep=s.sweep) for s in summaries
            if s.status in ("complete", "diverged")]


# -- summaries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigSummary:
    """One configuration across its seeds."""

    config: str
    seeds: int
    never: int                     # runs that never reached 100 % training accuracy
    first_perfect: list[int]       # first 100 % epochs of the runs that reached it
    final_loss: list[float]
    diverged: int

    @property
    def never_share(self) -> float:
        return self.never / self.seeds if self.seeds else math.nan

    @property
    def median_first_perfect(self) -> float | None:
        return statistics.median(self.first_perfect) if self.first_perfect else None

    @property
    def median_final_loss(self) -> float | None:
        finite = [v for v in self.final_loss if math.isfinite(v)]
        return statistics.median(finite) if finite else None


def summarize(runs: Iterable[SweepRun]) -> list[ConfigSummary]:
    """Per configuration (in order of first appearance): seeds, how many never reached
    100 % training accuracy, the first-100 % epochs, final losses, divergences."""
    groups: dict[str, list[SweepRun]] = {}
    for run in runs:
        groups.setdefault(run.config, []).append(run)
    return [ConfigSummary(
        config=config, seeds=len(group),
        never=sum(r.first_perfect_epoch is None for r in group),
        first_perfect=[r.first_perfect_epoch for r in group if r.first_perfect_epoch is not None],
        final_loss=[r.final_loss for r in group],
        diverged=sum(r.status == "diverged" for r in group),
    ) for config, group in groups.items()]


def summary_table(runs: Iterable[SweepRun]) -> str:
    """A plain-text table of :func:`summarize`, one configuration a line."""
    rows = [("configuration", "seeds", "reached 100%", "never", "first 100% epoch median [min-max]",
             "final loss median [min-max]")]
    for s in summarize(runs):
        fp = s.first_perfect
        first = (f"{s.median_first_perfect:g} [{min(fp)}-{max(fp)}]" if fp else "-")
        losses = [v for v in s.final_loss if math.isfinite(v)]
        loss = (f"{s.median_final_loss:.4f} [{min(losses):.4f}-{max(losses):.4f}]"
                if losses else "-")
        rows.append((s.config, str(s.seeds), str(s.seeds - s.never),
                     f"{s.never} ({s.never_share:.0%})", first, loss))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
