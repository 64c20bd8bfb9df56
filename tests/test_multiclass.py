"""More than two classes: softmax runs trained by the real trainer, replayed in numpy.

Every figure the replay computes is checked against an independent computation: Keras'
``model.predict`` with the stored weights loaded epoch by epoch, Keras' own
``sparse_categorical_crossentropy``, scikit-learn's ``confusion_matrix``, ``np.histogram``.
"""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from sklearn.metrics import confusion_matrix  # noqa: E402

from replay_core.data import datasets  # noqa: E402
from replay_core.data.spec import RunSpec  # noqa: E402
from replay_core.render.frame import CLASS_PALETTE, FrameRenderer, compose  # noqa: E402
from replay_core.replay.replayer import Replay, class_margins  # noqa: E402
from replay_core.replay.views import (  # noqa: E402
    ClassLossHistogramView,
    ClassProbabilityHistogramView,
    ProbabilityHistogramView,
)
from replay_core.store import runfile  # noqa: E402
from replay_core.train.model_builder import build_model  # noqa: E402
from replay_core.train.trainer import DEFAULT_MAX_COST, train  # noqa: E402

EPOCHS = 6


def _spec(dataset: dict, layers: list, **training) -> RunSpec:
    return RunSpec.from_dict({
        "dataset": dataset,
        "model": {"layers": layers},
        "training": {"epochs": EPOCHS, "optimizer": "adam", "learning_rate": 0.03,
                     "batch_size": 16, **training},
    })


SPIRAL3 = _spec({"name": "spiral", "params": {"n_samples": 240, "arms": 3},
                 "validation_split": 0.25},
                [{"units": 8, "activation": "tanh"}, {"units": 2, "activation": "tanh"}])
BLOBS6 = _spec({"name": "blobs", "params": {"n_samples": 300, "centers": 6,
                                            "cluster_std": 0.6}, "standardize": True},
               [{"units": 8, "activation": "relu"}, {"units": 2, "activation": "tanh"}],
               learning_rate=0.05)
IRIS = _spec({"name": "iris", "standardize": True}, [{"units": 4, "activation": "tanh"}])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    path = tmp_path_factory.mktemp("multiclass") / "runs.h5"
    for name, spec in (("spiral3", SPIRAL3), ("blobs6", BLOBS6), ("iris", IRIS)):
        result = train(spec, path, name)
        assert (result.status, result.epochs_done) == ("complete", EPOCHS)
    return path


def _keras_per_epoch(path, name: str, spec: RunSpec, X: np.ndarray) -> np.ndarray:
    """Keras' ``model.predict`` of ``X`` with the run's stored weights, every epoch."""
    run = runfile.read_run(path, name)
    model = build_model(spec.model, X.shape[1], spec.training.seed,
                        n_classes=spec.dataset.n_classes)
    out = []
    for e in range(run.weights[0][0].shape[0]):
        for layer, arrays in zip(model.layers, run.weights):
            layer.set_weights([a[e] for a in arrays])
        out.append(model.predict(np.asarray(X, np.float32), verbose=0))
    return np.stack(out).astype(np.float64)


# --------------------------------------------------------------------------- the model


def test_the_network_ends_in_a_softmax_of_one_unit_per_class(runs):
    for name, k, d in (("spiral3", 3, 2), ("blobs6", 6, 2), ("iris", 3, 4)):
        run = runfile.read_run(runs, name)
        kernel, bias = run.weights[-1]
        assert kernel.shape[-1] == k and bias.shape[-1] == k
        assert run.activation_config[-1]["name"] == "softmax"
        assert run.inputs.shape[1] == d
        # Targets are stored as class indices.
        assert set(np.unique(run.targets).tolist()) == set(map(float, range(k)))


def test_describe_and_n_params_count_the_output_units():
    model = build_model(SPIRAL3.model, 2, 0, n_classes=3)
    assert SPIRAL3.model.n_params(2, n_classes=3) == model.count_params()
    assert SPIRAL3.model.describe(2, n_classes=3) == "2 → 8 tanh → 2 tanh → 3 softmax"
    binary = build_model(SPIRAL3.model, 2, 0)
    assert SPIRAL3.model.n_params(2) == binary.count_params()
    assert SPIRAL3.model.describe(2) == "2 → 8 tanh → 2 tanh → 1 sigmoid"
    iris_model = build_model(IRIS.model, 4, 0, n_classes=3)
    assert IRIS.model.n_params(4, n_classes=3) == iris_model.count_params() == 4 * 4 + 4 + 15


