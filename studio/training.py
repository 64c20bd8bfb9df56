"""Train a spec from a page, as a job: start it, follow its progress and live preview.

A training is a job (``studio.jobs``): it trains in a worker process and keeps running
when the page changes, reruns or the tab closes. The Train page starts it with
:func:`start_training` and follows it with the fragment :func:`follow_job`; pages that
need the run before they go on (Replay's "Train and present", Compare's article runs)
wait for it with :func:`train_in_page`. Nothing here loads TensorFlow.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from replay_core.data import csv_data, datasets
from replay_core.data.spec import RunSpec
from replay_core.errors import ReplayError, ServerBusyError
from replay_core.store.workspace import Workspace, estimate_file_bytes
from studio import jobs

FOLLOW_EVERY_S = 1.0
# How often a page waiting for its run (train_in_page) looks at the job.
WAIT_STEP_S = 0.25
ACTIVE = ("queued", "running")


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def start_training(ws: Workspace, spec: RunSpec, name: str) -> jobs.JobView | None:
    """Submit the training of ``spec`` as run ``name``; None (and one message on the
    page) when it cannot start: the session's quota, the budget, a full queue."""
    try:
        ws.check_capacity()
        ws.check_space(estimate_file_bytes(spec))
    except (ReplayError, ValueError) as exc:
        st.error(f"Training did not start: {exc}")
        return None
    try:
        return jobs.submit_training(ws, spec, name)
    except ServerBusyError as exc:  # the session's or the server's queue is full
        st.warning(str(exc))
    except (ReplayError, ValueError) as exc:
        st.error(f"Training did not run: {exc}")
    return None


def job_view(ws: Workspace, job_id: str | None) -> jobs.JobView | None:
    """This session's job ``job_id`` as it is now, or None."""
    if not job_id:
        return None
    return next((v for v in jobs.jobs_of(ws) if v.id == job_id), None)


def followed_job(ws: Workspace, job_id: str | None) -> jobs.JobView | None:
    """Job ``job_id`` while it is queued or running, else None."""
    view = job_view(ws, job_id)
    return view if view is not None and view.state in ACTIVE else None


def _prepared(ws: Workspace, spec: RunSpec) -> datasets.PreparedData | None:
    try:
        with csv_data.data_folder(ws.folder):  # an uploaded CSV is stored there
            return datasets.prepare(spec.dataset)
    except (ReplayError, ValueError):
        return None


def _queued_text(view: jobs.JobView) -> str:
    place = f" · {_ordinal(view.queue_position)} in line" if view.queue_position else ""
    return f"Queued{place}: it starts when a worker is free."


def show_progress(ws: Workspace, view: jobs.JobView, run_name: str, spec: RunSpec,
                  data: datasets.PreparedData | None, progress_slot, preview_slot) -> None:
    """Draw a job's progress bar and boundary preview into two placeholders."""
    if view.state == "queued":
        progress_slot.progress(0.0, text=_queued_text(view))
        return
    if data is None:
        share = view.epochs_done / max(view.epochs_total, 1)
        progress_slot.progress(min(share, 1.0), text=f"Epoch {view.epochs_done} / "
                                                     f"{view.epochs_total}")
        return
    record = jobs.latest_record(ws, run_name)
    starting = ("Starting: the worker process loads TensorFlow…" if view.epochs_done == 0
                else "Starting…")
    # One preview per job, kept across the fragment's reruns: its figure is built once
    # and a redraw happens only when a newer epoch is due.
    kept = st.session_state.get("_training_live")
    if kept is not None and kept[0] == view.id:
        live = kept[1].retarget(progress_slot, preview_slot)
    else:
        from studio.live import LivePreview  # matplotlib: only once a preview is drawn

        live = LivePreview(spec, data, progress_slot, preview_slot, starting=starting)
        st.session_state["_training_live"] = (view.id, live)
    if record is not None:
        live.show(record)
    else:
        progress_slot.progress(0.0, text=starting)


