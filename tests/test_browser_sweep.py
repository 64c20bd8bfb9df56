"""Compare and Seed sweep in headless Chromium against ``streamlit run``.

One browser tab (one session) for the module: it uploads a file of two small runs (tanh
and relu hidden layers, 20 epochs) on the Runs page, scrubs them together on Compare,
sweeps them over two seeds from there, clicks a dot of the strip plot and lands in Replay
on that run; then it stops a longer sweep part way. Screenshots go to
``tests/artifacts/browser_sweep_*.png``.
"""

from __future__ import annotations

import re

import pytest
from browser_support import FRAME_SELECTOR, act_until, go_to_page, wait_for_frame, wait_for_idle
from prebuilt_runs import small_spec

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect

HD = {"width": 1280, "height": 720}
EPOCHS = 20
RUNS = ("tanh", "relu")
SWEEP_TIMEOUT_MS = 400_000  # two workers each start their own TensorFlow


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    """Two runs of the small reference network with a tanh and a relu hidden layer."""
    from replay_core.train.trainer import train

    path = tmp_path_factory.mktemp("browser-sweep") / "two runs.h5"
    for act in RUNS:
        spec = small_spec(EPOCHS, **{"training.learning_rate": 0.5, "model.layers": [
            {"units": 2, "activation": act, "name": "hidden"}]})
        train(spec, path, act)
    return path


@pytest.fixture(scope="module")
def page(browser, app_url, run_file):
    """A 1280x720 tab whose session holds the two runs (uploaded on the Runs page)."""
    context = browser.new_context(viewport=HD)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.goto(app_url)
    tab.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    go_to_page(tab, "Runs")
    tab.locator("input[type=file]").set_input_files(str(run_file))
    expect(tab.locator('[data-testid="stAlert"]').filter(
        has_text="Imported 2 run(s)")).to_be_visible()
    wait_for_idle(tab)
    yield tab
    context.close()


def _open(page, link: str, heading: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=link).click()
    page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=30_000)
    wait_for_idle(page)


def _no_exception(page) -> None:
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    assert "Traceback" not in page.locator("body").inner_text()


def _compare_image(page):
    return page.locator("img[alt^='Compare epoch ']")


def _set_seeds(page, n: int, runs: int) -> None:
    box = page.locator(".st-key-sweep_seeds input")

    def enter() -> None:
        box.fill(str(n))
        box.press("Enter")

    act_until(page, enter, page.get_by_text(re.compile(rf"^{runs} runs: .* × {n} seeds")))
    expect(box).to_have_value(str(n))


def test_compare_scrubs_the_runs_together(page, artifacts_dir):
    _open(page, "Compare", "Compare runs")
    image = _compare_image(page)
    expect(image).to_have_attribute("alt", f"Compare epoch 0 of {EPOCHS}")
    first_src = image.get_attribute("src")
    slider = page.locator(".st-key-compare_epoch").get_by_role("slider")
    slider.focus()
    page.keyboard.press("ArrowRight")
    expect(image).to_have_attribute("alt", f"Compare epoch 1 of {EPOCHS}")
    expect(slider).to_have_value("1")
    slider.focus()
    page.keyboard.press("End")
    expect(image).to_have_attribute("alt", f"Compare epoch {EPOCHS} of {EPOCHS}")
    expect(slider).to_have_value(str(EPOCHS))
    wait_for_idle(page)
    assert image.get_attribute("src") != first_src, "the comparison image did not change"
    page.screenshot(path=str(artifacts_dir / "browser_sweep_compare_end.png"))
    _no_exception(page)


