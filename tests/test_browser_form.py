"""The Train form keeps its values through a visit to Replay, in headless Chromium.

A visit to Replay and one step of its epoch slider (a fragment run) used to leave every
numeric field of the Train form at its minimum while the summary and ``?spec=`` still
said otherwise, and a click on Train then trained 1 epoch of batch 1. Here: set the
form, visit Replay, step the slider once, come back, check every numeric field, the
summary and the address, then train and check the stored spec of the new run.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from browser_support import epoch_slider, go_to_page, wait_for_frame, wait_for_idle
from prebuilt_runs import SMALL_EPOCHS, SMALL_RUN, session_prebuilt_runs

from replay_core.data.spec import RunSpec
from replay_core.store.workspace import Workspace

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect

# What the test types into the form: small, so the training at the end takes seconds.
EPOCHS, BATCH, LR, SEED = 7, 32, 0.08, 5


@pytest.fixture(scope="session")
def prebuilt(tmp_path_factory):
    return session_prebuilt_runs(tmp_path_factory)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app on its own data folder, so the tests can read the sessions' runs."""
    from browser_support import serve_app

    data = tmp_path_factory.mktemp("form-app-data")
    with serve_app(data) as (url, _proc):
        yield url, data


def _number(page, key: str, value) -> None:
    box = page.locator(f".st-key-{key} input")
    # Typed again when the page's own rerun replaced the field between the typing and
    # the Enter (the first visit draws the data's scatter in a second run), as a user
    # would on seeing the old value.
    for _ in range(3):
        box.fill(str(value))
        box.press("Enter")
        wait_for_idle(page)
        page.wait_for_timeout(300)
        wait_for_idle(page)
        if float(box.input_value()) == float(value):
            return
    assert float(box.input_value()) == float(value), (key, box.input_value())


def _numbers(page) -> dict[str, str]:
    """Every numeric field of the Train page, by widget key."""
    page.locator(".st-key-epochs input").wait_for()
    wait_for_idle(page)
    # A rerun may still be replacing the form: wait until its fields are current ones.
    page.wait_for_function("""() => [...document.querySelectorAll('.st-key-epochs input')]
        .some(i => !i.closest('[data-stale="true"]'))""", timeout=30_000, polling=100)
    return page.evaluate("""() => Object.fromEntries(
        [...document.querySelectorAll('[class*="st-key-"] input[type="number"]')]
          .filter(i => !i.closest('[data-stale="true"]'))
          .map(i => [[...i.closest('[class*="st-key-"]').classList]
                       .find(c => c.startsWith('st-key-')).slice(7), i.value]))""")


def _url_spec(page) -> RunSpec:
    values = parse_qs(urlparse(page.url).query).get("spec")
    assert values, f"no spec= in {page.url}"
    return RunSpec.from_json(values[0])


def _url_spec_when(page, wanted, timeout_s: float = 10.0) -> RunSpec:
    """The address's spec once ``wanted(spec)`` holds (the browser updates it a moment
    after the run that set it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        spec = _url_spec(page)
        if wanted(spec) or time.monotonic() > deadline:
            assert wanted(spec), spec
            return spec
        page.wait_for_timeout(100)


def _session_folders(data: Path) -> list[Path]:
    sessions = Path(data) / "sessions"
    return sorted(p for p in sessions.iterdir() if p.is_dir()) if sessions.exists() else []


def _no_error(page) -> None:
    assert "Traceback" not in page.locator("body").inner_text()
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_train_form_survives_a_replay_slider_step_and_trains_what_it_shows(
        browser, served, prebuilt, tmp_path):
    url, data = served
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(url)
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        wait_for_idle(page)

        # A run to replay: the prebuilt small run, uploaded on the Runs page.
        go_to_page(page, "Runs")
        page.locator("input[type=file]").set_input_files(str(prebuilt.small))
        expect(page.get_by_text(re.compile(r"^Imported 1 run"))).to_be_visible()
        wait_for_idle(page)

        go_to_page(page, "Train")
        _number(page, "epochs", EPOCHS)
        _number(page, "batch", BATCH)
        _number(page, "lr", LR)
        _number(page, "seed", SEED)
        before = _numbers(page)
        assert before["epochs"] == str(EPOCHS) and before["batch"] == str(BATCH), before
        summary = re.compile(rf"^SGD lr {LR:g} · batch {BATCH} · {EPOCHS} epochs\b")
        expect(page.get_by_text(summary)).to_be_visible()
        shown = _url_spec_when(page, lambda s: (s.training.epochs, s.training.batch_size,
                                                s.training.seed) == (EPOCHS, BATCH, SEED))

        # Replay the prebuilt run and step its slider once (a fragment run).
        go_to_page(page, "Replay")
        wait_for_frame(page, SMALL_EPOCHS)
        slider = epoch_slider(page)
        slider.focus()
        page.keyboard.press("ArrowLeft")
        wait_for_frame(page, SMALL_EPOCHS - 1)
        wait_for_idle(page)

        go_to_page(page, "Train")
        after = _numbers(page)
        page.screenshot(path=str(tmp_path / "train_form_after_replay.png"), full_page=True)
        assert after == before
        expect(page.get_by_text(summary)).to_be_visible()
        _url_spec_when(page, lambda s: s == shown)
        _no_error(page)

        # Train: the run must store exactly the spec the form and the address showed.
        page.get_by_role("button", name="Train", exact=True).click()
        expect(page.get_by_role("button", name="Open in Replay ▶")).to_be_visible(
            timeout=180_000)
        wait_for_idle(page)
        folders = [p for p in _session_folders(data)
                   if any(r.name == SMALL_RUN for r in Workspace(p).runs())]
        assert len(folders) == 1, folders
        deadline = time.monotonic() + 10
        while True:
            runs = [r for r in Workspace(folders[0]).runs() if r.name != SMALL_RUN]
            if runs and runs[0].status != "running" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(runs) == 1, runs
        assert runs[0].status == "complete" and runs[0].epochs_done == EPOCHS
        assert RunSpec.from_stored(runs[0].spec) == shown
        _no_error(page)
    finally:
        page.screenshot(path=str(tmp_path / "last_page.png"), full_page=True)
        context.close()


def test_hostile_links_show_a_notice_or_an_offer_and_no_traceback(browser, served, tmp_path):
    from urllib.parse import quote

    from prebuilt_runs import small_spec

    url, data = served
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{url}/?spec={quote('[' * 3900)}")
        notice = page.get_by_test_id("stAlert").filter(has_text="using the defaults")
        expect(notice).to_be_visible(timeout=60_000)
        expect(page.locator(".st-key-epochs input")).to_have_value("150")
        _no_error(page)

        before = _session_folders(data)
        spec = small_spec(epochs=3)
        page.goto(f"{url}/replay?present=1&spec={quote(spec.to_json())}")
        expect(page.get_by_role("button", name="Train and present")).to_be_visible()
        expect(page.get_by_text(re.compile(r"^about \d+ seconds$"))).to_be_visible()
        page.wait_for_timeout(1000)
        expect(page.get_by_text("Preparing the presentation")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "presentation_offer.png"), full_page=True)
        # Nothing was trained: no session folder appeared.
        assert _session_folders(data) == before
        _no_error(page)
    finally:
        context.close()
