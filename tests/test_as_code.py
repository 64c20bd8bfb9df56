"""The run as code: the generated script, run on its own with plain ``model.fit``, records
the same weights as the app's fast trainer recorded for the same spec."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from prebuilt_runs import small_spec

from replay_core.data import presets
from replay_core.data.as_code import CodeUnavailableError, run_script, script_name
from replay_core.data.spec import RunSpec
from replay_core.store.runfile import read_run

ROOT = Path(__file__).resolve().parent.parent

# Moons with a held-out share and scaling, two hidden layers (leaky relu, tanh), the
# bottleneck, L2, Adam, a last batch shorter than the others, reduce-on-plateau and early
# stopping on the validation loss: every branch of the generated code.
RICH = RunSpec.from_dict({
    "dataset": {"name": "moons", "params": {"n_samples": 150, "noise": 0.2}, "seed": 3,
                "standardize": True, "validation_split": 0.25},
    "model": {"layers": [{"units": 4, "activation": "leaky_relu", "negative_slope": 0.2},
                         {"units": 3, "activation": "tanh"}],
              "bottleneck": True, "l2": 0.001, "initializer": "he_uniform"},
    "training": {"optimizer": "adam", "learning_rate": 0.02, "batch_size": 10, "epochs": 6,
                 "seed": 7,
                 "reduce_lr": {"monitor": "val_loss", "factor": 0.5, "patience": 1},
                 "early_stopping": {"monitor": "val_loss", "patience": 3}},
})


SPECS = {"reference": small_spec(4), "rich": RICH}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Both specs trained by the app's trainer and by their scripts (one child process
    runs both scripts, so TensorFlow is imported once)."""
    from replay_core.train.trainer import train

    folder = tmp_path_factory.mktemp("as_code")
    paths = []
    for key, spec in SPECS.items():
        train(spec, folder / f"app_{key}.h5", "app")
        path = folder / f"train_{key}.py"
        path.write_text(run_script(spec, "script", f"script_{key}.h5"))
        paths.append(str(path))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    code = "import runpy, sys\nfor p in sys.argv[1:]:\n    runpy.run_path(p)"
    done = subprocess.run([sys.executable, "-c", code, *paths], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


@pytest.mark.parametrize("key", list(SPECS))
def test_script_reproduces_the_apps_run(recorded, key):
    spec = SPECS[key]
    app = read_run(recorded / f"app_{key}.h5", "app")
    script = read_run(recorded / f"script_{key}.h5", "script")
    assert script.status == app.status == "complete"
    assert script.epochs_done == app.epochs_done
    assert script.layer_names == app.layer_names
    assert RunSpec.from_stored(script.spec) == spec
    for layer_app, layer_script in zip(app.weights, script.weights, strict=True):
        for w_app, w_script in zip(layer_app, layer_script, strict=True):
            assert w_script.shape == w_app.shape
            assert_allclose(w_script, w_app, rtol=0, atol=1e-6)
    assert_allclose(script.inputs, app.inputs)
    assert_allclose(script.logs["loss"], app.logs["loss"], rtol=1e-5)
    assert_allclose(script.logs["lr"], app.logs["lr"])
    if spec is RICH:
        assert_allclose(script.val_inputs, app.val_inputs)
        assert_allclose(script.logs["val_loss"], app.logs["val_loss"], rtol=1e-5)
        assert np.min(app.logs["lr"]) < spec.training.learning_rate  # the plateau cut it


@pytest.mark.parametrize("name", list(presets.PRESETS))
def test_every_presets_script_is_valid_python(name):
    script = run_script(presets.get(name), name)
    ast.parse(script)
    assert "model.fit(" in script and "ReplayData(" in script


def test_hostile_run_names_stay_inside_string_literals():
    name = 'x"""\nimport os; os.remove("run.h5")  # \\'
    tree = ast.parse(run_script(small_spec(2), name, "a'b\".h5"))
    assigned = {node.targets[0].id: node.value.value for node in tree.body
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)}
    assert assigned["RUN_NAME"] == name
    assert assigned["RUN_FILE"] == "a'b\".h5"
    assert not any(isinstance(node, ast.Import) and node.names[0].name == "os"
                   for node in tree.body)
    assert re.fullmatch(r"train_[A-Za-z0-9_-]+\.py", script_name(name))


def test_uploaded_csv_data_has_no_script():
    spec = small_spec(2).to_dict()
    spec["dataset"] = {"name": "csv", "params": {"id": 1, "n_samples": 30, "n_features": 2,
                                                 "n_classes": 2}}
    with pytest.raises(CodeUnavailableError, match="uploaded CSV"):
        run_script(RunSpec.from_dict(spec))


def test_cli_writes_the_script_of_a_stored_run(recorded, tmp_path, capsys):
    from replay_core.cli import main

    out = tmp_path / "again.py"
    assert main(["code", str(recorded / "app_reference.h5"), "--run", "app", "--out",
                 str(out), "--record-to", "again.h5"]) == 0
    assert out.read_text() == run_script(SPECS["reference"], "app", "again.h5")
    assert main(["code", str(recorded / "app_reference.h5"), "--run", "app"]) == 0
    assert capsys.readouterr().out.endswith(run_script(SPECS["reference"], "app"))
    # A run recorded by the script itself stores its spec too; an unknown run is an error.
    assert main(["code", str(recorded / "script_rich.h5"), "--run", "script"]) == 0
    assert main(["code", str(recorded / "app_reference.h5"), "--run", "nope"]) == 2
    assert "no run named 'nope'" in capsys.readouterr().err
