"""End to end in headless Chromium against ``streamlit run``: train, replay, play, runs.

One server for the module (``app_url``). Session A is one browser tab kept for the whole
module: it trains the reference run once and every test after the first reuses it.
Pages are switched with the sidebar, never with ``page.goto``: a page load starts a new
Streamlit session, and a new session has an empty workspace.

Screenshots of every step go to ``tests/artifacts/browser_*.png``.
"""

from __future__ import annotations

import io
import re
import time
from types import SimpleNamespace
from urllib.parse import urlparse

import numpy as np
import pytest
from browser_support import (
    FRAME_SELECTOR,
    epoch_slider,
    go_to_page,
    shown_epoch,
    train_reference,
    wait_for_epoch_at_least,
    wait_for_frame,
    wait_for_idle,
)

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect

FULL_HD = {"width": 1920, "height": 1080}
HD = {"width": 1280, "height": 720}
N_EPOCHS = 150
RUN = "Reference: sigmoid"
CELLS = ("feature space", "decision boundary", "loss & accuracy",
         "P(y=1) negatives", "P(y=1) positives", "loss per sample")
MIN_CELL_DIFF = 0.1   # mean |difference| of 0-255 pixels; the marker moving alone gives ~0.3
MIN_CELL_STD = 5.0    # a drawn cell has a std of 20 or more; a blank one has ~0


