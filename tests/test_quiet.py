"""TensorFlow's start-up lines stay out of the terminal unless asked for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ("import replay_core.train.trainer\n"
          "import tensorflow as tf\n"
          "print(float(tf.constant(2.0) * 3))\n")


def _run(verbose: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "DEEPREPLAY_VERBOSE")}
    if verbose:
        env["DEEPREPLAY_VERBOSE"] = "1"
    return subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


def test_tensorflow_loads_without_a_line_on_stderr_unless_verbose():
    quiet = _run(verbose=False)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.strip() == "6.0"
    assert quiet.stderr == ""
    # Verbose shows what TensorFlow writes (an x86 build announces its oneDNN operations).
    loud = _run(verbose=True)
    assert loud.returncode == 0 and loud.stdout.strip() == "6.0"
    assert "oneDNN" in loud.stderr
