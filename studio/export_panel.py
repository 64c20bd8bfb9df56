"""The Replay page's export panel: MP4, GIF or a PNG of the current epoch.

Render submits an export job (``jobs.submit_export``): a worker process renders the file
into the session's exports folder, so the export outlives a rerun or a page change and
its rendering never competes with a visitor's slider in the server. While the job runs
the panel shows its progress, read from the job every ``REFRESH_S`` by a fragment, and
Render is disabled; once it ends, the panel shows the file with its download button.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from replay_core.errors import ReplayError
from replay_core.render.frame import PANELS
from replay_core.replay.views import ReplayViews
from replay_core.store.workspace import Workspace
from studio import jobs, page_guard, player
from studio.job_list import time_left

SIZES = {"1280×720": (1280, 720), "1920×1080": (1920, 1080), "960×540": (960, 540)}
FORMATS = ("MP4", "GIF", "PNG (this epoch)")
PANEL_TITLES = {
    "feature_space": "Feature space",
    "decision_boundary": "Decision boundary",
    "probability_histogram": "Probability histograms",
    "loss_and_metric": "Loss & accuracy",
    "loss_histogram": "Loss histogram",
    "landscape": "Loss landscape",
}
LAYER_TITLES = {
    "z": "Z-values", "activations": "Activations", "weights": "Weights",
    "gradients": "Gradients", "explainer": "Activation explainer",
    "weights_std": "Weights: std over epochs", "gradients_std": "Gradients: std over epochs",
    "health": "Dead / saturated units", "learning_rate": "Learning rate",
}
MIMES = {".mp4": "video/mp4", ".gif": "image/gif", ".png": "image/png"}
ACTIVE = ("queued", "running")
REFRESH_S = 1.0
ERROR_KEY = "export_error"


def export_panel(ws: Workspace, views: ReplayViews, run_name: str, *, epoch: int,
                 theme: str, landscape: object = None, layers: object = None,
                 feature: tuple = (None, None, None)) -> None:
    """Controls, the export job's progress while it renders, then the result with its
    download button.

    ``landscape`` offers the "Loss landscape" view and ``layers`` the layer internals
    (exported as a figure of their own when "Layers" is picked) when they are not None;
    ``feature`` is the page's ``(layer, projection, fit_epoch)`` of the feature space, so
    the export shows the views the page shows.
    """
    ss = st.session_state
    n = views.n_epochs
    found = _export_result(ws)
    busy = found is not None and found[0].state in ACTIVE
    fmt = st.segmented_control("Format", FORMATS, key="export_format", default="MP4",
                               required=True) or "MP4"
    animated = not fmt.startswith("PNG")
    if animated:
        st.slider("Epochs", 0, max(n, 1), (0, n), key=f"export_range_{n}", disabled=n == 0)
        st.slider("Frames per second", 1, 30, 10, key="export_fps")
    st.selectbox("Size", list(SIZES), key="export_size")
    inside = layers is not None and st.segmented_control(
        "Export", ("Views", "Layers"), key="export_what", default="Views",
        required=True) == "Layers"
    if inside:
        from replay_core.render.internals import DEFAULT_PANELS

        panels = st.multiselect("Layer panels, in this order", list(LAYER_TITLES),
                                default=list(DEFAULT_PANELS), format_func=LAYER_TITLES.get,
                                key="export_layer_panels")
    else:
        offered = [p for p in PANELS if p != "landscape" or landscape is not None]
        panels = st.multiselect("Views, in this order", offered,
                                default=[p for p in offered if p != "landscape"],
                                format_func=PANEL_TITLES.get, key="export_panels")
        if views.events is not None:
            st.checkbox("Narration line", key="export_narration",
                        help="Under the views, a sentence saying in words what happens at "
                        "each epoch")
    if not panels:
        st.warning("Pick at least one view.")
    st.button("Render", type="primary", icon=":material/movie:", width="stretch",
              key="export_render", disabled=busy or not panels, on_click=_submit,
              args=(ws, run_name, n, epoch, theme, inside, views.events is not None,
                    tuple(feature)),
              help="An export of this session is under way" if busy else None)
    error = ss.pop(ERROR_KEY, None)
    if error:
        st.error(f"Export failed: {error}")
    if busy:
        st.fragment(page_guard.guarded(_progress), run_every=REFRESH_S)(ws, found[0].id)
        return
    _show_result(ws, found)


def _export_result(ws: Workspace):
    try:
        return jobs.export_result(ws)
    except Exception as exc:  # the panel never takes the page down with it
        page_guard.log.error("export job lookup failed", exc_info=exc)
        return None


def _submit(ws: Workspace, run_name: str, n: int, epoch: int, theme: str, inside: bool,
            narrated: bool, feature: tuple) -> None:
    """Render's callback: the widgets' values as they are now, submitted as a job."""
    ss = st.session_state
    fmt = ss.get("export_format") or "MP4"
    kind = {"MP4": "mp4", "GIF": "gif"}.get(fmt, "png")
    panels = ss.get("export_layer_panels" if inside else "export_panels") or []
    first, last = ss.get(f"export_range_{n}", (0, n))
    try:
        jobs.submit_export(
            ws, run_name, kind, epochs=(int(first), int(last)), epoch=int(epoch),
            fps=ss.get("export_fps", 10), size=SIZES.get(ss.get("export_size"), (1280, 720)),
            theme=theme, panels=list(panels),
            narration=narrated and bool(ss.get("export_narration")),
            future_curves=player.future_curves(), layers=inside, feature=feature,
            n_epochs=n)
    except ReplayError as exc:
        ss[ERROR_KEY] = page_guard.sentence(exc)


def _progress(ws: Workspace, job_id: str) -> None:
    """The running export's progress bar and Stop; the whole page runs again when it ends,
    which shows the file."""
    found = jobs.export_result(ws)
    if found is None or found[0].id != job_id or found[0].state not in ACTIVE:
        st.rerun(scope="app")
    view = found[0]
    if view.state == "queued":
        place = view.queue_position
        text = "Queued" + (f": {place} in line" if place else "") + ", waiting for a worker"
        st.progress(0.0, text=text)
    else:
        total = max(int(view.epochs_total), 1)
        text = f"Rendering frame {view.epochs_done} of {total}"
        left = time_left(view.seconds_left)
        if left:
            text += f" · {left}"
        st.progress(min(view.epochs_done / total, 1.0), text=text)
    st.button("Stop", icon=":material/stop_circle:", key="export_stop", width="stretch",
              on_click=jobs.stop, args=(ws, view.id), help="No file is written")


def _show_result(ws: Workspace, found) -> None:
    """How the last export ended, and the session's export file with its download."""
    path = None
    if found is not None:
        view, path, seconds = found
        if view.state == "done" and path is not None:
            took = f"Done in {seconds:.1f} s" if seconds is not None else "Done"
            st.progress(1.0, text=took)
        elif view.state == "failed":
            st.error(f"Export failed: {view.message}")
        elif view.state == "stopped":
            st.info(view.message)
    if path is None:
        path = _kept_file(ws)
    if path is None:
        return
    try:
        data = path.read_bytes()
    except OSError:
        return
    if path.suffix == ".mp4":
        st.video(data, format="video/mp4")
    else:
        st.image(data, width="stretch")
    st.download_button(f"Download {path.name}", data, file_name=path.name,
                       mime=MIMES[path.suffix], icon=":material/download:", width="stretch",
                       on_click="ignore")


def _kept_file(ws: Workspace) -> Path | None:
    """The export the session's folder keeps (its newest complete file), or None."""
    folder = Path(ws.folder) / jobs.EXPORTS_FOLDER
    try:
        files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                 and p.suffix in MIMES]
    except OSError:
        return None
    return max(files, key=lambda p: p.stat().st_mtime) if files else None
