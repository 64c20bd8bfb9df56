"""The Train page's live preview replays the weights handed to it mid-training with the
same network description the recorder stores, bottleneck included."""

from __future__ import annotations

import numpy as np
import pytest

from replay_core.data import datasets, presets
from replay_core.replay.replayer import Replay
from replay_core.store.runfile import read_run
from studio.live import GRID, LivePreview


class _Slot:
    """Collects what the preview writes into a Streamlit placeholder."""

    def __init__(self) -> None:
        self.images: list[bytes] = []
        self.progress_calls: list[tuple[float, str]] = []

    def progress(self, value: float, text: str = "") -> None:
        self.progress_calls.append((value, text))

    def image(self, data: bytes, **_: object) -> None:
        self.images.append(data)

    def empty(self) -> None:
        pass


@pytest.mark.parametrize("dataset", ["parabola", "blobs"])
def test_preview_of_a_bottleneck_run_equals_its_replay(tmp_path, dataset):
    from replay_core.train.trainer import train

    spec = presets.get("reference").replace(**{
        "model.bottleneck": True, "training.epochs": 3, "dataset.name": dataset,
        "dataset.params": {"n_samples": 200} if dataset == "parabola" else
        {"n_samples": 200, "centers": 3},
    })
    data = datasets.prepare(spec.dataset)
    progress, preview = _Slot(), _Slot()
    live = LivePreview(spec, data, progress, preview)
    records = []

    def sink(record):
        records.append(record)
        live.on_epoch(record)

    result = train(spec, tmp_path / "runs.h5", "bottleneck", on_epoch=sink)
    live.finish()
    assert result.status == "complete"
    assert len(records) == 3 and preview.images, "the preview drew nothing"
    assert preview.images[-1].startswith(b"\x89PNG")
    stored = read_run(tmp_path / "runs.h5", "bottleneck").activation_config
    assert [c["name"] for c in live.activations] == [c["name"] for c in stored]

    # The preview's network at the last epoch predicts what Replay predicts there.
    from replay_core.replay.forward import Network

    last = [[np.asarray(w)[None] for w in layer] for layer in records[-1].weights]
    preview_out = Network.from_weights(last, live.activations).forward(live.grid)[0]
    replay = Replay(tmp_path / "runs.h5", "bottleneck")
    proba = replay.predict_proba(live.grid)[-1]
    if proba.ndim == 1:
        np.testing.assert_allclose(preview_out[:, 0], proba, atol=1e-5)
    else:
        np.testing.assert_allclose(preview_out, proba, atol=1e-5)
    assert live.grid.shape == (GRID * GRID, 2)
