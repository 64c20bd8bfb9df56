"""Seed sweeps: parallel worker processes, one writer, reproducible runs, stop keeps finished."""

from __future__ import annotations

import threading

import h5py
import numpy as np
import pytest

from replay_core import cli
from replay_core.errors import TrainingLimitError
from replay_core.replay.replayer import Replay
from replay_core.store import runfile
from replay_core.train import machine, sweep
from replay_core.train.trainer import DEFAULT_MAX_COST
from tests.prebuilt_runs import small_spec

EPOCHS = 6


def _configs(epochs: int = EPOCHS) -> dict:
    return {"sigmoid": small_spec(epochs),
            "relu": small_spec(epochs, **{"model.layers": [{"units": 2, "activation": "relu",
                                                            "name": "hidden"}]})}


def _weights(path, name) -> list[np.ndarray]:
    with h5py.File(path, "r") as f:
        g = f[name]
        return [g[f"layer{i}/weights{j}"][()] for i in range(int(g.attrs["n_layers"]))
                for j in range(2)]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "sweep.h5"
    tasks = sweep.plan(_configs(), 3)
    progress: list[sweep.SweepProgress] = []
    result = sweep.run_sweep(tasks, path, workers=2, on_progress=progress.append)
    return path, tasks, result, progress


# -- planning -------------------------------------------------------------------------


def test_plan_pairs_every_configuration_with_every_seed():
    tasks = sweep.plan(_configs(), 4, taken=["relu seed 2"])
    assert [(t.config, t.seed) for t in tasks] == [
        (c, s) for c in ("sigmoid", "relu") for s in (1, 2, 3, 4)]
    assert [t.spec.training.seed for t in tasks] == [t.seed for t in tasks]
    names = [t.run_name for t in tasks]
    assert len(set(names)) == 8 and "relu seed 2" not in names and "relu seed 2 (2)" in names
    assert len({t.sweep_id for t in tasks}) == 1
    # Only the seed changes: everything else is the configuration's own spec.
    for task in tasks:
        expected = _configs()[task.config].replace(**{"training.seed": task.seed})
        assert task.spec == expected


@pytest.mark.parametrize("seeds, message", [
    (0, "1 to 200"), (201, "1 to 200"), ([3, 3], "differ"), ([], "1 to 200"), (True, "number"),
])
def test_plan_refuses_bad_seed_counts(seeds, message):
    with pytest.raises(sweep.SweepError, match=message):
        sweep.plan(_configs(), seeds)


def test_plan_refuses_no_configuration():
    with pytest.raises(sweep.SweepError, match="at least one"):
        sweep.plan({}, 3)


@pytest.mark.parametrize("files, cores, env, expected", [
    ({}, 8, None, 8),
    ({"/sys/fs/cgroup/cpu.max": "150000 100000"}, 16, None, 2),        # 1.5 cores -> 2
    ({"/sys/fs/cgroup/cpu.max": "max 100000"}, 4, None, 4),
    ({"/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "100000",
      "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000"}, 16, None, 1),
    ({"/proc/meminfo": f"MemAvailable: {3 * 900 * 1024} kB"}, 16, None, 3),
    ({"/sys/fs/cgroup/memory.max": str(2**31), "/sys/fs/cgroup/memory.current": str(2**30)},
     16, None, 1),                                                    # 1 GB left
    ({}, 8, "3", 3),
    ({}, 2, "5", 2),
])
def test_default_workers_follow_cores_quota_memory_and_the_cap(monkeypatch, files, cores, env,
                                                                expected):
    monkeypatch.setattr(machine, "_read", lambda path: files.get(path))
    monkeypatch.setattr(machine.os, "sched_getaffinity", lambda pid: set(range(cores)))
    if env is None:
        monkeypatch.delenv(sweep.WORKERS_ENV, raising=False)
    else:
        monkeypatch.setenv(sweep.WORKERS_ENV, env)
    assert sweep.default_workers() == expected


# -- running ----------------------------------------------------------------------------


def test_sweep_records_every_run_complete_with_its_seed(swept):
    path, tasks, result, _ = swept
    assert not result.stopped and result.failures == []
    assert [r.name for r in result.runs] == [t.run_name for t in tasks]
    summaries = {s.name: s for s in runfile.list_runs(path)}
    assert set(summaries) == {t.run_name for t in tasks}
    seeds = set()
    for task in tasks:
        s = summaries[task.run_name]
        assert (s.status, s.epochs_done) == ("complete", EPOCHS)
        assert s.spec["training"]["seed"] == task.seed
        assert s.sweep == {"id": task.sweep_id, "config": task.config, "seed": task.seed,
                           "index": task.index}
        seeds.add((task.config, task.seed))
    assert len(seeds) == 6
    assert sorted(runfile.validate_file(path)) == sorted(t.run_name for t in tasks)


