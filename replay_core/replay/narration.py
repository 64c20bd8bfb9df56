"""One plain-language sentence per epoch of a run, for the line under the frame.

The sentence says how many samples are still on the wrong side and how that changed
since the previous epoch, the loss, and the run's latest event (what happens at this
epoch, or the most recent one before it), e.g. "Epoch 37: 12 samples still on the wrong
side, 5 fewer than at epoch 36 (loss 0.213); the learning rate was halved at epoch 30."

Example
-------
>>> import numpy as np
>>> from replay_core.replay.events import find_events
>>> wrong = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0]], bool)
>>> story = find_events(loss=np.array([0.7, 0.5, 0.3]), wrong=wrong)
>>> narrate(story, 1)
'Epoch 1: 1 sample still on the wrong side, 1 fewer than at epoch 0, the fewest so far (loss 0.5).'
"""

from __future__ import annotations

import math

from replay_core.replay.events import Event, RunEvents

__all__ = ["narrate", "narration"]

_SAID_WHEN_ALL_RIGHT = frozenset({"perfect", "last_crossing"})


def _samples(n: int) -> str:
    return f"{n} sample{'s' if n != 1 else ''}"


def _loss(value: float) -> str:
    return f"loss {value:.3g}" if math.isfinite(value) else "the loss is not a number"


def _joined(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _context(story: RunEvents, epoch: int, skip: frozenset[str] = frozenset()) -> str:
    """What the run's major events (but those of the kinds in ``skip``) say at ``epoch``:
    those of this epoch, a plateau the loss is on, or else the latest one before it."""
    major = [e for e in story.major if e.kind not in skip]
    here = [e for e in major if e.epoch == epoch]
    if here:
        return _joined([e.phrase for e in here]) + " at this epoch"
    plateau = next((e for e in reversed(story.of_kind("plateau")) if e.epoch < epoch), None)
    if plateau is not None:
        end = next((e.epoch for e in story.of_kind("plateau_end") if e.epoch > plateau.epoch),
                   None)
        if end is None or epoch < end:
            return f"the loss has been on a plateau since epoch {plateau.epoch}"
    before: list[Event] = [e for e in major if e.epoch < epoch]
    if not before:
        return ""
    last = before[-1].epoch
    return _joined([e.phrase for e in before if e.epoch == last]) + f" at epoch {last}"


def narrate(story: RunEvents, epoch: int) -> str:
    """The sentence of one epoch (0..E)."""
    n_epochs = story.n_epochs
    e = int(epoch)
    if not 0 <= e <= n_epochs:
        raise ValueError(f"epoch must be 0 to {n_epochs}, got {epoch}")
    wrong = int(story.wrong[e])
    loss = _loss(float(story.loss[e]))
    if e == 0:
        head = (f"Epoch 0, the initial weights before any training: {wrong} of "
                f"{_samples(story.n_samples)} on the wrong side ({loss})")
    elif wrong == 0:
        before = int(story.wrong[e - 1])
        if before:
            first = " for the first time" if any(
                ev.kind == "perfect" for ev in story.at(e)) else ""
            head = (f"Epoch {e}: every sample on its correct side{first}, the last "
                    f"{_samples(before) if before > 1 else 'one'} crossed in this epoch ({loss})")
        else:
            since = e
            while since > 1 and story.wrong[since - 1] == 0:
                since -= 1
            head = f"Epoch {e}: every sample on its correct side since epoch {since} ({loss})"
    else:
        before = int(story.wrong[e - 1])
        if wrong < before:
            change = f", {before - wrong} fewer than at epoch {e - 1}"
        elif wrong > before:
            change = f", {wrong - before} more than at epoch {e - 1}"
        else:
            change = f", as many as at epoch {e - 1}"
        if any(ev.kind == "fewer_wrong" for ev in story.at(e)):
            change += ", the fewest so far"
        head = f"Epoch {e}: {_samples(wrong)} still on the wrong side{change} ({loss})"
    # With every sample right the head already says when that began.
    context = _context(story, e, _SAID_WHEN_ALL_RIGHT if wrong == 0 else frozenset())
    return head + (f"; {context}." if context else ".")


def narration(story: RunEvents) -> tuple[str, ...]:
    """The sentence of every epoch 0..E."""
    return tuple(narrate(story, e) for e in range(story.n_epochs + 1))