def follow_job(ws: Workspace, job_id: str, run_name: str, spec_json: str) -> None:
    """A fragment's body: the job's progress and preview now; once the job has ended,
    a rerun of the whole page, which then shows how it ended."""
    view = job_view(ws, job_id)
    if view is None or view.state not in ACTIVE:
        st.rerun()
    spec = RunSpec.from_json(spec_json)
    slot = st.session_state.get("_training_data")
    if slot is None or slot[0] != job_id:
        slot = (job_id, _prepared(ws, spec))
        st.session_state["_training_data"] = slot
    show_progress(ws, view, run_name, spec, slot[1], st.empty(), st.empty())


def show_last_epoch(ws: Workspace, run_name: str, spec_json: str, progress_slot,
                    preview_slot) -> bool:
    """Draw the progress line and preview of the newest epoch a job recorded for
    ``run_name``; False when there is none to draw."""
    record = jobs.latest_record(ws, run_name)
    if record is None:
        return False
    spec = RunSpec.from_json(spec_json)
    data = _prepared(ws, spec)
    if data is None:
        return False
    from studio.live import LivePreview

    LivePreview(spec, data, progress_slot, preview_slot).show(record)
    return True


def train_in_page(ws: Workspace, spec: RunSpec, name: str, progress_slot, preview_slot) -> bool:
    """Train ``spec`` into run ``name`` as a job and wait for it here, drawing its
    progress and preview; True when it finished (complete, or diverged with epochs kept).

    The run's name goes to ``st.session_state["training_run"]``. A rerun or leaving the
    page ends the wait, not the training: the job goes on in its worker process.
    """
    view = start_training(ws, spec, name)
    if view is None:
        return False
    st.session_state["training_run"] = name
    data = _prepared(ws, spec)
    view = _wait_for(ws, view, lambda v: show_progress(ws, v, name, spec, data,
                                                       progress_slot, preview_slot))
    if view is None:
        return False
    record = jobs.latest_record(ws, name)
    if record is not None and data is not None:
        from studio.live import LivePreview

        LivePreview(spec, data, progress_slot, preview_slot).show(record)
    return _how_it_ended(view, progress_slot)


def train_group_in_page(ws: Workspace, specs: list[RunSpec], names: list[str]) -> bool:
    """Train ``specs`` as runs ``names`` together, as one job (one batched computation
    in a worker process, each run in a file of its own), and wait for it here under a
    progress bar; True when every run finished."""
    try:
        view = jobs.submit_group(ws, specs, names)
    except ServerBusyError as exc:
        st.warning(str(exc))
        return False
    except (ReplayError, ValueError) as exc:
        st.error(f"Training did not run: {exc}")
        return False
    st.session_state["training_run"] = names[0]
    together = ", ".join(names)
    bar = st.progress(0.0, text=f"Training {together} together…")
    n = len(specs)

    def draw(v: jobs.JobView) -> None:
        if v.state == "queued":
            bar.progress(0.0, text=_queued_text(v))
        elif v.epochs_done:
            bar.progress(min(1.0, v.epochs_done / max(v.epochs_total, 1)),
                         text=f"Training {together} together: epoch "
                              f"{v.epochs_done // n} of {v.epochs_total // n}")

    view = _wait_for(ws, view, draw)
    return view is not None and _how_it_ended(view, bar)


def _wait_for(ws: Workspace, view: jobs.JobView,
              draw: Callable[[jobs.JobView], None]) -> jobs.JobView | None:
    """Draw the job with ``draw`` every ``WAIT_STEP_S`` while it is queued or running;
    return it as it ended (None when it is gone: its session was cleared)."""
    while view.state in ACTIVE:
        draw(view)
        time.sleep(WAIT_STEP_S)
        view = job_view(ws, view.id)
        if view is None:
            return None
    return view


def _how_it_ended(view: jobs.JobView, progress_slot) -> bool:
    """True when the job finished; else its progress gives way to one sentence saying
    why (stopped by the user, or failed)."""
    if view.state == "done":
        return True
    progress_slot.empty()
    if view.state == "stopped":
        st.warning(view.message)
    else:
        st.error(f"Training did not run: {view.message}")
    return False
