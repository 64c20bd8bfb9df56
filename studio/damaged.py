"""Damaged runs on the pages: one sentence, a Delete button, and the rest of the page goes on.

Two kinds of damage reach the pages. A run file that cannot be read at all (garbage
bytes, a broken layout) never makes it into the session's run list: the Runs page lists
it as ``damaged`` (``Workspace.damaged_files``) and removes it
(``Workspace.delete_damaged``). A run that lists but whose data cannot be read (odd
attributes, missing weights) raises ``RunFileError`` where a page reads it: the page
calls :func:`show_damaged_run`, which offers ``Workspace.delete``, and remembers the run
so the Runs page can say ``damaged`` too.
"""

from __future__ import annotations

import logging

import streamlit as st

from replay_core.errors import ReplayError
from replay_core.store.workspace import Workspace
from studio.page_guard import sentence

DAMAGED = "This run is damaged and cannot be replayed."
# Runs found damaged in this session (names), for the Runs page's status column.
KNOWN_KEY = "damaged_runs"
NOTICE_KEY = "damaged_deleted"

log = logging.getLogger("deepreplay.pages")


def remember(name: str) -> None:
    """Note that run ``name`` was found damaged in this session."""
    known = st.session_state.setdefault(KNOWN_KEY, [])
    if name not in known:
        known.append(name)


def is_known_damaged(name: str) -> bool:
    return name in st.session_state.get(KNOWN_KEY, [])


def show_damaged_run(ws: Workspace, name: str, exc: BaseException | None = None,
                     key: str = "delete_damaged", container=None) -> None:
    """Say run ``name`` is damaged, with a "Delete this run" button (``Workspace.delete``).

    The rest of the page keeps going: call it where the run would have been shown.
    """
    box = container if container is not None else st.container()
    if exc is not None:
        log.warning("run %r is damaged: %s: %s", name, type(exc).__name__, exc)
    remember(name)
    box.error(DAMAGED, icon=":material/broken_image:")
    if box.button("Delete this run", key=f"{key}_{name}", type="primary",
                  help=f"Delete {name!r} from this session for good"):
        try:
            ws.delete(name)
        except (ReplayError, OSError) as err:
            box.error(sentence(err) if isinstance(err, ReplayError)
                      else f"Run {name!r} could not be deleted.")
            return
        forget(name)
        st.session_state[NOTICE_KEY] = f"Deleted the damaged run {name!r}."
        st.rerun()


def forget(name: str) -> None:
    known = st.session_state.get(KNOWN_KEY, [])
    if name in known:
        known.remove(name)


def deleted_notice() -> None:
    """Show, once, that a damaged run was deleted (the click reran the page)."""
    text = st.session_state.pop(NOTICE_KEY, None)
    if text:
        st.success(text)
