"""The moments of a training run: where a learner scrubbing many epochs should look.

From the replayed per-epoch predictions and the recorded logs (numpy only), a run's
events: the first epoch at 100 % training accuracy, every epoch whose count of
misclassified samples is a new low, the last sample crossing to its correct side, the
lowest validation loss and the onset of overfitting, learning-rate reductions, early
stopping, divergence, and plateaus of the loss and their end.

Epochs count as everywhere in a replay: 0 is the state before training, ``e`` the
weights after epoch ``e``. The curves used are the replayed ones (the loss and
accuracy of each epoch's stored weights on all the data, as the loss panel draws them),
so an event sits exactly where the panel shows it.

Example
-------
>>> import numpy as np
>>> wrong = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0]], bool)
>>> story = find_events(loss=np.array([0.7, 0.5, 0.3, 0.2]), wrong=wrong)
>>> [(e.epoch, e.kind) for e in story.events]
[(1, 'fewer_wrong'), (2, 'perfect'), (2, 'last_crossing')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "KINDS",
    "MINOR_KINDS",
    "Event",
    "EventSettings",
    "RunEvents",
    "find_events",
    "run_events",
]

KINDS = {
    "perfect": "100 % accuracy",
    "fewer_wrong": "fewest misclassified",
    "last_crossing": "last crossing",
    "best_val_loss": "best validation loss",
    "overfitting": "overfitting begins",
    "lr_reduced": "learning rate reduced",
    "early_stop": "early stop",
    "divergence": "divergence",
    "plateau": "plateau",
    "plateau_end": "plateau ends",
}
"""Every event kind and its short label."""

MINOR_KINDS = frozenset({"fewer_wrong"})
"""Kinds that can occur at many epochs of one run; lists show them on request."""

THRESHOLD = 0.5
"""A sample is predicted positive when P(class 1) is at or above this (as in replay)."""


@dataclass(frozen=True)
class Event:
    """One moment of a run.

    Attributes
    ----------
    epoch : the epoch (0..E) to look at.
    kind : one of ``KINDS``.
    text : one line saying what happens, for a list of events.
    phrase : the same as a past-tense clause that reads after "at epoch N", for the
        narration ("the learning rate was halved").
    """

    epoch: int
    kind: str
    text: str
    phrase: str

    @property
    def label(self) -> str:
        """The kind's short label."""
        return KINDS[self.kind]

    @property
    def major(self) -> bool:
        """False for the kinds that can occur at many epochs (``MINOR_KINDS``)."""
        return self.kind not in MINOR_KINDS


@dataclass(frozen=True)
class EventSettings:
    """How events are found.

    Attributes
    ----------
    overfit_epochs : k; validation loss rising at each of k epochs in a row while the
        training loss is lower after them than before is the onset of overfitting.
    plateau_epochs : k; the loss changing by less than ``plateau_change`` (relative) at
        each of k epochs in a row is a plateau.
    plateau_change : the relative change per epoch below which the loss counts as flat.
    """

    overfit_epochs: int = 5
    plateau_epochs: int = 10
    plateau_change: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("overfit_epochs", "plateau_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a whole number of epochs of at least 1, "
                                 f"got {value!r}")
        change = self.plateau_change
        if not (isinstance(change, float | int) and 0 < float(change) < 1):
            raise ValueError(f"plateau_change must be between 0 and 1, got {change!r}")


@dataclass(frozen=True)
class RunEvents:
    """A run's events, with the per-epoch figures its narration reads.

    Attributes
    ----------
    events : the events in epoch order (ties in the order of ``KINDS``).
    wrong : (E+1,) int, misclassified training samples at every epoch.
    loss : (E+1,) training loss at every epoch; accuracy : (E+1,).
    val_loss : (E+1,) validation loss, or None.
    lr : (E,) learning rate in force during epoch ``e + 1``, or None.
    n_samples : training samples.
    settings : the ``EventSettings`` used.
    """

    events: tuple[Event, ...]
    wrong: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    val_loss: np.ndarray | None
    lr: np.ndarray | None
    n_samples: int
    settings: EventSettings = EventSettings()

    @property
    def n_epochs(self) -> int:
        return len(self.wrong) - 1

    @property
    def major(self) -> tuple[Event, ...]:
        """The events that are not ``MINOR_KINDS``."""
        return tuple(e for e in self.events if e.major)

    def at(self, epoch: int) -> tuple[Event, ...]:
        """The events of one epoch."""
        return tuple(e for e in self.events if e.epoch == epoch)

    def of_kind(self, kind: str) -> tuple[Event, ...]:
        """The events of one kind, in epoch order."""
        return tuple(e for e in self.events if e.kind == kind)


