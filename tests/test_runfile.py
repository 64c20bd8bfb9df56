"""The run file: writing, reading (ours, DeepReplay's, cut-off runs), validating, managing.

Real HDF5 files in ``tmp_path``; no TensorFlow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
from deepreplay_fixture import write_deepreplay_run

from replay_core.errors import RunExistsError, RunFileError, RunNotFoundError
from replay_core.store import layout, runfile
from replay_core.store.runfile import RunWriter

ROOT = Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(0)
X = RNG.normal(size=(12, 2))
Y = (X[:, 0] > 0).astype(np.float64)
ACTIVATIONS = [{"name": "tanh"}, {"name": "sigmoid"}]


def _states(epochs: int, seed: int = 1) -> list[list[list[np.ndarray]]]:
    """Weights of a 2 -> 2 -> 1 network for the initial state and each epoch."""
    rng = np.random.default_rng(seed)
    return [[[rng.normal(size=(2, 2)).astype(np.float32), rng.normal(size=2).astype(np.float32)],
             [rng.normal(size=(2, 1)).astype(np.float32), rng.normal(size=1).astype(np.float32)]]
            for _ in range(epochs + 1)]


def _logs(epoch: int) -> dict[str, float]:
    return {"loss": 1.0 / epoch, "accuracy": 0.5 + epoch / 100, "learning_rate": 0.01}


def _writer(path, name="run", states=None, **kwargs) -> RunWriter:
    states = states or _states(0)
    options = dict(inputs=X, targets=Y, layer_names=["hidden", "output"],
                   activation_config=ACTIVATIONS, initial_weights=states[0], samples=len(X),
                   batch_size=5, n_epochs=3)
    options.update(kwargs)
    return RunWriter(path, name, **options)


def _write(path, name="run", epochs=3, status="complete", seed=1, **kwargs):
    states = _states(epochs, seed)
    with _writer(path, name, states, **kwargs) as writer:
        for e in range(1, epochs + 1):
            writer.append_epoch(states[e], _logs(e), lr=0.05 / e)
        if status is not None:
            writer.set_status(status)
    return states


def _assert_weights(run, states, epochs):
    for i in range(2):
        for j in range(2):
            expected = np.stack([state[i][j] for state in states[: epochs + 1]])
            np.testing.assert_array_equal(run.weights[i][j], expected)


# -- writing and reading our runs -----------------------------------------------------


def test_writer_layout_and_read_back(tmp_path):
    path = tmp_path / "runs.h5"
    states = _write(path, spec_json=json.dumps({"training": {"epochs": 3}}),
                    val_inputs=X[:4], val_targets=Y[:4])

    with h5py.File(path, "r") as f:
        g = f["run"]
        a = g.attrs
        assert a["format"] == runfile.FORMAT
        assert (a["status"], a["epochs_done"], a["n_epochs"]) == ("complete", 3, 3)
        assert (a["samples"], a["batch_size"], a["n_batches"], a["n_layers"]) == (12, 5, 3, 2)
        assert list(a["activation_functions"]) == [b"tanh", b"sigmoid"]
        assert list(a["layer_names"]) == [b"hidden", b"output"]
        assert json.loads(a["activation_config"]) == ACTIVATIONS
        assert set(json.loads(a["versions"])) == {"replay_core", "keras", "tensorflow", "h5py",
                                                  "numpy"}
        assert a["created"].endswith("+00:00")
        assert g["targets"].shape == (12, 1)
        for key in ("inputs", "targets", "loss", "acc", "lr", "layer0/weights0",
                    "layer1/weights1", "val_inputs"):
            assert g[key].dtype == np.float32, key
        for key in ("loss", "acc", "lr", "layer0/weights0", "layer0/weights1"):
            assert g[key].maxshape[0] is None and g[key].chunks[0] == 1, key
        assert g["layer0/weights0"].shape == (4, 2, 2)
        assert "learning_rate" not in g and "accuracy" not in g

    run = runfile.read_run(path, "run")
    assert (run.name, run.status, run.epochs_done, run.message) == ("run", "complete", 3, "")
    np.testing.assert_allclose(run.inputs, X.astype(np.float32))
    np.testing.assert_array_equal(run.targets, Y)
    assert run.targets.shape == (12,)
    np.testing.assert_allclose(run.val_inputs, X[:4].astype(np.float32))
    np.testing.assert_array_equal(run.val_targets, Y[:4])
    _assert_weights(run, states, 3)
    assert run.layer_names == ["hidden", "output"]
    assert run.activation_config == ACTIVATIONS
    assert sorted(run.logs) == ["acc", "loss", "lr"]
    np.testing.assert_allclose(run.logs["loss"], [1, 1 / 2, 1 / 3], rtol=1e-6)
    np.testing.assert_allclose(run.logs["acc"], [0.51, 0.52, 0.53], rtol=1e-6)
    np.testing.assert_allclose(run.logs["lr"], [0.05, 0.025, 0.05 / 3], rtol=1e-6)
    assert run.spec == {"training": {"epochs": 3}}
    assert run.attrs["n_batches"] == 3 and not run.is_deepreplay


def test_status_running_and_epochs_done_every_epoch(tmp_path):
    path = tmp_path / "runs.h5"
    states = _states(2)
    with _writer(path, states=states) as writer:
        assert runfile.read_run(path, "run").status == "running"
        assert runfile.read_run(path, "run").epochs_done == 0
        writer.append_epoch(states[1], _logs(1), lr=0.1)
        # Readable in the same process while the writer holds the file.
        run = runfile.read_run(path, "run")
        assert (run.status, run.epochs_done) == ("running", 1)
        assert run.weights[0][0].shape == (2, 2, 2)
        writer.set_status("stopped", "stopped by the user after epoch 1")
    run = runfile.read_run(path, "run")
    assert (run.status, run.message) == ("stopped", "stopped by the user after epoch 1")


def test_a_metric_first_seen_later_is_padded_with_nan(tmp_path):
    path = tmp_path / "runs.h5"
    states = _states(3)
    with _writer(path, states=states) as writer:
        writer.append_epoch(states[1], {"loss": 0.9}, lr=0.1)
        writer.append_epoch(states[2], {"loss": 0.8, "val_loss": 0.7, "val_accuracy": 0.6},
                            lr=0.1)
        writer.append_epoch(states[3], {"loss": 0.7}, lr=0.1)
    logs = runfile.read_run(path, "run").logs
    np.testing.assert_allclose(logs["val_loss"], [np.nan, 0.7, np.nan], rtol=1e-6)
    np.testing.assert_allclose(logs["val_acc"], [np.nan, 0.6, np.nan], rtol=1e-6)


def test_stored_logs_maps_keras_names():
    logs = {"loss": np.float32(0.5), "accuracy": 0.75, "val_accuracy": 0.5,
            "learning_rate": 0.1, "lr": 0.1, "mse": 0.2, "inputs": 1.0,
            "compile_metrics": {"accuracy": 0.75, "auc": 0.9}, "vector": [1.0, 2.0]}
    assert runfile.stored_logs(logs) == {"loss": 0.5, "acc": 0.75, "val_acc": 0.5,
                                         "mse": pytest.approx(0.2), "auc": 0.9}


def test_an_existing_run_name_is_refused_and_the_run_left_untouched(tmp_path):
    path = tmp_path / "runs.h5"
    states = _write(path, "a")

    with pytest.raises(RunExistsError) as info:
        _writer(path, "a", states=_states(0, seed=9))
    assert str(info.value) == "run 'a' already exists in 'runs.h5'; pick another name"

    run = runfile.read_run(path, "a")
    assert (run.status, run.epochs_done) == ("complete", 3)
    _assert_weights(run, states, 3)
    # The refused writer released the file: another run can be written.
    _write(path, "b", epochs=1)
    assert [s.name for s in runfile.list_runs(path)] == ["a", "b"]


@pytest.mark.parametrize(("name", "message"), [
    ("", "a run name cannot be empty"),
    ("a/b", "run name 'a/b' contains '/', which HDF5 reads as a path"),
    ("x" * 101, "run name 'xxxxxxxxxxxxxxxxxxxx'... is 101 characters long; the limit is 100"),
    (".", "run name '.' is reserved; pick another"),
])
def test_bad_run_names(tmp_path, name, message):
    with pytest.raises(RunFileError) as info:
        _writer(tmp_path / "runs.h5", name)
    assert str(info.value) == message
    assert not (tmp_path / "runs.h5").exists()


def test_a_100_character_name_is_fine(tmp_path):
    _write(tmp_path / "runs.h5", "x" * 100, epochs=1)
    assert runfile.read_run(tmp_path / "runs.h5", "x" * 100).epochs_done == 1


def test_writer_checks_its_arguments(tmp_path):
    path = tmp_path / "runs.h5"
    with pytest.raises(RunFileError, match=r"^run 'run': inputs has 12 rows but targets has 11$"):
        _writer(path, targets=Y[:11])
    with pytest.raises(RunFileError, match=r"^inputs must be 2-D \(samples, features\); got "
                                           r"shape \(12,\)$"):
        _writer(path, inputs=Y)
    with pytest.raises(RunFileError, match="2 layers of weights but 1 layer names"):
        _writer(path, layer_names=["only"])
    with pytest.raises(RunFileError, match="give both val_inputs and val_targets"):
        _writer(path, val_inputs=X)
    with pytest.raises(RunFileError, match="spec_json is not valid JSON"):
        _writer(path, spec_json="{nope")
    assert runfile.list_runs(path) == []


def test_writer_misuse(tmp_path):
    path = tmp_path / "runs.h5"
    states = _states(1)
    writer = _writer(path, states=states)
    with pytest.raises(RunFileError, match=r"epoch 1 gives layer1 weights of shapes "
                                           r"\[\(3, 1\), \(1,\)\]; the run stores"):
        writer.append_epoch([states[1][0], [np.zeros((3, 1)), np.zeros(1)]], {"loss": 1}, 0.1)
    with pytest.raises(RunFileError, match="status must be one of running, complete, stopped, "
                                           "diverged, failed; got 'done'"):
        writer.set_status("done")
    writer.close()
    writer.close()
    with pytest.raises(RunFileError, match=r"^run 'run' in 'runs.h5' is closed for writing$"):
        writer.append_epoch(states[1], {"loss": 1}, 0.1)
    assert runfile.read_run(path, "run").epochs_done == 0


def test_writer_refuses_a_file_that_is_not_hdf5(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("hello")
    with pytest.raises(RunFileError, match=r"^'notes.h5' is not an HDF5 file$"):
        _writer(path)
    with pytest.raises(RunFileError, match="its folder does not exist"):
        _writer(tmp_path / "missing" / "runs.h5")


def test_diverged_status_and_epoch(tmp_path):
    path = tmp_path / "runs.h5"
    states = _states(2)
    with _writer(path, states=states) as writer:
        writer.append_epoch(states[1], _logs(1), lr=0.1)
        writer.set_status("diverged", "loss became NaN at epoch 2", diverged_epoch=2)
    run = runfile.read_run(path, "run")
    assert (run.status, run.epochs_done, run.message) == (
        "diverged", 1, "loss became NaN at epoch 2")
    assert run.attrs["diverged_epoch"] == 2


# -- runs cut off mid-training ---------------------------------------------------------


_CHILD = textwrap.dedent("""
    import os, sys
    import numpy as np
    sys.path[:0] = [{root!r}, {tests!r}]
    from test_runfile import _states, _logs, _writer
    states = _states(5)
    writer = _writer({path!r}, states=states, n_epochs=5)
    for e in range(1, 4):
        writer.append_epoch(states[e], _logs(e), lr=0.1)
    mode = {mode!r}
    if mode == "extra-row":
        # Killed half-way through appending epoch 4: weights grew, epochs_done did not.
        ds = writer._group["layer0/weights0"]
        ds.resize(5, axis=0)
        ds[4] = states[4][0][0]
        writer._file.flush()
    if mode == "hold":
        print("ready", flush=True)
        sys.stdin.readline()
    os._exit(1)
