"""The layer internals on the Replay and Compare pages (AppTest): the "Layers" switch
shows them under the frame for the epoch on the slider; Compare shows each run's
violins in a row; Export renders the layer panels."""

from __future__ import annotations

from pathlib import Path

import pytest
from prebuilt_runs import DEEPREPLAY_RUN, seed_workspace, write_deepreplay_file
from test_pages import REPLAY, check, finish_jobs, open_app, texts

from replay_core.store import runfile

COMPARE = "app_pages/compare.py"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> Path:
    """A DeepReplay file (no spec) holding two runs of 4 epochs each."""
    path = tmp_path_factory.mktemp("internals") / "runs.h5"
    write_deepreplay_file(path)
    write_deepreplay_file(path, name="second", epochs=2)
    return path


def test_the_layers_switch_follows_the_slider_and_exports(data_root, two_runs):
    sid = seed_workspace(data_root, two_runs)
    at = open_app(sid, REPLAY)
    check(at.selectbox(key="replay_run").set_value(DEEPREPLAY_RUN).run())
    assert at.toggle(key="show_layers").value is False
    check(at.toggle(key="show_layers").set_value(True).run())
    assert not at.error, texts(at.error)
    strip = at.session_state["_layers_strip"][1]
    assert strip._shown == 4 and strip.views_by_run[DEEPREPLAY_RUN].n_epochs == 4
    assert at.selectbox(key="layers_explain").value == strip.views_by_run[
        DEEPREPLAY_RUN].layer_names[0]
    check(at.slider(key="epoch").set_value(1).run())
    assert strip._shown == 1
    # Export: the layer panels as a PNG of the epoch shown
    check(at.segmented_control(key="export_what").set_value("Layers").run())
    check(at.segmented_control(key="export_format").set_value("PNG (this epoch)").run())
    check(finish_jobs(check(at.button(key="export_render").click().run())))  # a worker renders
    assert not at.error, texts(at.error)
    (out,) = (data_root / "sessions" / sid / "exports").iterdir()
    assert out.name.endswith("_layers_epoch1.png") and out.stat().st_size > 1000


def test_compare_shows_each_runs_violins(data_root, two_runs):
    sid = seed_workspace(data_root, two_runs)
    names = [r.name for r in runfile.list_runs(two_runs)]
    at = open_app(sid, COMPARE)
    check(at.multiselect(key="compare_runs").set_value(names).run())
    check(at.toggle(key="compare_layers").set_value(True).run())
    assert not at.error, texts(at.error)
    strip = at.session_state["_compare_layers"][1]
    assert list(strip.views_by_run) == names and strip.n_epochs == 4
    assert strip.run_epoch("second", 4) == 2


def test_weight_initializers_in_action_trains_the_three_and_shows_their_violins(
        data_root, monkeypatch):
    from prebuilt_runs import new_session_id
    from test_pages import button

    from replay_core.data import presets

    real = presets.get

    def short(name):  # the article's networks, 2 epochs on 100 samples: a test's budget
        return real(name).replace(**{"training.epochs": 2, "dataset.params.n_samples": 100})

    monkeypatch.setattr(presets, "get", short)
    at = open_app(new_session_id(), COMPARE)
    check(button(at, "Weight initializers in action").click().run(timeout=240))
    assert not at.error, texts(at.error)
    assert at.multiselect(key="compare_runs").value == [
        "sigmoid normal 0.01", "tanh glorot", "relu he"]
    assert at.toggle(key="compare_layers").value is True
    strip = at.session_state["_compare_layers"][1]
    assert [v.n_epochs for v in strip.views_by_run.values()] == [2, 2, 2]
    assert strip.views_by_run["relu he"].stats.activation_names[:5] == ("relu",) * 5
