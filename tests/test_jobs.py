"""Jobs: trainings and sweeps in real worker processes (real Keras, tiny specs), queued per
session, stopped, killed, and read back from their files; the process that runs them
never loads TensorFlow."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from prebuilt_runs import new_session_id, small_spec

from replay_core.data import presets
from replay_core.errors import ReplayError
from replay_core.store import runfile
from replay_core.store.workspace import Workspace
from replay_core.train import sweep
from studio import jobs

ROOT = Path(__file__).resolve().parent.parent
ACTIVE = ("queued", "running")


@pytest.fixture(scope="module", autouse=True)
def one_pool():
    """One worker for the module (each loads TensorFlow once); none left behind."""
    old = os.environ.get("DEEPREPLAY_MAX_WORKERS")
    os.environ["DEEPREPLAY_MAX_WORKERS"] = "1"
    jobs._reset_for_tests()
    yield
    jobs._reset_for_tests()
    if old is None:
        os.environ.pop("DEEPREPLAY_MAX_WORKERS", None)
    else:
        os.environ["DEEPREPLAY_MAX_WORKERS"] = old


@pytest.fixture
def ws(tmp_path) -> Workspace:
    return Workspace.create(tmp_path / "sessions", new_session_id())


def _view(ws: Workspace, job_id: str) -> jobs.JobView:
    return next(v for v in jobs.jobs_of(ws) if v.id == job_id)


def _wait(ws: Workspace, until, timeout: float = 240.0) -> list[jobs.JobView]:
    deadline = time.monotonic() + timeout
    while True:
        views = jobs.jobs_of(ws)
        if until(views):
            return views
        assert time.monotonic() < deadline, views
        time.sleep(0.05)


def _idle(views) -> bool:
    return all(v.state not in ACTIVE for v in views)


def _long_spec():
    # Batch 1 on 200 samples: 200 steps an epoch, long enough to stop or kill midway.
    return small_spec(2000, **{"training.batch_size": 1})


def _stored(ws: Workspace, name: str) -> runfile.RunSummary:
    return next(r for r in ws.runs() if r.name == name)


def test_a_training_job_records_its_run_and_replays_it_while_it_trains(ws):
    view = jobs.submit_training(ws, small_spec(60), "a")
    assert (view.kind, view.title, view.run_names, view.result_page) == (
        "training", "a", ("a",), "replay")
    assert view.epochs_total == 60 and view.state in ACTIVE
    live = None
    deadline = time.monotonic() + 240
    while _view(ws, view.id).state in ACTIVE and time.monotonic() < deadline:
        data = jobs.live_run(ws, "a")
        if data is not None and data.epochs_done >= 2 and live is None:
            live = data
            epoch, weights = jobs.latest_weights(ws, "a")
            assert epoch >= data.epochs_done
        time.sleep(0.02)
    done = _view(ws, view.id)
    assert done.state == "done" and done.epochs_done == 60, done
    assert done.message.startswith("Finished: 60 epochs, loss "), done.message
    stored = runfile.read_run(ws.run_path("a"), "a")
    assert (stored.status, stored.epochs_done) == ("complete", 60)
    # What Replay scrubbed while it trained is what the file holds for those epochs.
    assert live is not None, "the run was never seen live"
    k = live.epochs_done
    for got, want in zip(live.weights, stored.weights):
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w[: k + 1])
    np.testing.assert_allclose(live.logs["loss"], stored.logs["loss"][:k], rtol=1e-6)
    np.testing.assert_array_equal(live.inputs, stored.inputs)
    assert jobs.live_run(ws, "a") is None  # nothing writes it any more
    # Announced once.
    assert [v.id for v in jobs.unannounced(ws)] == [view.id]
    assert jobs.unannounced(ws) == []


def test_the_queue_stop_and_its_limits(ws, tmp_path):
    first = jobs.submit_training(ws, _long_spec(), "long")
    queued = [jobs.submit_training(ws, small_spec(3), f"q{i}") for i in range(2)]
    with pytest.raises(ReplayError, match="already has a run named 'q0'"):
        jobs.submit_training(ws, small_spec(3), "q0")  # queued, not yet in a file
    queued.append(jobs.submit_training(ws, small_spec(3), "q2"))
    with pytest.raises(jobs.JobLimitError, match="1 training running and 3 queued"):
        jobs.submit_training(ws, small_spec(3), "one too many")
    views = {v.id: v for v in jobs.jobs_of(ws)}
    assert [views[q.id].queue_position for q in queued] == [1, 2, 3]
    assert [v.id for v in jobs.jobs_of(ws)] == [q.id for q in reversed(queued)] + [first.id]

    # Another session cannot stop them.
    other = Workspace.create(tmp_path / "sessions", new_session_id())
    jobs.stop(other, first.id)
    jobs.stop(other, queued[0].id)
    assert jobs.jobs_of(other) == []

    # Stop on a queued job removes it; twice is harmless; the others move up.
    jobs.stop(ws, queued[1].id)
    jobs.stop(ws, queued[1].id)
    assert _view(ws, queued[1].id).state == "stopped"
    assert _view(ws, queued[2].id).queue_position == 2

    # Stop on the running job: it ends after an epoch and keeps every finished one.
    _wait(ws, lambda vs: next(v for v in vs if v.id == first.id).epochs_done >= 3)
    jobs.stop(ws, first.id)
    jobs.stop(ws, first.id)
    views = _wait(ws, _idle)
    stopped = next(v for v in views if v.id == first.id)
    run = _stored(ws, "long")
    assert stopped.state == "stopped" and run.status == "stopped"
    assert 3 <= run.epochs_done < 2000
    assert stopped.message == (f"Stopped after epoch {run.epochs_done}: {run.epochs_done} "
                               "epochs kept.")
    assert runfile.read_run(ws.run_path("long"), "long").weights[0][0].shape[0] == (
        run.epochs_done + 1)
    # The queued ones then trained; the removed one never started.
    assert sorted(r.name for r in ws.runs()) == ["long", "q0", "q2"]
    assert all(_stored(ws, n).status == "complete" for n in ("q0", "q2"))
    assert all(r.status != "running" for r in ws.runs())


def test_a_killed_worker_fails_its_run_with_its_epochs_and_the_next_job_works(ws):
    view = jobs.submit_training(ws, _long_spec(), "killed")
    _wait(ws, lambda vs: vs[0].epochs_done >= 3)
    pids = list(jobs._manager.pool.pids().values())
    assert len(pids) == 1
    os.kill(pids[0], signal.SIGKILL)
    views = _wait(ws, _idle)
    failed = next(v for v in views if v.id == view.id)
    run = _stored(ws, "killed")
    assert failed.state == "failed" and run.status == "failed", (failed, run)
    assert run.epochs_done >= 3
    assert "its worker process ended after epoch" in failed.message
    assert runfile.read_run(ws.run_path("killed"), "killed").epochs_done == run.epochs_done

    after = jobs.submit_training(ws, small_spec(3), "after")
    _wait(ws, _idle)
    assert _view(ws, after.id).state == "done"
    assert _stored(ws, "after").status == "complete"
    assert list(jobs._manager.pool.pids().values()) != pids  # a fresh worker


def test_a_sweep_job_and_its_stop_count_what_the_file_holds(ws):
    tanh = presets.get("reference_tanh").replace(
        **{"training.epochs": 3, "dataset.params.n_samples": 200})
    tasks = sweep.plan({"sigmoid": small_spec(3), "tanh": tanh}, 2)
    view = jobs.submit_sweep(ws, tasks, 2)
    assert view.title == "sigmoid, tanh · 4 runs" and view.result_page == "sweep"
    assert view.sweep_id == tasks[0].sweep_id and view.epochs_total == 12
    _wait(ws, _idle)
    done = _view(ws, view.id)
    assert done.state == "done" and done.message == "Finished: 4 of 4 runs.", done
    members = sweep.group_sweeps(ws.runs())[view.sweep_id]
    assert sorted((m.sweep["config"], m.sweep["seed"], m.status, m.epochs_done)
                  for m in members) == [("sigmoid", 1, "complete", 3),
                                        ("sigmoid", 2, "complete", 3),
                                        ("tanh", 1, "complete", 3), ("tanh", 2, "complete", 3)]

    long = sweep.plan({"long": _long_spec()}, 3, taken=ws.run_names())
    view = jobs.submit_sweep(ws, long, 1)
    _wait(ws, lambda vs: vs[0].epochs_done >= 6)
    jobs.stop(ws, view.id)
    _wait(ws, _idle)
    stopped = _view(ws, view.id)
    members = sweep.group_sweeps(ws.runs())[view.sweep_id]
    midway = sum(m.status == "stopped" for m in members)
    finished = sum(m.status == "complete" for m in members)
    assert stopped.state == "stopped" and midway == 3 and finished == 0
    assert stopped.message == ("Stopped: 0 of 3 runs finished, 3 kept with their finished "
                               "epochs.")
    assert all(m.epochs_done >= 2 for m in members)


def test_an_expired_sessions_queued_job_is_cancelled(ws, tmp_path):
    first = jobs.submit_training(ws, _long_spec(), "long")
    other = Workspace.create(tmp_path / "sessions", new_session_id())
    other.new_run_file()  # its folder exists
    waiting = jobs.submit_training(other, small_spec(3), "waits")
    assert _view(other, waiting.id).state == "queued"
    other.folder.rmdir()  # the clean-up removed the expired session
    _wait(other, _idle, timeout=10)
    assert _view(other, waiting.id).state == "stopped"
    assert _view(other, waiting.id).message == jobs.EXPIRED
    jobs.stop(ws, first.id)
    _wait(ws, _idle)


def test_a_run_a_previous_server_left_running_reads_back_as_stopped(ws):
    jobs.submit_training(ws, small_spec(4), "before")
    _wait(ws, _idle)
    path = ws.run_path("before")
    with h5py.File(path, "r+") as f:  # as a server killed mid-training leaves it
        f["before"].attrs["status"] = "running"
    fresh = Workspace(ws.folder)
    jobs._manager.recovered.discard(jobs._owner(fresh))
    assert jobs.recover(fresh) == 1
    run = _stored(fresh, "before")
    assert (run.status, run.message, run.epochs_done) == ("stopped", jobs.RESTARTED, 4)
    assert jobs.recover(fresh) == 0  # once per session per process


def test_the_process_that_runs_jobs_never_loads_tensorflow(tmp_path):
    code = (
        "import sys, time\n"
        f"sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]\n"
        "from prebuilt_runs import new_session_id, small_spec\n"
        "from replay_core.store.workspace import Workspace\n"
        "from studio import jobs\n"
        f"ws = Workspace.create({str(tmp_path / 'sessions')!r}, new_session_id())\n"
        "view = jobs.submit_training(ws, small_spec(3), 'a')\n"
        "while jobs.jobs_of(ws)[0].state in ('queued', 'running'):\n"
        "    time.sleep(0.1)\n"
        "assert jobs.jobs_of(ws)[0].state == 'done', jobs.jobs_of(ws)\n"
        "assert [r.status for r in ws.runs()] == ['complete']\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "DEEPREPLAY_MAX_WORKERS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_group_job_trains_its_runs_together_each_in_a_file_of_its_own(ws):
    tanh = presets.get("reference_tanh").replace(
        **{"training.epochs": 4, "dataset.params.n_samples": 200})
    view = jobs.submit_group(ws, [small_spec(4), tanh], ["sigmoid", "tanh"])
    assert (view.kind, view.run_names, view.epochs_total) == ("training", ("sigmoid", "tanh"), 8)
    _wait(ws, _idle)
    done = _view(ws, view.id)
    assert (done.state, done.message) == ("done", "Finished: 2 runs."), done
    paths = {ws.run_path("sigmoid"), ws.run_path("tanh")}
    assert len(paths) == 2
    for name in ("sigmoid", "tanh"):
        run = runfile.read_run(ws.run_path(name), name)
        assert (run.status, run.epochs_done) == ("complete", 4)
        assert "sweep" not in run.attrs  # not a seed sweep's run
        assert run.activation_config[0]["name"] == name
