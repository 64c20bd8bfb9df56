"""Replay and Train pages with wide layers, the bottleneck and CSV uploads (AppTest)."""

from __future__ import annotations

import numpy as np
import pytest
from prebuilt_runs import new_session_id, seed_workspace, small_spec
from streamlit.testing.v1 import AppTest
from test_pages import APP, REPLAY, button, check, finish_jobs, open_app, texts, workspace_of

from replay_core.data import csv_data
from replay_core.replay.replayer import Replay

EPOCHS = 3
WIDE_RUN, BOTTLENECK_RUN = "ten units", "bottleneck"


@pytest.fixture(scope="module")
def wide_runs(tmp_path_factory):
    """A 2 -> 10 tanh -> 1 run, and a 4-feature run with the 2-unit bottleneck."""
    from replay_core.train.trainer import train

    folder = tmp_path_factory.mktemp("wide-runs")
    wide = small_spec(EPOCHS, **{"model.layers": [{"units": 10, "activation": "tanh"}]})
    train(wide, folder / "wide.h5", WIDE_RUN)
    latent = small_spec(EPOCHS, **{
        "dataset.name": "ball", "dataset.params": {"n_samples": 200, "dims": 4},
        "model.layers": [{"units": 6, "activation": "tanh"}], "model.bottleneck": True})
    train(latent, folder / "bottleneck.h5", BOTTLENECK_RUN)
    return folder / "wide.h5", folder / "bottleneck.h5"


def _views(at):
    return at.session_state["_renderer"][1].views


def test_a_ten_unit_layer_replays_with_pca_and_with_two_units(data_root, wide_runs):
    sid = seed_workspace(data_root, wide_runs[0])
    at = open_app(sid, REPLAY)
    layer = at.selectbox(key="replay_layer")
    assert layer.options == ["dense_1 (10)"] and layer.value == "dense_1"
    assert at.radio(key="replay_projection").value == "PCA"
    assert at.number_input(key="replay_fit_epoch").value == EPOCHS
    fs = _views(at).feature_space
    assert fs.projection == "pca" and fs.fit_epoch == EPOCHS
    assert fs.projection_label.startswith("PCA of 10 units (epoch 3): ")
    assert len(at.image) == 1 and not at.error, texts(at.error)

    check(at.radio(key="replay_projection").set_value("Two units").run())
    check(at.number_input(key="replay_unit_x").set_value(3).run())
    check(at.number_input(key="replay_unit_y").set_value(7).run())
    fs = _views(at).feature_space
    assert fs.projection == "units" and fs.axis_labels == ("unit 3", "unit 7")
    expected = Replay(wide_runs[0], WIDE_RUN).layer_outputs("dense_1")[..., [2, 6]]
    np.testing.assert_allclose(fs.features, expected, atol=1e-6)
    assert len(at.image) == 1 and not at.error, texts(at.error)

    check(at.number_input(key="replay_unit_y").set_value(3).run())
    assert [w.value for w in at.warning] == ["Pick two different units; showing the PCA "
                                             "meanwhile."]
    assert _views(at).feature_space.projection == "pca"


def test_the_unit_strip_follows_the_epoch(data_root, wide_runs):
    sid = seed_workspace(data_root, wide_runs[0])
    at = open_app(sid, REPLAY)
    assert at.toggle(key="show_units").label == "Units of dense_1"
    check(at.toggle(key="show_units").set_value(True).run())
    assert len(at.image) == 2 and not at.error, texts(at.error)
    strip = at.session_state["_unit_strip"][1]
    assert len(strip.images) == 10 and strip._shown == EPOCHS
    check(at.slider(key="epoch").set_value(1).run())
    assert strip._shown == 1


def test_a_bottleneck_run_on_four_features_shows_the_latent_boundary(data_root, wide_runs):
    sid = seed_workspace(data_root, wide_runs[1])
    at = open_app(sid, REPLAY)
    assert at.selectbox(key="replay_layer").value == "bottleneck"
    views = _views(at)
    assert views.decision_boundary.space == "latent" and views.decision_boundary_note == ""
    assert views.feature_space.layer_name == "bottleneck"
    axes = at.session_state["_renderer"][1].axes["decision_boundary"]
    assert axes.get_title() == "Decision boundary in latent space (bottleneck)"
    assert not at.error, texts(at.error)
    assert "show_units" not in [t.key for t in at.toggle]  # 4-D inputs: no unit maps


