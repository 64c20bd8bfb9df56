"""In headless Chromium: the reference run's events beside the slider (a click jumps to the
epoch), the narration line following the slider and playback, the "How to read this" guide.

Screenshots go to ``tests/artifacts/browser_events_*.png``.
"""

from __future__ import annotations

import re

import pytest
from browser_support import (
    FRAME_SELECTOR,
    epoch_slider,
    go_to_page,
    wait_for_frame,
    wait_for_idle,
)

from replay_core.data import presets
from replay_core.replay.narration import narrate
from replay_core.replay.replayer import Replay

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect

FULL_HD = {"width": 1920, "height": 1080}
HD = {"width": 1280, "height": 720}


def _narration(page, epoch: int):
    return page.locator('[data-testid="stMarkdownContainer"]').filter(
        has_text=re.compile(rf"^Epoch {epoch}[:,] "))


def _press(page, key: str) -> None:
    epoch_slider(page).press(key)
    wait_for_idle(page)


@pytest.fixture(scope="module")
def reference_file(tmp_path_factory):
    """The reference run, trained by the library (the Train page has its own tests)."""
    pytest.importorskip("keras")
    from replay_core.train.trainer import train

    path = tmp_path_factory.mktemp("events") / "reference.h5"
    train(presets.get("reference"), path, "reference")
    return path


def test_events_and_narration_of_the_reference_run(browser, app_url, artifacts_dir,
                                                   reference_file):
    story = Replay(reference_file, "reference").events()
    perfect = story.of_kind("perfect")[0].epoch
    context = browser.new_context(viewport=FULL_HD)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(app_url)
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        wait_for_idle(page)
        go_to_page(page, "Runs")
        page.locator("input[type=file]").set_input_files(str(reference_file))
        expect(page.locator('[data-testid="stAlert"]').filter(
            has_text="Imported 1 run(s)")).to_be_visible()
        wait_for_idle(page)
        go_to_page(page, "Replay")
        wait_for_frame(page, 150)
        wait_for_idle(page)
        expect(_narration(page, 150)).to_have_text(narrate(story, 150))
        # The whole page still fits a 1920x1080 screen with the narration line.
        scroll_h, inner_h = page.evaluate(
            "[document.scrollingElement.scrollHeight, window.innerHeight]")
        assert scroll_h <= inner_h + 4, f"page scrolls at 1920x1080: {scroll_h} > {inner_h}"

        # The events beside the slider; a click jumps to the epoch.
        page.get_by_role("button", name=f"Events ({len(story.major)})").click()
        jump = page.get_by_role("button", name=f"{perfect} · 100 % accuracy")
        expect(jump).to_be_visible()
        expect(page.get_by_text("Every training sample is on its correct side for the first "
                                "time: 100 % training accuracy.")).to_be_visible()
        page.screenshot(path=str(artifacts_dir / "browser_events_list.png"))
        jump.click()
        wait_for_frame(page, perfect)
        wait_for_idle(page)
        assert int(epoch_slider(page).input_value()) == perfect
        expect(_narration(page, perfect)).to_have_text(narrate(story, perfect))
        assert "for the first time" in narrate(story, perfect)
        page.keyboard.press("Escape")

        # The narration follows the slider.
        _press(page, "ArrowLeft")
        wait_for_frame(page, perfect - 1)
        expect(_narration(page, perfect - 1)).to_have_text(narrate(story, perfect - 1))
        _press(page, "Home")
        wait_for_frame(page, 0)
        expect(_narration(page, 0)).to_have_text(narrate(story, 0))
        page.screenshot(path=str(artifacts_dir / "browser_events_epoch0_1920x1080.png"))

        # And playback: the line under the frame moves with the frames.
        page.get_by_role("button", name="Play").click()
        page.wait_for_function(
            "() => { const i = document.querySelector(\"" + FRAME_SELECTOR + "\");"
            " return i && parseInt(i.alt.slice(6)) >= 5; }", timeout=30_000)
        page.get_by_role("button", name="Pause").click()
        wait_for_idle(page)
        shown = int(page.evaluate(
            "() => parseInt(document.querySelector(\"" + FRAME_SELECTOR + "\").alt.slice(6))"))
        assert shown >= 5
        expect(_narration(page, shown)).to_have_text(narrate(story, shown))

        # How to read this.
        page.get_by_role("button", name=re.compile("How to read this")).click()
        expect(page.get_by_text(re.compile(r"^Loss & accuracy$"))).to_be_visible()
        expect(page.get_by_text(re.compile(r"triangles along the top mark the run's events"))
               ).to_be_visible()
        page.screenshot(path=str(artifacts_dir / "browser_events_guide_1920x1080.png"))
        page.keyboard.press("Escape")

        page.set_viewport_size(HD)
        wait_for_idle(page)
        page.screenshot(path=str(artifacts_dir / "browser_events_1280x720.png"))
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()