# --------------------------------------------------------------------------- predictions


@pytest.mark.parametrize("name, spec", [("spiral3", SPIRAL3), ("blobs6", BLOBS6),
                                        ("iris", IRIS)])
def test_replay_probabilities_match_keras_predict_at_every_epoch(runs, name, spec):
    replay = Replay(runs, name)
    expected = _keras_per_epoch(runs, name, spec, replay.inputs)
    proba = replay.predict_proba()
    assert proba.shape == (EPOCHS + 1, len(replay.inputs), spec.dataset.n_classes)
    np.testing.assert_allclose(proba, expected, rtol=0, atol=1e-5)
    # The weights moved: the predictions are not the same at every epoch.
    assert np.abs(expected[-1] - expected[0]).max() > 0.05
    assert replay.n_classes == spec.dataset.n_classes


def test_validation_curves_match_keras(runs):
    replay = Replay(runs, "spiral3")
    expected = _keras_per_epoch(runs, "spiral3", SPIRAL3, replay.val_inputs)
    lm = replay.loss_and_metric()
    loss = [np.asarray(keras.losses.sparse_categorical_crossentropy(replay.val_targets, p))
            for p in expected]
    np.testing.assert_allclose(lm.val_loss, np.mean(loss, axis=1), rtol=1e-5)
    np.testing.assert_allclose(
        lm.val_accuracy, (expected.argmax(-1) == replay.val_targets).mean(axis=1))


@pytest.mark.parametrize("name, spec", [("spiral3", SPIRAL3), ("blobs6", BLOBS6)])
def test_confusion_counts_equal_scikit_learns(runs, name, spec):
    replay = Replay(runs, name)
    expected = _keras_per_epoch(runs, name, spec, replay.inputs)
    k = spec.dataset.n_classes
    confusion = replay.confusion()
    assert confusion.counts.shape == (EPOCHS + 1, k, k)
    for e in range(EPOCHS + 1):
        np.testing.assert_array_equal(
            confusion.counts[e],
            confusion_matrix(replay.targets, expected[e].argmax(-1), labels=range(k)))
    lm = replay.loss_and_metric()
    np.testing.assert_allclose(lm.accuracy, [confusion.accuracy(e) for e in range(EPOCHS + 1)])


