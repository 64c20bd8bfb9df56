"""Compare: which settings differ, key figures per run, the comparison renderer and page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from prebuilt_runs import seed_workspace
from streamlit.testing.v1 import AppTest

from replay_core.data import presets
from replay_core.render.compare import CompareRenderer
from replay_core.replay.compare import config_differences, key_figures
from replay_core.replay.replayer import Replay
from replay_core.replay.views import LossAndMetricView

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
LONG, SHORT = 8, 5


def small_spec(activation: str = "sigmoid", epochs: int = LONG):
    spec = presets.get("reference").replace(
        **{"training.epochs": epochs, "dataset.params.n_samples": 200})
    if activation != "sigmoid":
        spec = spec.replace(**{"model.layers": [
            {"units": 2, "activation": activation, "name": "hidden"}]})
    return spec


@pytest.fixture(scope="module")
def run_file(tmp_path_factory) -> Path:
    """Runs "sigmoid" (8 epochs) and "tanh" (5 epochs) of the small reference network."""
    from replay_core.train.trainer import train

    path = tmp_path_factory.mktemp("compare") / "runs.h5"
    train(small_spec(), path, "sigmoid")
    train(small_spec("tanh", SHORT), path, "tanh")
    return path


@pytest.fixture(scope="module")
def views(run_file) -> dict:
    return {name: Replay(run_file, name).views() for name in ("sigmoid", "tanh")}


# -- config_differences and key_figures ------------------------------------------------


def test_specs_differing_only_in_activation_give_exactly_that_field():
    rows = config_differences({"a": small_spec().to_dict(), "b": small_spec("tanh").to_dict()})
    assert rows == [{"field": "model.layers[0].activation", "a": "sigmoid", "b": "tanh"}]


def test_identical_specs_and_missing_specs_give_no_rows():
    spec = small_spec().to_dict()
    assert config_differences({"a": spec, "b": spec}) == []
    assert config_differences({"a": spec, "b": None}) == []


def test_a_run_without_spec_gets_none_and_extra_layers_show_up():
    two_layers = small_spec().replace(**{"model.layers": [
        {"units": 4, "activation": "relu"}, {"units": 2, "activation": "sigmoid"}]})
    rows = config_differences({"a": small_spec().to_dict(), "b": two_layers.to_dict(),
                               "c": None})
    by_field = {r["field"]: r for r in rows}
    assert by_field["model.layers[1].units"] == {
        "field": "model.layers[1].units", "a": None, "b": 2, "c": None}
    assert by_field["model.layers[0].units"]["b"] == 4
    assert "training.epochs" not in by_field


def test_first_perfect_epoch_matches_predict_proba(run_file):
    for name in ("sigmoid", "tanh"):
        replay = Replay(run_file, name)
        correct = (replay.predict_proba() >= 0.5) == (replay.targets.reshape(-1) > 0.5)
        perfect = [e for e in range(1, replay.n_epochs + 1) if correct[e].all()]
        figures = key_figures(replay)
        assert figures["first_perfect_epoch"] == (perfect[0] if perfect else None)
        assert figures["n_epochs"] == replay.n_epochs
        assert figures["final_accuracy"] == pytest.approx(correct[-1].mean())
        assert figures["final_loss"] == pytest.approx(replay.loss_and_metric().loss[-1])
        assert figures["best_val_loss"] is None


def test_key_figures_on_known_curves():
    lm = LossAndMetricView(
        epochs=np.arange(6), loss=np.array([0.7, 0.5, 0.3, 0.2, 0.1, 0.05]),
        accuracy=np.array([1.0, 0.8, 0.95, 1.0, 0.99, 1.0]),
        val_loss=np.array([0.6, 0.4, 0.3, np.nan, 0.35, 0.5]),
        val_accuracy=np.ones(6), loss_ylim=(0.0, 1.0))
    figures = key_figures(lm)
    # Epoch 0 (before training) does not count as reaching 100%.
    assert figures["first_perfect_epoch"] == 3
    assert (figures["best_val_loss"], figures["best_val_epoch"]) == (0.3, 2)
    assert figures["final_loss"] == 0.05
    never = LossAndMetricView(np.arange(3), np.ones(3), np.array([0.5, 0.9, 0.99]), None, None,
                              (0.0, 1.0))
    assert key_figures(never)["first_perfect_epoch"] is None


# -- CompareRenderer -------------------------------------------------------------------


@pytest.fixture(scope="module")
def renderer(views) -> CompareRenderer:
    return CompareRenderer(views)


def test_frame_size_and_panels(renderer):
    assert renderer.rgb(0).shape == (820, 1600, 3)
    assert renderer.n_epochs == LONG
    assert len(renderer.axes["feature_space"]) == 2
    assert len(renderer.axes["decision_boundary"]) == 2
    assert len(renderer.figure.axes) == 6  # 2 feature + 2 boundary + accuracy + loss
    assert set(renderer.artists["feature_space"]) == {"sigmoid", "tanh"}


def test_smaller_frame_with_three_runs(views):
    three = {**views, "again": views["sigmoid"]}
    r = CompareRenderer(three, size=(1000, 600))
    assert r.rgb(2).shape == (600, 1000, 3)
    assert len(r.figure.axes) == 8


def test_a_shorter_run_stays_on_its_last_epoch(views, renderer):
    renderer.update(LONG)
    short = views["tanh"]
    feature = renderer.artists["feature_space"]["tanh"]
    assert feature.epoch == SHORT
    targets = short.feature_space.targets.reshape(-1)
    shown = np.column_stack(feature.samples[0].get_data())
    assert_allclose(shown, short.feature_space.features[SHORT][targets < 0.5])
    boundary = renderer.artists["decision_boundary"]["tanh"]
    assert_array_equal(boundary.image.get_array(), boundary.rgba(SHORT))
    dot = renderer.artists["accuracy"].dots["tanh"]
    assert list(dot.get_xdata()) == [SHORT]
    assert list(dot.get_ydata()) == [short.loss_and_metric.accuracy[SHORT]]
    long_dot = renderer.artists["loss"].dots["sigmoid"]
    assert list(long_dot.get_xdata()) == [LONG]
    assert renderer.artists["feature_space"]["sigmoid"].epoch == LONG


def test_frames_differ_across_epochs_and_repeat_exactly(renderer):
    first, last = renderer.rgb(0), renderer.rgb(LONG)
    assert not np.array_equal(first, last)
    assert np.array_equal(renderer.rgb(0), first)


def test_out_of_range_epoch_and_run_count(views, renderer):
    with pytest.raises(ValueError, match="out of range"):
        renderer.rgb(LONG + 1)
    with pytest.raises(ValueError, match="compare 2 to 4 runs"):
        CompareRenderer({"sigmoid": views["sigmoid"]})


def test_run_without_feature_layer_shows_the_note(views):
    from dataclasses import replace

    bare = replace(views["tanh"], feature_space=None, feature_space_note="No 2-unit layer.")
    r = CompareRenderer({"sigmoid": views["sigmoid"], "bare": bare})
    assert "bare" not in r.artists["feature_space"]
    texts = [t.get_text() for t in r.axes["feature_space"][1].texts]
    assert texts == ["No 2-unit layer."]
    assert r.rgb(3).shape == (820, 1600, 3)


# -- the page ---------------------------------------------------------------------------


def test_compare_page_shows_the_image_and_the_table(data_root, run_file):
    sid = seed_workspace(data_root, run_file)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["session_id"] = sid
    at.run()
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert [b.label for b in at.button if b.label == "Activation functions in action"]
    at.multiselect(key="compare_runs").set_value(["sigmoid", "tanh"]).run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error
    assert len(at.image) == 1
    table = at.dataframe[0].value
    fields = list(table[""])
    assert fields[:2] == ["model.layers[0].activation", "training.epochs"]
    row = table.iloc[0]
    assert (row["sigmoid"], row["tanh"]) == ("sigmoid", "tanh")
    perfect = table[table[""] == "first epoch at 100% training accuracy"].iloc[0]
    expected = {name: key_figures(Replay(run_file, name))["first_perfect_epoch"]
                for name in ("sigmoid", "tanh")}
    for name, epoch in expected.items():
        assert perfect[name] == ("never" if epoch is None else str(epoch))
    at.slider(key="compare_epoch").set_value(3).run()
    assert not at.exception and len(at.image) == 1


def test_compare_page_with_one_run_asks_for_two(data_root, run_file, tmp_path):
    from replay_core.store import runfile

    single = tmp_path / "single.h5"
    runfile.copy_runs(run_file, single, ["sigmoid"])
    sid = seed_workspace(data_root, single)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["session_id"] = sid
    at.run()
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.image
    assert any("at least two runs" in i.value for i in at.info)
