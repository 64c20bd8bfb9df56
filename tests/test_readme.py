"""The README's library examples run as written.

The first two ``python`` blocks of its "The library" section (record a Keras ``fit`` with
``ReplayData``, replay and compose it; train a preset with the fast trainer) run in a
fresh interpreter in an empty folder, exactly as a reader would paste them, and what they
write is then checked against Keras' own predictions.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _library_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## The library", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_readme_library_examples_run_as_written(tmp_path):
    pytest.importorskip("keras")
    blocks = _library_blocks()
    assert len(blocks) >= 2, "the README's library section lost its examples"
    script = "\n".join(blocks[:2])
    root = str(README.parent)
    done = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {root!r})\n{script}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "epoch80.png").read_bytes().startswith(b"\x89PNG")

    from replay_core import Replay
    from replay_core.store import runfile

    runs = {r.name: r for r in runfile.list_runs(tmp_path / "runs.h5")}
    assert set(runs) == {"sigmoid", "reference"}
    assert runs["sigmoid"].epochs_done == 150 and runs["reference"].epochs_done == 150
    # The replayed probabilities of the recorded fit are Keras' own at the last epoch.
    import keras

    replay = Replay(tmp_path / "runs.h5", "sigmoid")
    run = runfile.read_run(tmp_path / "runs.h5", "sigmoid")
    model = keras.Sequential([keras.Input((2,)),
                              keras.layers.Dense(2, activation="sigmoid"),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.set_weights([w[-1] for layer in run.weights for w in layer])
    expected = model.predict(run.inputs, verbose=0)[:, 0]
    np.testing.assert_allclose(replay.predict_proba()[-1], expected, atol=1e-5)
