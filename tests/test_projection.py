"""Feature space of wide layers: a frozen PCA or two chosen units, checked against
scikit-learn and hand-computed activations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from replay_core.errors import NoFeatureLayerError
from replay_core.replay.replayer import Replay

N_STATES = 6
UNITS = 10


def _sign_fixed(components: np.ndarray) -> np.ndarray:
    """The convention the replay uses: each component's largest |loading| is positive."""
    signs = np.sign(components[np.arange(len(components)),
                               np.argmax(np.abs(components), axis=1)])
    return signs


@pytest.fixture(scope="module")
def wide():
    """2 -> 10 tanh -> 1 sigmoid with weights drifting over 6 states."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(300, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(float)
    k1 = np.cumsum(rng.normal(0, 0.4, size=(N_STATES, 2, UNITS)), axis=0)
    b1 = np.cumsum(rng.normal(0, 0.2, size=(N_STATES, UNITS)), axis=0)
    k2 = rng.normal(size=(N_STATES, UNITS, 1))
    b2 = rng.normal(size=(N_STATES, 1))
    replay = Replay.from_arrays([[k1, b1], [k2, b2]], ["tanh", "sigmoid"], X, y,
                                layer_names=["wide", "output"], name="wide run")

    def acts(points: np.ndarray, e: int) -> np.ndarray:  # by hand, not through forward.py
        return np.tanh(points @ k1[e] + b1[e])

    return replay, X, acts


def test_frozen_pca_matches_sklearn_at_the_fitting_epoch(wide):
    replay, X, acts = wide
    fit_epoch = 3
    view = replay.feature_space(projection="pca", fit_epoch=fit_epoch)
    pca = PCA(2).fit(acts(X, fit_epoch))
    signs = _sign_fixed(pca.components_)
    expected = pca.transform(acts(X, fit_epoch)) * signs
    np.testing.assert_allclose(view.features[fit_epoch], expected, atol=1e-5)
    np.testing.assert_allclose(PCA(2).fit_transform(acts(X, fit_epoch)) * signs, expected,
                               atol=1e-9)
    np.testing.assert_allclose(view.components, pca.components_ * signs[:, None], atol=1e-9)
    np.testing.assert_allclose(view.mean, pca.mean_, atol=1e-12)


def test_the_same_components_are_applied_at_every_epoch(wide):
    replay, X, acts = wide
    fit_epoch = 3
    view = replay.feature_space(projection="pca", fit_epoch=fit_epoch)
    pca = PCA(2).fit(acts(X, fit_epoch))
    signs = _sign_fixed(pca.components_)
    grid = replay._input_grid(11, 60)
    for e in range(N_STATES):
        np.testing.assert_allclose(view.features[e], pca.transform(acts(X, e)) * signs,
                                   atol=1e-5)
        bent = pca.transform(acts(grid.reshape(-1, 2), e)) * signs
        np.testing.assert_allclose(view.grid_lines[e], bent.reshape(grid.shape), atol=1e-5)
    # Refitting at each epoch would give different coordinates: the projection is frozen.
    refit = PCA(2).fit_transform(acts(X, 0)) * _sign_fixed(PCA(2).fit(acts(X, 0)).components_)
    assert not np.allclose(view.features[0], refit, atol=1e-3)


def test_default_fit_epoch_is_the_last_and_variance_is_sklearns(wide):
    replay, X, acts = wide
    view = replay.feature_space()
    assert view.projection == "pca" and view.fit_epoch == N_STATES - 1
    pca = PCA(2).fit(acts(X, N_STATES - 1))
    assert view.variance_kept == pytest.approx(pca.explained_variance_ratio_.sum(), rel=1e-9)
    share = f"{100 * pca.explained_variance_ratio_.sum():.0f}%"
    assert view.projection_label == (f"PCA of {UNITS} units (epoch {N_STATES - 1}): "
                                     f"{share} of variance")
    assert view.axis_labels[0] == f"PC 1 ({100 * pca.explained_variance_ratio_[0]:.0f}% of variance)"


def test_two_chosen_units_are_the_identity_on_them(wide):
    replay, X, acts = wide
    view = replay.feature_space(projection=("units", 7, 2), fit_epoch=1)
    for e in range(N_STATES):
        np.testing.assert_allclose(view.features[e], acts(X, e)[:, [7, 2]], atol=1e-6)
    assert view.axis_labels == ("unit 8", "unit 3")
    # tanh is bounded: the limits are its range, as for a 2-unit tanh layer
    assert view.xlim == pytest.approx((-1.1, 1.1))
    a = acts(X, 1)
    by_hand = (a[:, 7].var(ddof=1) + a[:, 2].var(ddof=1)) / a.var(axis=0, ddof=1).sum()
    assert view.variance_kept == pytest.approx(by_hand, rel=1e-9)
    assert view.projection_label.startswith(f"units 8, 3 of {UNITS}: ")
    assert view.projection_label.endswith("of variance (epoch 1)")


def test_projections_of_a_wide_layer_draw_no_boundary(wide):
    replay, *_ = wide
    for projection in ("pca", ("units", 0, 1)):
        view = replay.feature_space(projection=projection)
        assert all(b.shape == (0, 2) for b in view.boundary)
        assert view.boundary_note.startswith("No 0.5 boundary: a 2-D projection of 10")


def test_bad_projections_are_refused(wide):
    replay, *_ = wide
    with pytest.raises(NoFeatureLayerError, match="two different ones, got 3 and 3"):
        replay.feature_space(projection=("units", 3, 3))
    with pytest.raises(NoFeatureLayerError, match="units 0..9"):
        replay.feature_space(projection=("units", 0, 10))
    with pytest.raises(NoFeatureLayerError, match="projection must be 'pca'"):
        replay.feature_space(projection="tsne")
    with pytest.raises(ValueError, match="fit_epoch must be an epoch of run 'wide run', 0 to 5"):
        replay.feature_space(fit_epoch=6)
    with pytest.raises(NoFeatureLayerError):
        replay.views(projection=("units", 1, 1))


@pytest.fixture(scope="module")
def two_unit():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] > X[:, 1] ** 2 - 0.5).astype(float)
    k1 = rng.normal(size=(N_STATES, 2, 2)) * 2
    b1 = rng.normal(size=(N_STATES, 2))
    k2 = rng.normal(size=(N_STATES, 2, 1)) * 3
    b2 = rng.normal(size=(N_STATES, 1))
    replay = Replay.from_arrays([[k1, b1], [k2, b2]], ["tanh", "sigmoid"], X, y,
                                layer_names=["hidden", "output"])
    return replay, k2, b2, k1, b1


def test_a_two_unit_layer_keeps_the_plain_view(two_unit):
    replay, *_ = two_unit
    plain = replay.feature_space()
    assert plain.projection == "units" and plain.projection_label == ""
    assert plain.axis_labels == ("unit 1", "unit 2") and plain.boundary_note == ""
    explicit = replay.feature_space(projection=("units", 0, 1))
    np.testing.assert_array_equal(plain.features, explicit.features)
    for a, b in zip(plain.boundary, explicit.boundary):
        np.testing.assert_array_equal(a, b)


def test_pca_of_a_two_unit_layer_keeps_an_exact_boundary(two_unit):
    """A 2-unit layer's PCA is a rotation: the boundary maps exactly into it."""
    replay, k2, b2, *_ = two_unit
    view = replay.feature_space(projection="pca")
    assert view.variance_kept == pytest.approx(1.0)
    drawn = 0
    for e, segment in enumerate(view.boundary):
        if len(segment) == 0:
            continue
        h = segment @ view.components + view.mean  # back to the layer's units
        p = 1.0 / (1.0 + np.exp(-(h @ k2[e, :, 0] + b2[e, 0])))
        np.testing.assert_allclose(p, 0.5, atol=1e-9)
        drawn += 1
    assert drawn > 0
    swapped = replay.feature_space(projection=("units", 1, 0))
    for e, segment in enumerate(swapped.boundary):
        if len(segment):
            p = 1.0 / (1.0 + np.exp(-(segment[:, ::-1] @ k2[e, :, 0] + b2[e, 0])))
            np.testing.assert_allclose(p, 0.5, atol=1e-9)


def test_panels_name_the_projection(wide):
    from replay_core.render.compare import CompareRenderer
    from replay_core.render.frame import FrameRenderer

    replay, *_ = wide
    views = replay.views(projection=("units", 7, 2), fit_epoch=1)
    label = views.feature_space.projection_label
    frame = FrameRenderer(views, size=(1180, 560))
    ax = frame.axes["feature_space"]
    assert ax.get_title() == f"Feature space (wide)\n{label}"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("unit 8", "unit 3")
    notes = [t.get_text().replace("\n", " ") for t in ax.texts]
    assert notes == [views.feature_space.boundary_note]
    pca = replay.views()
    compare = CompareRenderer({"a": views, "b": pca}, size=(1000, 600))
    titles = [ax.get_title() for ax in compare.axes["feature_space"]]
    assert titles[0].endswith(f"\n{label}")
    assert titles[1].endswith(f"\n{pca.feature_space.projection_label}")
