"""The Replay page reads a run's file once, not once per view, and not again on the
next rerun while the run is unchanged."""

from __future__ import annotations

import pytest
from prebuilt_runs import SMALL_RUN, seed_workspace, session_prebuilt_runs
from test_pages import REPLAY, check, epoch_caption, open_app

from replay_core.store import runfile


@pytest.fixture(scope="session")
def prebuilt(tmp_path_factory):
    return session_prebuilt_runs(tmp_path_factory)


def test_the_replay_page_reads_the_run_once(data_root, prebuilt, monkeypatch):
    reads: list[str] = []
    real = runfile.read_run

    def counting(filename, run_name):
        reads.append(run_name)
        return real(filename, run_name)

    monkeypatch.setattr(runfile, "read_run", counting)
    at = open_app(seed_workspace(data_root, prebuilt.small), REPLAY)
    assert epoch_caption(at).startswith("Epoch ")
    assert reads == [SMALL_RUN], reads  # views, layers, caption and rates share one read

    check(at.button(key="prev_epoch").click().run())
    check(at.button(key="next_epoch").click().run())
    assert reads == [SMALL_RUN], reads  # unchanged run: no read on later reruns
