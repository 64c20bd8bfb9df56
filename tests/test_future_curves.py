""""Curves after this epoch" reaches Compare's overlaid curves and exported frames."""

from __future__ import annotations

import numpy as np
import pytest

from replay_core.errors import ReplayError
from replay_core.render.compare import CompareRenderer
from replay_core.render.export import export_frame
from replay_core.replay.replayer import Replay


def _views(seed: int, epochs: int = 20):
    rng = np.random.default_rng(seed)
    weights = [[rng.normal(size=(epochs + 1, 2, 2)), np.zeros((epochs + 1, 2))],
               [rng.normal(size=(epochs + 1, 2, 1)), np.zeros((epochs + 1, 1))]]
    X, y = rng.normal(size=(40, 2)), rng.integers(0, 2, 40)
    return Replay.from_arrays(weights, ["tanh", "sigmoid"], X, y, name=f"run{seed}",
                              layer_names=["hidden", "output"]).views()


@pytest.fixture(scope="module")
def runs():
    return {"a": _views(0), "b": _views(1)}


@pytest.mark.parametrize("future, last", [("hidden", 3), ("faint", 3), ("full", 20)])
def test_compare_curves_end_where_the_setting_says(runs, future, last):
    renderer = CompareRenderer(runs, size=(960, 540), future_curves=future)
    renderer.jpeg(3)
    for quantity in ("accuracy", "loss"):
        artists = renderer.artists[quantity]
        for name, line in artists.curves.items():
            xs, ys = line.get_data()
            assert xs[-1] == last, (quantity, name)
            np.testing.assert_allclose(ys, getattr(runs[name].loss_and_metric,
                                                   quantity)[: last + 1])
        # faint: the whole curve behind, lighter; hidden: nothing past the epoch.
        faint = [line for line in artists.ax.get_lines() if line.get_alpha() == 0.22]
        assert len(faint) == (2 if future == "faint" else 0)
    renderer.jpeg(12)
    xs, _ = renderer.artists["loss"].curves["a"].get_data()
    assert xs[-1] == (20 if future == "full" else 12)


def test_compare_refuses_an_unknown_setting(runs):
    with pytest.raises(ReplayError, match="future must be one of"):
        CompareRenderer(runs, future_curves="later")


def test_hidden_and_full_exports_differ_only_in_the_loss_panel(runs, tmp_path):
    views = runs["a"]
    pngs = {}
    for future in ("hidden", "full"):
        out = export_frame(views, tmp_path / f"{future}.png", epoch=3, size=(640, 360),
                           panels=["decision_boundary", "loss_and_metric"],
                           future_curves=future)
        pngs[future] = out.read_bytes()
    from io import BytesIO

    from matplotlib.image import imread

    hidden, full = (imread(BytesIO(pngs[k]), format="png") for k in ("hidden", "full"))
    differs = np.any(np.abs(hidden - full) > 0.02, axis=-1)
    cols = np.nonzero(differs.any(axis=0))[0]
    assert cols.size, "the setting changed nothing in the exported frame"
    assert cols.min() > 640 // 2 - 20, "only the loss panel (right half) changes"
