"""Session storage: one file per run, quotas, clean-up on a timer, and faults.

A writer killed mid-run and a disk that fills up while writing are real: the writer runs
in a subprocess that is SIGKILLed, or whose file size is capped with ``RLIMIT_FSIZE``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from prebuilt_runs import (
    SMALL_RUN,
    PrebuiltRuns,
    new_session_id,
    seed_workspace,
    session_prebuilt_runs,
    small_spec,
)

from replay_core.data import presets
from replay_core.errors import RunFileError, RunNotFoundError
from replay_core.replay.replayer import Replay
from replay_core.store import quotas as quota_module
from replay_core.store import runfile, workspace
from replay_core.store.workspace import Workspace, estimate_file_bytes

REPO = Path(__file__).resolve().parent.parent
MB = 2**20


@pytest.fixture(scope="session")
def prebuilt(tmp_path_factory) -> PrebuiltRuns:
    return session_prebuilt_runs(tmp_path_factory)


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "sessions"


@pytest.fixture(autouse=True)
def quotas(monkeypatch):
    for name in ("DEEPREPLAY_SESSION_QUOTA_MB", "DEEPREPLAY_TOTAL_QUOTA_MB",
                 "DEEPREPLAY_SESSION_MAX_AGE_H"):
        monkeypatch.delenv(name, raising=False)


# A small numpy-built run: a 2-2-1 sigmoid network (what Replay's views need).
WRITE_RUN = '''
import numpy as np
from replay_core.store.runfile import RunWriter

def open_run(path, name, epochs=3, width=2):
    rng = np.random.default_rng(len(name))
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(float)
    k1, b1 = rng.normal(size=(2, width)), np.zeros(width)
    k2, b2 = rng.normal(size=(width, 1)), np.zeros(1)
    return RunWriter(path, name, inputs=X, targets=y, layer_names=["hidden", "out"],
                     activation_config=[{"name": "sigmoid"}, {"name": "sigmoid"}],
                     initial_weights=[[k1, b1], [k2, b2]], samples=40, batch_size=8,
                     n_epochs=epochs)

def append(writer, e, width=2):
    writer.append_epoch([[np.full((2, width), 0.01 * e), np.full(width, 0.01 * e)],
                         [np.full((width, 1), -0.01 * e), np.zeros(1)]],
                        {"loss": 1.0 / e, "accuracy": 0.5}, lr=0.05)
'''


def _helpers() -> dict:
    namespace: dict = {}
    exec(WRITE_RUN, namespace)  # the same code the subprocesses run
    return namespace


def write_run(path: Path, name: str, epochs: int = 3, status: str = "complete") -> None:
    h = _helpers()
    with h["open_run"](path, name, epochs) as writer:
        for e in range(1, epochs + 1):
            h["append"](writer, e)
        writer.set_status(status)


def assert_same(a: runfile.RunData, b: runfile.RunData) -> None:
    np.testing.assert_array_equal(a.inputs, b.inputs)
    for la, lb in zip(a.weights, b.weights):
        for wa, wb in zip(la, lb):
            np.testing.assert_array_equal(wa, wb)
    for key in b.logs:
        np.testing.assert_array_equal(a.logs[key], b.logs[key])
    assert (a.epochs_done, a.status) == (b.epochs_done, b.status)


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", WRITE_RUN + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)


# -- one file per run -------------------------------------------------------------------


def test_each_run_has_a_file_of_its_own_and_listing_rereads_only_what_changed(
        root, monkeypatch):
    ws = Workspace.create(root)
    write_run(ws.new_run_file(), "a")
    write_run(ws.new_run_file(), "b", epochs=2)
    assert ws.run_names() == ["a", "b"]
    files = sorted(p.name for p in ws.folder.iterdir())
    assert len(files) == 2 and "runs.h5" not in files
    assert ws.run_path("a") != ws.run_path("b")
    assert runfile.list_runs(ws.run_path("b"))[0].epochs_done == 2
    with pytest.raises(RunNotFoundError, match="no run 'c'"):
        ws.run_path("c")

    opened: list[str] = []
    list_runs = runfile.list_runs
    monkeypatch.setattr(runfile, "list_runs", lambda p: opened.append(Path(p).name)
                        or list_runs(p))
    assert ws.run_names() == ["a", "b"] and opened == []  # nothing changed: no file opened
    ws.rename("a", "a2")
    assert ws.run_names() == ["a2", "b"] and opened == [ws.run_path("a2").name]


def test_rename_keeps_the_other_runs_cache_keys(root):
    from studio.session import run_key

    ws = Workspace.create(root)
    write_run(ws.new_run_file(), "a")
    write_run(ws.new_run_file(), "b")
    key = {r.name: run_key(ws, r) for r in ws.runs()}
    assert key["a"][0] != key["b"][0] and key["a"][0] == str(ws.run_path("a"))
    time.sleep(0.02)  # a changed mtime would show
    ws.rename("b", "c")
    after = {r.name: run_key(ws, r) for r in ws.runs()}
    assert after["a"] == key["a"]
    assert after["c"][1] == "c" and after["c"] != key["b"]


def test_run_names_stay_unique_across_files(root, prebuilt):
    ws = Workspace.create(root)
    write_run(ws.new_run_file(), "a")
    assert ws.import_upload(prebuilt.small.read_bytes(), "small.h5") == [SMALL_RUN]
    with pytest.raises(RunFileError, match="already has a run 'a'"):
        ws.rename(SMALL_RUN, "a")
    assert ws.unique_name("a") == "a (2)"
    assert ws.import_upload(prebuilt.small.read_bytes(), "small.h5") == [f"{SMALL_RUN} (2)"]


# -- deleting frees bytes -----------------------------------------------------------------


def test_delete_removes_a_runs_own_file(root):
    ws = Workspace.create(root)
    write_run(ws.new_run_file(), "a")
    write_run(ws.new_run_file(), "b")
    before = ws.bytes_used()
    path = ws.run_path("a")
    ws.delete("a")
    assert not path.exists() and ws.run_names() == ["b"]
    assert ws.bytes_used() < before


def test_delete_from_a_shared_file_rewrites_it_smaller(root, prebuilt):
    # A session folder from before one file per run: every run in runs.h5.
    sid = seed_workspace(root.parent, prebuilt.small, prebuilt.no_feature, prebuilt.deepreplay)
    ws = Workspace.create(root, sid)
    legacy = ws.folder / "runs.h5"
    kept = {n: runfile.read_run(legacy, n) for n in ws.run_names() if n != SMALL_RUN}
    size = legacy.stat().st_size
    ws.delete(SMALL_RUN)
    assert legacy.stat().st_size < size
    assert sorted(ws.run_names()) == sorted(kept)
    for name, run in kept.items():
        assert_same(runfile.read_run(ws.run_path(name), name), run)
    ws.delete_many(list(kept))
    assert ws.runs() == [] and not legacy.exists()


def test_uploading_and_deleting_again_and_again_does_not_grow_the_folder(root, prebuilt):
    ws = Workspace.create(root)
    write_run(ws.new_run_file(), "kept")
    data = prebuilt.small.read_bytes()
    sizes = []
    for _ in range(5):
        [name] = ws.import_upload(data, "small.h5")
        ws.delete(name)
        sizes.append(ws.bytes_used())
    assert len(set(sizes)) == 1 and ws.run_names() == ["kept"]
    assert [p.name for p in ws.folder.iterdir()] == [ws.run_path("kept").name]


# -- quotas -------------------------------------------------------------------------------


def fill(folder: Path, mb: float) -> None:
    """Stored data of ``mb`` megabytes in a session folder (as an uploaded CSV keeps)."""
    (folder / "datasets").mkdir(parents=True, exist_ok=True)
    (folder / "datasets" / f"{len(list((folder / 'datasets').iterdir()))}.npz").write_bytes(
        b"\0" * int(mb * MB))


def test_session_quota_refuses_an_upload_and_a_training_with_one_sentence(
        root, prebuilt, monkeypatch):
    monkeypatch.setenv("DEEPREPLAY_SESSION_QUOTA_MB", "3")
    ws = Workspace.create(root)
    write_run(ws.new_run_file(), "a")
    fill(ws.folder, 3 - ws.bytes_used() / MB - 0.02)  # 20 kB left
    with pytest.raises(RunFileError) as info:
        ws.import_upload(prebuilt.small.read_bytes(), "small.h5")
    assert str(info.value).startswith("this session's runs take 3.0 MB of its 3.0 MB and this "
                                      "needs about 0.")
    assert str(info.value).endswith("; delete some on the Runs page")
    assert ws.run_names() == ["a"]
    spec = presets.get("reference")
    with pytest.raises(RunFileError, match=r"^this session's runs take 3\.0 MB of its 3\.0 MB "
                                           r"and this needs about 0\.\d MB more; delete some"):
        ws.check_space(estimate_file_bytes(spec))
    ws.delete("a")
    ws.check_space(0)


@pytest.mark.parametrize("epochs, width", [(5, 2), (500, 2), (400, 32)])
def test_estimate_file_bytes_is_close_to_the_file_written(tmp_path, epochs, width):
    spec = small_spec(epochs, **{"model.layers": [{"units": width, "activation": "tanh"}]})
    path = tmp_path / "run.h5"
    h = _helpers()
    samples = spec.dataset.params["n_samples"]
    rng = np.random.default_rng(0)
    with runfile.RunWriter(
            path, "r", inputs=rng.normal(size=(samples, 2)), targets=np.zeros(samples),
            layer_names=["hidden", "out"], activation_config=[{"name": "tanh"}] * 2,
            initial_weights=[[np.zeros((2, width)), np.zeros(width)],
                             [np.zeros((width, 1)), np.zeros(1)]],
            samples=samples, batch_size=16, n_epochs=epochs) as writer:
        for e in range(1, epochs + 1):
            h["append"](writer, e, width=width)
    actual = path.stat().st_size
    assert actual / 2 < estimate_file_bytes(spec) < actual * 2


def make_session(root: Path, mb: float, age_s: float) -> str:
    sid = new_session_id()
    fill(root / sid, mb)
    then = time.time() - age_s
    os.utime(root / sid, (then, then))
    return sid


def test_total_quota_removes_the_oldest_idle_sessions_first_never_the_current_one(
        root, monkeypatch):
    current = make_session(root, 1, age_s=10 * 3600)  # the oldest of all, yet in use
    oldest = make_session(root, 1, age_s=5 * 3600)
    older = make_session(root, 1, age_s=3 * 3600)
    old = make_session(root, 1, age_s=2 * 3600)
    busy = make_session(root, 1, age_s=60)  # touched a minute ago: not idle
    monkeypatch.setenv("DEEPREPLAY_TOTAL_QUOTA_MB", "4.5")
    left = workspace.trim_to_total_quota(root, keep=current)
    assert sorted(p.name for p in root.iterdir()) == sorted([current, older, old, busy])
    assert not (root / oldest).exists() and left == 4 * MB
    # check_space makes room the same way before a write, then refuses when it cannot.
    monkeypatch.setenv("DEEPREPLAY_TOTAL_QUOTA_MB", "2.5")
    Workspace.create(root, current).check_space(0)
    assert sorted(p.name for p in root.iterdir()) == sorted([current, busy])
    with pytest.raises(RunFileError, match=r"^the server's storage for runs is full "
                                           r"\(2\.0 MB of 2\.5 MB over all sessions\)"):
        Workspace.create(root, current).check_space(MB)
    assert sorted(p.name for p in root.iterdir()) == sorted([current, busy])


def test_no_quota_or_expiry_removes_a_session_whose_run_is_being_written(root, monkeypatch):
    current = make_session(root, 0.1, age_s=60)
    writing = make_session(root, 1, age_s=0)
    ws = Workspace.create(root, writing)
    writer = _helpers()["open_run"](ws.new_run_file(), "live")
    long_ago = time.time() - 30 * 24 * 3600
    os.utime(ws.folder, (long_ago, long_ago))  # idle and expired, yet its run is training
    monkeypatch.setenv("DEEPREPLAY_TOTAL_QUOTA_MB", "0.5")
    try:
        assert workspace.remove_expired(root, keep=current) == []
        workspace.trim_to_total_quota(root, keep=current)
        assert ws.run_names() == ["live"]
    finally:
        writer.close()
    assert workspace.remove_expired(root, keep=current) == [writing]


# -- no folder before the first write; clean-up on a timer -------------------------------


def test_reading_a_session_creates_no_folder(root):
    ws = Workspace.create(root)
    ws.touch()
    assert ws.runs() == [] and ws.run_names() == [] and ws.damaged_files() == []
    assert ws.unique_name("a") == "a" and ws.bytes_used() == 0
    ws.check_space(MB)
    ws.check_capacity()
    with pytest.raises(RunNotFoundError):
        ws.export_run("a")
    workspace.clean_up(root, keep=ws.session_id, now=0.0)
    assert not root.exists()


def test_clean_up_runs_at_most_once_per_interval(root, monkeypatch):
    monkeypatch.setattr(quota_module, "_last_clean", None)
    monkeypatch.setenv("DEEPREPLAY_SESSION_MAX_AGE_H", "1")
    current = make_session(root, 0.01, age_s=5 * 3600)
    expired = make_session(root, 0.01, age_s=2 * 3600)
    recent = make_session(root, 0.01, age_s=0.5 * 3600)
    assert workspace.clean_up(root, keep=current, now=1000.0)
    assert sorted(p.name for p in root.iterdir()) == sorted([current, recent])
    assert not (root / expired).exists()

    expired = make_session(root, 0.01, age_s=2 * 3600)
    assert not workspace.clean_up(root, keep=current, now=1000.0 + 300)
    assert not workspace.clean_up(root, keep=current, now=1000.0 + 599)
    assert (root / expired).is_dir()  # a second call within the interval does nothing
    assert workspace.clean_up(root, keep=current, now=1000.0 + workspace.CLEAN_INTERVAL_S + 1)
    assert sorted(p.name for p in root.iterdir()) == sorted([current, recent])


# -- a writer that is gone ---------------------------------------------------------------


def test_a_run_whose_writer_was_killed_shows_stopped_with_its_epochs(root):
    ws = Workspace.create(root)
    write_run(ws.new_run_file(), "done")
    path = ws.new_run_file()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITE_RUN + textwrap.dedent(f"""
            import sys, time
            writer = open_run({str(path)!r}, "killed", epochs=50)
            for e in range(1, 4):
                append(writer, e)
            print("ready", flush=True)
            time.sleep(120)
        """)], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout.readline().strip() == "ready"
        summary = {r.name: r for r in ws.runs()}["killed"]
        assert (summary.status, summary.epochs_done) == ("running", 3)  # its writer lives
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    summary = {r.name: r for r in ws.runs()}["killed"]
    assert (summary.status, summary.epochs_done) == ("stopped", 3)
    assert summary.message == "interrupted: its writer stopped after epoch 3"
    # The stored status says so too, so every reader agrees; the epochs replay.
    run = runfile.read_run(ws.run_path("killed"), "killed")
    assert (run.status, run.message, run.epochs_done) == ("stopped", summary.message, 3)
    views = Replay(ws.run_path("killed"), "killed").views()
    assert views.n_epochs == 3 and views.loss_and_metric.loss.shape == (4,)
    assert {r.name: r.status for r in ws.runs()} == {"done": "complete", "killed": "stopped"}


def test_a_writer_of_this_process_keeps_its_run_running_until_it_closes(root):
    ws = Workspace.create(root)
    path = ws.new_run_file()
    h = _helpers()
    writer = h["open_run"](path, "live", epochs=5)
    h["append"](writer, 1)
    try:
        assert [(r.status, r.epochs_done) for r in ws.runs()] == [("running", 1)]
        with pytest.raises(RunFileError, match="still being written"):
            ws.delete("live")
    finally:
        writer.close()  # without a status: as if the training had been cut off
    [summary] = ws.runs()
    assert (summary.status, summary.message) == (
        "stopped", "interrupted: its writer stopped after epoch 1")


def test_a_finished_run_sharing_a_file_with_a_run_being_written_is_kept_until_it_ends(root):
    # A seed sweep writes its runs into one file: one finished, the next still training.
    ws = Workspace.create(root)
    path = ws.new_run_file()
    write_run(path, "seed 1")
    h = _helpers()
    writer = h["open_run"](path, "seed 2", epochs=5)
    h["append"](writer, 1)
    try:
        with pytest.raises(RunFileError, match=r"^run 'seed 1' shares its file with runs still "
                                               "being written; delete it once they have"):
            ws.delete("seed 1")
        assert ws.run_names() == ["seed 1", "seed 2"]
        h["append"](writer, 2)
        writer.set_status("complete")
    finally:
        writer.close()
    ws.delete("seed 1")
    assert ws.run_names() == ["seed 2"] and ws.run_path("seed 2") == path
    assert runfile.read_run(path, "seed 2").epochs_done == 2


# -- a full disk ---------------------------------------------------------------------------

FULL_DISK = '''
import resource, signal, sys
from replay_core.store import runfile, writer as run_writer
from replay_core.errors import RunFileError
from replay_core.store.workspace import Workspace
{unchecked}
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
ws = Workspace(__import__("pathlib").Path({folder!r}))
path = ws.new_run_file()
writer = open_run(path, "big", epochs=100000, width=64)
limit = path.stat().st_size + {room}
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    for e in range(1, 100000):
        append(writer, e, width=64)
except RunFileError as exc:
    print(exc)
    writer.close()
    sys.exit(0)
sys.exit(3)
'''


@pytest.mark.parametrize("checked", [True, False], ids=["seen-before-writing", "write-fails"])
def test_a_full_disk_stops_the_run_with_one_sentence_and_keeps_the_others(root, checked):
    ws = Workspace.create(root)
    write_run(ws.new_run_file(), "before")
    before = runfile.read_run(ws.run_path("before"), "before")
    # "write-fails": the disk fills between the writer's check and its write (another
    # process), so h5py's write itself fails.
    unchecked = "" if checked else "run_writer._room = lambda path: None\n"
    done = run_python(FULL_DISK.format(unchecked=unchecked, folder=str(ws.folder), room=300_000))
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    assert lines[0].startswith("the disk is full: the run stopped after epoch ")
    assert lines[0].endswith("; its finished epochs are kept" if checked else
                             "; a write failed midway, so its file may not be readable")
    epochs = int(lines[0].split("after epoch ")[1].split(";")[0])
    assert epochs > 10
    assert "Traceback" not in done.stderr and "Segmentation" not in done.stderr

    # Every other run of the session reads back as it was.
    assert_same(runfile.read_run(ws.run_path("before"), "before"), before)
    runs = {r.name: r for r in ws.runs()}
    if checked:
        # Stopped before the write that would not fit: the file is whole.
        assert (runs["big"].status, runs["big"].epochs_done) == ("stopped", epochs)
        assert runs["big"].message == lines[0]
        assert Replay(ws.run_path("big"), "big").views().n_epochs == epochs
    elif "big" in runs:
        assert runs["big"].status == "stopped" and runs["big"].epochs_done <= epochs
    else:
        # The failed write damaged that run's own file: one sentence says so.
        [damaged] = ws.damaged_files()
        assert damaged.startswith("'run-") and "\n" not in damaged
    assert set(runs) - {"big"} == {"before"}


def test_a_full_disk_during_training_ends_it_with_one_error(root):
    ws = Workspace.create(root)
    write_run(ws.new_run_file(), "before")
    before = runfile.read_run(ws.run_path("before"), "before")
    done = run_python(f'''
        import resource, signal, sys
        from pathlib import Path
        sys.path.insert(0, {str(REPO / "tests")!r})
        from prebuilt_runs import small_spec
        from replay_core.train import trainer
        from replay_core.errors import RunFileError
        from replay_core.store.workspace import Workspace

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        ws = Workspace(Path({str(ws.folder)!r}))
        spec = small_spec(400, **{{"model.layers": [{{"units": 32, "activation": "tanh"}}]}})
        resource.setrlimit(resource.RLIMIT_FSIZE, (250_000, resource.RLIM_INFINITY))
        try:
            trainer.train(spec, ws.new_run_file(), "trained")
        except RunFileError as exc:
            print(exc)
            sys.exit(0)
        sys.exit(3)
    ''', timeout=300)
    assert done.returncode == 0, (done.stdout, done.stderr[-2000:])
    message = done.stdout.strip().splitlines()[-1]
    assert message.startswith("the disk is full: the run stopped after epoch ")
    runs = {r.name: r for r in ws.runs()}
    assert runs["trained"].status == "stopped"
    assert 0 < runs["trained"].epochs_done < 400
    assert_same(runfile.read_run(ws.run_path("before"), "before"), before)


def test_an_unreadable_run_file_is_reported_and_can_be_removed(root):
    ws = Workspace.create(root)
    write_run(ws.new_run_file(), "a")
    write_run(ws.new_run_file(), "b")
    damaged = ws.run_path("b")
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])  # cut short
    assert ws.run_names() == ["a"]
    [sentence] = ws.damaged_files()
    assert sentence.startswith(f"{damaged.name!r} ") and "\n" not in sentence
    assert ws.delete_damaged() == 1
    assert not damaged.exists() and ws.damaged_files() == [] and ws.run_names() == ["a"]


# -- the pages ----------------------------------------------------------------------------


def test_runs_page_reports_an_unreadable_file_and_removes_it(data_root):
    from test_pages import RUNS, button, check, open_app, texts

    sid = new_session_id()
    ws = Workspace.create(data_root / "sessions", sid)
    write_run(ws.new_run_file(), "a")
    ws.new_run_file().write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    at = open_app(sid, RUNS)
    [warning] = texts(at.warning)
    assert warning.startswith("1 run file(s) of this session cannot be read")
    table = at.dataframe[0].value
    assert list(table[table["status"] != "damaged"]["name"]) == ["a"]
    check(button(at, "Remove unreadable files").click().run())
    assert not at.warning and texts(at.success) == ["Removed 1 unreadable run file(s)."]
    assert [p.name for p in ws.folder.iterdir()] == [ws.run_path("a").name]


def test_train_page_over_the_session_quota_says_so_once(data_root, monkeypatch):
    from test_pages import button, check, open_app, texts

    monkeypatch.setenv("DEEPREPLAY_SESSION_QUOTA_MB", "1")
    sid = new_session_id()
    ws = Workspace.create(data_root / "sessions", sid)
    write_run(ws.new_run_file(), "a")
    fill(ws.folder, 1)
    at = open_app(sid)
    check(button(at, "Train").click().run())
    errors = texts(at.error)
    assert len(errors) == 1, errors
    assert errors[0].startswith("Training did not start: this session's runs take 1.0 MB of "
                                "its 1.0 MB; delete some on the Runs page")
    assert ws.run_names() == ["a"] and not at.success
