"""Server-side playback shared by the Replay and Compare pages.

A fragment pushes frames on a steady clock until the last epoch; the epoch on screen
follows the clock, so a slow frame is skipped rather than stretched. The Play/Pause
buttons must sit outside the fragment: a click there reruns the page, which interrupts
the loop at once (a click inside a running fragment waits until it ends).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

MIN_INTERVAL_S = 1 / 15  # a frame costs 30-60 ms to draw and send
# The loss panel's epochs after the one shown: the user's words -> the renderer's
# ``future_curves`` (replay_core.render.frame.FUTURE_CURVES).
FUTURE_CURVES = {"faint": "faint", "hidden": "hidden", "shown": "full"}
CURVES_KEY = "future_curves"  # the control on Replay
COMPARE_CURVES_KEY = "compare_future_curves"  # the control on Compare
CHOICE_KEY = "_future_curves_choice"  # the choice, shared by Replay and Compare


def take_played(epoch_key: str, played_key: str, n_epochs: int) -> None:
    """Move where an interrupted or finished playback stopped into the slider's state."""
    ss = st.session_state
    if played_key in ss:
        ss[epoch_key] = min(ss.pop(played_key), n_epochs)


def track(slot, n_epochs: int, epoch: int) -> None:
    """Draw the epoch slider at ``epoch`` in ``slot`` while playing, so it moves with the
    frames (the page's own slider cannot change while its script runs). Disabled: the
    page's slider takes over when playback ends."""
    slot.slider("Epoch", 0, max(n_epochs, 1), value=epoch, disabled=True,
                label_visibility="collapsed", key=f"_played_epoch_{epoch}")


def play(show: Callable[[int], None], *, first: int, last: int, speed: float,
         played_key: str, min_interval: float = MIN_INTERVAL_S) -> None:
    """Show epochs ``first+1 .. last`` at ``speed`` epochs per second.

    Every shown epoch is written to ``st.session_state[played_key]`` so the next run can
    put the slider there (see :func:`take_played`).
    """
    interval = max(1.0 / speed, min_interval)
    stride = max(1, round(speed * interval))
    start, epoch = time.perf_counter(), first
    while epoch < last:
        frame = int((time.perf_counter() - start) / interval) + 1
        time.sleep(max(0.0, start + frame * interval - time.perf_counter()))
        epoch = min(first + frame * stride, last)
        show(epoch)
        st.session_state[played_key] = epoch


def future_curves_control(where=st, key: str = CURVES_KEY) -> str:
    """The "Curves after this epoch" choice (faint by default: the curves do not give the
    ending away, yet show where they go); returns the renderer's value.

    Replay and Compare each draw this control (under its own ``key``), and one choice
    serves both: it is kept under ``CHOICE_KEY``, outside any widget, so a visit to
    another page or a presentation keeps it. A page's control is set to it only when it
    shows another value, never on every run: a value written to a widget replaces what
    the browser shows, and would undo a click that lands while the page is running."""
    ss = st.session_state
    choice = ss.get(CHOICE_KEY, "faint")
    if ss.get(key) != choice:
        ss[key] = choice
    where.segmented_control(
        "Curves after this epoch", list(FUTURE_CURVES), key=key, required=True,
        on_change=_remember_future_curves, args=(key,),
        help="How the loss and accuracy panel draws the epochs still to come: faintly, "
        "not at all, or like the ones already shown")
    return future_curves()


def _remember_future_curves(key: str) -> None:
    ss = st.session_state
    if ss.get(key) in FUTURE_CURVES:
        ss[CHOICE_KEY] = ss[key]


def future_curves() -> str:
    """The renderer's ``future_curves`` for the session's choice (see
    :func:`future_curves_control`); "faint" before any choice."""
    return FUTURE_CURVES.get(st.session_state.get(CHOICE_KEY), "faint")


def presentation_css(player_key: str) -> str:
    """The style of presentation mode: no sidebar, header, padding or popovers, so the
    frame fills the screen. Elements left over from the page before (stale while a run
    is under way, and a playback run lasts until its last frame) are hidden at once, but
    not those of the player keyed ``player_key``."""
    own = f".st-key-{player_key}"
    return f"""<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header,
[data-testid="stToolbar"], [data-testid="stDecoration"] {{display: none !important;}}
.block-container, [data-testid="stMainBlockContainer"] {{padding: 0.6rem 1.2rem 0 1.2rem !important;
 max-width: 100% !important;}}
[data-testid="stMain"] [data-stale="true"]:not({own}):not({own} *) {{display: none !important;}}
[data-testid="stMain"] [data-testid="stPopover"], [data-testid="stMain"] [data-testid="stPopoverButton"]
 {{display: none !important;}}
</style>"""
