"""No traceback reaches a page: hostile links, damaged runs, unexpected exceptions, and a
presentation link that trains only on a click (AppTest through the router)."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from prebuilt_runs import SMALL_RUN, seed_workspace, session_prebuilt_runs, small_spec
from streamlit.testing.v1 import AppTest
from test_pages import REPLAY, RUNS, TRAIN, button, check, workspace_of

from replay_core.data import presets
from replay_core.data.spec import MAX_SPEC_CHARS, RunSpec, json_depth
from studio import page_guard
from studio.damaged import DAMAGED
from studio.form import spec_from_query
from studio.page_guard import UNEXPECTED

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
COMPARE = "app_pages/compare.py"
ODD_RUN = "odd"


@pytest.fixture(scope="module")
def prebuilt(tmp_path_factory):
    return session_prebuilt_runs(tmp_path_factory)


def _app(session_id: str, query: dict[str, str] | None = None,
         page: str | None = None) -> AppTest:
    """The app for ``session_id`` opened on ``page`` with ``query`` in its address."""
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.session_state["session_id"] = session_id
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if page is not None:
        at.switch_page(page)
    return check(at.run())


def _query(at: AppTest, name: str) -> str:
    value = at.query_params[name]
    return value if isinstance(value, str) else value[-1]


def _texts(elements) -> list[str]:
    return [e.value for e in elements]


def _odd_run(folder: Path, source: Path) -> None:
    """A copy of the small run named ``odd`` whose inputs are text: it lists, but its data
    cannot be replayed."""
    target = folder / "run-odd.h5"
    shutil.copyfile(source, target)
    os.chmod(target, 0o644)
    with h5py.File(target, "a") as f:
        f.move(SMALL_RUN, ODD_RUN)
        g = f[ODD_RUN]
        n = g["inputs"].shape[0]
        del g["inputs"]
        g["inputs"] = np.array([b"x"] * n)


def _garbage_file(folder: Path) -> Path:
    path = folder / "run-garbage.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(4096))
    return path


# -- links ------------------------------------------------------------------------------


@pytest.mark.parametrize("value, why", [
    ("[" * 3900, "not valid"),
    ("{" * 2000 + '"a":1' + "}" * 2000, "not valid"),
    ("x" * 100_000, "too long"),
], ids=["3900 brackets", "2000 braces", "100 KB"])
def test_hostile_spec_link_gives_the_notice_and_the_defaults(data_root, value, why):
    at = _app(os.urandom(16).hex(), {"spec": value})
    notices = [w for w in _texts(at.warning) if "using the defaults" in w]
    assert len(notices) == 1 and why in notices[0], _texts(at.warning)
    assert len(notices[0]) < 300  # the link's value is not echoed back
    reference = presets.get("reference")
    assert at.number_input(key="epochs").value == reference.training.epochs
    assert at.number_input(key="batch").value == reference.training.batch_size
    assert at.number_input(key="lr").value == pytest.approx(reference.training.learning_rate)
    assert RunSpec.from_json(_query(at, "spec")) == reference


@pytest.mark.parametrize("query", [
    {"present": "1", "spec": "[" * 3900},
    {"present": "1" * 5000, "run": "r" * 5000},
    {"present": "1", "run": "../../etc/passwd", "spec": '{"dataset": 3}'},
], ids=["deep spec", "long values", "odd run and spec"])
def test_hostile_replay_link_shows_no_exception(data_root, prebuilt, query):
    sid = seed_workspace(data_root, prebuilt.small)
    at = _app(sid, query, REPLAY)
    assert not at.error, _texts(at.error)
    assert at.session_state["replay_run"] == SMALL_RUN


@settings(max_examples=150, deadline=None)
@given(hs.one_of(
    hs.text(max_size=300),
    hs.text(alphabet="[]{}\",:0123456789aenrtu\\ ", max_size=400),
    hs.recursive(hs.none() | hs.booleans() | hs.floats() | hs.integers() | hs.text(max_size=8),
                 lambda inner: hs.lists(inner, max_size=4)
                 | hs.dictionaries(hs.sampled_from(["dataset", "model", "training", "params",
                                                   "layers", "epochs", "name", "units"]),
                                   inner, max_size=4),
                 max_leaves=20).map(json.dumps),
))
def test_spec_from_query_never_raises(value):
    spec, problem = spec_from_query(value)
    assert (spec is None) == bool(problem) or not value
    if spec is not None:
        assert RunSpec.from_json(spec.to_json()) == spec


def test_json_depth_counts_only_brackets_outside_strings():
    assert json_depth('{"a": [1, {"b": "[[[{"}]}') == 3
    assert json_depth('"\\"[[["') == 0
    assert json_depth("[" * 100_000) == 100_000
    with pytest.raises(ValueError, match="longer than"):
        RunSpec.from_json(" " * (MAX_SPEC_CHARS + 1))
    with pytest.raises(ValueError, match="deeper than"):
        RunSpec.from_json("[" * 20 + "]" * 20)


# -- the page guard -------------------------------------------------------------------


def _guarded_script() -> None:
    import streamlit as st

    from studio.page_guard import run_guarded

    def body() -> None:
        st.write("before")
        what = st.session_state.get("raise")
        if what == "bug":
            raise RuntimeError("/srv/secret/path.py line 3")
        if what == "library":
            from replay_core.errors import TrainingLimitError

            raise TrainingLimitError("this run costs too much")
        if what == "stop":
            st.stop()
        if what == "rerun" and not st.session_state.get("rerun_done"):
            st.session_state["rerun_done"] = True
            st.rerun()
        st.write("after")

    run_guarded(body)


@pytest.mark.parametrize("what, errors, after", [
    ("bug", [UNEXPECTED], False),
    ("library", ["This run costs too much."], False),
    ("stop", [], False),
    ("rerun", [], True),
])
def test_page_guard_shows_one_sentence_and_lets_control_flow_pass(what, errors, after):
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    page_guard.log.addHandler(handler)
    try:
        at = AppTest.from_function(_guarded_script, default_timeout=30)
        at.session_state["raise"] = what
        at.run()
    finally:
        page_guard.log.removeHandler(handler)
    # The server's log has what the page does not: the traceback of an unexpected error.
    assert [r.exc_info is not None for r in records] == (
        [True] if what == "bug" else [False] if what == "library" else [])
    assert not at.exception
    assert _texts(at.error) == errors
    assert ("after" in _texts(at.markdown)) == after
    assert "secret" not in " ".join(_texts(at.markdown) + _texts(at.error))
    if what == "rerun":
        assert at.session_state["rerun_done"]


# -- damaged runs -----------------------------------------------------------------------


def test_damaged_run_on_replay_says_so_and_delete_works(data_root, prebuilt):
    sid = seed_workspace(data_root, prebuilt.small)
    ws = workspace_of(data_root, sid)
    _odd_run(ws.folder, prebuilt.small)
    assert sorted(ws.run_names()) == [ODD_RUN, SMALL_RUN]
    at = _app(sid, page=REPLAY)
    check(at.selectbox(key="replay_run").set_value(ODD_RUN).run())
    assert _texts(at.error) == [DAMAGED]
    # The picker still works: the good run replays.
    check(at.selectbox(key="replay_run").set_value(SMALL_RUN).run())
    assert not at.error and at.slider(key="epoch")
    check(at.selectbox(key="replay_run").set_value(ODD_RUN).run())
    check(button(at, "Delete this run").click().run())
    assert ws.run_names() == [SMALL_RUN]
    assert f"Deleted the damaged run {ODD_RUN!r}." in _texts(at.success)
    assert at.selectbox(key="replay_run").value == SMALL_RUN and not at.error


def test_damaged_run_on_compare_and_runs_pages(data_root, prebuilt):
    sid = seed_workspace(data_root, prebuilt.small, prebuilt.no_feature)
    ws = workspace_of(data_root, sid)
    _odd_run(ws.folder, prebuilt.small)
    at = _app(sid, page=COMPARE)
    check(at.multiselect(key="compare_runs").set_value(
        [SMALL_RUN, "wide relu", ODD_RUN]).run())
    assert _texts(at.error) == [DAMAGED]
    assert at.slider(key="compare_epoch")  # the two good runs are compared
    check(at.switch_page(RUNS).run())
    table = at.dataframe[0].value
    assert dict(zip(table["name"], table["status"]))[ODD_RUN] == "damaged"
    check(at.selectbox(key="runs_selected").set_value(ODD_RUN).run())
    check(button(at, "Delete this run").click().run())
    assert sorted(ws.run_names()) == [SMALL_RUN, "wide relu"]


def test_garbage_run_file_is_listed_damaged_and_breaks_no_picker(data_root, prebuilt):
    sid = seed_workspace(data_root, prebuilt.small)
    ws = workspace_of(data_root, sid)
    garbage = _garbage_file(ws.folder)
    at = _app(sid)
    for page in (REPLAY, COMPARE, RUNS, TRAIN):
        check(at.switch_page(page).run())
        assert UNEXPECTED not in _texts(at.error), page
    check(at.switch_page(REPLAY).run())
    assert at.selectbox(key="replay_run").options == [SMALL_RUN]
    check(at.switch_page(RUNS).run())
    statuses = list(at.dataframe[0].value["status"])
    assert statuses.count("damaged") == 1
    deletes = [b for b in at.button if b.label in ("Delete this run", "Remove unreadable files")]
    check(deletes[0].click().run())
    assert not garbage.exists()
    assert ws.run_names() == [SMALL_RUN]
    assert "damaged" not in list(at.dataframe[0].value["status"])


# -- presentation links -----------------------------------------------------------------


def test_presentation_link_trains_only_after_the_click(data_root):
    sid = os.urandom(16).hex()
    spec = small_spec(epochs=3)
    at = _app(sid, {"present": "1", "spec": spec.to_json(), "run": "Shown"}, REPLAY)
    ws = workspace_of(data_root, sid)
    assert ws.runs() == []
    assert not at.session_state["presenting"] if "presenting" in at.session_state else True
    table = at.table[0].value
    shown = dict(zip(table.iloc[:, 0], table.iloc[:, 1]))
    assert shown["dataset"] == "parabola" and shown["epochs"] == "3"
    assert shown["estimated time"].startswith("about ")
    # Another run of the page (any widget, a reload of the tab) still trains nothing.
    check(at.run())
    assert ws.runs() == []
    check(button(at, "Train and present").click().run())
    runs = ws.runs()
    assert [(r.name, r.status, r.epochs_done) for r in runs] == [("Shown", "complete", 3)]
    assert RunSpec.from_stored(runs[0].spec) == spec
    assert at.session_state["presenting"] and at.session_state["replay_run"] == "Shown"
    assert not at.error


def test_presentation_link_to_a_run_the_session_holds_opens_directly(data_root, prebuilt):
    sid = seed_workspace(data_root, prebuilt.small)
    at = _app(sid, {"present": "1", "run": SMALL_RUN}, REPLAY)
    assert at.session_state["presenting"] and at.session_state["replay_run"] == SMALL_RUN
    assert not [b for b in at.button if b.label == "Train and present"]


def test_damaged_run_in_presentation_mode_can_be_left_or_deleted(data_root, prebuilt):
    sid = seed_workspace(data_root, prebuilt.small)
    ws = workspace_of(data_root, sid)
    _odd_run(ws.folder, prebuilt.small)
    at = _app(sid, {"present": "1", "run": ODD_RUN}, REPLAY)
    assert at.session_state["presenting"] and _texts(at.error) == [DAMAGED]
    check(button(at, "Leave presentation mode").click().run())
    assert not at.session_state["presenting"]
    assert at.selectbox(key="replay_run").value == ODD_RUN and _texts(at.error) == [DAMAGED]
    check(button(at, "Delete this run").click().run())
    assert ws.run_names() == [SMALL_RUN] and not at.error
