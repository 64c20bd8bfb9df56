"""Compare page: 2 to 4 runs side by side, one shared epoch slider, what differs and how much."""

from __future__ import annotations

import streamlit as st

from replay_core.data import presets
from replay_core.data.spec import RunSpec
from replay_core.errors import ReplayError, RunFileError, ServerBusyError
from replay_core.replay.compare import config_differences, key_figures
from studio import capacity, page_guard, player, screen, session
from studio.damaged import deleted_notice, show_damaged_run
from studio.training import train_group_in_page, train_in_page

ss = st.session_state
ss.setdefault("compare_epoch", 0)
ss.setdefault("compare_playing", False)
ss.setdefault("compare_speed", 10)
ss.setdefault("compare_presenting", False)
screen.track()
presenting = bool(ss["compare_presenting"])

# The seed article's experiment: the reference run with three hidden activations.
ACTIVATION_PRESETS = {"sigmoid": "reference", "tanh": "reference_tanh", "relu": "reference_relu"}
FRAME_SIZE = (1600, 820)  # until the browser has reported its window (studio.screen)
SPEEDS = [1, 2, 5, 10, 15, 20, 30]  # epochs per second
# Height in CSS pixels of the controls and slider above the frame (and the page's
# padding), so a frame fitted to the window leaves them on screen.
RESERVED_PX = 150
PRESENT_RESERVED_PX = 110
MIN_INTERVAL_S = 1 / 10  # a comparison frame costs 40-150 ms to draw and send
NEVER = "never"

if presenting:
    st.html(player.presentation_css("compare_player"))
else:
    st.sidebar.subheader("Compare runs")
ws = session.workspace()
if "compare_pending" in ss:  # runs just trained by the button below; select them
    ss["compare_runs"] = ss.pop("compare_pending")
    ss["compare_epoch"] = 0
    ss["compare_playing"] = False

# The run choice lives in the sidebar, so the comparison has the page's whole height.
top = [st.sidebar.container(), st.sidebar.container()]
train_clicked = not presenting and top[1].button(
    "Activation functions in action", icon=":material/science:", width="stretch",
    help="Train the reference run (parabolas, 2 → 2 → 1, SGD lr 0.05, 150 epochs, seed "
         f"{presets.REFERENCE_SEED}) with a sigmoid, a tanh and a relu hidden layer, then "
         "compare them")


def _train_activations() -> list[str] | None:
    """The three runs as one batched computation (one compiled program for the three
    instead of three: about a third of the time), each in a file of its own; their
    names, or None when they did not train (the page says why)."""
    from replay_core.store.workspace import estimate_file_bytes

    specs = [presets.get(preset) for preset in ACTIVATION_PRESETS.values()]
    names = [ws.unique_name(base) for base in ACTIVATION_PRESETS]
    try:
        ws.check_capacity(len(specs))
        ws.check_space(sum(estimate_file_bytes(spec) for spec in specs))
    except (ReplayError, ValueError) as exc:
        st.error(f"Training did not start: {exc}")
        return None
    # A job: the three train together in a worker process, each into a file of its own.
    if not train_group_in_page(ws, specs, names):
        return None
    return names


if train_clicked:
    try:
        # One of the server's training slots for the three runs, trained together.
        with capacity.slot("training"):
            made = _train_activations()
    except ServerBusyError as exc:
        st.warning(str(exc))
        st.stop()
    if made is None:
        st.stop()
    ss["compare_pending"] = made
    st.rerun()
# The weight-initializers article: three 5 x 100 networks on 10-D ball data, compared
# inside (the layers' violins shown at once).
INITIALIZER_RUNS = {"sigmoid normal 0.01": "init_sigmoid_normal",
                    "tanh glorot": "init_tanh_glorot", "relu he": "init_relu_he"}
