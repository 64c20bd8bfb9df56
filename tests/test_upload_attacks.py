"""Uploaded run files that try to reach outside themselves or exhaust the server are refused.

Each hostile file is built with h5py in the test; each refusal is a ``RunFileError`` naming
the problem, and the destination file is never created. Runs of ours and DeepReplay's
import, and replay exactly as before. No TensorFlow except for the prebuilt trained run.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
from deepreplay_fixture import write_deepreplay_run
from prebuilt_runs import DEEPREPLAY_RUN, SMALL_RUN, session_prebuilt_runs

from replay_core.errors import ReplayError, RunFileError
from replay_core.replay.replayer import Replay
from replay_core.store import runfile, upload
from replay_core.store.runfile import RunWriter

ROOT = Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(3)
X = RNG.normal(size=(12, 2))
Y = (X[:, 0] > 0).astype(np.float64)
SECRET = "the-secret-is-tangerine-42"


@pytest.fixture(scope="session")
def prebuilt(tmp_path_factory):
    return session_prebuilt_runs(tmp_path_factory)


def _states(epochs: int, seed: int = 1) -> list[list[list[np.ndarray]]]:
    rng = np.random.default_rng(seed)
    return [[[rng.normal(size=(2, 2)).astype(np.float32), rng.normal(size=2).astype(np.float32)],
             [rng.normal(size=(2, 1)).astype(np.float32), rng.normal(size=1).astype(np.float32)]]
            for _ in range(epochs + 1)]


def _our_run(path, name="run", epochs=3, **kwargs):
    """A 2 -> 2 tanh -> 1 sigmoid run written by RunWriter, as training writes one."""
    states = _states(epochs)
    options = dict(inputs=X, targets=Y, layer_names=["hidden", "output"],
                   activation_config=[{"name": "tanh"}, {"name": "sigmoid"}],
                   initial_weights=states[0], samples=len(X), batch_size=4, n_epochs=epochs)
    options.update(kwargs)
    with RunWriter(path, name, **options) as writer:
        for e in range(1, epochs + 1):
            writer.append_epoch(states[e], {"loss": 1.0 / e, "accuracy": 0.5}, lr=0.05)
        writer.set_status("complete")
    return path


def _deepreplay_run(path, name="dr", epochs=3, n_epochs=None, activations=("tanh", "sigmoid")):
    write_deepreplay_run(path, name, _states(epochs), X, Y.reshape(-1, 1), list(activations),
                         list(np.linspace(0.7, 0.5, epochs)), [0.5] * epochs,
                         n_epochs=n_epochs)
    return path


def _replace(group, key, **create):
    del group[key]
    group.create_dataset(key, **create)


def _refused(src, tmp_path, *fragments) -> str:
    """Import ``src``: it must be refused with every fragment in the message, dst unwritten."""
    dst = tmp_path / "dst.h5"
    with pytest.raises(RunFileError) as info:
        upload.import_file(src, dst, "upload.h5")
    message = str(info.value)
    assert message.startswith("'upload.h5'"), message
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message and "Traceback" not in message
    assert not dst.exists()
    return message


def _walk_links_and_storage(path) -> list[str]:
    """Every problem of a written file: links that are not hard, external or virtual data."""
    problems = []
    with h5py.File(path, "r") as f:
        stack = [f["/"]]
        while stack:
            group = stack.pop()
            for name in group:
                link = group.get(name, getlink=True)
                if not isinstance(link, h5py.HardLink):
                    problems.append(f"{group.name}/{name} is {type(link).__name__}")
                    continue
                obj = group[name]
                if isinstance(obj, h5py.Group):
                    stack.append(obj)
                elif obj.external or obj.is_virtual:
                    problems.append(f"{obj.name} keeps its data elsewhere")
    return problems


# -- runs that should import ------------------------------------------------------------


def _assert_same_run(a: runfile.RunData, b: runfile.RunData) -> None:
    for field in ("inputs", "targets", "val_inputs", "val_targets"):
        x, y = getattr(a, field), getattr(b, field)
        assert (x is None and y is None) or np.array_equal(x, y), field
    assert len(a.weights) == len(b.weights)
    for la, lb in zip(a.weights, b.weights):
        assert len(la) == len(lb)
        for wa, wb in zip(la, lb):
            np.testing.assert_array_equal(wa, wb)
    assert a.logs.keys() == b.logs.keys()
    for key in a.logs:
        np.testing.assert_array_equal(a.logs[key], b.logs[key])
    for field in ("epochs_done", "status", "spec", "layer_names", "activation_config",
                  "message", "is_deepreplay"):
        assert getattr(a, field) == getattr(b, field), field
    # JSON attributes are re-serialised from their parsed values: equal once parsed.
    assert _parsed(a.attrs) == _parsed(b.attrs)


def _parsed(attrs: dict) -> dict:
    return {k: json.loads(v) if k in ("spec", "sweep", "versions", "activation_config") else v
            for k, v in attrs.items()}


@pytest.mark.parametrize("which", ["small", "deepreplay"])
def test_a_trained_run_and_a_deepreplay_run_import_and_replay_identically(prebuilt, tmp_path,
                                                                         which):
    src = getattr(prebuilt, which)
    name = SMALL_RUN if which == "small" else DEEPREPLAY_RUN
    dst = tmp_path / "dst.h5"
    assert upload.import_file(src, dst, "mine.h5") == [name]
    _assert_same_run(runfile.read_run(src, name), runfile.read_run(dst, name))
    assert runfile.read_run(dst, name).is_deepreplay == (which == "deepreplay")
    assert _walk_links_and_storage(dst) == []
    before, after = Replay(src, name), Replay(dst, name)
    np.testing.assert_array_equal(before.predict_proba(), after.predict_proba())
    views_before, views_after = before.views(), after.views()
    np.testing.assert_array_equal(views_before.feature_space.features,
                                  views_after.feature_space.features)
    assert runfile.list_runs(dst)[0].final_loss == runfile.list_runs(src)[0].final_loss


def test_names_taken_or_repeated_get_a_suffix_and_unknown_attributes_stay_behind(tmp_path):
    src = _our_run(tmp_path / "src.h5", "sigmoid", spec_json=json.dumps({"a": [1, {"b": 2}]}),
                   sweep={"id": "s1", "config": "tanh", "seed": 3})
    _deepreplay_run(src, "tanh")
    with h5py.File(src, "a") as f:
        f["sigmoid"].attrs["note"] = "kept out"
        f["sigmoid"].create_dataset("notes", data=np.arange(3))  # a 1-D numeric: a metric
        f["tanh"].attrs["n_epochs"] = 3
    dst = tmp_path / "dst.h5"
    names = upload.import_file(src, dst, "u.h5", taken=["sigmoid", "tanh", "tanh (2)"])
    assert names == ["tanh (3)", "sigmoid (2)"]
    run = runfile.read_run(dst, "sigmoid (2)")
    assert "note" not in run.attrs and run.spec == {"a": [1, {"b": 2}]}
    assert runfile.list_runs(dst)[1].sweep == {"id": "s1", "config": "tanh", "seed": 3}
    assert runfile.read_run(dst, "tanh (3)").is_deepreplay
    with pytest.raises(RunFileError, match="already exists"):
        upload.import_file(src, dst, "u.h5")


def test_validate_file_is_check_file(tmp_path):
    src = _our_run(tmp_path / "src.h5")
    assert runfile.validate_file(src) == upload.check_file(src) == ["run"]
    with h5py.File(src, "a") as f:
        f["run"].attrs["status"] = "paused"
    for check in (runfile.validate_file, upload.check_file):
        with pytest.raises(RunFileError, match="status 'paused' is not one of"):
            check(src)


# -- pointing outside the file ----------------------------------------------------------


@pytest.mark.parametrize("key", ["lr", "inputs", "loss"])
def test_external_storage_is_refused_and_the_secret_never_read(tmp_path, key):
    secret = tmp_path / "secret.txt"
    secret.write_text((SECRET + "\n") * 50)
    src = _our_run(tmp_path / "src.h5")
    shape = {"lr": (3,), "loss": (3,), "inputs": (12, 2)}[key]
    with h5py.File(src, "a") as f:
        _replace(f["run"], key, shape=shape, dtype="f4",
                 external=[(str(secret), 0, h5py.h5f.UNLIMITED)])
    message = _refused(src, tmp_path, f"run 'run': {key} keeps its data in an external file")
    assert SECRET not in message and str(secret) not in message
    # A file that got in anyway is not read through either.
    for read in (lambda: runfile.read_run(src, "run"), lambda: Replay(src, "run"),
                 lambda: runfile.list_runs(src) if key == "loss" else runfile.read_run(src, "x")):
        with pytest.raises(RunFileError) as info:
            read()
        assert SECRET not in str(info.value)


def test_external_links_are_refused(tmp_path):
    other = _our_run(tmp_path / "other session runs.h5", "private")
    src = _our_run(tmp_path / "src.h5")
    with h5py.File(src, "a") as f:
        f["stolen"] = h5py.ExternalLink(str(other), "/private")
    _refused(src, tmp_path, "'stolen' is an external link")

    src2 = _our_run(tmp_path / "src2.h5")
    with h5py.File(src2, "a") as f:
        del f["run/layer0"]
        f["run/layer0"] = h5py.ExternalLink("/proc/self/fd/3", "/run/layer0")
    _refused(src2, tmp_path, "run 'run': layer0 is an external link")
    # Read directly, the run is not a run: the link is never followed.
    assert [s.name for s in runfile.list_runs(src2)] == []
    assert [s.name for s in runfile.list_runs(src)] == ["run"]


def test_soft_links_are_refused(tmp_path):
    src = _our_run(tmp_path / "src.h5")
    with h5py.File(src, "a") as f:
        f["alias"] = h5py.SoftLink("/run")
    _refused(src, tmp_path, "'alias' is a soft link")

    src2 = _our_run(tmp_path / "src2.h5")
    with h5py.File(src2, "a") as f:
        del f["run/loss"]
        f["run/loss"] = h5py.SoftLink("/run/lr")
    _refused(src2, tmp_path, "run 'run': loss is a soft link")
    with pytest.raises(RunFileError, match="loss is a soft link"):
        runfile.read_run(src2, "run")


def test_a_virtual_dataset_over_another_file_is_refused(tmp_path):
    other = _our_run(tmp_path / "other.h5", "private")
    src = _our_run(tmp_path / "src.h5")
    layout = h5py.VirtualLayout(shape=(12, 2), dtype="f4")
    layout[:] = h5py.VirtualSource(str(other), "private/inputs", shape=(12, 2))
    with h5py.File(src, "a") as f:
        del f["run/inputs"]
        f["run"].create_virtual_dataset("inputs", layout)
    _refused(src, tmp_path, "run 'run': inputs is a virtual dataset")
    with pytest.raises(RunFileError, match="virtual dataset"):
        runfile.read_run(src, "run")


# -- structure and sizes ----------------------------------------------------------------


def test_40000_nested_groups_are_refused_in_a_few_steps_without_crashing(tmp_path):
    src = _our_run(tmp_path / "src.h5")
    with h5py.File(src, "a", libver="latest") as f:
        group = f["run"].create_group("deep").id
        for _ in range(40_000):
            group = h5py.h5g.create(group, b"g")
    # A crash of HDF5 would take pytest down with it: import in a child process.
    code = textwrap.dedent(f"""
        from replay_core.store import upload
        from replay_core.errors import RunFileError
        try:
            upload.import_file({str(src)!r}, {str(tmp_path / 'dst.h5')!r}, "upload.h5")
        except RunFileError as exc:
            print("refused:", exc)
        else:
            print("imported")
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("refused: 'upload.h5' run 'run': deep/g/g nests groups deeper "
                                  "than 4 levels; the limit is 4"), done.stdout
    assert not (tmp_path / "dst.h5").exists()


