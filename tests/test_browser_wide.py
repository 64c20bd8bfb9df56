"""In headless Chromium: a CSV upload (refused, then accepted), training a 10-unit layer on
it, and replaying that layer through a PCA, two chosen units and the unit strip.

Screenshots go to ``tests/artifacts/browser_wide_*.png``.
"""

from __future__ import annotations

import pytest
from browser_support import FRAME_SELECTOR, wait_for_idle

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect

FULL_HD = {"width": 1920, "height": 1080}


def _moons_csv(path, n: int = 300, hole: bool = False):
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=0.15, random_state=0)
    rows = [f"{a:.4f},{b:.4f},{'ab'[int(c)]}" for (a, b), c in zip(X, y)]
    if hole:
        rows[6] = "," + rows[6].split(",", 1)[1]
    path.write_text("length,width,kind\n" + "\n".join(rows) + "\n")
    return path


def _number(page, label: str, value: int) -> None:
    box = page.get_by_role("spinbutton", name=label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    wait_for_idle(page)


def _open_projection(page) -> None:
    """Open the sidebar's Projection popover, where a wide layer's projection is chosen."""
    if not page.get_by_role("radiogroup", name="Projection of 10 units").is_visible():
        page.locator('[data-testid="stSidebar"]').get_by_role(
            "button", name="Projection").click()


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def test_csv_upload_then_a_wide_layer_replays(browser, app_url, artifacts_dir, tmp_path):
    context = browser.new_context(viewport=FULL_HD)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(app_url)
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        wait_for_idle(page)
        page.get_by_role("combobox", name="Dataset").click()
        page.get_by_role("option", name="Upload CSV…").click()
        wait_for_idle(page)

        page.locator("input[type=file]").set_input_files(str(_moons_csv(tmp_path / "holes.csv",
                                                                        hole=True)))
        refused = page.locator('[data-testid="stAlert"]').filter(has_text="missing value")
        expect(refused).to_have_text("'holes.csv': missing value at line 8, column 'length'; "
                                     "fill it in or drop the row")
        wait_for_idle(page)
        assert page.locator('[data-testid="stAlert"]').filter(
            has_text="Check the settings").count() == 0
        page.screenshot(path=str(artifacts_dir / "browser_wide_csv_refused.png"))
        _no_exception(page)

        page.locator("input[type=file]").set_input_files(str(_moons_csv(tmp_path / "moons.csv")))
        expect(page.get_by_text("moons.csv: 300 rows, 2 features; target 'kind'")).to_be_visible()
        wait_for_idle(page)
        _number(page, "Units 1", 10)
        page.get_by_role("combobox", name="Activation 1").click()
        page.get_by_role("option", name="tanh", exact=True).click()
        wait_for_idle(page)
        page.get_by_role("combobox", name="Optimizer").click()
        page.get_by_role("option", name="Adam").click()
        wait_for_idle(page)
        _number(page, "Epochs", 40)
        page.screenshot(path=str(artifacts_dir / "browser_wide_csv_ready.png"))
        page.get_by_role("button", name="Train", exact=True).click()
        open_button = page.get_by_role("button", name="Open in Replay ▶")
        expect(open_button).to_be_visible(timeout=180_000)
        wait_for_idle(page)
        expect(page.locator('[data-testid="stAlert"]').filter(
            has_text="moons.csv — complete, 40 of 40 epochs")).to_be_visible()
        open_button.click()
        page.locator(FRAME_SELECTOR).first.wait_for(timeout=60_000)
        wait_for_idle(page)
        _open_projection(page)
        expect(page.get_by_role("radiogroup", name="Projection of 10 units")).to_be_visible()
        page.screenshot(path=str(artifacts_dir / "browser_wide_pca.png"))
        _no_exception(page)

        page.get_by_text("Units of hidden").click()
        wait_for_idle(page)
        strip = page.get_by_role("img", name="Every unit of hidden over the input space at "
                                              "epoch 40")
        expect(strip).to_be_visible()
        strip.scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_wide_units.png"))

        _open_projection(page)
        page.get_by_text("Two units", exact=True).click()
        wait_for_idle(page)
        _number(page, "Unit y", 5)
        page.screenshot(path=str(artifacts_dir / "browser_wide_two_units.png"))
        _no_exception(page)
        frame = page.locator(FRAME_SELECTOR).first
        assert frame.get_attribute("alt").startswith("Epoch 40 of 40")
    finally:
        context.close()
