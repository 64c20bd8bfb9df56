"""Shared fixtures: artifact folder, Chromium for the browser tests, a served app."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
for path in (str(ROOT), str(TESTS)):
    if path not in sys.path:
        sys.path.insert(0, path)

ARTIFACTS = TESTS / "artifacts"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Screenshots and frames the tests save for people to look at (kept by CI)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium; installed when missing in CI, a clear skip elsewhere."""
    from browser_support import find_chromium

    path = find_chromium(install=IN_CI)
    if path is None:
        if IN_CI:
            pytest.fail("chromium is missing and could not be installed with apt-get")
        pytest.skip("browser tests need Chromium: `apt-get install chromium` (Debian) and "
                    "`pip install playwright`; Playwright's own browser download is not used")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    """A headless Chromium driven by Playwright, shared by the browser tests."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if IN_CI:
            pytest.fail("playwright is not installed")
        pytest.skip("browser tests need `pip install playwright`")
    from browser_support import CHROMIUM_ARGS

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """The app served by ``streamlit run`` on a free localhost port, with its own data."""
    from browser_support import serve_app

    data = tmp_path_factory.mktemp("app-data")
    with serve_app(data) as (url, _proc):
        yield url


@pytest.fixture
def data_root(tmp_path, monkeypatch) -> Path:
    """A fresh ``DEEPREPLAY_DATA`` and empty Streamlit caches for each page test."""
    import streamlit as st

    root = tmp_path / "data"
    monkeypatch.setenv("DEEPREPLAY_DATA", str(root))
    st.cache_data.clear()
    yield root
    st.cache_data.clear()
