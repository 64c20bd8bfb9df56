"""Jobs: trainings and seed sweeps that belong to a browser session, not to a script run.

A job keeps running when its page changes, reruns or its tab closes. Jobs live in the
server process (one manager, module-level, behind one lock, shared by all sessions) and
train in worker processes shared by all sessions (``replay_core.train.pool``), as many as
the CPU quota allows (``capacity.limit("workers")``), started on first use. Workers never
open a run file: a dispatcher thread here receives every epoch they record and is the one
writer of each file. This module never imports TensorFlow.

Rules:

- each session (its workspace folder) may have one training running and ``MAX_QUEUED``
  queued, and one sweep running and ``MAX_QUEUED`` queued; the server queues at most
  ``QUEUE_PER_WORKER`` jobs per worker;
- Stop ends a running job after its current epoch (every finished epoch is kept, the run
  marked ``stopped``), removes a queued one, and does nothing the second time;
- a worker that dies marks its runs ``failed`` with their finished epochs kept; the next
  job gets a fresh worker;
- a job whose session folder was removed (the session expired) is cancelled;
- runs a previous server process left ``running`` read back as ``stopped`` with the
  message ``stopped (server restarted)`` (:func:`recover`).

Example
-------
>>> view = jobs.submit_training(ws, presets.get("reference"), "sigmoid")   # doctest: +SKIP
>>> jobs.jobs_of(ws)[0].state                                              # doctest: +SKIP
'running'
>>> jobs.stop(ws, view.id)                                                 # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from replay_core.data.spec import RunSpec
from replay_core.errors import ReplayError, RunFileError, ServerBusyError
from replay_core.store import runfile
from replay_core.store.workspace import Workspace
from replay_core.train import pool as worker_pool
from replay_core.train.sweep import BUFFER_EPOCHS, SweepTask
from studio import capacity

__all__ = ["JobView", "JobLimitError", "jobs_of", "latest_record", "latest_weights", "live_run",
           "recover", "submit_group",
           "stop", "submit_sweep", "submit_training", "unannounced"]

KINDS = ("training", "sweep")
MAX_QUEUED = 3
QUEUE_PER_WORKER = 4
# Ended jobs a session keeps on its list (newest first).
MAX_ENDED = 20
HEARTBEAT_S = 0.25
RESTARTED = "stopped (server restarted)"
EXPIRED = "Cancelled: its session expired."


class JobLimitError(ServerBusyError):
    """A session asked for more jobs than it may have running and queued."""


@dataclass(frozen=True)
class JobView:
    """A snapshot of a job, safe to read from any page.

    Args:
        id: the job's id.
        kind: ``training`` or ``sweep``.
        title: the run's name, or the sweep's label (``"sigmoid, tanh, relu · 60 runs"``).
        state: ``queued``, ``running``, ``done``, ``stopped`` or ``failed``.
        queue_position: 1-based while queued, else None.
        epochs_done, epochs_total: over all the job's runs.
        seconds_left: estimated from the epoch rate; None until there is a rate.
        message: one sentence once the job ended, else empty.
        run_names: the runs it writes.
        result_page: ``replay`` (a training) or ``sweep``.
        sweep_id: the sweep's id, or None.
    """

    id: str
    kind: str
    title: str
    state: str
    queue_position: int | None
    epochs_done: int
    epochs_total: int
    seconds_left: float | None
    message: str
    run_names: tuple[str, ...]
    result_page: str
    sweep_id: str | None


@dataclass
class _Run:
    """One run a job writes: its writer lives here, in the server process."""

    name: str
    planned: int
    sweep: dict | None = None
    filename: str | None = None     # its own file (else the job's)
    keep_epochs: bool = False       # trainings keep their epochs for live_run
    writer: runfile.RunWriter | None = None
    fields: dict | None = None
    recorded: int = 0
    buffer: list = field(default_factory=list)
    epochs: list = field(default_factory=list)   # (weights, logs, lr) while it trains
    latest: tuple[int, list] | None = None
    latest_record: runfile.EpochRecord | None = None
    ended: bool = False
    status: str = "running"
    message: str = ""
    live: tuple[int, runfile.RunData] | None = None


@dataclass
class _Job:
    id: str
    seq: int
    owner: str
    kind: str
    title: str
    filename: str
    runs: dict[Any, _Run]
    units: list
    workers: int
    sweep_id: str | None = None
    state: str = "queued"
    running_units: set = field(default_factory=set)
    stop_requested: bool = False
    announced: bool = False
    message: str = ""
    failures: list = field(default_factory=list)
    first_epoch_at: float | None = None
    epochs_at_first: int = 0
    last_epoch_at: float | None = None
    ended_at: float | None = None
    end_message: str | None = None

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def epochs_done(self) -> int:
        if self.kind == "sweep":
            return sum(r.planned if r.ended and r.status in ("complete", "diverged")
                       else r.recorded for r in self.runs.values())
        return sum(r.recorded for r in self.runs.values())

    def epochs_total(self) -> int:
        return sum(r.planned for r in self.runs.values())


class _Manager:
    """The server's jobs: one lock, one pool, one dispatcher thread."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.jobs: dict[str, _Job] = {}
        self.pool: worker_pool.WorkerPool | None = None
        self.thread: threading.Thread | None = None
        self.seq = itertools.count(1)
        self.recovered: set[str] = set()

    # -- the pool and its dispatcher ----------------------------------------------------

    def ensure_pool(self) -> worker_pool.WorkerPool:
        if self.pool is None:
            size = capacity.limit("workers")
            from replay_core.train.sweep import usable_cores

            self.pool = worker_pool.WorkerPool(size, threads=max(1, usable_cores() // size))
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self.dispatch, name="jobs-dispatcher",
                                           daemon=True)
            self.thread.start()
        return self.pool

    def dispatch(self) -> None:
        """Route the workers' messages to the jobs' writers, start queued work, cancel
        the jobs of expired sessions. Runs for the life of the server."""
        while True:
            try:
                with self.lock:
                    pool = self.pool
                    self.cancel_expired()
                    self.schedule()
                if pool is None:
                    time.sleep(HEARTBEAT_S)
                    continue
                if pool.workers() == 0:
                    time.sleep(HEARTBEAT_S)
                    messages = []
                else:
                    messages = pool.poll(HEARTBEAT_S)
                with self.lock:
                    for _, msg in messages:
                        self.handle(msg)
                    self.finish_ended()
            except Exception:  # noqa: BLE001 - the dispatcher must outlive any one bad message
                import logging

                logging.getLogger(__name__).exception("jobs dispatcher")
                time.sleep(HEARTBEAT_S)

    def schedule(self) -> None:
        pool = self.pool
        if pool is None:
            return
        for job in sorted((j for j in self.jobs.values() if j.active), key=lambda j: j.seq):
            while job.units and pool.free() > 0 and len(job.running_units) < job.workers:
                if job.state == "queued" and self.owner_busy(job):
                    break
                unit = job.units.pop(0)
                pool.submit(unit)
                job.running_units.add(unit.seq)
                job.state = "running"

    def owner_busy(self, job: _Job) -> bool:
        return any(j.owner == job.owner and j.kind == job.kind and j.state == "running"
                   for j in self.jobs.values() if j is not job)

    def cancel_expired(self) -> None:
        for job in list(self.jobs.values()):
            if job.active and not os.path.isdir(job.owner):
                self.stop_job(job, EXPIRED)

    # -- messages ----------------------------------------------------------------------

    def find(self, key: Any) -> tuple[_Job | None, _Run | None]:
        if not isinstance(key, tuple) or len(key) != 2:
            return None, None
        job = self.jobs.get(key[0])
        return job, (job.runs.get(key) if job is not None else None)

    def handle(self, msg: tuple) -> None:
        kind = msg[0]
        if kind == "idle":
            for job in self.jobs.values():
                job.running_units.discard(msg[2])
            return
        if kind == "died":
            self.worker_died(msg[2])
            return
        if kind in ("ready", "exit", "broken"):
            if kind == "broken":
                import logging

                logging.getLogger(__name__).error("a training worker could not start: %s",
                                                  msg[2])
            return
        job, run = self.find(msg[1])
        if job is None or run is None:
            return
        if kind == "open":
            self.open_run(job, run, msg[2])
        elif kind == "epoch":
            self.epoch(job, run, msg[2], msg[3], msg[4])
        elif kind == "status":
            self.write_buffer(job, run)
            run.status, run.message = msg[2], msg[3]
            if run.writer is not None:
                self.guard(job, run, lambda w: w.set_status(msg[2], msg[3], msg[4]))
        elif kind == "close":
            self.close_run(job, run)
        elif kind == "failed":
            self.close_run(job, run, "failed", msg[2])
            run.ended = True
            job.failures.append(f"{run.name}: {msg[2]}")
        elif kind == "done":
            self.close_run(job, run)
            run.ended = True
            run.status, run.message = msg[2], msg[3]

    def open_run(self, job: _Job, run: _Run, fields: dict) -> None:
        try:
            run.writer = runfile.RunWriter(run.filename or job.filename, run.name, **fields,
                                           sweep=run.sweep)
        except ReplayError as exc:
            run.ended, run.status = True, "failed"
            job.failures.append(f"{run.name}: {exc}")
            return
        if run.keep_epochs:
            run.fields = fields

    def epoch(self, job: _Job, run: _Run, weights: list, logs: dict, lr: float) -> None:
        now = time.monotonic()
        if job.first_epoch_at is None:
            job.first_epoch_at, job.epochs_at_first = now, job.epochs_done()
        job.last_epoch_at = now
        run.recorded += 1
        run.latest = (run.recorded, weights)
        run.latest_record = runfile.EpochRecord(run.recorded, dict(logs), float(lr), weights)
        if run.keep_epochs:
            run.epochs.append((weights, logs, lr))
        if run.writer is None:
            return
        if job.kind == "training":
            # A single training flushes every epoch: a crash keeps all but the last.
            self.guard(job, run, lambda w: w.append_epoch(weights, logs, lr))
            return
        run.buffer.append((weights, logs, lr))
        if len(run.buffer) >= BUFFER_EPOCHS:
            self.write_buffer(job, run)

    def write_buffer(self, job: _Job, run: _Run) -> None:
        epochs, run.buffer = run.buffer, []
        if epochs and run.writer is not None:
            self.guard(job, run, lambda w: w.append_epochs(epochs))

    def guard(self, job: _Job, run: _Run, write: Any) -> None:
        try:
            write(run.writer)
        except ReplayError as exc:
            job.failures.append(f"{run.name}: {exc}")
            run.status, run.message = "failed", str(exc)
            writer, run.writer = run.writer, None
            try:
                writer.close()
            except (ReplayError, OSError):
                pass

    def close_run(self, job: _Job, run: _Run, status: str | None = None,
                  message: str = "") -> None:
        """Write what is gathered, a final status when the run is still ``running``
        (``status``, or ``stopped``), and release the file."""
        self.write_buffer(job, run)
        writer = run.writer
        if writer is None:
            return
        if writer.status == "running":
            final = status or "stopped"
            text = message or f"stopped by the user after epoch {writer.epochs_done}"
            run.status, run.message = final, text
            self.guard(job, run, lambda w: w.set_status(final, text))
        writer = run.writer
        run.writer = None
        if writer is not None:
            try:
                writer.close()
            except (ReplayError, OSError) as exc:
                job.failures.append(f"{run.name}: {exc}")

    def worker_died(self, unit: Any) -> None:
        if unit is None:
            return
        for job in self.jobs.values():
            if unit.seq not in job.running_units:
                continue
            job.running_units.discard(unit.seq)
            keys = ([unit.key] if isinstance(unit, worker_pool.TrainingUnit)
                    else [unit.key(i) for i in range(len(unit.tasks))])
            for key in keys:
                run = job.runs.get(key)
                if run is None or run.ended:
                    continue
                done = run.recorded
                text = f"its worker process ended after epoch {done}"
                self.close_run(job, run, "failed", text)
                run.ended, run.status, run.message = True, "failed", text
                job.failures.append(f"{run.name}: {text}")

    # -- ending ------------------------------------------------------------------------

    def finish_ended(self) -> None:
        for job in self.jobs.values():
            if job.state == "running" and not job.units and not job.running_units:
                self.end(job)

    def end(self, job: _Job, message: str | None = None) -> None:
        for run in job.runs.values():
            if run.writer is not None:
                self.close_run(job, run, "stopped" if job.stop_requested else "failed",
                               "" if job.stop_requested else "training ended unexpectedly")
            run.ended = True
            run.epochs, run.live, run.fields = [], None, None
        if job.kind == "sweep":
            self.drop_empty_runs(job)
        job.ended_at = time.monotonic()
        job.state, job.message = self.outcome(job)
        message = message or job.end_message
        if message is not None:
            job.message = message
        self.prune(job.owner)

    def drop_empty_runs(self, job: _Job) -> None:
        """A sweep's runs a stop ended before their first epoch hold nothing to replay."""
        for run in job.runs.values():
            if run.recorded == 0 and run.status != "complete":
                try:
                    runfile.delete_run(job.filename, run.name)
                except (ReplayError, OSError):
                    pass

    def outcome(self, job: _Job) -> tuple[str, str]:
        """The job's final state and its sentence, from the statuses in its file."""
        stored: dict[str, runfile.RunSummary] = {}
        for path in dict.fromkeys(r.filename or job.filename for r in job.runs.values()):
            try:
                if os.path.exists(path):
                    stored.update({s.name: s for s in runfile.list_runs(path)})
            except ReplayError:
                pass
        if job.kind == "training" and len(job.runs) > 1:
            return self.group_outcome(job, stored)
        if job.kind == "training":
            run = next(iter(job.runs.values()))
            summary = stored.get(run.name)
            status = summary.status if summary is not None else "failed"
            done = summary.epochs_done if summary is not None else 0
            if status == "complete":
                loss = summary.final_loss
                tail = f", loss {loss:.4g}" if loss is not None else ""
                early = " (early stopping)" if done < run.planned else ""
                return "done", f"Finished: {done} epochs{early}{tail}."
            if status == "diverged":
                return "done", (f"Diverged: {summary.message or 'the loss became NaN'}; "
                                f"{done} epochs kept.")
            if status == "stopped":
                return "stopped", f"Stopped after epoch {done}: {done} epochs kept."
            reason = (job.failures[-1].split(": ", 1)[-1] if job.failures
                      else (summary.message if summary is not None else "it did not start"))
            kept = f" {done} epochs kept." if done else ""
            return "failed", f"Failed: {reason.rstrip('.')}.{kept}"
        members = [s for s in stored.values()
                   if (s.sweep or {}).get("id") == job.sweep_id]
        total = len(job.runs)
        finished = sum(s.status in ("complete", "diverged") for s in members)
        midway = sum(s.status == "stopped" for s in members)
        failed = sum(s.status == "failed" for s in members)
        if job.stop_requested:
            return "stopped", (f"Stopped: {finished} of {total} runs finished, {midway} kept "
                               "with their finished epochs.")
        if failed or finished < total:
            lost = total - finished
            return "failed", (f"{finished} of {total} runs finished; {lost} failed"
                              + (f" ({job.failures[0]})" if job.failures else "") + ".")
        return "done", f"Finished: {finished} of {total} runs."

    def group_outcome(self, job: _Job, stored: dict) -> tuple[str, str]:
        """Several trainings of one job (one file each): how they ended, in one sentence."""
        statuses = [stored[r.name].status if r.name in stored else "failed"
                    for r in job.runs.values()]
        total = len(statuses)
        finished = sum(s in ("complete", "diverged") for s in statuses)
        if finished == total:
            return "done", f"Finished: {total} runs."
        if job.stop_requested:
            kept = sum(s == "stopped" for s in statuses)
            return "stopped", (f"Stopped: {finished} of {total} runs finished, {kept} kept "
                               "with their finished epochs.")
        reason = job.failures[0] if job.failures else "a run did not finish"
        return "failed", f"Failed: {finished} of {total} runs finished ({reason.rstrip('.')})."

    def prune(self, owner: str) -> None:
        ended = sorted((j for j in self.jobs.values() if j.owner == owner and not j.active),
                       key=lambda j: j.seq, reverse=True)
        for job in ended[MAX_ENDED:]:
            self.jobs.pop(job.id, None)

    def stop_job(self, job: _Job, message: str | None = None) -> None:
        if not job.active:
            return
        job.stop_requested = True
        job.units.clear()
        job.end_message = message
        if job.state == "queued":
            job.state, job.ended_at = "stopped", time.monotonic()
            job.message = message or "Removed from the queue before it started."
            self.prune(job.owner)
            return
        if not job.running_units:
            self.end(job, message)
            return
        pool = self.pool
        for seq in list(job.running_units):
            if pool is not None:
                pool.stop(seq)

    # -- views -------------------------------------------------------------------------

    def view(self, job: _Job) -> JobView:
        position = None
        if job.state == "queued":
            waiting = sorted((j for j in self.jobs.values() if j.state == "queued"),
                             key=lambda j: j.seq)
            position = 1 + [j.id for j in waiting].index(job.id)
        done, total = job.epochs_done(), job.epochs_total()
        left = None
        if job.state == "running" and job.first_epoch_at is not None \
                and job.last_epoch_at is not None:
            span = job.last_epoch_at - job.first_epoch_at
            gained = done - job.epochs_at_first
            if span > 0 and gained > 0:
                left = max(0.0, (total - done) / (gained / span))
        return JobView(
            id=job.id, kind=job.kind, title=job.title, state=job.state,
            queue_position=position, epochs_done=done, epochs_total=total,
            seconds_left=left, message=job.message if not job.active else "",
            run_names=tuple(r.name for r in job.runs.values()),
            result_page="replay" if job.kind == "training" else "sweep",
            sweep_id=job.sweep_id)

    def admit(self, owner: str, kind: str) -> None:
        """Refuse a job the session or the server cannot queue, with one sentence."""
        mine = [j for j in self.jobs.values() if j.owner == owner and j.kind == kind
                and j.active]
        running = sum(j.state == "running" for j in mine)
        queued = sum(j.state == "queued" for j in mine)
        if running + queued >= 1 + MAX_QUEUED:
            noun = "training" if kind == "training" else "sweep"
            raise JobLimitError(
                f"You already have {running} {noun} running and {queued} queued; wait for "
                f"one to finish or stop one.")
        size = capacity.limit("workers")
        waiting = sum(j.state == "queued" for j in self.jobs.values())
        if waiting >= QUEUE_PER_WORKER * size:
            raise ServerBusyError(f"The server is busy: {waiting} job"
                                  f"{'s wait' if waiting != 1 else ' waits'} for a worker "
                                  "already; try again in a minute.")

    def add(self, job: _Job) -> JobView:
        self.jobs[job.id] = job
        self.ensure_pool()
        self.schedule()
        return self.view(job)


_manager = _Manager()


def _owner(ws: Workspace) -> str:
    return str(Path(ws.folder).resolve())


def _new_id() -> str:
    return secrets.token_hex(6)


def submit_training(ws: Workspace, spec: RunSpec, name: str) -> JobView:
    """Queue the training of ``spec`` as run ``name`` of a new file in ``ws``.

    Raises
    ------
    ReplayError
        One sentence: over the run budget (``TrainingLimitError``), over the session's
        quota, a name taken, more jobs than the session may queue (``JobLimitError``),
        the server's queue full (``ServerBusyError``).
    """
    from replay_core.data import csv_data, datasets
    from replay_core.store.workspace import estimate_file_bytes
    from replay_core.train.trainer import _check_budget
    from studio import session

    if not isinstance(spec, RunSpec):
        raise RunFileError("a training needs a RunSpec")
    owner = _owner(ws)
    recover(ws)
    with _manager.lock:
        _manager.admit(owner, "training")
    name = runfile.check_name(name)
    if name in ws.run_names() or any(name in v.run_names for v in jobs_of(ws) if
                                     v.state in ("queued", "running")):
        raise runfile.RunExistsError(f"this session already has a run named {name!r}; "
                                     "pick another name")
    ws.check_capacity()
    ws.check_space(estimate_file_bytes(spec))
    with csv_data.data_folder(ws.folder):  # an uploaded CSV is stored there
        data = datasets.prepare(spec.dataset)
    _check_budget(spec, session.MAX_TRAINING_COST, data)
    filename = str(ws.new_run_file())
    with _manager.lock:
        _manager.admit(owner, "training")
        job_id = _new_id()
        seq = next(_manager.seq)
        key = (job_id, 0)
        unit = worker_pool.TrainingUnit(key, spec.to_json(), name, filename,
                                        session.MAX_TRAINING_COST, seq)
        run = _Run(name, spec.training.epochs, keep_epochs=True)
        job = _Job(job_id, seq, owner, "training", name, filename, {key: run}, [unit], 1)
        return _manager.add(job)


def submit_group(ws: Workspace, specs: Sequence[RunSpec], names: Sequence[str],
                 title: str | None = None) -> JobView:
    """Queue several trainings that run together as one batched computation
    (``batched.train_group``; they share a worker and one compiled program when their
    graphs match), each run in a file of its own; a ``training`` job over all of them.

    Raises
    ------
    ReplayError
        One sentence, as :func:`submit_training`.
    """
    from replay_core.data import csv_data, datasets
    from replay_core.store.workspace import estimate_file_bytes
    from replay_core.train.trainer import _check_budget
    from studio import session

    specs, names = list(specs), [runfile.check_name(n) for n in names]
    if not specs or len(specs) != len(names) or len(set(names)) != len(names):
        raise RunFileError("give one distinct run name per spec")
    owner = _owner(ws)
    recover(ws)
    with _manager.lock:
        _manager.admit(owner, "training")
    taken = set(ws.run_names())
    if taken & set(names):
        raise runfile.RunExistsError(f"this session already has a run named "
                                     f"{sorted(taken & set(names))[0]!r}; pick another name")
    ws.check_capacity(len(specs))
    ws.check_space(sum(estimate_file_bytes(spec) for spec in specs))
    for spec in specs:
        with csv_data.data_folder(ws.folder):  # an uploaded CSV is stored there
            data = datasets.prepare(spec.dataset)
        _check_budget(spec, session.MAX_TRAINING_COST, data)
    files = [str(ws.new_run_file()) for _ in specs]
    with _manager.lock:
        _manager.admit(owner, "training")
        job_id = _new_id()
        seq = next(_manager.seq)
        tasks = tuple(SweepTask(i, name, spec.training.seed, name, spec.to_json(), "")
                      for i, (spec, name) in enumerate(zip(specs, names)))
        keys = tuple((job_id, i) for i in range(len(tasks)))
        unit = worker_pool.GroupUnit(tasks, files[0], session.MAX_TRAINING_COST, keys=keys,
                                     seq=seq)
        runs = {key: _Run(name, spec.training.epochs, filename=path)
                for key, name, spec, path in zip(keys, names, specs, files)}
        job = _Job(job_id, seq, owner, "training", title or ", ".join(names), files[0], runs,
                   [unit], 1)
        return _manager.add(job)


def sweep_title(tasks: Sequence[SweepTask]) -> str:
    """``"sigmoid, tanh, relu · 60 runs"``."""
    labels = list(dict.fromkeys(t.config for t in tasks))
    return f"{', '.join(labels)} · {len(tasks)} runs"


def submit_sweep(ws: Workspace, tasks: Sequence[SweepTask], workers: int) -> JobView:
    """Queue a seed sweep (``sweep.plan``'s tasks) into a new file of ``ws``; its groups
    (``batched.group_specs``) train in up to ``workers`` workers at once.

    Raises
    ------
    ReplayError
        One sentence, as :func:`submit_training`; also over the sweep budget.
    """
    from replay_core.store.workspace import estimate_file_bytes
    from replay_core.train import sweep
    from replay_core.train.batched import group_specs
    from studio import session

    tasks = list(tasks)
    if not tasks:
        raise sweep.SweepError("the sweep has no runs")
    owner = _owner(ws)
    recover(ws)
    with _manager.lock:
        _manager.admit(owner, "sweep")
    clash = {t.run_name for t in tasks} & set(ws.run_names())
    if clash:
        raise runfile.RunExistsError(f"this session already has a run named "
                                     f"{sorted(clash)[0]!r}; plan the sweep again")
    ws.check_capacity(len(tasks))
    ws.check_space(sum(estimate_file_bytes(t.spec) for t in tasks))
    filename = str(ws.new_run_file())
    sweep.check_budget(tasks, session.MAX_TRAINING_COST, filename,
                       max_total=session.MAX_SWEEP_COST)
    groups = group_specs([t.spec for t in tasks])
    with _manager.lock:
        _manager.admit(owner, "sweep")
        job_id = _new_id()
        seq = next(_manager.seq)
        runs: dict[Any, _Run] = {}
        for t in tasks:
            runs[(job_id, t.index)] = _Run(
                t.run_name, t.spec.training.epochs,
                sweep={"id": t.sweep_id, "config": t.config, "seed": t.seed, "index": t.index})
        units = []
        for group in groups:
            members = tuple(tasks[i] for i in group)
            units.append(worker_pool.GroupUnit(
                members, filename, session.MAX_TRAINING_COST,
                keys=tuple((job_id, t.index) for t in members),
                seq=seq if not units else next(_manager.seq)))
        job = _Job(job_id, seq, owner, "sweep", sweep_title(tasks), filename, runs, units,
                   max(1, int(workers)), sweep_id=tasks[0].sweep_id)
        return _manager.add(job)


def jobs_of(ws: Workspace) -> list[JobView]:
    """This session's jobs, newest first."""
    owner = _owner(ws)
    recover(ws)
    with _manager.lock:
        mine = sorted((j for j in _manager.jobs.values() if j.owner == owner),
                      key=lambda j: j.seq, reverse=True)
        return [_manager.view(j) for j in mine]


def stop(ws: Workspace, job_id: str) -> None:
    """Stop job ``job_id`` of this session: a running one after its current epoch (its
    runs keep every finished epoch), a queued one is removed. Harmless twice, and for a
    job that is not this session's."""
    owner = _owner(ws)
    with _manager.lock:
        job = _manager.jobs.get(str(job_id))
        if job is None or job.owner != owner:
            return
        _manager.stop_job(job)


def unannounced(ws: Workspace) -> list[JobView]:
    """This session's jobs that ended and were not announced yet (oldest first); they
    count as announced from now on."""
    owner = _owner(ws)
    with _manager.lock:
        ended = sorted((j for j in _manager.jobs.values()
                        if j.owner == owner and not j.active and not j.announced),
                       key=lambda j: j.seq)
        for job in ended:
            job.announced = True
        return [_manager.view(j) for j in ended]


def _live(owner: str, run_name: str) -> _Run | None:
    for job in _manager.jobs.values():
        if job.owner != owner or job.state != "running":
            continue
        for run in job.runs.values():
            if run.name == run_name and not run.ended:
                return run
    return None


def live_run(ws: Workspace, run_name: str) -> runfile.RunData | None:
    """The epochs recorded so far of a run a job of this session is training now (from
    the writer's memory, not the file), or None when no job writes it."""
    owner = _owner(ws)
    with _manager.lock:
        run = _live(owner, run_name)
        if run is None or run.fields is None or not run.keep_epochs:
            return None
        if run.live is not None and run.live[0] == len(run.epochs):
            return run.live[1]
        fields, epochs, status, message = run.fields, list(run.epochs), run.status, run.message
    data = _run_data(run_name, fields, epochs, status, message)
    with _manager.lock:
        run.live = (len(epochs), data)
    return data


def _run_data(name: str, fields: dict, epochs: list, status: str,
              message: str) -> runfile.RunData:
    initial = fields["initial_weights"]
    weights = [[np.stack([w0, *(e[0][i][j] for e in epochs)]).astype(np.float32)
                for j, w0 in enumerate(layer)] for i, layer in enumerate(initial)]
    keys = list(dict.fromkeys(k for e in epochs for k in e[1]))
    logs = {k: np.array([e[1].get(k, np.nan) for e in epochs], np.float64) for k in keys}
    logs["lr"] = np.array([e[2] for e in epochs], np.float64)

    def targets(t: Any) -> Any:
        if t is None:
            return None
        t = np.asarray(t, np.float64)
        return t[:, 0] if t.ndim == 2 and t.shape[1] == 1 else t

    spec_json = fields.get("spec_json")
    import json

    spec = json.loads(spec_json) if spec_json else None
    attrs = {"format": runfile.FORMAT, "status": status, "epochs_done": len(epochs),
             "n_epochs": int(fields.get("n_epochs", 0)), "samples": int(fields["samples"]),
             "batch_size": int(fields["batch_size"]), "message": message}
    val = fields.get("val_inputs")
    return runfile.RunData(
        name=name, inputs=np.asarray(fields["inputs"], np.float64),
        targets=targets(fields["targets"]),
        val_inputs=None if val is None else np.asarray(val, np.float64),
        val_targets=targets(fields.get("val_targets")),
        weights=weights, layer_names=[str(n) for n in fields["layer_names"]],
        activation_config=[dict(c) for c in fields["activation_config"]], logs=logs,
        epochs_done=len(epochs), status=status, spec=spec, attrs=attrs, message=message,
        class_names=tuple(map(str, fields.get("class_names") or ())))


def latest_weights(ws: Workspace, run_name: str) -> tuple[int, list] | None:
    """``(epoch, weights)`` of the newest epoch a job of this session recorded for run
    ``run_name`` while it trains (per model layer, its arrays), or None."""
    owner = _owner(ws)
    with _manager.lock:
        run = _live(owner, run_name)
        if run is not None:
            return run.latest
        for job in _manager.jobs.values():
            if job.owner == owner:
                for r in job.runs.values():
                    if r.name == run_name and r.latest is not None:
                        return r.latest
    return None


def latest_record(ws: Workspace, run_name: str) -> runfile.EpochRecord | None:
    """The newest epoch a job of this session recorded for run ``run_name`` (epoch,
    logs under their stored names, learning rate, weights), or None."""
    owner = _owner(ws)
    with _manager.lock:
        for job in sorted(_manager.jobs.values(), key=lambda j: j.seq, reverse=True):
            if job.owner == owner:
                for run in job.runs.values():
                    if run.name == run_name and run.latest_record is not None:
                        return run.latest_record
    return None


def recover(ws: Workspace) -> int:
    """Mark the runs of ``ws`` a previous server process left ``running`` as ``stopped``
    with the message ``stopped (server restarted)``; once per session per process.
    Return how many were marked."""
    owner = _owner(ws)
    with _manager.lock:
        if owner in _manager.recovered:
            return 0
        _manager.recovered.add(owner)
    marked = 0
    try:
        files = sorted(Path(ws.folder).glob("*.h5"))
    except OSError:
        return 0
    for path in files:
        if path.name.startswith(".") or runfile.writer_alive(path):
            continue
        try:
            stale = [s.name for s in runfile.list_runs(path) if s.status == "running"]
            for name in stale:
                marked += bool(runfile.mark_interrupted(path, name, RESTARTED))
        except (ReplayError, OSError):
            continue
    return marked


def _reset_for_tests() -> None:
    """End every worker and forget every job (tests only)."""
    with _manager.lock:
        if _manager.pool is not None:
            _manager.pool.close()
        _manager.pool = None
        _manager.jobs.clear()
        _manager.recovered.clear()
