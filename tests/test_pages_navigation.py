"""Settings survive a visit to another page and back (AppTest through the router)."""

from __future__ import annotations

import pytest
from prebuilt_runs import seed_workspace, session_prebuilt_runs
from test_pages import REPLAY, RUNS, TRAIN, check, open_app

COMPARE, SWEEP = "app_pages/compare.py", "app_pages/sweep.py"


@pytest.fixture(scope="module")
def prebuilt(tmp_path_factory):
    return session_prebuilt_runs(tmp_path_factory)


@pytest.mark.parametrize("other", [REPLAY, COMPARE, SWEEP, RUNS])
def test_train_settings_survive_another_page(data_root, prebuilt, other):
    sid = seed_workspace(data_root, prebuilt.small)
    at = open_app(sid)
    check(at.selectbox(key="ds_name").set_value("moons").run())
    check(at.number_input(key="epochs").set_value(77).run())
    check(at.selectbox(key="opt").set_value("adam").run())
    check(at.switch_page(other).run())
    check(at.switch_page(TRAIN).run())
    assert at.selectbox(key="ds_name").value == "moons"
    assert at.number_input(key="epochs").value == 77
    assert at.selectbox(key="opt").value == "adam"
    # ... and a second round trip.
    check(at.switch_page(other).run())
    check(at.switch_page(TRAIN).run())
    assert at.selectbox(key="ds_name").value == "moons"
    assert at.number_input(key="epochs").value == 77


def test_replay_choices_survive_another_page(data_root, prebuilt):
    sid = seed_workspace(data_root, prebuilt.small, prebuilt.no_feature)
    at = open_app(sid, REPLAY)
    names = at.selectbox(key="replay_run").options
    first = names[0]
    check(at.selectbox(key="replay_run").set_value(first).run())
    check(at.slider(key="epoch").set_value(2).run())
    check(at.switch_page(TRAIN).run())
    check(at.switch_page(REPLAY).run())
    assert at.selectbox(key="replay_run").value == first
    assert at.slider(key="epoch").value == 2


def _forced(at) -> list[str]:
    """Keys of the widgets this run sends with a value that replaces the browser's (a
    disabled widget's value is always sent: the user cannot be typing into it)."""
    from test_pages import keyed_widgets

    return sorted(k for k, w in keyed_widgets(at).items()
                  if getattr(w.proto, "set_value", False) and not w.proto.disabled)


@pytest.mark.parametrize("page", [TRAIN, REPLAY, COMPARE, SWEEP])
def test_a_rerun_leaves_every_widget_value_to_the_browser(data_root, prebuilt, page):
    """A run the user did not cause (the window-size report, a job list tick) must not
    send a widget's value: it would replace what the user is typing at that moment."""
    sid = seed_workspace(data_root, prebuilt.small, prebuilt.no_feature)
    at = open_app(sid, page)
    check(at.run())
    check(at.run())
    assert _forced(at) == []
    # Also after a visit to another page, once the page has been drawn again.
    check(at.switch_page(RUNS).run())
    check(at.switch_page(page).run())
    check(at.run())
    assert _forced(at) == []


def test_a_link_to_a_run_opens_it_in_replay(data_root, prebuilt):
    """A finished job's toast links to ``replay?run=NAME``: a fresh load of that address
    (same browser session) opens that run, at its last epoch."""
    from streamlit.testing.v1 import AppTest
    from test_pages import APP, workspace_of

    from studio.job_list import result_link
    from studio.jobs import JobView

    sid = seed_workspace(data_root, prebuilt.small, prebuilt.no_feature)
    runs = workspace_of(data_root, sid).runs()
    first = runs[0]
    assert first.name != runs[-1].name  # not the run Replay opens without a link
    view = JobView(id="j", kind="training", title=first.name, state="done",
                   queue_position=None, epochs_done=first.epochs_done,
                   epochs_total=first.epochs_done, seconds_left=None, message="Finished.",
                   run_names=(first.name,), result_page="replay", sweep_id=None)
    link = result_link(view)
    query = link.split("(replay?", 1)[1].rstrip(")")
    from urllib.parse import parse_qs

    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["session_id"] = sid
    at.query_params["run"] = parse_qs(query)["run"][0]
    check(at.switch_page(REPLAY).run())
    assert at.selectbox(key="replay_run").value == first.name
    assert at.slider(key="epoch").value == first.epochs_done