def test_too_many_objects_are_refused(tmp_path):
    src = _our_run(tmp_path / "src.h5")
    with h5py.File(src, "a") as f:
        flat = f.create_group("flat")
        for i in range(2_001):
            flat.create_group(str(i))
    _refused(src, tmp_path, "more than 2,000 groups and datasets; the limit is 2,000")


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_shape_bomb_is_refused_without_reading_it(tmp_path):
    src = _our_run(tmp_path / "src.h5")
    with h5py.File(src, "a") as f:
        _replace(f["run"], "inputs", shape=(200_000_000, 2), dtype="f8", chunks=(65536, 2),
                 compression="gzip")
        _replace(f["run"], "targets", shape=(200_000_000, 1), dtype="f4", chunks=(65536, 1),
                 compression="gzip")
    assert os.path.getsize(src) < 200_000
    before = _max_rss_mb()
    _refused(src, tmp_path, f"inputs declares 400,000,000 values; the limit is {upload.DEFAULT.weight_floats:,}")
    assert _max_rss_mb() - before < 100


def test_a_shape_bomb_within_the_value_limits_is_refused(tmp_path):
    src = _our_run(tmp_path / "src.h5")
    with h5py.File(src, "a") as f:
        _replace(f["run"], "inputs", shape=(100_000, 64), dtype="f8", chunks=(1000, 64),
                 compression="gzip")
    _refused(src, tmp_path, "run 'run': inputs declares 51,200,000 bytes but stores only 0")


