"""The loss panel draws its curves up to the epoch shown (the rest faint, hidden or in
full), and no legend lies over them."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from synthetic_views import synthetic_views

from replay_core.render.frame import FrameRenderer, draw_loss_and_metric
from replay_core.replay.views import LossAndMetricView


@pytest.fixture(scope="module")
def view() -> LossAndMetricView:
    lm = synthetic_views(n_epochs=12).loss_and_metric
    # With validation curves, which once had a legend over the data.
    return LossAndMetricView(epochs=lm.epochs, loss=lm.loss, accuracy=lm.accuracy,
                             val_loss=lm.loss * 1.1, val_accuracy=lm.accuracy * 0.9,
                             loss_ylim=(0.0, float(lm.loss.max() * 1.2)))


@pytest.mark.parametrize("future", ["faint", "hidden", "full"])
def test_curves_end_at_the_epoch_shown(view, future):
    ax = Figure().add_subplot()
    artists = draw_loss_and_metric(ax, view, 0, future=future)
    for epoch in (0, 5, 12):
        artists.update(epoch)
        for name, line in artists.curves.items():
            x, y = line.get_data()
            np.testing.assert_array_equal(x, np.arange(epoch + 1))
            np.testing.assert_array_equal(y, getattr(view, name)[: epoch + 1])
    # The full curves stay in the background unless hidden, faint unless "full".
    background = [line for line in [*ax.lines, *artists.twin.lines]
                  if len(line.get_xdata()) == 13 and line not in artists.curves.values()]
    assert len(background) == (0 if future == "hidden" else 4)
    assert all(line.get_alpha() == (0.22 if future == "faint" else 1.0)
               for line in background)
    assert ax.get_legend() is None and artists.twin.get_legend() is None
    assert "dashed: validation" in ax.get_title()


def test_unknown_setting_is_refused(view):
    with pytest.raises(ValueError, match="future must be one of faint, hidden, full"):
        draw_loss_and_metric(Figure().add_subplot(), view, 0, future="later")


def test_the_frame_grows_the_curves(view):
    views = synthetic_views(n_epochs=12)
    renderer = FrameRenderer(views, size=(640, 360), future_curves="hidden")
    curves = renderer.artists["loss_and_metric"].curves
    renderer.rgb(4)
    assert len(curves["loss"].get_xdata()) == 5
    renderer.rgb(12)
    assert len(curves["loss"].get_xdata()) == 13
