"""Reading a seed sweep back from its run file, and summarising its seeds per configuration.

Every run of a sweep carries the attribute ``sweep`` (id, configuration, seed, planned
position), so a sweep is found again in a file (:func:`sweeps_in`, :func:`read_sweep`);
:func:`summarize` and :func:`summary_table` tell, per configuration, how many seeds reached
100 % training accuracy and when.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from replay_core.store import runfile
from replay_core.train.sweep_plan import SweepError, SweepTask

__all__ = ["ConfigSummary", "SweepRun", "describe_run", "group_sweeps", "read_sweep",
           "summarize", "summary_table", "sweeps_in"]


@dataclass(frozen=True)
class SweepRun:
    """A finished run of a sweep and the figures that compare seeds.

    Args:
        name: the run's name in the file.
        config, seed: its configuration's label and its training seed.
        status: ``complete`` or ``diverged``.
        epochs_done: epochs recorded.
        first_perfect_epoch: first epoch whose weights classify every training sample
            correctly; None when none does within the run ("never").
        final_loss, final_accuracy: at the last recorded epoch (whole training set,
            replayed weights, as on the Compare page).
        message: the run's status message (early stopping, divergence), or empty.
    """

    name: str
    config: str
    seed: int
    status: str
    epochs_done: int
    first_perfect_epoch: int | None
    final_loss: float
    final_accuracy: float
    message: str = ""


# -- reading a sweep back ----------------------------------------------------------------


def describe_run(filename: str | os.PathLike, run_name: str,
                 task: SweepTask | None = None, sweep: Mapping | None = None) -> SweepRun:
    """A sweep run's figures, replayed from the file (numpy only)."""
    from replay_core.replay.compare import key_figures
    from replay_core.replay.replayer import Replay

    replay = Replay(filename, run_name)
    figures = key_figures(replay)
    info = sweep or {}
    return SweepRun(
        name=run_name,
        config=task.config if task else str(info.get("config", "")),
        seed=task.seed if task else int(info.get("seed", -1)),
        status=replay.status, epochs_done=replay.epochs_done,
        first_perfect_epoch=figures["first_perfect_epoch"],
        final_loss=figures["final_loss"], final_accuracy=figures["final_accuracy"],
        message=replay.message)


def sweeps_in(filename: str | os.PathLike) -> dict[str, list[runfile.RunSummary]]:
    """The sweeps recorded in a file: sweep id -> its runs' summaries, oldest sweep first."""
    return group_sweeps(runfile.list_runs(filename))


def group_sweeps(summaries: Iterable[runfile.RunSummary]) -> dict[str, list[runfile.RunSummary]]:
    """Run summaries (``list_runs``) grouped by sweep id, oldest sweep first; runs of no
    sweep are left out."""
    out: dict[str, list[runfile.RunSummary]] = {}
    for summary in summaries:
        info = summary.sweep
        if info and isinstance(info.get("id"), str):
            out.setdefault(info["id"], []).append(summary)
    for runs in out.values():
        # In planned order (configuration, then seed): parallel workers start runs in any
        # order, so their creation times are no order to show.
        runs.sort(key=_planned_position)
    return out


def _planned_position(summary: runfile.RunSummary) -> tuple[int, int]:
    index = (summary.sweep or {}).get("index")
    return (0, index) if isinstance(index, int) and not isinstance(index, bool) else (1, 0)


def read_sweep(filename: str | os.PathLike, sweep_id: str) -> list[SweepRun]:
    """The kept runs of sweep ``sweep_id`` in ``filename``, with their figures."""
    summaries = sweeps_in(filename).get(sweep_id)
    if not summaries:
        raise SweepError(f"no sweep {sweep_id!r} in {os.path.basename(os.fspath(filename))!r}")
    return [describe_run(filename, s.name, sweep=s.sweep) for s in summaries
            if s.status in ("complete", "diverged")]


# -- summaries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigSummary:
    """One configuration across its seeds."""

    config: str
    seeds: int
    never: int                     # runs that never reached 100 % training accuracy
    first_perfect: list[int]       # first 100 % epochs of the runs that reached it
    final_loss: list[float]
    diverged: int

    @property
    def never_share(self) -> float:
        return self.never / self.seeds if self.seeds else math.nan

    @property
    def median_first_perfect(self) -> float | None:
        return statistics.median(self.first_perfect) if self.first_perfect else None

    @property
    def median_final_loss(self) -> float | None:
        finite = [v for v in self.final_loss if math.isfinite(v)]
        return statistics.median(finite) if finite else None


def summarize(runs: Iterable[SweepRun]) -> list[ConfigSummary]:
    """Per configuration (in order of first appearance): seeds, how many never reached
    100 % training accuracy, the first-100 % epochs, final losses, divergences."""
    groups: dict[str, list[SweepRun]] = {}
    for run in runs:
        groups.setdefault(run.config, []).append(run)
    return [ConfigSummary(
        config=config, seeds=len(group),
        never=sum(r.first_perfect_epoch is None for r in group),
        first_perfect=[r.first_perfect_epoch for r in group if r.first_perfect_epoch is not None],
        final_loss=[r.final_loss for r in group],
        diverged=sum(r.status == "diverged" for r in group),
    ) for config, group in groups.items()]


def summary_table(runs: Iterable[SweepRun]) -> str:
    """A plain-text table of :func:`summarize`, one configuration a line."""
    rows = [("configuration", "seeds", "reached 100%", "never", "first 100% epoch median [min-max]",
             "final loss median [min-max]")]
    for s in summarize(runs):
        fp = s.first_perfect
        first = (f"{s.median_first_perfect:g} [{min(fp)}-{max(fp)}]" if fp else "-")
        losses = [v for v in s.final_loss if math.isfinite(v)]
        loss = (f"{s.median_final_loss:.4f} [{min(losses):.4f}-{max(losses):.4f}]"
                if losses else "-")
        rows.append((s.config, str(s.seeds), str(s.seeds - s.never),
                     f"{s.never} ({s.never_share:.0%})", first, loss))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
