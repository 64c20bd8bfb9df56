"""Replay predictions and the five views, checked against Keras and direct computations."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from replay_core.errors import NoFeatureLayerError, ReplayError
from replay_core.replay.replayer import FEATURE_BOUNDARY_GRID, Replay, ViewUnavailableError

keras = pytest.importorskip("keras")

N_STATES = 5  # epochs 0..4
N_SAMPLES = 160


def _leaky(negative_slope):
    act = functools.partial(keras.activations.leaky_relu, negative_slope=negative_slope)
    act.__name__ = "leaky_relu"
    return act


# (id, Keras activation, the activation config a run file stores)
ACTIVATIONS = [
    ("sigmoid", "sigmoid", {"name": "sigmoid"}),
    ("tanh", "tanh", {"name": "tanh"}),
    ("relu", "relu", {"name": "relu"}),
    ("leaky_relu", _leaky(0.3), {"name": "leaky_relu", "negative_slope": 0.3}),
    ("elu", keras.activations.elu, {"name": "elu", "alpha": 1.0}),
    ("selu", "selu", {"name": "selu"}),
    ("softplus", "softplus", {"name": "softplus"}),
    ("gelu", keras.activations.gelu, {"name": "gelu", "approximate": False}),
    ("swish", keras.activations.silu, {"name": "silu"}),
    ("linear", "linear", {"name": "linear"}),
]


def _data(n=N_SAMPLES, d=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, 1.0, (n, d)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 + rng.normal(0.0, 0.5, n) > 0.3).astype(np.float32)
    return X, y


def _weights(model, seed=1, scale=1.5):
    """Random float32 weights for every epoch, laid out as a run file stores them."""
    rng = np.random.default_rng(seed)
    return [[rng.normal(0.0, scale, (N_STATES, *w.shape)).astype(np.float32)
             for w in layer.get_weights()] for layer in model.layers]


def _set_epoch(model, weights, e):
    for layer, arrays in zip(model.layers, weights):
        if arrays:
            layer.set_weights([a[e] for a in arrays])


def _keras_per_epoch(model, weights, X, probe=None):
    """``probe`` (default the model) applied to X at every epoch, stacked (E+1, ...)."""
    probe = model if probe is None else probe
    out = []
    for e in range(N_STATES):
        _set_epoch(model, weights, e)
        out.append(probe.predict_on_batch(X))
    return np.stack(out)


def _sequential(input_dim, *layers):
    return keras.Sequential([keras.Input(shape=(input_dim,)), *layers])


@pytest.fixture(scope="module", params=ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def case(request):
    """A 2 -> 2 (act) -> 3 (act) -> 1 (sigmoid) network with random weights at 5 epochs,
    its Keras predictions and hidden-layer outputs, and its Replay."""
    _, act, config = request.param
    model = _sequential(2, keras.layers.Dense(2, activation=act, name="hidden"),
                        keras.layers.Dense(3, activation=act, name="mid"),
                        keras.layers.Dense(1, activation="sigmoid", name="output"))
    weights = _weights(model)
    X, y = _data()
    hidden = keras.Model(model.inputs, model.get_layer("hidden").output)
    replay = Replay.from_arrays(weights, [config, config, {"name": "sigmoid"}], X, y,
                                layer_names=["hidden", "mid", "output"], name="case")
    return {
        "model": model, "weights": weights, "X": X, "y": y, "replay": replay,
        "proba": _keras_per_epoch(model, weights, X)[..., 0],
        "hidden": _keras_per_epoch(model, weights, X, hidden),
        "hidden_model": hidden, "config": config, "act": act,
    }


def test_predict_proba_matches_keras(case):
    proba = case["replay"].predict_proba()
    assert proba.shape == (N_STATES, N_SAMPLES)
    np.testing.assert_allclose(proba, case["proba"], atol=1e-5)


def test_predict_proba_of_new_points(case):
    X_new = np.random.default_rng(5).uniform(-3, 3, (40, 2)).astype(np.float32)
    expected = _keras_per_epoch(case["model"], case["weights"], X_new)[..., 0]
    np.testing.assert_allclose(case["replay"].predict_proba(X_new), expected, atol=1e-5)


def test_feature_space_features_match_keras(case):
    view = case["replay"].feature_space()
    assert view.layer_name == "hidden"
    assert view.features.shape == (N_STATES, N_SAMPLES, 2)
    np.testing.assert_allclose(view.features, case["hidden"], atol=1e-5)
    np.testing.assert_allclose(case["replay"].layer_outputs("hidden"), case["hidden"],
                               atol=1e-5)
    np.testing.assert_array_equal(view.targets, case["y"])


def test_feature_space_grid_lines_are_the_input_grid_bent_by_keras(case):
    view = case["replay"].feature_space(grid_lines=11, grid_points=60)
    assert view.grid_lines.shape == (N_STATES, 22, 60, 2)
    X = case["X"].astype(np.float64)
    (x0, y0), (x1, y1) = X.min(axis=0), X.max(axis=0)
    s = np.linspace(0.0, 1.0, 60)
    lines = [np.c_[x0 + (x1 - x0) * s, np.full(60, v)] for v in np.linspace(y0, y1, 11)]
    lines += [np.c_[np.full(60, v), y0 + (y1 - y0) * s] for v in np.linspace(x0, x1, 11)]
    points = np.concatenate(lines).astype(np.float32)
    expected = _keras_per_epoch(case["model"], case["weights"], points, case["hidden_model"])
    np.testing.assert_allclose(view.grid_lines.reshape(N_STATES, -1, 2), expected, atol=1e-5)


def test_feature_space_limits(case):
    view = case["replay"].feature_space()
    name = case["config"]["name"]
    if name == "sigmoid":
        assert view.xlim == view.ylim == pytest.approx((-0.05, 1.05))
    elif name == "tanh":
        assert view.xlim == view.ylim == pytest.approx((-1.1, 1.1))
    else:
        everything = np.concatenate([view.features.reshape(-1, 2),
                                     view.grid_lines.reshape(-1, 2)])
        inside = ((everything[:, 0] >= view.xlim[0]) & (everything[:, 0] <= view.xlim[1])
                  & (everything[:, 1] >= view.ylim[0]) & (everything[:, 1] <= view.ylim[1]))
        assert inside.mean() > 0.98
    assert view.xlim[0] < view.xlim[1] and view.ylim[0] < view.ylim[1]


def _assert_contour_crosses_one_half(points, xs, ys, proba_at):
    """Every point of a marching-squares 0.5 contour lies on an edge of the (xs, ys) grid
    whose two end nodes have probabilities on either side of 0.5 (``proba_at`` gives
    them, from an independent model)."""
    nodes_a, nodes_b = [], []
    for x, y in points:
        j = int(np.argmin(np.abs(xs - x)))
        i = int(np.argmin(np.abs(ys - y)))
        if np.isclose(x, xs[j], rtol=0, atol=1e-9 * np.ptp(xs)):  # on a vertical edge
            i0 = min(max(int(np.searchsorted(ys, y)) - 1, 0), len(ys) - 2)
            nodes_a.append((xs[j], ys[i0]))
            nodes_b.append((xs[j], ys[i0 + 1]))
        else:
            assert np.isclose(y, ys[i], rtol=0, atol=1e-9 * np.ptp(ys))
            j0 = min(max(int(np.searchsorted(xs, x)) - 1, 0), len(xs) - 2)
            nodes_a.append((xs[j0], ys[i]))
            nodes_b.append((xs[j0 + 1], ys[i]))
    pa, pb = proba_at(np.array(nodes_a)), proba_at(np.array(nodes_b))
    assert (np.minimum(pa, pb) <= 0.5 + 1e-5).all()
    assert (np.maximum(pa, pb) >= 0.5 - 1e-5).all()


def test_feature_space_boundary_is_the_rest_of_the_network_at_one_half(case):
    """'hidden' feeds a 3-unit layer, so the boundary is the 0.5 contour of that layer
    and the output, checked with Keras on a model of just those two layers."""
    view = case["replay"].feature_space()
    rest = _sequential(2, keras.layers.Dense(3, activation=case["act"]),
                       keras.layers.Dense(1, activation="sigmoid"))
    xs = np.linspace(*view.xlim, FEATURE_BOUNDARY_GRID)
    ys = np.linspace(*view.ylim, FEATURE_BOUNDARY_GRID)
    assert len(view.boundary) == N_STATES
    for e, line in enumerate(view.boundary):
        assert line.ndim == 2 and line.shape[1] == 2
        rest.set_weights([case["weights"][1][0][e], case["weights"][1][1][e],
                          case["weights"][2][0][e], case["weights"][2][1][e]])

        def proba_at(points):
            return np.asarray(rest.predict_on_batch(points.astype(np.float32)))[:, 0]

        pts = line[np.isfinite(line).all(axis=1)]
        if len(pts) == 0:  # then the whole frame is on one side of 0.5
            gx, gy = np.meshgrid(xs, ys)
            p = proba_at(np.c_[gx.ravel(), gy.ravel()])
            assert (p > 0.5).all() or (p < 0.5).all()
            continue
        assert (pts[:, 0] >= view.xlim[0] - 1e-9).all() and (pts[:, 0] <= view.xlim[1] + 1e-9).all()
        assert (pts[:, 1] >= view.ylim[0] - 1e-9).all() and (pts[:, 1] <= view.ylim[1] + 1e-9).all()
        np.testing.assert_allclose(proba_at(pts), 0.5, atol=0.05)
        _assert_contour_crosses_one_half(pts, xs, ys, proba_at)


def test_decision_boundary_probabilities_are_predictions_on_the_grid(case):
    replay = case["replay"]
    view = replay.decision_boundary(grid_size=50)
    X = case["X"].astype(np.float64)
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * (hi - lo)
    np.testing.assert_allclose([view.xs[0], view.xs[-1]], [lo[0] - pad[0], hi[0] + pad[0]])
    np.testing.assert_allclose([view.ys[0], view.ys[-1]], [lo[1] - pad[1], hi[1] + pad[1]])
    assert view.xlim == pytest.approx((view.xs[0], view.xs[-1]))
    assert view.probabilities.shape == (N_STATES, 50, 50)
    gx, gy = np.meshgrid(view.xs, view.ys)
    expected = replay.predict_proba(np.c_[gx.ravel(), gy.ravel()]).reshape(N_STATES, 50, 50)
    np.testing.assert_allclose(view.probabilities, expected, atol=1e-6)
    # rows follow ys, columns follow xs
    i, j = 7, 31
    p = replay.predict_proba(np.array([[view.xs[j], view.ys[i]]]))[:, 0]
    np.testing.assert_allclose(view.probabilities[:, i, j], p, atol=1e-6)
    for e, line in enumerate(view.contours):
        pts = line[np.isfinite(line).all(axis=1)]
        if len(pts):
            np.testing.assert_allclose(replay.predict_proba(pts)[e], 0.5, atol=0.05)
            _assert_contour_crosses_one_half(pts, view.xs, view.ys,
                                             lambda q, e=e: replay.predict_proba(q)[e])
    np.testing.assert_array_equal(view.inputs, X)


def test_probability_histogram_counts(case):
    replay, y = case["replay"], case["y"]
    view = replay.probability_histogram(bins=20)
    p = case["proba"]
    np.testing.assert_allclose(view.bin_edges, np.linspace(0, 1, 21))
    neg = view.negatives_correct + view.negatives_wrong
    pos = view.positives_correct + view.positives_wrong
    np.testing.assert_array_equal(neg.sum(axis=1), np.full(N_STATES, (y == 0).sum()))
    np.testing.assert_array_equal(pos.sum(axis=1), np.full(N_STATES, (y == 1).sum()))
    p_ours = replay.predict_proba()
    np.testing.assert_array_equal(view.negatives_wrong.sum(axis=1),
                                  ((p_ours >= 0.5) & (y == 0)).sum(axis=1))
    np.testing.assert_array_equal(view.positives_wrong.sum(axis=1),
                                  ((p_ours < 0.5) & (y == 1)).sum(axis=1))
    for e in range(N_STATES):
        np.testing.assert_array_equal(neg[e], np.histogram(p_ours[e][y == 0], view.bin_edges)[0])
        np.testing.assert_array_equal(pos[e], np.histogram(p_ours[e][y == 1], view.bin_edges)[0])
        # Keras' own predictions land in the same bins except right at an edge
        assert np.abs(pos[e] - np.histogram(p[e][y == 1], view.bin_edges)[0]).sum() <= 2
    assert view.ymax == max(neg.max(), pos.max())


def test_loss_and_accuracy_match_keras(case):
    view = case["replay"].loss_and_metric()
    y = case["y"]
    expected = np.array([
        float(keras.ops.mean(keras.losses.binary_crossentropy(y[:, None], p[:, None])))
        for p in case["proba"]])
    np.testing.assert_array_equal(view.epochs, np.arange(N_STATES))
    np.testing.assert_allclose(view.loss, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(view.accuracy, ((case["proba"] >= 0.5) == (y == 1)).mean(axis=1))
    assert view.val_loss is None and view.val_accuracy is None
    assert view.loss_ylim[0] == 0.0 and view.loss_ylim[1] >= view.loss.max()


def test_loss_histogram(case):
    replay, y = case["replay"], case["y"]
    view = replay.loss_histogram(bins=20)
    p = np.clip(replay.predict_proba(), 1e-7, 1 - 1e-7)
    losses = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert view.bin_edges[0] == 0.0
    assert view.bin_edges[-1] == pytest.approx(np.percentile(losses, 99))
    np.testing.assert_array_equal(view.negatives.sum(axis=1), np.full(N_STATES, (y == 0).sum()))
    np.testing.assert_array_equal(view.positives.sum(axis=1), np.full(N_STATES, (y == 1).sum()))
    edges = view.bin_edges.copy()
    edges[-1] = np.inf  # the last bin is open-ended
    for e in range(N_STATES):
        np.testing.assert_array_equal(view.negatives[e], np.histogram(losses[e][y == 0], edges)[0])
        np.testing.assert_array_equal(view.positives[e], np.histogram(losses[e][y == 1], edges)[0])
    assert view.ymax == (view.negatives + view.positives).max()


def test_views_bundle(case):
    views = case["replay"].views()
    assert views.run_name == "case" and views.n_epochs == N_STATES - 1
    assert views.feature_space is not None and views.decision_boundary is not None
    assert views.feature_space_note == views.decision_boundary_note == ""
    np.testing.assert_allclose(views.loss_and_metric.loss, case["replay"].loss_and_metric().loss)


# --- other architectures ---------------------------------------------------------------

@pytest.fixture(scope="module")
def reference_like():
    """2 -> 2 (sigmoid) -> 1 (sigmoid): the hidden layer feeds the output unit directly."""
    model = _sequential(2, keras.layers.Dense(2, activation="sigmoid", name="hidden"),
                        keras.layers.Dense(1, activation="sigmoid", name="output"))
    weights = _weights(model, seed=4, scale=3.0)
    X, y = _data(seed=2)
    Xv, yv = _data(n=60, seed=3)
    replay = Replay.from_arrays(weights, ["sigmoid", "sigmoid"], X, y,
                                layer_names=["hidden", "output"], val_inputs=Xv,
                                val_targets=yv[:, None], name="ref")
    return model, weights, X, y, Xv, yv, replay


def test_straight_boundary_points_give_one_half(reference_like):
    _, weights, *_, replay = reference_like
    view = replay.feature_space()
    kernel, bias = weights[1]
    drawn = 0
    for e, segment in enumerate(view.boundary):
        if len(segment) == 0:
            continue
        assert segment.shape == (2, 2)
        t = np.linspace(0.0, 1.0, 7)[:, None]
        pts = segment[0] + t * (segment[1] - segment[0])
        p = 1.0 / (1.0 + np.exp(-(pts @ kernel[e, :, 0].astype(float) + bias[e, 0])))
        np.testing.assert_allclose(p, 0.5, atol=1e-9)
        # both ends on the frame
        for x, y in segment:
            on_x = np.isclose(x, view.xlim).any()
            on_y = np.isclose(y, view.ylim).any()
            assert on_x or on_y
        drawn += 1
    assert drawn > 0


def test_straight_boundary_outside_the_frame_is_empty():
    w = [[np.ones((2, 2, 2)), np.zeros((2, 2))],
         [np.ones((2, 2, 1)), np.array([[100.0], [-0.5]])]]
    X, y = _data(n=20)
    view = Replay.from_arrays(w, ["sigmoid", "sigmoid"], X, y).feature_space()
    assert view.boundary[0].shape == (0, 2)
    assert view.boundary[1].shape == (2, 2)  # f1 + f2 = 0.5 crosses [0, 1]²


def test_validation_loss_matches_keras(reference_like):
    model, weights, _, _, Xv, yv, replay = reference_like
    view = replay.loss_and_metric()
    pv = _keras_per_epoch(model, weights, Xv)
    expected = [float(keras.ops.mean(keras.losses.binary_crossentropy(yv[:, None], p)))
                for p in pv]
    np.testing.assert_allclose(view.val_loss, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(view.val_accuracy, ((pv[..., 0] >= 0.5) == (yv == 1)).mean(axis=1))
    assert view.loss_ylim[1] >= max(view.loss.max(), view.val_loss.max())


def test_feature_limits_ignore_outliers():
    X, y = _data(n=300)
    X[0] = [500.0, -500.0]  # one wild sample
    rng = np.random.default_rng(0)
    w = [[rng.normal(size=(3, 2, 2)), np.zeros((3, 2))], [rng.normal(size=(3, 2, 1)),
                                                          np.zeros((3, 1))]]
    view = Replay.from_arrays(w, ["linear", "sigmoid"], X, y).feature_space()
    inliers = view.features[:, 1:].reshape(-1, 2)
    assert view.xlim[1] - view.xlim[0] < 0.5 * np.ptp(view.features[..., 0])
    inside = ((inliers[:, 0] >= view.xlim[0]) & (inliers[:, 0] <= view.xlim[1])
              & (inliers[:, 1] >= view.ylim[0]) & (inliers[:, 1] <= view.ylim[1]))
    assert inside.mean() > 0.97


def test_no_two_unit_layer():
    """A wide layer is shown through a PCA; a network of 1-unit hidden layers has no
    feature space and says why."""
    rng = np.random.default_rng(0)
    w = [[rng.normal(size=(3, 2, 8)), np.zeros((3, 8))], [rng.normal(size=(3, 8, 1)),
                                                          np.zeros((3, 1))]]
    X, y = _data(n=30)
    replay = Replay.from_arrays(w, ["relu", "sigmoid"], X, y, layer_names=["dense", "output"],
                                name="wide")
    assert replay.two_unit_layers() == [] and replay.feature_layers() == ["dense"]
    view = replay.feature_space()
    assert view.projection == "pca" and view.n_units == 8
    assert all(len(b) == 0 for b in view.boundary) and "8 units" in view.boundary_note

    w1 = [[rng.normal(size=(3, 2, 1)), np.zeros((3, 1))], [rng.normal(size=(3, 1, 1)),
                                                           np.zeros((3, 1))]]
    narrow = Replay.from_arrays(w1, ["relu", "sigmoid"], X, y, layer_names=["dense", "output"],
                                name="narrow")
    message = ("run 'narrow' has no hidden layer with 2 or more units (layers: 'dense' 1 unit, "
               "'output' 1 unit); add one to see its feature space")
    with pytest.raises(NoFeatureLayerError) as info:
        narrow.feature_space()
    assert str(info.value) == message
    assert isinstance(info.value, ValueError) and isinstance(info.value, ReplayError)
    views = narrow.views()
    assert views.feature_space is None and views.feature_space_note == message
    assert views.decision_boundary is not None
    with pytest.raises(NoFeatureLayerError, match="has 1 unit; the feature space needs a layer"):
        narrow.feature_space("dense")
    with pytest.raises(NoFeatureLayerError, match=r"no layer 'nope' \(layers: 'dense' 1 unit"):
        narrow.feature_space("nope")
    with pytest.raises(NoFeatureLayerError):
        replay.views(layer="nope")


def test_inputs_not_2d():
    rng = np.random.default_rng(0)
    w = [[rng.normal(size=(3, 3, 2)), np.zeros((3, 2))], [rng.normal(size=(3, 2, 1)),
                                                          np.zeros((3, 1))]]
    X, y = _data(n=40, d=3)
    replay = Replay.from_arrays(w, ["tanh", "sigmoid"], X, y, name="three")
    # More than 2 features: P(class 1) over the plane of the inputs' first two PCs,
    # each grid point an input (the mean plus the two components) the network predicts.
    db = replay.decision_boundary()
    assert db.space == "input_pca" and db.inputs.shape == (40, 2)
    mean = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    np.testing.assert_allclose(np.abs(db.inputs), np.abs((X - mean) @ vt[:2].T), atol=1e-5)
    views = replay.views()
    assert views.decision_boundary is not None and views.decision_boundary_note == ""
    one = Replay.from_arrays([[w[0][0][:, :1], w[0][1]], w[1]], ["tanh", "sigmoid"],
                             X[:, :1], y, name="one")
    with pytest.raises(ViewUnavailableError, match="1 input feature") as info:
        one.decision_boundary()
    assert isinstance(info.value, ValueError) and isinstance(info.value, ReplayError)
    fs = views.feature_space
    assert fs.features.shape == (3, 40, 2)
    assert fs.grid_lines.shape == (3, 0, 60, 2)


def test_activation_layer_and_softmax_output():
    model = _sequential(2, keras.layers.Dense(2, name="pre"),
                        keras.layers.Activation("tanh", name="act"),
                        keras.layers.Dropout(0.3, name="drop"),
                        keras.layers.Dense(2, activation="softmax", name="output"))
    weights = _weights(model, seed=9)
    config = [{"name": "linear"}, {"name": "tanh", "layer": "activation"}, {"name": ""},
              {"name": "softmax"}]
    X, y = _data(seed=4)
    replay = Replay.from_arrays(weights, config, X, y,
                                layer_names=[layer.name for layer in model.layers])
    expected = _keras_per_epoch(model, weights, X)
    proba = replay.predict_proba()
    assert proba.shape == (N_STATES, N_SAMPLES, 2)
    np.testing.assert_allclose(proba, expected, atol=1e-5)
    assert replay.two_unit_layers() == ["pre", "act", "drop"]
    view = replay.feature_space("act")
    assert view.xlim == pytest.approx((-1.1, 1.1))
    kernel, bias = (a.astype(float) for a in weights[3])
    for e, segment in enumerate(view.boundary):
        if len(segment):
            z = segment @ kernel[e] + bias[e]
            p1 = np.exp(z[:, 1]) / np.exp(z).sum(axis=1)
            np.testing.assert_allclose(p1, 0.5, atol=1e-9)
    views = replay.views(layer="act")
    np.testing.assert_array_equal(
        views.probability_histogram.positives_wrong.sum(axis=1),
        ((expected[..., 1] < 0.5) & (y == 1)).sum(axis=1))


def test_output_without_probabilities_is_refused():
    rng = np.random.default_rng(0)
    w = [[rng.normal(size=(3, 2, 2)), np.zeros((3, 2))], [rng.normal(size=(3, 2, 1)),
                                                          np.zeros((3, 1))]]
    X, y = _data(n=10)
    replay = Replay.from_arrays(w, ["tanh", "linear"], X, y, layer_names=["h", "out"])
    with pytest.raises(ViewUnavailableError, match="needs a sigmoid output unit"):
        replay.predict_proba()


# --- through a run file ----------------------------------------------------------------

def test_replay_from_a_run_file(tmp_path, reference_like):
    runfile = pytest.importorskip("replay_core.store.runfile")
    import h5py

    _, weights, X, y, Xv, yv, expected = reference_like
    path = tmp_path / "runs.h5"
    writer = runfile.RunWriter(
        path, "ref", inputs=X, targets=y[:, None], val_inputs=Xv, val_targets=yv[:, None],
        layer_names=["hidden", "output"],
        activation_config=[{"name": "sigmoid"}, {"name": "sigmoid"}],
        initial_weights=[[a[0] for a in layer] for layer in weights],
        samples=len(X), batch_size=16, n_epochs=N_STATES - 1)
    try:
        for e in range(1, N_STATES):
            writer.append_epoch([[a[e] for a in layer] for layer in weights],
                                {"loss": 0.5, "accuracy": 0.5}, lr=0.05)
        writer.set_status("complete")
    finally:
        writer.close()
    replay = Replay(path, "ref")
    with h5py.File(path, "w"):  # fails if the replay kept the file open
        pass
    assert replay.name == "ref" and replay.n_epochs == N_STATES - 1
    assert replay.layer_names == ["hidden", "output"]
    np.testing.assert_allclose(replay.predict_proba(), expected.predict_proba(), atol=1e-6)
    views = replay.views()
    np.testing.assert_allclose(views.loss_and_metric.val_loss,
                               expected.loss_and_metric().val_loss, atol=1e-6)
    np.testing.assert_allclose(views.feature_space.features,
                               expected.feature_space().features, atol=1e-6)


def test_replay_of_a_deepreplay_file(tmp_path, reference_like):
    pytest.importorskip("replay_core.store.runfile")
    from deepreplay_fixture import write_deepreplay_run

    _, weights, X, y, *_ = reference_like
    per_epoch = [[[a[e] for a in layer] for layer in weights] for e in range(N_STATES)]
    path = tmp_path / "deepreplay.h5"
    losses = list(np.linspace(0.7, 0.4, N_STATES - 1))
    write_deepreplay_run(path, "sgd", per_epoch, X, y[:, None], ["sigmoid", "sigmoid"],
                         losses, [0.5] * (N_STATES - 1))
    replay = Replay(path, "sgd")
    assert replay.n_epochs == N_STATES - 1
    expected = Replay.from_arrays(weights, ["sigmoid", "sigmoid"], X, y)
    np.testing.assert_allclose(replay.predict_proba(), expected.predict_proba(), atol=1e-6)
    views = replay.views()
    assert views.feature_space.features.shape == (N_STATES, len(X), 2)
    assert views.feature_space.layer_name == replay.layer_names[0]
