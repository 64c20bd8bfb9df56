"""Per-epoch arrays that grow in place, for a replay of a run that is still training.

A view holds arrays of every epoch along the first axis. When epochs arrive, joining the
old array and the new epochs' with ``np.concatenate`` copies every old epoch again (the
decision boundary's grid alone is 80 kB per epoch). ``EpochArrays.join`` instead writes the
new epochs into spare room after the old ones and returns a view of the filled part: the
arrays handed out earlier are views of the part filled then, which is never written again.

Example
-------
>>> import numpy as np
>>> grown = EpochArrays()
>>> a = grown.join(np.zeros((3, 2)), np.ones((1, 2)))       # a new array, with room
>>> b = grown.join(a, np.full((2, 2), 2.0))                 # written after a, in place
>>> b.shape, a.shape, np.shares_memory(a, b)
((6, 2), (4, 2), True)
"""

from __future__ import annotations

import numpy as np

GROWTH = 0.25
"""Spare room kept after the filled epochs, as a share of them (16 epochs at least): a
reallocation copies the array at most once every ``GROWTH`` more epochs."""


def _room(epochs: int) -> int:
    return epochs + max(int(GROWTH * epochs), 16)


class _Buffer:
    """One growing array: ``data[:filled]`` is in use."""

    def __init__(self, data: np.ndarray, filled: int) -> None:
        self.data = data
        self.filled = filled
        self.used = True

    def holds(self, array: np.ndarray) -> bool:
        """True when ``array`` is this buffer's whole filled part."""
        return (len(array) == self.filled and array.dtype == self.data.dtype
                and array.shape[1:] == self.data.shape[1:]
                and array.__array_interface__["data"][0]
                == self.data.__array_interface__["data"][0])


class EpochArrays:
    """The growing per-epoch arrays of one replay; handed on to the replay of more epochs
    (``Replay.extended``), which appends its new epochs to them.

    Each array handed out by ``join`` is appended to at most once: a second ``join`` on
    the same array (a second, different continuation) copies instead.
    """

    def __init__(self) -> None:
        self._buffers: list[_Buffer] = []

    def join(self, old: np.ndarray, new: np.ndarray) -> np.ndarray:
        """``np.concatenate([old, new])`` (same dtype as ``old`` and ``new`` together),
        written in place after ``old`` when ``old`` is the latest array of one of these
        buffers and there is room."""
        old, new = np.asarray(old), np.asarray(new)
        dtype = np.result_type(old, new)
        total = len(old) + len(new)
        for buffer in self._buffers:
            if buffer.holds(old) and dtype == buffer.data.dtype:
                if total > len(buffer.data):
                    data = np.empty((_room(total), *old.shape[1:]), dtype)
                    data[:len(old)] = old
                    buffer.data = data
                buffer.data[len(old):total] = new
                buffer.filled, buffer.used = total, True
                return buffer.data[:total]
        data = np.empty((_room(total), *old.shape[1:]), dtype)
        data[:len(old)] = old
        data[len(old):total] = new
        self._buffers.append(_Buffer(data, total))
        return data[:total]

    def drop_unused(self) -> None:
        """Let go of the buffers no ``join`` used since the last call (views built in full
        instead, or no longer shown)."""
        self._buffers = [b for b in self._buffers if b.used]
        for buffer in self._buffers:
            buffer.used = False
