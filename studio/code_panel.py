"""'Copy as code': a run as a standalone Keras script, shown with a copy button and offered
as a download (Replay and Runs pages)."""

from __future__ import annotations

import streamlit as st

from replay_core.data.as_code import CodeUnavailableError, script_name, stored_run_script
from replay_core.store.runfile import RunSummary


def code_panel(summary: RunSummary, key: str) -> None:
    """An expander holding the script of ``summary``'s run (or why it has none).

    ``key`` keeps the download button's widget id apart on each page.
    """
    with st.expander("Copy as code", icon=":material/code:"):
        try:
            script = stored_run_script(summary.spec, summary.name, "run.h5")
        except CodeUnavailableError as exc:
            st.caption(f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
            return
        st.caption("A standalone script that trains this run again with plain Keras "
                   "(`model.fit` and the `ReplayData` callback) and records it to `run.h5`: "
                   "the same data, initial weights, batches and optimizer, so the same "
                   "weights. Copy it with the button at the code's top right.")
        st.download_button("Download the script", script, file_name=script_name(summary.name),
                           mime="text/x-python", icon=":material/download:", key=key,
                           on_click="ignore")
        st.code(script, language="python", line_numbers=False)