@pytest.fixture(scope="module")
def session_a(browser, app_url):
    """One browser tab (one Streamlit session) shared by the module's tests."""
    context = browser.new_context(viewport=FULL_HD, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    state = SimpleNamespace(page=page, trained=None, downloaded=None)
    yield state
    context.close()


def _trained(session, artifacts_dir) -> dict:
    """Train the reference run in session A once; later calls return what was seen."""
    if session.trained is None:
        page = session.page
        go_to_page(page, "Train")
        session.trained = train_reference(page)
        page.screenshot(path=str(artifacts_dir / "browser_train_done.png"))
    return session.trained


class _Clock:
    """Prints how long each phase of a test took (shown with ``pytest -s``)."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def __call__(self, what: str) -> None:
        now = time.perf_counter()
        print(f"  {what}: {now - self.last:.1f} s")
        self.last = now


def _assert_no_exception(page) -> None:
    """No Python exception box and no traceback text on the page."""
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    assert "Traceback" not in page.locator("body").inner_text()


def _button(page, key: str):
    """The button with widget key ``key`` (Streamlit also keeps a hidden copy of it)."""
    return page.locator(f".st-key-{key} button:visible")


def _frame(page):
    return page.locator(FRAME_SELECTOR)


def _caption(page, epoch: int):
    return page.get_by_text(re.compile(rf"^Epoch {epoch} of {N_EPOCHS} · loss \d+\.\d{{4}} · "
                                       r"accuracy \d+\.\d%"))


def _show_epoch(page, epoch: int) -> None:
    """Wait for the frame, the slider and the caption to agree on ``epoch``."""
    wait_for_frame(page, epoch)
    expect(_frame(page)).to_have_attribute("alt", re.compile(rf"^Epoch {epoch} of {N_EPOCHS}: "))
    expect(epoch_slider(page)).to_have_value(str(epoch))
    expect(_caption(page, epoch)).to_be_visible()


def _press(page, key: str) -> int:
    """Press ``key`` on the focused epoch slider; return the epoch it moved to."""
    slider = epoch_slider(page)
    slider.focus()
    page.keyboard.press(key)
    return int(slider.input_value())


def _open_replay(session, artifacts_dir) -> None:
    page = session.page
    _trained(session, artifacts_dir)
    if urlparse(page.url).path.rstrip("/") != "/replay":
        go_to_page(page, "Replay")
    wait_for_idle(page)


def _cells(png: bytes) -> list[np.ndarray]:
    """The frame's 2x3 cells (below its title row) as float arrays."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32)
    h, w, _ = pixels.shape
    body = pixels[int(0.07 * h):]  # run name, "Epoch e / n" and the legend
    bh = body.shape[0]
    return [body[r * bh // 2:(r + 1) * bh // 2, c * w // 3:(c + 1) * w // 3]
            for r in range(2) for c in range(3)]


def _assert_cells_move(shot_a: bytes, shot_b: bytes, what: str) -> None:
    cells_a, cells_b = _cells(shot_a), _cells(shot_b)
    diffs = {name: float(np.abs(a - b).mean()) for name, a, b in zip(CELLS, cells_a, cells_b)}
    stds = {name: (float(a.std()), float(b.std()))
            for name, a, b in zip(CELLS, cells_a, cells_b)}
    blank = [name for name, (sa, sb) in stds.items() if min(sa, sb) < MIN_CELL_STD]
    assert not blank, f"blank cells ({what}): {blank}; std {stds}"
    still = [name for name, d in diffs.items() if d < MIN_CELL_DIFF]
    assert not still, f"cells that did not change ({what}): {still}; mean |diff| {diffs}"


def test_train_then_scrub_every_view(session_a, artifacts_dir):
    page = session_a.page
    clock = _Clock()
    seen = _trained(session_a, artifacts_dir)
    clock("train")
    print(f"\ntrained the reference run in {seen['seconds']:.1f} s (click to 'Open in Replay')")
    assert re.match(rf"Epoch \d+ / {N_EPOCHS} · loss", seen["progress"]), seen
    assert re.match(rf"{re.escape(RUN)} — complete, {N_EPOCHS} of {N_EPOCHS} epochs, loss ",
                    seen["status"]), seen["status"]
    assert page.locator('[data-testid="stImage"] img').first.is_visible()  # boundary preview

    page.get_by_role("button", name="Open in Replay ▶").click()
    page.wait_for_url(re.compile(r"/replay"))
    _show_epoch(page, N_EPOCHS)
    assert page.get_by_role("combobox", name="Run").input_value() == RUN
    wait_for_idle(page)
    shots = {N_EPOCHS: _frame(page).screenshot()}
    page.screenshot(path=str(artifacts_dir / "browser_replay_epoch150.png"))
    clock("open in replay")

    # The whole Replay page fits a 1920x1080 screen.
    scroll_h, inner_h = page.evaluate(
        "[document.scrollingElement.scrollHeight, window.innerHeight]")
    assert scroll_h <= inner_h + 4, f"page scrolls at 1920x1080: {scroll_h} > {inner_h}"
    box = _frame(page).bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= inner_h, box

    # Keyboard on the slider thumb.
    assert _press(page, "Home") == 0
    _show_epoch(page, 0)
    shots[0] = _frame(page).screenshot()
    page.screenshot(path=str(artifacts_dir / "browser_replay_epoch0.png"))
    for expected in (1, 2, 3):
        assert _press(page, "ArrowRight") == expected
        _show_epoch(page, expected)
    paged = _press(page, "PageUp")
    assert paged > 4, paged
    _show_epoch(page, paged)
    assert _press(page, "End") == N_EPOCHS
    _show_epoch(page, N_EPOCHS)
    paged = _press(page, "PageDown")
    assert paged < N_EPOCHS - 1, paged
    _show_epoch(page, paged)
    assert _press(page, "ArrowLeft") == paged - 1
    _show_epoch(page, paged - 1)
    clock("keyboard")

    # Epoch 5 from 0 with the arrow keys, then the prev / next buttons.
    _press(page, "Home")
    _show_epoch(page, 0)
    for expected in range(1, 6):
        assert _press(page, "ArrowRight") == expected
    _show_epoch(page, 5)
    wait_for_idle(page)
    shots[5] = _frame(page).screenshot()
    page.screenshot(path=str(artifacts_dir / "browser_replay_epoch5.png"))
    _button(page, "next_epoch").click()
    _show_epoch(page, 6)
    _button(page, "prev_epoch").click()
    _show_epoch(page, 5)
    _button(page, "prev_epoch").click()
    _show_epoch(page, 4)
    clock("epoch 5 and prev/next")

    # Every one of the six cells is drawn and moves with the epoch.
    _assert_cells_move(shots[0], shots[N_EPOCHS], "epoch 0 vs 150")
    _assert_cells_move(shots[0], shots[5], "epoch 0 vs 5")

    clock("cells")
    # 1280x720 with the "Medium" figure size: the frame is still fully on screen.
    page.set_viewport_size(HD)
    page.locator(".st-key-frame_size").click()
    page.get_by_role("option", name=re.compile(r"^Medium")).click()
    page.wait_for_function(
        "() => { const i = document.querySelector(\"img[alt^='Epoch 4 of ']\");"
        " return !!(i && i.complete && i.naturalWidth === 1180); }")
    wait_for_idle(page)
    page.screenshot(path=str(artifacts_dir / "browser_replay_1280x720_medium.png"))
    inner_h = page.evaluate("window.innerHeight")
    box = _frame(page).bounding_box()
    assert box["width"] > 600 and box["y"] >= 0 and box["y"] + box["height"] <= inner_h, box
    expect(_caption(page, 4)).to_be_in_viewport()
    _assert_no_exception(page)
    clock("1280x720")

    page.set_viewport_size(FULL_HD)
    page.locator(".st-key-frame_size").click()
    page.get_by_role("option", name=re.compile(r"^Large")).click()
    page.wait_for_function(
        "() => { const i = document.querySelector(\"img[alt^='Epoch 4 of ']\");"
        " return !!(i && i.complete && i.naturalWidth > 1180); }")
    wait_for_idle(page)


def test_runs_page_refuses_a_bad_file_and_imports_a_good_one(session_a, artifacts_dir,
                                                             tmp_path):
    page = session_a.page
    _trained(session_a, artifacts_dir)
    go_to_page(page, "Runs")
    expect(page.get_by_role("combobox", name="Run")).to_have_value(RUN)

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download .h5").click()
    download = download_info.value
    good = tmp_path / "reference.h5"
    download.save_as(good)
    assert good.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n", "the download is not an HDF5 file"
    session_a.downloaded = good

    bad = tmp_path / "bad.h5"
    bad.write_text("this is not a run file\n")
    page.locator("input[type=file]").set_input_files(str(bad))
    refused = page.locator('[data-testid="stAlert"]').filter(has_text="Upload refused:")
    expect(refused).to_be_visible()
    expect(refused).to_contain_text("not an HDF5 file")
    wait_for_idle(page)
    page.screenshot(path=str(artifacts_dir / "browser_upload_refused.png"))
    _assert_no_exception(page)

    page.locator("input[type=file]").set_input_files(str(good))
    imported = page.locator('[data-testid="stAlert"]').filter(has_text="Imported 1 run(s)")
    expect(imported).to_contain_text(f"'{RUN} (2)'")
    wait_for_idle(page)
    expect(page.get_by_role("combobox", name="Run")).to_have_value(f"{RUN} (2)")
    page.screenshot(path=str(artifacts_dir / "browser_upload_imported.png"))
    _assert_no_exception(page)
    assert _run_options(page) == [RUN, f"{RUN} (2)"]


def _run_options(page) -> list[str]:
    """The names the Runs page's run select offers."""
    combo = page.get_by_role("combobox", name="Run")
    expect(combo).to_be_visible()  # not a skeleton any more
    options = page.get_by_role("option")
    for _ in range(3):
        combo.click()
        try:
            options.first.wait_for(timeout=5_000)
            break
        except Exception:  # the click landed while the page was re-rendering
            page.keyboard.press("Escape")
    names = [t.strip() for t in options.all_inner_texts()]
    page.keyboard.press("Escape")
    expect(options).to_have_count(0)
    return names


def test_sessions_do_not_see_each_others_runs(session_a, browser, app_url, artifacts_dir,
                                              tmp_path):
    page_a = session_a.page
    _trained(session_a, artifacts_dir)
    context_b = browser.new_context(viewport=FULL_HD)
    try:
        page_b = context_b.new_page()
        page_b.set_default_timeout(30_000)
        page_b.goto(f"{app_url}/runs")
        expect(page_b.get_by_text("No runs yet")).to_be_visible()
        expect(page_b.get_by_role("combobox", name="Run")).to_have_count(0)
        page_b.screenshot(path=str(artifacts_dir / "browser_session_b_runs.png"))
        go_to_page(page_b, "Replay")
        expect(page_b.get_by_text("No runs in this session yet")).to_be_visible()
        expect(page_b.locator(FRAME_SELECTOR)).to_have_count(0)

        # B uploads A's run: it keeps its own name in B, and A's list does not change.
        good = session_a.downloaded
        if good is None:
            go_to_page(page_a, "Runs")
            with page_a.expect_download() as download_info:
                page_a.get_by_role("button", name="Download .h5").click()
            good = tmp_path / "reference.h5"
            download_info.value.save_as(good)
        go_to_page(page_b, "Runs")
        page_b.locator("input[type=file]").set_input_files(str(good))
        expect(page_b.locator('[data-testid="stAlert"]').filter(
            has_text="Imported 1 run(s)")).to_contain_text(f"'{RUN}'")
        wait_for_idle(page_b)
        assert _run_options(page_b) == [RUN]

        go_to_page(page_a, "Train")
        go_to_page(page_a, "Runs")
        names_a = _run_options(page_a)
        assert RUN in names_a and len(names_a) == len(set(names_a))
        assert len(names_a) == (2 if session_a.downloaded is not None else 1), names_a
        _assert_no_exception(page_a)
        _assert_no_exception(page_b)
    finally:
        context_b.close()


def _start_playing(page) -> float:
    """From epoch 0, press Play; return when it was pressed."""
    if re.search("Pause", _button(page, "play").inner_text()):  # left by an earlier test
        _button(page, "play").click()
    expect(_button(page, "play")).to_have_text(re.compile("Play"), timeout=30_000)
    wait_for_idle(page)
    _press(page, "Home")
    _show_epoch(page, 0)
    wait_for_idle(page)
    expect(_button(page, "play")).to_have_text(re.compile("Play"))
    start = time.perf_counter()
    _button(page, "play").click()
    expect(_button(page, "play")).to_have_text(re.compile("Pause"))
    return start


def _assert_stopped(page, what: str) -> int:
    """Playback has stopped: Play shows, and the epoch on screen stays put; return it."""
    expect(_button(page, "play")).to_have_text(re.compile("Play"), timeout=5_000)
    wait_for_idle(page, timeout_ms=10_000)
    stopped_at = shown_epoch(page)
    time.sleep(1.5)
    assert shown_epoch(page) == stopped_at, f"still playing after {what}"
    _show_epoch(page, stopped_at)  # frame, slider and caption agree
    return stopped_at


def test_play_then_pause(session_a, artifacts_dir):
    page = session_a.page
    _open_replay(session_a, artifacts_dir)
    start = _start_playing(page)
    time.sleep(2.0)
    # 10 epochs/s by default; on a loaded machine allow a few more seconds for "several".
    wait_for_epoch_at_least(page, 5)
    seconds, epoch = time.perf_counter() - start, shown_epoch(page)
    page.screenshot(path=str(artifacts_dir / "browser_replay_playing.png"))
    print(f"\nplayed to epoch {epoch} in {seconds:.1f} s (default speed 10 epochs/s)")
    assert 5 <= epoch < N_EPOCHS
    # The slider moves with the frames while playing.
    moving = page.locator("[class*='st-key-_played_epoch_']").get_by_role("slider")
    assert int(moving.input_value()) >= 5

    _button(page, "play").click()
    paused = _assert_stopped(page, "Pause")
    assert epoch <= paused < N_EPOCHS
    page.screenshot(path=str(artifacts_dir / "browser_replay_paused.png"))
    _button(page, "next_epoch").click()
    _show_epoch(page, paused + 1)

    # Next during playback stops it too, one epoch after where it was.
    _button(page, "play").click()
    expect(_button(page, "play")).to_have_text(re.compile("Pause"))
    wait_for_epoch_at_least(page, paused + 4)
    _button(page, "next_epoch").click()
    stepped = _assert_stopped(page, "next")
    assert paused + 4 < stepped < N_EPOCHS