if not presenting and top[1].button(
        "Weight initializers in action", icon=":material/stacked_bar_chart:", width="stretch",
        help="Train the weight-initializers article's three 5 x 100 networks on 10-D ball "
             "data (sigmoid with normal σ = 0.01, tanh with Glorot uniform, relu with He "
             "uniform; 40 epochs, seed 13), then compare their layers' violins"):
    made = []
    try:
        with capacity.slot("training"):
            for base, preset in INITIALIZER_RUNS.items():
                name = ws.unique_name(base)
                st.markdown(f"**Training {name}** ({presets.PRESETS[preset].title})")
                if not train_in_page(ws, presets.get(preset), name, st.empty(), st.empty()):
                    st.stop()
                made.append(name)
    except ServerBusyError as exc:
        st.warning(str(exc))
        st.stop()
    ss["compare_pending"] = made
    ss["compare_layers"] = True
    st.rerun()

runs = ws.runs()
names = [r.name for r in runs]
if "compare_runs" not in ss:
    ss["compare_runs"] = names[-3:] if len(names) >= 2 else []
ss["compare_runs"] = [n for n in ss["compare_runs"] if n in names]
if presenting:
    chosen = ss["compare_runs"]
else:
    chosen = top[0].multiselect("Runs to compare (2 to 4)", names,
                                persist_state="session", key="compare_runs",
                                max_selections=4, placeholder="Choose 2 to 4 runs")
    # The Replay page's choice (same session key): one choice serves both pages.
    player.future_curves_control(top[0], player.COMPARE_CURVES_KEY)
if presenting and len(chosen) < 2:
    ss["compare_presenting"] = False
    st.rerun()
if len(chosen) < 2:
    st.info("Choose at least two runs, or train the three activations with the button.")
    st.stop()

summaries = {r.name: r for r in runs}
keys = {name: session.run_key(ws, summaries[name]) for name in chosen}
theme = "dark" if getattr(st.context.theme, "type", None) == "dark" else "light"
deleted_notice()
# A damaged run says so, with its Delete button, and the others are compared without it.
for name in list(keys):
    try:
        session.replay_views(keys[name], None)
    except RunFileError as exc:
        st.markdown(f"**{name}**")
        show_damaged_run(ws, name, exc, key="compare_delete_damaged")
        del keys[name]
    except ReplayError:
        pass  # said below, for the selection as a whole
chosen = [name for name in chosen if name in keys]
if len(chosen) < 2:
    st.info("Choose at least two runs that can be replayed.")
    st.stop()


def compare_renderer(keys: dict[str, tuple], theme: str):
    """The session's comparison renderer for this selection, built once and reused."""
    from replay_core.render.compare import CompareRenderer

    size, dpi = FRAME_SIZE, 100
    window = screen.window()
    if window is not None:
        size = screen.fit(window, PRESENT_RESERVED_PX if presenting else RESERVED_PX,
                          FRAME_SIZE[0] / FRAME_SIZE[1], presenting=presenting)
        dpi = screen.frame_dpi(size[0])
    future = player.future_curves()
    wanted = (tuple(keys.items()), size, dpi, theme, future)
    slot = ss.get("_compare_renderer")
    if slot is None or slot[0] != wanted:
        views = {name: session.replay_views(key, None) for name, key in keys.items()}
        renderer = CompareRenderer(views, size=size, theme=theme, dpi=dpi,
                                   future_curves=future)
        ss["_compare_renderer"] = (wanted, renderer)
        return renderer
    return slot[1]


try:
    renderer = compare_renderer(keys, theme)
except (ReplayError, ValueError) as exc:
    st.error(f"These runs cannot be compared: {exc}")
    st.stop()

n_epochs = renderer.n_epochs
session.clamp_widget("compare_epoch", 0, n_epochs)


def _toggle_play() -> None:
    player.take_played("compare_epoch", "compare_played", n_epochs)
    if not ss["compare_playing"] and ss["compare_epoch"] >= n_epochs:
        ss["compare_epoch"] = 0
    ss["compare_playing"] = not ss["compare_playing"]


