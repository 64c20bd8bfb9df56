"""Real browser: a DeepReplay file uploaded on the Runs page shows its layer internals on
the Replay page ("Layers"), and they follow the epoch slider."""

from __future__ import annotations

from browser_support import epoch_slider, go_to_page, wait_for_idle
from prebuilt_runs import DEEPREPLAY_EPOCHS, DEEPREPLAY_RUN, write_deepreplay_file

LAYERS_IMG = "img[alt^='Inside ']"


def test_the_layers_switch_shows_the_internals_of_an_uploaded_run(browser, app_url,
                                                                   artifacts_dir, tmp_path):
    path = tmp_path / "deepreplay.h5"
    write_deepreplay_file(path)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(app_url + "/runs")
        page.locator("input[type=file]").first.wait_for(state="attached")
        wait_for_idle(page)
        page.locator("input[type=file]").first.set_input_files(str(path))
        page.get_by_text(DEEPREPLAY_RUN, exact=True).first.wait_for(state="attached")  # a table cell
        wait_for_idle(page)
        go_to_page(page, "Replay")
        page.get_by_text("Layers", exact=True).first.click()
        wait_for_idle(page)
        image = page.locator(LAYERS_IMG)
        image.wait_for()
        assert image.get_attribute("alt").startswith(
            f"Inside {DEEPREPLAY_RUN} at epoch {DEEPREPLAY_EPOCHS}:")
        first = image.screenshot()
        epoch_slider(page).focus()
        page.keyboard.press("Home")
        page.wait_for_function(
            "s => { const i = document.querySelector(s); return i && i.alt.includes('epoch 0:')"
            " && i.complete && i.naturalWidth > 0; }", arg=LAYERS_IMG)
        wait_for_idle(page)
        assert page.locator(LAYERS_IMG).screenshot() != first
        page.locator(LAYERS_IMG).scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "browser_layers_1280.png"))
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()
