"""The session's jobs in the sidebar of every page: progress, time left, Stop, results.

The router runs every page inside :func:`beside_page`. The list is a fragment: while a
job is queued or running it redraws itself every ``REFRESH_S`` without rerunning the
page around it. When it sees a job end it reruns the page once: that run announces the
job with a toast (once, on whatever page is open) and, when nothing is left to follow,
registers the list without a timer, so an idle session costs nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import streamlit as st

from replay_core.store.workspace import Workspace
from studio import jobs, page_guard

REFRESH_S = 1.0
TOAST_S = 8.0  # a "long" toast stays 10 s
# Ended jobs kept on the list (newest first) until cleared; older ones fall off it. The
# newest shows under the active ones, the others in a popover on its row: the list leaves
# the page's own sidebar controls a 720-px screen.
MAX_ENDED_SHOWN = 3
KIND_TITLES = {"training": "Training", "sweep": "Seed sweep", "export": "Export"}
STATE_ICONS = {"done": ":material/check_circle:", "stopped": ":material/stop_circle:",
               "failed": ":material/error:"}
ACTIVE = ("queued", "running")
CLEARED = "jobs_cleared"


def time_left(seconds: float | None) -> str:
    """``"40 s left"`` / ``"3 min left"``, or ``""`` before there is a rate.

    Example
    -------
    >>> time_left(125.0)
    '2 min left'
    """
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    if seconds < 90:
        return f"{max(1, round(seconds))} s left"
    return f"{round(seconds / 60)} min left"


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``11th``..."""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def progress_text(view: jobs.JobView) -> str:
    """The line under a queued or running job: epochs done, time left or queue place."""
    if view.state == "queued":
        place = view.queue_position
        return "Queued" + (f" · {ordinal(place)} in line" if place else "")
    text = f"{view.epochs_done}/{view.epochs_total} epochs"
    if view.kind == "export":
        text = f"frame {view.epochs_done} of {view.epochs_total}"
    left = time_left(view.seconds_left)
    return f"{text} · {left}" if left else text


def _fraction(view: jobs.JobView) -> float:
    total = max(int(view.epochs_total), 1)
    return min(max(view.epochs_done / total, 0.0), 1.0)


@contextmanager
def beside_page() -> Iterator[None]:
    """Run a page inside this: the job list is drawn in the sidebar first (under the
    navigation), then the page. When the page has just submitted the session's only
    active job (the Train button), the page runs once more a moment later, so the list
    follows the job from its start."""
    from studio import session

    ws = session.workspace()
    following = show(ws)
    yield
    # Reached only when the page's body ended normally (not on st.stop or st.rerun). An
    # st.rerun() here, after the page's widgets, would lose the values of the widgets
    # kept across pages (persist_state="session"): a fragment's tick reruns it instead.
    if not following and _active(ws):
        with st.sidebar:
            st.fragment(_rerun_page_later, run_every=REFRESH_S)(time.monotonic())


def _rerun_page_later(armed_at: float) -> None:
    if time.monotonic() - armed_at >= REFRESH_S / 2:  # a tick, not the page's own run
        st.rerun(scope="app")


def _active(ws: Workspace) -> bool:
    try:
        return any(v.state in ACTIVE for v in jobs.jobs_of(ws))
    except Exception as exc:  # the list never takes a page down with it
        page_guard.log.error("job list failed", exc_info=exc)
        return False


def result_link(view: jobs.JobView) -> str:
    """A markdown link to what a job made: Replay on its run, or the Seed sweep page.

    The link loads the page afresh: the session's cookie finds the same runs, and Replay
    opens the run the address names (the job list's Open button does the same in place).
    """
    if view.result_page == "sweep":
        return "[Open the Seed sweep](sweep)"
    if not view.run_names:
        return ""
    return f"[Open in Replay](replay?run={quote(view.run_names[0], safe='')})"


def _announce(ws: Workspace) -> None:
    """Toast the jobs that ended since the last look, in a run of the whole page.

    A page's next run takes the toasts of the run before off the screen (a page often
    runs again right after a job ends: Replay reads the finished file), so a toast is
    shown again by every run of the next ``TOAST_S`` seconds, which keeps it on screen.
    """
    ss = st.session_state
    now = time.monotonic()
    toasts = [t for t in ss.get("_jobs_toasts", []) if t[0] > now]
    try:
        for view in jobs.unannounced(ws):
            toasts.append((now + TOAST_S,
                           f"**{_md(view.title)}** — {_md(view.message)} {result_link(view)}",
                           STATE_ICONS.get(view.state)))
    except Exception as exc:  # the list never takes a page down with it
        page_guard.log.error("job list failed", exc_info=exc)
    ss["_jobs_toasts"] = toasts
    for _, text, icon in toasts:
        st.toast(text, icon=icon, duration="long")


def show(ws: Workspace) -> bool:
    """Draw this session's job list in the sidebar; True when it follows an active job
    (then it redraws itself every ``REFRESH_S``)."""
    _announce(ws)
    try:
        active_ids = {v.id for v in jobs.jobs_of(ws) if v.state in ACTIVE}
    except Exception as exc:
        page_guard.log.error("job list failed", exc_info=exc)
        active_ids = set()
    active = bool(active_ids)
    st.session_state["_jobs_timer"] = active
    st.session_state["_jobs_active_ids"] = active_ids
    with st.sidebar:
        st.fragment(page_guard.guarded(_job_list),
                    run_every=REFRESH_S if active else None)(ws)
    return active


def _clear(ids: list[str]) -> None:
    ss = st.session_state
    ss[CLEARED] = set(ss.get(CLEARED, ())) | set(ids)


