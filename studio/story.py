"""The Replay page's story of a run: the events list, the narration line, the reading guide.

The events and sentences come from ``replay_core`` (``ReplayViews.events``,
``replay.narration``); this module only lays them out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from replay_core.render.guide import guide_markdown
from replay_core.replay.events import RunEvents
from replay_core.replay.narration import narrate
from replay_core.replay.views import ReplayViews

__all__ = ["events_list", "narration_line", "reading_guide"]

MAX_LISTED = 200
"""Buttons a list shows at most (a long run can have hundreds of new lows)."""


def narration_line(views: ReplayViews, epoch: int) -> str:
    """The epoch's sentence, or "" for views without events."""
    if views.events is None:
        return ""
    return narrate(views.events, min(max(int(epoch), 0), views.events.n_epochs))


def events_list(story: RunEvents | None, current: int, on_jump: Callable[[int], None], *,
                key: str = "event") -> None:
    """The run's events as buttons, one a line; a click calls ``on_jump(epoch)``.

    Major events are listed; a toggle adds every new low of misclassified samples. The
    button of the shown epoch's events is highlighted.
    """
    if story is None:
        st.caption("No events for this run.")
        return
    lows = len(story.of_kind("fewer_wrong"))
    minor = lows > 0 and st.toggle(f"Also the {lows} new lows of misclassified samples",
                                   key=f"{key}_minor")
    shown = [e for e in story.events if minor or e.major][:MAX_LISTED]
    if not shown:
        st.caption("Nothing stands out in this run: no 100 % accuracy, no learning-rate "
                   "change, plateau, overfitting, early stop or divergence.")
        return
    for i, event in enumerate(shown):
        st.button(f"**{event.epoch}** · {event.label}", key=f"{key}_{i}", help=event.text,
                  on_click=on_jump, args=(event.epoch,), width="stretch",
                  type="primary" if event.epoch == current else "secondary")
        if event.major:
            st.caption(event.text)


def reading_guide(panels: Sequence[str]) -> None:
    """What each shown panel's axes are and what a good and a bad picture look like."""
    st.markdown(guide_markdown(panels))
