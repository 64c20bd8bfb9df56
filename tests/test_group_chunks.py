"""A group of runs sends its epochs in chunks and the server writes a chunk at once.

The runs of one graph (a seed sweep's group) train in a worker that sends each run's
epochs as chunks (``pool.ChunkedForwardingWriter``); the server's job manager writes each
chunk with one HDF5 write per dataset (``RunWriter.append_stacked``). Here the worker's
messages go straight to a job manager in this process (the messages a worker pipes to
the server), and the file it writes is compared with the same group written epoch by
epoch by plain ``RunWriter`` s (``batched.train_group`` without a writer factory): after
a whole group, after a stop that lands while every run holds unsent epochs, and after the
worker dies midway (its runs ``failed``, the epochs that reached the server kept).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import h5py
import numpy as np
import pytest

from replay_core.data.spec import (
    DatasetSpec,
    EarlyStoppingSpec,
    LayerSpec,
    ModelSpec,
    ReduceLROnPlateauSpec,
    RunSpec,
    TrainingSpec,
)
from replay_core.train import batched, pool, sweep
from studio.job_manager import _Job, _Manager, _Run

SEEDS = 2
# Bytes of one epoch of the group's weights: 4 runs of 9 float32 (2x2 + 2, 2x1 + 1).
GROUP_EPOCH_BYTES = 2 * SEEDS * 9 * 4


def _spec(**training) -> RunSpec:
    dataset = DatasetSpec("parabola", {"n_samples": 160, "noise": 0.0}, seed=3,
                          validation_split=0.25)
    model = ModelSpec(layers=(LayerSpec(2, "sigmoid", name="hidden"),))
    base = dict(optimizer="sgd", learning_rate=0.5, momentum=0.9, batch_size=16, epochs=10)
    return RunSpec(dataset, model, TrainingSpec(**{**base, **training}))


def _tasks() -> list:
    # One graph, runs that end at different epochs: early stopping and a plateau
    # schedule (sigmoid), fewer epochs (relu, computed in the same program).
    configs = {
        "sgd": _spec(reduce_lr=ReduceLROnPlateauSpec("loss", factor=0.5, patience=1),
                     early_stopping=EarlyStoppingSpec("val_loss", patience=2, min_delta=0.01)),
        "relu": dataclasses.replace(_spec(learning_rate=0.2, momentum=0.5, epochs=7),
                                    model=ModelSpec(layers=(LayerSpec(2, "relu",
                                                                      name="hidden"),))),
    }
    tasks = sweep.plan(configs, SEEDS)
    assert len(batched.group_specs([t.spec for t in tasks])) == 1
    return tasks


@pytest.fixture(scope="module")
def per_epoch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The group written epoch by epoch by plain RunWriters (one flush per epoch)."""
    path = tmp_path_factory.mktemp("per-epoch") / "group.h5"
    tasks = _tasks()
    batched._PROGRAMS.clear()  # a program compiled for this group, not a kept one
    batched.train_group([t.spec for t in tasks], path, [t.run_name for t in tasks])
    return path


class _ToManager:
    """A worker's pipe into a job manager of this process; after ``cut_after`` chunks of
    epochs it delivers nothing more (the worker died with the rest in flight)."""

    def __init__(self, manager: _Manager, cut_after: int | None = None) -> None:
        self.manager = manager
        self.cut_after = cut_after
        self.chunks: list[int] = []           # epochs in each chunk sent
        self.sent: dict[object, int] = {}     # epochs of each run that reached the server
        self.done: dict[object, tuple] = {}   # the worker's ("done", ...) per run

    def put(self, msg: tuple) -> None:
        if self.cut_after is not None and len(self.chunks) >= self.cut_after:
            return
        if msg[0] == "epochs":
            self.chunks.append(len(msg[4]))
            self.sent[msg[1]] = self.sent.get(msg[1], 0) + len(msg[4])
        elif msg[0] == "done":
            self.done[msg[1]] = msg
        self.manager.handle(msg)


class _StopAfter:
    """A stop request that lands after ``epochs`` epochs of the group."""

    def __init__(self, epochs: int) -> None:
        self.left = epochs

    def is_set(self) -> bool:
        self.left -= 1
        return self.left <= 0


def _sweep_job(tasks: list, path: Path) -> tuple[_Manager, _Job, pool.GroupUnit]:
    """A sweep job of the server's job manager, as ``jobs.submit_sweep`` makes one."""
    manager = _Manager()
    runs = {("job", t.index): _Run(t.run_name, t.spec.training.epochs,
                                   sweep={"id": t.sweep_id, "config": t.config,
                                          "seed": t.seed, "index": t.index})
            for t in tasks}
    unit = pool.GroupUnit(tuple(tasks), str(path), keys=tuple(runs), seq=1)
    job = _Job("job", 1, str(path.parent), "sweep", "chunks", str(path), runs, [], 1,
               sweep_id=tasks[0].sweep_id, state="running", running_units={1})
    manager.jobs[job.id] = job
    return manager, job, unit


def _datasets(group: h5py.Group) -> list[str]:
    names: list[str] = []
    group.visititems(lambda key, obj: names.append(key)
                     if isinstance(obj, h5py.Dataset) else None)
    return sorted(names)


def _assert_prefix(path: Path, reference: Path, name: str, epochs: int) -> None:
    """Run ``name`` of ``path`` holds ``epochs`` epochs, those of ``reference`` exactly."""
    with h5py.File(path, "r") as f, h5py.File(reference, "r") as g:
        a, b = f[name], g[name]
        assert a.attrs["epochs_done"] == epochs
        for layer in range(int(b.attrs["n_layers"])):
            for w in (0, 1):
                key = f"layer{layer}/weights{w}"
                assert a[key].shape[0] == epochs + 1, key
                np.testing.assert_array_equal(a[key][()], b[key][: epochs + 1], err_msg=key)
        for key in ("loss", "acc", "val_loss", "val_acc", "lr"):
            assert a[key].shape == (epochs,), key
            np.testing.assert_array_equal(a[key][()], b[key][:epochs], err_msg=key)


