"""Replay page: scrub every epoch of a run with the five views moving together."""

from __future__ import annotations

import time

import streamlit as st

from replay_core.data.spec import RunSpec
from replay_core.errors import ReplayError, RunFileError
from replay_core.train.trainer import training_cost
from studio import damaged, layer_controls, page_guard, player, run_picker, screen, session, story
from studio.classes import confusion_table
from studio.code_panel import code_panel
from studio.export_panel import export_panel
from studio.form import query_text, spec_from_query
from studio.internals_view import explain_picker, internals_views, layers_toggle
from studio.training import train_in_page

ss = st.session_state
ss.setdefault("epoch", 0)
ss.setdefault("playing", False)
ss.setdefault("speed", 10)
ss.setdefault("frame_size", session.FIT_WINDOW)
screen.track()


def _spec_json(stored: dict | None) -> str | None:
    """The canonical JSON of a stored spec, or None when there is none or it is invalid."""
    spec = RunSpec.from_stored(stored)
    return None if spec is None else spec.to_json()


SPEEDS = [1, 2, 5, 10, 15, 20, 30]
# The frame's alt text names the views it draws (a view shown as a note is left out).
VIEW_NAMES = {"feature_space": "feature space", "decision_boundary": "decision boundary",
              "probability_histogram": "probability histograms",
              "loss_and_metric": "loss and accuracy", "loss_histogram": "loss histogram"}
# Height in CSS pixels of what sits above and below the frame (controls, slider, caption
# and narration), so a frame fitted to the window leaves them on screen.
RESERVED_PX = 262
PRESENT_RESERVED_PX = 224

# Seconds of training per unit of ``trainer.training_cost`` (the reference run, 2.4e7
# units, trains in about 2 s), plus loading TensorFlow the first time.
SECONDS_PER_COST = 2.0 / 2.4e7
STARTUP_S = 8.0


def _estimated_time(spec: RunSpec) -> str:
    """About how long training ``spec`` takes here, in words."""
    try:
        seconds = STARTUP_S + training_cost(spec).total * SECONDS_PER_COST
    except (ReplayError, ValueError, KeyError, OSError):  # data only the session knows
        return "unknown (the data is an uploaded file)"
    if seconds < 90:
        return f"about {max(10, round(seconds, -1)):.0f} seconds"
    return f"about {round(seconds / 60):.0f} minutes"


def _offer_presentation(spec: RunSpec) -> bool:
    """Show what a presentation link would train and a "Train and present" button; True
    once it is clicked. A link never trains without a click."""
    ds = spec.dataset
    try:
        network = spec.model.describe(ds.input_dim, ds.n_classes)
    except (ReplayError, ValueError, KeyError, OSError):
        network = spec.model.describe()
    st.title("Present a run")
    st.markdown("This link presents a run that this session does not hold yet. It is "
                "trained here first, on this server, when you click the button.")
    st.table({"": ["dataset", "network", "optimizer", "epochs", "estimated time"],
              "this link": [ds.name, network, spec.training.describe(),
                            str(spec.training.epochs), _estimated_time(spec)]})
    return st.button("Train and present", type="primary", icon=":material/slideshow:",
                     key="present_train")


ws = session.workspace()
runs = ws.runs()
damaged.deleted_notice()

if "presenting" not in ss and query_text(st.query_params, "present", 8) == "1":
    # A prepared presentation link carries the run's spec: reproduce it (same seed, same
    # run) unless this session already holds it, but only once the visitor clicks.
    linked, problem = spec_from_query(st.query_params.get("spec"))
    if problem:
        st.warning(problem.capitalize() + ".")
    elif linked is not None:
        match = next((r.name for r in runs if _spec_json(r.spec) == linked.to_json()), None)
        if match is None:
            if not _offer_presentation(linked):
                st.stop()
            st.markdown(f"**Preparing the presentation** — training {linked.model.describe()} "
                        f"on {linked.dataset.name}, {linked.training.epochs} epochs")
            wanted = query_text(st.query_params, "run") or "Presented run"
            try:
                match = ws.unique_name(wanted)
            except ValueError:
                match = ws.unique_name("Presented run")
            if not train_in_page(ws, linked, match, st.empty(), st.empty()):
                st.stop()
        st.query_params["run"] = match
        ss["replay_run"] = match
        ss["presenting"] = True
        ss["epoch"] = 0
        st.rerun()

