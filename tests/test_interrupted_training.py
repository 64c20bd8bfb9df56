"""A training process killed mid-run leaves a run file that replays what it finished."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from replay_core.replay.replayer import Replay
from replay_core.store import runfile

ROOT = Path(__file__).resolve().parent.parent


def test_killed_training_process_keeps_its_finished_epochs(tmp_path):
    path = tmp_path / "runs.h5"
    cmd = [sys.executable, "-m", "replay_core", "train", "--preset", "reference",
           "--file", str(path), "--run", "killed", "--quiet",
           "--training.epochs", "2000", "--dataset.params.n_samples", "400"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        deadline = time.monotonic() + 240
        done = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                summaries = runfile.list_runs(path)
            except runfile.RunFileError:
                summaries = []
            done = summaries[0].epochs_done if summaries else 0
            if done >= 5:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "training ended before it could be killed"
        assert done >= 5, "training did not record 5 epochs in time"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()

    [summary] = runfile.list_runs(path)
    assert summary.status == "running"  # nobody was left to write another status
    assert 5 <= summary.epochs_done < 2000
    replay = Replay(path, "killed")
    assert replay.n_epochs == summary.epochs_done
    probs = replay.predict_proba()
    assert probs.shape == (summary.epochs_done + 1, 400)
    assert np.isfinite(probs).all()
    views = replay.views()
    assert views.n_epochs == summary.epochs_done
    assert views.loss_and_metric.loss.shape == (summary.epochs_done + 1,)