# -- helpers ------------------------------------------------------------------------------

def _samples(n: int) -> str:
    return f"{n} sample{'s' if n != 1 else ''}"


def _epochs(n: int) -> str:
    return f"{n} epoch{'s' if n != 1 else ''}"


def _rate(value: float) -> str:
    return f"{value:.3g}"


def _factor_words(factor: float) -> str:
    """'halved', 'cut to a tenth'... for a learning-rate factor below 1."""
    for target, words in ((0.5, "halved"), (0.1, "cut to a tenth"), (0.2, "cut to a fifth"),
                          (0.25, "cut to a quarter"), (1 / 3, "cut to a third")):
        if abs(factor - target) <= 1e-3 * target:
            return words
    return f"multiplied by {factor:.2g}"


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` index ranges of the runs of True in a 1-D bool array."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def _curve(values: Any, n: int, what: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    if a.shape != (n,):
        raise ValueError(f"{what} must hold one value per epoch state ({n}), got {a.shape}")
    return a


# -- the finders ---------------------------------------------------------------------------

def _wrong_events(wrong: np.ndarray, counts: np.ndarray,
                  inputs: np.ndarray | None) -> list[Event]:
    events: list[Event] = []
    n_epochs = len(counts) - 1
    lowest = counts[0]
    perfect = None
    for e in range(1, n_epochs + 1):
        c = int(counts[e])
        if c == 0 and perfect is None:
            perfect = e
            events.append(Event(e, "perfect", "Every training sample is on its correct side "
                                "for the first time: 100 % training accuracy.",
                                "every sample was first on its correct side"))
        elif c < lowest and c > 0:
            events.append(Event(e, "fewer_wrong", f"{_samples(c)} on the wrong side, fewer "
                                f"than at any earlier epoch ({int(lowest)} before).",
                                f"the fewest misclassified samples so far ({c}) were reached"))
        lowest = min(lowest, c)
    if n_epochs == 0:
        return events
    crossed = wrong[:-1] & ~wrong[1:]  # (E, N): wrong at e-1, right at e
    crossing_epochs = np.flatnonzero(crossed.any(axis=1))
    if crossing_epochs.size:
        e = int(crossing_epochs[-1]) + 1
        who = np.flatnonzero(crossed[e - 1])
        final = int(counts[-1])
        if len(who) == 1:
            where = ""
            if inputs is not None and inputs.ndim == 2 and inputs.shape[1] == 2:
                x, y = inputs[who[0]]
                where = f", at ({x:.2f}, {y:.2f}),"
            what = f"The last sample to cross{where} moves to its correct side"
        else:
            what = f"The last {len(who)} samples to cross move to their correct side"
        if final == 0:
            text = f"{what}: from here on every sample is on its correct side."
        else:
            text = (f"{what}; {_samples(final)} stay on the wrong side to the end."
                    if final != 1 else f"{what}; 1 sample stays on the wrong side to the end.")
        events.append(Event(e, "last_crossing", text,
                            "the last sample crossed to its correct side"))
    return events


def _validation_events(loss: np.ndarray, val_loss: np.ndarray,
                       settings: EventSettings) -> list[Event]:
    events: list[Event] = []
    n_epochs = len(loss) - 1
    if n_epochs < 1:
        return events
    later = np.where(np.isfinite(val_loss[1:]), val_loss[1:], np.inf)
    if np.isfinite(later).any():
        e = int(np.argmin(later)) + 1
        events.append(Event(e, "best_val_loss", f"Lowest validation loss of the run: "
                            f"{val_loss[e]:.4g} (training loss {loss[e]:.4g}).",
                            "the validation loss was at its lowest"))
    k = settings.overfit_epochs
    with np.errstate(invalid="ignore"):
        rising = np.diff(val_loss) > 0  # rising[i]: from epoch i to i + 1
    for s in range(0, n_epochs - k + 1):
        if rising[s:s + k].all() and loss[s + k] < loss[s]:
            events.append(Event(
                s, "overfitting",
                f"Overfitting begins: after this epoch the validation loss rises for "
                f"{_epochs(k)} in a row ({val_loss[s]:.4g} to {val_loss[s + k]:.4g}) while "
                f"the training loss falls ({loss[s]:.4g} to {loss[s + k]:.4g}).",
                "the validation loss began to rise while the training loss fell "
                "(overfitting)"))
            break
    return events


def _lr_events(lr: np.ndarray) -> list[Event]:
    events: list[Event] = []
    # lr[i] is the rate during epoch i + 1: a drop from lr[i-1] was made at the end of
    # epoch i, whose weights are the last ones made at the old rate.
    for i in range(1, len(lr)):
        before, after = lr[i - 1], lr[i]
        if np.isfinite(before) and np.isfinite(after) and 0 < after < before * (1 - 1e-6):
            words = _factor_words(after / before)
            events.append(Event(i, "lr_reduced", f"The learning rate is {words}, from "
                                f"{_rate(before)} to {_rate(after)}, for the epochs after "
                                "this one.", f"the learning rate was {words}"))
    return events


def _plateau_events(loss: np.ndarray, settings: EventSettings) -> list[Event]:
    events: list[Event] = []
    if len(loss) < 2:
        return events
    with np.errstate(invalid="ignore", divide="ignore"):
        change = np.abs(np.diff(loss)) / np.abs(loss[:-1])  # change[i]: epoch i to i + 1
    flat = np.isfinite(change) & (change < settings.plateau_change)
    percent = f"{settings.plateau_change * 100:.3g} %"
    for a, b in _runs(flat):
        if b - a < settings.plateau_epochs:
            continue
        # Flat steps a..b-1 join epochs a..b: the loss barely moves from epoch a to b.
        if b < len(change):
            step = loss[b + 1] - loss[b]
            how = f"falls {-step / abs(loss[b]):.1%}" if step < 0 else \
                f"rises {step / abs(loss[b]):.1%}"
            length = f"for {_epochs(b - a)}, to epoch {b}"
            events.append(Event(b + 1, "plateau_end", f"The plateau ends: the loss {how} in "
                                f"this epoch after {_epochs(b - a)} of less than {percent} "
                                "each.", "a plateau of the loss ended"))
        else:
            length = "to the end of the run"
        events.append(Event(a, "plateau", f"The loss reaches a plateau: it changes by less "
                            f"than {percent} an epoch {length}.", "the loss reached a plateau"))
    return events


def _stop_events(n_epochs: int, status: str, message: str, planned_epochs: int | None,
                 early_stopping: Mapping | None, diverged_epoch: int | None,
                 loss: np.ndarray) -> list[Event]:
    events: list[Event] = []
    if status == "diverged" or diverged_epoch is not None:
        why = message or (f"the loss became NaN at epoch {diverged_epoch}"
                          if diverged_epoch is not None else "the loss became NaN")
        events.append(Event(n_epochs, "divergence", f"Training diverged ({why}): these are "
                            "the last finite weights.", "training diverged"))
    else:
        bad = np.flatnonzero(~np.isfinite(loss))
        if bad.size:
            e = int(bad[0])
            events.append(Event(e, "divergence", "Training diverged: the loss is not a number "
                                "from this epoch on.", "training diverged"))
    early = status == "complete" and (
        message.startswith("early stopping")
        or (planned_epochs is not None and 0 < n_epochs < planned_epochs))
    if early:
        text = "Early stopping ends training here"
        if planned_epochs is not None and planned_epochs > n_epochs:
            text += f", {_epochs(planned_epochs - n_epochs)} before the planned {planned_epochs}"
        if early_stopping:
            monitor = str(early_stopping.get("monitor", "the monitored value"))
            patience = early_stopping.get("patience")
            if isinstance(patience, int | float):
                text += f": {monitor} had not improved for {_epochs(int(patience))}"
        events.append(Event(n_epochs, "early_stop", text + ".",
                            "early stopping ended training"))
    return events


def find_events(*, loss: Any, wrong: Any, val_loss: Any = None, lr: Any = None,
                inputs: Any = None, status: str = "complete", message: str = "",
                planned_epochs: int | None = None, early_stopping: Mapping | None = None,
                diverged_epoch: int | None = None,
                settings: EventSettings | None = None) -> RunEvents:
    """The events of a run from its curves and per-sample correctness.

    Parameters
    ----------
    loss : (E+1,) training loss at every epoch (0 = the initial weights).
    wrong : (E+1, N) bool, sample ``n`` misclassified by the weights of epoch ``e``.
    val_loss : (E+1,) validation loss, or None.
    lr : (E,) learning rate in force during each epoch 1..E, or None.
    inputs : (N, d) the samples, to say where the last one to cross lies (2-D), or None.
    status, message : the run's stored status and message.
    planned_epochs : the epochs the run was set to train, or None.
    early_stopping : the spec's early stopping settings (``monitor``, ``patience``).
    diverged_epoch : the stored epoch at which the loss became NaN, or None.
    settings : thresholds; ``EventSettings()`` when None.

    Returns
    -------
    RunEvents
    """
    settings = settings or EventSettings()
    wrong = np.asarray(wrong, dtype=bool)
    if wrong.ndim != 2 or wrong.shape[0] < 1:
        raise ValueError(f"wrong must be (epochs + 1, samples), got shape {wrong.shape}")
    n_states = wrong.shape[0]
    loss = _curve(loss, n_states, "loss")
    val = None if val_loss is None else _curve(val_loss, n_states, "val_loss")
    rates = None
    if lr is not None:
        rates = np.asarray(lr, dtype=np.float64).reshape(-1)[: n_states - 1]
    points = None if inputs is None else np.asarray(inputs, dtype=np.float64)
    counts = wrong.sum(axis=1)
    events = _wrong_events(wrong, counts, points)
    if val is not None:
        events += _validation_events(loss, val, settings)
    if rates is not None:
        events += _lr_events(rates)
    events += _plateau_events(loss, settings)
    events += _stop_events(n_states - 1, str(status), str(message or ""), planned_epochs,
                           early_stopping, diverged_epoch, loss)
    order = list(KINDS)
    events.sort(key=lambda ev: (ev.epoch, order.index(ev.kind)))
    accuracy = 1.0 - counts / max(wrong.shape[1], 1)
    return RunEvents(events=tuple(events), wrong=counts.astype(np.int64), loss=loss,
                     accuracy=accuracy, val_loss=val, lr=rates, n_samples=int(wrong.shape[1]),
                     settings=settings)


def _misclassified(proba: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(E+1, N) bool from P(class 1) (E+1, N) or class probabilities (E+1, N, k)."""
    t = np.asarray(targets)
    if proba.ndim == 2:
        return (proba >= THRESHOLD) != (t > 0.5)
    return np.argmax(proba, axis=-1) != t.astype(np.intp)


def run_events(replay: Any, loss_and_metric: Any = None,
               settings: EventSettings | None = None) -> RunEvents:
    """The events of a replayed run.

    Parameters
    ----------
    replay : a ``Replay``: its per-epoch predictions, logs (``lr``), status, message and
        spec are read.
    loss_and_metric : its ``LossAndMetricView`` when already computed (else computed).
    settings : thresholds; ``EventSettings()`` when None.
    """
    lm = replay.loss_and_metric() if loss_and_metric is None else loss_and_metric
    wrong = _misclassified(np.asarray(replay.predict_proba()), replay.targets)
    spec = replay.spec if isinstance(replay.spec, Mapping) else {}
    training = spec.get("training") if isinstance(spec.get("training"), Mapping) else {}
    planned = training.get("epochs")
    planned = int(planned) if isinstance(planned, int | float) and planned > 0 else None
    early = training.get("early_stopping")
    diverged = replay.attrs.get("diverged_epoch") if isinstance(replay.attrs, Mapping) else None
    diverged = int(diverged) if isinstance(diverged, int | float | np.integer) else None
    return find_events(loss=lm.loss, wrong=wrong, val_loss=lm.val_loss,
                       lr=replay.logs.get("lr"), inputs=replay.inputs, status=replay.status,
                       message=replay.message, planned_epochs=planned,
                       early_stopping=early if isinstance(early, Mapping) else None,
                       diverged_epoch=diverged, settings=settings)


def describe(story: RunEvents, *, minor: bool = False) -> Sequence[str]:
    """One line per event, ``epoch  label  text``, for a terminal."""
    shown = story.events if minor else story.major
    width = max((len(KINDS[e.kind]) for e in shown), default=0)
    return [f"{e.epoch:>5}  {KINDS[e.kind]:<{width}}  {e.text}" for e in shown]
