"""The Train page's "Upload CSV…" dataset: a file, its target column, one message per problem.

A good file is stored in the session's folder and its id and shape go to the form's
``ds_csv_*`` state, so ``state_to_spec`` builds a ``csv`` dataset spec from them.
"""

from __future__ import annotations

import streamlit as st

from replay_core.data import csv_data
from replay_core.data.csv_data import CsvDataError
from replay_core.store.workspace import Workspace
from studio.form import dataset_param_key

TITLE = "Upload CSV…"
_PARSED = "_csv_parsed"  # (file id, target) -> CsvDataset or the message, for this session


def _set_params(params: dict | None) -> None:
    for key in csv_data.PARAM_NAMES:
        st.session_state[dataset_param_key("csv", key)] = None if params is None else params[key]


def csv_panel(ws: Workspace) -> None:
    """Draw the upload controls; on success the form state names the stored data."""
    ss = st.session_state
    st.caption(f"Numeric feature columns and one class column (any values, mapped to 0, 1, "
               f"… in sorted order). Up to {csv_data.MAX_BYTES // 2**20} MB, "
               f"{csv_data.MAX_ROWS:,} rows and {csv_data.MAX_FEATURES} feature columns.")
    # Not a "ds_" key: the form keeps those by writing them back, which an uploader refuses.
    upload = st.file_uploader("CSV file", type=["csv"], key="csv_file")
    if upload is None:
        params = {k: ss.get(dataset_param_key("csv", k)) for k in csv_data.PARAM_NAMES}
        if params["id"] is None:
            st.info("Upload a CSV file to train on it.", icon=":material/upload_file:")
            return
        try:  # settings from a link or an earlier upload: is the data in this session?
            st.caption(csv_data.stored(params, ws.folder).describe())
        except (CsvDataError, ValueError) as exc:
            st.warning(str(exc).capitalize() + ".")
        return
    data = upload.getvalue()
    try:
        names = csv_data.columns(data, upload.name)
    except CsvDataError as exc:
        _set_params(None)
        st.error(str(exc))
        return
    if ss.get("_csv_target_file") != upload.file_id or ss.get("ds_csv_target") not in names:
        # A new file: its last column is the class, until the user picks another one.
        ss["_csv_target_file"] = upload.file_id
        ss["ds_csv_target"] = names[-1]
    # Not kept across pages: it means something only beside the uploaded file, which the
    # uploader does not keep either.
    target = st.selectbox("Target column", names, key="ds_csv_target",
                          help="The column holding each row's class; the others are the "
                          "features.")
    key = (upload.file_id, target)
    memo = ss.get(_PARSED)
    if memo is None or memo[0] != key:
        try:
            parsed = csv_data.parse(data, upload.name, target)
        except CsvDataError as exc:
            parsed = str(exc)
        else:
            csv_data.store(parsed, ws.folder)
            if memo is None or memo[0][0] != upload.file_id:
                ss["ds_standardize"] = True  # measured features rarely share one scale
                ss["preset_title"] = parsed.filename  # the default run name
        ss[_PARSED] = memo = (key, parsed)
    parsed = memo[1]
    if isinstance(parsed, str):
        _set_params(None)
        st.error(parsed)
        return
    _set_params(parsed.params())
    st.caption(parsed.describe())
