"""Replay's "Fitted at epoch" for a run that blew up: the projection's own fit epoch (the
last finite one), said by the feature-space panel's title (AppTest, real training)."""

from __future__ import annotations

import pytest
from prebuilt_runs import seed_workspace
from test_pages import REPLAY, check, open_app, texts

from replay_core.data import presets
from replay_core.replay.replayer import Replay
from studio.layer_controls import layer_options

RUN = "exploding"


@pytest.fixture(scope="module")
def exploding_run(tmp_path_factory):
    """The "Exploding gradient" preset, recorded by the app's trainer (it stops when the
    loss blows up, after about 20 epochs)."""
    from replay_core.train.trainer import train

    path = tmp_path_factory.mktemp("exploding") / "exploding.h5"
    train(presets.get("exploding_gradient"), path, RUN)
    return path


def test_fitted_at_epoch_defaults_to_the_projections_fit_epoch(data_root, exploding_run):
    replay = Replay(exploding_run, RUN)
    layer = replay.default_feature_layer()
    fitted = replay.fit_projection(layer).fit_epoch
    # The premise: the run blew up, so its last epoch cannot fit a projection.
    assert replay.status == "diverged" and fitted < replay.n_epochs
    sid = seed_workspace(data_root, exploding_run)
    at = open_app(sid, REPLAY)
    assert at.selectbox(key="replay_layer").value == layer
    assert at.number_input(key="replay_fit_epoch").value == fitted
    fs = at.session_state["_renderer"][1].views.feature_space
    assert fs.fit_epoch == fitted
    assert f"(epoch {fitted})" in fs.projection_label
    title = at.session_state["_renderer"][1].axes["feature_space"].get_title()
    assert f"(epoch {fitted})" in title
    assert not at.error, texts(at.error)

    # Another layer: fitted at its own default, whatever was chosen for the first one.
    other = next(n for n in replay.feature_layers() if n != layer)
    check(at.number_input(key="replay_fit_epoch").set_value(3).run())
    assert at.session_state["_renderer"][1].views.feature_space.fit_epoch == 3
    check(at.selectbox(key="replay_layer").set_value(other).run())
    assert (at.number_input(key="replay_fit_epoch").value
            == replay.fit_projection(other).fit_epoch)


def test_layer_options_read_whole_and_stay_distinct():
    assert layer_options([("bottleneck", 2), ("dense_1", 10)]) == {
        "bottleneck": "bottleneck (2)", "dense_1": "dense_1 (10)"}
    long = layer_options([("a_very_long_layer_name", 8)])
    assert long == {"a_very_long_layer_name": "a_very_long… (8)"}
    # Cut, two names would read the same: both stay whole.
    twins = layer_options([("hidden_layer_one", 8), ("hidden_layer_two", 8)])
    assert twins == {"hidden_layer_one": "hidden_layer_one (8)",
                     "hidden_layer_two": "hidden_layer_two (8)"}
