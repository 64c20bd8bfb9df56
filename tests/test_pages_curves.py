"""The Replay page's "Curves after this epoch" choice, driven by AppTest: the frame's loss
panel follows it, and it stays through a visit to another page and a presentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from prebuilt_runs import SMALL_EPOCHS, seed_workspace, session_prebuilt_runs
from streamlit.testing.v1 import AppTest

from studio import player

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"


@pytest.fixture(scope="session")
def prebuilt(tmp_path_factory):
    return session_prebuilt_runs(tmp_path_factory)


def _check(at: AppTest) -> AppTest:
    assert not at.exception, "\n\n".join(e.message for e in at.exception)
    return at


def _renderer(at: AppTest):
    return at.session_state["_renderer"][1]


def _loss_panel(renderer, epoch: int) -> np.ndarray:
    """The loss and accuracy panel's pixels in the frame of ``epoch``."""
    ax = renderer.axes["loss_and_metric"]
    box = ax.get_window_extent()
    rgb = renderer.rgb(epoch)
    h = rgb.shape[0]
    return rgb[int(h - box.y1):int(h - box.y0), int(box.x0):int(box.x1)].astype(float)


def test_curves_after_the_epoch_follow_the_choice_and_stay_in_the_session(data_root,
                                                                         prebuilt):
    sid = seed_workspace(data_root, prebuilt.small)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["session_id"] = sid
    _check(at.run())
    _check(at.switch_page("app_pages/replay.py").run())
    control = at.segmented_control(key=player.CURVES_KEY)
    assert control.value == "faint" and list(control.options) == ["faint", "hidden", "shown"]
    faint = _renderer(at)
    assert faint.future_curves == "faint"
    middle = SMALL_EPOCHS // 2

    _check(control.set_value("hidden").run())
    hidden = _renderer(at)
    assert hidden is not faint and hidden.future_curves == "hidden"
    _check(at.segmented_control(key=player.CURVES_KEY).set_value("shown").run())
    full = _renderer(at)
    assert full.future_curves == "full"
    # Halfway, the epochs to come: none ("hidden") draws less ink than faint curves, and
    # faint curves less than full ones ("shown").
    ink = {name: (255.0 - _loss_panel(r, middle)).sum()
           for name, r in (("faint", faint), ("hidden", hidden), ("full", full))}
    assert ink["hidden"] < ink["faint"] < ink["full"], ink

    # Kept through another page and through presentation mode, where it is not drawn.
    _check(at.segmented_control(key=player.CURVES_KEY).set_value("hidden").run())
    _check(at.switch_page("app_pages/train.py").run())
    _check(at.switch_page("app_pages/replay.py").run())
    assert at.segmented_control(key=player.CURVES_KEY).value == "hidden"
    assert _renderer(at).future_curves == "hidden"
    _check(next(b for b in at.button if b.label == "Present").click().run())
    assert at.session_state["presenting"]
    assert not [c for c in at.segmented_control if c.key == player.CURVES_KEY]
    assert _renderer(at).future_curves == "hidden"
