"""Hostile run files uploaded through the real Runs page of ``streamlit run``.

Each upload is refused with one sentence; nothing it points at (a server file, another
session's runs) reaches the page; the server stays up for everyone; a valid file still
imports afterwards. Screenshots go to ``tests/artifacts/browser_hostile_*.png``.
"""

from __future__ import annotations

import urllib.request

import hostile_files
import pytest
from browser_support import go_to_page, wait_for_idle
from prebuilt_runs import DEEPREPLAY_RUN, write_deepreplay_file

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect

SECRET = "SECRET-TOKEN-7f3a9c"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from browser_support import serve_app

    data = tmp_path_factory.mktemp("app-data")
    with serve_app(data) as (url, proc):
        yield url, proc, data


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    base = folder / "deepreplay.h5"
    write_deepreplay_file(base)
    secret = folder / "secrets.toml"
    secret.write_text(f'token = "{SECRET}"\n' * 8)
    run = DEEPREPLAY_RUN
    return base, {
        "external storage": hostile_files.external_storage(
            base, folder / "ext_storage.h5", run, secret),
        "external link": hostile_files.external_link(
            base, folder / "ext_link.h5", run, base, run),
        "virtual dataset": hostile_files.virtual_dataset(
            base, folder / "virtual.h5", run, base, run),
        "deep nesting": hostile_files.deep_nesting(base, folder / "deep.h5", run),
        "shape bomb": hostile_files.shape_bomb(base, folder / "bomb.h5", run),
        "nested JSON": hostile_files.nested_json(base, folder / "json.h5", run),
        "unknown activation": hostile_files.unknown_activation(base, folder / "act.h5", run),
        "negative targets": hostile_files.negative_targets(base, folder / "targets.h5", run),
    }


def _healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
        return r.status == 200


def _upload(page, path) -> None:
    page.locator("input[type=file]").set_input_files(str(path))


def test_hostile_uploads_are_refused_and_a_good_one_imports(served, files, browser,
                                                           artifacts_dir):
    url, proc, data_dir = served
    base, hostile = files
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(url)
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        go_to_page(page, "Runs")
        for label, path in hostile.items():
            _upload(page, path)
            refused = page.locator('[data-testid="stAlert"]').filter(has_text="Upload refused:")
            expect(refused, f"{label}: no refusal").to_be_visible()
            wait_for_idle(page)
            text = page.locator("body").inner_text()
            assert SECRET not in text, f"{label}: the secret reached the page"
            assert page.locator('[data-testid="stException"]').count() == 0, label
            assert "Traceback" not in text, label
            assert proc.poll() is None and _healthy(url), f"{label}: the server went down"
            assert page.get_by_role("combobox", name="Run").count() == 0, (
                f"{label}: a run was imported")
            page.screenshot(path=str(artifacts_dir / (
                "browser_hostile_" + label.replace(" ", "_") + ".png")))

        _upload(page, base)
        imported = page.locator('[data-testid="stAlert"]').filter(has_text="Imported 1 run(s)")
        expect(imported).to_be_visible()
        wait_for_idle(page)
        expect(page.get_by_role("combobox", name="Run")).to_have_value(DEEPREPLAY_RUN)
    finally:
        context.close()

    # Nothing the attacks named was copied into the server's data folder.
    for stored in data_dir.rglob("*.h5"):
        assert SECRET.encode() not in stored.read_bytes(), stored
