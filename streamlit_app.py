"""DeepReplay Studio: train a small network, then replay every epoch of its learning."""

import streamlit as st

from studio import browser_session, job_list, page_guard

st.set_page_config(
    page_title="DeepReplay Studio",
    page_icon=":material/replay:",
    layout="wide",
    initial_sidebar_state="expanded",
)

pages = [
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:", default=True),
    st.Page("app_pages/replay.py", title="Replay", icon=":material/play_circle:", url_path="replay"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare:", url_path="compare"),
    st.Page("app_pages/sweep.py", title="Seed sweep", icon=":material/scatter_plot:",
            url_path="sweep"),
    st.Page("app_pages/runs.py", title="Runs", icon=":material/folder_open:", url_path="runs"),
]
page = st.navigation(pages)


def _run_page() -> None:
    browser_session.remember()
    if not st.session_state.get("presenting"):
        browser_session.new_session_button()
    with job_list.beside_page():
        page.run()


# Every page body is guarded here, once: an exception becomes one sentence on the page and
# a traceback in the server's log.
page_guard.run_guarded(_run_page, where=f"page {page.url_path or 'train'!r}")