def _upload(at, name: str, data: bytes):
    check(at.selectbox(key="ds_name").set_value("csv").run())
    check(at.file_uploader(key="csv_file").set_value((name, data, "text/csv")).run())
    return at


GOOD = b"h,w,kind\n" + b"".join(
    f"{np.sin(i):.3f},{np.cos(3 * i):.3f},{'ab'[int(np.sin(i) > 0)]}\n".encode()
    for i in range(60))


@pytest.mark.parametrize("name, data, message", [
    ("holes.csv", GOOD.replace(b"\n0.841,", b"\n,", 1),
     "'holes.csv': missing value at line 3, column 'h'; fill it in or drop the row"),
    ("words.csv", GOOD.replace(b"\n0.841,", b"\nabc,", 1),
     "'words.csv': non-numeric value 'abc' at line 3, column 'h'; feature columns must hold "
     "numbers"),
    ("one.csv", b"x,y\n" + b"".join(f"{i},same\n".encode() for i in range(20)),
     "'one.csv': the target column 'y' holds a single class ('same'); a classifier needs at "
     "least two"),
    ("empty.csv", b"", "'empty.csv' is empty"),
])
def test_csv_upload_errors_appear_as_one_message(data_root, name, data, message):
    at = _upload(open_app(new_session_id()), name, data)
    assert texts(at.error) == [message]
    assert button(at, "Train").disabled


def test_a_good_csv_trains_through_the_page(data_root):
    sid = new_session_id()
    at = _upload(open_app(sid), "shapes.csv", GOOD)
    assert not at.error, texts(at.error)
    assert at.selectbox(key="ds_csv_target").value == "kind"
    assert any(c.value.startswith("shapes.csv: 60 rows, 2 features; target 'kind': a → 0")
               for c in at.caption)
    assert at.toggle(key="ds_standardize").value is True
    at.number_input(key="epochs").set_value(EPOCHS)
    check(at.run())
    check(finish_jobs(check(button(at, "Train").click().run())))
    assert any(f"complete, {EPOCHS} of {EPOCHS} epochs" in s for s in texts(at.success)), (
        texts(at.success), texts(at.error))
    ws = workspace_of(data_root, sid)
    run = ws.runs()[0]
    assert run.spec["dataset"]["name"] == "csv"
    replay = Replay(ws.run_path(run.name), run.name)
    assert replay.inputs.shape == (60, 2)

    # The same settings in another session: the data is not there, and the page says so.
    link = at.query_params["spec"]
    fresh = AppTest.from_file(str(APP), default_timeout=60)  # reads the link on first visit
    fresh.session_state["session_id"] = new_session_id()
    fresh.query_params["spec"] = link[0] if isinstance(link, list) else link
    check(fresh.run())
    warnings = texts(fresh.warning)
    assert len(warnings) == 1 and "that this session does not hold" in warnings[0], warnings
    assert not fresh.error, texts(fresh.error)
    check(button(fresh, "Train").click().run())
    errors = texts(fresh.error)
    assert len(errors) == 1 and errors[0].startswith("Training did not run: this run's data is "
                                                     "an uploaded CSV file"), errors
    limits = (f"Up to {csv_data.MAX_BYTES // 2**20} MB, {csv_data.MAX_ROWS:,} rows and "
              f"{csv_data.MAX_FEATURES} feature columns")
    assert any(limits in c.value for c in fresh.caption)


def test_presentation_keeps_the_chosen_projection(data_root, wide_runs):
    sid = seed_workspace(data_root, wide_runs[0])
    at = open_app(sid, REPLAY)
    check(at.radio(key="replay_projection").set_value("Two units").run())
    check(at.number_input(key="replay_unit_y").set_value(9).run())
    check(button(at, "Present").click().run())
    assert at.session_state["presenting"] and not at.radio  # no projection controls shown
    fs = _views(at).feature_space
    assert fs.projection == "units" and fs.axis_labels == ("unit 1", "unit 9")
    check(at.button(key="exit_present").click().run())
    assert at.number_input(key="replay_unit_y").value == 9