def test_200000_epochs_are_refused(tmp_path):
    src = _deepreplay_run(tmp_path / "src.h5")
    with h5py.File(src, "a") as f:
        g = f["dr"]
        _replace(g, "loss", shape=(200_000,), dtype="f4", chunks=(4096,), compression="gzip",
                 fillvalue=0.5)
        g["loss"][:] = 0.5
    _refused(src, tmp_path, "run 'dr': loss holds 200,000 epochs; the limit is 10,000")


def test_100000_units_are_refused(tmp_path):
    src = _deepreplay_run(tmp_path / "src.h5")
    with h5py.File(src, "a") as f:
        g = f["dr"]
        _replace(g, "layer0/weights0", data=np.ones((4, 2, 100_000), np.float32),
                 chunks=(1, 2, 100_000), compression="gzip")
        _replace(g, "layer0/weights1", data=np.ones((4, 100_000), np.float32))
        _replace(g, "layer1/weights0", data=np.ones((4, 100_000, 1), np.float32),
                 chunks=(1, 100_000, 1), compression="gzip")
    _refused(src, tmp_path, "run 'dr': layer0 has 100,000 units; a layer may have 1 to "
             f"{upload.DEFAULT.units}")


def test_epochs_times_samples_over_the_budget_are_refused(tmp_path):
    # 5000 epochs of 10,000 samples: a small file, but 5001 x 10,000 probabilities per view.
    src = _deepreplay_run(tmp_path / "src.h5")
    rng = np.random.default_rng(0)
    with h5py.File(src, "a") as f:
        g = f["dr"]
        _replace(g, "inputs", data=rng.normal(size=(10_000, 2)))
        _replace(g, "targets", data=(rng.random((10_000, 1)) > 0.5).astype(np.float32))
        _replace(g, "loss", data=np.full(5000, 0.5, np.float32))
        _replace(g, "acc", data=np.full(5000, 0.5, np.float32))
        for key, shape in (("layer0/weights0", (2, 2)), ("layer0/weights1", (2,)),
                           ("layer1/weights0", (2, 1)), ("layer1/weights1", (1,))):
            _replace(g, key, data=rng.normal(size=(5001, *shape)).astype(np.float32))
    _refused(src, tmp_path, "run 'dr': 5,001 weight states of 10,000 samples would be "
                            "replayed (50,010,000); the limit is 20,010,000")


