"""replay_core: record how a Keras network learns, epoch by epoch, and replay it.

Recording (``ReplayData``, ``train``) needs TensorFlow and imports it only when used;
replaying (``Replay``, the views, the renderers) is numpy, h5py and matplotlib only.

Example
-------
>>> from replay_core import Replay                        # doctest: +SKIP
>>> replay = Replay("run.h5", "sigmoid")                  # doctest: +SKIP
>>> replay.predict_proba().shape                          # doctest: +SKIP
(151, 2000)
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

from replay_core.data.spec import (
    DatasetSpec,
    EarlyStoppingSpec,
    LayerSpec,
    ModelSpec,
    ReduceLROnPlateauSpec,
    RunSpec,
    TrainingSpec,
)
from replay_core.errors import (
    NoFeatureLayerError,
    ReplayError,
    RunExistsError,
    RunFileError,
    RunNotFoundError,
    TrainingLimitError,
)

__version__ = "0.1.0"

if TYPE_CHECKING:
    from replay_core.replay.replayer import Replay
    from replay_core.train.recorder import ReplayData
    from replay_core.train.trainer import train

_LAZY = {
    "Replay": "replay_core.replay.replayer",
    "ReplayData": "replay_core.train.recorder",
    "train": "replay_core.train.trainer",
    "compose": "replay_core.render.frame",
    "FrameRenderer": "replay_core.render.frame",
}

# Module paths the README documents, kept for notebooks written against them: each is the
# same module object as its home in a layer package, loaded only when imported.
PUBLIC_MODULES = {
    "replay_core.trainer": "replay_core.train.trainer",
    "replay_core.recorder": "replay_core.train.recorder",
    "replay_core.sweep": "replay_core.train.sweep",
    "replay_core.datasets": "replay_core.data.datasets",
    "replay_core.presets": "replay_core.data.presets",
    "replay_core.csv_data": "replay_core.data.csv_data",
    "replay_core.spec": "replay_core.data.spec",
    "replay_core.runfile": "replay_core.store.runfile",
}


class _PublicModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``replay_core.trainer`` (and the other ``PUBLIC_MODULES``) as the module it
    names, so both paths give one module object with one state."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in PUBLIC_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(PUBLIC_MODULES[spec.name])

    def exec_module(self, module):
        pass  # the real module ran when it was imported


if not any(isinstance(f, _PublicModuleFinder) for f in sys.meta_path):
    sys.meta_path.append(_PublicModuleFinder())


def __getattr__(name: str) -> Any:
    # Keeps `import replay_core` free of TensorFlow: the recorder and trainer load it.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if f"replay_core.{name}" in PUBLIC_MODULES:
        return importlib.import_module(PUBLIC_MODULES[f"replay_core.{name}"])
    raise AttributeError(f"module 'replay_core' has no attribute {name!r}")


__all__ = [
    "DatasetSpec", "EarlyStoppingSpec", "FrameRenderer", "LayerSpec", "ModelSpec",
    "NoFeatureLayerError", "ReduceLROnPlateauSpec", "Replay", "ReplayData", "ReplayError",
    "RunExistsError", "RunFileError", "RunNotFoundError", "RunSpec", "TrainingLimitError",
    "TrainingSpec", "compose", "train", "__version__",
]
