"""Command line: --layer, --projection and --fit-epoch choose the feature space of plot/export."""

from __future__ import annotations

import numpy as np
import pytest

from replay_core import cli
from replay_core.render.frame import FrameRenderer
from replay_core.replay.replayer import Replay
from tests.prebuilt_runs import small_spec


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory):
    from replay_core.train.trainer import train

    path = tmp_path_factory.mktemp("cli") / "wide.h5"
    spec = small_spec(4, **{"model.layers": [{"units": 10, "activation": "tanh"}]})
    train(spec, path, "wide")
    return path


def _png(views, epoch):
    return FrameRenderer(views, size=(640, 360)).png(epoch)


@pytest.mark.parametrize("flags, projection, fit_epoch", [
    ([], None, None),
    (["--projection", "units:3,7"], ("units", 2, 6), None),
    (["--projection", "PCA", "--fit-epoch", "1"], "pca", 1),
])
def test_plot_draws_the_chosen_projection(wide_run, tmp_path, capsys, flags, projection,
                                          fit_epoch):
    out = tmp_path / "frame.png"
    assert cli.main(["plot", str(wide_run), "--run", "wide", "--epoch", "2", "--out", str(out),
                     "--size", "640x360", *flags]) == 0
    views = Replay(wide_run, "wide").views(projection=projection, fit_epoch=fit_epoch)
    assert out.read_bytes() == _png(views, 2)
    fs = views.feature_space
    if projection == ("units", 2, 6):
        # Two chosen units: the coordinates are those units' activations.
        acts = Replay(wide_run, "wide").layer_outputs(0)
        np.testing.assert_allclose(fs.features, acts[..., [2, 6]], atol=1e-6)


@pytest.mark.parametrize("value", ["units:0,2", "units:1", "tsne", "units:a,b"])
def test_plot_refuses_a_bad_projection_in_one_line(wide_run, tmp_path, capsys, value):
    code = cli.main(["plot", str(wide_run), "--run", "wide", "--out", str(tmp_path / "x.png"),
                     "--projection", value])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --projection") and "Traceback" not in err


def test_plot_refuses_units_beyond_the_layer(wide_run, tmp_path, capsys):
    code = cli.main(["plot", str(wide_run), "--run", "wide", "--out", str(tmp_path / "x.png"),
                     "--projection", "units:1,11"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and "units" in err