def test_a_chunked_group_writes_what_a_per_epoch_writer_writes(per_epoch, tmp_path,
                                                               monkeypatch):
    # Chunks by size here (about three epochs of the group's weights), so every run
    # sends several chunks of several epochs whatever the machine's speed.
    monkeypatch.setattr(pool, "CHUNK_S", 1e9)
    monkeypatch.setattr(pool, "CHUNK_BYTES", 3 * GROUP_EPOCH_BYTES)
    tasks = _tasks()
    path = tmp_path / "chunked.h5"
    manager, job, unit = _sweep_job(tasks, path)
    events = _ToManager(manager)
    pool.train_group_unit(unit, events, _StopAfter(10**6), 0)
    assert max(events.chunks) > 1 and len(events.chunks) > len(tasks)
    job.running_units.clear()
    manager.end(job)
    assert job.state == "done", job.message
    with h5py.File(path, "r") as f, h5py.File(per_epoch, "r") as g:
        assert sorted(f) == sorted(g) == sorted(t.run_name for t in tasks)
        for t in tasks:
            a, b = f[t.run_name], g[t.run_name]
            for attr in ("status", "message", "epochs_done", "n_epochs"):
                assert a.attrs.get(attr) == b.attrs.get(attr), (t.run_name, attr)
            assert _datasets(a) == _datasets(b)
            for key in _datasets(a):
                np.testing.assert_array_equal(a[key][()], b[key][()],
                                              err_msg=f"{t.run_name} {key}")
            assert events.sent[("job", t.index)] == b.attrs["epochs_done"]
        messages = [str(g[t.run_name].attrs.get("message", "")) for t in tasks]
    assert any(m.startswith("early stopping") for m in messages)


def test_a_stop_mid_group_keeps_every_epoch_the_worker_finished(per_epoch, tmp_path,
                                                                 monkeypatch):
    # Nothing is sent before the stop: every run holds all its epochs when it comes.
    monkeypatch.setattr(pool, "CHUNK_S", 1e9)
    tasks = _tasks()
    path = tmp_path / "stopped.h5"
    manager, job, unit = _sweep_job(tasks, path)
    events = _ToManager(manager)
    pool.train_group_unit(unit, events, _StopAfter(4), 0)
    assert len(events.chunks) == len(tasks)  # one chunk each, sent by the stop
    job.running_units.clear()
    job.stop_requested = True
    manager.end(job)
    assert job.state == "stopped"
    with h5py.File(path, "r") as f:
        statuses = {name: str(f[name].attrs["status"]) for name in f}
    for t in tasks:
        reported = events.done[("job", t.index)][4]   # the worker's epochs_done
        assert reported == 4 and events.sent[("job", t.index)] == 4
        assert statuses[t.run_name] == "stopped"
        _assert_prefix(path, per_epoch, t.run_name, reported)


def test_a_worker_that_dies_midway_leaves_its_runs_failed_with_the_epochs_it_sent(
        per_epoch, tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "CHUNK_S", 1e9)
    monkeypatch.setattr(pool, "CHUNK_BYTES", 3 * GROUP_EPOCH_BYTES)
    tasks = _tasks()
    path = tmp_path / "died.h5"
    manager, job, unit = _sweep_job(tasks, path)
    # The pipe goes dead after the first chunk of every run: the rest is lost.
    events = _ToManager(manager, cut_after=len(tasks))
    pool.train_group_unit(unit, events, _StopAfter(10**6), 0)
    manager.worker_died(unit)
    manager.end(job)
    assert job.state == "failed"
    with h5py.File(path, "r") as f:
        stored = {name: (str(f[name].attrs["status"]), str(f[name].attrs["message"]))
                  for name in f}
    for t in tasks:
        sent = events.sent[("job", t.index)]
        assert 1 <= sent < 7
        assert stored[t.run_name] == ("failed",
                                      f"its worker process ended after epoch {sent}")
        _assert_prefix(path, per_epoch, t.run_name, sent)


def test_a_kept_program_trains_the_next_group_as_a_new_one_would(per_epoch, tmp_path):
    # Other seeds first (the program is kept), then the fixture's group on that program:
    # the same file as the fixture's new program wrote.
    tasks = _tasks()
    others = [t.spec.replace(**{"training.seed": t.seed + 10}) for t in tasks]
    names = [t.run_name for t in tasks]
    batched._PROGRAMS.clear()
    batched.train_group(others, tmp_path / "others.h5", names)
    (program,) = batched._PROGRAMS.values()
    traces = program.traces
    batched.train_group([t.spec for t in tasks], tmp_path / "again.h5", names)
    assert list(batched._PROGRAMS.values()) == [program] and program.traces == traces
    with h5py.File(tmp_path / "again.h5", "r") as f, h5py.File(per_epoch, "r") as g:
        for name in names:
            assert _datasets(f[name]) == _datasets(g[name])
            for key in _datasets(f[name]):
                np.testing.assert_array_equal(f[name][key][()], g[name][key][()],
                                              err_msg=f"{name} {key}")
            assert f[name].attrs["status"] == g[name].attrs["status"]
    with h5py.File(tmp_path / "others.h5", "r") as f, h5py.File(per_epoch, "r") as g:
        # The other seeds started from weights of their own.
        for name in names:
            assert not np.array_equal(f[name]["layer0/weights0"][0], g[name]["layer0/weights0"][0])
