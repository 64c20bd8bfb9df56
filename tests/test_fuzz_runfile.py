"""Property: whatever a run file holds, only ``ReplayError`` subclasses leave the library.

Valid small run files (ours, written by ``RunWriter``, and DeepReplay's) are mutated three
ways: attributes replaced by odd values, datasets replaced by others of odd shapes and
dtypes (both with h5py, in this process), and bytes of the file flipped or the file cut
short. Each mutated file goes through ``upload.check_file``, ``upload.import_file``,
``runfile.list_runs``, ``runfile.read_run`` and ``Replay(...).views()``. Corrupt bytes could
crash HDF5 itself, so those files are read by a child process, and a crash fails the test
instead of ending pytest.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import h5py
import numpy as np
import pytest
from deepreplay_fixture import write_deepreplay_run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replay_core.errors import ReplayError
from replay_core.replay.replayer import Replay
from replay_core.store import runfile, upload
from replay_core.store.runfile import RunWriter

ROOT = Path(__file__).resolve().parent.parent
RNG = np.random.default_rng(5)
X = RNG.normal(size=(10, 2)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.float32)
NAMES = ("run", "dr", "wide")


def _states(epochs: int) -> list[list[list[np.ndarray]]]:
    rng = np.random.default_rng(1)
    return [[[rng.normal(size=(2, 2)).astype(np.float32), rng.normal(size=2).astype(np.float32)],
             [rng.normal(size=(2, 1)).astype(np.float32), rng.normal(size=1).astype(np.float32)]]
            for _ in range(epochs + 1)]


def write_base(path: str | os.PathLike) -> None:
    """One file holding a run of ours ('run', 3 epochs) and a DeepReplay run ('dr')."""
    states = _states(3)
    with RunWriter(path, "run", inputs=X, targets=Y, layer_names=["hidden", "output"],
                   activation_config=[{"name": "tanh"}, {"name": "sigmoid"}],
                   initial_weights=states[0], samples=len(X), batch_size=4, n_epochs=3,
                   spec_json=json.dumps({"a": 1}), sweep={"id": "s", "seed": 1}) as writer:
        for e in range(1, 4):
            writer.append_epoch(states[e], {"loss": 1.0 / e, "accuracy": 0.5}, lr=0.05)
        writer.set_status("complete")
    write_deepreplay_run(path, "dr", states[:3], X, Y.reshape(-1, 1), ["relu", "sigmoid"],
                         [0.6, 0.5], [0.5, 0.6], n_epochs=4)
    # Three classes through a 4-unit layer: the k-class views, PCA and the unit maps.
    rng = np.random.default_rng(2)
    wide = [[[rng.normal(size=(2, 4)).astype(np.float32), np.zeros(4, np.float32)],
             [rng.normal(size=(4, 3)).astype(np.float32), np.zeros(3, np.float32)]]
            for _ in range(3)]
    with RunWriter(path, "wide", inputs=X, targets=np.arange(len(X)) % 3,
                   layer_names=["hidden", "output"],
                   activation_config=[{"name": "leaky_relu", "negative_slope": 0.1},
                                      {"name": "softmax", "axis": -1}],
                   initial_weights=wide[0], samples=len(X), batch_size=4, n_epochs=2) as writer:
        for e in (1, 2):
            writer.append_epoch(wide[e], {"loss": 1.0 / e}, lr=0.01)


def exercise(path: str, dst: str) -> str | None:
    """Every public reader on ``path``; the traceback of anything but a ReplayError."""
    steps = [lambda: upload.check_file(path, "fuzz.h5"),
             lambda: upload.import_file(path, dst, "fuzz.h5", taken=["run"])]
    names = list(NAMES)
    try:
        names += [s.name for s in runfile.list_runs(path)]
    except ReplayError:
        pass
    except Exception:  # noqa: BLE001 - the property under test
        return traceback.format_exc()
    for name in dict.fromkeys(names):
        steps += [lambda name=name: runfile.read_run(path, name),
                  lambda name=name: _replay_everything(Replay(path, name))]
    for step in steps:
        try:
            step()
        except ReplayError:
            pass
        except Exception:  # noqa: BLE001 - the property under test
            return traceback.format_exc()
        finally:
            Path(dst).unlink(missing_ok=True)
    return None


def _replay_everything(replay: Replay) -> None:
    replay.predict_proba()
    replay.views()
    for layer in replay.feature_layers():
        replay.views(layer=layer, projection="pca", fit_epoch=0)
        replay.views(layer=layer, projection=("units", 0, 1))
        replay.unit_maps(layer)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "base.h5"
    write_base(path)
    assert upload.check_file(path) == ["dr", "run", "wide"]
    assert exercise(str(path), str(path.with_name("dst.h5"))) is None
    return path


# -- attributes and datasets, changed with h5py -----------------------------------------

ODD_VALUES = st.one_of(
    st.integers(min_value=-2**63, max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=30),
    st.sampled_from(["abc", "", "[]", "{}", "null", '{"name": 1}', '[{"name": "relu", '
                     '"negative_slope": "x"}]', '[{"name": "softmax", "axis": 7}]',
                     "[" * 50 + "]" * 50, "paused", "complete", "1e999", "NaN"]),
    st.lists(st.sampled_from([b"", b"relu", b"abc", b"sigmoid", b"\xff"]), max_size=5),
    st.lists(st.integers(min_value=-5, max_value=5), min_size=0, max_size=4),
)
ATTR_KEYS = st.sampled_from(["n_layers", "epochs_done", "status", "spec", "sweep", "samples",
                             "n_epochs", "activation_config", "activation_functions",
                             "layer_names", "format", "created", "message", "versions"])
DATASET_KEYS = st.sampled_from(["inputs", "targets", "loss", "acc", "lr", "val_inputs",
                                "layer0/weights0", "layer0/weights1", "layer1/weights0",
                                "layer1/weights1", "layer2/weights0", "layer0"])
DTYPES = st.sampled_from(["f4", "f8", "i4", "u1", "bool", "f2", "S3", "c8"])
SHAPES = st.lists(st.integers(min_value=0, max_value=12), min_size=0, max_size=4)
FILLS = st.sampled_from(["zeros", "ones", "nan", "random", "negative", "huge"])

attribute_change = st.tuples(st.just("attr"), st.sampled_from(NAMES), ATTR_KEYS, ODD_VALUES)
dataset_change = st.tuples(st.just("dataset"), st.sampled_from(NAMES), DATASET_KEYS,
                           st.tuples(SHAPES, DTYPES, FILLS))
removal = st.tuples(st.just("delete"), st.sampled_from(NAMES), DATASET_KEYS, st.none())
# Same shape, odd values: what a diverged run or a hand-edited file holds.
values_change = st.tuples(st.just("values"), st.sampled_from(NAMES), DATASET_KEYS,
                          st.sampled_from(["zeros", "nan", "negative", "huge", "inf", "tiny"]))


def _array(shape: list[int], dtype: str, fill: str) -> np.ndarray:
    if dtype == "S3":
        return np.full(shape, b"abc", dtype="S3")
    values = {"zeros": np.zeros(shape), "ones": np.ones(shape), "nan": np.full(shape, np.nan),
              "random": np.random.default_rng(0).normal(size=shape) * 3,
              "negative": -np.ones(shape), "huge": np.full(shape, 1e30),
              "inf": np.full(shape, np.inf), "tiny": np.full(shape, 1e-300)}[fill]
    with np.errstate(invalid="ignore", over="ignore"):
        return values.astype(dtype)


def _apply(path: Path, changes: list) -> None:
    with h5py.File(path, "a") as f:
        for kind, run, key, value in changes:
            g = f[run]
            try:
                if kind == "attr":
                    g.attrs[key] = value
                elif kind == "delete":
                    if key in g:
                        del g[key]
                elif kind == "values":
                    if isinstance(g.get(key), h5py.Dataset) and g[key].dtype.kind == "f":
                        g[key][...] = _array(list(g[key].shape), g[key].dtype.str, value)
                else:
                    shape, dtype, fill = value
                    if key in g:
                        del g[key]
                    g.create_dataset(key, data=_array(shape, dtype, fill))
            except (TypeError, ValueError, OverflowError, KeyError):
                continue  # a change h5py cannot make (a value it cannot store, a path
                # through a dataset): no file anyone could upload has it


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.one_of(attribute_change, dataset_change, removal, values_change),
                        min_size=1, max_size=4))
def test_changed_attributes_and_datasets_raise_only_replay_errors(base, tmp_path, changes):
    path = tmp_path / "changed.h5"
    path.write_bytes(base.read_bytes())
    _apply(path, changes)
    escaped = exercise(str(path), str(tmp_path / "dst.h5"))
    assert escaped is None, f"{changes}\n{escaped}"


# -- corrupt bytes, read by a child process ---------------------------------------------

_WORKER = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, "tests")
    from test_fuzz_runfile import exercise
    for line in sys.stdin:
        path, dst = json.loads(line)
        print(json.dumps(exercise(path, dst)), flush=True)
""")


