"""Bad render settings leave replay_core as a ReplayError (a RenderError), which is still
a ValueError for callers that only know the builtin types."""

from __future__ import annotations

import numpy as np
import pytest

from replay_core.errors import RenderError, ReplayError
from replay_core.render.canvas import frame_size, parse_names
from replay_core.render.export import parse_size
from replay_core.render.frame import FrameRenderer
from replay_core.replay.replayer import Replay


@pytest.fixture(scope="module")
def views():
    rng = np.random.default_rng(0)
    weights = [[rng.normal(size=(4, 2, 2)), np.zeros((4, 2))],
               [rng.normal(size=(4, 2, 1)), np.zeros((4, 1))]]
    X, y = rng.normal(size=(40, 2)), rng.integers(0, 2, 40)
    return Replay.from_arrays(weights, ["tanh", "sigmoid"], X, y,
                              layer_names=["hidden", "output"]).views()


@pytest.mark.parametrize("settings, message", [
    ({"size": (10, 10)}, "size 10x10 is outside"),
    ({"size": "big"}, "size must be (width, height) in pixels"),
    ({"panels": ["feature_space", "nope"]}, "unknown panel 'nope'"),
    ({"theme": "neon"}, "theme must be 'light' or 'dark'"),
    ({"future_curves": "sometimes"}, "future must be one of"),
])
def test_bad_frame_settings_raise_a_replay_error(views, settings, message):
    with pytest.raises(ReplayError) as caught:
        renderer = FrameRenderer(views, **settings)
        renderer.png(0)
    assert isinstance(caught.value, RenderError) and isinstance(caught.value, ValueError)
    assert message in str(caught.value)


def test_bad_epoch_and_names_raise_a_replay_error(views):
    renderer = FrameRenderer(views, size=(640, 360))
    with pytest.raises(ReplayError, match="epoch 9 is out of range 0..3"):
        renderer.png(9)
    with pytest.raises(ReplayError, match="must not repeat a name"):
        parse_names("a,a", ["a", "b"])
    with pytest.raises(ReplayError, match="outside"):
        frame_size((100000, 5))
    with pytest.raises(ReplayError, match="WIDTHxHEIGHT"):
        parse_size("huge")