def _show(image_slot, epoch: int) -> None:
    image_slot.image(renderer.jpeg(epoch), width="stretch", output_format="JPEG",
                     alt=f"Compare epoch {epoch} of {n_epochs}")


def _show_landscapes(slot, epoch: int) -> None:
    """Each run's loss landscape on its own plane, the dots at ``epoch``."""
    if not show_landscapes:
        return
    try:
        strip = session.landscape_strip(tuple(keys.values()), (FRAME_SIZE[0], 420), theme,
                                        "_compare_landscapes")
    except ReplayError as exc:
        slot.caption(f"No loss landscapes: {exc}")
        return
    slot.image(strip.jpeg(epoch), width="stretch", output_format="JPEG",
               alt=f"Loss landscapes of {', '.join(keys)} at epoch {epoch}")


player.take_played("compare_epoch", "compare_played", n_epochs)
playing = ss["compare_playing"]


def _set_presenting(value: bool) -> None:
    ss["compare_presenting"] = value
    ss["compare_playing"] = False
    # Play stays disabled until the presentation frame is on screen (see the page's end).
    ss["compare_present_pending"] = value


if presenting:
    play_col, _, exit_col = st.columns([0.8, 9, 0.5], vertical_alignment="center")
    exit_col.button("", icon=":material/close_fullscreen:", key="compare_exit_present",
                    type="tertiary", on_click=_set_presenting, args=(False,),
                    help="Leave presentation mode")
    show_landscapes = False
else:
    play_col, present_col, speed_col, landscape_col, differs_col, sweep_col = st.columns(
        [1, 1.1, 1.2, 1.6, 1.5, 2.3], vertical_alignment="center")
    # Beside Play (the sidebar is full at 720 px); the options say what they are.
    speed_col.selectbox("Speed (epochs/s)", SPEEDS, persist_state="session", key="compare_speed",
                        format_func=lambda v: f"{v} epochs/s", label_visibility="collapsed")
    present_col.button("Present", icon=":material/slideshow:", key="compare_present",
                       width="stretch", on_click=_set_presenting, args=(True,),
                       help="Full-screen comparison with only the slider and play/pause")
    show_landscapes = landscape_col.toggle(
        "Loss landscapes", persist_state="session", key="compare_landscapes",
        help="Each run's loss over the plane of its own weights' path (the first two principal "
             "components), the path as a line and the epoch shown as a dot.")
play_col.button("Pause" if playing else "Play", key="compare_play", width="stretch",
                icon=":material/pause:" if playing else ":material/play_arrow:",
                on_click=_toggle_play,
                disabled=presenting and ss.get("compare_present_pending", False))
if not presenting and sweep_col.button("Sweep seeds for these runs", icon=":material/scatter_plot:",
                    width="stretch", help="Train each of these runs' settings over many seeds "
                    "on the Seed sweep page: is the difference the settings, or luck?"):
    ss["sweep_configs"] = list(chosen)
    ss["compare_playing"] = False
    st.switch_page("app_pages/sweep.py")


show_layers = not ss.get("compare_presenting", False) and st.toggle(
    "Layers: each run's violins", key="compare_layers",
    help="Per run, a row of violins per hidden layer: its z-values, activations, weights and "
         "gradients at the epoch shown, as the weight-initializers article compares them.")


def _show_layers(slot, epoch: int) -> None:
    """Each run's layer violins in a row, at ``epoch`` (a shorter run at its last epoch)."""
    if not show_layers:
        return
    from studio.internals_view import strip

    width = FRAME_SIZE[0]
    try:
        layers = strip(tuple(keys.values()), tuple(keys), (width, 260 * len(keys) + 50), theme,
                       "_compare_layers")
    except (ReplayError, ValueError) as exc:
        slot.caption(f"No layer internals: {exc}")
        return
    slot.image(layers.jpeg(epoch), width="stretch", output_format="JPEG",
               alt=f"Inside {', '.join(keys)} at epoch {epoch}: violins of z-values, "
               "activations, weights and gradients per hidden layer")


