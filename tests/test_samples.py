"""One check of a run's samples: the writer, the upload check and replay say the same
sentence for the same fault (``replay_core.store.samples``)."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest

from replay_core.errors import RunFileError
from replay_core.replay.replayer import Replay
from replay_core.store import runfile, samples

X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]])
Y = np.array([0.0, 1.0, 1.0, 0.0])
KERNEL = np.zeros((2, 2, 1), np.float32)  # 1 epoch after the initial state, 2 -> 1
BIAS = np.zeros((2, 1), np.float32)


def _write(path, inputs=X, targets=Y, name="a") -> None:
    with runfile.RunWriter(path, name, inputs=inputs, targets=targets, layer_names=["out"],
                           activation_config=[{"name": "sigmoid"}],
                           initial_weights=[[KERNEL[0], BIAS[0]]], samples=len(inputs),
                           batch_size=2, n_epochs=1) as writer:
        writer.append_epoch([[KERNEL[1], BIAS[1]]], {"loss": 0.5}, lr=0.1)
        writer.set_status("complete")


def _replay(inputs=X, targets=Y) -> Replay:
    return Replay.from_arrays([[KERNEL, BIAS]], ["sigmoid"], inputs, targets, name="a")


def _message(call) -> str:
    with pytest.raises(RunFileError) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize(("targets", "sentence"), [
    (np.array([0.0, 1.0, 2.0, 0.5]),
     "targets holds 2 values that are not class indices 0 to 1 (e.g. 2)"),
    (np.array([0.0, -1.0, 1.0, 1.0]),
     "targets holds 1 values that are not class indices 0 to 1 (e.g. -1)"),
    (np.array([0.0, np.nan, 1.0, np.inf]), "targets holds 2 NaN or infinite values"),
])
def test_replay_and_the_upload_check_refuse_bad_targets_with_one_sentence(tmp_path, targets,
                                                                        sentence):
    # The writer stores any numbers; the readers refuse what is not a class index.
    path = tmp_path / "runs.h5"
    _write(path, targets=targets)
    assert _message(lambda: _replay(targets=targets)).endswith(f": {sentence}")
    assert _message(lambda: runfile.validate_file(path)) == f"'runs.h5' run 'a': {sentence}"
    assert _message(lambda: Replay(path, "a")).endswith(f": {sentence}")
    assert _message(lambda: samples.check_classes(targets, 2)) == sentence


def test_nan_inputs_read_the_same_in_replay_and_the_upload_check(tmp_path):
    inputs = np.where(X > 2.5, np.nan, X)  # one value
    path = tmp_path / "runs.h5"
    _write(path, inputs=inputs)
    sentence = "inputs holds 1 NaN or infinite values"
    assert _message(lambda: _replay(inputs=inputs)) == f"run 'a': {sentence}"
    assert _message(lambda: runfile.validate_file(path)) == f"'runs.h5' run 'a': {sentence}"


def test_a_row_count_fault_reads_the_same_for_the_writer_and_replay(tmp_path):
    sentence = "inputs has 4 rows but targets has 3"
    assert _message(lambda: _write(tmp_path / "runs.h5", targets=Y[:3])) == (
        f"run 'a': {sentence}")
    assert _message(lambda: _replay(targets=Y[:3])) == f"run 'a': {sentence}"
    assert not (tmp_path / "runs.h5").exists() or runfile.list_runs(tmp_path / "runs.h5") == []


def test_one_hot_targets_are_checked_row_by_row():
    one_hot = np.eye(3)[[0, 2, 1, 1]]
    samples.check_classes(one_hot, 3)
    np.testing.assert_array_equal(samples.class_indices(one_hot), [0, 2, 1, 1])
    np.testing.assert_array_equal(samples.class_indices(Y[:, None]), Y)
    with pytest.raises(RunFileError, match=r"^targets has 3 columns but its rows are not "
                                           r"one-hot \(a single 1 among 0s\)$"):
        samples.check_classes(one_hot * 0.5, 3)
    with pytest.raises(RunFileError, match=r"^run 'b': targets has 3 one-hot columns but "
                                           r"the output has 2 classes$"):
        samples.check_classes(one_hot, 2, where="run 'b'")


def test_shapes_and_dtypes_are_refused_before_anything_is_read():
    with pytest.raises(RunFileError, match=re.escape(
            "inputs must be 2-D (samples, features); got shape (4,)")):
        samples.check_inputs(Y)
    assert samples.check_inputs(Y, column=True).shape == (4, 1)
    with pytest.raises(RunFileError, match="^inputs must be numeric; got dtype <U1$"):
        samples.check_inputs(np.array([["a", "b"]]))
    with pytest.raises(RunFileError, match=re.escape(
            "targets must be numeric (samples,) or (samples, k); got shape (4, 1, 1)")):
        samples.check_targets(Y.reshape(4, 1, 1), 4)
    with pytest.raises(RunFileError, match="^val_inputs have 3 features but inputs have 2$"):
        samples.check_features(3, 2)


def test_the_writer_stores_the_samples_it_was_given(tmp_path):
    path = tmp_path / "runs.h5"
    _write(path, inputs=X.astype(np.int64), targets=Y.astype(bool))
    with h5py.File(path) as f:
        assert f["a/inputs"].dtype == np.float32 and f["a/targets"].shape == (4, 1)
        np.testing.assert_array_equal(f["a/inputs"][()], X)
        np.testing.assert_array_equal(f["a/targets"][:, 0], Y)
