"""Running a seed sweep: the runs of one graph train together, one group per worker.

The runs of one graph (every seed of a configuration; see ``batched.group_key``) train
together as one batched computation, one compiled program for the group, in a worker
process of ``pool`` with its own TensorFlow (or in the calling process with
``in_process``). HDF5 files are not safe for concurrent writers, so the workers never open
the run file: each run's writer in a worker forwards each call it would make on its
``RunWriter`` (open the run, append an epoch, set the status, close) through a queue to
the calling process, which is the file's only writer (:class:`_Sweep`); a group's runs
send their epochs in chunks (``pool.ChunkedForwardingWriter``). The figures that
compare seeds come from the training program itself (whole training set, end-of-epoch
weights), so a finished sweep is summarised without replaying its runs.

A stop (``stop_event``, Ctrl-C, or an exception raised by ``on_progress``, such as a
Streamlit rerun) ends the sweep after the current epoch: finished runs stay in the file,
and so do the runs it ended midway, with their finished epochs (status ``stopped``).
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from replay_core.errors import ReplayError
from replay_core.store import runfile
from replay_core.train import pool
from replay_core.train.machine import default_workers
from replay_core.train.sweep_plan import SweepError, SweepTask, check_budget
from replay_core.train.sweep_results import SweepRun, describe_run

__all__ = ["BUFFER_EPOCHS", "HEARTBEAT_S", "SweepProgress", "SweepResult", "run_sweep"]

# Seconds between two progress calls while nothing finishes (a caller such as a web page
# uses them to notice a stop request).
HEARTBEAT_S = 0.25
# Seconds the workers get to finish their epoch after a stop before they are killed.
STOP_GRACE_S = 20.0
# The writing process gathers up to this many epochs (or bytes) of a run before writing.
BUFFER_EPOCHS = 256
BUFFER_BYTES = 8 * 2**20


def _joined(chunks: Sequence[tuple]) -> tuple[list[list[Any]], dict[str, Any], Any]:
    """Chunks of a run's epochs (``("epochs", ...)`` messages' ``weights, logs, lr``) as one
    chunk: arrays concatenated along the epochs, a log some chunk lacks NaN there."""
    if len(chunks) == 1:
        return chunks[0]
    weights = [[np.concatenate([c[0][i][j] for c in chunks]) for j in range(len(layer))]
               for i, layer in enumerate(chunks[0][0])]
    keys = dict.fromkeys(key for c in chunks for key in c[1])
    logs = {key: np.concatenate([np.asarray(c[1][key], np.float64) if key in c[1]
                                 else np.full(len(c[2]), np.nan) for c in chunks])
            for key in keys}
    return weights, logs, np.concatenate([np.asarray(c[2], np.float64) for c in chunks])


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
        self.buffers: dict[int, list[tuple]] = {}  # chunks of epochs not yet written
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
        elif kind == "epochs":
            # A chunk of the run's epochs (``pool.ChunkedForwardingWriter``).
            self.recorded[index] = self.recorded.get(index, 0) + len(msg[4])
            if index in self.writers:
                buffer = self.buffers.setdefault(index, [])
                buffer.append((msg[2], msg[3], msg[4]))
                if (sum(len(c[2]) for c in buffer) >= BUFFER_EPOCHS or sum(
                        w.nbytes for c in buffer for layer in c[0] for w in layer)
                        > BUFFER_BYTES):
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
        chunks = self.buffers.pop(index, None)
        writer = self.writers.get(index)
        if chunks and writer is not None:
            self._guard(index, lambda: writer.append_stacked(*_joined(chunks)))

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
        with pool.plain_main():
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
