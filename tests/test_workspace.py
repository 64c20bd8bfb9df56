"""A session's workspace: its folder, names, uploads and exports (no Streamlit).

Quotas, clean-up and faults are in test_session_storage.py.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from prebuilt_runs import (
    DEEPREPLAY_EPOCHS,
    DEEPREPLAY_RUN,
    SMALL_EPOCHS,
    SMALL_RUN,
    PrebuiltRuns,
    new_session_id,
    seed_workspace,
    session_prebuilt_runs,
)

from replay_core.errors import RunFileError
from replay_core.replay.replayer import Replay
from replay_core.store import runfile, workspace
from replay_core.store.workspace import Workspace


@pytest.fixture(scope="session")
def prebuilt(tmp_path_factory) -> PrebuiltRuns:
    return session_prebuilt_runs(tmp_path_factory)


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "sessions"


def seeded(root: Path, *files: Path) -> Workspace:
    sid = seed_workspace(root.parent, *files)
    return Workspace.create(root, sid)


def folder_files(ws: Workspace) -> list[str]:
    return sorted(p.name for p in ws.folder.iterdir()) if ws.folder.exists() else []


def assert_same_run(a: runfile.RunData, b: runfile.RunData) -> None:
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert len(a.weights) == len(b.weights)
    for layer_a, layer_b in zip(a.weights, b.weights):
        assert len(layer_a) == len(layer_b)
        for wa, wb in zip(layer_a, layer_b):
            np.testing.assert_array_equal(wa, wb)
    assert a.logs.keys() == b.logs.keys()
    for key in a.logs:
        np.testing.assert_array_equal(a.logs[key], b.logs[key])
    assert (a.epochs_done, a.status, a.spec, a.layer_names, a.activation_config) == (
        b.epochs_done, b.status, b.spec, b.layer_names, b.activation_config)


# -- the folder ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [
    "../x", "../" + "a" * 29, "a" * 31, "a" * 33, "A" * 32, "g" * 32, "", "..", "/tmp",
    "a" * 31 + "/", "a" * 32 + "\n",
])
def test_create_rejects_a_bad_session_id(tmp_path, bad):
    root = tmp_path / "data" / "sessions"
    with pytest.raises(ValueError, match="32 hexadecimal"):
        Workspace.create(root, bad)
    assert not (tmp_path / "data" / "x").exists() and not (tmp_path / "x").exists()
    assert not root.exists() or list(root.iterdir()) == []


def test_create_names_one_folder_per_session_and_writes_nothing(root):
    ws = Workspace.create(root)
    assert len(ws.session_id) == 32 and int(ws.session_id, 16) >= 0
    assert ws.folder == root / ws.session_id and not root.exists()
    assert ws.runs() == [] and ws.run_names() == []
    again = Workspace.create(root, ws.session_id)
    assert again == ws
    other = Workspace.create(root)
    assert other.folder != ws.folder
    path = ws.new_run_file()
    assert ws.folder.is_dir() and path.parent == ws.folder and not path.exists()
    assert path.suffix == ".h5" and ws.new_run_file() != path


def test_expired_workspaces_are_removed_and_the_current_one_kept(root):
    week = workspace.session_max_age_s()
    old = time.time() - week - 3600
    current, stale, fresh = new_session_id(), new_session_id(), new_session_id()
    for sid in (current, stale, fresh):
        (root / sid).mkdir(parents=True)
        (root / sid / "runs.h5").write_bytes(b"x")
    not_a_session = root / "notes"
    not_a_session.mkdir()
    for path in (root / current, root / stale, not_a_session):
        os.utime(path, (old, old))
    os.utime(root / fresh, (time.time() - week + 3600,) * 2)

    assert workspace.remove_expired(root, keep=current) == [stale]
    assert sorted(p.name for p in root.iterdir()) == sorted([current, fresh, "notes"])
    assert (root / current / "runs.h5").read_bytes() == b"x"
    # Touching marks the current workspace as in use: another session's clean-up keeps it.
    Workspace.create(root, current).touch()
    assert workspace.remove_expired(root, keep=new_session_id()) == []
    assert (root / current).is_dir()


# -- names -----------------------------------------------------------------------------


def test_unique_name(root, prebuilt):
    ws = seeded(root, prebuilt.small)
    assert ws.unique_name("fresh") == "fresh"
    assert ws.unique_name(f"  {SMALL_RUN}  ") == f"{SMALL_RUN} (2)"
    # Names are unique over every file of the session.
    runfile.copy_runs(prebuilt.small, ws.new_run_file(), rename={SMALL_RUN: f"{SMALL_RUN} (2)"})
    assert ws.unique_name(SMALL_RUN) == f"{SMALL_RUN} (3)"
    assert ws.unique_name("x" * 100) == "x" * 70
    for bad in ("", "   ", "a/b", "tab\there"):
        with pytest.raises(RunFileError, match="run name"):
            ws.unique_name(bad)


def test_rename_and_delete(root, prebuilt):
    ws = seeded(root, prebuilt.small, prebuilt.deepreplay)
    assert ws.rename(SMALL_RUN, "  renamed ") == "renamed"
    assert ws.run_names() == [DEEPREPLAY_RUN, "renamed"]
    with pytest.raises(RunFileError):
        ws.rename("renamed", "../escape")
    with pytest.raises(RunFileError, match="already has a run"):
        ws.rename("renamed", DEEPREPLAY_RUN)
    ws.delete("renamed")
    assert ws.run_names() == [DEEPREPLAY_RUN]
    assert ws.run_path(DEEPREPLAY_RUN) == ws.folder / "runs.h5"


# -- uploads ---------------------------------------------------------------------------


def test_import_upload_refuses_empty_bytes(root, prebuilt):
    ws = seeded(root, prebuilt.small)
    with pytest.raises(RunFileError, match="'up.h5' is empty"):
        ws.import_upload(b"", "up.h5")
    assert ws.run_names() == [SMALL_RUN] and folder_files(ws) == ["runs.h5"]


def test_import_upload_refuses_a_file_over_the_limit(root, prebuilt, monkeypatch):
    data = prebuilt.small.read_bytes()
    monkeypatch.setattr(workspace, "MAX_UPLOAD_BYTES", len(data) - 1)
    ws = seeded(root, prebuilt.small)
    with pytest.raises(RunFileError, match="largest upload"):
        ws.import_upload(data, "big.h5")
    assert ws.run_names() == [SMALL_RUN] and folder_files(ws) == ["runs.h5"]


def test_import_upload_refuses_text(root):
    ws = Workspace.create(root)
    with pytest.raises(RunFileError, match="'notes.h5' is not an HDF5 file"):
        ws.import_upload(b"loss,acc\n0.5,0.9\n", "notes.h5")
    assert ws.runs() == [] and folder_files(ws) == []


def test_import_upload_refuses_hdf5_without_runs(root, tmp_path):
    path = tmp_path / "empty.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("numbers", data=np.arange(3))
        f.create_group("group").create_dataset("inputs", data=np.zeros((2, 2)))
    ws = Workspace.create(root)
    with pytest.raises(RunFileError, match="'mine.h5' holds no runs"):
        ws.import_upload(path.read_bytes(), "mine.h5")
    assert ws.runs() == [] and folder_files(ws) == []


def test_import_upload_adds_runs_and_renames_clashes(root, prebuilt):
    ws = seeded(root, prebuilt.small)
    data = prebuilt.small.read_bytes()
    assert ws.import_upload(data, "small.h5") == [f"{SMALL_RUN} (2)"]
    assert ws.import_upload(data, "small.h5") == [f"{SMALL_RUN} (3)"]
    assert ws.run_names() == [SMALL_RUN, f"{SMALL_RUN} (2)", f"{SMALL_RUN} (3)"]
    # Each upload is a file of its own; nothing else is left in the folder.
    assert len(folder_files(ws)) == 3 and "runs.h5" in folder_files(ws)
    assert all(name.endswith(".h5") for name in folder_files(ws))
    original = runfile.read_run(prebuilt.small, SMALL_RUN)
    third = ws.run_path(f"{SMALL_RUN} (3)")
    assert_same_run(runfile.read_run(third, f"{SMALL_RUN} (3)"), original)
    assert runfile.validate_file(third) == [f"{SMALL_RUN} (3)"]


def test_import_upload_of_a_deepreplay_file(root, prebuilt):
    ws = seeded(root, prebuilt.small)
    assert ws.import_upload(prebuilt.deepreplay.read_bytes(), "dr.h5") == [DEEPREPLAY_RUN]
    summary = {r.name: r for r in ws.runs()}[DEEPREPLAY_RUN]
    assert summary.is_deepreplay and summary.epochs_done == DEEPREPLAY_EPOCHS
    replay = Replay(ws.run_path(DEEPREPLAY_RUN), DEEPREPLAY_RUN)
    assert replay.n_epochs == DEEPREPLAY_EPOCHS
    np.testing.assert_allclose(
        replay.loss_and_metric().loss,
        Replay(prebuilt.deepreplay, DEEPREPLAY_RUN).loss_and_metric().loss)


def test_import_upload_refuses_more_runs_than_a_session_keeps(root, prebuilt, monkeypatch):
    monkeypatch.setattr(workspace, "MAX_RUNS", 2)
    ws = seeded(root, prebuilt.small)
    two = root.parent / "two.h5"
    seed_workspace(root.parent, prebuilt.small, prebuilt.deepreplay, session_id="f" * 32)
    two.write_bytes((root / ("f" * 32) / "runs.h5").read_bytes())
    with pytest.raises(RunFileError, match="more than 2"):
        ws.import_upload(two.read_bytes(), "two.h5")
    assert ws.run_names() == [SMALL_RUN] and folder_files(ws) == ["runs.h5"]


# -- capacity and export ---------------------------------------------------------------


def test_check_capacity(root, prebuilt, monkeypatch):
    monkeypatch.setattr(workspace, "MAX_RUNS", 2)
    ws = Workspace.create(root)
    ws.check_capacity()
    ws.import_upload(prebuilt.small.read_bytes())
    ws.check_capacity()
    ws.import_upload(prebuilt.small.read_bytes())
    with pytest.raises(RunFileError, match="holds 2 runs"):
        ws.check_capacity()
    ws.delete(SMALL_RUN)
    ws.check_capacity()
    assert len(folder_files(ws)) == 1  # the deleted run's file is gone


def test_export_run_round_trip(root, prebuilt, tmp_path):
    ws = seeded(root, prebuilt.small, prebuilt.deepreplay)
    data = ws.export_run(SMALL_RUN)
    assert data[:8] == b"\x89HDF\r\n\x1a\n"
    path = tmp_path / "exported.h5"
    path.write_bytes(data)
    assert runfile.validate_file(path) == [SMALL_RUN]
    exported = runfile.read_run(path, SMALL_RUN)
    assert exported.epochs_done == SMALL_EPOCHS
    assert_same_run(exported, runfile.read_run(prebuilt.small, SMALL_RUN))
    assert folder_files(ws) == ["runs.h5"]
    # And back in through an upload, as a person keeping a run would do.
    other = Workspace.create(root)
    assert other.import_upload(data, "exported.h5") == [SMALL_RUN]
    assert_same_run(runfile.read_run(other.run_path(SMALL_RUN), SMALL_RUN), exported)


def test_export_of_a_missing_run_leaves_nothing_behind(root, prebuilt):
    ws = seeded(root, prebuilt.small)
    with pytest.raises(RunFileError):
        ws.export_run("nope")
    assert folder_files(ws) == ["runs.h5"]