class _Reader:
    """A child process that runs ``exercise`` on each file it is sent."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", _WORKER], cwd=ROOT, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)

    def exercise(self, path: Path, dst: Path, timeout: float = 60) -> str | None:
        self.process.stdin.write(json.dumps([str(path), str(dst)]) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"reading {path.name} {'crashed' if ready else 'hung'} the "
                                 f"process (exit {self.process.returncode}): "
                                 f"{self.process.stderr.read()[-2000:]}")
        return json.loads(line)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def reader():
    child = _Reader()
    yield child
    child.close()


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.floats(min_value=0, max_value=1, exclude_max=True),
                                st.integers(min_value=1, max_value=255)),
                      min_size=1, max_size=8),
       keep=st.one_of(st.none(), st.floats(min_value=0.05, max_value=1)))
def test_flipped_bytes_and_cut_files_raise_only_replay_errors(base, reader, tmp_path, flips,
                                                              keep):
    data = bytearray(base.read_bytes())
    for where, mask in flips:
        data[int(where * len(data))] ^= mask
    if keep is not None:
        data = data[: int(keep * len(data))]
    path = tmp_path / "corrupt.h5"
    path.write_bytes(bytes(data))
    escaped = reader.exercise(path, tmp_path / "dst.h5")
    assert escaped is None, f"flips={flips} keep={keep}\n{escaped}"
