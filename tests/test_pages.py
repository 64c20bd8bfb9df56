"""The app's pages driven by Streamlit's AppTest, from the entrypoint.

Every test gets its own data root (``DEEPREPLAY_DATA``) and a session whose workspace
already holds prebuilt runs (``prebuilt``), so only the one test that trains through
the Train page trains at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from prebuilt_runs import (
    DEEPREPLAY_EPOCHS,
    DEEPREPLAY_RUN,
    NO_FEATURE_RUN,
    SMALL_EPOCHS,
    SMALL_RUN,
    SMALL_SAMPLES,
    PrebuiltRuns,
    new_session_id,
    seed_workspace,
    session_prebuilt_runs,
)
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from replay_core.data import presets
from replay_core.replay.replayer import Replay
from replay_core.store import runfile
from replay_core.store.workspace import Workspace
from studio import session
from studio.form import dataset_param_key, spec_to_state

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
TRAIN, REPLAY, RUNS = "app_pages/train.py", "app_pages/replay.py", "app_pages/runs.py"
WIDGET_LISTS = ("number_input", "selectbox", "slider", "toggle", "checkbox", "text_input",
                "select_slider")


# -- fixtures and helpers --------------------------------------------------------------


@pytest.fixture(scope="session")
def prebuilt(tmp_path_factory) -> PrebuiltRuns:
    return session_prebuilt_runs(tmp_path_factory)


@pytest.fixture
def media(monkeypatch):
    """Bytes the app hands to the media file manager (images, downloads), by URL.

    AppTest builds a fresh in-memory media store for every run and drops it afterwards;
    this records what is stored so a test can read a download button's data.
    """
    stored: dict[str, bytes] = {}

    class RecordingStorage(MemoryMediaFileStorage):
        def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):
            file_id = super().load_and_get_id(path_or_data, mimetype, kind, filename)
            stored[file_id] = self._files_by_id[file_id].content
            return file_id

    import streamlit.testing.v1.app_test as app_test_module

    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", RecordingStorage)

    def read(url: str) -> bytes:
        return stored[Path(url).stem]

    return read


def check(at: AppTest) -> AppTest:
    """Fail with the app's own traceback when a run raised."""
    assert not at.exception, "\n\n".join(
        f"{e.message}\n{''.join(e.stack_trace)}" for e in at.exception)
    return at


def open_app(session_id: str, page: str | None = None) -> AppTest:
    """The app for browser session ``session_id``, on ``page`` (the Train page when None)."""
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["session_id"] = session_id
    check(at.run())
    if page is not None and page != TRAIN:
        check(at.switch_page(page).run())
    return at


def workspace_of(data_root: Path, session_id: str) -> Workspace:
    return Workspace(data_root / "sessions" / session_id)


def finish_jobs(at: AppTest, timeout: float = 240) -> AppTest:
    """Wait for the session's jobs (trainings run in worker processes, not in the page's
    script) to end, then rerun the page, as its fragment would once they ended."""
    import time

    from studio import jobs

    ws = Workspace.create(session.data_root() / "sessions", at.session_state["session_id"])
    deadline = time.monotonic() + timeout
    while any(v.state in ("queued", "running") for v in jobs.jobs_of(ws)):
        assert time.monotonic() < deadline, jobs.jobs_of(ws)
        time.sleep(0.2)
    return at.run()


def button(at: AppTest, label: str):
    found = [b for b in at.button if b.label == label]
    assert len(found) == 1, f"{len(found)} buttons labelled {label!r}: {[b.label for b in at.button]}"
    return found[0]


def epoch_caption(at: AppTest) -> str:
    found = [c.value for c in at.caption if c.value.startswith("Epoch ")]
    assert len(found) == 1, [c.value for c in at.caption]
    return found[0]


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def keyed_widgets(at: AppTest) -> dict:
    out = {}
    for kind in WIDGET_LISTS:
        for widget in getattr(at, kind):
            if widget.key:
                out[widget.key] = widget
    return out


def same(a, b) -> bool:
    if isinstance(b, float) and not isinstance(b, bool):
        return a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return a == b


# -- Train page ------------------------------------------------------------------------


