"""In headless Chromium: the reference run's loss landscape follows the epoch slider, and
'Copy as code' shows the run's script.

Screenshots go to ``tests/artifacts/browser_landscape_*.png``.
"""

from __future__ import annotations

import re

import pytest
from browser_support import epoch_slider, train_reference, wait_for_frame, wait_for_idle

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect

HD = {"width": 1280, "height": 720}


def test_landscape_scrubs_with_the_slider(browser, app_url, artifacts_dir):
    context = browser.new_context(viewport=HD)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(app_url)
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        wait_for_idle(page)
        presets = page.get_by_role("button", name="Presets")
        if presets.count():  # the presets sit in a popover on a narrow Train page
            presets.click()
        train_reference(page)
        page.get_by_role("button", name="Open in Replay ▶").click()
        page.wait_for_url(re.compile(r"/replay"))
        wait_for_frame(page, 150)
        wait_for_idle(page)
        page.get_by_text("Loss landscape", exact=True).click()
        landscape = page.get_by_role("img", name=re.compile(r"^Loss landscape of "))
        expect(landscape).to_have_attribute("alt", re.compile(r"epoch 150$"), timeout=60_000)
        wait_for_idle(page)
        before = landscape.get_attribute("src")
        landscape.screenshot(path=str(artifacts_dir / "browser_landscape_150.png"))

        slider = epoch_slider(page)
        slider.focus()
        page.keyboard.press("Home")
        for _ in range(5):  # then one step at a time, as a user would
            page.keyboard.press("ArrowRight")
        wait_for_idle(page)
        expect(landscape).to_have_attribute("alt", re.compile(r"epoch 5$"))
        assert landscape.get_attribute("src") != before
        landscape.screenshot(path=str(artifacts_dir / "browser_landscape_5.png"))

        page.get_by_text("Copy as code").click()
        code = page.locator('[data-testid="stCode"]')
        expect(code).to_contain_text("model.fit(")
        expect(code).to_contain_text('RUN_NAME = "Reference: sigmoid"')
        page.screenshot(path=str(artifacts_dir / "browser_landscape_code.png"), full_page=True)
    finally:
        context.close()
