"""Compare's frame at the sizes the app uses: the runs' legend over no data, every title
inside the frame, clear of its neighbours' and at least 10 px high."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from replay_core.render.compare import MIN_TEXT_PX, CompareRenderer, fit_text
from replay_core.replay.replayer import Replay

EPOCHS = 12
# The frames the Compare page asks for at 1280x720 and 1920x1080 (studio.screen.fit and
# frame_dpi), and a small export size.
SIZES = [((1012, 516), 100), ((1572, 804), 125), ((640, 420), 100)]
LONG_NAME = "Reference: sigmoid, lr 0.05, seed 42, the long name"


def _views(seed: int, name: str, units: int = 2):
    rng = np.random.default_rng(seed)
    weights = [[rng.normal(size=(EPOCHS + 1, 2, units)), np.zeros((EPOCHS + 1, units))],
               [rng.normal(size=(EPOCHS + 1, units, 1)), np.zeros((EPOCHS + 1, 1))]]
    X, y = rng.normal(size=(60, 2)), rng.integers(0, 2, 60)
    return Replay.from_arrays(weights, ["tanh", "sigmoid"], X, y, name=name,
                              layer_names=["bottleneck", "output"]).views()


@pytest.fixture(scope="module")
def four_runs():
    runs = {name: _views(i, name) for i, name in enumerate(["tanh", "relu", "elu"])}
    # A 6-unit layer: its title has a second line, the PCA plane and its variance.
    return {**runs, LONG_NAME: _views(3, LONG_NAME, units=6)}


def _extent(artist, renderer) -> Bbox:
    return artist.get_window_extent(renderer)


@pytest.mark.parametrize("size, dpi", SIZES)
def test_legend_covers_no_data_and_titles_fit_their_panels(four_runs, size, dpi):
    compare = CompareRenderer(four_runs, size=size, dpi=dpi)
    compare.rgb(EPOCHS // 2)
    renderer = compare.canvas.get_renderer()
    frame = compare.figure.bbox
    legend = _extent(compare._legend, renderer)
    for ax in compare.figure.axes:
        assert not legend.overlaps(ax.get_window_extent(renderer)), ax.get_title()
    # Nor over the epoch title at its widest, nor outside the frame.
    assert not legend.overlaps(_extent(compare._title, renderer))
    assert legend.x0 >= 0 and legend.x1 <= frame.x1 and legend.y1 <= frame.y1
    titles = [ax.title for ax in compare.figure.axes]
    boxes = [_extent(t, renderer) for t in titles]
    for title, box in zip(titles, boxes):
        assert title.get_fontsize() * dpi / 72 >= MIN_TEXT_PX - 1e-6, title.get_text()
        assert box.x0 >= 0 and box.x1 <= frame.x1, (title.get_text(), box, size)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)
    # In the app's frames short names' titles stay whole; the long one gives way.
    top = [ax.get_title() for ax in compare.axes["feature_space"]]
    assert "…" in top[3] and "\nPCA of 6 units" in top[3]
    if size[0] >= 1000:
        assert top[0] == "tanh: feature space (bottleneck)"
    assert compare._legend.get_texts()[0].get_text() == "tanh"


def test_the_legend_stays_put_while_scrubbing(four_runs):
    compare = CompareRenderer(four_runs, size=SIZES[0][0], dpi=SIZES[0][1])
    compare.rgb(0)
    renderer = compare.canvas.get_renderer()
    first = _extent(compare._legend, renderer)
    compare.rgb(EPOCHS)
    assert np.allclose(_extent(compare._legend, renderer).bounds, first.bounds)


def test_fit_text_cuts_where_the_rendered_width_ends():
    figure = Figure(figsize=(4, 2), dpi=100)
    text = figure.text(0.5, 0.5, "a rather long title that cannot fit\nshort", fontsize=12)
    renderer = FigureCanvasAgg(figure).get_renderer()
    fit_text(text, 120.0, 9.0, renderer)
    first, second = text.get_text().split("\n")
    assert text.get_fontsize() == 9.0 and second == "short"
    assert first.endswith("…") and first[:-1] == "a rather long title that cannot fit"[
        :len(first) - 1].rstrip()
    assert _extent(text, renderer).width <= 120.0
    # The longest prefix that fits: one more character would not.
    longer = "a rather long title that cannot fit"[:len(first)] + "…"
    probe = figure.text(0, 0, longer, fontsize=9.0)
    assert _extent(probe, renderer).width > 120.0
    # A text that fits at a smaller font keeps all its characters.
    whole = figure.text(0.5, 0.2, "fits when smaller", fontsize=14)
    fit_text(whole, _extent(figure.text(0, 0, "fits when smaller", fontsize=10),
                            renderer).width + 1, 7.0, renderer)
    assert whole.get_text() == "fits when smaller" and whole.get_fontsize() >= 10.0