def test_train_page_shows_the_reference_defaults(data_root):
    at = open_app(new_session_id())
    assert texts(at.title) == ["Train"]
    assert at.selectbox(key="ds_name").value == "parabola"
    assert at.number_input(key="epochs").value == 150
    assert at.number_input(key="lr").value == pytest.approx(0.05)
    assert at.number_input(key="n_layers").value == 1
    assert at.number_input(key="layer0_units").value == 2
    assert at.selectbox(key="layer0_act").value == "sigmoid"
    assert not at.error
    assert not button(at, "Train").disabled
    assert any("2 → 2 sigmoid → 1 sigmoid" in m.value for m in at.markdown)


def test_each_preset_fills_every_control(data_root):
    at = open_app(new_session_id())
    # Through every preset and back, so each one overwrites what the previous one set.
    for name in [*presets.names()[1:], presets.names()[0]]:
        check(at.button(key=f"preset_{name}").click().run())
        expected = spec_to_state(presets.get(name))
        wrong = {key: (at.session_state[key], value) for key, value in expected.items()
                 if not same(at.session_state[key], value)}
        assert not wrong, f"preset {name}: state differs (got, expected): {wrong}"
        widgets = keyed_widgets(at)
        shown = {key: widget.value for key, widget in widgets.items() if key in expected}
        wrong = {key: (value, expected[key]) for key, value in shown.items()
                 if not same(value, expected[key])}
        assert not wrong, f"preset {name}: widgets differ (shown, expected): {wrong}"
        n_layers = len(presets.get(name).model.layers)
        assert f"layer{n_layers - 1}_units" in widgets and f"layer{n_layers}_units" not in widgets
        assert ("rlr_monitor" in widgets) == (presets.get(name).training.reduce_lr is not None)
        assert at.text_input(key="run_name").value == ""
        assert not at.error, texts(at.error)


def test_an_invalid_setting_shows_an_error_naming_the_field(data_root):
    at = open_app(new_session_id())
    assert at.slider(key="ds_val").value == 0.0
    check(at.toggle(key="rlr_on").set_value(True).run())
    assert not at.error
    check(at.selectbox(key="rlr_monitor").set_value("val_loss").run())
    errors = texts(at.error)
    assert len(errors) == 1, errors
    assert "reduce_lr.monitor" in errors[0] and "validation_split" in errors[0]
    assert button(at, "Train").disabled
    # Holding out validation data makes the same monitor valid.
    check(at.slider(key="ds_val").set_value(0.2).run())
    assert not at.error, texts(at.error)
    assert not button(at, "Train").disabled


def test_training_through_the_page_records_the_run_once(data_root, media):
    sid = new_session_id()
    at = open_app(sid)
    at.number_input(key=dataset_param_key("parabola", "n_samples")).set_value(SMALL_SAMPLES)
    at.number_input(key="epochs").set_value(3)
    check(at.run())
    check(finish_jobs(check(button(at, "Train").click().run())))
    success = texts(at.success)
    assert len(success) == 1, (success, texts(at.error))
    assert "complete, 3 of 3 epochs" in success[0]
    # The preset's settings were edited: the run is named after the settings, not the preset.
    name = "parabola 2 sigmoid, sgd lr 0.05"
    assert success[0].startswith(f"**{name}**")

    ws = workspace_of(data_root, sid)
    runs = ws.runs()
    assert [(r.name, r.status, r.epochs_done, r.n_epochs, r.samples) for r in runs] == [
        (name, "complete", 3, 3, SMALL_SAMPLES)]
    assert runs[0].spec["training"]["epochs"] == 3
    assert runfile.read_run(ws.run_path(runs[0].name), runs[0].name).weights[0][0].shape == (
        4, 2, 2)
    assert runfile.list_runs(ws.run_path(runs[0].name)) == runs  # a file of its own

    # A rerun (any widget change, or none) must not train again.
    check(at.run())
    check(at.number_input(key="seed").set_value(7).run())
    assert [r.name for r in ws.runs()] == [runs[0].name]
    assert "complete, 3 of 3 epochs" in texts(at.success)[0]

    # "Open in Replay" lands on the new run's last epoch.
    check(at.button(key="open_replay").click().run())
    assert epoch_caption(at).startswith("Epoch 3 of 3 ·")
    assert at.selectbox(key="replay_run").value == runs[0].name


def test_over_budget_training_is_refused(data_root, monkeypatch):
    monkeypatch.setattr(session, "MAX_TRAINING_COST", 1000)
    sid = new_session_id()
    at = open_app(sid)
    check(button(at, "Train").click().run())
    errors = texts(at.error)
    assert len(errors) == 1, errors
    assert "1,000" in errors[0] and "lower the epochs" in errors[0].lower()
    assert not at.success
    assert workspace_of(data_root, sid).runs() == []


