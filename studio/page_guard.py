"""One place where an unexpected exception in a page becomes one sentence on the page.

The router runs every page body through :func:`run_guarded`; a fragment (the Replay and
Compare players, which rerun on their own without the router) wraps its body with
:func:`guarded`. The traceback goes to the server's log, never to the page. Streamlit's
own control flow (``st.rerun``, ``st.stop``, ``st.switch_page``) raises exceptions that
derive from ``BaseException``; they pass through untouched.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from typing import TypeVar

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from replay_core.errors import ReplayError

UNEXPECTED = ("Something went wrong on this page; your runs are safe. Reload the page to "
              "continue.")

log = logging.getLogger("deepreplay.pages")
if not log.handlers:  # the server's log: stderr of `streamlit run`
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
    log.propagate = False

F = TypeVar("F", bound=Callable[..., object])


def sentence(exc: ReplayError) -> str:
    """A library error as the one sentence a page shows: capitalised, with a full stop."""
    text = str(exc).strip() or "This could not be done"
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def report(exc: BaseException, where: str) -> None:
    """Show one sentence for ``exc`` on the page and log it (with its traceback when it
    was not raised on purpose)."""
    if isinstance(exc, ReplayError):
        log.warning("%s: %s: %s", where, type(exc).__name__, exc)
        st.error(sentence(exc))
    else:
        log.error("%s failed", where, exc_info=exc)
        st.error(UNEXPECTED)


def run_guarded(body: Callable[[], object], where: str = "page") -> None:
    """Run ``body``; any exception but Streamlit's control flow is shown as one sentence."""
    try:
        body()
    except ScriptControlException:
        raise
    except Exception as exc:  # the last line of defence of a page
        report(exc, where)


def guarded(fn: F) -> F:
    """``fn`` run through :func:`run_guarded` (for fragments, which rerun without the
    router)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        run_guarded(lambda: fn(*args, **kwargs), where=getattr(fn, "__qualname__", "fragment"))

    return wrapper  # type: ignore[return-value]