def _await_first_run() -> None:
    """While the session's first job starts: open its run as soon as its file exists."""
    if ws.runs() or not session.training_jobs(ws):
        st.rerun(scope="app")


if not runs:
    st.title("Replay")
    pending = session.training_jobs(ws)
    if pending:
        st.info(f"{pending[0].title!r} is about to train: it opens here with its first "
                "epochs.")
        st.fragment(page_guard.guarded(_await_first_run), run_every=1.0)()
        st.stop()
    st.info("No runs in this session yet. Train one, or upload a run file.")
    c1, c2 = st.columns(2)
    c1.page_link("app_pages/train.py", label="Train a network", icon=":material/model_training:")
    c2.page_link("app_pages/runs.py", label="Upload a run file", icon=":material/folder_open:")
    st.stop()

names = [r.name for r in runs]
if "presenting" not in ss:
    # A prepared link (?present=1&run=NAME) opens straight into presentation mode.
    ss["presenting"] = query_text(st.query_params, "present", 8) == "1"
    linked_run = query_text(st.query_params, "run")
    if linked_run in names:
        ss["replay_run"] = linked_run
        ss["epoch"] = 0 if ss["presenting"] else next(
            r.epochs_done for r in runs if r.name == linked_run)
if ss.get("replay_run") not in names:
    ss["replay_run"] = names[-1]
    ss["epoch"] = runs[-1].epochs_done  # an automatic pick opens on its last epoch
presenting = ss["presenting"]


def _set_presenting(value: bool) -> None:
    ss["presenting"] = value
    ss["playing"] = False
    # Play stays disabled until the presentation frame is on screen (see the page's end).
    ss["present_pending"] = value


if presenting:
    st.html(player.presentation_css("replay_player"))
    top = None
else:
    # The settings live in the sidebar, so the frame has the page's whole height.
    top = st.sidebar.container(key="replay_controls")
    # Names that read whole in the sidebar's picker: shortened in the middle, "● " while
    # a job trains the run.
    run_texts = run_picker.picker_texts(
        names, {r.name for r in runs if r.status == "running"},
        run_picker.text_budget((screen.window() or {}).get("sidebar")))
    session.relabel_widget("replay_run", (run_texts[n] for n in names))
    top.selectbox("Run", names, persist_state="session", key="replay_run",
                  format_func=run_texts.__getitem__,
                  help="● marks a run a job is training; a long name is shortened in "
                  "its middle (the frame's title shows it whole)")
summary = next(r for r in runs if r.name == ss["replay_run"])
# A run a job is still writing is replayed from the epochs recorded so far (the writer's
# memory, not the file); _watch_live reruns the page to take in new ones.
live_epochs = session.live_epochs(ws, summary.name) if summary.status == "running" else None
key = (session.run_key(ws, summary) if live_epochs is None
       else session.live_key(ws, summary.name, live_epochs))
LIVE_END = 10**9  # an epoch past any end: clamped to the newest one, which is then followed
# Opened while it trains, or shown at its newest epoch when more arrived (or it ended):
# show the newest epoch.
was_live = ss.get("_live_run") == summary.name
live_following = was_live and ss["epoch"] >= ss.get("_live_end", 0)
if live_following or (live_epochs is not None and ss.get("_live_run") != summary.name):
    ss["epoch"] = LIVE_END
ss["_live_run"] = summary.name if live_epochs is not None else None
live_started = time.monotonic()
st.query_params["run"] = summary.name
spec_json = _spec_json(summary.spec)
if spec_json:
    st.query_params["spec"] = spec_json
elif "spec" in st.query_params:
    del st.query_params["spec"]
if presenting:
    st.query_params["present"] = "1"
elif "present" in st.query_params:
    del st.query_params["present"]

def _damaged(exc: BaseException) -> None:
    """The chosen run cannot be read: say so, offer to delete it, end the page here (the
    run picker above stays, so another run can be chosen)."""
    if presenting:
        st.button("Leave presentation mode", key="exit_present_damaged",
                  on_click=_set_presenting, args=(False,))
    damaged.show_damaged_run(ws, summary.name, exc)
    st.stop()


