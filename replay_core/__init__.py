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

from typing import TYPE_CHECKING, Any

from replay_core.errors import (
    NoFeatureLayerError,
    ReplayError,
    RunExistsError,
    RunFileError,
    RunNotFoundError,
    TrainingLimitError,
)
from replay_core.spec import (
    DatasetSpec,
    EarlyStoppingSpec,
    LayerSpec,
    ModelSpec,
    ReduceLROnPlateauSpec,
    RunSpec,
    TrainingSpec,
)

__version__ = "0.1.0"

if TYPE_CHECKING:
    from replay_core.recorder import ReplayData
    from replay_core.replay import Replay
    from replay_core.trainer import train

_LAZY = {
    "Replay": "replay_core.replay",
    "ReplayData": "replay_core.recorder",
    "train": "replay_core.trainer",
    "compose": "replay_core.render_mpl",
    "FrameRenderer": "replay_core.render_mpl",
}


def __getattr__(name: str) -> Any:
    # Keeps `import replay_core` free of TensorFlow: the recorder and trainer load it.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'replay_core' has no attribute {name!r}")


__all__ = [
    "DatasetSpec", "EarlyStoppingSpec", "FrameRenderer", "LayerSpec", "ModelSpec",
    "NoFeatureLayerError", "ReduceLROnPlateauSpec", "Replay", "ReplayData", "ReplayError",
    "RunExistsError", "RunFileError", "RunNotFoundError", "RunSpec", "TrainingLimitError",
    "TrainingSpec", "compose", "train", "__version__",
]