# -- Replay page -----------------------------------------------------------------------


def test_replay_opens_on_the_last_epoch_with_image_and_caption(data_root, prebuilt, media):
    sid = seed_workspace(data_root, prebuilt.small)
    at = open_app(sid, REPLAY)
    assert at.selectbox(key="replay_run").value == SMALL_RUN
    assert at.selectbox(key="replay_layer").value == "hidden"
    assert at.slider(key="epoch").value == SMALL_EPOCHS
    assert epoch_caption(at).startswith(f"Epoch {SMALL_EPOCHS} of {SMALL_EPOCHS} · loss ")
    assert len(at.image) == 1
    jpeg = media(at.image[0].value[0])
    assert jpeg[:3] == b"\xff\xd8\xff" and len(jpeg) > 10_000


def test_replay_caption_loss_matches_an_independent_replay(data_root, prebuilt):
    sid = seed_workspace(data_root, prebuilt.small)
    at = open_app(sid, REPLAY)
    check(at.slider(key="epoch").set_value(2).run())
    text = epoch_caption(at)
    assert text.startswith(f"Epoch 2 of {SMALL_EPOCHS} · ")
    view = Replay(prebuilt.small, SMALL_RUN).loss_and_metric()
    assert f"loss {view.loss[2]:.4f}" in text
    assert f"accuracy {view.accuracy[2]:.1%}" in text
    assert f"loss {view.loss[3]:.4f}" not in text


def test_replay_previous_and_next_step_one_epoch_and_clamp(data_root, prebuilt):
    sid = seed_workspace(data_root, prebuilt.small)
    at = open_app(sid, REPLAY)
    check(at.slider(key="epoch").set_value(2).run())
    check(at.button(key="next_epoch").click().run())
    assert at.slider(key="epoch").value == 3 and epoch_caption(at).startswith("Epoch 3 ")
    check(at.button(key="prev_epoch").click().run())
    check(at.button(key="prev_epoch").click().run())
    assert at.slider(key="epoch").value == 1 and epoch_caption(at).startswith("Epoch 1 ")
    check(at.button(key="prev_epoch").click().run())
    check(at.button(key="prev_epoch").click().run())
    assert at.slider(key="epoch").value == 0 and epoch_caption(at).startswith("Epoch 0 ")
    check(at.slider(key="epoch").set_value(SMALL_EPOCHS).run())
    check(at.button(key="next_epoch").click().run())
    assert at.slider(key="epoch").value == SMALL_EPOCHS
    assert epoch_caption(at).startswith(f"Epoch {SMALL_EPOCHS} of {SMALL_EPOCHS}")


def test_replay_of_a_run_without_a_two_unit_layer(data_root, prebuilt):
    """Its wide layers are listed; the last one is shown through a PCA by default."""
    sid = seed_workspace(data_root, prebuilt.no_feature)
    at = open_app(sid, REPLAY)
    assert at.selectbox(key="replay_run").value == NO_FEATURE_RUN
    layer_select = [s for s in at.selectbox if s.label == "Feature-space layer"]
    assert len(layer_select) == 1
    assert layer_select[0].options == ["dense_1 (4)", "dense_2 (4)"]
    assert layer_select[0].value == "dense_2" and not layer_select[0].disabled
    assert at.radio(key="replay_projection").value == "PCA"
    assert len(at.image) == 1
    assert epoch_caption(at).startswith(f"Epoch {SMALL_EPOCHS} of {SMALL_EPOCHS}")
    assert not at.error, texts(at.error)


def test_replay_without_runs_points_to_train_and_runs(data_root):
    at = open_app(new_session_id(), REPLAY)
    assert len(at.info) == 1 and "No runs in this session yet" in at.info[0].value
    assert sorted(texts(at.page_link)) == ["Train a network", "Upload a run file"]
    assert not at.image and not at.slider


def test_replay_of_a_deepreplay_file(data_root, prebuilt):
    sid = seed_workspace(data_root, prebuilt.deepreplay)
    at = open_app(sid, REPLAY)
    assert at.selectbox(key="replay_run").value == DEEPREPLAY_RUN
    assert len(at.image) == 1
    check(at.slider(key="epoch").set_value(1).run())
    view = Replay(prebuilt.deepreplay, DEEPREPLAY_RUN).loss_and_metric()
    assert epoch_caption(at).startswith(
        f"Epoch 1 of {DEEPREPLAY_EPOCHS} · loss {view.loss[1]:.4f}")
    assert not at.error, texts(at.error)


