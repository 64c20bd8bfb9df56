"""Worker processes that train, and the one process that writes what they record.

HDF5 files are not safe for concurrent writers, and TensorFlow costs a process about
0.7 GB, so training runs in worker processes that never open a run file: each run's
writer in a worker (:class:`ForwardingWriter`, in :mod:`replay_core.train.forwarding`)
forwards every call it would make on its
``RunWriter`` (open the run, append an epoch, set the status, close) as a message to the
process that started the worker, which is the file's only writer.

Two users share the worker loop (:func:`worker_main`) and the forwarding writer:

- ``sweep.run_sweep`` starts its own workers for one sweep and hands them
  :class:`GroupUnit` s through one queue;
- :class:`WorkerPool` keeps long-lived workers for a server (started on first use, each
  importing TensorFlow once), gives each one unit at a time (a :class:`TrainingUnit` or a
  :class:`GroupUnit`), stops a unit on request and notices a worker that died, so the
  server can mark its runs ``failed`` (their finished epochs kept) and start a fresh one.

Messages a worker sends (the first item names them; ``key`` is the unit's key for a
training, the task's key for a run of a group):

``("ready", worker)``, ``("broken", worker, text)``, ``("exit", worker)``,
``("start", key, worker)``, ``("open", key, fields)``, ``("epoch", key, weights, logs, lr)``,
``("epochs", key, weights, logs, lr)`` (a chunk of a group's run: each array stacked with
the epochs first, logs and rates as ``(k,)`` arrays; see :class:`ChunkedForwardingWriter`),
``("status", key, status, message, diverged_epoch)``, ``("close", key)``,
``("failed", key, text)``, ``("done", key, status, message, epochs_done[, figures])``,
``("progress", key, frames_done, frames_total)`` (an export),
``("idle", worker, seq)`` once a unit has ended.

A pool's workers also render exports (:class:`ExportUnit`): they import TensorFlow only
when their first training comes, so a worker that has only exported stays light.

This module imports TensorFlow only inside the worker processes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_connections
from typing import Any

from replay_core.data.spec import RunSpec
from replay_core.train.forwarding import (
    ChunkedForwardingWriter,
    ForwardingWriter,
    GroupChunks,
)

__all__ = ["ChunkedForwardingWriter", "ExportUnit", "ForwardingWriter", "GroupChunks",
           "GroupUnit", "TrainingUnit", "WorkerPool", "plain_main", "worker_main"]

# How much lower than the server a worker runs (``os.nice``): pages first, training after.
WORKER_NICENESS = 10
# A group's runs send their epochs in chunks of at most this many seconds of training
# (or CHUNK_BYTES of weights): the 60 runs x 150 epochs of a seed sweep make a few hundred
# messages instead of 9,000, a progress bar still moves twice a second, and a worker that
# dies loses at most the epochs of its last half second.
CHUNK_S = 0.5
CHUNK_BYTES = 16 * 2**20


@dataclass(frozen=True)
class TrainingUnit:
    """One training, as ``trainer.train`` runs it: its spec (JSON), run name and file.

    Args:
        key: how its messages name it (any picklable value).
        spec_json: the RunSpec as JSON.
        run_name: the run's name in ``filename``.
        filename: the run file; the worker never opens it (uploaded CSV data is read
            from its folder).
        max_budget: refuse runs that cost more (``trainer.training_cost``).
        seq: the unit's number, which a stop request names (see :class:`WorkerPool`).
    """

    key: Any
    spec_json: str
    run_name: str
    filename: str
    max_budget: float | None = None
    seq: int = -1


@dataclass(frozen=True)
class GroupUnit:
    """Runs of one graph trained together as one batched computation
    (``batched.train_group``).

    Args:
        tasks: objects with ``spec``, ``run_name`` and ``index`` (``sweep.SweepTask``).
        filename: the run file (never opened by the worker).
        max_budget: refuse runs that cost more.
        keys: how the messages name each task's run (default: its ``index``).
        seq: the unit's number, which a stop request names.
    """

    tasks: tuple
    filename: str
    max_budget: float | None = None
    keys: tuple = field(default=())
    seq: int = -1

    def key(self, i: int) -> Any:
        return self.keys[i] if self.keys else self.tasks[i].index


@dataclass(frozen=True)
class ExportUnit:
    """One export (an animation or a still of a run's views) rendered in a worker.

    Args:
        key: how its messages name it.
        task: an object with ``run(progress)`` that writes the file and returns its path,
            and ``frames`` (``render.export_task.ExportTask``: it carries the run's
            arrays, so the worker opens no run file).
        seq: the unit's number, which a stop request names.
    """

    key: Any
    task: Any
    seq: int = -1


class ExportStopped(Exception):
    """Raised from an export's progress callback when its unit is asked to stop."""


class _UnitStop:
    """Set when the whole set of workers is stopped (``stop_event``), when this unit is
    (``stop_seq`` holds its number), or when the process that started the worker is gone
    (nobody would read what it sends)."""

    def __init__(self, stop_event: Any, stop_seq: Any, seq: int) -> None:
        self._event = stop_event
        self._seq_flag = stop_seq
        self._seq = seq
        self._parent = os.getppid()

    def is_set(self) -> bool:
        if self._event is not None and self._event.is_set():
            return True
        if self._seq_flag is not None and self._seq >= 0 and self._seq_flag.value == self._seq:
            return True
        return os.getppid() != self._parent


class PipeEvents:
    """The sending end of a worker's pipe, with a queue's ``put``."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def put(self, msg: tuple) -> None:
        self._conn.send(msg)


def _one_sentence(exc: BaseException) -> str:
    from replay_core.errors import ReplayError

    return str(exc) if isinstance(exc, ReplayError) else f"{type(exc).__name__}: {exc}"


def worker_main(worker_id: int, tasks: Any, events: Any, stop_event: Any = None,
                stop_seq: Any = None, threads: int = 1, lazy: bool = False) -> None:
    """A worker process: train units from ``tasks`` until ``None`` or a stop.

    Parameters
    ----------
    worker_id : how its messages name the worker.
    tasks : anything with ``get(timeout=...)`` giving units (``None`` ends the loop).
    events : anything with ``put(msg)`` reaching the writing process.
    stop_event : ends the loop, and every unit after its epoch, when set (or None).
    stop_seq : a shared integer; a unit whose ``seq`` it holds stops after its epoch.
    threads : TensorFlow's intra- and inter-op threads.
    lazy : import TensorFlow before the first training, not at start (a pool's workers:
        one that only renders exports never loads it).
    """
    if not isinstance(events, PipeEvents) and hasattr(events, "send"):
        events = PipeEvents(events)
    # Ctrl-C in a terminal reaches every process of the group; the parent handles it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Training yields the CPU to whoever serves a page: on a server with as many workers
    # as cores, a visitor's slider step must not wait behind another visitor's epochs.
    with contextlib.suppress(OSError, AttributeError):
        os.nice(WORKER_NICENESS)
    # A worker has no one to read TensorFlow's start-up chatter; errors reach the parent.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not lazy and not _load_tensorflow(worker_id, events, threads):
        return
    loaded = not lazy
    events.put(("ready", worker_id))
    orphan = _UnitStop(stop_event, None, -1)
    while not orphan.is_set():
        try:
            unit = tasks.get(timeout=0.5)
        except queue.Empty:
            continue
        if unit is None or orphan.is_set():
            break
        stop = _UnitStop(stop_event, stop_seq, unit.seq)
        if isinstance(unit, ExportUnit):
            export_one_unit(unit, events, stop, worker_id)
            events.put(("idle", worker_id, unit.seq))
            continue
        if not loaded:
            if not _load_tensorflow(worker_id, events, threads):
                return
            loaded = True
        if isinstance(unit, GroupUnit):
            train_group_unit(unit, events, stop, worker_id)
        else:
            train_one_unit(unit, events, stop, worker_id)
        events.put(("idle", worker_id, unit.seq))
    events.put(("exit", worker_id))


def _load_tensorflow(worker_id: int, events: Any, threads: int) -> bool:
    """Import TensorFlow and the trainers; False (and a ``broken`` message) when it fails."""
    try:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        # Imported before the first unit: its time is the worker's start, not a run's.
        from replay_core.train import batched, trainer  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one message
        events.put(("broken", worker_id, f"{type(exc).__name__}: {exc}"))
        return False
    return True


def export_one_unit(unit: ExportUnit, events: Any, stop: Any, worker_id: int) -> None:
    """Render one export, a ``progress`` message per frame; a stop ends it between two
    frames and its file is never written (``done`` with status ``stopped``)."""

    events.put(("start", unit.key, worker_id))
    total = max(int(getattr(unit.task, "frames", 1)), 1)
    started = time.perf_counter()
    done = 0

    def progress(frames: int, of: int) -> None:
        nonlocal done
        done = frames
        events.put(("progress", unit.key, int(frames), int(of)))
        if stop.is_set():
            raise ExportStopped

    try:
        if stop.is_set():
            raise ExportStopped
        path = unit.task.run(progress)
    except ExportStopped:
        events.put(("done", unit.key, "stopped", f"stopped after frame {done} of {total}",
                    done))
        return
    except Exception as exc:  # noqa: BLE001 - one message for the parent
        events.put(("failed", unit.key, _one_sentence(exc)))
        return
    seconds = time.perf_counter() - started
    events.put(("done", unit.key, "complete", str(path), total, {"seconds": seconds}))


def train_one_unit(unit: TrainingUnit, events: Any, stop: Any, worker_id: int) -> None:
    """Train one run (``trainer.train``); its writer forwards to ``events``."""
    from replay_core.train import trainer

    events.put(("start", unit.key, worker_id))

    def writer(filename: Any, run_name: str, **fields: Any) -> ForwardingWriter:
        return ForwardingWriter(events, unit.key, filename, run_name, **fields)

    try:
        result = trainer.train(RunSpec.from_json(unit.spec_json), unit.filename,
                               unit.run_name, stop_event=stop, max_budget=unit.max_budget,
                               writer_factory=writer)
    except Exception as exc:  # noqa: BLE001 - one message for the parent
        events.put(("failed", unit.key, _one_sentence(exc)))
        return
    events.put(("done", unit.key, result.status, result.message, result.epochs_done))


def train_group_unit(unit: GroupUnit, events: Any, stop: Any, worker_id: int) -> None:
    """Train the tasks of one graph as one batched computation; every run's writer
    forwards to ``events`` (the writing process, or this one's handler)."""
    from replay_core.train import batched

    group = unit.tasks
    for i in range(len(group)):
        events.put(("start", unit.key(i), worker_id))

    # Each run's epochs go in chunks (every CHUNK_S), all runs of the group at once.
    chunks = GroupChunks(CHUNK_S, CHUNK_BYTES)

    def writer(i: int, *args: Any, **fields: Any) -> ForwardingWriter:
        return chunks.add(ChunkedForwardingWriter(events, unit.key(i), *args, **fields))

    try:
        # The worker never opens the file; the trainer finds uploaded CSV data in its
        # folder.
        results = batched.train_group(
            [task.spec for task in group], unit.filename, [task.run_name for task in group],
            writer_factory=writer, on_group_epoch=chunks.tick, stop_event=stop,
            max_budget=unit.max_budget)
    except Exception as exc:  # noqa: BLE001 - one message for the parent
        for i in range(len(group)):
            events.put(("failed", unit.key(i), _one_sentence(exc)))
        return
    for i, out in enumerate(results):
        figures = {"first_perfect_epoch": out.first_perfect_epoch,
                   "final_loss": out.final_loss, "final_accuracy": out.final_accuracy}
        events.put(("done", unit.key(i), out.result.status, out.result.message,
                    out.result.epochs_done, figures))


_MAIN_LOCK = threading.Lock()


@contextlib.contextmanager
def plain_main():
    """Start worker processes without re-running the caller's main script in them.

    A spawned process imports the parent's ``__main__`` first; under ``streamlit run``
    that is the app script, under ``python -m replay_core`` the command line. The worker
    needs neither: its target is a function of this module.
    """
    import sys
    import types

    with _MAIN_LOCK:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if main is not None:
                sys.modules["__main__"] = main


# -- a server's long-lived workers -----------------------------------------------------


class _Worker:
    def __init__(self, ctx: Any, worker_id: int, threads: int) -> None:
        self.id = worker_id
        self.tasks = ctx.Queue()
        self.stop_seq = ctx.Value("q", -1, lock=False)
        receive, send = ctx.Pipe(duplex=False)
        self.conn = receive
        self.unit: TrainingUnit | GroupUnit | ExportUnit | None = None
        self.proc = ctx.Process(target=worker_main, name=f"training-worker-{worker_id}",
                                daemon=True, args=(worker_id, self.tasks, send, None,
                                                   self.stop_seq, threads, True))
        with plain_main():
            self.proc.start()
        # The worker holds the only sending end now: its death closes the pipe.
        send.close()


class WorkerPool:
    """Long-lived worker processes, one unit each at a time, started when needed.

    Not thread-safe: one thread (a server's dispatcher) calls it, or callers hold a lock.

    Args:
        size: at most this many workers at once.
        threads: TensorFlow threads of each worker.

    Example
    -------
    >>> pool = WorkerPool(2)                                          # doctest: +SKIP
    >>> pool.submit(TrainingUnit("a", spec.to_json(), "a", "runs.h5", seq=1))  # doctest: +SKIP
    >>> for worker, msg in pool.poll(0.5): ...                        # doctest: +SKIP
    """

    def __init__(self, size: int, threads: int = 1) -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least 1 worker, got {size}")
        self.size = int(size)
        self.threads = max(1, int(threads))
        self._ctx = multiprocessing.get_context("spawn")
        self._workers: dict[int, _Worker] = {}
        self._next_id = 0

    @property
    def busy(self) -> int:
        """Workers running a unit now."""
        return sum(1 for w in self._workers.values() if w.unit is not None)

    def free(self) -> int:
        """Units that could start now (idle workers, and workers not yet started)."""
        return self.size - self.busy

    def workers(self) -> int:
        """Worker processes alive or starting."""
        return len(self._workers)

    def submit(self, unit: TrainingUnit | GroupUnit | ExportUnit) -> int:
        """Give ``unit`` to an idle worker (starting one when none is idle); return the
        worker's id. ``RuntimeError`` when every worker is busy."""
        idle = [w for w in self._workers.values() if w.unit is None]
        if idle:
            worker = idle[0]
        elif len(self._workers) < self.size:
            worker = _Worker(self._ctx, self._next_id, self.threads)
            self._workers[worker.id] = worker
            self._next_id += 1
        else:
            raise RuntimeError("every worker is busy")
        worker.stop_seq.value = -1
        worker.unit = unit
        worker.tasks.put(unit)
        return worker.id

    def stop(self, seq: int) -> bool:
        """Ask the worker running unit ``seq`` to end it after the current epoch; return
        whether a worker runs it."""
        for worker in self._workers.values():
            if worker.unit is not None and worker.unit.seq == seq:
                worker.stop_seq.value = seq
                return True
        return False

    def poll(self, timeout: float) -> list[tuple[int, tuple]]:
        """The messages the workers sent, as ``(worker id, message)``, waiting up to
        ``timeout`` seconds for the first. A worker that died yields
        ``("died", worker_id, unit)`` (its unit, or None) after its last messages, and
        is forgotten: the next unit gets a fresh worker."""
        by_conn = {w.conn: w for w in self._workers.values()}
        out: list[tuple[int, tuple]] = []
        if not by_conn:
            return out
        ready = wait_connections(list(by_conn), timeout)
        for conn in ready:
            worker = by_conn[conn]
            while True:
                try:
                    if not conn.poll():
                        break
                    msg = conn.recv()
                except (EOFError, OSError):
                    out.append((worker.id, ("died", worker.id, worker.unit)))
                    self._forget(worker)
                    break
                if msg[0] == "idle":
                    worker.unit = None
                elif msg[0] in ("broken", "exit"):
                    out.append((worker.id, msg))
                    if msg[0] == "broken":
                        out.append((worker.id, ("died", worker.id, worker.unit)))
                    self._forget(worker)
                    break
                out.append((worker.id, msg))
        # A worker killed before its pipe says so (rare): its exit code tells.
        for worker in list(self._workers.values()):
            if worker.proc.exitcode is not None and worker.id in self._workers:
                self._drain(worker, out)
                out.append((worker.id, ("died", worker.id, worker.unit)))
                self._forget(worker)
        return out

    def _drain(self, worker: _Worker, out: list) -> None:
        with contextlib.suppress(EOFError, OSError):
            while worker.conn.poll():
                out.append((worker.id, worker.conn.recv()))

    def _forget(self, worker: _Worker) -> None:
        self._workers.pop(worker.id, None)
        with contextlib.suppress(OSError):
            worker.conn.close()
        if worker.proc.is_alive():
            worker.proc.kill()
        worker.proc.join(timeout=5)
        worker.tasks.cancel_join_thread()
        worker.tasks.close()

    def pids(self) -> dict[int, int | None]:
        """Worker id -> process id, for the workers alive or starting."""
        return {w.id: w.proc.pid for w in self._workers.values()}

    def running(self) -> dict[int, TrainingUnit | GroupUnit]:
        """Worker id -> the unit it runs."""
        return {w.id: w.unit for w in self._workers.values() if w.unit is not None}

    def close(self) -> None:
        """End every worker (their units stop where they are)."""
        for worker in list(self._workers.values()):
            with contextlib.suppress(Exception):
                worker.tasks.put(None)
            self._forget(worker)
