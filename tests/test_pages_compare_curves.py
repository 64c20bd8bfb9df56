"""Compare offers the Replay page's "Curves after this epoch" choice (one session key for
both pages): its renderer follows it, and the choice stays through a page change."""

from __future__ import annotations

import numpy as np
import pytest
from prebuilt_runs import seed_workspace, session_prebuilt_runs
from test_pages import REPLAY, check, open_app

from studio import player

COMPARE = "app_pages/compare.py"


@pytest.fixture(scope="module")
def prebuilt(tmp_path_factory):
    return session_prebuilt_runs(tmp_path_factory)


def _renderer(at):
    return at.session_state["_compare_renderer"][1]


def test_compare_curves_choice_is_the_replay_pages_and_survives_a_page_change(data_root,
                                                                              prebuilt):
    sid = seed_workspace(data_root, prebuilt.small, prebuilt.no_feature)
    at = open_app(sid, COMPARE)
    control = at.segmented_control(key=player.COMPARE_CURVES_KEY)
    assert control.value == "faint" and list(control.options) == ["faint", "hidden", "shown"]
    assert _renderer(at).future_curves == "faint"

    check(control.set_value("hidden").run())
    renderer = _renderer(at)
    assert renderer.future_curves == "hidden"
    # The overlaid curves end at the epoch shown.
    epoch = int(at.session_state["compare_epoch"])
    renderer.jpeg(epoch)
    for line in renderer.artists["loss"].curves.values():
        assert np.asarray(line.get_xdata())[-1] == epoch

    # One choice serves both pages, and it stays through the visit.
    check(at.switch_page(REPLAY).run())
    assert at.segmented_control(key=player.CURVES_KEY).value == "hidden"
    check(at.segmented_control(key=player.CURVES_KEY).set_value("shown").run())
    check(at.switch_page(COMPARE).run())
    assert at.segmented_control(key=player.COMPARE_CURVES_KEY).value == "shown"
    assert _renderer(at).future_curves == "full"
