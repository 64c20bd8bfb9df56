"""Layer internals (z-values, activations, gradients per layer) checked against Keras and
TensorFlow on the same weights: intermediate outputs of a float64 Keras model and
``tf.GradientTape`` gradients of its loss, for every activation, both losses and the
bottleneck; the per-epoch summaries against direct counts."""

from __future__ import annotations

import numpy as np
import pytest
from test_forward import ACTIVATION_CASES

from replay_core.errors import ViewUnavailableError
from replay_core.replay.internals import (
    SATURATED_SHARE,
    SATURATION_Z,
    Internals,
)
from replay_core.replay.replayer import Replay

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.filterwarnings("ignore:The structure of `inputs`:UserWarning")

RTOL = 1e-5
STATES = 3  # weight states: the initial one and two epochs


def _weights(widths, rng, scale=0.6, states=STATES):
    return [[rng.normal(0.0, scale, size=(states, a, b)), rng.normal(0.0, 0.3, size=(states, b))]
            for a, b in zip(widths, widths[1:])]


def _keras_model(widths, keras_fns, l1=0.0, l2=0.0):
    """Dense (linear) layers each followed by an Activation layer, in float64, so the
    Dense outputs are the z-values and the Activation outputs the activations."""
    reg = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
    layers = [keras.Input(shape=(widths[0],), dtype="float64")]
    for i, (units, fn) in enumerate(zip(widths[1:], keras_fns)):
        layers.append(keras.layers.Dense(units, dtype="float64", kernel_regularizer=reg,
                                         name=f"dense{i}"))
        layers.append(keras.layers.Activation(fn, dtype="float64", name=f"act{i}"))
    return keras.Sequential(layers)


def _keras_internals(model, weights, epoch, X, y, loss):
    """z-values, activations, kernel and bias gradients of ``model`` at ``epoch``."""
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    for layer, (kernel, bias) in zip(dense, weights):
        layer.set_weights([kernel[epoch], bias[epoch]])
    probe = keras.Model(model.inputs, [layer.output for layer in model.layers])
    outputs = [np.asarray(o) for o in probe(X)]
    Xt = tf.constant(X)
    with tf.GradientTape() as tape:
        out = model(Xt, training=True)
        if loss == "binary":
            per_sample = keras.losses.binary_crossentropy(tf.constant(y[:, None], tf.float64), out)
        else:
            per_sample = keras.losses.sparse_categorical_crossentropy(tf.constant(y), out)
        total = tf.reduce_mean(per_sample) + tf.add_n(model.losses or [tf.constant(0.0, tf.float64)])
    grads = tape.gradient(total, [w for layer in dense for w in (layer.kernel, layer.bias)])
    grads = [np.asarray(g) for g in grads]
    return (outputs[0::2], outputs[1::2], grads[0::2], grads[1::2],
            float(tf.reduce_mean(per_sample)))


def _check(inside, model, weights, X, y, loss, epochs=range(STATES)):
    for e in epochs:
        z, a, gk, gb, ref_loss = _keras_internals(model, weights, e, X, y, loss)
        got = inside.at(e)
        assert len(got.z) == len(z)
        for i in range(len(z)):
            for mine, ref in ((got.z[i], z[i]), (got.activations[i], a[i]),
                              (got.kernel_gradients[i], gk[i]), (got.bias_gradients[i], gb[i])):
                # an element far below the others' size is a sum that cancels: float64
                # rounding of the other terms, not rtol of its own, bounds it
                np.testing.assert_allclose(mine, ref, rtol=RTOL,
                                           atol=1e-9 * float(np.abs(ref).max()))
        np.testing.assert_allclose(got.loss, ref_loss, rtol=RTOL)


def _data(rng, n=24, d=3, classes=2):
    return rng.normal(size=(n, d)), rng.integers(0, classes, n)


HIDDEN_CASES = [c for c in ACTIVATION_CASES if c[1].get("axis", -1) == -1]


@pytest.mark.parametrize(("name", "params", "keras_fn"), HIDDEN_CASES,
                         ids=[f"{n}{p or ''}" for n, p, _ in HIDDEN_CASES])
