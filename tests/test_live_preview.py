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

    # The preview's view is Replay's own decision boundary of the same weights.
    replay = Replay(tmp_path / "runs.h5", "bottleneck")
    expected = Replay.from_arrays(
        [[] if layer.kernel is None else [layer.kernel[-1:], layer.bias[-1:]]
         for layer in replay.network.layers],
        replay.activation_config, data.X, data.y,
        layer_names=replay.layer_names).decision_boundary(grid_size=GRID)
    _assert_same_view(live.view(records[-1]), expected)
    # ...and Replay's network predicts the same on the preview's grid.
    view = live.view(records[-1])
    gx, gy = np.meshgrid(view.xs, view.ys)
    proba = replay.predict_proba(np.c_[gx.ravel(), gy.ravel()])[-1]
    if proba.ndim == 1:
        np.testing.assert_allclose(view.probabilities[0].ravel(), proba, atol=1e-5)
    else:
        np.testing.assert_allclose(view.probabilities[0].ravel(), proba.max(-1), atol=1e-5)


def _assert_same_view(got, expected) -> None:
    assert got is not None, "the preview has no view"
    assert got.space == expected.space
    for name in ("xs", "ys", "probabilities", "inputs"):
        np.testing.assert_allclose(getattr(got, name), getattr(expected, name), atol=1e-6,
                                   err_msg=name)


def _random_record(spec, data, epoch: int = 4):
    from replay_core.store.records import EpochRecord

    rng = np.random.default_rng(1)
    k = data.n_classes
    dims = ([data.X.shape[1]] + [layer.units for layer in spec.model.layers]
            + ([2] if spec.model.bottleneck else []) + [1 if k == 2 else k])
    weights = [[rng.normal(size=(a, b)).astype(np.float32), rng.normal(size=b).astype(
        np.float32)] for a, b in zip(dims, dims[1:], strict=False)]
    return EpochRecord(epoch, {"loss": 0.5}, 0.05, weights)


@pytest.mark.parametrize("case", ["plane", "latent", "pca"])
def test_preview_draws_replays_decision_boundary_view(case):
    """2-D inputs, >2 inputs through a bottleneck (latent plane), >2 inputs without one
    (PCA plane): the preview is Replay's decision-boundary view of the record's weights,
    and it is drawn."""
    spec = presets.get("iris" if case != "plane" else "reference")
    spec = spec.replace(**{"model.bottleneck": case == "latent"})
    data = datasets.prepare(spec.dataset)
    record = _random_record(spec, data)
    progress, preview = _Slot(), _Slot()
    live = LivePreview(spec, data, progress, preview)
    live.show(record)
    expected = Replay.from_arrays(
        [[w[None] for w in layer] for layer in record.weights], live.activations, data.X,
        data.y, layer_names=spec.model.layer_names()).decision_boundary(grid_size=GRID)
    assert expected.space == {"plane": "input", "latent": "latent", "pca": "input_pca"}[case]
    _assert_same_view(live.view(record), expected)
    assert len(preview.images) == 1 and preview.images[0].startswith(b"\x89PNG")
    image = plt_imread(preview.images[0])
    # Drawn: the probability map fills much of the picture with more than a few colours.
    assert image.shape[1] == 420
    assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 50
    title = live.figure.axes[0].get_title()
    assert title.endswith("epoch 4")
    if case == "latent":
        assert "latent" in title.lower()


def plt_imread(png: bytes) -> np.ndarray:
    import io

    from matplotlib.image import imread

    return imread(io.BytesIO(png), format="png")


def test_a_jobs_preview_is_redrawn_only_when_a_newer_epoch_is_due(tmp_path):
    """A job's page shows the newest record every second; the preview (about 0.3 s of
    the server's CPU) is drawn again only for a newer epoch, at most every
    ``REDRAW_EVERY_S``, and the last image is sent again in between."""
    from replay_core.train.trainer import train
    from studio import live as live_module

    spec = presets.get("reference").replace(**{"training.epochs": 2,
                                               "dataset.params": {"n_samples": 100}})
    data = datasets.prepare(spec.dataset)
    records = []
    train(spec, tmp_path / "runs.h5", "run", on_epoch=records.append)
    progress, preview = _Slot(), _Slot()
    live = LivePreview(spec, data, progress, preview)
    live.show(records[0])
    first = preview.images[-1]
    live.show(records[0])                       # same epoch: the same image, not redrawn
    assert preview.images[-1] is first
    live.show(records[1])                       # newer, but too soon after the last draw
    assert preview.images[-1] is first
    assert progress.progress_calls[-1][1].startswith(f"Epoch {records[1].epoch} ")
    live._last_preview -= live_module.REDRAW_EVERY_S
    live.show(records[1])                       # newer and due: drawn anew
    assert preview.images[-1] is not first and preview.images[-1].startswith(b"\x89PNG")
    # A fragment's rerun hands new placeholders; the kept preview draws into them.
    other = _Slot()
    live.retarget(_Slot(), other).show(records[1])
    assert other.images == [preview.images[-1]]