def test_per_sample_loss_is_keras_sparse_categorical_crossentropy(runs):
    replay = Replay(runs, "spiral3")
    expected = _keras_per_epoch(runs, "spiral3", SPIRAL3, replay.inputs)
    keras_loss = np.stack([
        np.asarray(keras.losses.sparse_categorical_crossentropy(replay.targets, expected[e]))
        for e in range(EPOCHS + 1)])
    np.testing.assert_allclose(replay._train_sample_loss, keras_loss, rtol=1e-5, atol=1e-6)
    lm = replay.loss_and_metric()
    np.testing.assert_allclose(lm.loss, keras_loss.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(
        lm.accuracy, (expected.argmax(-1) == replay.targets).mean(axis=1))

    hist = replay.loss_histogram()
    assert isinstance(hist, ClassLossHistogramView)
    edges = hist.bin_edges
    for e in (0, EPOCHS):
        for c in range(3):
            losses = np.clip(keras_loss[e][replay.targets == c], edges[0], edges[-1])
            counts, _ = np.histogram(losses, edges)
            np.testing.assert_array_equal(hist.counts[e, c], counts)


def test_probability_histograms_hold_the_true_class_probability_per_class(runs):
    replay = Replay(runs, "blobs6")
    expected = _keras_per_epoch(runs, "blobs6", BLOBS6, replay.inputs)
    hist = replay.probability_histogram()
    assert isinstance(hist, ClassProbabilityHistogramView) and hist.n_classes == 6
    t = replay.targets.astype(int)
    for e in range(EPOCHS + 1):
        p_true = expected[e][np.arange(len(t)), t]
        right = expected[e].argmax(-1) == t
        for c in range(6):
            for mask, counts in ((right, hist.correct), (~right, hist.wrong)):
                values = p_true[(t == c) & mask]
                # Values within 1e-5 of a bin edge may land on either side of it.
                near = np.abs(values[:, None] - hist.bin_edges[None, 1:-1]).min(axis=1) < 1e-5
                want, _ = np.histogram(values[~near], hist.bin_edges)
                got = counts[e, c]
                assert got.sum() == (t == c).__and__(mask).sum()
                assert np.abs(got - want).sum() <= near.sum()
    assert hist.ymax == (hist.correct + hist.wrong).max()


def test_decision_regions_are_the_winning_class_and_its_probability(runs):
    replay = Replay(runs, "spiral3")
    view = replay.decision_boundary(grid_size=30)
    assert view.n_classes == 3 and view.winners.shape == (EPOCHS + 1, 30, 30)
    gx, gy = np.meshgrid(view.xs, view.ys)
    grid = np.c_[gx.ravel(), gy.ravel()]
    expected = _keras_per_epoch(runs, "spiral3", SPIRAL3, grid).reshape(EPOCHS + 1, 30, 30, 3)
    np.testing.assert_allclose(view.probabilities, expected.max(-1), atol=1e-5)
    top2 = np.sort(expected, axis=-1)[..., -2:]
    clear = top2[..., 1] - top2[..., 0] > 1e-4  # ties may go either way
    np.testing.assert_array_equal(view.winners[clear], expected.argmax(-1)[clear])
    # The traced lines run where two classes are (nearly) equally probable.
    last = np.asarray(view.contours[-1])
    points = last[np.isfinite(last).all(axis=1)]
    assert len(points) > 10
    at_lines = _keras_per_epoch(runs, "spiral3", SPIRAL3, points)[-1]
    gap = np.diff(np.sort(at_lines, axis=-1)[:, -2:], axis=-1)[:, 0]
    assert np.median(gap) < 0.02 and gap.max() < 0.1


def test_feature_space_boundary_separates_the_classes_through_the_output_layer(runs):
    replay = Replay(runs, "spiral3")
    view = replay.feature_space()
    assert view.layer_name == replay.two_unit_layers()[0]
    run = runfile.read_run(runs, "spiral3")
    kernel, bias = (w[-1].astype(np.float64) for w in run.weights[-1])
    for e in (0, EPOCHS):
        kernel, bias = (w[e].astype(np.float64) for w in run.weights[-1])
        line = np.asarray(view.boundary[e])
        points = line[np.isfinite(line).all(axis=1)]
        assert len(points) > 10
        logits = points @ kernel + bias  # the output layer by hand
        top2 = np.sort(logits, axis=-1)[:, -2:]
        # On a line between two regions the two best logits are (nearly) equal.
        assert np.median(top2[:, 1] - top2[:, 0]) < 0.05


def test_class_margins_are_positive_only_for_the_winner():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=200)
    m = class_margins(p)
    winner = p.argmax(-1)
    assert (m[np.arange(200), winner] >= 0.5).all()
    others = np.ones_like(m, bool)
    others[np.arange(200), winner] = False
    assert (m[others] <= 0.5).all()
    second = np.sort(p, -1)[:, -2]
    np.testing.assert_allclose(m[np.arange(200), winner], (p.max(-1) - second + 1) / 2)


def test_binary_runs_keep_their_views_and_gain_a_confusion_matrix(tmp_path):
    spec = _spec({"name": "moons", "params": {"n_samples": 120}},
                 [{"units": 2, "activation": "tanh"}])
    train(spec, tmp_path / "b.h5", "binary")
    replay = Replay(tmp_path / "b.h5", "binary")
    views = replay.views()
    assert views.n_classes == 2
    assert isinstance(views.probability_histogram, ProbabilityHistogramView)
    assert views.decision_boundary.winners is None
    p1 = replay.predict_proba()
    for e in (0, EPOCHS):
        np.testing.assert_array_equal(
            views.confusion.counts[e],
            confusion_matrix(replay.targets, (p1[e] >= 0.5).astype(int), labels=[0, 1]))


# --------------------------------------------------------------------------- drawing


