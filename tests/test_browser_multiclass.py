"""End to end in headless Chromium: train the 3-class spiral preset, scrub its replay.

Screenshots go to ``tests/artifacts/browser_multiclass_*.png``.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from browser_support import (
    FRAME_SELECTOR,
    apply_preset,
    epoch_slider,
    wait_for_frame,
    wait_for_idle,
)

from replay_core.data import presets

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect

TITLE = presets.PRESETS["spiral3"].title
N_EPOCHS = presets.get("spiral3").training.epochs


def _cells(png: bytes) -> list[np.ndarray]:
    """The frame's 2x3 cells (below its title row) as float arrays."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32)
    h, w, _ = pixels.shape
    body = pixels[int(0.07 * h):]
    bh = body.shape[0]
    return [body[r * bh // 2:(r + 1) * bh // 2, c * w // 3:(c + 1) * w // 3]
            for r in range(2) for c in range(3)]


def _show_epoch(page, epoch: int) -> None:
    wait_for_frame(page, epoch)
    expect(page.locator(FRAME_SELECTOR)).to_have_attribute(
        "alt", re.compile(rf"^Epoch {epoch} of {N_EPOCHS}: "))
    expect(epoch_slider(page)).to_have_value(str(epoch))
    wait_for_idle(page)


def _confusion_label(page) -> str:
    summary = page.get_by_text(re.compile(r"^Confusion matrix at epoch \d+ · accuracy "))
    expect(summary).to_be_visible()
    return summary.inner_text()


def test_train_the_three_class_spiral_and_scrub_its_replay(browser, app_url, artifacts_dir):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(app_url)
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        apply_preset(page, TITLE)
        expect(page.get_by_text(re.compile(r"→ 2 tanh → 3 softmax"))).to_be_visible()
        page.get_by_role("button", name="Train", exact=True).click()
        open_button = page.get_by_role("button", name="Open in Replay ▶")
        expect(open_button).to_be_visible(timeout=180_000)
        wait_for_idle(page)
        status = page.locator('[data-testid="stAlert"]').filter(has_text=TITLE).first
        assert re.search(rf"complete, {N_EPOCHS} of {N_EPOCHS} epochs", status.inner_text())
        page.screenshot(path=str(artifacts_dir / "browser_multiclass_train.png"))

        open_button.click()
        page.wait_for_url(re.compile(r"/replay"))
        _show_epoch(page, N_EPOCHS)
        last = page.locator(FRAME_SELECTOR).screenshot()
        caption = page.get_by_text(re.compile(rf"^Epoch {N_EPOCHS} of {N_EPOCHS} · loss "))
        accuracy = float(re.search(r"accuracy (\d+\.\d)%", caption.inner_text()).group(1))
        assert accuracy >= 95.0  # the preset learns all three arms
        assert _confusion_label(page).startswith(
            f"Confusion matrix at epoch {N_EPOCHS} · accuracy {accuracy:.1f}%")
        page.screenshot(path=str(artifacts_dir / "browser_multiclass_replay_last.png"))

        # Keyboard on the slider: back to the start, then a few epochs forward.
        slider = epoch_slider(page)
        slider.focus()
        page.keyboard.press("Home")
        _show_epoch(page, 0)
        first = page.locator(FRAME_SELECTOR).screenshot()
        label0 = _confusion_label(page)
        assert label0.startswith("Confusion matrix at epoch 0 · accuracy ")
        page.screenshot(path=str(artifacts_dir / "browser_multiclass_replay_epoch0.png"))
        slider.focus()
        for expected in (1, 2, 3):
            page.keyboard.press("ArrowRight")
            assert int(slider.input_value()) == expected
        _show_epoch(page, 3)
        assert _confusion_label(page).startswith("Confusion matrix at epoch 3 · accuracy ")

        # Every cell of the frame is drawn and moves between the first and the last epoch.
        for i, (a, b) in enumerate(zip(_cells(first), _cells(last))):
            assert min(a.std(), b.std()) > 5.0, f"cell {i} is blank"
            assert np.abs(a - b).mean() > 0.1, f"cell {i} did not change"
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        # The Compare page opens with a 3-class run in the session.
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Compare").click()
        expect(page.get_by_role("heading", name="Compare runs")).to_be_visible()
        wait_for_idle(page)
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    finally:
        context.close()


IRIS = presets.PRESETS["iris"].title
IRIS_EPOCHS = presets.get("iris").training.epochs
FIVE_VIEWS = ("feature space, decision boundary, probability histograms, loss and accuracy, "
              "loss histogram")


def test_the_iris_preset_trains_and_replays_all_five_views(browser, app_url, artifacts_dir):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(app_url)
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        wait_for_idle(page)
        apply_preset(page, IRIS)
        # 4 features, so the 2-unit bottleneck is the plane the views are drawn in.
        page.screenshot(path=str(artifacts_dir / "browser_multiclass_iris_train.png"))
        expect(page.get_by_text(re.compile(r"4 → 8 tanh → 2 linear bottleneck → 3 softmax"))
               ).to_be_visible(timeout=30_000)
        page.get_by_role("button", name="Train", exact=True).click()
        open_button = page.get_by_role("button", name="Open in Replay ▶")
        expect(open_button).to_be_visible(timeout=180_000)
        wait_for_idle(page)
        open_button.click()
        page.wait_for_url(re.compile(r"/replay"))
        wait_for_frame(page, IRIS_EPOCHS, timeout_ms=60_000)
        wait_for_idle(page)
        frame = page.locator(FRAME_SELECTOR)
        # Every view drawn, none replaced by a note (the alt text names the drawn views).
        expect(frame).to_have_attribute(
            "alt", re.compile(rf"^Epoch {IRIS_EPOCHS} of {IRIS_EPOCHS}: "), timeout=30_000)
        alt = frame.get_attribute("alt")
        drawn = alt.split(": ", 1)[1].split(". ")[0].split(", ")
        assert sorted(drawn) == sorted(FIVE_VIEWS.split(", ")), drawn
        # The species, whole, as the data names them (the legend may shorten them).
        assert alt.endswith(". Classes: setosa, versicolor, virginica"), alt
        page.mouse.move(1277, 717)
        page.screenshot(path=str(artifacts_dir / "browser_multiclass_iris_replay.png"))
        for i, cell in enumerate(_cells(frame.screenshot())):
            assert cell.std() > 5.0, f"cell {i} is blank"
        caption = page.get_by_text(re.compile(rf"^Epoch {IRIS_EPOCHS} of {IRIS_EPOCHS} · loss "))
        accuracy = float(re.search(r"accuracy (\d+\.\d)%", caption.inner_text()).group(1))
        assert accuracy >= 97.0  # the preset's stated training accuracy
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    finally:
        context.close()
