"""Per-browser-session state: the private workspace, cached view data, the frame renderer.

Session state holds ids, names and the selected epoch; view data is cached with
``st.cache_data`` keyed on the run file, run name and epochs written, and the one frame
renderer a session is looking at is kept in its own session state.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from replay_core.errors import ReplayError, RunNotFoundError
from replay_core.replay.replayer import Replay
from replay_core.replay.views import ReplayViews
from replay_core.store.runfile import RunSummary
from replay_core.store.workspace import Workspace, clean_up
from replay_core.train.trainer import DEFAULT_MAX_COST
from studio import browser_session

APP_ROOT = Path(__file__).resolve().parent.parent
# A run's budget (``trainer.training_cost``: optimizer steps x parameters plus the
# evaluation of every epoch; the costliest preset costs 4.1e9), and a sweep's, all runs
# together (3 activations x 50 seeds of the reference run cost 3.6e9).
MAX_TRAINING_COST = int(float(os.environ.get("DEEPREPLAY_MAX_COST", DEFAULT_MAX_COST)))
MAX_SWEEP_COST = int(float(os.environ.get("DEEPREPLAY_MAX_SWEEP_COST",
                                          str(20 * MAX_TRAINING_COST))))

# Presentation mode fills a 1920x1080 screen; a higher dpi keeps text large. It is used
# until the browser has reported its window (studio.screen), then the frame fits that.
PRESENTATION_FRAME = ((1880, 880), 125)
# The default figure size: as wide as the page and as high as the window leaves room for.
FIT_WINDOW = "Fit the window"
FRAME_SIZES = {
    "Large (1920×1080 screen)": (1460, 690),
    "Medium (1280×720 screen)": (1180, 560),
}


def clamp_widget(key: str, low: int, high: int, default: int | None = None) -> int:
    """Keep the widget value under ``key`` within ``[low, high]`` (``default`` when it is
    missing or not a number) and return it.

    The value is written only when it changes, or when the bounds change: a value
    written to a widget's key is sent to the browser, where it replaces what the user is
    doing at that moment (dragging the slider, typing a number) in a run the user did
    not cause. New bounds make a slider a new widget (Streamlit's identity of a keyed
    slider includes its range), which must be given the value it is to show."""
    ss = st.session_state
    value = ss.get(key)
    try:
        wanted = min(max(int(value), low), high)
    except (TypeError, ValueError, OverflowError):
        wanted = low if default is None else default
    bounds_key = f"_{key}_bounds"
    if value != wanted or type(value) is not int or ss.get(bounds_key) != (low, high):
        ss[key] = wanted
        ss[bounds_key] = (low, high)
    return wanted


def relabel_widget(key: str, labels) -> None:
    """Give the choice widget under ``key`` its value again when the texts of its options
    change (a run that started or ended training, a sweep that recorded more runs).

    The browser holds a choice as the text it shows: once that text is gone from the
    options it would send it back unknown. Only a changed text rewrites the value (see
    :func:`clamp_widget`)."""
    ss = st.session_state
    labels = tuple(labels)
    labels_key = f"_{key}_labels"
    if ss.get(labels_key) != labels:
        ss[labels_key] = labels
        if key in ss:
            ss[key] = ss[key]


def data_root() -> Path:
    """Where the app keeps its files: ``$DEEPREPLAY_DATA``, else ``data/`` beside the app."""
    return Path(os.environ.get("DEEPREPLAY_DATA", APP_ROOT / "data"))


def workspace() -> Workspace:
    """This browser session's workspace; its folder appears with its first run.

    Expired sessions and the total quota are looked after here, at most once every
    ``workspace.CLEAN_INTERVAL_S`` per server process, never on every rerun.
    """
    sid = browser_session.session_id()
    root = data_root() / "sessions"
    ws = Workspace.create(root, sid)
    ws.touch()
    clean_up(root, keep=sid, background=True)
    return ws


def run_key(ws: Workspace, summary: RunSummary) -> tuple:
    """What identifies the stored state of a run: its own file, name, epochs written,
    status and that file's mtime (another run's rename or delete leaves it unchanged)."""
    try:
        path = ws.run_path(summary.name)
        mtime = path.stat().st_mtime
    except (ReplayError, OSError):
        path, mtime = ws.folder / "missing.h5", 0.0
    return (str(path), summary.name, summary.epochs_done, summary.status, mtime)


def run_replay(key: tuple) -> Replay:
    """The ``Replay`` of a run's stored state (``run_key``): the file is read once, and
    every view of the run this session asks for, in this rerun and the next ones, comes
    from the same object until the run changes. One per session, in its own state, so no
    other session can reach it and a session holds at most one run's arrays.

    A ``live_key`` is built from the epochs a job has recorded so far (its writer's
    memory, not the file being written); when the session's replay is of the same run's
    fewer epochs, it is extended (``Replay.extended``): only the new epochs go through
    the network."""
    slot = st.session_state.get("_replay")
    if slot is None or slot[0] != key:
        if key[3] == LIVE:
            same_run = slot is not None and slot[0][3] == LIVE and slot[0][:2] == key[:2]
            replay = _live_replay(key, slot[1] if same_run else None)
        else:
            replay = Replay(key[0], key[1])
        slot = (key, replay)
        st.session_state["_replay"] = slot
    return slot[1]


# The status in a ``live_key``: the epochs recorded so far of a run a job is writing.
LIVE = "live"


def live_epochs(ws: Workspace, name: str) -> int | None:
    """How many epochs of run ``name`` a job of this session has recorded so far, or
    None when no job is writing it (then the run file is read as usual)."""
    from studio import jobs

    data = jobs.live_run(ws, name)
    return None if data is None else int(data.epochs_done)


def training_jobs(ws: Workspace) -> list:
    """This session's jobs that are queued or running (``jobs.JobView``), newest first."""
    from studio import jobs

    return [v for v in jobs.jobs_of(ws) if v.state in ("queued", "running")]