try:
    layer_units, default_layer, inputs_2d = session.feature_layers(key)
except RunFileError as exc:
    _damaged(exc)
except ReplayError as exc:
    st.error(f"This run cannot be replayed: {exc}")
    st.stop()
window = screen.window()
if top is None:
    size, dpi = session.PRESENTATION_FRAME
    if window is not None:
        size = screen.fit(window, PRESENT_RESERVED_PX, size[0] / size[1], presenting=True)
        dpi = screen.frame_dpi(size[0])
layer, projection, fit_epoch = layer_controls.feature_controls(
    top, layer_units, default_layer, summary.epochs_done, summary.name, show=top is not None,
    fit_default=lambda name: session.run_replay(key).fit_projection(name).fit_epoch)
if top is not None:
    # Labels hidden: the options say what they are, and the sidebar fits a 720-px screen.
    top.selectbox("Figure size", [session.FIT_WINDOW, *session.FRAME_SIZES],
                  persist_state="session", key="frame_size",
                  label_visibility="collapsed")
    top.selectbox("Speed (epochs/s)", SPEEDS,
                  persist_state="session", key="speed", label_visibility="collapsed",
                  format_func=lambda v: f"{v} epochs/s")
    top.button("Present", icon=":material/slideshow:", on_click=_set_presenting,
               args=(True,), help="Full-screen views with only the slider and play/pause; "
               "the address then opens straight into it", width="stretch")
    if ss["frame_size"] in session.FRAME_SIZES:
        size, dpi = session.FRAME_SIZES[ss["frame_size"]], 100
    elif window is not None:
        large = session.FRAME_SIZES[next(iter(session.FRAME_SIZES))]
        size = screen.fit(window, RESERVED_PX, large[0] / large[1])
        dpi = screen.frame_dpi(size[0])
    else:  # the browser has not reported its window yet
        size, dpi = session.FRAME_SIZES[next(iter(session.FRAME_SIZES))], 100

theme = "dark" if getattr(st.context.theme, "type", None) == "dark" else "light"
try:
    renderer = session.frame_renderer(key, layer, size, theme, dpi=dpi,
                                      projection=projection, fit_epoch=fit_epoch,
                                      future_curves=player.future_curves())
    if presenting:  # the caption line reads the run once more; read it here, not per frame
        session.run_caption(key)
        session.lr_text(key, 1)
except RunFileError as exc:
    _damaged(exc)
except ReplayError as exc:
    st.error(f"This run cannot be replayed: {exc}")
    st.stop()

n_epochs = renderer.n_epochs
if top is not None:
    with top.popover("Export", icon=":material/movie:", width="stretch"):
        export_panel(ws, renderer.views, summary.name, epoch=ss["epoch"], theme=theme,
                     landscape=True, layers=True, feature=(layer, projection, fit_epoch))
if n_epochs == 0:
    st.warning(f"Run {summary.name!r} has no finished epoch yet; only the initial weights "
               "can be shown.")
session.clamp_widget("epoch", 0, n_epochs)
if live_epochs is not None or was_live:
    # The new renderer's first frame is drawn now, before the player empties its image.
    renderer.jpeg(ss["epoch"])
if live_epochs is not None:
    ss["_live_end"] = ss["_live_shown"] = n_epochs
    ss["_live_build"] = (time.monotonic(), time.monotonic() - live_started)
# Playback runs in the server: the fragment pushes frames at a steady pace until the last
# epoch or until any click interrupts it, so the speed does not depend on round trips.


def _step(delta: int) -> None:
    player.take_played("epoch", "played_epoch", n_epochs)
    ss["playing"] = False
    ss["epoch"] = min(max(ss["epoch"] + delta, 0), n_epochs)


def _toggle_play() -> None:
    player.take_played("epoch", "played_epoch", n_epochs)
    if not ss["playing"] and ss["epoch"] >= n_epochs:
        ss["epoch"] = 0
    ss["playing"] = not ss["playing"]


def _jump(epoch: int) -> None:
    """An event's button: stop playback and show its epoch."""
    ss.pop("played_epoch", None)
    ss["playing"] = False
    ss["epoch"] = min(max(int(epoch), 0), n_epochs)