# -- Runs page -------------------------------------------------------------------------


def test_runs_table_lists_the_seeded_runs(data_root, prebuilt):
    sid = seed_workspace(data_root, prebuilt.small, prebuilt.deepreplay)
    at = open_app(sid, RUNS)
    table = at.dataframe[0].value
    # Oldest first; a DeepReplay run has no creation time and comes first.
    assert list(table["name"]) == [DEEPREPLAY_RUN, SMALL_RUN]
    assert list(table["status"]) == ["complete", "complete"]
    assert list(table["epochs"]) == [f"{DEEPREPLAY_EPOCHS} / {DEEPREPLAY_EPOCHS}",
                                     f"{SMALL_EPOCHS} / {SMALL_EPOCHS}"]
    assert list(table["dataset"]) == ["DeepReplay file", "parabola"]
    assert table["architecture"][1] == "2 → 2 sigmoid → 1 sigmoid"
    assert at.selectbox(key="runs_selected").value == SMALL_RUN


def test_runs_open_in_replay_shows_the_selected_run_at_its_last_epoch(data_root,
                                                                      prebuilt):
    sid = seed_workspace(data_root, prebuilt.small, prebuilt.deepreplay)
    at = open_app(sid, REPLAY)
    assert at.selectbox(key="replay_run").value == SMALL_RUN
    check(at.slider(key="epoch").set_value(1).run())
    check(at.switch_page(RUNS).run())
    check(at.selectbox(key="runs_selected").set_value(DEEPREPLAY_RUN).run())
    check(button(at, "Open in Replay ▶").click().run())
    assert at.selectbox(key="replay_run").value == DEEPREPLAY_RUN
    assert epoch_caption(at).startswith(f"Epoch {DEEPREPLAY_EPOCHS} of {DEEPREPLAY_EPOCHS} ·")


def test_runs_rename_renames_in_the_file(data_root, prebuilt):
    sid = seed_workspace(data_root, prebuilt.small)
    at = open_app(sid, RUNS)
    at.text_input(key=f"rename_{SMALL_RUN}").set_value("my run")
    check(button(at, "Rename").click().run())
    assert workspace_of(data_root, sid).run_names() == ["my run"]
    assert texts(at.success) == [f"Renamed {SMALL_RUN!r} to 'my run'."]
    assert list(at.dataframe[0].value["name"]) == ["my run"]
    assert at.selectbox(key="runs_selected").value == "my run"
    # A name the workspace refuses leaves the run alone and says why.
    at.text_input(key="rename_my run").set_value("a/b")
    check(button(at, "Rename").click().run())
    assert len(at.error) == 1 and "run name" in at.error[0].value
    assert workspace_of(data_root, sid).run_names() == ["my run"]


def test_runs_delete_needs_the_confirmation(data_root, prebuilt):
    sid = seed_workspace(data_root, prebuilt.small, prebuilt.deepreplay)
    at = open_app(sid, RUNS)
    assert at.selectbox(key="runs_selected").value == SMALL_RUN
    assert button(at, "Delete").disabled
    check(at.checkbox(key=f"confirm_{SMALL_RUN}").check().run())
    assert not button(at, "Delete").disabled
    check(button(at, "Delete").click().run())
    assert workspace_of(data_root, sid).run_names() == [DEEPREPLAY_RUN]
    assert texts(at.success) == [f"Deleted {SMALL_RUN!r}."]
    assert list(at.dataframe[0].value["name"]) == [DEEPREPLAY_RUN]
    # The confirmation belongs to the deleted run; the next one starts unconfirmed.
    assert button(at, "Delete").disabled


def test_runs_delete_a_whole_sweep(data_root, prebuilt):
    import h5py

    sid = seed_workspace(data_root, prebuilt.small)
    path = workspace_of(data_root, sid).run_path(SMALL_RUN)
    with h5py.File(path, "a") as f:
        for seed in (1, 2):
            f.copy(SMALL_RUN, f"relu seed {seed}")
            f[f"relu seed {seed}"].attrs["sweep"] = (
                f'{{"id": "abcdef123456", "config": "relu", "seed": {seed}}}')
    at = open_app(sid, RUNS)
    table = at.dataframe[0].value
    assert list(table["sweep"]) == ["", "relu, seed 1 (sweep abcdef)",
                                    "relu, seed 2 (sweep abcdef)"]
    assert at.selectbox(key="runs_selected").value == "relu seed 2"
    assert button(at, "Delete sweep").disabled
    check(at.checkbox(key="confirm_sweep_abcdef123456").check().run())
    check(button(at, "Delete sweep").click().run())
    assert workspace_of(data_root, sid).run_names() == [SMALL_RUN]
    assert texts(at.success) == ["Deleted the 2 runs of the sweep."]
    # A run outside any sweep offers no sweep deletion.
    assert not [b for b in at.button if b.label == "Delete sweep"]


