"""Small run files built once per test session, so page and workspace tests need no training.

``write_small_run`` trains the reference network (5 epochs, 200 samples: about a second
once TensorFlow is loaded); ``write_no_feature_run`` the same data through two 4-unit relu
layers (no 2-unit layer, so no feature space); ``write_deepreplay_file`` writes a run in
the original DeepReplay package's layout with numpy alone. ``session_prebuilt_runs``
builds each file once per test session; ``seed_workspace`` copies them into a session's
workspace folder, so tests never change the prebuilt files.

Example
-------
>>> @pytest.fixture(scope="session")                                  # doctest: +SKIP
... def prebuilt(tmp_path_factory):
...     return session_prebuilt_runs(tmp_path_factory)
>>> def test_something(prebuilt, tmp_path):                           # doctest: +SKIP
...     sid = seed_workspace(tmp_path, prebuilt.small)
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from replay_core.data import datasets, presets
from replay_core.data.spec import RunSpec
from replay_core.store import runfile

SMALL_EPOCHS = 5
SMALL_SAMPLES = 200
SMALL_RUN = "small"
NO_FEATURE_RUN = "wide relu"
DEEPREPLAY_RUN = "sgd"
DEEPREPLAY_EPOCHS = 4


def small_spec(epochs: int = SMALL_EPOCHS, **changes) -> RunSpec:
    """The reference spec with few epochs and samples (plus any dotted ``changes``)."""
    return presets.get("reference").replace(
        **{"training.epochs": epochs, "dataset.params.n_samples": SMALL_SAMPLES, **changes})


def write_small_run(path: str | os.PathLike, name: str = SMALL_RUN,
                    epochs: int = SMALL_EPOCHS):
    """Train the reference network for ``epochs`` epochs on 200 samples into ``path``."""
    from replay_core.train.trainer import train

    result = train(small_spec(epochs), path, name)
    assert (result.status, result.epochs_done) == ("complete", epochs), result
    return result


def write_no_feature_run(path: str | os.PathLike, name: str = NO_FEATURE_RUN,
                         epochs: int = SMALL_EPOCHS):
    """Like ``write_small_run`` with hidden layers 4-4 relu: no 2-unit layer."""
    from replay_core.train.trainer import train

    layers = [{"units": 4, "activation": "relu"}, {"units": 4, "activation": "relu"}]
    result = train(small_spec(epochs, **{"model.layers": layers}), path, name)
    assert (result.status, result.epochs_done) == ("complete", epochs), result
    return result


def write_deepreplay_file(path: str | os.PathLike, name: str = DEEPREPLAY_RUN,
                          epochs: int = DEEPREPLAY_EPOCHS) -> None:
    """A 2 -> 2 tanh -> 1 sigmoid run in DeepReplay's layout, weights drifting per epoch."""
    from deepreplay_fixture import write_deepreplay_run

    data = datasets.prepare(small_spec().dataset)
    rng = np.random.default_rng(7)
    state = [[rng.normal(0, 0.5, (2, 2)).astype(np.float32), np.zeros(2, np.float32)],
             [rng.normal(0, 0.5, (2, 1)).astype(np.float32), np.zeros(1, np.float32)]]
    per_epoch = [state]
    for _ in range(epochs):
        state = [[w + rng.normal(0, 0.1, w.shape).astype(np.float32) for w in layer]
                 for layer in state]
        per_epoch.append(state)
    losses = list(np.linspace(0.7, 0.5, epochs))
    accs = list(np.linspace(0.5, 0.8, epochs))
    write_deepreplay_run(path, name, per_epoch, data.X, data.y.reshape(-1, 1),
                         ["tanh", "sigmoid"], losses, accs)


@dataclass(frozen=True)
class PrebuiltRuns:
    """Read-only run files: copy them (``seed_workspace``) before changing anything.

    Args:
        small: holds ``SMALL_RUN`` (reference network, 5 epochs).
        no_feature: holds ``NO_FEATURE_RUN`` (4-4 relu, 5 epochs).
        deepreplay: holds ``DEEPREPLAY_RUN`` in DeepReplay's layout (4 epochs).
    """

    small: Path
    no_feature: Path
    deepreplay: Path


_BUILT: PrebuiltRuns | None = None


def build_prebuilt_runs(folder: Path) -> PrebuiltRuns:
    """Build the three files in ``folder`` once per process (later calls reuse them)."""
    global _BUILT
    if _BUILT is None or not all(p.exists() for p in vars(_BUILT).values()):
        folder.mkdir(parents=True, exist_ok=True)
        built = PrebuiltRuns(folder / "small.h5", folder / "no_feature.h5",
                             folder / "deepreplay.h5")
        write_small_run(built.small)
        write_no_feature_run(built.no_feature)
        write_deepreplay_file(built.deepreplay)
        for path in vars(built).values():
            os.chmod(path, 0o444)
        _BUILT = built
    return _BUILT


def session_prebuilt_runs(tmp_path_factory: pytest.TempPathFactory) -> PrebuiltRuns:
    """For a test module's session-scoped fixture: one build per test session.

    Each module declares ``@pytest.fixture(scope="session") def prebuilt(tmp_path_factory):
    return session_prebuilt_runs(tmp_path_factory)``; the build is shared between them.
    """
    return build_prebuilt_runs(tmp_path_factory.getbasetemp() / "prebuilt-runs")


def new_session_id() -> str:
    return secrets.token_hex(16)


def seed_workspace(data_root: str | os.PathLike, *run_files: Path,
                   session_id: str | None = None) -> str:
    """A session folder under ``data_root/sessions`` holding the runs of ``run_files``.

    Returns the session id (a new one when None). The first file is copied as is, the
    others' runs are copied into it.
    """
    session_id = session_id or new_session_id()
    folder = Path(data_root) / "sessions" / session_id
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "runs.h5"
    for i, source in enumerate(run_files):
        if i == 0:
            shutil.copyfile(source, target)
            os.chmod(target, 0o644)
        else:
            runfile.copy_runs(source, target)
    return session_id
