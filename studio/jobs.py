"""Jobs: trainings and seed sweeps that belong to a browser session, not to a script run.

A job keeps running when its page changes, reruns or its tab closes. Jobs live in the
server process (one manager, module-level, behind one lock, shared by all sessions) and
train in worker processes shared by all sessions (``replay_core.train.pool``), as many as
the CPU quota allows (``capacity.limit("workers")``), started on first use. Workers never
open a run file: a dispatcher thread (``studio.job_manager``) receives every epoch they
record and is the one writer of each file. This module never imports TensorFlow.

This module holds what pages call (submit, list, stop, follow a live run, recover) and
the admission check; ``studio.job_views`` holds :class:`JobView`, the limits and
errors, and ``studio.job_manager`` the manager, its dispatcher thread and the writers.

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

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from replay_core.data.spec import RunSpec
from replay_core.errors import RenderError, ReplayError, RunFileError, ServerBusyError
from replay_core.store import runfile
from replay_core.store.workspace import Workspace
from replay_core.train import pool as worker_pool
from replay_core.train.sweep import SweepTask
from studio import capacity
from studio.export_settings import (
    EXPORT_BYTES_PER_PIXEL,
    EXPORT_FORMATS,
    EXPORT_MAX_FPS,
    EXPORT_MAX_SIZE,
    EXPORTS_FOLDER,
    export_feature,
    export_panels,
    whole_number,
)
from studio.job_manager import _Job, _manager, _Run

# Every limit and name pages and tests read from here (``X as X``: re-exported).
from studio.job_views import EXPIRED as EXPIRED
from studio.job_views import HEARTBEAT_S as HEARTBEAT_S
from studio.job_views import KINDS as KINDS
from studio.job_views import MAX_ENDED as MAX_ENDED
from studio.job_views import MAX_QUEUED, QUEUE_PER_WORKER, RESTARTED, JobLimitError, JobView

__all__ = ["JobView", "JobLimitError", "export_result", "jobs_of", "latest_record",
           "latest_weights", "live_run", "recover", "submit_export", "submit_group",
           "stop", "submit_sweep", "submit_training", "unannounced"]


def _admit(owner: str, kind: str) -> None:
    """Refuse a job the session or the server cannot queue, with one sentence (called
    under the manager's lock; the limits are read from this module)."""
    mine = [j for j in _manager.jobs.values() if j.owner == owner and j.kind == kind
            and j.active]
    running = sum(j.state == "running" for j in mine)
    queued = sum(j.state == "queued" for j in mine)
    if running + queued >= 1 + MAX_QUEUED:
        noun = kind  # "training", "sweep" or "export"
        raise JobLimitError(
            f"You already have {running} {noun} running and {queued} queued; wait for "
            f"one to finish or stop one.")
    size = capacity.limit("workers")
    waiting = sum(j.state == "queued" for j in _manager.jobs.values())
    if waiting >= QUEUE_PER_WORKER * size:
        raise ServerBusyError(f"The server is busy: {waiting} job"
                              f"{'s wait' if waiting != 1 else ' waits'} for a worker "
                              "already; try again in a minute.")


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
        _admit(owner, "training")
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
        _admit(owner, "training")
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
        _admit(owner, "training")
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
        _admit(owner, "training")
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
        _admit(owner, "sweep")
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
        _admit(owner, "sweep")
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


def _export_data(ws: Workspace, run_name: str) -> runfile.RunData:
    """The run's arrays: the epochs recorded so far of one a job trains, else its file."""
    data = live_run(ws, run_name)
    if data is not None:
        return data
    return runfile.read_run(ws.run_path(run_name), run_name)


def submit_export(ws: Workspace, run_name: str, fmt: str, *,
                  epochs: tuple[int, int] | None = None, epoch: int | None = None,
                  fps: float = 10, size: Sequence[int] = (1280, 720), theme: str = "light",
                  panels: Sequence[str] | None = None, narration: bool = False,
                  future_curves: str = "faint", layers: bool = False,
                  feature: tuple[Any, Any, Any] = (None, None, None),
                  n_epochs: int | None = None) -> JobView:
    """Queue the export of run ``run_name`` of ``ws`` into the session's exports folder
    (``ws.folder / "exports"``; the one export kept replaces the one before when
    complete), rendered by a worker that reports each frame.

    Parameters
    ----------
    fmt : ``"mp4"``, ``"gif"`` (an animation of ``epochs``, ``(first, last)`` both
        included) or ``"png"`` (the frame of ``epoch``).
    fps, size, theme, panels, narration, future_curves : as ``render.export``; at most
        ``EXPORT_MAX_FPS`` and ``EXPORT_MAX_SIZE``.
    layers : export the layer internals (``panels`` then name internals panels).
    feature : ``(layer, projection, fit_epoch)`` of the feature space shown.
    n_epochs : replay the run's first ``n_epochs`` epochs, as the page showed them (a run
        still training is exported with the epochs recorded so far); None: all.

    Raises
    ------
    ReplayError
        One sentence: a setting out of bounds (``RenderError``), no such run, over the
        session's quota, more exports than the session may queue (``JobLimitError``),
        the server's queue full (``ServerBusyError``).
    """
    from replay_core.render import export
    from replay_core.render.export_task import ExportTask, export_name

    fmt = str(fmt).lower().lstrip(".")[:8]
    if fmt not in EXPORT_FORMATS:
        raise RenderError(f"cannot export as {fmt!r}; choose from mp4, gif, png")
    run_name = runfile.check_name(run_name)
    owner = _owner(ws)
    with _manager.lock:
        _admit(owner, "export")
    data = _export_data(ws, run_name)
    n = data.epochs_done if n_epochs is None else whole_number(n_epochs, 0, data.epochs_done,
                                                           "the epochs replayed")
    if not isinstance(size, (list, tuple)) or len(size) != 2:
        raise RenderError("the export size must be (width, height)")
    w = whole_number(size[0], export.MIN_SIZE[0], EXPORT_MAX_SIZE[0], "the export width")
    h = whole_number(size[1], export.MIN_SIZE[1], EXPORT_MAX_SIZE[1], "the export height")
    w, h = export.check_size((w, h), "." + fmt)
    if theme not in ("light", "dark"):
        raise RenderError(f"unknown theme {str(theme)[:20]!r}; choose light or dark")
    if future_curves not in ("faint", "hidden", "full"):
        raise RenderError(f"unknown future_curves {str(future_curves)[:20]!r}")
    layers = bool(layers)
    chosen = export_panels(panels, layers)
    feature = export_feature(feature, n)
    if fmt == "png":
        epoch = whole_number(epoch, 0, n, "the epoch")
        span, frames = None, 1
    else:
        if not isinstance(epochs, (list, tuple)) or len(epochs) != 2:
            raise RenderError("an animation needs its first and last epoch")
        first = whole_number(epochs[0], 0, n, "the first epoch")
        last = whole_number(epochs[1], first, n, "the last epoch")
        span, frames, epoch = (first, last), last - first + 1, None
        if isinstance(fps, bool) or not isinstance(fps, (int, float, np.number)) \
                or not 1 <= float(fps) <= EXPORT_MAX_FPS:
            raise RenderError(f"frames per second must be within 1..{EXPORT_MAX_FPS}")
    ws.check_space(int(w * h * frames * EXPORT_BYTES_PER_PIXEL[fmt]))
    folder = Path(ws.folder) / EXPORTS_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / export_name(run_name, fmt, epochs=span, epoch=epoch, layers=layers)
    task = ExportTask(data, str(out), n_epochs=n, epochs=span, epoch=epoch, fps=float(fps),
                      size=(w, h), theme=theme, panels=chosen,
                      narration=bool(narration) and not layers, future_curves=future_curves,
                      layers=layers, feature=feature, only_export=True)
    with _manager.lock:
        _admit(owner, "export")
        job_id = _new_id()
        seq = next(_manager.seq)
        key = (job_id, 0)
        unit = worker_pool.ExportUnit(key, task, seq)
        job = _Job(job_id, seq, owner, "export", run_name, str(out),
                   {key: _Run(run_name, frames)}, [unit], 1)
        return _manager.add(job)


def export_result(ws: Workspace) -> tuple[JobView, Path | None, float | None] | None:
    """This session's newest export job: its view, its file once complete (and still
    there) and its render time in seconds; None when the session has none."""
    owner = _owner(ws)
    with _manager.lock:
        mine = [j for j in _manager.jobs.values() if j.owner == owner and j.kind == "export"]
        if not mine:
            return None
        job = max(mine, key=lambda j: j.seq)
        view, seconds = _manager.view(job), job.seconds
    path = Path(job.filename)
    done = view.state == "done" and path.is_file()
    return view, (path if done else None), (seconds if done else None)


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
        if job.owner != owner or job.state != "running" or job.kind == "export":
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