@pytest.mark.parametrize("name, k", [("spiral3", 3), ("blobs6", 6), ("iris", 3)])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_frames_render_for_k_classes_and_change_with_the_epoch(runs, name, k, theme):
    views = Replay(runs, name).views()
    assert views.n_classes == k
    renderer = FrameRenderer(views, size=(1000, 560), theme=theme)
    first, last = renderer.rgb(0), renderer.rgb(EPOCHS)
    assert first.shape == (560, 1000, 3)
    changed = np.any(first != last, axis=-1)
    assert changed.mean() > 0.01
    # Each panel that moves changes between the epochs, the confusion matrix included.
    for panel in renderer.artists.values():
        axes = [a for a in vars(panel).values() if hasattr(a, "get_window_extent")
                and hasattr(a, "get_xlim")]
        for ax in axes:
            x0, y0, x1, y1 = (int(v) for v in ax.get_window_extent().extents)
            box = changed[560 - y1:560 - y0, x0:x1]
            assert box.any(), (type(panel).__name__, ax.get_title())
    texts = [t.get_text() for legend in renderer.figure.legends for t in legend.get_texts()]
    # The header's legend names every class: Iris's species, the generated sets' indices.
    expected = (("setosa", "versicolor", "virginica") if name == "iris"
                else datasets.default_class_names(k))
    assert list(expected) == texts[:k]
    fig = compose(views, 3, theme=theme, size=(800, 450))
    assert fig.axes


def test_decision_regions_are_drawn_in_the_class_colours(runs):
    views = Replay(runs, "blobs6").views()
    artists = FrameRenderer(views, size=(1000, 560)).artists["decision_boundary"]
    view = views.decision_boundary
    rgba = artists.rgba(EPOCHS).astype(float)[..., :3] / 255.0
    palette = np.array([[int(c[i:i + 2], 16) / 255.0 for i in (1, 3, 5)]
                        for c in CLASS_PALETTE[:6]])
    sure = view.probabilities[EPOCHS] > 0.9
    assert sure.sum() > 50
    # A sure grid point is tinted towards its class's colour: of the six colours, its
    # own lies closest to the direction the point moved away from white.
    tint = 1.0 - rgba[sure]
    away = 1.0 - palette
    cos = (tint @ away.T) / (np.linalg.norm(tint, axis=1)[:, None]
                             * np.linalg.norm(away, axis=1)[None, :])
    np.testing.assert_array_equal(cos.argmax(1), view.winners[EPOCHS][sure])


def test_class_colours_are_distinct_and_too_many_classes_is_a_clear_message():
    from matplotlib.colors import to_rgb

    from replay_core.errors import ReplayError
    from replay_core.render.frame import DARK, LIGHT, class_colours

    assert class_colours(LIGHT, 2) == [LIGHT.class0, LIGHT.class1]
    colours = class_colours(LIGHT, 10)  # an uploaded CSV may have up to 10 classes
    rgb = np.array([to_rgb(c) for c in colours])
    gaps = np.linalg.norm(rgb[:, None] - rgb[None, :], axis=-1)[np.triu_indices(10, 1)]
    assert gaps.min() > 0.15
    # Readable on both backgrounds: neither white-like nor black-like.
    for theme in (LIGHT, DARK):
        background = np.array(to_rgb(theme.background))
        assert np.linalg.norm(rgb - background, axis=1).min() > 0.3
    with pytest.raises(ReplayError, match="at most 10 classes can be drawn, got 11"):
        class_colours(LIGHT, 11)


def test_dataset_shape_is_known_without_generating_it():
    assert datasets.n_classes(SPIRAL3.dataset.name, SPIRAL3.dataset.params) == 3
    assert SPIRAL3.dataset.n_classes == 3 and BLOBS6.dataset.n_classes == 6
    assert IRIS.dataset.input_dim == 4


