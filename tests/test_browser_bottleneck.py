"""In Chromium: tick "2-unit bottleneck before the output" on the Train page, train on the
parabolas with the live preview on screen, and replay the run's latent space."""

from __future__ import annotations

import re

import pytest
from browser_support import FRAME_SELECTOR, apply_preset, wait_for_idle

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect


def test_train_the_bottleneck_option_then_replay_it(browser, app_url, artifacts_dir):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(app_url)
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        apply_preset(page, "Reference: sigmoid")
        epochs = page.locator(".st-key-epochs input")
        epochs.fill("30")
        epochs.press("Enter")
        wait_for_idle(page)
        page.get_by_text("2-unit bottleneck before the output").click()
        wait_for_idle(page)
        page.get_by_role("button", name="Train", exact=True).click()

        progress = page.get_by_text(re.compile(r"^Epoch \d+ / 30 · loss "))
        expect(progress).to_be_visible(timeout=180_000)
        open_button = page.get_by_role("button", name="Open in Replay ▶")
        expect(open_button).to_be_visible(timeout=180_000)
        wait_for_idle(page)
        # Edited settings: the run is named after them (with its bottleneck), not the preset.
        status = page.locator('[data-testid="stAlert"]').filter(
            has_text="parabola 2 sigmoid + bottleneck, sgd lr 0.05")
        expect(status.first).to_contain_text("complete, 30 of 30 epochs")
        assert page.locator('img[alt*="preview"], [data-testid="stImage"] img').count() >= 1
        page.screenshot(path=str(artifacts_dir / "browser_bottleneck_trained.png"))

        open_button.click()
        frame = page.locator(FRAME_SELECTOR)
        expect(frame).to_be_visible(timeout=60_000)
        expect(frame).to_have_attribute("alt", re.compile(r"^Epoch 30 of 30"))
        wait_for_idle(page)
        body = page.locator("body").inner_text()
        assert "bottleneck" in body, "the Replay page does not name the bottleneck layer"
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(artifacts_dir / "browser_bottleneck_replay.png"))
    finally:
        context.close()