def test_every_activation_against_gradient_tape(name, params, keras_fn):
    rng = np.random.default_rng(len(name) + 7 * len(params))
    widths = [3, 5, 4, 1]
    weights = _weights(widths, rng)
    X, y = _data(rng)
    config = {"name": name, **params}
    inside = Internals.from_weights(weights, [config, config, "sigmoid"], X, y)
    model = _keras_model(widths, [keras_fn, keras_fn, keras.activations.sigmoid])
    _check(inside, model, weights, X, y, "binary")


def test_categorical_loss_with_softmax_output_against_gradient_tape():
    rng = np.random.default_rng(3)
    widths = [4, 6, 3]
    weights = _weights(widths, rng)
    X, y = _data(rng, d=4, classes=3)
    inside = Internals.from_weights(weights, ["tanh", "softmax"], X, y)
    assert inside.loss_kind == "categorical"
    model = _keras_model(widths, [keras.activations.tanh, keras.activations.softmax])
    _check(inside, model, weights, X, y, "categorical")


@pytest.mark.parametrize("classes", [2, 4])
def test_bottleneck_and_regularisation_against_gradient_tape(classes):
    rng = np.random.default_rng(11)
    out = 1 if classes == 2 else classes
    widths = [3, 6, 2, out]  # tanh encoder, 2-unit linear bottleneck, the output
    weights = _weights(widths, rng)
    X, y = _data(rng, classes=classes)
    acts = ["tanh", "linear", "sigmoid" if out == 1 else "softmax"]
    inside = Internals.from_weights(weights, acts, X, y, l1=0.01, l2=0.003,
                                    layer_names=["h", "bottleneck", "output"])
    model = _keras_model(widths, [keras.activations.get(a) for a in acts], l1=0.01, l2=0.003)
    _check(inside, model, weights, X, y, "binary" if out == 1 else "categorical")


def test_deepreplay_layout_with_separate_activation_layers():
    """DeepReplay files record Dense (linear) + Activation as two model layers."""
    rng = np.random.default_rng(5)
    widths = [3, 4, 1]
    weights = _weights(widths, rng)
    X, y = _data(rng)
    split = [weights[0], [], weights[1], []]
    inside = Internals.from_weights(split, ["", "relu", "", "sigmoid"], X, y,
                                    layer_names=["dense", "act", "out", "out_act"])
    assert inside.layer_names == ("dense", "out")
    model = _keras_model(widths, [keras.activations.relu, keras.activations.sigmoid])
    _check(inside, model, weights, X, y, "binary")


def test_replay_of_a_trained_run_matches_gradient_tape(tmp_path):
    """A real run file: the internals of its stored weights at the first and last epoch."""
    from prebuilt_runs import small_spec

    from replay_core.train.trainer import train

    spec = small_spec(3, **{"model.layers": [{"units": 4, "activation": "relu"},
                                             {"units": 2, "activation": "tanh"}],
                            "model.bottleneck": True})
    train(spec, tmp_path / "run.h5", "run")
    replay = Replay(tmp_path / "run.h5", "run")
    inside = Internals.from_replay(replay)
    weights = [w for w in replay.network.layers if w.has_weights]
    weights = [[layer.kernel, layer.bias] for layer in weights]
    model = _keras_model([2, 4, 2, 2, 1], [keras.activations.relu, keras.activations.tanh,
                                           keras.activations.linear, keras.activations.sigmoid])
    _check(inside, model, weights, replay.inputs, replay.targets.astype(int), "binary",
           epochs=[0, 3])
    np.testing.assert_allclose(inside.views().stats.learning_rate, [0.05] * 3, rtol=1e-6)


def test_dead_and_saturated_shares_against_a_direct_count():
    rng = np.random.default_rng(2)
    widths = [3, 8, 8, 1]
    weights = _weights(widths, rng, scale=3.0, states=4)
    weights[0][1][:, :3] = -50.0  # three relu units dead whatever the sample
    weights[1][0][1:, :, :] *= 4.0  # tanh saturating after epoch 0
    X, y = _data(rng, n=60)
    inside = Internals.from_weights(weights, ["relu", "tanh", "sigmoid"], X, y)
    stats = inside.views().stats
    for e in range(4):
        at = inside.at(e)
        dead = np.mean(np.all(at.z[0] <= 0, axis=0))
        saturated = np.mean(np.mean(np.abs(at.z[1]) > SATURATION_Z, axis=0) > SATURATED_SHARE)
        assert stats.dead_share[e, 0] == pytest.approx(dead)
        assert stats.saturated_share[e, 1] == pytest.approx(saturated)
        assert np.isnan(stats.dead_share[e, 1]) and np.isnan(stats.saturated_share[e, 0])
        # the output unit's confidence is not saturation
        assert np.isnan(stats.dead_share[e, 2]) and np.isnan(stats.saturated_share[e, 2])
        np.testing.assert_allclose(stats.gradients_std[e],
                                   [g.std() for g in at.kernel_gradients], rtol=1e-4)
        np.testing.assert_allclose(stats.gradients_mean_abs[e],
                                   [np.abs(g).mean() for g in at.kernel_gradients], rtol=1e-4)
        np.testing.assert_allclose(stats.weights_std[e], [k.std() for k in at.kernels],
                                   rtol=1e-9)
        np.testing.assert_allclose(stats.loss[e], at.loss, rtol=1e-5)
    assert stats.dead_share[0, 0] >= 3 / 8
    assert stats.saturated_share[3, 1] > stats.saturated_share[0, 1]