""")


def _child(path, mode):
    code = _CHILD.format(root=str(ROOT), tests=str(ROOT / "tests"), path=str(path), mode=mode)
    return [sys.executable, "-c", code]


@pytest.mark.parametrize("mode", ["exit", "extra-row"])
def test_a_run_cut_off_mid_training_reads_its_finished_epochs(tmp_path, mode):
    path = tmp_path / "runs.h5"
    subprocess.run(_child(path, mode), check=False, timeout=60)

    run = runfile.read_run(path, "run")
    assert (run.status, run.epochs_done) == ("running", 3)
    _assert_weights(run, _states(5), 3)
    for layer in run.weights:
        for arrays in layer:
            assert arrays.shape[0] == 4
    assert all(len(values) == 3 for values in run.logs.values())
    [summary] = runfile.list_runs(path)
    assert (summary.status, summary.epochs_done, summary.n_epochs) == ("running", 3, 5)
    assert summary.final_loss == pytest.approx(1 / 3)
    assert runfile.validate_file(path) == ["run"]


def test_a_run_reads_while_another_process_holds_it_for_writing(tmp_path):
    path = tmp_path / "runs.h5"
    child = subprocess.Popen(_child(path, "hold"), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        run = runfile.read_run(path, "run")
        assert (run.status, run.epochs_done) == ("running", 3)
        assert [s.name for s in runfile.list_runs(path)] == ["run"]
        assert runfile.validate_file(path) == ["run"]
    finally:
        child.stdin.write("\n")
        child.stdin.close()
        child.wait(timeout=60)


# -- DeepReplay files ------------------------------------------------------------------


def _deepreplay(path, group="deepreplay", epochs=4, targets=None, **kwargs):
    states = _states(epochs, seed=3)
    losses = [0.7 - 0.1 * e for e in range(epochs)]
    accs = [0.5 + 0.1 * e for e in range(epochs)]
    targets = Y.reshape(-1, 1) if targets is None else targets
    write_deepreplay_run(path, group, states, X, targets, ["tanh", "sigmoid"], losses, accs,
                         **kwargs)
    return states, losses, accs


def test_deepreplay_fixture_layout(tmp_path):
    path = tmp_path / "dr.h5"
    _deepreplay(path)
    with h5py.File(path, "r") as f:
        g = f["deepreplay"]
        assert set(g.attrs) == {"samples", "batch_size", "n_batches", "n_epochs", "n_layers",
                                "activation_functions"}
        assert list(g.attrs["activation_functions"]) == [b"tanh", b"sigmoid"]
        assert g["loss"].shape == (4,) and g["loss"].maxshape == (4,)
        assert g["layer0/weights0"].shape == (5, 2, 2)
        assert g["layer0/weights0"].maxshape == (5, 2, 2)
        assert g["inputs"].dtype == np.float64


def test_deepreplay_file_reads_back(tmp_path):
    path = tmp_path / "dr.h5"
    states, losses, accs = _deepreplay(path)

    run = runfile.read_run(path, "deepreplay")

    assert run.is_deepreplay and run.status == "complete" and run.epochs_done == 4
    np.testing.assert_array_equal(run.inputs, X)
    np.testing.assert_array_equal(run.targets, Y)
    _assert_weights(run, states, 4)
    assert run.layer_names == ["layer0", "layer1"]
    assert run.activation_config == [{"name": "tanh"}, {"name": "sigmoid"}]
    assert sorted(run.logs) == ["acc", "loss"]
    np.testing.assert_allclose(run.logs["loss"], losses, rtol=1e-6)
    np.testing.assert_allclose(run.logs["acc"], accs, rtol=1e-6)
    assert run.spec is None and run.message == ""
    [summary] = runfile.list_runs(path)
    assert summary.is_deepreplay and summary.created is None
    assert (summary.epochs_done, summary.n_epochs, summary.samples) == (4, 4, 12)
    assert summary.final_loss == pytest.approx(0.4)
    assert summary.final_acc == pytest.approx(0.8)


def test_deepreplay_activation_layer_and_1d_targets(tmp_path):
    path = tmp_path / "dr.h5"
    rng = np.random.default_rng(0)
    states = [[[rng.normal(size=(2, 3)), rng.normal(size=3)], [],
               [rng.normal(size=(3, 1)), rng.normal(size=1)]] for _ in range(3)]
    write_deepreplay_run(path, "act", states, X, Y, ["linear", "relu", "sigmoid"],
                         [0.5, 0.4], [0.6, 0.7])

    run = runfile.read_run(path, "act")

    assert run.targets.shape == (12,)
    assert run.weights[1] == []
    assert run.activation_config == [{"name": "linear"},
                                     {"name": "relu", "layer": "activation"},
                                     {"name": "sigmoid"}]
    assert runfile.validate_file(path) == ["act"]


def test_a_cut_off_deepreplay_file_reads_the_epochs_it_wrote(tmp_path):
    # DeepReplay preallocated 6 epochs; training ended after 2 (cut off or early stopping).
    path = tmp_path / "dr.h5"
    states, losses, accs = _deepreplay(path, epochs=2, n_epochs=6)
    with h5py.File(path, "r") as f:
        assert f["deepreplay/loss"].shape == (6,)
        assert f["deepreplay/layer0/weights0"].shape == (7, 2, 2)

    run = runfile.read_run(path, "deepreplay")

    assert run.epochs_done == 2
    _assert_weights(run, states, 2)
    np.testing.assert_allclose(run.logs["loss"], losses, rtol=1e-6)
    [summary] = runfile.list_runs(path)
    assert (summary.epochs_done, summary.n_epochs) == (2, 6)
    assert summary.final_loss == pytest.approx(losses[-1])
    assert runfile.validate_file(path) == ["deepreplay"]


# -- validate_file ----------------------------------------------------------------------


def _fails(path, message, **kwargs):
    with pytest.raises(RunFileError) as info:
        runfile.validate_file(path, **kwargs)
    assert str(info.value) == message
    return info


def test_validate_refuses_files_that_are_not_run_files(tmp_path):
    text = tmp_path / "x.h5"
    text.write_text("not a run\n" * 100)
    _fails(text, "'x.h5' is not an HDF5 file")
    _fails(text, "'upload.h5' is not an HDF5 file", display_name="upload.h5")

    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    _fails(empty, "'empty.h5' is empty")

    _fails(tmp_path / "missing.h5", "'missing.h5' does not exist")

    no_runs = tmp_path / "none.h5"
    with h5py.File(no_runs, "w") as f:
        f.create_dataset("data", data=np.arange(3))
    _fails(no_runs, "'none.h5' holds no runs (a run is a group with inputs, targets, loss and "
                    "layer0, layer1... groups)")
    with h5py.File(no_runs, "a") as f:
        f.create_group("half").create_dataset("inputs", data=X)
    _fails(no_runs, "'none.h5' holds no runs (group 'half' lacks targets, loss, layer0)")

    truncated = tmp_path / "cut.h5"
    _write(tmp_path / "whole.h5")
    truncated.write_bytes((tmp_path / "whole.h5").read_bytes()[:1500])
    info = _fails_prefix(truncated, "'cut.h5' could not be opened as HDF5 (")
    assert not isinstance(info.value, OSError)


def _fails_prefix(path, prefix):
    with pytest.raises(RunFileError) as info:
        runfile.validate_file(path)
    assert str(info.value).startswith(prefix), str(info.value)
    return info


def test_validate_accepts_ours_deepreplay_and_userblock_files(tmp_path):
    path = tmp_path / "runs.h5"
    _write(path, "b")
    _write(path, "a", epochs=0, status=None)
    _deepreplay(path)
    # DeepReplay's run has no `created`: it sorts first; ours in the order they started.
    assert runfile.validate_file(path) == ["deepreplay", "b", "a"]
    assert [s.name for s in runfile.list_runs(path)] == ["deepreplay", "b", "a"]

    userblock = tmp_path / "ub.h5"
    with h5py.File(userblock, "w", userblock_size=1024):
        pass
    with open(userblock, "r+b") as fh:
        fh.write(b"# some header the writer kept\n")
    _deepreplay(userblock)
    assert runfile.validate_file(userblock) == ["deepreplay"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda g: _replace(g, "targets", np.zeros((4, 1))),
     "run 'run': inputs has 12 rows but targets has 4"),
    (lambda g: _replace(g, "inputs", np.zeros(12)),
     "run 'run': inputs has shape (12,); it must be 2-D"),
    (lambda g: _replace(g, "inputs", np.where(X > 1, np.nan, X)),
     f"run 'run': inputs holds {int(np.sum(X > 1))} NaN or infinite values"),
    (lambda g: _replace(g, "inputs", np.array([["a", "b"]] * 12, dtype="S1")),
     "run 'run': inputs has dtype string; it must hold plain numbers"),
    (lambda g: _replace(g, "layer1/weights0", np.zeros((4, 3, 1), np.float32)),
     "run 'run': layer1 kernel takes 3 inputs but layer0 gives 2 outputs"),
    (lambda g: _replace(g, "layer0/weights0", np.zeros((4, 3, 2), np.float32)),
     "run 'run': layer0 kernel takes 3 inputs but inputs has 2 columns"),
    (lambda g: _replace(g, "layer0/weights1", np.zeros((4, 3), np.float32)),
     "run 'run': layer0 bias has shape (3,) per epoch but its kernel has 2 units"),
    (lambda g: _replace(g, "layer1/weights0", np.zeros((0, 2, 1), np.float32)),
     "run 'run': layer1/weights0 holds no epochs (its first axis is 0)"),
    (lambda g: _replace(g, "layer1/weights0", np.zeros((2, 2, 1), np.float32)),
     "run 'run': layer1/weights0 has 2 epoch rows but the run records 3 epochs (it needs 4)"),
    (lambda g: g.attrs.__setitem__("activation_config", json.dumps([{"name": "tanh"},
                                                                    {"name": "foo"}])),
     "run 'run': layer1: unknown activation 'foo'; known activations: "),
    (lambda g: g.attrs.__setitem__("status", "paused"),
     "run 'run': status 'paused' is not one of running, complete, stopped, diverged, failed"),
    (lambda g: g.attrs.__setitem__("n_layers", 3),
     "run 'run': n_layers is 3 but the run has 2 layer groups (layer0, layer1...)"),
    (lambda g: g.attrs.__setitem__("spec", "{broken"),
     "run 'run': the spec attribute is not valid JSON"),
])
def test_validate_names_what_is_wrong_with_a_run(tmp_path, change, message):
    path = tmp_path / "bad.h5"
    _write(path)
    with h5py.File(path, "a") as f:
        change(f["run"])
    with pytest.raises(RunFileError) as info:
        runfile.validate_file(path)
    assert str(info.value).startswith(f"'bad.h5' {message}"), str(info.value)


def test_validate_checks_deepreplay_activation_names(tmp_path):
    path = tmp_path / "dr.h5"
    states = _states(1)
    write_deepreplay_run(path, "dr", states, X, Y, ["tanh", "sigmod"], [0.5], [0.5])
    with pytest.raises(RunFileError, match=r"^'dr.h5' run 'dr': layer1: unknown activation "
                                           r"'sigmod'"):
        runfile.validate_file(path)


def _replace(group, key, data):
    del group[key]
    group.create_dataset(key, data=data)


# -- list, delete, rename, copy -----------------------------------------------------------


def test_list_runs(tmp_path):
    path = tmp_path / "runs.h5"
    assert runfile.list_runs(path) == []
    _write(path, "done", spec_json=json.dumps({"a": 1}))
    _write(path, "empty", epochs=0, status=None)
    done, empty = runfile.list_runs(path)
    assert done == runfile.RunSummary(
        name="done", status="complete", epochs_done=3, n_epochs=3, samples=12,
        final_loss=pytest.approx(1 / 3), final_acc=pytest.approx(0.53), spec={"a": 1},
        created=done.created, is_deepreplay=False, message="")
    assert (empty.status, empty.epochs_done, empty.final_loss, empty.final_acc) == (
        "running", 0, None, None)
    assert done.created <= empty.created

    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(RunFileError, match=r"^'notes.txt' is not an HDF5 file$"):
        runfile.list_runs(text)


def test_read_run_errors(tmp_path):
    path = tmp_path / "runs.h5"
    with pytest.raises(RunNotFoundError, match=r"^no run 'a': 'runs.h5' does not exist$"):
        runfile.read_run(path, "a")
    _write(path, "a")
    _write(path, "b", epochs=1)
    with pytest.raises(RunNotFoundError) as info:
        runfile.read_run(path, "c")
    assert str(info.value) == "no run 'c' in 'runs.h5'; it holds 'a', 'b'"
    assert isinstance(info.value, KeyError)
    with h5py.File(path, "a") as f:
        f.create_group("misc")
    with pytest.raises(RunFileError, match=r"^'misc' in 'runs.h5' is not a run"):
        runfile.read_run(path, "misc")


def test_delete_run(tmp_path):
    path = tmp_path / "runs.h5"
    _write(path, "a")
    states = _write(path, "b")
    runfile.delete_run(path, "a")
    assert [s.name for s in runfile.list_runs(path)] == ["b"]
    _assert_weights(runfile.read_run(path, "b"), states, 3)
    with pytest.raises(RunNotFoundError, match=r"^no run 'a' in 'runs.h5'; it holds 'b'$"):
        runfile.delete_run(path, "a")
    with pytest.raises(RunNotFoundError, match="does not exist"):
        runfile.delete_run(tmp_path / "other.h5", "a")


def test_rename_run(tmp_path):
    path = tmp_path / "runs.h5"
    states = _write(path, "a")
    _write(path, "b")
    runfile.rename_run(path, "a", "first")
    run = runfile.read_run(path, "first")
    assert run.name == "first"
    _assert_weights(run, states, 3)
    # Renaming keeps the list order (oldest first).
    assert [s.name for s in runfile.list_runs(path)] == ["first", "b"]
    with pytest.raises(RunExistsError, match=r"^run 'b' already exists in 'runs.h5'; pick "
                                             r"another name$"):
        runfile.rename_run(path, "first", "b")
    with pytest.raises(RunNotFoundError, match=r"^no run 'a' in 'runs.h5'"):
        runfile.rename_run(path, "a", "c")
    with pytest.raises(RunFileError, match="contains '/'"):
        runfile.rename_run(path, "first", "x/y")
    runfile.rename_run(path, "b", "b")
    assert [s.name for s in runfile.list_runs(path)] == ["first", "b"]


def test_copy_runs(tmp_path):
    src, dst = tmp_path / "upload.h5", tmp_path / "session.h5"
    states_a = _write(src, "a", seed=1)
    _write(src, "b", seed=2)
    _deepreplay(src, "dr")
    _write(dst, "a", seed=5)

    with pytest.raises(RunExistsError, match=r"^run 'a' already exists in 'session.h5'; rename "
                                             r"it to copy it$"):
        runfile.copy_runs(src, dst)
    assert [s.name for s in runfile.list_runs(dst)] == ["a"]  # nothing copied

    assert runfile.copy_runs(src, dst, rename={"a": "a (2)"}) == ["dr", "a (2)", "b"]
    copied = runfile.read_run(dst, "a (2)")
    _assert_weights(copied, states_a, 3)
    with h5py.File(src, "r") as f, h5py.File(dst, "r") as g:
        assert dict(f["a"].attrs).keys() == dict(g["a (2)"].attrs).keys()
        assert f["a"].attrs["created"] == g["a (2)"].attrs["created"]
    assert runfile.read_run(dst, "dr").is_deepreplay
    # Oldest first by the time each run was started; DeepReplay runs have none.
    assert runfile.validate_file(dst) == ["dr", "a (2)", "b", "a"]

    export = tmp_path / "export.h5"
    assert runfile.copy_runs(dst, export, names=["b"]) == ["b"]
    assert runfile.validate_file(export) == ["b"]

    with pytest.raises(RunNotFoundError, match=r"^no run 'zz' in 'upload.h5'"):
        runfile.copy_runs(src, export, names=["zz"])
    with pytest.raises(RunExistsError, match="would be copied into 'export.h5' twice"):
        runfile.copy_runs(src, export, names=["a", "b"], rename={"a": "x", "b": "x"})
    assert runfile.copy_runs(export, export, names=["b"], rename={"b": "b copy"}) == ["b copy"]
    assert [s.name for s in runfile.list_runs(export)] == ["b", "b copy"]


def test_files_are_closed_after_each_call(tmp_path):
    path = tmp_path / "runs.h5"
    _write(path, "a")
    runfile.read_run(path, "a")
    runfile.list_runs(path)
    runfile.validate_file(path)
    # Nothing in this process holds the file: truncating mode works.
    with h5py.File(path, "w"):
        pass
    assert os.path.getsize(path) > 0


def test_append_epochs_writes_the_rows_of_one_append_epoch_each(tmp_path):
    import h5py

    path = tmp_path / "bulk.h5"
    states = _states(7, seed=3)
    # A log first seen at epoch 3 gets NaN before it, in both ways of writing.
    logs = [dict(_logs(e), **({"val_loss": 2.0 / e} if e >= 3 else {})) for e in range(1, 8)]
    with _writer(path, "single", states) as writer:
        for e in range(1, 8):
            writer.append_epoch(states[e], logs[e - 1], lr=0.1 / e)
    with _writer(path, "bulk", states) as writer:
        writer.append_epochs([(states[e], logs[e - 1], 0.1 / e) for e in (1, 2)])
        writer.append_epochs([(states[e], logs[e - 1], 0.1 / e) for e in range(3, 8)])
        assert writer.epochs_done == 7
        with pytest.raises(RunFileError, match="epoch 9 gives layer0"):
            writer.append_epochs([(states[1], logs[0], 0.1),
                                  ([[np.zeros((3, 2)), np.zeros(2)], states[1][1]], logs[0], 0.1)])
        assert writer.epochs_done == 7          # nothing of the bad batch was written
    with h5py.File(path, "r") as f:
        a, b = f["single"], f["bulk"]
        assert sorted(a) == sorted(b)
        for key in a:
            if isinstance(a[key], h5py.Dataset):
                np.testing.assert_array_equal(a[key][()], b[key][()], err_msg=key)
            else:
                for w in a[key]:
                    np.testing.assert_array_equal(a[key][w][()], b[key][w][()])
        assert np.isnan(b["val_loss"][:2]).all() and b["val_loss"][2] == np.float32(2 / 3)
        assert b.attrs["epochs_done"] == 7


# -- the read path on files it did not write ---------------------------------------------


def _padding_by_rows(loss, weights, epochs):
    """The zero-padding rule applied one epoch at a time, as a reference."""
    while epochs > 0 and loss[epochs - 1] == 0 and not any(np.any(w[epochs]) for w in weights):
        epochs -= 1
    return epochs


@pytest.mark.parametrize("scan_floats", [1, 7, 2_000_000])
def test_deepreplay_padding_is_found_block_by_block_as_row_by_row(tmp_path, monkeypatch,
                                                                   scan_floats):
    # Blocks of 1 row, of a few rows and of every row give the row-by-row answer, also
    # when a trailing epoch has a zero loss but weights (a trained epoch), or the reverse.
    monkeypatch.setattr(layout, "SCAN_FLOATS", scan_floats)
    rng = np.random.default_rng(4)
    for case in range(12):
        path = tmp_path / f"dr{case}.h5"
        trained = int(rng.integers(0, 6))
        states, _, _ = _deepreplay(path, epochs=trained, n_epochs=trained + int(
            rng.integers(0, 9)))
        with h5py.File(path, "a") as f:
            g = f["deepreplay"]
            for _ in range(int(rng.integers(0, 3))):  # zero losses among trained epochs
                if trained:
                    g["loss"][int(rng.integers(0, trained))] = 0
            if rng.random() < 0.3 and g["loss"].shape[0] > trained:  # weights, no loss
                g["layer1/weights1"][trained + 1] = 1.0
            loss = g["loss"][()]
            weights = [g[f"layer{i}/weights{j}"][()] for i in (0, 1) for j in (0, 1)]
        expected = _padding_by_rows(loss, weights, len(loss))
        assert runfile.read_run(path, "deepreplay").epochs_done == expected, case
        assert runfile.list_runs(path)[0].epochs_done == expected


def test_readers_follow_no_link_and_read_no_data_kept_elsewhere(tmp_path):
    path = tmp_path / "runs.h5"
    _write(path, "a")
    other = tmp_path / "other.h5"
    _write(other, "private")
    with h5py.File(path, "a") as f:
        f["elsewhere"] = h5py.ExternalLink(str(other), "/private")
        f["alias"] = h5py.SoftLink("/a")
        f["dangling"] = h5py.ExternalLink(str(tmp_path / "missing.h5"), "/x")
    # Runs reached through links are not runs of this file.
    assert [s.name for s in runfile.list_runs(path)] == ["a"]
    for name in ("elsewhere", "alias", "dangling"):
        with pytest.raises(RunNotFoundError, match=rf"^no run '{name}' in 'runs.h5'; it "
                                                   r"holds 'a'$"):
            runfile.read_run(path, name)
    with h5py.File(path, "a") as f:
        del f["a/acc"]
        f["a/acc"] = h5py.ExternalLink(str(other), "/private/acc")
    with pytest.raises(RunFileError, match=r"^run 'a' in 'runs.h5': acc is an external link; "
                                           r"a run file may not point elsewhere$"):
        runfile.read_run(path, "a")


def test_a_dataset_with_an_unknown_filter_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "runs.h5"
    _write(path, "a")
    with h5py.File(path, "a") as f:
        del f["a/lr"]
        plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        plist.set_chunk((3,))
        plist.set_filter(32001, h5py.h5z.FLAG_OPTIONAL)  # blosc, not registered here
        space = h5py.h5s.create_simple((3,))
        h5py.h5d.create(f["a"].id, b"lr", h5py.h5t.NATIVE_FLOAT, space, dcpl=plist)
    for read in (lambda: runfile.read_run(path, "a"), lambda: runfile.validate_file(path)):
        with pytest.raises(RunFileError, match="lr uses HDF5 filter 32001; a run file may "
                                               "use only deflate"):
            read()


def test_odd_attribute_values_are_run_file_errors(tmp_path):
    path = tmp_path / "runs.h5"
    _write(path, "a")
    with h5py.File(path, "a") as f:
        f["a"].attrs["epochs_done"] = "three"
    for read in (lambda: runfile.read_run(path, "a"), lambda: runfile.list_runs(path)):
        with pytest.raises(RunFileError, match="the epochs_done attribute must be a whole "
                                               "number"):
            read()
    with h5py.File(path, "a") as f:
        f["a"].attrs["epochs_done"] = 3
        f["a"].attrs["activation_config"] = "[" * 30 + "]" * 30
    with pytest.raises(RunFileError, match="the activation_config attribute nests 30 levels "
                                           "deep; the limit is 20"):
        runfile.read_run(path, "a")


def test_copy_runs_carries_no_link_or_external_data_along(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("tangerine " * 10)
    src = tmp_path / "runs.h5"
    _write(src, "a")
    with h5py.File(src, "a") as f:
        del f["a/lr"]
        f["a"].create_dataset("lr", shape=(3,), dtype="f4",
                              external=[(str(secret), 0, h5py.h5f.UNLIMITED)])
    with pytest.raises(RunFileError, match=r"^'runs.h5' run 'a': lr keeps its data in an "
                                           r"external file"):
        runfile.copy_runs(src, tmp_path / "export.h5")
    assert not (tmp_path / "export.h5").exists()


def test_an_attribute_name_that_is_not_utf8_is_ignored(tmp_path):
    path = tmp_path / "runs.h5"
    states = _write(path, epochs=2)
    with h5py.File(path, "a") as f:
        space = h5py.h5s.create(h5py.h5s.SCALAR)
        h5py.h5a.create(f["run"].id, b"\xff\xfe odd", h5py.h5t.STD_I32LE, space).close()
    run = runfile.read_run(path, "run")
    _assert_weights(run, states, 2)
    assert all(isinstance(k, str) for k in run.attrs)
    assert [r.name for r in runfile.list_runs(path)] == ["run"]
