"""The frame machinery every renderer shares, the view-to-artist table and the one place
sizes and panel names are checked.

The views come from weights held in memory (``Replay.from_arrays``): no training, no file.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from replay_core.errors import ViewUnavailableError
from replay_core.render.artists import ARTISTS, draw_view
from replay_core.render.canvas import FrameCanvas, ViewArtists, frame_size, parse_names
from replay_core.render.compare import CompareRenderer
from replay_core.render.export import check_size, parse_panels
from replay_core.render.frame import PANELS, FrameRenderer
from replay_core.render.internals import InternalsRenderer, parse_internals_panels
from replay_core.render.landscape import LandscapeRenderer
from replay_core.render.units import UnitStripRenderer
from replay_core.replay.internals import Internals
from replay_core.replay.landscape import loss_landscape, with_landscape
from replay_core.replay.replayer import Replay

STATES = 5


def _replay(n_classes: int, seed: int, states: int = STATES) -> Replay:
    rng = np.random.default_rng(seed)
    units = 1 if n_classes == 2 else n_classes
    drift = np.linspace(0.0, 1.0, states)
    def path(*shape):
        return rng.normal(size=shape) + drift.reshape(-1, *[1] * len(shape)) * rng.normal(
            size=shape)
    weights = [[path(2, 4), path(4)], [path(4, 2), path(2)], [path(2, units), path(units)]]
    X = rng.normal(size=(80, 2))
    y = rng.integers(0, n_classes, 80)
    return Replay.from_arrays(weights, ["tanh", "tanh", "sigmoid" if units == 1 else "softmax"],
                              X, y, ["wide", "hidden", "output"], name=f"run{seed}")


@pytest.fixture(scope="module")
def runs():
    return _replay(2, 1), _replay(3, 2), _replay(2, 3, states=STATES - 2)


def _renderers(runs):
    binary, three, short = runs
    views = with_landscape(binary.views(), binary, grid_size=7)
    yield "frame", FrameRenderer(views, size=(720, 400), panels=(*PANELS[:5], "landscape"),
                                 narration=True)
    yield "k-class frame", FrameRenderer(three.views(), size=(640, 360), theme="dark")
    yield "compare", CompareRenderer({"a": binary.views(), "b": three.views(),
                                      "c": short.views()}, size=(720, 480))
    yield "units", UnitStripRenderer(binary.unit_maps("wide"), width=900)
    yield "internals", InternalsRenderer({"a": Internals.from_replay(binary).views(),
                                          "b": Internals.from_replay(short).views()},
                                         size=(720, 400))
    yield "landscape", LandscapeRenderer([loss_landscape(binary, grid_size=7),
                                          loss_landscape(short, grid_size=7)], size=(640, 260))


def _full_redraw(renderer: FrameCanvas, epoch: int) -> np.ndarray:
    """The same figure at ``epoch`` drawn whole by Agg, nothing cached or animated."""
    renderer._set_epoch(epoch)
    for artist in renderer.figure.findobj():
        artist.set_animated(False)
    renderer.canvas.draw()
    return np.asarray(renderer.canvas.buffer_rgba())[..., :3].astype(int)


def test_every_renderer_blits_what_a_full_redraw_draws(runs):
    for name, renderer in _renderers(runs):
        assert isinstance(renderer, FrameCanvas), name
        for panel in renderer._panels:
            assert isinstance(panel, ViewArtists), (name, type(panel))
        last = renderer.n_epochs
        # A tour first, so each frame is drawn over another epoch's pixels.
        tour = {e: renderer.rgb(e) for e in (last, 0, 1, last, 0)}
        assert not np.array_equal(tour[0], tour[last]), name
        assert tour[0].shape == (renderer.size[1], renderer.size[0], 3), name
        for epoch in (0, last):
            blitted = renderer.rgb(epoch).astype(int)
            full = _full_redraw(renderer, epoch)
            renderer._shown = None
            # Only draw order (moving artists last) may differ from a plain full draw.
            diff = np.abs(blitted - full).max(axis=2)
            assert (diff > 40).mean() < 0.005, (name, epoch, (diff > 40).mean())


def test_a_shorter_run_stays_on_its_last_epoch_in_every_multi_run_renderer(runs):
    binary, _, short = runs
    compare = CompareRenderer({"a": binary.views(), "b": short.views()}, size=(640, 420))
    compare.rgb(STATES - 1)
    assert compare.artists["feature_space"]["b"].epoch == STATES - 3
    strip = LandscapeRenderer([loss_landscape(binary, grid_size=5),
                               loss_landscape(short, grid_size=5)], size=(500, 220))
    strip.rgb(STATES - 1)
    assert [a.epoch for a in strip.artists] == [STATES - 1, STATES - 3]


def test_each_view_type_is_drawn_by_the_artist_the_table_names(runs):
    binary, three, _ = runs
    drawn = set()
    for views in (with_landscape(binary.views(), binary, grid_size=5), three.views()):
        for name in PANELS:
            view = getattr(views, name)
            if view is None:  # the k-class run's views carry no landscape
                continue
            fig = Figure()
            axes = fig.subplots(1, 2)
            artist = draw_view(axes, view, 1, theme="dark", confusion=views.confusion,
                               future="hidden", colorbar=False)
            assert type(artist) is ARTISTS[type(view)]
            assert artist.epoch == 1 and artist.dynamic
            artist.update(STATES - 1)
            assert artist.epoch == STATES - 1
            drawn.add(type(view))
    assert drawn == set(ARTISTS)  # every entry of the table is exercised
    with pytest.raises(ViewUnavailableError, match="no panel draws a ConfusionView"):
        draw_view(Figure().subplots(), three.views().confusion, 0)
    with pytest.raises(ValueError, match="drawn on 2 Axes, got 1"):
        draw_view(Figure().subplots(), binary.views().probability_histogram, 0)


def test_sizes_are_checked_in_one_place(runs):
    assert frame_size((1280, 720)) == (1280, 720)
    assert frame_size(np.array([800, 600])) == (800, 600)
    for bad in ("1280x720", (1280,), (1280, 720, 3), (12.5, 40), None):
        with pytest.raises(ValueError, match=r"^size must be \(width, height\) in pixels"):
            frame_size(bad)
    with pytest.raises(ValueError, match=r"^size 10x10 is outside 80x60 \.\. 7680x4320$"):
        frame_size((10, 10))
    # A hostile size is refused before any figure is allocated.
    with pytest.raises(ValueError, match="is outside"):
        UnitStripRenderer(runs[0].unit_maps("wide"), width=10**6)
    with pytest.raises(ValueError, match=r"^size 100x100 is outside 320x180"):
        check_size((100, 100), ".png")


def test_panel_names_are_parsed_in_one_place(runs):
    assert parse_names("a, b,,c", ("a", "b", "c")) == ("a", "b", "c")
    assert parse_names(["c"], ("a", "b", "c")) == ("c",)
    with pytest.raises(ValueError, match=r"^unknown panel 'd'; choose from a, b$"):
        parse_names("a,d", ("a", "b"))
    with pytest.raises(ValueError, match=r"^panels must not repeat a name: 'a' is listed"):
        parse_names(("a", "b", "a"), ("a", "b"))
    with pytest.raises(ValueError, match=r"^--views must name at least one of"):
        parse_panels(" , ")
    with pytest.raises(ValueError, match=r"^--views must not repeat a name"):
        parse_panels("feature_space,feature_space")
    assert parse_internals_panels("layers") == parse_internals_panels(None)
    with pytest.raises(ValueError, match="layer panels must not repeat a name: 'z'"):
        parse_internals_panels("layers,z")
    with pytest.raises(ValueError, match="^unknown panel 'nope'"):
        FrameRenderer(runs[0].views(), panels="nope")
