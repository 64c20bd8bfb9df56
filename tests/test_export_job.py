"""Exports as jobs: a real worker process renders the file (decoded here with Pillow),
without TensorFlow; Stop leaves no file; bad settings are refused before a job exists;
one export per session runs at a time; an expired session's exports are cancelled; the
Replay page's Render click returns at once and the job shows in the sidebar's list."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from prebuilt_runs import DEEPREPLAY_RUN, seed_workspace, write_deepreplay_file

from replay_core.errors import ReplayError
from replay_core.store.workspace import Workspace
from studio import jobs

ROOT = Path(__file__).resolve().parent.parent
ACTIVE = ("queued", "running")
EPOCHS = 120  # long enough to stop an animation of every epoch midway
SMALL = (320, 180)


@pytest.fixture(scope="module", autouse=True)
def two_workers():
    """Two workers, so a session's second export waits for its first, not for a worker."""
    old = os.environ.get("DEEPREPLAY_MAX_WORKERS")
    os.environ["DEEPREPLAY_MAX_WORKERS"] = "2"
    jobs._reset_for_tests()
    yield
    jobs._reset_for_tests()
    if old is None:
        os.environ.pop("DEEPREPLAY_MAX_WORKERS", None)
    else:
        os.environ["DEEPREPLAY_MAX_WORKERS"] = old


@pytest.fixture(scope="module")
def run_file(tmp_path_factory) -> Path:
    """A 2-2-1 run of ``EPOCHS`` epochs on 200 samples (no training needed)."""
    path = tmp_path_factory.mktemp("export-jobs") / "runs.h5"
    write_deepreplay_file(path, epochs=EPOCHS)
    return path


@pytest.fixture
def ws(tmp_path, run_file) -> Workspace:
    sid = seed_workspace(tmp_path, run_file)
    return Workspace(tmp_path / "sessions" / sid)


def _wait(ws: Workspace, until, timeout: float = 180.0) -> list[jobs.JobView]:
    deadline = time.monotonic() + timeout
    while True:
        views = jobs.jobs_of(ws)
        if until(views):
            return views
        assert time.monotonic() < deadline, views
        time.sleep(0.05)


def _idle(views) -> bool:
    return all(v.state not in ACTIVE for v in views)


