"""Runs page: the session's runs; download, upload, rename, delete."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from replay_core.errors import ReplayError, RunFileError
from studio import session
from studio.code_panel import code_panel
from studio.damaged import deleted_notice, is_known_damaged, show_damaged_run
from studio.describe import describe_run

ss = st.session_state
ss.setdefault("upload_counter", 0)

ws = session.workspace()
st.title("Runs")
st.caption("The runs of this browser session. Nobody else can see them; download a run to "
           "keep it.")

notice = ss.pop("runs_notice", None)
if notice:
    getattr(st, notice[0])(notice[1])
deleted_notice()


def _row(summary) -> dict:
    """The table row of a run; a run another page could not read says ``damaged``."""
    try:
        row = describe_run(summary)
    except Exception:  # odd stored values: the row still names the run
        row = {"name": summary.name, "status": "damaged"}
    if is_known_damaged(summary.name):
        row["status"] = "damaged"
    return row


def _sweep_id(summary) -> str | None:
    sweep = summary.sweep if isinstance(summary.sweep, dict) else {}
    return sweep.get("id") if isinstance(sweep.get("id"), str) else None


runs = ws.runs()
damaged = ws.damaged_files()
if damaged:
    c1, c2 = st.columns([3, 1], vertical_alignment="center")
    c1.warning(f"{len(damaged)} run file(s) of this session cannot be read (a write failed, "
               f"for instance on a full disk): {damaged[0]}")
    if c2.button("Remove unreadable files", width="stretch"):
        removed = ws.delete_damaged()
        ss["runs_notice"] = ("success", f"Removed {removed} unreadable run file(s).")
        st.rerun()
if runs or damaged:
    # A file that cannot be read lists none of its runs: it is one "damaged" row.
    rows = [_row(r) for r in runs] + [
        {"name": f"unreadable run file {i}", "status": "damaged"}
        for i, _ in enumerate(damaged, start=1)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", column_config={
        "final accuracy": st.column_config.NumberColumn(format="percent"),
    })
if runs:
    names = [r.name for r in runs]
    # A rename or an upload picks its run for the next run of the page: the selectbox's
    # state cannot change once the selectbox exists.
    if ss.get("runs_select_next") in names:
        ss["runs_selected"] = ss.pop("runs_select_next")
    if ss.get("runs_selected") not in names:
        ss["runs_selected"] = names[-1]
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    selected = c1.selectbox("Run", names, key="runs_selected")
    if c2.button("Open in Replay ▶", width="stretch"):
        ss["replay_run"] = selected
        ss["epoch"] = next(r.epochs_done for r in runs if r.name == selected)
        st.switch_page("app_pages/replay.py")
    try:
        data = ws.export_run(selected)
    except RunFileError as exc:
        show_damaged_run(ws, selected, exc, key="runs_delete_damaged", container=c3)
    except (ReplayError, OSError) as exc:
        c3.error(f"Cannot export {selected!r}: {exc}")
    else:
        c3.download_button("Download .h5", data, file_name=re.sub(r'[\\/:*?"<>|]+', "-", selected) + ".h5",
                           mime="application/x-hdf5", width="stretch", on_click="ignore")
    code_panel(next(r for r in runs if r.name == selected), key="runs_code_download")
    with st.expander("Rename or delete"):
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        new_name = c1.text_input("New name", value=selected, key=f"rename_{selected}")
        if c2.button("Rename", width="stretch"):
            try:
                renamed = ws.rename(selected, new_name)
            except (ReplayError, ValueError) as exc:
                st.error(str(exc))
            else:
                ss["runs_select_next"] = renamed
                if ss.get("replay_run") == selected:
                    ss["replay_run"] = renamed
                ss["runs_notice"] = ("success", f"Renamed {selected!r} to {renamed!r}.")
                st.rerun()
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        sure = c1.checkbox(f"Yes, delete {selected!r} for good", key=f"confirm_{selected}")
        if c2.button("Delete", width="stretch", disabled=not sure, type="primary"):
            try:
                ws.delete(selected)
            except (ReplayError, OSError) as exc:
                ss["runs_notice"] = ("error", f"Not deleted: {exc}")
            else:
                ss["runs_notice"] = ("success", f"Deleted {selected!r}.")
            st.rerun()
        sweep_id = _sweep_id(next(r for r in runs if r.name == selected))
        siblings = [r.name for r in runs if _sweep_id(r) == sweep_id] if sweep_id else []
        if len(siblings) > 1:
            c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
            sure = c1.checkbox(f"Yes, delete all {len(siblings)} runs of the seed sweep "
                               f"{selected!r} belongs to", key=f"confirm_sweep_{sweep_id}")
            if c2.button("Delete sweep", width="stretch", disabled=not sure, type="primary"):
                try:
                    ws.delete_many(siblings)
                except (ReplayError, OSError) as exc:
                    ss["runs_notice"] = ("error", f"Not deleted: {exc}")
                else:
                    ss["runs_notice"] = ("success",
                                         f"Deleted the {len(siblings)} runs of the sweep.")
                st.rerun()
elif not damaged:
    st.info("No runs yet: train one on the Train page or upload a run file below.")
    st.page_link("app_pages/train.py", label="Train a network", icon=":material/model_training:")

st.subheader("Upload a run file")
st.caption("An `.h5` file written by DeepReplay Studio or by the original DeepReplay package "
           "(up to 50 MB).")
upload = st.file_uploader("Run file", type=["h5", "hdf5"],
                          key=f"upload_{ss['upload_counter']}", label_visibility="collapsed")
if upload is not None:
    try:
        added = ws.import_upload(upload.getvalue(), upload.name)
    except (ReplayError, ValueError, OSError) as exc:
        ss["runs_notice"] = ("error", f"Upload refused: {exc}")
    else:
        ss["runs_notice"] = ("success",
                             f"Imported {len(added)} run(s) from {upload.name!r}: "
                             + ", ".join(repr(n) for n in added))
        ss["runs_select_next"] = added[-1]
    ss["upload_counter"] += 1
    st.rerun()
