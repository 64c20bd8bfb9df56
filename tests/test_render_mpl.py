"""Matplotlib renderers: artists hold each epoch's data, frames are exact, blitting is clean."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image

from replay_core.render.frame import (
    DARK,
    PANELS,
    FrameRenderer,
    compose,
    draw_decision_boundary,
    draw_feature_space,
    draw_loss_and_metric,
    draw_loss_histogram,
    draw_probability_histogram,
)
from tests.synthetic_views import synthetic_views, without_feature_space

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def views():
    return synthetic_views(validation=True)


@pytest.fixture(scope="module")
def renderer(views):
    return FrameRenderer(views)


def _decode(data: bytes) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(data)).convert("RGB"))


def _xy(line) -> np.ndarray:
    return np.column_stack([line.get_xdata(), line.get_ydata()])


@pytest.mark.parametrize("size", [(1280, 720), (1180, 560), (801, 451)])
def test_rgb_has_exactly_the_requested_size(views, size):
    frame = FrameRenderer(views, size=size).rgb(3)
    assert frame.shape == (size[1], size[0], 3)
    assert frame.dtype == np.uint8


def test_rgb_size_at_another_dpi(views):
    assert FrameRenderer(views, size=(1920, 1080), dpi=150).rgb(0).shape == (1080, 1920, 3)


def test_epochs_differ_and_frames_repeat_exactly(views, renderer):
    first = renderer.rgb(5)
    assert not np.array_equal(first, renderer.rgb(100))
    assert_array_equal(renderer.rgb(5), first)
    fresh = FrameRenderer(views).rgb(5)
    assert_array_equal(fresh, first)


def test_every_epoch_after_a_tour_matches_a_fresh_frame(views):
    renderer = FrameRenderer(views, size=(640, 360))
    for epoch in (150, 0, 75, 149):
        renderer.rgb(epoch)
    for epoch in (0, 75, 150):
        assert_array_equal(renderer.rgb(epoch), FrameRenderer(views, size=(640, 360)).rgb(epoch))


def test_blitted_frame_matches_a_full_redraw(views, renderer):
    # Only draw order (moving artists last) may differ from a plain full draw.
    for epoch in (0, 60, 150):
        fig = compose(views, epoch)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=fig.dpi)
        full = np.array(Image.open(buf).convert("RGB")).astype(int)
        diff = np.abs(renderer.rgb(epoch).astype(int) - full).max(axis=2)
        assert (diff > 40).mean() < 0.005


def test_png_and_jpeg_decode_to_the_frame_size(renderer):
    png = renderer.png(7)
    jpeg = renderer.jpeg(7, quality=70)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert jpeg[:3] == b"\xff\xd8\xff"
    assert_array_equal(_decode(png), renderer.rgb(7))
    assert _decode(jpeg).shape == (720, 1280, 3)
    assert np.abs(_decode(jpeg).astype(int) - renderer.rgb(7)).mean() < 4


def test_artists_hold_the_views_data(views, renderer):
    fs, db = views.feature_space, views.decision_boundary
    ph, lm, lh = views.probability_histogram, views.loss_and_metric, views.loss_histogram
    a = renderer.artists
    for epoch in (0, 1, 42, 150):
        renderer.update(epoch)
        for line, cls in zip(a["feature_space"].samples, (0, 1)):
            assert_allclose(_xy(line), fs.features[epoch][fs.targets == cls])
        segments = a["feature_space"].grid.get_segments()
        assert_allclose(np.stack(segments), fs.grid_lines[epoch])
        assert_allclose(_xy(a["feature_space"].boundary), fs.boundary[epoch])

        image = a["decision_boundary"].image.get_array()
        assert_array_equal(image, a["decision_boundary"].rgba(epoch))
        assert_allclose(_xy(a["decision_boundary"].contour), db.contours[epoch])

        hist = a["probability_histogram"]
        assert_allclose(hist.neg_correct.get_data().values, ph.negatives_correct[epoch])
        assert_allclose(hist.pos_correct.get_data().values, ph.positives_correct[epoch])
        neg_wrong = hist.neg_wrong.get_data()
        assert_allclose(neg_wrong.values - neg_wrong.baseline, ph.negatives_wrong[epoch])
        pos_wrong = hist.pos_wrong.get_data()
        assert_allclose(pos_wrong.values - pos_wrong.baseline, ph.positives_wrong[epoch])
        assert_allclose(hist.neg_correct.get_data().edges, ph.bin_edges)

        curves = a["loss_and_metric"]
        assert_allclose(curves.marker.get_xdata(), [epoch, epoch])
        assert_allclose(_xy(curves.loss_dot), [[epoch, lm.loss[epoch]]])
        assert_allclose(_xy(curves.accuracy_dot), [[epoch, lm.accuracy[epoch]]])

        losses = a["loss_histogram"]
        assert_allclose(losses.negatives.get_data().values, lh.negatives[epoch])
        pos = losses.positives.get_data()
        assert_allclose(pos.values - pos.baseline, lh.positives[epoch])
        assert renderer._title.get_text() == f"Epoch {epoch} / 150"


def test_image_colours_follow_probability(views, renderer):
    art = renderer.artists["decision_boundary"]
    p = views.decision_boundary.probabilities[150]
    rgba = art.rgba(150).astype(float)
    blue_minus_red = rgba[..., 2] - rgba[..., 0]
    assert blue_minus_red[p > 0.95].min() > 0  # class 1 side is blue
    assert blue_minus_red[p < 0.05].max() < 0  # class 0 side is orange


def test_axes_limits_stay_the_views_for_every_epoch(views):
    renderer = FrameRenderer(views, size=(480, 270))
    fs, db = views.feature_space, views.decision_boundary
    ph, lm, lh = views.probability_histogram, views.loss_and_metric, views.loss_histogram
    ax_neg, ax_pos = renderer.axes["probability_histogram"]
    curves = renderer.artists["loss_and_metric"]
    expected = [
        (renderer.axes["feature_space"], fs.xlim, fs.ylim),
        (renderer.axes["decision_boundary"], db.xlim, db.ylim),
        (ax_neg, (0.0, 1.0), (0.0, ph.ymax * 1.05)),
        (ax_pos, (0.0, 1.0), (0.0, ph.ymax * 1.05)),
        (curves.ax, (0, 150), lm.loss_ylim),
        (curves.twin, (0, 150), (0.0, 1.0)),
        (renderer.axes["loss_histogram"], (lh.bin_edges[0], lh.bin_edges[-1]),
         (0.0, lh.ymax * 1.05)),
    ]
    for epoch in range(views.n_epochs + 1):
        renderer.update(epoch)
        for ax, xlim, ylim in expected:
            assert_allclose(ax.get_xlim(), xlim)
            assert_allclose(ax.get_ylim(), ylim)


def test_missing_feature_space_shows_the_note(views):
    bare = without_feature_space(views)
    renderer = FrameRenderer(bare)
    frame = renderer.rgb(10)
    assert frame.shape == (720, 1280, 3)
    assert "feature_space" not in renderer.artists
    assert "decision_boundary" not in renderer.artists

    def shown(ax) -> str:
        return " ".join(" ".join(t.get_text().split()) for t in ax.texts)

    assert shown(renderer.axes["feature_space"]) == bare.feature_space_note
    assert shown(renderer.axes["decision_boundary"]) == bare.decision_boundary_note
    assert renderer.axes["feature_space"].get_title() == "Feature space"
    assert not np.array_equal(frame, renderer.rgb(90))


@pytest.mark.parametrize("epoch", [-1, 151, 200])
def test_out_of_range_epoch_is_a_value_error(renderer, epoch):
    with pytest.raises(ValueError, match=rf"^epoch {epoch} is out of range 0\.\.150$"):
        renderer.rgb(epoch)
    with pytest.raises(ValueError, match="out of range"):
        renderer.artists["loss_and_metric"].update(epoch)


def test_out_of_range_epoch_everywhere(views, renderer):
    for call in (renderer.update, renderer.png, renderer.jpeg):
        with pytest.raises(ValueError, match=r"epoch 200 is out of range 0\.\.150"):
            call(200)
    with pytest.raises(ValueError, match=r"epoch 200 is out of range 0\.\.150"):
        compose(views, 200)
    with pytest.raises(TypeError, match="epoch must be an integer"):
        renderer.rgb(2.5)
    assert renderer.rgb(np.int64(3)).shape == (720, 1280, 3)


def test_one_panel_gives_one_axes_and_its_twin(views):
    renderer = FrameRenderer(views, panels=["loss_and_metric"])
    axes = renderer.figure.axes
    assert len(axes) == 2
    curves = renderer.artists["loss_and_metric"]
    assert set(axes) == {curves.ax, curves.twin}
    assert list(renderer.artists) == ["loss_and_metric"]
    assert renderer.rgb(4).shape == (720, 1280, 3)


def test_panels_are_laid_out_in_order(views):
    renderer = FrameRenderer(views, panels=["loss_histogram", "probability_histogram"])
    ax_loss = renderer.axes["loss_histogram"]
    ax_neg, ax_pos = renderer.axes["probability_histogram"]
    assert len(renderer.figure.axes) == 3
    renderer.rgb(0)
    x0 = [ax.get_position().x0 for ax in (ax_loss, ax_neg, ax_pos)]
    assert x0 == sorted(x0)


@pytest.mark.parametrize("panels, message", [
    (["nope"], "unknown panel 'nope'"),
    (["loss_histogram", "loss_histogram"], "must not repeat"),
    ([], "at least one"),
])
def test_bad_panels_are_rejected(views, panels, message):
    with pytest.raises(ValueError, match=message):
        FrameRenderer(views, panels=panels)


def test_bad_theme_and_size_are_rejected(views):
    with pytest.raises(ValueError, match="theme must be 'light' or 'dark'"):
        FrameRenderer(views, theme="blue")
    with pytest.raises(ValueError, match="size 10x10 is outside 80x60"):
        FrameRenderer(views, size=(10, 10))


def test_all_panel_names_render_alone(views):
    for name in PANELS:
        assert FrameRenderer(views, size=(400, 300), panels=[name]).rgb(1).shape == (300, 400, 3)


def test_dark_theme_is_dark(views):
    renderer = FrameRenderer(views, theme="dark")
    assert renderer.figure.get_facecolor()[:3] == pytest.approx(to_rgb("#0e1117"))
    frame = renderer.rgb(0)
    assert frame[2, 2].tolist() == [14, 17, 23]
    assert frame.mean() < 80
    assert FrameRenderer(views).rgb(0).mean() > 170
    title = renderer.axes["loss_histogram"].title
    assert to_rgb(title.get_color()) == pytest.approx(to_rgb(DARK.text))


def test_compose_returns_a_fully_drawn_figure(views, tmp_path):
    fig = compose(views, 80, size=(960, 540), theme="dark")
    assert isinstance(fig, Figure)
    path = tmp_path / "epoch80.png"
    fig.savefig(path)
    assert Image.open(path).size == (960, 540)
    artists = [a for ax in fig.axes for a in (*ax.lines, *ax.images, *ax.patches)]
    assert artists and not any(a.get_animated() for a in artists)
    assert fig._suptitle.get_text() == "Epoch 80 / 150"


def test_draw_functions_work_on_any_axes(views):
    fig = Figure(figsize=(12, 6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    made = [
        draw_feature_space(axes[0, 0], views.feature_space, 10),
        draw_decision_boundary(axes[0, 1], views.decision_boundary, 10, theme="dark"),
        draw_loss_and_metric(axes[0, 2], views.loss_and_metric, 10),
        draw_probability_histogram(axes[1, 0], axes[1, 1], views.probability_histogram, 10),
        draw_loss_histogram(axes[1, 2], views.loss_histogram, 10),
    ]
    fig.canvas.draw()
    for artists in made:
        assert artists.epoch == 10
        assert artists.dynamic and not any(a.get_animated() for a in artists.dynamic)
        artists.update(20)
        assert artists.epoch == 20
    assert_allclose(made[2].marker.get_xdata(), [20, 20])
    assert_allclose(made[4].negatives.get_data().values, views.loss_histogram.negatives[20])
    fig.canvas.draw()


def test_zero_epoch_run_renders(views):
    from dataclasses import replace

    from tests.synthetic_views import synthetic_views as make

    tiny = make(n_epochs=0, n_per_class=50, grid_size=20)
    frame = FrameRenderer(replace(tiny, run_name="empty")).rgb(0)
    assert frame.shape == (720, 1280, 3)
    with pytest.raises(ValueError, match=r"epoch 1 is out of range 0\.\.0"):
        FrameRenderer(tiny).rgb(1)


def test_save_artifacts_of_first_and_last_epoch(views):
    ARTIFACTS.mkdir(exist_ok=True)
    for theme in ("light", "dark"):
        renderer = FrameRenderer(views, theme=theme)
        for epoch in (0, views.n_epochs):
            path = ARTIFACTS / f"frame_{theme}_epoch{epoch:03d}.png"
            path.write_bytes(renderer.png(epoch))
            assert Image.open(path).size == (1280, 720)
    path = ARTIFACTS / "frame_no_feature_space.png"
    path.write_bytes(FrameRenderer(without_feature_space(views)).png(views.n_epochs))
