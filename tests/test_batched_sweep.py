"""A batched seed sweep records the same runs as the single-run trainer, run by run.

Four configurations x 4 seeds (SGD with momentum, a plateau schedule and early stopping
with a validation split; the same with relu, trained in the same program; Adam; linear
layers with a rate that makes the runs diverge)
trained as one sweep, then each spec trained alone by ``trainer.train``: every stored
epoch's weights, logs and learning rate, the status, the epoch a run diverged or stopped
early at, and the sweep's figures (against the Replay page's) must agree.
"""

from __future__ import annotations

import dataclasses
import threading

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
from replay_core.store import runfile
from replay_core.train import batched, pool, sweep, sweep_running, trainer

SEEDS = 4


def _spec(**training) -> RunSpec:
    dataset = DatasetSpec("parabola", {"n_samples": 160, "noise": 0.0}, seed=3,
                          validation_split=0.25)
    model = ModelSpec(layers=(LayerSpec(2, "sigmoid", name="hidden"),))
    base = dict(optimizer="sgd", learning_rate=0.5, momentum=0.9, batch_size=16, epochs=10)
    return RunSpec(dataset, model, TrainingSpec(**{**base, **training}))


def _configs() -> dict[str, RunSpec]:
    # Two linear layers of 8 with a rate of 2 and momentum: the weights grow until the
    # loss is NaN, at epoch 2 or 3 depending on the seed. Growing that fast, any float32
    # difference of the last bit would grow too: the run must be its alone bit for bit.
    wild = _spec(learning_rate=2.0, momentum=0.9)
    wild = dataclasses.replace(wild, model=ModelSpec(layers=(
        LayerSpec(8, "linear", name="h1"), LayerSpec(8, "linear", name="h2"))))
    return {
        "sgd": _spec(reduce_lr=ReduceLROnPlateauSpec("loss", factor=0.5, patience=1),
                     early_stopping=EarlyStoppingSpec("val_loss", patience=2, min_delta=0.01)),
        # Same graph as "sgd" but for its activation: trained in the same program.
        "relu": dataclasses.replace(_spec(learning_rate=0.2, momentum=0.5, epochs=7),
                                    model=ModelSpec(layers=(LayerSpec(2, "relu",
                                                                      name="hidden"),))),
        "adam": _spec(optimizer="adam", learning_rate=0.02, momentum=0.0, epochs=6),
        "wild": wild,
    }


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    folder = tmp_path_factory.mktemp("batched")
    tasks = sweep.plan(_configs(), SEEDS)
    result = sweep.run_sweep(tasks, folder / "sweep.h5", in_process=True)
    alone = {task.run_name: trainer.train(task.spec, folder / "alone.h5", task.run_name)
             for task in tasks}
    return tasks, result, folder / "sweep.h5", folder / "alone.h5", alone


def test_every_run_is_the_run_trained_alone(swept: tuple) -> None:
    tasks, result, sweep_file, alone_file, alone = swept
    assert not result.failures
    statuses = set()
    with h5py.File(sweep_file, "r") as a, h5py.File(alone_file, "r") as b:
        for task in tasks:
            ga, gb = a[task.run_name], b[task.run_name]
            for attr in ("status", "epochs_done", "n_epochs", "batch_size", "samples"):
                assert ga.attrs[attr] == gb.attrs[attr], (task.run_name, attr)
            assert ga.attrs.get("diverged_epoch") == gb.attrs.get("diverged_epoch")
            assert ga.attrs.get("message", "") == gb.attrs.get("message", "")
            statuses.add((task.config, str(ga.attrs["status"])))
            for layer in range(len(ga.attrs["activation_functions"])):
                for w in range(2):
                    key = f"layer{layer}/weights{w}"
                    np.testing.assert_allclose(ga[key][:], gb[key][:], rtol=0.0, atol=1e-6,
                                               err_msg=f"{task.run_name} {key}")
            for key in ("loss", "acc", "val_loss", "val_acc"):
                np.testing.assert_allclose(ga[key][:], gb[key][:], rtol=1e-5, atol=1e-6,
                                           err_msg=f"{task.run_name} {key}")
            np.testing.assert_array_equal(ga["lr"][:], gb["lr"][:])
            np.testing.assert_array_equal(ga["inputs"][:], gb["inputs"][:])
            assert ga.attrs["sweep"]
    # The settings did what they are there for: early stops, a plateau's lower rate,
    # divergence (each compared above with the run trained alone).
    assert ("wild", "diverged") in statuses
    early = [t for t in tasks if alone[t.run_name].message.startswith("early stopping")]
    assert early
    assert any(min(alone[t.run_name].history["learning_rate"]) < 0.5 for t in tasks
               if t.config == "sgd")


def test_results_match_the_single_trainer_and_the_replay(swept: tuple) -> None:
    tasks, result, sweep_file, _, alone = swept
    by_name = {run.name: run for run in result.runs}
    for task in tasks:
        single = alone[task.run_name]
        run = by_name[task.run_name]
        assert (run.status, run.epochs_done, run.message) == (
            single.status, single.epochs_done, single.message)
        # The sweep's figures come from the training program (float32); the Replay
        # page's from the file, in numpy (float64).
        replayed = sweep.describe_run(sweep_file, task.run_name, task)
        assert run.first_perfect_epoch == replayed.first_perfect_epoch
        assert run.final_accuracy == pytest.approx(replayed.final_accuracy, abs=1e-6)
        assert run.final_loss == pytest.approx(replayed.final_loss, rel=1e-4, abs=1e-6)


def test_groups_follow_the_graph() -> None:
    configs = _configs()
    slower = dataclasses.replace(configs["sgd"], training=dataclasses.replace(
        configs["sgd"].training, learning_rate=0.1, seed=7, epochs=3))
    specs = [configs["sgd"], configs["adam"], slower, configs["wild"], configs["relu"]]
    assert batched.group_specs(specs) == [[0, 2, 4], [1], [3]]


def test_a_stop_keeps_every_runs_finished_epochs(tmp_path, monkeypatch) -> None:
    # Every epoch its own chunk, so progress sees each one and the stop lands after two.
    monkeypatch.setattr(pool, "CHUNK_S", 0.0)
    tasks = sweep.plan({"sgd": _spec(momentum=0.0)}, 3)
    stop = threading.Event()
    seen: list[sweep.SweepProgress] = []

    def progress(p: sweep.SweepProgress) -> None:
        seen.append(p)
        if p.epochs_done >= 6:  # two epochs of each of the three runs
            stop.set()

    sweep_running.HEARTBEAT_S, saved = 0.0, sweep_running.HEARTBEAT_S
    try:
        result = sweep.run_sweep(tasks, tmp_path / "s.h5", in_process=True,
                                 on_progress=progress, stop_event=stop)
    finally:
        sweep_running.HEARTBEAT_S = saved
    assert result.stopped and not result.runs
    assert result.kept_stopped == [t.run_name for t in tasks]
    summaries = {s.name: s for s in runfile.list_runs(tmp_path / "s.h5")}
    for task in tasks:
        assert summaries[task.run_name].status == "stopped"
        assert summaries[task.run_name].epochs_done == 2
    assert seen[-1].epochs_total == 30