def test_weights_over_the_float_budget_are_refused(tmp_path):
    limits = upload.Limits(weight_floats=20)
    src = _our_run(tmp_path / "src.h5")
    with pytest.raises(RunFileError, match=r"its weights over 3 epochs hold 36 values; the "
                                           r"limit is 20"):
        upload.check_file(src, "upload.h5", limits)


def test_deepreplay_padding_of_a_million_epochs_is_refused_and_read_fast(tmp_path):
    src = _deepreplay_run(tmp_path / "src.h5", epochs=3, n_epochs=1_000_000)
    _refused(src, tmp_path, "run 'dr': loss holds 1,000,000 epochs; the limit is 10,000")
    # Were it in a session, reading it finds the 3 trained epochs without a scan per row.
    assert runfile.list_runs(src)[0].epochs_done == 3
    assert runfile.read_run(src, "dr").weights[0][0].shape == (4, 2, 2)


@pytest.mark.parametrize("key", ["sweep", "spec"])
def test_deeply_nested_json_is_refused_and_never_parsed(tmp_path, key):
    src = _our_run(tmp_path / "src.h5")
    with h5py.File(src, "a") as f:
        f["run"].attrs[key] = "[" * 100_000 + "]" * 100_000
    _refused(src, tmp_path, f"run 'run': attribute '{key}' holds 200,000 characters; the "
                            "limit is 65,536")
    with h5py.File(src, "a") as f:
        f["run"].attrs[key] = '{"a": ' * 5_000 + "1" + "}" * 5_000
    _refused(src, tmp_path, f"run 'run': the {key} attribute nests 5000 levels deep; the "
                            "limit is 20")
    # Read directly, the attribute is left out instead of raising RecursionError.
    summary = runfile.list_runs(src)[0]
    assert getattr(summary, key) is None


