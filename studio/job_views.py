"""Jobs as pages see them: the snapshot of one job (:class:`JobView`), the limits on how
many a session and the server may queue, and the error a refusal raises.

Imported by ``studio.jobs`` (which re-exports every name here) and by the job manager.
"""

from __future__ import annotations

from dataclasses import dataclass

from replay_core.errors import ServerBusyError

KINDS = ("training", "sweep", "export")
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
        kind: ``training``, ``sweep`` or ``export``.
        title: the run's name, or the sweep's label (``"sigmoid, tanh, relu · 60 runs"``).
        state: ``queued``, ``running``, ``done``, ``stopped`` or ``failed``.
        queue_position: 1-based while queued, else None.
        epochs_done, epochs_total: over all the job's runs (an export: frames).
        seconds_left: estimated from the epoch rate; None until there is a rate.
        message: one sentence once the job ended, else empty.
        run_names: the runs it writes.
        result_page: ``replay`` (a training, an export) or ``sweep``.
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
