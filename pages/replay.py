"""Replay page: scrub every epoch of a run with the five views moving together."""

from __future__ import annotations

import streamlit as st

from replay_core.errors import ReplayError
from studio import session

ss = st.session_state
ss.setdefault("epoch", 0)
ss.setdefault("playing", False)
ss.setdefault("speed", 10)
ss.setdefault("frame_size", next(iter(session.FRAME_SIZES)))

SPEEDS = [1, 2, 5, 10, 15, 20, 30]
VIEW_NAMES = ("feature space, decision boundary, probability histograms, loss and accuracy, "
              "loss histogram")
MIN_INTERVAL_S = 0.1

ws = session.workspace()
runs = ws.runs()
if not runs:
    st.title("Replay")
    st.info("No runs in this session yet. Train one, or upload a run file.")
    c1, c2 = st.columns(2)
    c1.page_link("pages/train.py", label="Train a network", icon=":material/model_training:")
    c2.page_link("pages/runs.py", label="Upload a run file", icon=":material/folder_open:")
    st.stop()

names = [r.name for r in runs]
if ss.get("replay_run") not in names:
    ss["replay_run"] = names[-1]
    ss["epoch"] = runs[-1].epochs_done  # an automatic pick opens on its last epoch

top = st.columns([2.2, 1.3, 1.4, 1.1], vertical_alignment="bottom")
top[0].selectbox("Run", names, key="replay_run")
summary = next(r for r in runs if r.name == ss["replay_run"])
key = session.run_key(ws, summary)

try:
    layers = session.two_unit_layers(key)
except ReplayError as exc:
    st.error(f"This run cannot be replayed: {exc}")
    st.stop()
layer = None
if layers:
    if ss.get("replay_layer") not in layers:
        ss["replay_layer"] = layers[0]
    layer = top[1].selectbox("Feature-space layer", layers, key="replay_layer")
else:
    top[1].selectbox("Feature-space layer", ["no 2-unit layer"], disabled=True)
top[2].selectbox("Figure size", list(session.FRAME_SIZES), key="frame_size")
top[3].select_slider("Speed (epochs/s)", SPEEDS, key="speed")

theme = "dark" if getattr(st.context.theme, "type", None) == "dark" else "light"
try:
    renderer = session.frame_renderer(key, layer, session.FRAME_SIZES[ss["frame_size"]], theme)
except ReplayError as exc:
    st.error(f"This run cannot be replayed: {exc}")
    st.stop()

n_epochs = renderer.n_epochs
if n_epochs == 0:
    st.warning(f"Run {summary.name!r} has no finished epoch yet; only the initial weights "
               "can be shown.")
ss["epoch"] = min(max(int(ss["epoch"]), 0), n_epochs)
interval = max(1.0 / ss["speed"], MIN_INTERVAL_S)
stride = max(1, round(ss["speed"] * interval))


def _step(delta: int) -> None:
    ss["playing"] = False
    ss["epoch"] = min(max(ss["epoch"] + delta, 0), n_epochs)


def _player() -> None:
    if ss["playing"]:
        if ss["epoch"] >= n_epochs:
            ss["playing"] = False
            st.rerun()
        ss["epoch"] = min(ss["epoch"] + stride, n_epochs)
    c = st.columns([0.45, 0.45, 0.8, 7], vertical_alignment="bottom")
    c[0].button("", icon=":material/skip_previous:", key="prev_epoch", on_click=_step,
                args=(-1,), help="Previous epoch")
    c[1].button("", icon=":material/skip_next:", key="next_epoch", on_click=_step, args=(1,),
                help="Next epoch")
    playing = ss["playing"]
    if c[2].button("Pause" if playing else "Play", key="play", width="stretch",
                   icon=":material/pause:" if playing else ":material/play_arrow:"):
        if not ss["playing"] and ss["epoch"] >= n_epochs:
            ss["epoch"] = 0
        ss["playing"] = not ss["playing"]
        st.rerun()
    c[3].slider("Epoch", 0, max(n_epochs, 1), key="epoch", disabled=n_epochs == 0,
                label_visibility="collapsed")
    epoch = ss["epoch"]
    st.image(renderer.jpeg(epoch), width="stretch", output_format="JPEG",
             alt=f"Epoch {epoch} of {n_epochs}: {VIEW_NAMES}")
    st.caption(session.caption(renderer.views, epoch))


st.fragment(_player, run_every=interval if ss["playing"] else None)()
if summary.status in ("diverged", "stopped", "failed") and summary.message:
    st.caption(f"Run status: {summary.status} — {summary.message}")