def live_key(ws: Workspace, name: str, epochs: int) -> tuple:
    """``run_key``'s layout for the first ``epochs`` epochs of a run a job is writing:
    the session's folder and the run's name keep it apart from any other session's."""
    return (str(ws.folder / f"{name}.live"), name, int(epochs), LIVE, 0.0)


def _live_replay(key: tuple, previous: Replay | None = None) -> Replay:
    """The ``Replay`` of a live key: the writer's epochs so far, cut to ``key[2]``;
    ``previous`` (the same run's replay at fewer epochs) extended when it still fits."""
    from studio import jobs

    name, epochs = key[1], key[2]
    data = jobs.live_run(Workspace(Path(key[0]).parent), name)
    if data is None:
        raise RunNotFoundError(f"run {name!r} is no longer training; open it again")
    if previous is not None:
        return previous.extended(data, epochs)
    return Replay.from_run_data(data, epochs)


@st.cache_data(max_entries=12, show_spinner=False)
def feature_layers(key: tuple) -> tuple[list[tuple[str, int]], str | None, bool]:
    """``([(name, units)...] of the hidden layers the feature space can show, the default
    layer, whether the inputs are 2-D)``."""
    replay = run_replay(key)
    units = dict(zip(replay.layer_names, replay.network.units))
    return ([(n, units[n]) for n in replay.feature_layers()], replay.default_feature_layer(),
            replay.inputs.shape[1] == 2)


@st.cache_data(max_entries=12, show_spinner="Computing the five views for every epoch…")
def replay_views(key: tuple, layer: str | None, projection=None,
                 fit_epoch: int | None = None) -> ReplayViews:
    return run_replay(key).views(layer=layer, projection=projection, fit_epoch=fit_epoch)


def frame_renderer(key: tuple, layer: str | None, size: tuple[int, int], theme: str,
                   dpi: int = 100, projection=None, fit_epoch: int | None = None,
                   future_curves: str = "faint"):
    """The session's renderer for this run, built once and reused for every epoch
    (``future_curves``: how the loss panel draws the epochs after the one shown)."""
    from replay_core.render.frame import FrameRenderer

    wanted = (key, layer, size, theme, dpi, projection, fit_epoch, future_curves)
    slot = st.session_state.get("_renderer")
    if slot is None or slot[0] != wanted:
        # A live key's views are made once, for one renderer: not cached, and without the
        # cache's spinner, which would stand in for the player each time epochs arrive;
        # kept by the replay, so the next epochs extend them.
        views = (run_replay(key).views(layer=layer, projection=projection, fit_epoch=fit_epoch,
                                       keep=True)
                 if key[3] == LIVE else replay_views(key, layer, projection, fit_epoch))
        renderer = FrameRenderer(views, size=size, theme=theme, dpi=dpi,
                                 future_curves=future_curves)
        st.session_state["_renderer"] = (wanted, renderer)
        return renderer
    return slot[1]


