"""The demo features end to end in headless Chromium: presentation links, export, shared links.

One ``streamlit run`` server for the module (``app_url``). Browser sessions:

- the presentation session opens a ``/replay?present=1&run=…&spec=…`` link at 1920x1080;
  the page trains the linked 40-epoch run itself, then presents it (play, pause, exit);
  after the exit, the same session renders an MP4, a GIF and a PNG from the Replay page's
  Export popover, downloads each and decodes it;
- the link tests open Train-page links, valid and tampered (one fresh session each).

A page load starts a new Streamlit session with an empty workspace, so each session is
one tab that is never reloaded. Screenshots: ``tests/artifacts/demo_*.png``.
"""

from __future__ import annotations

import io
import re
import time
from urllib.parse import parse_qs, quote, urlparse

import numpy as np
import pytest
from browser_support import FRAME_SELECTOR, wait_for_frame, wait_for_idle

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect

FULL_HD = {"width": 1920, "height": 1080}
N_EPOCHS = 40
RUN_NAME = "Demo run"
FILE_STEM = "Demo_run"  # the run name in export file names
RUN_CAPTION = "parabola · 2 → 2 sigmoid → 1 sigmoid · SGD lr 0.05"
EXPORT_SIZE = (1280, 720)
# Progress line of the in-page training: "Epoch 3 / 40 · loss 0.6837 · accuracy 58.1% · lr 0.05"
TRAINING_PROGRESS_JS = r"""n => new RegExp('Epoch \\d+ / ' + n + ' · loss ').test(
  document.querySelector('[data-testid="stMain"]')?.innerText || '')"""
# The epoch of the frame on screen (ignoring an element left over from an older run), or
# -1 while a rerun is replacing it.
SHOWN_EPOCH_JS = """() => {
  const imgs = [...document.images].filter(
    i => i.alt.startsWith('Epoch ') && !i.closest('[data-stale="true"]'));
  return imgs.length ? parseInt(imgs[imgs.length - 1].alt.slice(6)) : -1;
}"""


def _spec(**changes):
    from replay_core.data import presets

    return presets.get("reference").replace(**{"training.epochs": N_EPOCHS, **changes})


def _shown_epoch(page) -> int:
    """The epoch in the alt text of the frame on screen (waits out a frame being replaced)."""
    handle = page.wait_for_function(
        f"() => {{ const e = ({SHOWN_EPOCH_JS})(); return e >= 0 ? String(e) : null; }}",
        timeout=10_000, polling=50)
    return int(handle.json_value())


def _wait_epoch_at_least(page, epoch: int, timeout_ms: float = 15_000) -> None:
    page.wait_for_function(f"() => ({SHOWN_EPOCH_JS})() >= {int(epoch)}", timeout=timeout_ms,
                           polling=50)


def _button(page, key: str):
    """The button with widget key ``key`` (Streamlit also keeps a hidden copy of some)."""
    return page.locator(f".st-key-{key} button:visible")


def _slider(page):
    return page.locator(".st-key-epoch").get_by_role("slider")


def _frame(page):
    """The frame image, not a copy left over from an older run while a rerun replaces it."""
    return page.locator(f'{FRAME_SELECTOR}:not([data-stale="true"] img)')


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32)


def _no_error_on_page(page) -> None:
    assert "Traceback" not in page.locator("body").inner_text()
    expect(page.get_by_test_id("stException")).to_have_count(0)


def _wait_until_stopped(page, timeout_ms: float = 30_000) -> None:
    """Let a playback run out, so the next test starts from a still page."""
    expect(_button(page, "play")).to_have_text(re.compile("Play"), timeout=timeout_ms)
    wait_for_idle(page)


# --- presentation link -------------------------------------------------------------------

