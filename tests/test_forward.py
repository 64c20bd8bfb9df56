"""numpy activations and the epoch-vectorised forward pass, checked against Keras itself."""

from __future__ import annotations

import numpy as np
import pytest

from replay_core.data import activations
from replay_core.errors import RunFileError
from replay_core.replay import forward
from replay_core.replay.forward import Network

keras = pytest.importorskip("keras")

# (name, params, the Keras function with the same params)
ACTIVATION_CASES = [
    ("linear", {}, lambda x: keras.activations.linear(x)),
    ("sigmoid", {}, lambda x: keras.activations.sigmoid(x)),
    ("tanh", {}, lambda x: keras.activations.tanh(x)),
    ("relu", {}, lambda x: keras.activations.relu(x)),
    ("relu", {"negative_slope": 0.1}, lambda x: keras.activations.relu(x, negative_slope=0.1)),
    ("relu", {"max_value": 2.5}, lambda x: keras.activations.relu(x, max_value=2.5)),
    ("relu", {"max_value": 6.0}, lambda x: keras.activations.relu(x, max_value=6.0)),
    ("relu", {"threshold": 0.7}, lambda x: keras.activations.relu(x, threshold=0.7)),
    ("relu", {"negative_slope": 0.2, "max_value": 3.0, "threshold": -0.5},
     lambda x: keras.activations.relu(x, negative_slope=0.2, max_value=3.0, threshold=-0.5)),
    ("relu", {"negative_slope": 0.3, "threshold": 1.0},
     lambda x: keras.activations.relu(x, negative_slope=0.3, threshold=1.0)),
    ("leaky_relu", {}, lambda x: keras.activations.leaky_relu(x)),
    ("leaky_relu", {"negative_slope": 0.3},
     lambda x: keras.activations.leaky_relu(x, negative_slope=0.3)),
    ("relu6", {}, lambda x: keras.activations.relu6(x)),
    ("elu", {}, lambda x: keras.activations.elu(x)),
    ("elu", {"alpha": 0.5}, lambda x: keras.activations.elu(x, alpha=0.5)),
    ("selu", {}, lambda x: keras.activations.selu(x)),
    ("celu", {"alpha": 0.7}, lambda x: keras.activations.celu(x, alpha=0.7)),
    ("softplus", {}, lambda x: keras.activations.softplus(x)),
    ("softsign", {}, lambda x: keras.activations.softsign(x)),
    ("gelu", {}, lambda x: keras.activations.gelu(x)),
    ("gelu", {"approximate": False}, lambda x: keras.activations.gelu(x, approximate=False)),
    ("gelu", {"approximate": True}, lambda x: keras.activations.gelu(x, approximate=True)),
    ("silu", {}, lambda x: keras.activations.silu(x)),
    ("swish", {}, lambda x: keras.activations.swish(x)),
    ("hard_sigmoid", {}, lambda x: keras.activations.hard_sigmoid(x)),
    ("hard_silu", {}, lambda x: keras.activations.hard_silu(x)),
    ("hard_swish", {}, lambda x: keras.activations.hard_swish(x)),
    ("hard_tanh", {}, lambda x: keras.activations.hard_tanh(x)),
    ("mish", {}, lambda x: keras.activations.mish(x)),
    ("log_sigmoid", {}, lambda x: keras.activations.log_sigmoid(x)),
    ("exponential", {}, lambda x: keras.activations.exponential(x)),
    ("squareplus", {"b": 3.0}, lambda x: keras.activations.squareplus(x, b=3.0)),
    ("sparse_sigmoid", {}, lambda x: keras.activations.sparse_sigmoid(x)),
    ("sparse_plus", {}, lambda x: keras.activations.sparse_plus(x)),
    ("soft_shrink", {}, lambda x: keras.activations.soft_shrink(x)),
    ("soft_shrink", {"threshold": 1.0}, lambda x: keras.activations.soft_shrink(x, threshold=1.0)),
    ("hard_shrink", {"threshold": 0.7}, lambda x: keras.activations.hard_shrink(x, threshold=0.7)),
    ("tanh_shrink", {}, lambda x: keras.activations.tanh_shrink(x)),
    ("threshold", {"threshold": 0.7, "default_value": -2.0},
     lambda x: keras.activations.threshold(x, 0.7, -2.0)),
    ("log_softmax", {}, lambda x: keras.activations.log_softmax(x)),
    ("softmax", {}, lambda x: keras.activations.softmax(x)),
    ("softmax", {"axis": 0}, lambda x: keras.activations.softmax(x, axis=0)),
]


def _points(dtype) -> np.ndarray:
    """(40, 5) values over [-30, 30], dense near 0, with the kinks of the cases exactly."""
    rng = np.random.default_rng(7)
    x = np.concatenate([np.linspace(-8.0, 8.0, 161), [-30.0, -0.5, 0.0, 0.7, 1.0, 2.5, 30.0],
                        rng.normal(0.0, 3.0, 32)])
    return x.astype(dtype).reshape(40, 5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "params", "keras_fn"), ACTIVATION_CASES,
                         ids=[f"{c[0]}{c[1] or ''}" for c in ACTIVATION_CASES])