def test_violins_follow_the_values():
    rng = np.random.default_rng(4)
    widths = [4, 30, 20, 1]
    weights = _weights(widths, rng, states=3)
    X, y = _data(rng, n=400, d=4)
    views = Internals.from_weights(weights, ["tanh", "relu", "sigmoid"], X, y).views()
    inside = Internals.from_weights(weights, ["tanh", "relu", "sigmoid"], X, y)
    for quantity, values in (("z", lambda at: at.z), ("activations", lambda at: at.activations),
                             ("weights", lambda at: at.kernels),
                             ("gradients", lambda at: at.kernel_gradients)):
        view = views.distribution(quantity)
        assert view.density.shape == (3, 2, len(view.edges) - 1)
        step = view.edges[1] - view.edges[0]
        for e in range(3):
            for i, v in enumerate(values(inside.at(e))[:2]):  # the hidden layers
                fine = (v.max() - v.min()) / 256
                if v.size >= 500:  # with few values numpy interpolates between them
                    q = np.quantile(v, [0.25, 0.5, 0.75])
                    np.testing.assert_allclose(view.quartiles[e, i], q, atol=2 * fine + 1e-9)
                assert view.extremes[e, i].tolist() == pytest.approx([v.min(), v.max()],
                                                                     rel=1e-5, abs=1e-7)
                counts, _ = np.histogram(v, view.edges)
                inside_share = counts.sum() / v.size
                if inside_share > 0.99 and counts.max() > 50:
                    ref = counts / counts.max()
                    # shares moved from 256 fine bins: off by at most a fine bin's worth
                    assert np.abs(view.density[e, i] - ref).max() < 0.15 + fine / step
        lo, hi = view.ylim
        assert lo < view.edges[1] and hi > view.edges[-2]


def test_explainer_curves_and_histogram():
    rng = np.random.default_rng(6)
    weights = _weights([2, 5, 1], rng, states=2)
    X, y = _data(rng, n=100, d=2)
    inside = Internals.from_weights(weights, ["sigmoid", "sigmoid"], X, y,
                                    layer_names=["hidden", "output"])
    view = inside.views().explainer("hidden")
    s = 1 / (1 + np.exp(-view.xs))
    np.testing.assert_allclose(view.values, s, rtol=1e-12)
    np.testing.assert_allclose(view.derivative, s * (1 - s), rtol=1e-9)
    assert view.saturated_beyond == SATURATION_Z and view.dead_below is None
    assert view.xlim[0] <= -5 and view.xlim[1] >= 5
    z = inside.at(1).z[0].ravel()
    counts, _ = np.histogram(z, view.edges)
    np.testing.assert_allclose(view.counts[1], counts, atol=3.0)


def test_learning_rate_and_refusals():
    rng = np.random.default_rng(8)
    weights = _weights([2, 3, 1], rng, states=4)
    X, y = _data(rng, d=2)
    inside = Internals.from_weights(weights, ["relu", "sigmoid"], X, y,
                                    learning_rate=[0.1, 0.05, 0.025])
    np.testing.assert_allclose(inside.views().stats.learning_rate, [0.1, 0.05, 0.025])
    with pytest.raises(ViewUnavailableError):
        inside.at(9)
    with pytest.raises(ViewUnavailableError, match="sigmoid unit or a softmax"):
        Internals.from_weights(weights, ["relu", "linear"], X, y)
    with pytest.raises(ViewUnavailableError):
        inside.views().distribution("biases")


