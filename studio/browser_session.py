"""Which workspace a browser has: a random token the browser keeps in a cookie.

A reload or a new tab of the same browser sends the cookie back, so it finds the same
runs; another browser has no cookie, or another one, and sees none of them. The token is
never in the URL, so a copied link does not carry it. On disk the session folder is named
by a hash of the token, so the names of the folders do not give the tokens away. A cookie
that is not a token we could have made (tampered, too long, from another app) is ignored:
the browser gets a new session, never an error page.
"""

from __future__ import annotations

import hashlib
import re
import secrets

import streamlit as st

from replay_core.store.workspace import session_max_age_s

COOKIE = "deepreplay_session"
_TOKEN = re.compile(r"^[0-9a-f]{64}$")


def _folder_id(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()[:32]


def _cookie_token() -> str | None:
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # no browser behind this run (a script run by hand)
        return None
    return value if isinstance(value, str) and _TOKEN.fullmatch(value) else None


def session_id() -> str:
    """This browser's session id (the name of its folder), fixed for the script session.

    The browser's cookie decides it on the first run of a session; a browser without a
    valid cookie gets a new token, which ``remember`` hands to it.
    """
    ss = st.session_state
    if "session_id" not in ss:
        token = _cookie_token()
        if token is None:
            token = secrets.token_hex(32)
            ss["_session_token_unsaved"] = True
        ss["_session_token"] = token
        ss["session_id"] = _folder_id(token)
    return ss["session_id"]


def remember() -> None:
    """Have the browser keep this session's token, when it does not hold it yet.

    Called by the router on every run; it writes the cookie once per script session (the
    page's script sets it; Streamlit gives no other way to set a cookie).
    """
    session_id()
    ss = st.session_state
    token = ss.get("_session_token")
    if not token or not ss.pop("_session_token_unsaved", False):
        return
    max_age = int(session_max_age_s())
    with st.sidebar:
        st.html(
            "<script>document.cookie = "
            f"'{COOKIE}={token}; path=/; max-age={max_age}; SameSite=Strict' + "
            "(location.protocol === 'https:' ? '; Secure' : '');</script>",
            unsafe_allow_javascript=True, width="content")


def start_new() -> None:
    """Leave this session's runs (they stay on disk until they expire) and start afresh."""
    ss = st.session_state
    for key in list(ss):
        del ss[key]
    token = secrets.token_hex(32)
    ss["_session_token"] = token
    ss["_session_token_unsaved"] = True
    ss["session_id"] = _folder_id(token)


def new_session_button() -> None:
    """A sidebar control that starts a new, empty session in this browser, after a
    confirmation (the current runs are no longer seen from this browser)."""
    with st.sidebar, st.popover("New session", icon=":material/restart_alt:"):
        st.caption("Start afresh with no runs. This browser will no longer see its current "
                   "runs (they stay on the server until they expire): download the ones "
                   "to keep from the Runs page first.")
        st.button("Start a new session", on_click=start_new, key="new_session",
                  type="primary")