def test_activation_matches_keras(name, params, keras_fn, dtype):
    x = _points(dtype)
    ours = activations.get({"name": name, **params})(x)
    expected = keras.ops.convert_to_numpy(keras_fn(keras.ops.convert_to_tensor(x)))
    assert ours.dtype == expected.dtype == dtype
    assert ours.shape == x.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)


def test_get_accepts_names_configs_and_aliases():
    x = np.linspace(-3.0, 3.0, 13)
    np.testing.assert_array_equal(activations.get("")(x), x)
    np.testing.assert_array_equal(activations.get(None)(x), x)
    np.testing.assert_array_equal(activations.get({"name": "linear"})(x), x)
    np.testing.assert_array_equal(activations.get("swish")(x), activations.silu(x))
    np.testing.assert_array_equal(
        activations.get({"name": "leaky_relu", "negative_slope": 0.3, "layer": "activation"})(x),
        np.where(x > 0, x, 0.3 * x))
    assert activations.canonical_name("swish") == "silu"
    assert activations.canonical_name({"name": "GELU"}) == "gelu"
    assert activations.output_range("sigmoid") == (0.0, 1.0)
    assert activations.output_range("relu") is None


def test_unknown_activation_lists_known_ones():
    with pytest.raises(ValueError, match="unknown activation 'wobble'") as info:
        activations.get("wobble")
    for known in ("sigmoid", "tanh", "relu", "leaky_relu", "gelu", "swish", "softmax"):
        assert known in str(info.value)


def test_unknown_parameter_is_rejected():
    with pytest.raises(ValueError, match="'elu' takes alpha; got unknown parameter"):
        activations.get({"name": "elu", "slope": 2.0})


def test_missing_required_parameter_is_rejected():
    with pytest.raises(ValueError, match="'threshold' needs parameter"):
        activations.get("threshold")


def test_recorded_defaults_are_accepted():
    """The recorder stores every parameter with its default, e.g. for plain relu."""
    relu = activations.get({"name": "relu", "negative_slope": 0.0, "max_value": None,
                            "threshold": 0.0})
    x = np.linspace(-2.0, 2.0, 9)
    np.testing.assert_array_equal(relu(x), np.maximum(x, 0.0))
    softmax = activations.get({"name": "softmax", "axis": -1, "layer": "activation"})
    np.testing.assert_allclose(softmax(np.zeros((2, 4))), 0.25)


def test_softplus_and_sigmoid_do_not_overflow():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        sp = activations.softplus(x)
        sg = activations.sigmoid(x)
        sm = activations.softmax(np.array([[1000.0, 0.0, -1000.0]]))
    np.testing.assert_allclose(sp, [0.0, np.log1p(np.exp(-50.0)), np.log(2.0), 50.0, 1000.0])
    np.testing.assert_allclose(sg, [0.0, 1 / (1 + np.exp(50.0)), 0.5, 1 / (1 + np.exp(-50.0)),
                                    1.0])
    np.testing.assert_allclose(sm, [[1.0, 0.0, 0.0]])


# --- forward pass -----------------------------------------------------------------------

def _keras_model():
    """3 -> Dense(4, relu) -> Dropout -> Dense(2, linear, no bias) -> Activation(tanh)
    -> LeakyReLU(0.1) -> ELU(0.7) -> Dense(1, sigmoid), and the activation configs a run
    file holds for it."""
    model = keras.Sequential([
        keras.Input(shape=(3,)),
        keras.layers.Dense(4, activation="relu", name="dense_relu"),
        keras.layers.Dropout(0.5, name="dropout"),
        keras.layers.Dense(2, use_bias=False, name="pre"),
        keras.layers.Activation("tanh", name="act"),
        keras.layers.LeakyReLU(negative_slope=0.1, name="leaky"),
        keras.layers.ELU(alpha=0.7, name="elu"),
        keras.layers.Dense(1, activation="sigmoid", name="output"),
    ])
    config = [{"name": "relu"}, {"name": ""}, {"name": "linear"},
              {"name": "tanh", "layer": "activation"},
              {"name": "leaky_relu", "negative_slope": 0.1, "layer": "activation"},
              {"name": "elu", "alpha": 0.7, "layer": "activation"}, {"name": "sigmoid"}]
    return model, config


def _epoch_weights(model, n_states: int, seed: int = 0, scale: float = 1.5):
    """Random float32 weights per epoch, laid out as a run file stores them."""
    rng = np.random.default_rng(seed)
    return [[(rng.normal(0.0, scale, (n_states, *w.shape))).astype(np.float32)
             for w in layer.get_weights()] for layer in model.layers]