def test_sweep_from_compare_then_open_a_dot_in_replay(page, artifacts_dir):
    if not _compare_image(page).count():
        _open(page, "Compare", "Compare runs")
    page.get_by_role("button", name="Sweep seeds for these runs").click()
    page.get_by_role("heading", name="Seed sweep", exact=True).wait_for()
    wait_for_idle(page)
    chosen = page.locator(".st-key-sweep_choice")
    for name in RUNS:
        expect(chosen).to_contain_text(name)
    _set_seeds(page, 2, 4)
    expect(page.get_by_text(re.compile(r"^4 runs: 2 configurations × 2 seeds, 20 epochs each"))
           ).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "browser_sweep_ready.png"))

    page.get_by_role("button", name="Start", exact=True).click()
    # Four runs of 20 epochs train as one batched program in well under a second once
    # the worker has loaded TensorFlow: the progress bar (seen in the stop test below)
    # may come and go between two looks, so only the end is awaited here.
    done = page.locator('[data-testid="stAlert"]').filter(has_text="Sweep finished: 4 of 4 runs")
    expect(done).to_be_visible(timeout=SWEEP_TIMEOUT_MS)
    wait_for_idle(page)
    _no_exception(page)

    strip = page.locator('[class*="st-key-sweep_chart_first"]')
    dots = strip.locator('[aria-roledescription="point"]')
    expect(dots).to_have_count(4)
    labels = [dots.nth(i).get_attribute("aria-label") for i in range(4)]
    names = sorted(label.split(":")[0] for label in labels)
    assert names == sorted(f"{c} seed {s}" for c in RUNS for s in (1, 2)), labels
    loss_dots = page.locator('[class*="st-key-sweep_chart_loss"] [aria-roledescription="point"]')
    expect(loss_dots).to_have_count(4)
    table = page.locator('[data-testid="stDataFrame"]')
    expect(table).to_be_visible()
    strip.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "browser_sweep_results.png"))
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.screenshot(path=str(artifacts_dir / "browser_sweep_results_full.png"))
    page.set_viewport_size(HD)
    wait_for_idle(page)

    # A dot that reached 100% if there is one (the others sit on the "never" side).
    index = next((i for i, label in enumerate(labels) if ": epoch " in label), 0)
    run = labels[index].split(":")[0]
    dot = dots.nth(index)
    dot.scroll_into_view_if_needed()
    dot.click()
    frame = page.locator(FRAME_SELECTOR)
    expect(frame).to_have_attribute("alt", re.compile(rf"^Epoch {EPOCHS} of {EPOCHS}: "),
                                    timeout=60_000)
    wait_for_frame(page, EPOCHS)
    expect(page.get_by_role("combobox", name="Run")).to_have_value(run)
    assert page.url.split("?")[0].endswith("/replay")
    wait_for_idle(page)
    page.screenshot(path=str(artifacts_dir / "browser_sweep_dot_opened_replay.png"))
    _no_exception(page)

    # Back on the sweep page, the old click does not send the page to Replay again.
    _open(page, "Seed sweep", "Seed sweep")
    expect(dots).to_have_count(4)
    wait_for_idle(page)
    page.wait_for_timeout(1500)
    assert page.url.split("?")[0].endswith("/sweep")
    expect(page.get_by_role("heading", name="Seed sweep", exact=True)).to_be_visible()


def test_stop_keeps_every_runs_finished_epochs(page, artifacts_dir):
    _open(page, "Seed sweep", "Seed sweep")
    chosen = page.locator(".st-key-sweep_choice")
    reference = page.get_by_role("button", name="Sigmoid, tanh and relu (reference run)")
    act_until(page, reference.click,
              chosen.filter(has_text="sigmoid"))
    # The runs of one network train together, about 60 reference runs in 4 s: 240 runs
    # leave time to stop midway.
    _set_seeds(page, 80, 240)
    expect(page.get_by_text(re.compile(r"^240 runs: 3 configurations × 80 seeds"))).to_be_visible()
    page.get_by_role("button", name="Start", exact=True).click()
    one_done = page.get_by_text(re.compile(r"^[1-9][\d,]* of [\d,]+ epochs"))
    expect(one_done).to_be_visible(timeout=SWEEP_TIMEOUT_MS)
    page.screenshot(path=str(artifacts_dir / "browser_sweep_before_stop.png"))
    page.get_by_role("button", name="Stop", exact=True).click()
    stopped = page.locator('[data-testid="stAlert"]').filter(has_text="Stopped:")
    expect(stopped).to_be_visible(timeout=60_000)
    counts = re.search(r"Stopped: (\d+) of 240 runs finished, (\d+) kept with their "
                       r"finished epochs", stopped.inner_text())
    finished, midway = int(counts.group(1)), int(counts.group(2))
    # The runs of a configuration train together: a stop keeps every run, those it cut
    # short with the epochs they finished.
    assert finished + midway == 240 and midway >= 1
    wait_for_idle(page)
    page.screenshot(path=str(artifacts_dir / "browser_sweep_stopped.png"))
    expect(page.get_by_role("combobox", name="Sweep", exact=True)).to_have_value(
        re.compile(r"^sigmoid.* · 240 runs · "))
    # The figures are those of the finished runs only.
    dots = page.locator('[class*="st-key-sweep_chart_loss"] [aria-roledescription="point"]')
    expect(dots).to_have_count(finished)
    page.screenshot(path=str(artifacts_dir / "browser_sweep_stopped.png"))
    _no_exception(page)