def _show(image_slot, caption_slot, epoch: int) -> None:
    image_slot.image(renderer.jpeg(epoch), width="stretch", output_format="JPEG",
                     alt=f"Epoch {epoch} of {n_epochs}: " + ", ".join(
                         VIEW_NAMES.get(p, p.replace("_", " ")) for p in renderer.panels
                         if p in renderer.artists)
                     # The legend may shorten a class name; the alt text says it whole.
                     + (". Classes: " + ", ".join(renderer.views.class_names)
                        if renderer.views.class_names else ""))
    text = session.caption(renderer.views, epoch)
    told = story.narration_line(renderer.views, epoch)
    if presenting:
        caption_slot.markdown(f"**{session.run_caption(key)}** · {text}"
                              f"{session.lr_text(key, epoch)}  \n{told}")
    elif show_units:  # the unit strip rides in the caption's slot, so it follows every frame
        strip = session.unit_strip(key, layer, size[0], theme)
        with caption_slot.container():
            st.caption(text)
            st.markdown(told)
            st.image(strip.jpeg(epoch), output_format="JPEG", width="stretch",
                     alt=f"Every unit of {layer} over the input space at epoch {epoch}")
    else:
        with caption_slot.container():
            st.caption(text)
            st.markdown(told)


# Buttons live outside the fragment: a click there reruns the page, which interrupts a
# playback loop at once (a click inside a running fragment would wait for it to end).
player.take_played("epoch", "played_epoch", n_epochs)
if presenting:
    c = st.columns([0.8, 9, 0.5], vertical_alignment="center")
    c[2].button("", icon=":material/close_fullscreen:", key="exit_present", type="tertiary",
                on_click=_set_presenting, args=(False,), help="Leave presentation mode")
    play_col = c[0]
else:
    # One line at 1280x720 too: the main column is the page's width less a narrow sidebar.
    c = st.columns([0.45, 0.45, 1.0, 1.6, 1.6, 1.3, 1.8], vertical_alignment="center")
    c[0].button("", icon=":material/skip_previous:", key="prev_epoch", on_click=_step,
                args=(-1,), help="Previous epoch")
    c[1].button("", icon=":material/skip_next:", key="next_epoch", on_click=_step,
                args=(1,), help="Next epoch")
    play_col = c[2]
show_units = (not presenting
              and layer_controls.unit_strip_toggle(c[3], layer, inputs_2d))
show_layers = not presenting and layers_toggle(c[3])
explain = None
if show_layers:
    try:
        explain = explain_picker(c[3], internals_views(key).layer_names)
    except ReplayError as exc:
        st.caption(f"No layer internals: {exc}")
        show_layers = False
show_landscape = not presenting and layer_controls.landscape_toggle(c[4])
if not presenting:
    events = renderer.views.events
    n_major = 0 if events is None else len(events.major)
    with c[5].popover(f"Events ({n_major})", icon=":material/flag:", width="stretch",
                      help="The moments of this run; click one to jump to its epoch"):
        story.events_list(events, ss["epoch"], _jump)
    with c[6].popover("How to read this", icon=":material/help:", width="stretch"):
        player.future_curves_control()
        story.reading_guide([*renderer.panels, *(["landscape"] if show_landscape else [])])
play_col.button("Pause" if ss["playing"] else "Play", key="play", width="stretch",
                icon=":material/pause:" if ss["playing"] else ":material/play_arrow:",
                on_click=_toggle_play, disabled=presenting and ss.get("present_pending", False))


def _show_layers(slot, epoch: int) -> None:
    """The layer internals at ``epoch`` under the frame (the "Layers" switch)."""
    if not show_layers:
        return
    from studio.internals_view import strip

    width = size[0]
    layers = strip((key,), (summary.name,), (width, int(width * 0.45)), theme,
                   "_layers_strip", explain)
    slot.image(layers.jpeg(epoch), output_format="JPEG", width="stretch",
               alt=f"Inside {summary.name} at epoch {epoch}: per layer z-values, activations, "
               "weights and gradients, their spread over epochs, dead and saturated units")


