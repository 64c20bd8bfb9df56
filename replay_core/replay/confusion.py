"""The confusion matrix of the training samples at every epoch.

Example
-------
>>> import numpy as np
>>> confusion(np.array([[0, 1, 1]]), np.array([0, 0, 1]), 2).counts[0].tolist()
[[1, 1], [0, 1]]
"""

from __future__ import annotations

import numpy as np

from replay_core.replay.views import ConfusionView


def confusion(predicted: np.ndarray, targets: np.ndarray, n_classes: int) -> ConfusionView:
    """Counts (E+1, k, k) of true class (row) by ``predicted`` class (E+1, N) (column)."""
    k = int(n_classes)
    target = targets.astype(np.intp)
    epoch = np.arange(predicted.shape[0])[:, None]
    flat = (epoch * k + target) * k + predicted
    counts = np.bincount(flat.ravel(), minlength=predicted.shape[0] * k * k)
    return ConfusionView(counts=counts.reshape(-1, k, k))
