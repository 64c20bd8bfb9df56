"""The Train page trains the 2-unit bottleneck option on 2-D data, and Replay shows it:
the live preview replays the same network the recorder stores, bottleneck included."""

from __future__ import annotations

import numpy as np
from prebuilt_runs import SMALL_SAMPLES, new_session_id
from test_pages import button, check, epoch_caption, finish_jobs, open_app, texts, workspace_of

from replay_core.replay.replayer import Replay
from replay_core.store import runfile
from studio.form import dataset_param_key


def test_the_bottleneck_option_trains_on_the_parabolas_and_replays(data_root):
    sid = new_session_id()
    at = open_app(sid)
    at.number_input(key=dataset_param_key("parabola", "n_samples")).set_value(SMALL_SAMPLES)
    at.number_input(key="epochs").set_value(4)
    at.checkbox(key="bottleneck").check()
    check(at.run())
    check(finish_jobs(check(button(at, "Train").click().run())))
    assert not texts(at.error), texts(at.error)
    success = texts(at.success)
    assert len(success) == 1 and "complete, 4 of 4 epochs" in success[0], success

    ws = workspace_of(data_root, sid)
    (summary,) = ws.runs()
    assert summary.spec["model"]["bottleneck"] is True
    run = runfile.read_run(ws.run_path(summary.name), summary.name)
    assert run.layer_names == ["hidden", "bottleneck", "output"]
    assert [c["name"] for c in run.activation_config] == ["sigmoid", "linear", "sigmoid"]

    check(at.button(key="open_replay").click().run())
    assert epoch_caption(at).startswith("Epoch 4 of 4 ·")
    # The page offers the bottleneck's latent space among the feature layers.
    replay = Replay(ws.run_path(summary.name), summary.name)
    assert "bottleneck" in replay.feature_layers()
    latent = replay.layer_outputs("bottleneck")
    w, b = run.weights[1][0][-1], run.weights[1][1][-1]
    hidden = 1 / (1 + np.exp(-(run.inputs @ run.weights[0][0][-1] + run.weights[0][1][-1])))
    np.testing.assert_allclose(latent[-1], hidden @ w + b, rtol=1e-4, atol=1e-5)
