"""The Replay page's export panel: MP4, GIF or a PNG of the current epoch."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import streamlit as st

from replay_core.errors import ReplayError
from replay_core.render.export import export_animation, export_frame, export_internals
from replay_core.render.frame import PANELS
from replay_core.replay.views import ReplayViews
from replay_core.store.workspace import Workspace
from studio import player

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


def export_panel(ws: Workspace, views: ReplayViews, run_name: str, *, epoch: int,
                 theme: str, landscape: Callable[[], object] | None = None,
                 layers: Callable[[], object] | None = None) -> None:
    """Controls, a progress bar while rendering, then the result with its download button.

    ``landscape`` gives the run's loss landscape when the "Loss landscape" view is picked
    (None: that view is not offered); ``layers`` the run's layer internals, exported as
    a figure of their own when "Layers" is picked (None: not offered).
    """
    ss = st.session_state
    n = views.n_epochs
    fmt = st.segmented_control("Format", FORMATS, key="export_format", default="MP4",
                               required=True) or "MP4"
    animated = not fmt.startswith("PNG")
    if animated:
        first, last = st.slider("Epochs", 0, max(n, 1), (0, n), key=f"export_range_{n}",
                                disabled=n == 0)
        fps = st.slider("Frames per second", 1, 30, 10, key="export_fps")
    size_label = st.selectbox("Size", list(SIZES), key="export_size")
    inside = layers is not None and st.segmented_control(
        "Export", ("Views", "Layers"), key="export_what", default="Views",
        required=True) == "Layers"
    if inside:
        from replay_core.render.internals import DEFAULT_PANELS

        panels = st.multiselect("Layer panels, in this order", list(LAYER_TITLES),
                                default=list(DEFAULT_PANELS), format_func=LAYER_TITLES.get,
                                key="export_layer_panels")
        narration = False
    else:
        offered = [p for p in PANELS if p != "landscape" or landscape is not None]
        panels = st.multiselect("Views, in this order", offered,
                                default=[p for p in offered if p != "landscape"],
                                format_func=PANEL_TITLES.get, key="export_panels")
        narration = views.events is not None and st.checkbox(
            "Narration line", key="export_narration",
            help="Under the views, a sentence saying in words what happens at each epoch")
    if not panels:
        st.warning("Pick at least one view.")
        return
    if st.button("Render", type="primary", icon=":material/movie:", width="stretch",
                 key="export_render"):
        folder = ws.folder / "exports"
        folder.mkdir(exist_ok=True)
        for old in folder.iterdir():  # one export at a time per session
            old.unlink(missing_ok=True)
        stem = re.sub(r"[^\w.-]+", "_", run_name).strip("_") or "run"
        bar = st.progress(0.0, text="Rendering…")
        start = time.perf_counter()
        try:
            if "landscape" in panels and views.landscape is None and landscape is not None:
                views = replace(views, landscape=landscape())
            if inside:
                stem += "_layers"
            if inside and animated:
                out = folder / f"{stem}_{first}-{last}.{fmt.lower()}"

                def progress(done: int, total: int) -> None:
                    bar.progress(done / total, text=f"Rendering frame {done} of {total}")

                export_internals({run_name: layers()}, out, epochs=range(first, last + 1),
                                 fps=fps, size=SIZES[size_label], theme=theme, panels=panels,
                                 progress=progress)
            elif inside:
                out = folder / f"{stem}_epoch{epoch}.png"
                export_internals({run_name: layers()}, out, epoch=epoch,
                                 size=SIZES[size_label], theme=theme, panels=panels)
            elif animated:
                out = folder / f"{stem}_{first}-{last}.{fmt.lower()}"

                def progress(done: int, total: int) -> None:
                    bar.progress(done / total, text=f"Rendering frame {done} of {total}")

                export_animation(views, out, epochs=range(first, last + 1), fps=fps,
                                 size=SIZES[size_label], theme=theme, panels=panels,
                                 progress=progress, narration=narration,
                                 future_curves=player.future_curves())
            else:
                out = folder / f"{stem}_epoch{epoch}.png"
                export_frame(views, out, epoch=epoch, size=SIZES[size_label], theme=theme,
                             panels=panels, narration=narration,
                             future_curves=player.future_curves())
        except (ReplayError, ValueError, OSError) as exc:
            bar.empty()
            st.error(f"Export failed: {exc}")
            return
        bar.progress(1.0, text=f"Done in {time.perf_counter() - start:.1f} s")
        ss["export_file"] = str(out)
    path = Path(ss["export_file"]) if ss.get("export_file") else None
    if path is not None and path.exists() and path.parent.parent == ws.folder:
        data = path.read_bytes()
        mime = {".mp4": "video/mp4", ".gif": "image/gif", ".png": "image/png"}[path.suffix]
        if path.suffix == ".mp4":
            st.video(data, format="video/mp4")
        else:
            st.image(data, width="stretch")
        st.download_button(f"Download {path.name}", data, file_name=path.name, mime=mime,
                           icon=":material/download:", width="stretch", on_click="ignore")