def test_a_run_that_blows_up_keeps_its_finite_epochs():
    rng = np.random.default_rng(9)
    weights = _weights([2, 6, 1], rng, states=4)
    weights[0][0][2] *= 1e30  # beyond float32: redone in float64
    weights[0][0][3, 0, 0] = np.nan  # a diverged epoch
    X, y = _data(rng, d=2)
    inside = Internals.from_weights(weights, ["tanh", "sigmoid"], X, y)
    with np.errstate(all="ignore"):
        views = inside.views()
    assert np.isfinite(views.z.quartiles[:3]).all()
    assert np.isnan(views.z.quartiles[3]).all() and not views.z.density[3].any()
    assert views.z.extremes[2, 0, 1] == pytest.approx(inside.at(2).z[0].max())
    assert np.isfinite(views.z.ylim).all()


def test_a_deepreplay_file_gets_its_internals_and_the_cli_draws_them(tmp_path, capsys):
    """A file of the original package (no spec): layers come from its weights and its
    ``activation_functions``; ``plot``/``export --views`` draw them."""
    from PIL import Image
    from prebuilt_runs import DEEPREPLAY_EPOCHS, DEEPREPLAY_RUN, write_deepreplay_file

    from replay_core import cli

    path = tmp_path / "deepreplay.h5"
    write_deepreplay_file(path)
    replay = Replay(path, DEEPREPLAY_RUN)
    inside = Internals.from_replay(replay)
    views = inside.views()
    assert views.n_epochs == DEEPREPLAY_EPOCHS and len(views.layer_names) == 2
    assert views.stats.activation_names == ("tanh", "sigmoid")
    weights = [[layer.kernel, layer.bias] for layer in replay.network.layers if layer.has_weights]
    model = _keras_model([2, 2, 1], [keras.activations.tanh, keras.activations.sigmoid])
    _check(inside, model, weights, replay.inputs, replay.targets.astype(int), "binary",
           epochs=[0, DEEPREPLAY_EPOCHS])

    png = tmp_path / "layers.png"
    assert cli.main(["plot", str(path), "--run", DEEPREPLAY_RUN, "--views", "layers",
                     "--out", str(png), "--size", "960x540", "--epoch", "2"]) == 0
    assert Image.open(png).size == (960, 540)
    gif = tmp_path / "layers.gif"
    assert cli.main(["export", str(path), "--run", DEEPREPLAY_RUN, "--views", "z,gradients",
                     "--out", str(gif), "--size", "480x270", "--quiet"]) == 0
    with Image.open(gif) as image:
        assert image.n_frames == DEEPREPLAY_EPOCHS + 1
    assert cli.main(["export", str(path), "--run", DEEPREPLAY_RUN, "--views",
                     "z,loss_histogram", "--out", str(tmp_path / "x.png")]) == 2
    assert "not both" in capsys.readouterr().err


def test_renderer_moves_with_the_epoch_and_compares_runs():
    from replay_core.render.internals import (
        COMPARE_PANELS,
        InternalsRenderer,
        parse_internals_panels,
    )

    rng = np.random.default_rng(12)
    weights = _weights([2, 6, 5, 1], rng, states=4)
    X, y = _data(rng, n=80, d=2)
    long = Internals.from_weights(weights, ["relu", "tanh", "sigmoid"], X, y,
                                  learning_rate=[0.1] * 3).views()
    short = Internals.from_weights([[k[:3], b[:3]] for k, b in weights],
                                   ["sigmoid", "sigmoid", "sigmoid"], X, y).views()
    one = InternalsRenderer({"a": long}, size=(800, 400))
    first, last = one.rgb(0), one.rgb(3)
    assert first.shape == (400, 800, 3) and not np.array_equal(first, last)
    violins = one.artists[("a", "z")]
    body = violins.bodies[0].get_xy()
    assert body[:, 1].min() >= long.z.ylim[0] and body[:, 1].max() <= long.z.ylim[1]
    both = InternalsRenderer({"a": long, "b": short}, size=(800, 500))
    assert both.panels == COMPARE_PANELS and both.n_epochs == 3
    both.rgb(3)
    assert both.run_epoch("b", 3) == 2 and both.artists[("b", "z")].epoch == 2
    assert parse_internals_panels("layers")[0] == "z"
    with pytest.raises(ValueError, match="unknown layer panel"):
        parse_internals_panels("z,bias")