def test_too_many_or_too_large_attributes_are_refused(tmp_path):
    src = _our_run(tmp_path / "src.h5")
    with h5py.File(src, "a") as f:
        for i in range(65):
            f["run/layer0"].attrs[f"a{i}"] = i
    _refused(src, tmp_path, "group layer0 has 65 attributes; the limit is 64")
    src2 = _our_run(tmp_path / "src2.h5")
    with h5py.File(src2, "a") as f:
        f["run"].attrs.create("blob", np.zeros(2000, "S1"))
    _refused(src2, tmp_path, "group 'run' attribute 'blob' holds 2,000 values; the limit is 1,024")
    with h5py.File(src2, "a") as f:
        del f["run"].attrs["blob"]
        f["run"].attrs.create("blob", np.zeros(100, "S50"))
    with pytest.raises(RunFileError, match="attribute 'blob' is 5,000 bytes; the limit is 4,000"):
        upload.check_file(src2, "upload.h5", upload.Limits(attr_bytes=4000))


# -- values replay cannot use -----------------------------------------------------------


def test_an_unknown_activation_is_refused(tmp_path):
    src = _deepreplay_run(tmp_path / "src.h5", activations=("abc", "sigmoid"))
    _refused(src, tmp_path, "run 'dr': layer0: unknown activation 'abc'")
    with pytest.raises(RunFileError, match="unknown activation 'abc'"):
        Replay(src, "dr")

    src2 = _our_run(tmp_path / "src2.h5")
    with h5py.File(src2, "a") as f:
        f["run"].attrs["activation_config"] = json.dumps(
            [{"name": "relu", "negative_slope": "abc"}, {"name": "sigmoid"}])
    _refused(src2, tmp_path, "run 'run': layer0: activation 'relu' parameter negative_slope "
                             "must be a finite number, got 'abc'")
    with pytest.raises(RunFileError, match="negative_slope must be a finite number"):
        Replay(src2, "run")


@pytest.mark.parametrize(("targets", "fragment"), [
    (np.where(Y > 0, 1.0, -1.0), f"targets holds {int(np.sum(Y == 0))} values that are not "
                                 "class indices 0 to 1 (e.g. -1)"),
    (Y * 0.5, f"targets holds {int(Y.sum())} values that are not class indices 0 to 1 "
              "(e.g. 0.5)"),
    (Y * 7, f"targets holds {int(Y.sum())} values that are not class indices 0 to 1 (e.g. 7)"),
])
def test_negative_fractional_or_too_large_targets_are_refused(tmp_path, targets, fragment):
    src = _our_run(tmp_path / "src.h5")
    with h5py.File(src, "a") as f:
        _replace(f["run"], "targets", data=targets.reshape(-1, 1).astype(np.float32))
    _refused(src, tmp_path, f"run 'run': {fragment}")
    with pytest.raises(RunFileError, match="not class indices"):
        Replay(src, "run")


