"""The server's job manager: the jobs of every session behind one lock, the worker pool
they train in and the dispatcher thread that is the one writer of each run file.

Workers never open a run file: they send each epoch they record here, and the
dispatcher writes it (a group's runs send a chunk of epochs at a time), keeps the
newest weights for the live preview, marks a run ``failed`` when its worker dies and
decides how each job ended from the statuses in its file. Pages never use this module:
they call the functions of ``studio.jobs``. This module never imports TensorFlow.
"""

from __future__ import annotations

import glob
import itertools
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replay_core.errors import ReplayError
from replay_core.store import runfile
from replay_core.train import pool as worker_pool
from studio import capacity
from studio.job_views import EXPIRED, HEARTBEAT_S, MAX_ENDED, JobView


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
    seconds: float | None = None    # an export's render time, once complete

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
        if job.kind == "export":
            self.export_message(job, run, msg)
            return
        if kind == "open":
            self.open_run(job, run, msg[2])
        elif kind == "epoch":
            self.epoch(job, run, msg[2], msg[3], msg[4])
        elif kind == "epochs":
            self.epoch_chunk(job, run, msg[2], msg[3], msg[4])
        elif kind == "status":
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

    def export_message(self, job: _Job, run: _Run, msg: tuple) -> None:
        """An export's messages: frames done (``recorded``, of ``planned``), then how it
        ended; it writes no run file."""
        kind = msg[0]
        if kind == "progress":
            now = time.monotonic()
            if job.first_epoch_at is None:
                job.first_epoch_at, job.epochs_at_first = now, int(msg[2])
            job.last_epoch_at = now
            run.recorded = min(max(int(msg[2]), 0), run.planned)
        elif kind == "done":
            run.ended, run.status, run.message = True, msg[2], str(msg[3])
            if msg[2] == "complete":
                run.recorded = run.planned
                figures = msg[5] if len(msg) > 5 and isinstance(msg[5], dict) else {}
                job.seconds = figures.get("seconds")
        elif kind == "failed":
            run.ended, run.status, run.message = True, "failed", str(msg[2])
            job.failures.append(str(msg[2]))

    def drop_partial_export(self, job: _Job) -> None:
        """The hidden file of an export that did not complete (its worker died midway)."""
        out = Path(job.filename)
        try:
            for part in out.parent.glob(f".{glob.escape(out.name)}.*.part*"):
                part.unlink(missing_ok=True)
        except OSError:
            pass

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
        # A single training sends and flushes every epoch: a crash keeps all but the last.
        self.guard(job, run, lambda w: w.append_epoch(weights, logs, lr))

    def epoch_chunk(self, job: _Job, run: _Run, weights: list, logs: dict, lr: Any) -> None:
        """A chunk of a group's run (``pool.ChunkedForwardingWriter``: each array stacked
        with its ``k`` epochs first): written with one HDF5 write per dataset and one
        flush."""
        k = len(lr)
        if k == 0:
            return
        run.recorded += k
        now = time.monotonic()
        if job.first_epoch_at is None:
            # The rate counts the epochs that arrive after the first chunk.
            job.first_epoch_at, job.epochs_at_first = now, job.epochs_done()
        job.last_epoch_at = now
        newest = [[w[-1] for w in layer] for layer in weights]
        newest_logs = {key: float(v[-1]) for key, v in logs.items() if v[-1] == v[-1]}
        run.latest = (run.recorded, newest)
        run.latest_record = runfile.EpochRecord(run.recorded, newest_logs, float(lr[-1]),
                                                newest)
        if run.keep_epochs:
            for e in range(k):
                run.epochs.append(([[w[e] for w in layer] for layer in weights],
                                   {key: float(v[e]) for key, v in logs.items()
                                    if v[e] == v[e]}, float(lr[e])))
        if run.writer is not None:
            self.guard(job, run, lambda w: w.append_stacked(weights, logs, lr))

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
            keys = ([unit.key(i) for i in range(len(unit.tasks))]
                    if isinstance(unit, worker_pool.GroupUnit) else [unit.key])
            for key in keys:
                run = job.runs.get(key)
                if run is None or run.ended:
                    continue
                done = run.recorded
                noun = "frame" if job.kind == "export" else "epoch"
                text = f"its worker process ended after {noun} {done}"
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
        if job.kind == "export":
            self.drop_partial_export(job)
        job.ended_at = time.monotonic()
        job.state, job.message = self.outcome(job)
        message = message or job.end_message
        if message is not None:
            job.message = message
        if not os.path.isdir(job.owner):
            # Its session expired while it ran: that is why it ended (its worker may have
            # failed first, writing into the folder that was removed).
            job.state, job.message = "stopped", EXPIRED
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
        if job.kind == "export":
            return self.export_outcome(job)
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

    def export_outcome(self, job: _Job) -> tuple[str, str]:
        """How an export ended, in one sentence."""
        run = next(iter(job.runs.values()))
        name = Path(job.filename).name
        if run.status == "complete":
            took = f" in {job.seconds:.1f} s" if job.seconds is not None else ""
            return "done", f"Saved {name}{took}: download it from Replay's Export."
        if job.stop_requested or run.status == "stopped":
            return "stopped", (f"Stopped after frame {run.recorded} of {run.planned}; "
                               "no file was written.")
        reason = job.failures[-1] if job.failures else "it ended before its first frame"
        return "failed", f"Failed: {reason.rstrip('.')}."

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
            result_page="sweep" if job.kind == "sweep" else "replay",
            sweep_id=job.sweep_id)

    def add(self, job: _Job) -> JobView:
        self.jobs[job.id] = job
        self.ensure_pool()
        self.schedule()
        return self.view(job)


_manager = _Manager()
