"""A run's writer in a worker process: every call it would make on its ``RunWriter`` goes
as a message to the process that writes the run file (see :mod:`replay_core.train.pool`).

:class:`ForwardingWriter` sends each epoch as it comes (a single training: the page's live
preview follows every epoch); :class:`ChunkedForwardingWriter` holds a group's run's epochs
and sends them together, and :class:`GroupChunks` flushes a group's writers together every
half second or so. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from replay_core.store import runfile

__all__ = ["ChunkedForwardingWriter", "ForwardingWriter", "GroupChunks"]

# Defaults of GroupChunks (the pool passes its own, ``pool.CHUNK_S`` / ``CHUNK_BYTES``).
CHUNK_S = 0.5
CHUNK_BYTES = 16 * 2**20


class ForwardingWriter(runfile.WriterState):
    """A ``RunWriter`` look-alike in a worker: every call goes to the writing process."""

    def __init__(self, events: Any, key: Any, filename: Any, run_name: str,
                 **fields: Any) -> None:
        self._events = events
        self._key = key
        self.name = run_name
        self._epochs_done = 0
        self._status = "running"
        self._closed = False
        fields = {k: (np.asarray(v) if k.endswith(("inputs", "targets")) and v is not None
                      else v) for k, v in fields.items()}
        fields["initial_weights"] = [[np.asarray(w, np.float32) for w in layer]
                                     for layer in fields["initial_weights"]]
        fields["activation_config"] = [dict(c) for c in fields["activation_config"]]
        events.put(("open", key, fields))

    @property
    def closed(self) -> bool:
        return self._closed

    def append_epoch(self, weights: Sequence[Sequence[Any]], logs: Mapping[str, Any],
                     lr: float) -> None:
        arrays = [[np.asarray(w, np.float32) for w in layer] for layer in weights]
        self._events.put(("epoch", self._key, arrays, runfile.stored_logs(logs), float(lr)))
        self._epochs_done += 1

    def set_status(self, status: str, message: str = "",
                   diverged_epoch: int | None = None) -> None:
        runfile.check_status(status)
        self._events.put(("status", self._key, status, str(message), diverged_epoch))
        self._status = status

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._events.put(("close", self._key))


class ChunkedForwardingWriter(ForwardingWriter):
    """A :class:`ForwardingWriter` that holds its run's epochs and sends them together.

    ``flush`` sends the epochs held as one ``("epochs", key, weights, logs, lr)`` message:
    per layer each weight stacked ``(k, *shape)``, logs as name -> ``(k,)`` (NaN where an
    epoch lacks one), rates ``(k,)``; the writing process stores them in one write
    (``RunWriter.append_stacked``). A status and the close send what is held first, so a
    stop or a failure loses no finished epoch. ``epochs_done`` counts the epochs held.
    """

    def __init__(self, events: Any, key: Any, filename: Any, run_name: str,
                 **fields: Any) -> None:
        super().__init__(events, key, filename, run_name, **fields)
        self._held: list[tuple[list[list[np.ndarray]], dict[str, float], float]] = []
        self.held_bytes = 0
        self._log_names: dict[Any, str | None] = {}  # a log's stored name (None: not kept)

    def append_epoch(self, weights: Sequence[Sequence[Any]], logs: Mapping[str, Any],
                     lr: float) -> None:
        arrays = [[np.asarray(w, np.float32) for w in layer] for layer in weights]
        if all(isinstance(v, float) for v in logs.values()):
            # The group's logs: the same plain names every epoch, mapped once.
            for key in logs.keys() - self._log_names.keys():
                self._log_names[key] = next(iter(runfile.stored_logs({key: 0.0})), None)
            stored = {self._log_names[k]: v for k, v in logs.items()
                      if self._log_names[k] is not None}
        else:
            stored = runfile.stored_logs(logs)
        self._held.append((arrays, stored, float(lr)))
        self.held_bytes += sum(w.nbytes for layer in arrays for w in layer)
        self._epochs_done += 1

    def flush(self) -> None:
        """Send the epochs held (nothing when none is)."""
        held, self._held, self.held_bytes = self._held, [], 0
        if not held:
            return
        first = held[0][0]
        weights = [[np.stack([epoch[0][i][j] for epoch in held]) for j in range(len(layer))]
                   for i, layer in enumerate(first)]
        keys = dict.fromkeys(key for epoch in held for key in epoch[1])
        logs = {key: np.array([epoch[1].get(key, np.nan) for epoch in held], np.float64)
                for key in keys}
        rates = np.array([epoch[2] for epoch in held], np.float64)
        self._events.put(("epochs", self._key, weights, logs, rates))

    def set_status(self, status: str, message: str = "",
                   diverged_epoch: int | None = None) -> None:
        runfile.check_status(status)
        self.flush()
        super().set_status(status, message, diverged_epoch)

    def close(self) -> None:
        if not self._closed:
            self.flush()
        super().close()


class GroupChunks:
    """The chunked writers of a group's runs, flushed together: after an epoch of the
    group once ``period`` seconds (default ``CHUNK_S``) passed since the last flush (so the
    first epoch, which waits for the program to compile, goes at once) or the weights held
    reach ``max_bytes`` (default ``CHUNK_BYTES``).

    Example
    -------
    >>> chunks = GroupChunks()                                          # doctest: +SKIP
    >>> w = chunks.add(ChunkedForwardingWriter(events, key, f, name, **fields))  # doctest: +SKIP
    >>> batched.train_group(..., on_group_epoch=chunks.tick)            # doctest: +SKIP
    """

    def __init__(self, period: float | None = None, max_bytes: int | None = None) -> None:
        self.writers: list[ChunkedForwardingWriter] = []
        self._period = CHUNK_S if period is None else float(period)
        self._max_bytes = CHUNK_BYTES if max_bytes is None else int(max_bytes)
        self._last = time.monotonic()

    def add(self, writer: ChunkedForwardingWriter) -> ChunkedForwardingWriter:
        self.writers.append(writer)
        return writer

    def tick(self, finished: int = 0) -> None:
        """After an epoch of the group (``batched.train_group``'s ``on_group_epoch``)."""
        if (time.monotonic() - self._last >= self._period
                or sum(w.held_bytes for w in self.writers) >= self._max_bytes):
            self.flush()

    def flush(self) -> None:
        """Send every writer's held epochs now."""
        for writer in self.writers:
            writer.flush()
        self._last = time.monotonic()