def _keras_layer_outputs(model, weights, X):
    """Every layer's output at every epoch, computed by Keras."""
    probe = keras.Model(model.inputs, [layer.output for layer in model.layers])
    per_epoch = []
    for e in range(weights[0][0].shape[0]):
        for layer, arrays in zip(model.layers, weights):
            if arrays:
                layer.set_weights([a[e] for a in arrays])
        per_epoch.append(probe.predict_on_batch(X))
    return [np.stack([outs[i] for outs in per_epoch]) for i in range(len(model.layers))]


@pytest.fixture(scope="module")
def stack():
    model, config = _keras_model()
    weights = _epoch_weights(model, n_states=4)
    X = np.random.default_rng(1).normal(0.0, 1.0, (64, 3)).astype(np.float32)
    expected = _keras_layer_outputs(model, weights, X)
    net = Network.from_weights(weights, config, [layer.name for layer in model.layers])
    return net, weights, X, expected


def test_layer_outputs_match_keras(stack):
    net, _, X, expected = stack
    ours = net.layer_outputs(X)
    assert net.units == [4, 4, 2, 2, 2, 2, 1]
    assert net.n_epochs == 3 and net.input_dim == 3
    assert len(ours) == len(expected) == 7
    for got, want in zip(ours, expected):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_module_level_layer_outputs(stack):
    net, weights, X, expected = stack
    configs = [layer.activation_config for layer in net.layers]
    ours = forward.layer_outputs(weights, configs, X)
    np.testing.assert_allclose(ours[-1], expected[-1], atol=1e-5)


def test_running_from_an_intermediate_layer(stack):
    net, _, X, expected = stack
    for i in range(1, len(net.layers)):
        rest = net.forward(expected[i - 1], start=i)
        np.testing.assert_allclose(rest, expected[-1], atol=1e-5)
        upto = net.forward(X, stop=i + 1)
        np.testing.assert_allclose(upto, expected[i], atol=1e-5)
    # a shared (N, 2) grid in the space of the 2-unit layer 'act', through the rest only
    grid = np.random.default_rng(3).uniform(-1.0, 1.0, (25, 2))
    rest = net.forward(grid, start=net.index("act") + 1)
    manual = grid
    for j in range(net.index("act") + 1, len(net.layers)):
        manual = net.forward(manual, start=j, stop=j + 1)
    np.testing.assert_allclose(rest, manual)
    assert rest.shape == (4, 25, 1)


def test_chunked_forward_equals_whole(stack, monkeypatch):
    net, _, X, expected = stack
    monkeypatch.setattr(forward, "CHUNK_ELEMENTS", 100)  # forces one epoch per chunk
    np.testing.assert_allclose(net.forward(X), expected[-1], atol=1e-5)
    np.testing.assert_allclose(net.forward(expected[1], start=2), expected[-1], atol=1e-5)


def test_forward_rejects_wrong_input_width(stack):
    net, *_ = stack
    with pytest.raises(ValueError, match=r"takes inputs of shape \(N, 3\)"):
        net.forward(np.zeros((5, 2)))


def test_bad_weights_are_run_file_errors():
    k = np.zeros((3, 2, 2))
    with pytest.raises(RunFileError, match="stores 4 weight states"):
        Network.from_weights([[k, np.zeros((3, 2))], [np.zeros((4, 2, 1))]],
                             ["tanh", "sigmoid"], ["a", "b"])
    with pytest.raises(RunFileError, match="takes 3 inputs but the layer before it gives 2"):
        Network.from_weights([[k], [np.zeros((3, 3, 1))]], ["tanh", "sigmoid"], ["a", "b"])
    with pytest.raises(RunFileError, match="layer 'conv' of this run has weights of shapes"):
        Network.from_weights([[np.zeros((3, 3, 3, 1, 4))]], ["relu"], ["conv"])
    with pytest.raises(RunFileError, match="layer 'a' of run 'x': unknown activation 'wobble'"):
        Network.from_weights([[k]], ["wobble"], ["a"], context="run 'x'")
    with pytest.raises(RunFileError, match="2 activation configs"):
        Network.from_weights([[k]], ["tanh", "tanh"])


@pytest.mark.parametrize(("d", "k"), [(2, 2), (2, 1), (10, 10), (3, 7)])
@pytest.mark.parametrize("shared", [True, False])
def test_dense_equals_einsum(d, k, shared):
    rng = np.random.default_rng(d * 10 + k)
    kernel, bias = rng.normal(size=(6, d, k)), rng.normal(size=(6, k))
    X = rng.normal(size=(50, d)) if shared else rng.normal(size=(6, 50, d))
    expected = np.einsum("nd,edk->enk" if shared else "end,edk->enk", X, kernel)
    np.testing.assert_allclose(forward.dense(X, kernel, bias), expected + bias[:, None, :],
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(forward.dense(X, kernel), expected, rtol=1e-12, atol=1e-12)