def test_ten_classes_from_arrays_replay_and_render():
    # An uploaded CSV may hold up to 10 classes; a replay built from arrays draws them all.
    rng = np.random.default_rng(3)
    states, n = 4, 400
    weights = [[rng.normal(0, 1.0, (states, 2, 2)), rng.normal(0, 0.3, (states, 2))],
               [rng.normal(0, 2.0, (states, 2, 10)), rng.normal(0, 0.3, (states, 10))]]
    X = rng.normal(size=(n, 2))
    y = np.arange(n) % 10
    replay = Replay.from_arrays(weights, ["tanh", "softmax"], X, y,
                                layer_names=["hidden", "output"])
    views = replay.views()
    assert views.n_classes == 10 and views.confusion.counts.shape == (states, 10, 10)
    h = np.tanh(X @ weights[0][0][2] + weights[0][1][2])
    logits = h @ weights[1][0][2] + weights[1][1][2]
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(replay.predict_proba()[2], expected, atol=1e-12)
    np.testing.assert_array_equal(views.confusion.counts[2],
                                  confusion_matrix(y, expected.argmax(1), labels=range(10)))
    renderer = FrameRenderer(views, size=(900, 500))
    assert np.any(renderer.rgb(0) != renderer.rgb(states - 1))


def test_budget_counts_the_real_features_classes_and_samples(tmp_path):
    from replay_core.errors import TrainingLimitError
    from replay_core.train.trainer import STEP_COST, estimate_cost

    # Iris: 150 samples of 4 features; 4 -> 4 tanh -> 3 softmax has 4*4+4 + 4*3+3 weights;
    # batches of 16: 10 steps an epoch, and all 150 samples evaluated every epoch.
    assert estimate_cost(IRIS) == EPOCHS * 35 * (10 * STEP_COST + 150)
    held_out = IRIS.replace(**{"dataset.validation_split": 0.2})
    # 30 of 150 held out: 120 training samples in 8 batches, still 150 evaluated.
    assert estimate_cost(held_out) == EPOCHS * 35 * (8 * STEP_COST + 150)
    with pytest.raises(TrainingLimitError, match=r"x 10 batches of 16 x 35 parameters"):
        train(IRIS, tmp_path / "runs.h5", "iris", max_budget=estimate_cost(IRIS) - 1)


@pytest.mark.parametrize("name", sorted(datasets.REGISTRY))
def test_every_dataset_trains_and_replays_at_its_defaults(tmp_path, name):
    info = datasets.REGISTRY[name]
    spec = RunSpec.from_dict({
        "dataset": {"name": name, "standardize": info.standardize},
        "model": {"layers": [{"units": 2, "activation": "tanh"}]},
        "training": {"epochs": 2, "batch_size": 64},
    })
    result = train(spec, tmp_path / "runs.h5", name, max_budget=DEFAULT_MAX_COST)
    assert (result.status, result.epochs_done) == ("complete", 2)
    views = Replay(tmp_path / "runs.h5", name).views()
    k, d = datasets.n_classes(name), datasets.input_dim(name)
    assert views.n_classes == k and views.confusion.counts.shape == (3, k, k)
    assert views.confusion.counts[-1].sum() == datasets.n_samples(name)
    # The decision boundary is drawn over the inputs, or over their first two principal
    # components when there are more than 2.
    assert views.decision_boundary.space == ("input" if d == 2 else "input_pca")
    assert views.feature_space is not None


def test_draw_functions_take_the_k_class_views(runs):
    from matplotlib.figure import Figure

    from replay_core.render.frame import (
        ClassLossHistogramArtists,
        ClassProbabilityHistogramArtists,
        draw_loss_histogram,
        draw_probability_histogram,
    )

    views = Replay(runs, "spiral3").views()
    fig = Figure()
    ax_a, ax_b, ax_c = fig.subplots(1, 3)
    hist = draw_probability_histogram(ax_a, ax_b, views.probability_histogram, 0,
                                      confusion=views.confusion)
    loss = draw_loss_histogram(ax_c, views.loss_histogram, 0)
    assert isinstance(hist, ClassProbabilityHistogramArtists)
    assert isinstance(loss, ClassLossHistogramArtists)
    hist.update(EPOCHS)
    loss.update(EPOCHS)
    counts = views.confusion.counts[EPOCHS]
    assert [t.get_text() for t in hist.cells] == [str(v) for v in counts.ravel()]
    # The stacked loss bars' tops are the cumulative class counts.
    top = loss.bars[-1].get_data().values
    np.testing.assert_array_equal(top, views.loss_histogram.counts[EPOCHS].sum(axis=0))