@st.cache_data(max_entries=4, show_spinner="Computing every unit's map for every epoch…")
def unit_maps(key: tuple, layer: str):
    return run_replay(key).unit_maps(layer)


def unit_strip(key: tuple, layer: str, width: int, theme: str):
    """The session's strip of unit maps for this run and layer, built once."""
    from replay_core.render.units import UnitStripRenderer

    wanted = (key, layer, width, theme)
    slot = st.session_state.get("_unit_strip")
    if slot is None or slot[0] != wanted:
        strip = UnitStripRenderer(unit_maps(key, layer), width=width, theme=theme)
        st.session_state["_unit_strip"] = (wanted, strip)
        return strip
    return slot[1]


def loss_text(value: float) -> str:
    """A loss for people: 4 decimals, or scientific notation from 1e6 on (a run that blew
    up would otherwise print a 19-digit number)."""
    value = float(value)
    return f"{value:.3e}" if abs(value) >= 1e6 else f"{value:.4f}"


def caption(views: ReplayViews, epoch: int) -> str:
    """One line under the frame: epoch, loss and accuracy (and validation when present)."""
    lm = views.loss_and_metric
    text = (f"Epoch {epoch} of {views.n_epochs} · loss {loss_text(lm.loss[epoch])} · "
            f"accuracy {lm.accuracy[epoch]:.1%}")
    if lm.val_loss is not None:
        text += (f" · validation loss {loss_text(lm.val_loss[epoch])} · "
                 f"accuracy {lm.val_accuracy[epoch]:.1%}")
    return text


@st.cache_data(max_entries=32, show_spinner=False)
def run_caption(key: tuple) -> str:
    """Dataset, architecture and optimizer of a run, for the presentation caption."""
    from replay_core.data.spec import RunSpec

    replay = run_replay(key)
    spec = RunSpec.from_stored(replay.spec)
    if spec is not None:
        k = replay.network.layers[-1].units
        return (f"{spec.dataset.name} · "
                f"{spec.model.describe(replay.inputs.shape[1], max(k, 2))} · "
                f"{spec.training.describe()}")
    widths = [str(replay.inputs.shape[1])] + [
        f"{layer.units} {layer.activation_config.get('name') or 'linear'}"
        for layer in replay.network.layers if layer.has_weights
    ]
    return f"{replay.name} · " + " → ".join(widths)


@st.cache_data(max_entries=32, show_spinner=False)
def _learning_rates(key: tuple) -> list[float]:
    lr = run_replay(key).logs.get("lr")
    return [] if lr is None else [float(v) for v in lr]


def lr_text(key: tuple, epoch: int) -> str:
    """`` · lr 0.05`` for the learning rate in force during ``epoch`` (1-based), if known."""
    rates = _learning_rates(key)
    if not rates:
        return ""
    return f" · lr {rates[min(max(epoch, 1), len(rates)) - 1]:.3g}"


@st.cache_data(max_entries=8, show_spinner="Computing the loss landscape around the path…")
def landscape(key: tuple):
    """The run's loss landscape (``replay.landscape.loss_landscape``), cached per run state."""
    from replay_core.replay.landscape import loss_landscape

    path, name = key[0], key[1]
    return loss_landscape(Replay(path, name))


def landscape_strip(keys: tuple, size: tuple[int, int], theme: str, slot: str):
    """The renderer of these runs' landscapes side by side, kept in session state under
    ``slot`` (one per page) and built once."""
    from replay_core.render.landscape import LandscapeRenderer

    wanted = (keys, size, theme)
    kept = st.session_state.get(slot)
    if kept is None or kept[0] != wanted:
        strip = LandscapeRenderer([landscape(k) for k in keys], size=size, theme=theme)
        st.session_state[slot] = (wanted, strip)
        return strip
    return kept[1]