@pytest.fixture(scope="module")
def presenting(browser, app_url):
    """A 1920x1080 tab on a presentation link, once the page has trained and presents."""
    context = browser.new_context(viewport=FULL_HD, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    link = (f"{app_url}/replay?present=1&run={quote(RUN_NAME)}"
            f"&spec={quote(_spec().to_json())}")
    start = time.perf_counter()
    page.goto(link)
    # The link shows what it would train; only the click trains.
    train = page.get_by_role("button", name="Train and present")
    expect(train).to_be_visible(timeout=90_000)
    expect(page.get_by_text("Preparing the presentation")).to_have_count(0)
    train.click()
    preparing = page.get_by_text(re.compile(r"^Preparing the presentation — training "
                                            rf"2 → 2 sigmoid → 1 sigmoid on parabola, "
                                            rf"{N_EPOCHS} epochs"))
    expect(preparing).to_be_visible(timeout=90_000)
    page.wait_for_function(TRAINING_PROGRESS_JS, arg=N_EPOCHS, timeout=120_000, polling="raf")
    expect(_frame(page)).to_have_attribute("alt", re.compile(rf"^Epoch 0 of {N_EPOCHS}: "),
                                           timeout=150_000)
    wait_for_frame(page, 0)
    wait_for_idle(page)
    print(f"\npresentation link ready in {time.perf_counter() - start:.1f} s")
    yield page
    context.close()


def test_presentation_link_prepares_the_run_and_shows_only_the_frame(presenting,
                                                                     artifacts_dir):
    page = presenting
    expect(page).to_have_url(re.compile(r"[?&]present=1(&|$)"))
    query = parse_qs(urlparse(page.url).query)
    assert query["run"] == [RUN_NAME]
    assert query["spec"] == [_spec().to_json()]
    expect(page.get_by_text("Preparing the presentation")).to_have_count(0)

    # Only the frame, its caption, Play, the slider and a small exit button.
    expect(page.get_by_test_id("stSidebar")).to_be_hidden()
    expect(page.locator("header")).to_be_hidden()
    for key in ("replay_run", "replay_layer", "frame_size", "speed", "prev_epoch",
                "next_epoch"):
        expect(page.locator(f".st-key-{key}")).to_have_count(0)
    for label in ("Run", "Feature-space layer", "Figure size", "Speed (epochs/s)"):
        expect(page.get_by_text(label, exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Export")).to_have_count(0)  # no Export
    main_buttons = page.locator('[data-testid="stMain"] button:visible'
                                ':not([data-testid="stBaseButton-elementToolbar"])')
    expect(main_buttons).to_have_count(2)
    expect(_button(page, "play")).to_have_text(re.compile(r"Play$"))
    expect(_slider(page)).to_be_enabled()
    expect(_slider(page)).to_have_value("0")
    exit_button = _button(page, "exit_present")
    box = exit_button.bounding_box()
    assert box is not None and box["width"] <= 60, box
    exit_button.hover()
    expect(page.get_by_test_id("stTooltipContent")).to_have_text("Leave presentation mode")
    page.mouse.move(960, 1070)  # away from the tooltip and the image toolbar
    expect(page.get_by_test_id("stTooltipContent")).to_have_count(0)

    # Caption: run description in bold, then the epoch, its metrics and learning rate.
    caption = page.locator('[data-testid="stMain"] [data-testid="stMarkdown"]').filter(
        has=page.locator("strong"))
    expect(caption).to_have_count(1)
    expect(caption.locator("strong")).to_have_text(RUN_CAPTION)
    expect(caption).to_have_text(re.compile(
        rf"^{re.escape(RUN_CAPTION)} · Epoch 0 of {N_EPOCHS} · loss \d\.\d{{4}} · "
        r"accuracy \d+\.\d% · lr 0\.05\s+Epoch 0, the initial weights before any training: "
        r"\d+ of \d+ samples on the wrong side \(loss \d\.\d+\)\.$"))  # the narration line

    # The frame spans the width of a 1920x1080 screen.
    frame = _frame(page)
    expect(frame).to_have_count(1)
    box = frame.bounding_box()
    assert box is not None and box["width"] >= 1700, box
    _no_error_on_page(page)
    page.screenshot(path=str(artifacts_dir / "demo_presentation.png"))


def test_presentation_fits_a_1920x1080_screen_without_scrolling(presenting):
    page = presenting
    wait_for_idle(page)
    box = _frame(page).bounding_box()
    assert box is not None and box["y"] >= 0, box
    assert box["y"] + box["height"] <= FULL_HD["height"], box
    sizes = page.evaluate("""() => {
      const main = document.querySelector('[data-testid="stMain"]');
      return {doc: document.scrollingElement.scrollHeight, main: main.scrollHeight,
              mainClient: main.clientHeight, inner: innerHeight};
    }""")
    assert sizes["doc"] <= sizes["inner"] + 2, sizes
    assert sizes["main"] <= sizes["mainClient"] + 2, sizes
    caption = page.locator('[data-testid="stMain"] [data-testid="stMarkdown"]').filter(
        has=page.locator("strong"))
    caption_box = caption.bounding_box()
    assert caption_box is not None, "no caption"
    assert caption_box["y"] + caption_box["height"] <= sizes["inner"], caption_box


def test_presentation_play_runs_at_about_ten_epochs_per_second(presenting, artifacts_dir):
    page = presenting
    wait_for_frame(page, 0)
    still = _pixels(_frame(page).screenshot())
    _button(page, "play").click()
    expect(_button(page, "play")).to_have_text(re.compile(r"Pause$"))
    expect(_slider(page)).to_be_disabled()
    _wait_epoch_at_least(page, 1)
    first, start = _shown_epoch(page), time.perf_counter()
    time.sleep(2.0)
    last, seconds = _shown_epoch(page), time.perf_counter() - start
    moved = _pixels(_frame(page).screenshot())
    page.screenshot(path=str(artifacts_dir / "demo_presentation_playing.png"))
    print(f"\nplayback: epoch {first} -> {last} in {seconds:.2f} s (default 10 epochs/s)")
    # 10 epochs/s: about 20 in 2 s; loose bounds for a shared machine.
    assert 8 <= last - first <= 30, (first, last, seconds)
    assert float(np.abs(moved - still).mean()) > 1.0, "the frame did not change while playing"
    expect(page).to_have_url(re.compile(r"[?&]present=1(&|$)"))
    # Left alone, playback runs to the last epoch and stops there.
    expect(_frame(page)).to_have_attribute(
        "alt", re.compile(rf"^Epoch {N_EPOCHS} of {N_EPOCHS}: "), timeout=30_000)
    _wait_until_stopped(page)
    expect(_slider(page)).to_be_enabled()
    expect(_slider(page)).to_have_value(str(N_EPOCHS))
    expect(page).to_have_url(re.compile(r"[?&]present=1(&|$)"))
    _no_error_on_page(page)


def test_presentation_pause_stops_playback(presenting):
    page = presenting
    slider = _slider(page)
    slider.focus()
    page.keyboard.press("Home")
    wait_for_frame(page, 0)
    wait_for_idle(page)
    _button(page, "play").click()
    expect(_button(page, "play")).to_have_text(re.compile(r"Pause$"))
    _wait_epoch_at_least(page, 5)
    clicked_at = _shown_epoch(page)
    _button(page, "play").click()
    try:
        # Pause reruns the page at once; 4 s leaves room for a loaded machine.
        expect(_button(page, "play")).to_have_text(re.compile(r"Play$"), timeout=4_000)
        paused_at = _shown_epoch(page)
        assert clicked_at <= paused_at <= min(clicked_at + 10, N_EPOCHS - 1), (
            clicked_at, paused_at)
        time.sleep(1.0)
        assert _shown_epoch(page) == paused_at, "still playing after Pause"
        expect(_slider(page)).to_be_enabled()
        expect(_slider(page)).to_have_value(str(paused_at))
        expect(page).to_have_url(re.compile(r"[?&]present=1(&|$)"))
    finally:
        try:  # leave a still page for the next test whatever happened
            _wait_until_stopped(page, timeout_ms=30_000)
        except AssertionError:
            pass


def _leave_presentation(page) -> None:
    """Click the exit button (if still presenting) and wait for the normal Replay page."""
    _wait_until_stopped(page)
    if _button(page, "exit_present").count():
        _button(page, "exit_present").click()
    expect(page.locator(".st-key-replay_run")).to_be_visible(timeout=10_000)
    wait_for_idle(page)


def test_presentation_exit_button_leaves_presentation_mode(presenting):
    page = presenting
    expect(_button(page, "exit_present")).to_have_count(1)
    _leave_presentation(page)
    expect(page.get_by_test_id("stSidebar")).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"[?&]present="))
    assert parse_qs(urlparse(page.url).query)["run"] == [RUN_NAME]
    expect(page.get_by_role("combobox", name="Run", exact=True)).to_have_value(RUN_NAME)
    expect(_button(page, "exit_present")).to_have_count(0)
    expect(page.get_by_role("button", name="Export")).to_be_visible()  # Export is back
    _no_error_on_page(page)


# --- export ------------------------------------------------------------------------------

def _set_range(page, body, first: int, last: int) -> None:
    """Move the Epochs range slider's thumbs with the keyboard to ``first``..``last``."""
    for name, target, low in (("Epochs — start", first, 0), ("Epochs — end", last, first)):
        thumb = body.get_by_role("slider", name=name)
        thumb.focus()
        value = int(thumb.input_value())
        if target - low < abs(target - value):  # Home moves a thumb to its lowest value
            page.keyboard.press("Home")
            value = low
        step = "ArrowRight" if target > value else "ArrowLeft"
        for _ in range(abs(target - value)):
            page.keyboard.press(step)
        expect(body.get_by_role("slider", name=name)).to_have_value(str(target))
        wait_for_idle(page)


def _render_and_download(page, body, fmt: str, name_re: str, tmp_path, *,
                         watch_progress: bool = False):
    """Pick ``fmt``, click Render, wait for the result; return (path, seconds)."""
    option = body.get_by_role("radio", name=fmt, exact=True)
    if option.get_attribute("aria-checked") != "true":  # a click on the chosen one clears it
        option.click()
    expect(body.get_by_role("radio", name=fmt, exact=True)).to_be_checked()
    wait_for_idle(page)
    start = time.perf_counter()
    body.get_by_role("button", name=re.compile(r"Render$")).click()
    if watch_progress:
        expect(body.get_by_test_id("stProgress")).to_contain_text(
            re.compile(r"Rendering frame \d+ of \d+"), timeout=60_000)
    download = body.get_by_role("button", name=re.compile(rf"Download {name_re}$"))
    expect(download).to_be_visible(timeout=120_000)
    seconds = time.perf_counter() - start
    expect(body.get_by_test_id("stProgress")).to_contain_text(re.compile(r"Done in \d+\.\d s"))
    wait_for_idle(page)
    with page.expect_download() as info:
        body.get_by_role("button", name=re.compile(rf"Download {name_re}$")).click()
    name = info.value.suggested_filename
    assert re.fullmatch(name_re, name), name
    path = tmp_path / name
    info.value.save_as(path)
    return path, seconds


def test_export_mp4_gif_and_png_from_the_replay_page(presenting, artifacts_dir, tmp_path):
    """The Export popover renders, previews and downloads each format at 1280x720.

    In the presentation session, back on the normal Replay page (only it has Export).
    """
    import imageio_ffmpeg
    from PIL import Image

    page = presenting
    _leave_presentation(page)
    # The PNG is of the epoch on screen: show epoch 7.
    slider = _slider(page)
    slider.focus()
    page.keyboard.press("Home")
    wait_for_frame(page, 0)
    for _ in range(7):
        page.keyboard.press("ArrowRight")
    wait_for_frame(page, 7)
    expect(_slider(page)).to_have_value("7")
    wait_for_idle(page)

    page.get_by_role("button", name="Export").click()
    body = page.get_by_test_id("stPopoverBody")
    expect(body.get_by_role("radio", name="MP4", exact=True)).to_be_checked()
    expect(body.get_by_role("slider", name="Epochs — start")).to_have_value("0")
    expect(body.get_by_role("slider", name="Epochs — end")).to_have_value(str(N_EPOCHS))
    expect(body.get_by_role("slider", name="Frames per second")).to_have_value("10")
    expect(body.get_by_role("combobox", name="Size")).to_have_value("1280×720")
    wait_for_idle(page)

    # MP4 of epochs 5..30: 26 frames of 1280x720, previewed in a <video>.
    _set_range(page, body, 5, 30)
    mp4, mp4_s = _render_and_download(page, body, "MP4", rf"{FILE_STEM}_5-30\.mp4", tmp_path,
                                      watch_progress=True)
    expect(body.locator("video")).to_have_count(1)
    page.screenshot(path=str(artifacts_dir / "demo_export.png"))
    reader = imageio_ffmpeg.read_frames(str(mp4))
    meta = next(reader)
    frames = [np.frombuffer(f, np.uint8) for f in reader]
    assert tuple(meta["size"]) == EXPORT_SIZE, meta
    assert len(frames) == 30 - 5 + 1, len(frames)
    assert float(frames[0].std()) > 5.0, "blank first frame"
    diff = np.abs(frames[0].astype(np.int16) - frames[-1].astype(np.int16)).mean()
    assert diff > 1.0, "the MP4's first and last frames are the same"

    # GIF of epochs 5..8: 4 frames, previewed as an image.
    _set_range(page, body, 5, 8)
    gif, gif_s = _render_and_download(page, body, "GIF", rf"{FILE_STEM}_5-8\.gif", tmp_path)
    expect(body.locator("img")).to_have_count(1)
    with Image.open(gif) as image:
        assert image.format == "GIF"
        assert image.size == EXPORT_SIZE
        assert image.n_frames == 8 - 5 + 1

    # PNG of the epoch on screen; the range slider goes away.
    png, png_s = _render_and_download(page, body, "PNG (this epoch)", rf"{FILE_STEM}_epoch7\.png",
                                      tmp_path)
    expect(body.get_by_role("slider", name="Epochs — start")).to_have_count(0)
    with Image.open(png) as image:
        assert image.format == "PNG"
        assert image.size == EXPORT_SIZE
    _no_error_on_page(page)
    print(f"\nexport render times: MP4 26 frames {mp4_s:.1f} s, GIF 4 frames {gif_s:.1f} s, "
          f"PNG {png_s:.1f} s")


# --- shareable Train settings ------------------------------------------------------------

def _open_train(browser, app_url, query: str):
    context = browser.new_context(viewport=FULL_HD)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{app_url}/?{query}")
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled(timeout=60_000)
    wait_for_idle(page)
    return context, page


def _url_spec(page):
    from replay_core.data.spec import RunSpec

    values = parse_qs(urlparse(page.url).query).get("spec")
    assert values, f"no spec= in {page.url}"
    return RunSpec.from_json(values[0])


def test_train_link_fills_the_controls(browser, app_url):
    shared = _spec(**{"training.learning_rate": 0.1})
    context, page = _open_train(browser, app_url, f"spec={quote(shared.to_json())}")
    try:
        expect(page.locator(".st-key-epochs input")).to_have_value("40")
        expect(page.locator(".st-key-lr input")).to_have_value("0.1000")
        expect(page.get_by_text(re.compile(r"^SGD lr 0\.1 · batch 16 · 40 epochs\b"))).to_be_visible()
        expect(page).to_have_url(re.compile(r"[?&]spec="))
        assert _url_spec(page) == shared
        expect(page.get_by_test_id("stAlert").filter(has_text="not valid")).to_have_count(0)
        _no_error_on_page(page)
    finally:
        context.close()


def test_tampered_train_link_warns_and_uses_the_defaults(browser, app_url):
    context, page = _open_train(browser, app_url, "spec=%7Bbad")
    try:
        warning = page.get_by_test_id("stAlert").filter(
            has_text="The link's settings were not valid")
        expect(warning).to_be_visible()
        expect(warning).to_contain_text("using the defaults.")
        expect(page.locator(".st-key-epochs input")).to_have_value("150")
        expect(page.locator(".st-key-lr input")).to_have_value("0.0500")
        # The address is rewritten to the settings now shown, so it can be shared again.
        assert _url_spec(page).training.epochs == 150
        _no_error_on_page(page)
    finally:
        context.close()