def test_progress_counts_finished_runs(swept):
    _, tasks, _, progress = swept
    finished = [p for p in progress if p.last is not None]
    assert [p.done for p in finished] == list(range(1, len(tasks) + 1))
    assert all(p.total == len(tasks) for p in progress)
    # The runs of one graph train together: all of them may be running at once.
    assert max(p.running for p in progress) <= len(tasks)
    epochs = [p.epochs_done for p in progress]
    assert epochs == sorted(epochs) and progress[-1].epochs_done == progress[-1].epochs_total


def test_a_sweep_run_equals_the_same_spec_trained_alone(swept, tmp_path):
    from replay_core.train.trainer import train

    path, tasks, _, _ = swept
    for task in (tasks[1], tasks[4]):
        alone = tmp_path / f"{task.index}.h5"
        train(task.spec, alone, "alone")
        for a, b in zip(_weights(path, task.run_name), _weights(alone, "alone"), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_seeds_give_different_runs_and_same_seed_same_start(swept):
    path, tasks, _, _ = swept
    by = {(t.config, t.seed): t.run_name for t in tasks}
    first = [_weights(path, by[("sigmoid", s)])[0] for s in (1, 2, 3)]
    assert not np.allclose(first[0][0], first[1][0])          # other seed, other start
    # Same seed, other activation: the same initial weights, so seeds pair up.
    np.testing.assert_array_equal(_weights(path, by[("relu", 2)])[0][0], first[1][0])


def test_sweep_figures_match_a_replay_by_hand(swept):
    path, _, result, _ = swept
    for run in result.runs:
        replay = Replay(path, run.name)
        p = replay.predict_proba()
        correct = ((p > 0.5) == replay.targets[None, :].astype(bool)).all(axis=1)
        perfect = [e for e in range(1, replay.n_epochs + 1) if correct[e]]
        assert run.first_perfect_epoch == (perfect[0] if perfect else None)
        y = replay.targets
        pe = np.clip(p[-1], 1e-7, 1 - 1e-7)
        loss = -np.mean(y * np.log(pe) + (1 - y) * np.log(1 - pe))
        assert run.final_loss == pytest.approx(loss, rel=1e-4)
        assert run.final_accuracy == pytest.approx(np.mean((p[-1] > 0.5) == y))
    # Read back (replayed in float64) the figures are those the training program
    # computed in float32.
    read = sweep.read_sweep(path, result.sweep_id)
    assert [(r.name, r.status, r.epochs_done, r.first_perfect_epoch) for r in read] == [
        (r.name, r.status, r.epochs_done, r.first_perfect_epoch) for r in result.runs]
    for a, b in zip(read, result.runs):
        assert a.final_loss == pytest.approx(b.final_loss, rel=1e-5)
        assert a.final_accuracy == pytest.approx(b.final_accuracy, abs=1e-6)


def test_summarize_by_hand():
    runs = [sweep.SweepRun(f"a{i}", "a", i, "complete", 10, fp, loss, 1.0)
            for i, (fp, loss) in enumerate([(4, 0.1), (None, 0.5), (8, 0.2), (6, 0.3)])]
    runs.append(sweep.SweepRun("b1", "b", 1, "diverged", 3, None, float("nan"), 0.5))
    a, b = sweep.summarize(runs)
    assert (a.config, a.seeds, a.never, sorted(a.first_perfect)) == ("a", 4, 1, [4, 6, 8])
    assert a.median_first_perfect == 6 and a.never_share == 0.25
    assert a.median_final_loss == pytest.approx(0.25)
    assert (b.seeds, b.never, b.diverged, b.median_final_loss) == (1, 1, 1, None)
    table = sweep.summary_table(runs)
    assert "1 (25%)" in table and "6 [4-8]" in table


def test_stop_keeps_every_runs_finished_epochs(tmp_path):
    path = tmp_path / "stop.h5"
    tasks = sweep.plan({"sigmoid": small_spec(60)}, 6)
    stop = threading.Event()

    def on_progress(p):
        if p.epochs_done > 0:
            stop.set()

    result = sweep.run_sweep(tasks, path, workers=2, on_progress=on_progress, stop_event=stop)
    assert result.stopped
    # The six seeds train together: the stop ends them all midway, and keeps them.
    assert sorted([*result.kept_stopped, *(r.name for r in result.runs)]) == sorted(
        t.run_name for t in tasks)
    summaries = runfile.list_runs(path)
    assert sorted(s.name for s in summaries) == sorted(t.run_name for t in tasks)
    for s in summaries:
        assert (s.status == "complete" and s.epochs_done == 60) or (
            s.status == "stopped" and 1 <= s.epochs_done < 60)


def test_an_exception_in_progress_stops_and_keeps_finished_runs(tmp_path):
    path = tmp_path / "raise.h5"
    tasks = sweep.plan({"sigmoid": small_spec(60)}, 5)

    class Interrupted(BaseException):
        pass

    done = []

    def on_progress(p):
        if p.epochs_done > 0:
            done.append(p.epochs_done)
            raise Interrupted

    with pytest.raises(Interrupted):
        sweep.run_sweep(tasks, path, workers=2, on_progress=on_progress)
    assert done
    summaries = runfile.list_runs(path)
    # Every run keeps the epochs it finished, marked stopped (or complete).
    assert sorted(s.name for s in summaries) == sorted(t.run_name for t in tasks)
    assert all(s.status in ("stopped", "complete") and s.epochs_done >= 1
               for s in summaries)


def test_over_budget_sweep_writes_nothing(tmp_path):
    path = tmp_path / "budget.h5"
    with pytest.raises(TrainingLimitError, match="budget"):
        sweep.run_sweep(sweep.plan(_configs(), 2), path, max_budget=1000)
    assert not path.exists()


def test_names_already_in_the_file_are_refused(swept, tmp_path):
    path, tasks, _, _ = swept
    with pytest.raises(runfile.RunExistsError, match="already"):
        sweep.run_sweep(sweep.plan(_configs(), 1), path)


# -- command line -----------------------------------------------------------------------


def test_cli_sweep_prints_a_summary_and_records_the_runs(tmp_path, capsys):
    path = tmp_path / "cli.h5"
    code = cli.main(["sweep", "--preset", "reference", "--activations", "sigmoid,tanh",
                     "--seeds", "2", "--training.epochs", "4",
                     "--set", "dataset.params.n_samples=200", "--file", str(path), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    runs = runfile.list_runs(path)
    assert sorted((r.sweep["config"], r.sweep["seed"]) for r in runs) == [
        ("sigmoid", 1), ("sigmoid", 2), ("tanh", 1), ("tanh", 2)]
    lines = out.splitlines()
    assert lines[0].split()[0] == "configuration"
    rows = {line.split()[0]: line.split() for line in lines[2:4]}
    assert set(rows) == {"sigmoid", "tanh"} and rows["tanh"][1] == "2"
    summary = sweep.summarize(sweep.read_sweep(path, runs[0].sweep["id"]))
    for s in summary:
        assert rows[s.config][2] == str(s.seeds - s.never)


@pytest.mark.parametrize("args, message", [
    (["--activations", "sigmoid,nope"], "unknown activation"),
    (["--seeds", "0"], "1 to 200"),
    (["--workers", "0"], "at least 1"),
])
def test_cli_sweep_bad_arguments_give_one_error(tmp_path, capsys, args, message):
    base = {"--seeds": "2"}
    argv = ["sweep", "--file", str(tmp_path / "x.h5"), "--quiet", *args]
    if "--seeds" not in args:
        argv += ["--seeds", base["--seeds"]]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and "Traceback" not in err
    assert not (tmp_path / "x.h5").exists()


def test_a_sweep_trains_uploaded_csv_data_kept_beside_the_run_file(tmp_path):
    from replay_core.data import csv_data, presets

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    text = "a,b,c,label\n" + "".join(f"{r[0]:.4f},{r[1]:.4f},{r[2]:.4f},{t}\n"
                                     for r, t in zip(X, y))
    folder = tmp_path / "session"
    params = csv_data.store(csv_data.parse(text.encode(), "points.csv"), folder)
    spec = presets.get("reference").replace(**{
        "dataset.name": "csv", "dataset.params": params, "training.epochs": 3})
    path = folder / "runs.h5"
    result = sweep.run_sweep(sweep.plan({"csv": spec}, 2), path, workers=1,
                             max_budget=DEFAULT_MAX_COST)
    assert result.failures == [] and len(result.runs) == 2
    replay = Replay(path, result.runs[0].name)
    np.testing.assert_allclose(replay.inputs, X, atol=1e-4)
    # Elsewhere (another session's folder) the data is missing: one clear message.
    with pytest.raises(csv_data.CsvDataError, match="upload the same file"):
        sweep.run_sweep(sweep.plan({"csv": spec}, 1), tmp_path / "other.h5",
                        max_budget=DEFAULT_MAX_COST)


def test_a_sweeps_runs_are_listed_in_planned_order_whatever_their_start_times():
    from replay_core.store.runfile import RunSummary

    def summary(name, index, created):
        return RunSummary(name=name, status="complete", epochs_done=1, n_epochs=1, samples=1,
                          final_loss=None, final_acc=None, spec=None, created=created,
                          is_deepreplay=False, message="",
                          sweep={"id": "s", "config": name.split()[0], "seed": index + 1,
                                 "index": index})

    # Two workers: seed 2 started before seed 1 finished its first epoch.
    started = [summary("tanh seed 2", 1, "t1"), summary("tanh seed 1", 0, "t2"),
               summary("relu seed 1", 2, "t3")]
    grouped = sweep.group_sweeps(started)
    assert [r.name for r in grouped["s"]] == ["tanh seed 1", "tanh seed 2", "relu seed 1"]