def test_runs_download_is_a_valid_run_file(data_root, prebuilt, media, tmp_path):
    sid = seed_workspace(data_root, prebuilt.small)
    at = open_app(sid, RUNS)
    downloads = at.get("download_button")
    assert [d.proto.label for d in downloads] == ["Download .h5", "Download the script"]
    # 'Copy as code' offers the run's script (tests/test_as_code.py runs such scripts).
    from replay_core.data.as_code import stored_run_script

    script = media(downloads[1].proto.url).decode()
    assert script == stored_run_script(runfile.read_run(prebuilt.small, SMALL_RUN).spec,
                                       SMALL_RUN, "run.h5")
    proto = downloads[0].proto
    data = media(proto.url)
    path = tmp_path / "download.h5"
    path.write_bytes(data)
    assert runfile.validate_file(path) == [SMALL_RUN]
    got, want = runfile.read_run(path, SMALL_RUN), runfile.read_run(prebuilt.small, SMALL_RUN)
    np.testing.assert_array_equal(got.inputs, want.inputs)
    for got_layer, want_layer in zip(got.weights, want.weights):
        for g, w in zip(got_layer, want_layer):
            np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(got.logs["loss"], want.logs["loss"])


def test_runs_upload_refuses_a_file_that_is_not_hdf5(data_root, prebuilt):
    sid = seed_workspace(data_root, prebuilt.small)
    at = open_app(sid, RUNS)
    at.file_uploader[0].upload("notes.h5", b"these are notes, not HDF5\n")
    check(at.run())
    errors = texts(at.error)
    assert len(errors) == 1, errors
    assert errors[0].startswith("Upload refused: ") and "not an HDF5 file" in errors[0]
    assert workspace_of(data_root, sid).run_names() == [SMALL_RUN]
    assert sorted(p.name for p in (data_root / "sessions" / sid).iterdir()) == ["runs.h5"]
    # The uploader is replaced by a fresh one, so the next rerun does not re-import.
    check(at.run())
    assert not at.error and workspace_of(data_root, sid).run_names() == [SMALL_RUN]


def test_runs_upload_imports_a_run_under_a_free_name(data_root, prebuilt):
    sid = seed_workspace(data_root, prebuilt.small)
    at = open_app(sid, RUNS)
    at.file_uploader[0].upload("small.h5", prebuilt.small.read_bytes())
    check(at.run())
    assert texts(at.success) == [f"Imported 1 run(s) from 'small.h5': '{SMALL_RUN} (2)'"]
    assert workspace_of(data_root, sid).run_names() == [SMALL_RUN, f"{SMALL_RUN} (2)"]
    assert at.selectbox(key="runs_selected").value == f"{SMALL_RUN} (2)"
    check(at.run())
    assert len(workspace_of(data_root, sid).run_names()) == 2


# -- sessions --------------------------------------------------------------------------


def test_two_sessions_do_not_see_each_others_runs(data_root, prebuilt):
    sid_a = seed_workspace(data_root, prebuilt.small)
    sid_b = new_session_id()
    a = open_app(sid_a, RUNS)
    b = open_app(sid_b, RUNS)
    assert list(a.dataframe[0].value["name"]) == [SMALL_RUN]
    assert not b.dataframe
    assert any(i.value.startswith("No runs yet") for i in b.info)
    check(b.switch_page(REPLAY).run())
    assert any("No runs in this session yet" in i.value for i in b.info)
    check(a.switch_page(REPLAY).run())
    assert a.selectbox(key="replay_run").value == SMALL_RUN
    assert workspace_of(data_root, sid_b).runs() == []
    # Visiting pages writes nothing: a session's folder comes with its first run.
    assert not (data_root / "sessions" / sid_b).exists()
    assert b.session_state["session_id"] == sid_b and a.session_state["session_id"] == sid_a