def _exports(ws: Workspace) -> list[str]:
    folder = ws.folder / jobs.EXPORTS_FOLDER
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_the_worker_loop_renders_an_export_without_importing_tensorflow(run_file, tmp_path):
    """``worker_main`` as a pool starts it, in a fresh interpreter: the GIF is written,
    and neither TensorFlow nor Keras is in ``sys.modules`` afterwards."""
    out = tmp_path / "run_0-4.gif"
    script = f"""
import json, queue, sys
from replay_core.render.export_task import ExportTask
from replay_core.store import runfile
from replay_core.train import pool

data = runfile.read_run({str(run_file)!r}, {DEEPREPLAY_RUN!r})
task = ExportTask(data, {str(out)!r}, epochs=(0, 4), fps=5, size=(320, 180))
units = queue.Queue()
units.put(pool.ExportUnit(("job", 0), task, seq=1))
units.put(None)
sent = []

class Events:
    def put(self, msg):
        sent.append(msg)

pool.worker_main(0, units, Events(), lazy=True)
print(json.dumps({{"tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules,
                  "messages": [m[0] for m in sent],
                  "progress": [m[2] for m in sent if m[0] == "progress"],
                  "done": [list(m[1:5]) for m in sent if m[0] == "done"]}}))
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["tensorflow"] is False and got["keras"] is False
    assert got["messages"][:2] == ["ready", "start"] and got["messages"][-2:] == ["idle", "exit"]
    assert got["progress"] == [1, 2, 3, 4, 5]
    assert got["done"] == [[["job", 0], "complete", str(out), 5]]
    with Image.open(out) as image:
        assert (image.format, image.size, image.n_frames) == ("GIF", SMALL, 5)


def test_an_export_job_renders_in_a_worker_and_keeps_one_file(ws):
    view = jobs.submit_export(ws, DEEPREPLAY_RUN, "gif", epochs=(2, 6), fps=5, size=SMALL,
                              panels=["decision_boundary", "loss_and_metric"])
    assert (view.kind, view.title, view.run_names, view.result_page) == (
        "export", DEEPREPLAY_RUN, (DEEPREPLAY_RUN,), "replay")
    assert view.epochs_total == 5 and view.state in ACTIVE
    (done,) = _wait(ws, _idle)
    assert done.state == "done", done
    assert done.epochs_done == 5
    assert done.message.startswith(f"Saved {DEEPREPLAY_RUN}_2-6.gif in "), done.message
    found, path, seconds = jobs.export_result(ws)
    assert found.id == view.id and seconds is not None and seconds > 0
    assert path == ws.folder / "exports" / f"{DEEPREPLAY_RUN}_2-6.gif"
    with Image.open(path) as image:
        assert (image.format, image.size, image.n_frames) == ("GIF", SMALL, 5)
    # The workers that only exported never loaded TensorFlow.
    for pid in jobs._manager.pool.pids().values():
        maps = Path(f"/proc/{pid}/maps")
        if maps.exists():
            assert "tensorflow" not in maps.read_text()

    # A PNG of the layer internals replaces it: one export kept per session.
    jobs.submit_export(ws, DEEPREPLAY_RUN, "png", epoch=3, size=SMALL, layers=True,
                       panels=["z", "weights"])
    views = _wait(ws, _idle)
    assert views[0].state == "done", views[0]
    assert _exports(ws) == [f"{DEEPREPLAY_RUN}_layers_epoch3.png"]
    with Image.open(ws.folder / "exports" / _exports(ws)[0]) as image:
        assert (image.format, image.size) == ("PNG", SMALL)


def test_stop_ends_an_export_midway_and_leaves_no_file(ws):
    view = jobs.submit_export(ws, DEEPREPLAY_RUN, "gif", epochs=(0, EPOCHS), fps=10,
                              size=SMALL, panels=["decision_boundary", "loss_histogram"])
    _wait(ws, lambda vs: vs[0].state == "running" and vs[0].epochs_done >= 1)
    jobs.stop(ws, view.id)
    (ended,) = _wait(ws, _idle)
    assert ended.state == "stopped", ended
    assert ended.epochs_done < EPOCHS + 1
    assert ended.message == (f"Stopped after frame {ended.epochs_done} of {EPOCHS + 1}; "
                             "no file was written.")
    assert _exports(ws) == []  # neither the file nor its hidden part
    assert jobs.export_result(ws)[1] is None


@pytest.mark.parametrize("change", [
    {"fmt": "exe"}, {"fps": 0}, {"fps": 31}, {"fps": "10"}, {"size": (100, 100)},
    {"size": (3840, 2160)}, {"size": (321, 180), "fmt": "mp4"}, {"size": "1280x720"},
    {"panels": []}, {"panels": ["nope"]}, {"panels": ["loss_histogram"] * 2},
    {"panels": ["z"]}, {"panels": "feature_space"}, {"epochs": (5, 2)},
    {"epochs": (0, EPOCHS + 1)}, {"epochs": (-1, 3)}, {"epochs": None},
    {"fmt": "png", "epoch": EPOCHS + 1}, {"fmt": "png", "epoch": None},
    {"feature": ("x" * 500, None, None)}, {"feature": (None, "umap", None)},
    {"feature": (None, "pca", EPOCHS + 1)}, {"theme": "neon"}, {"run_name": "missing"},
    {"run_name": "a/b"}, {"n_epochs": EPOCHS + 1},
])
def test_settings_out_of_bounds_are_refused_before_a_job_exists(ws, change):
    args = {"run_name": DEEPREPLAY_RUN, "fmt": "gif", "epochs": (0, 3), "fps": 10,
            "size": SMALL, "panels": ["feature_space"], **change}
    with pytest.raises(ReplayError) as info:
        jobs.submit_export(ws, args.pop("run_name"), args.pop("fmt"), **args)
    assert "\n" not in str(info.value)
    assert jobs.jobs_of(ws) == []


def test_one_export_per_session_runs_and_an_expired_sessions_are_cancelled(ws):
    first = jobs.submit_export(ws, DEEPREPLAY_RUN, "gif", epochs=(0, EPOCHS), size=SMALL,
                               panels=["decision_boundary"])
    second = jobs.submit_export(ws, DEEPREPLAY_RUN, "png", epoch=1, size=SMALL,
                                panels=["decision_boundary"])
    views = _wait(ws, lambda vs: vs[1].state == "running")
    assert [v.id for v in views] == [second.id, first.id]
    assert views[0].state == "queued"  # a worker is free; the session's first export runs
    shutil.rmtree(ws.folder)  # the session expired
    views = _wait(ws, _idle)
    assert [v.message for v in views] == [jobs.EXPIRED, jobs.EXPIRED]
    assert not ws.folder.exists()


def test_render_returns_at_once_and_the_job_shows_in_the_list(tmp_path, run_file,
                                                             monkeypatch):
    import streamlit as st
    from test_pages import REPLAY, check, finish_jobs, open_app, texts

    monkeypatch.setenv("DEEPREPLAY_DATA", str(tmp_path))
    st.cache_data.clear()
    sid = seed_workspace(tmp_path, run_file)
    ws = Workspace(tmp_path / "sessions" / sid)
    at = open_app(sid, REPLAY)
    check(at.segmented_control(key="export_format").set_value("GIF").run())
    check(at.button(key="export_render").click().run())
    (view,) = jobs.jobs_of(ws)
    assert view.kind == "export" and view.state in ACTIVE
    assert at.button(key="export_render").disabled
    assert f"Export · **{DEEPREPLAY_RUN}**" in texts(at.sidebar.markdown)
    assert at.button(key="export_stop")  # the panel follows the job
    check(at.button(key="export_stop").click().run())
    check(finish_jobs(at))
    assert jobs.jobs_of(ws)[0].state == "stopped"
    assert any(t.startswith("Stopped after frame") for t in texts(at.info)), texts(at.info)
    assert not at.button(key="export_render").disabled
    assert _exports(ws) == []
    st.cache_data.clear()


def test_a_run_still_training_is_exported_with_the_epochs_recorded_so_far(tmp_path):
    from prebuilt_runs import new_session_id, small_spec

    ws = Workspace.create(tmp_path / "sessions", new_session_id())
    training = jobs.submit_training(ws, small_spec(2000, **{"training.batch_size": 1}),
                                    "training")
    try:
        _wait(ws, lambda vs: vs[0].epochs_done >= 3)
        live = jobs.live_run(ws, "training")
        assert live is not None and live.epochs_done >= 3  # read from the writer's memory
        jobs.submit_export(ws, "training", "gif", epochs=(1, 3), size=SMALL, n_epochs=3,
                           panels=["feature_space", "loss_and_metric"])
        _wait(ws, lambda vs: vs[0].state not in ACTIVE)
    finally:
        jobs.stop(ws, training.id)
    views = _wait(ws, _idle)
    assert views[0].kind == "export" and views[0].state == "done", views[0]
    with Image.open(ws.folder / "exports" / "training_1-3.gif") as image:
        assert (image.size, image.n_frames) == (SMALL, 3)