def _player() -> None:
    with st.container(key="compare_player"):
        _player_body()


def _player_body() -> None:
    # Same pattern as the Replay page (studio.player): playback runs in the server.
    playing = ss["compare_playing"]
    slider_slot = st.empty()
    slider_slot.slider("Epoch", 0, max(n_epochs, 1), persist_state="session", key="compare_epoch",
                       disabled=n_epochs == 0 or playing, label_visibility="collapsed")
    image_slot = st.empty()
    landscape_slot = st.empty()
    layers_slot = st.empty()
    epoch = ss["compare_epoch"]
    _show(image_slot, epoch)
    _show_landscapes(landscape_slot, epoch)
    _show_layers(layers_slot, epoch)
    if not playing:
        return

    def frame(e: int) -> None:
        _show(image_slot, e)
        _show_landscapes(landscape_slot, e)
        _show_layers(layers_slot, e)
        player.track(slider_slot, n_epochs, e)

    player.play(frame, first=epoch, last=n_epochs, speed=ss["compare_speed"],
                played_key="compare_played", min_interval=MIN_INTERVAL_S)
    ss["compare_playing"] = False
    st.rerun()


st.fragment(page_guard.guarded(_player))()
if presenting:
    if ss.pop("compare_present_pending", False):
        st.rerun()  # the presentation frame is on screen: now Play can start
    st.stop()
# What differs sits in a popover: the comparison keeps the page's height.
details = differs_col.popover("What differs", icon=":material/table:", width="stretch")


def _is_activation_trio(names: list[str]) -> bool:
    """Whether ``names`` are the reference run with each of the three activations."""
    stored = [RunSpec.from_stored(summaries[n].spec) for n in names]
    return None not in stored and sorted(s.to_json() for s in stored) == sorted(
        presets.get(p).to_json() for p in ACTIVATION_PRESETS.values())


def _sweep_the_trio() -> None:
    # The same hand-over as "Sweep seeds for these runs", with the recorded sweep's seeds.
    ss["sweep_configs"] = list(chosen)
    ss["sweep_seeds"] = presets.reference_orders().seeds
    ss["compare_playing"] = False


# Under the three activations' figure: is their order the activations, or this seed's luck?
if _is_activation_trio(chosen):
    note_col, link_col = details.container(), details.container()
    note_col.caption(presets.reference_sweep_sentence())
    if link_col.button("See the seed sweep", key="compare_trio_sweep", type="tertiary",
                       icon=":material/scatter_plot:", on_click=_sweep_the_trio,
                       help=f"Train these three runs over seeds 1 to "
                            f"{presets.reference_orders().seeds} on the Seed sweep page"):
        st.switch_page("app_pages/sweep.py")


def _text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _figure_rows(views_by_run: dict) -> list[dict]:
    figures = {name: key_figures(v) for name, v in views_by_run.items()}
    rows = [
        ("epochs", lambda f: str(f["n_epochs"])),
        ("first epoch at 100% training accuracy",
         lambda f: NEVER if f["first_perfect_epoch"] is None else str(f["first_perfect_epoch"])),
        ("final loss", lambda f: f"{f['final_loss']:.4f}"),
        ("final accuracy", lambda f: f"{f['final_accuracy']:.1%}"),
    ]
    if any(f["best_val_loss"] is not None for f in figures.values()):
        rows.append(("best validation loss", lambda f: "—" if f["best_val_loss"] is None else
                     f"{f['best_val_loss']:.4f} (epoch {f['best_val_epoch']})"))
    return [{"": label, **{name: show(f) for name, f in figures.items()}}
            for label, show in rows]


differences = config_differences({name: summaries[name].spec for name in chosen})
table = [{"": row["field"], **{name: _text(row[name]) for name in chosen}}
         for row in differences]
table += _figure_rows(renderer.views)
details.subheader("What differs, and how it ended")
if not differences:
    details.caption("The recorded settings of these runs are the same (or not recorded).")
details.dataframe(table, hide_index=True, width="stretch")
