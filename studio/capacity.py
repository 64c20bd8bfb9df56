"""Server-wide limits on concurrent work: trainings and sweep worker processes.

Every browser session is a thread of the one Streamlit server process, so the counters
here, module-level state behind one lock, are shared by all sessions. A page asks for a
slot before it trains or starts a sweep; when the server already runs as much as its CPU
quota and memory hold, the request is refused with one sentence
(:class:`~replay_core.errors.ServerBusyError`) instead of slowing every visitor down.

Limits, read when first needed and kept for the life of the server (later readings of
the free memory would count the work this module let in):

- trainings: one per core this process may use (``sweep.usable_cores``: the CPU quota of
  a container), as far as the available memory holds ``TRAINING_MEMORY_BYTES`` each;
  ``DEEPREPLAY_MAX_TRAININGS`` sets it.
- workers: training worker processes, ``sweep.default_workers()`` (one per core, about
  0.9 GB each); ``DEEPREPLAY_MAX_WORKERS`` sets it. The server's job pool
  (``studio.jobs``) keeps this many workers at most, shared by every session's trainings
  and sweeps; the slots here still bound work a page runs on its own.

Example
-------
>>> from studio import capacity                                      # doctest: +SKIP
>>> with capacity.slot("training"):                                  # doctest: +SKIP
...     trainer.train(spec, path, name)
>>> with capacity.slot("workers", 4, minimum=1) as workers:          # doctest: +SKIP
...     sweep.run_sweep(tasks, path, workers=workers)
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

from replay_core.errors import ServerBusyError
from replay_core.train import sweep

__all__ = ["KINDS", "ServerBusyError", "acquire", "limit", "release", "running", "slot"]

KINDS = ("training", "workers")
ENV = {"training": "DEEPREPLAY_MAX_TRAININGS", "workers": "DEEPREPLAY_MAX_WORKERS"}
# What one training adds to the server process (TensorFlow itself is loaded once and
# shared; a small network, its compiled epoch and the recorder's buffers are the rest).
TRAINING_MEMORY_BYTES = 300 * 2**20
# How the busy sentence names what is running.
_NOUNS = {"training": ("training", "trainings"),
          "workers": ("sweep worker process", "sweep worker processes")}

_lock = threading.Lock()
_running = dict.fromkeys(KINDS, 0)
_hardware: dict[str, int] = {}
# Trainings held by the current thread (one Streamlit script run): a training started
# inside a slot this script run already holds (Compare's three activations in one click)
# does not ask again.
_held = threading.local()


def _hardware_limit(kind: str) -> int:
    if kind not in _hardware:
        if kind == "training":
            cores = sweep.usable_cores()
            memory = sweep.available_memory()
            if memory is not None:
                cores = min(cores, max(1, memory // TRAINING_MEMORY_BYTES))
            _hardware[kind] = max(1, int(cores))
        else:
            _hardware[kind] = sweep.default_workers()
    return _hardware[kind]


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")


def limit(kind: str) -> int:
    """How many of ``kind`` ("training" or "workers") may run at once on this server."""
    _check_kind(kind)
    value = os.environ.get(ENV[kind], "").strip()
    if value.isdigit() and int(value) >= 1:
        return int(value)
    return _hardware_limit(kind)


def running(kind: str) -> int:
    """How many of ``kind`` run now, over all sessions."""
    _check_kind(kind)
    with _lock:
        return _running[kind]


def _busy(kind: str, count: int) -> ServerBusyError:
    noun = _NOUNS[kind][0 if count == 1 else 1]
    return ServerBusyError(f"The server is busy with {count} other {noun}; "
                           "try again in a minute.")


def _nested_training(kind: str) -> bool:
    return kind == "training" and getattr(_held, "trainings", 0) > 0


def acquire(kind: str, n: int = 1, *, minimum: int | None = None) -> int:
    """Take up to ``n`` slots of ``kind``, at least ``minimum`` (default ``n``); return
    how many were taken. Give them back with :func:`release`, in a ``finally``.

    Raises
    ------
    ServerBusyError
        Fewer than ``minimum`` slots are free.
    """
    _check_kind(kind)
    n = int(n)
    minimum = n if minimum is None else int(minimum)
    if not 1 <= minimum <= n:
        raise ValueError(f"ask for 1 <= minimum <= n slots, got minimum {minimum} of {n}")
    if _nested_training(kind):
        _held.trainings += 1
        return n
    cap = limit(kind)
    with _lock:
        free = cap - _running[kind]
        if free < minimum:
            raise _busy(kind, _running[kind])
        granted = min(n, free)
        _running[kind] += granted
    if kind == "training":
        _held.trainings = getattr(_held, "trainings", 0) + 1
    return granted


def release(kind: str, n: int) -> None:
    """Give back ``n`` slots of ``kind`` taken by :func:`acquire` (0 does nothing)."""
    _check_kind(kind)
    if n <= 0:
        return
    if kind == "training":
        _held.trainings = max(0, getattr(_held, "trainings", 0) - 1)
        if _held.trainings > 0:  # a nested training: the outer slot still holds
            return
    with _lock:
        _running[kind] = max(0, _running[kind] - int(n))


@contextlib.contextmanager
def slot(kind: str, n: int = 1, *, minimum: int | None = None) -> Iterator[int]:
    """Hold up to ``n`` slots of ``kind`` (at least ``minimum``, default ``n``) for the
    ``with`` block, which receives how many it got.

    The slots are given back however the block ends: an exception, or Streamlit's stop
    and rerun exceptions, which it raises inside the script thread at the next ``st``
    call, so ``finally`` runs.

    Raises
    ------
    ServerBusyError
        Fewer than ``minimum`` slots are free; the message is one sentence for the page.

    Example
    -------
    >>> with slot("training"):                                        # doctest: +SKIP
    ...     train(...)
    """
    granted = acquire(kind, n, minimum=minimum)
    try:
        yield granted
    finally:
        release(kind, granted)