def _show_landscape(slot, epoch: int) -> None:
    """The loss landscape with the path and the dot at ``epoch``, under the frame."""
    if not show_landscape:
        return
    width = size[0] // 2
    try:
        strip = session.landscape_strip((key,), (width, int(width * 0.6)), theme,
                                        "_landscape_strip")
    except ReplayError as exc:
        slot.caption(f"No loss landscape: {exc}")
        return
    slot.image(strip.jpeg(epoch), output_format="JPEG", width=width,
               alt=f"Loss landscape of {summary.name} with the path and epoch {epoch}")


# While a job trains the run, _watch_live looks for new epochs this often; it reruns the
# page to take them in at most every LIVE_REBUILD_X times as long as the last rebuild
# took, and not while the user is moving the slider (a rebuild would hold up their steps).
LIVE_REFRESH_S = 1.0
LIVE_REBUILD_X = 2.5
LIVE_QUIET_S = 1.5


def _watch_live() -> None:
    """A fragment with nothing on screen, run every LIVE_REFRESH_S while a job trains the
    run: the page reruns when the job has ended (to read the finished file) and when new
    epochs are due (the slider's end grows; following the newest epoch, see above)."""
    now = time.monotonic()
    epochs = session.live_epochs(ws, summary.name)
    if epochs is None:
        st.rerun(scope="app")
    built_at, build_s = ss.get("_live_build", (0.0, 0.0))
    if (epochs > n_epochs and not ss["playing"]
            and now - ss.get("_live_moved", 0.0) >= LIVE_QUIET_S
            and now - built_at >= max(LIVE_REFRESH_S, LIVE_REBUILD_X * build_s)):
        st.rerun(scope="app")


def _note_scrub() -> None:
    """Remember when the user last moved the slider of a run that trains."""
    if ss["epoch"] != ss.get("_live_shown"):
        ss["_live_shown"] = ss["epoch"]
        ss["_live_moved"] = time.monotonic()


def _follow_latest() -> None:
    ss["epoch"] = LIVE_END
    ss["playing"] = False


def _player() -> None:
    with st.container(key="replay_player"):
        _player_body()


def _player_body() -> None:
    playing = ss["playing"]
    if live_epochs is not None:
        session.clamp_widget("epoch", 0, n_epochs)  # "Live" asks for the end
        _note_scrub()
        slider_col, live_col = st.columns([12, 1.6], vertical_alignment="center")
        slider_slot = slider_col.empty()
        live_col.button("Live", icon=":material/fast_forward:", key="follow_live",
                        type="tertiary", on_click=_follow_latest,
                        disabled=ss["epoch"] >= n_epochs,
                        help=f"{summary.name} is training: show each epoch as it arrives")
    else:
        slider_slot = st.empty()
    slider_slot.slider("Epoch", 0, max(n_epochs, 1), persist_state="session", key="epoch",
                       disabled=n_epochs == 0 or playing, label_visibility="collapsed")
    image_slot, caption_slot = st.empty(), st.empty()
    landscape_slot = st.empty()
    layers_slot = st.empty()
    epoch = ss["epoch"]
    _show(image_slot, caption_slot, epoch)
    _show_landscape(landscape_slot, epoch)
    _show_layers(layers_slot, epoch)
    if not playing:
        if renderer.views.n_classes > 2:
            confusion_table(renderer.views, epoch)
        return

    def frame(e: int) -> None:
        _show(image_slot, caption_slot, e)
        _show_landscape(landscape_slot, e)
        _show_layers(layers_slot, e)
        player.track(slider_slot, n_epochs, e)

    player.play(frame, first=epoch, last=n_epochs, speed=ss["speed"],
                played_key="played_epoch")
    ss["playing"] = False
    st.rerun()


st.fragment(page_guard.guarded(_player))()
if live_epochs is not None:
    st.fragment(page_guard.guarded(_watch_live), run_every=LIVE_REFRESH_S)()
if presenting and ss.pop("present_pending", False):
    st.rerun()  # the presentation frame is on screen: now Play can start
if summary.status in ("diverged", "stopped", "failed") and summary.message:
    st.caption(f"Run status: {summary.status} — {summary.message}")
if not presenting:
    with st.sidebar:
        code_panel(summary, key="replay_code_download")