def test_compound_inputs_are_refused(tmp_path):
    src = _our_run(tmp_path / "src.h5")
    compound = np.zeros(12, dtype=[("a", "f4"), ("b", "f4")])
    with h5py.File(src, "a") as f:
        _replace(f["run"], "inputs", data=compound)
    _refused(src, tmp_path, "run 'run': inputs has dtype compound; it must hold plain numbers")


def test_strings_where_numbers_are_expected_are_refused(tmp_path):
    src = _our_run(tmp_path / "src.h5")
    with h5py.File(src, "a") as f:
        _replace(f["run"], "loss", data=["0.5", "0.4", "0.3"], dtype=h5py.string_dtype())
    _refused(src, tmp_path, "run 'run': loss has dtype string; it must hold plain numbers")
    with h5py.File(src, "a") as f:
        _replace(f["run"], "loss", data=np.arange(3, dtype=np.float32))
        f["run"].attrs["epochs_done"] = "three"
    _refused(src, tmp_path, "run 'run': the epochs_done attribute must be a whole number")


def test_unusual_filters_are_refused(tmp_path):
    src = _our_run(tmp_path / "src.h5")
    with h5py.File(src, "a") as f:
        _replace(f["run"], "inputs", data=X, scaleoffset=4)
    _refused(src, tmp_path, "run 'run': inputs uses HDF5 filter 6; a run file may use only")


def test_every_refusal_is_a_replay_error_from_the_public_readers(tmp_path):
    src = _our_run(tmp_path / "src.h5")
    with h5py.File(src, "a") as f:
        f["run"].attrs["n_layers"] = np.array([1.5])
    for read in (runfile.list_runs, lambda p: runfile.read_run(p, "run"),
                 runfile.validate_file, lambda p: Replay(p, "run").views()):
        with pytest.raises(ReplayError):
            read(src)


def test_replay_refuses_points_it_cannot_run_with_a_replay_error(tmp_path):
    replay = Replay(_our_run(tmp_path / "src.h5"), "run")
    for X in ("abc", [[1.0, 2.0, 3.0]], np.zeros((2, 2, 2, 2)), [["a", "b"]]):
        with pytest.raises(ReplayError):
            replay.predict_proba(X)
    assert replay.predict_proba(np.zeros((5, 2))).shape == (4, 5)


def test_the_limits_admit_the_largest_run_the_app_trains():
    from replay_core.data import csv_data, spec
    from replay_core.store.workspace import session_quota_bytes
    from replay_core.train.trainer import DEFAULT_MAX_COST, STEP_COST

    limits = upload.DEFAULT
    # 30 features -> 6 hidden layers of 128 -> a 2-unit bottleneck -> 10 classes: the
    # budget allows at most DEFAULT_MAX_COST / (params x (one batch + one sample)) epochs.
    widths = ([csv_data.MAX_FEATURES] + [spec.MAX_UNITS] * spec.MAX_LAYERS + [2]
              + [csv_data.MAX_CLASSES])
    per_epoch = sum(a * b + b for a, b in zip(widths, widths[1:]))
    # ...and no more than a session's disk quota holds (float32 weights).
    quota_epochs = session_quota_bytes() // (4 * per_epoch) - 1
    epochs = min(spec.MAX_EPOCHS, DEFAULT_MAX_COST // (per_epoch * (STEP_COST + 1)),
                 quota_epochs)
    assert (epochs + 1) * per_epoch <= limits.weight_floats
    assert (spec.MAX_EPOCHS + 1) * csv_data.MAX_ROWS <= limits.epoch_samples
    assert len(widths) - 1 <= limits.layers and spec.MAX_UNITS <= limits.units
    assert spec.MAX_EPOCHS <= limits.epochs and csv_data.MAX_CLASSES <= limits.classes
    assert csv_data.MAX_FEATURES <= limits.features and csv_data.MAX_ROWS <= limits.samples