def _stop(ws: Workspace, job_id: str) -> None:
    jobs.stop(ws, job_id)


# Small type, tight rows and a thin bar: the list shares the sidebar with the page's own
# controls (a 720-px screen); a long run name ends in an ellipsis on one line.
CSS = """<style>
.st-key-job_list [data-testid="stMarkdownContainer"] p,
.st-key-job_list [data-testid="stCaptionContainer"],
.st-key-job_list [data-testid="stCaptionContainer"] p {font-size: 0.8rem; line-height: 1.3;
 margin-bottom: 0;}
.st-key-job_list [class*="st-key-job_name_"] p {white-space: nowrap; overflow: hidden;
 text-overflow: ellipsis;}
.st-key-job_list [class*="st-key-job_name_"] [data-testid="stElementContainer"]:is(
 :has([data-testid="stMarkdown"]), :has([data-testid="stProgress"])) {min-width: 0;
 flex: 1 1 0;}
.st-key-job_list [class*="st-key-job_name_"] [data-testid="stMarkdown"] {min-height: 1.05rem;}
.st-key-job_list button {min-height: 1.3rem; padding-top: 0; padding-bottom: 0;}
.st-key-job_list [data-testid="stButton"] {line-height: 1;}
.st-key-job_list [data-testid="stProgress"] p {font-size: 0.75rem; line-height: 1.2;}
.st-key-job_list [data-testid="stProgress"] > div:first-child {padding-bottom: 0.2rem;}
.st-key-job_list [data-testid="stProgressBarTrack"],
.st-key-job_list [data-testid="stProgressBarTrack"] > div {height: 0.2rem;}
</style>"""
_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()<>#+-.!|~$:"})


def _md(text: str) -> str:
    """``text`` shown as it is, never read as markdown (a run name is the user's)."""
    return str(text).translate(_MARKDOWN)


def _job_list(ws: Workspace) -> None:
    ss = st.session_state
    views = jobs.jobs_of(ws)
    cleared = ss.get(CLEARED, set())
    active = [v for v in views if v.state in ACTIVE]
    ended = [v for v in views if v.state not in ACTIVE and v.id not in cleared]
    was_active = ss.get("_jobs_active_ids", set())
    ss["_jobs_active_ids"] = {v.id for v in active}
    if ss.get("_jobs_timer") and was_active - ss["_jobs_active_ids"]:
        # A job has ended: the whole page runs again, which announces it, shows the
        # page's own view of it and, once nothing is active, drops the list's timer.
        st.rerun(scope="app")
    if not active and not ended:
        return
    # No heading: each row names its kind ("Training · ..."), and Clear sits on the
    # newest ended job's row.
    with st.container(key="job_list", gap="xxsmall"):
        st.html(CSS)
        for view in active:
            _active_job(ws, view)
        if ended:
            _ended_job(ended[0], clear=[v.id for v in ended],
                       older=ended[1:MAX_ENDED_SHOWN])


def _name_row(view: jobs.JobView):
    """A row with the job's kind and name on one line; returns it for a button beside."""
    kind = KIND_TITLES.get(view.kind, view.kind.capitalize())
    row = st.container(horizontal=True, vertical_alignment="center", gap="xxsmall",
                       wrap=False)
    row.markdown(f"{kind} · **{_md(view.title)}**", width="stretch")
    return row


def _active_job(ws: Workspace, view: jobs.JobView) -> None:
    """A queued or running job in two rows: its kind and name, then its progress (the
    text over a thin bar) with Stop beside it."""
    with st.container(key=f"job_name_{view.id}", gap=None):
        _name_row(view)
        row = st.container(horizontal=True, vertical_alignment="center", gap="xxsmall",
                           wrap=False)
        row.progress(_fraction(view), text=progress_text(view), width="stretch")
        row.button("", icon=":material/stop_circle:", key=f"job_stop_{view.id}",
                   type="tertiary", on_click=_stop, args=(ws, view.id), width="content",
                   help=("Take it off the queue" if view.state != "running"
                         else "Stop: no file is written" if view.kind == "export"
                         else "Stop: every finished epoch is kept"))


def _ended_job(view: jobs.JobView, clear: list[str] | None = None,
               older: list[jobs.JobView] | tuple = ()) -> None:
    """An ended job's row: a "+n" popover of the ``older`` ended jobs, Open (its run or
    sweep), Clear when ``clear`` (the ids it takes off the list), and how it ended under
    its name."""
    ss = st.session_state
    with st.container(key=f"job_name_{view.id}", gap=None):
        row = _name_row(view)
        if older:
            with row.popover(f"+{len(older)}", type="tertiary", width="content",
                             help="The jobs that ended before it"):
                for other in older:
                    _ended_job(other)
        opened = False
        if view.run_names:
            where = "the Seed sweep page" if view.result_page == "sweep" else "Replay"
            opened = row.button("", icon=":material/open_in_new:", key=f"job_open_{view.id}",
                                type="tertiary", width="content", help=f"Open in {where}")
        if clear:
            row.button("", key="jobs_clear", type="tertiary", width="content",
                       icon=":material/clear_all:", on_click=_clear, args=(clear,),
                       help="Take the ended jobs off this list (their runs stay)")
        st.caption(_md(view.message))
    if not opened:
        return
    if view.result_page == "sweep":
        if view.sweep_id:
            ss["sweep_show_next"] = view.sweep_id
        st.switch_page("app_pages/sweep.py")
    ss["replay_run"] = view.run_names[0]
    if view.kind != "export":  # an export counts frames, not epochs
        ss["epoch"] = max(int(view.epochs_done), 0)
    st.switch_page("app_pages/replay.py")
