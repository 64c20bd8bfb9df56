"""In Chromium: a reload or a new tab of the same browser finds the same runs; another
browser sees none of them; a tampered cookie is a new session, never an error page; "New
session" starts afresh; the token is never in the address."""

from __future__ import annotations

import pytest
from browser_support import go_to_page, wait_for_idle
from prebuilt_runs import DEEPREPLAY_RUN, write_deepreplay_file

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect

COOKIE = "deepreplay_session"


def _open_runs(page, url: str) -> None:
    page.goto(url)  # the Train page
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    go_to_page(page, "Runs")


def _has_run(page) -> bool:
    wait_for_idle(page)
    return page.get_by_role("combobox", name="Run").count() == 1


def _assert_clean(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in page.locator("body").inner_text()


def test_runs_outlive_a_reload_and_stay_in_their_browser(browser, app_url, tmp_path,
                                                         artifacts_dir):
    run_file = tmp_path / "deepreplay.h5"
    write_deepreplay_file(run_file)
    first = browser.new_context(viewport={"width": 1280, "height": 720})
    other = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = first.new_page()
        page.set_default_timeout(60_000)
        _open_runs(page, app_url)
        page.locator("input[type=file]").set_input_files(str(run_file))
        expect(page.locator('[data-testid="stAlert"]').filter(
            has_text="Imported 1 run(s)")).to_be_visible()
        assert _has_run(page)
        cookies = {c["name"]: c["value"] for c in first.cookies()}
        assert COOKIE in cookies and len(cookies[COOKIE]) == 64
        assert cookies[COOKIE] not in page.url

        page.reload()  # on /runs
        page.get_by_role("heading", name="Runs", exact=True).wait_for(timeout=60_000)
        expect(page.get_by_role("combobox", name="Run")).to_have_value(DEEPREPLAY_RUN)

        tab = first.new_page()  # a new tab of the same browser
        _open_runs(tab, app_url)
        expect(tab.get_by_role("combobox", name="Run")).to_have_value(DEEPREPLAY_RUN)
        tab.screenshot(path=str(artifacts_dir / "browser_session_new_tab.png"))
        tab.close()

        stranger = other.new_page()
        _open_runs(stranger, app_url)
        assert not _has_run(stranger), "another browser sees this browser's runs"
        _assert_clean(stranger)

        # A tampered token: a new, empty session, no error.
        other.clear_cookies()
        other.add_cookies([{"name": COOKIE, "value": "../" + cookies[COOKIE][:40],
                            "url": app_url}])
        _open_runs(stranger, app_url)
        assert not _has_run(stranger)
        _assert_clean(stranger)
        # Someone else's folder name is not a token that opens it.
        other.clear_cookies()
        other.add_cookies([{"name": COOKIE, "value": cookies[COOKIE][::-1], "url": app_url}])
        _open_runs(stranger, app_url)
        assert not _has_run(stranger)

        # "New session" starts afresh in the first browser; its cookie changes.
        page.get_by_role("button", name="New session").click()
        page.get_by_role("button", name="Start a new session").click()
        wait_for_idle(page)
        go_to_page(page, "Runs")
        assert not _has_run(page)
        page.reload()
        page.get_by_role("heading", name="Runs", exact=True).wait_for(timeout=60_000)
        assert not _has_run(page)
        new_cookie = {c["name"]: c["value"] for c in first.cookies()}[COOKIE]
        assert new_cookie != cookies[COOKIE]
        _assert_clean(page)
    finally:
        first.close()
        other.close()
