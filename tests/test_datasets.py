"""Toy datasets: the reference parabolas, the registry's contract, validation, splitting.

Expected values are computed here independently of ``replay_core.data.datasets`` (the parabola
from DESIGN.md's definition, curves from their geometry, statistics with plain numpy).
"""

from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pytest

from replay_core.data import datasets
from replay_core.data.datasets import REGISTRY, check_params, load, prepare, split_and_standardize
from replay_core.data.spec import DatasetSpec

ALL = sorted(REGISTRY)
# Datasets whose size is a parameter (the others have a fixed number of samples).
SIZED = sorted(n for n, info in REGISTRY.items() if "n_samples" in info.defaults())
REAL = {"iris": "load_iris", "wine": "load_wine", "breast_cancer": "load_breast_cancer"}
WITH_NOISE = sorted(n for n, info in REGISTRY.items() if "noise" in {p.name for p in info.params})
# Noise-free, these two are fixed curves: the seed only moves the noise.
DETERMINISTIC_WITHOUT_NOISE = {"parabola", "spiral"}


def _random_params(name: str) -> dict:
    """Parameters that make every dataset random (noise on where the curve is fixed)."""
    return {"noise": 0.1} if name in DETERMINISTIC_WITHOUT_NOISE else {}


def _rows_sorted(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Rows of [X | y] in a canonical order, to compare sets of samples."""
    table = np.column_stack([X, y]).astype(np.float64)
    return table[np.lexsort(table.T[::-1])]


# --------------------------------------------------------------------------- registry


def test_registry_holds_the_expected_datasets():
    assert datasets.names() == list(REGISTRY)
    assert set(REGISTRY) == {
        "parabola", "moons", "circles", "blobs", "tricky", "xor", "spiral", "gaussian_quantiles",
        "ball", "hypercube", "iris", "wine", "breast_cancer",
    }
    for name, info in REGISTRY.items():
        assert info.name == name
        assert info.title and info.description
        if info.size is None:
            assert info.params[0].name == "n_samples"
        else:
            assert "n_samples" not in info.defaults()
        for p in info.params:
            assert p.low <= p.default <= p.high, (name, p.name)
            assert isinstance(p.default, p.kind), (name, p.name)


def test_doctests_of_the_module_pass():
    result = doctest.testmod(datasets)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------- parabola


def test_parabola_is_the_reference_set_of_design_md():
    X, y = load("parabola")
    # DESIGN.md: x1 = 1000 points evenly spaced in [-1, 1]; class 0 on x2 = x1²,
    # class 1 on x2 = x1² − 0.5; 2000 samples.
    x1 = np.array([-1.0 + 2.0 * i / 999 for i in range(1000)])
    expected = np.concatenate([
        np.column_stack([x1, x1 * x1]),
        np.column_stack([x1, x1 * x1 - 0.5]),
    ])
    assert X.shape == (2000, 2) and y.shape == (2000,)
    assert X.dtype == np.float32 and y.dtype == np.float32
    np.testing.assert_allclose(X, expected, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(y, np.repeat([0.0, 1.0], 1000))
    # Both ends of [-1, 1] are included and the spacing is even.
    assert X[0, 0] == -1.0 and X[999, 0] == 1.0
    np.testing.assert_allclose(np.diff(X[:1000, 0].astype(np.float64)), 2 / 999, rtol=0, atol=2e-7)
    # The same 1000 abscissae carry both classes, half a unit apart.
    np.testing.assert_array_equal(X[:1000, 0], X[1000:, 0])
    np.testing.assert_allclose(X[:1000, 1] - X[1000:, 1], 0.5, atol=1e-6)


def test_parabola_without_noise_does_not_depend_on_the_seed():
    a = load("parabola", seed=0)
    b = load("parabola", seed=12345)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_parabola_noise_is_gaussian_with_the_given_scale():
    clean, _ = load("parabola", seed=3)
    noisy, y = load("parabola", seed=3, noise=0.1)
    residual = (noisy - clean).astype(np.float64)
    assert abs(residual.mean()) < 0.01
    assert residual.std() == pytest.approx(0.1, rel=0.05)
    np.testing.assert_array_equal(y, np.repeat([0.0, 1.0], 1000))


def test_parabola_with_an_odd_number_of_samples_keeps_every_sample():
    X, y = load("parabola", n_samples=21)
    assert X.shape == (21, 2)
    assert (y == 0).sum() == 11 and (y == 1).sum() == 10
    np.testing.assert_allclose(X[y == 0, 1], X[y == 0, 0] ** 2, atol=1e-7)
    np.testing.assert_allclose(X[y == 1, 1], X[y == 1, 0] ** 2 - 0.5, atol=1e-7)
    for cls in (0, 1):
        assert X[y == cls, 0].min() == -1.0 and X[y == cls, 0].max() == 1.0


# --------------------------------------------------------------------------- every dataset


@pytest.mark.parametrize("name", SIZED)
@pytest.mark.parametrize("n", [20, 21, 257])
def test_every_dataset_honours_n_samples(name, n):
    X, y = load(name, n_samples=n, seed=1)
    assert X.shape == (n, datasets.input_dim(name)) and y.shape == (n,)


@pytest.mark.parametrize("name", ALL)
def test_every_dataset_gives_float32_labels_with_every_class(name):
    X, y = load(name, seed=7)
    k = datasets.n_classes(name)
    assert X.dtype == np.float32 and y.dtype == np.float32
    assert np.isfinite(X).all()
    assert set(np.unique(y).tolist()) == set(map(float, range(k)))
    # No registered set is badly unbalanced at its defaults.
    shares = np.bincount(y.astype(int), minlength=k) / len(y)
    assert shares.min() >= 0.6 / k and shares.max() <= 1.4 / k, shares


@pytest.mark.parametrize("name", ALL)
def test_shape_functions_agree_with_the_generated_data(name):
    info = REGISTRY[name]
    variants = [{}]
    for p in info.params:
        if p.name != "n_samples":  # every other parameter at both ends of its range
            variants += [{p.name: int(p.low) if p.kind is int else p.low},
                         {p.name: int(p.high) if p.kind is int else p.high}]
    for params in variants:
        X, y = load(name, seed=3, **params)
        assert datasets.n_samples(name, params) == len(X) == len(y), params
        assert datasets.input_dim(name, params) == X.shape[1], params
        assert datasets.n_classes(name, params) == len(np.unique(y)), params
        spec = DatasetSpec(name, params)
        assert (spec.n_classes, spec.input_dim) == (len(np.unique(y)), X.shape[1])
        assert prepare(spec).n_classes == len(np.unique(y))


def test_shape_functions_validate_the_parameters():
    with pytest.raises(ValueError, match=r"dataset\.arms must be between 2 and 3, got 4"):
        datasets.n_classes("spiral", {"arms": 4})
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        datasets.input_dim("mnist")


@pytest.mark.parametrize("name", ALL)
def test_same_seed_gives_identical_arrays(name):
    params = _random_params(name)
    X1, y1 = load(name, seed=11, **params)
    X2, y2 = load(name, seed=11, **params)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize("name", ALL)
def test_different_seeds_give_different_arrays(name):
    params = _random_params(name)
    X1, _ = load(name, seed=11, **params)
    X2, _ = load(name, seed=12, **params)
    assert X1.shape == X2.shape
    assert not np.array_equal(X1, X2)


@pytest.mark.parametrize("name", WITH_NOISE)
def test_noise_changes_the_points(name):
    X0, y0 = load(name, seed=5, noise=0.0)
    X1, y1 = load(name, seed=5, noise=0.2)
    assert X0.shape == X1.shape
    assert not np.allclose(X0, X1, atol=1e-3)


def test_blobs_spread_follows_cluster_std():
    spreads = []
    for std in (0.3, 2.0):
        X, y = load("blobs", seed=5, n_samples=2000, cluster_std=std)
        within = np.concatenate([X[y == c] - X[y == c].mean(axis=0) for c in (0, 1)])
        spreads.append(within.std())
        assert within.std() == pytest.approx(std, rel=0.1)
    assert spreads[0] < spreads[1]


def test_xor_labels_follow_the_sign_rule_without_noise():
    X, y = load("xor", n_samples=1000, seed=9, noise=0.0)
    assert np.abs(X).max() <= 1.0
    expected = np.where(np.sign(X[:, 0]) != np.sign(X[:, 1]), 1.0, 0.0)
    np.testing.assert_array_equal(y, expected)
    # All four quadrants are populated.
    quadrants = {(bool(a > 0), bool(b > 0)) for a, b in X}
    assert len(quadrants) == 4


def test_spiral_arms_follow_their_curves_without_noise():
    n, turns = 400, 1.5
    X, y = load("spiral", n_samples=n, noise=0.0, turns=turns)
    X = X.astype(np.float64)
    t = np.linspace(0.0, 1.0, n // 2)
    for arm in (0, 1):
        pts = X[y == arm]
        assert len(pts) == n // 2
        radius = 0.1 + 0.9 * t
        angle = 2 * math.pi * turns * t + arm * math.pi
        expected = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
        np.testing.assert_allclose(pts, expected, atol=1e-6)
    # The second arm is the first one turned by half a turn.
    np.testing.assert_allclose(X[y == 1], -X[y == 0], atol=1e-6)


def test_spiral_with_three_arms_turns_each_arm_by_a_third():
    n, turns = 301, 1.25
    X, y = load("spiral", n_samples=n, noise=0.0, turns=turns, arms=3)
    X = X.astype(np.float64)
    sizes = [100, 100, 101]  # the last arm takes the remainder
    for arm, size in enumerate(sizes):
        t = np.linspace(0.0, 1.0, size)
        radius = 0.1 + 0.9 * t
        angle = 2 * math.pi * turns * t + arm * 2 * math.pi / 3
        expected = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
        np.testing.assert_allclose(X[y == arm], expected, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 42])
def test_default_arms_and_centers_give_the_two_class_data_of_before(seed):
    # Older specs have no arms / centers: they must keep giving the same arrays.
    for name, param in (("spiral", "arms"), ("blobs", "centers")):
        params = {"noise": 0.1} if name == "spiral" else {}
        X1, y1 = load(name, seed=seed, **params)
        X2, y2 = load(name, seed=seed, **params, **{param: 2})
        assert X1.tobytes() == X2.tobytes() and y1.tobytes() == y2.tobytes()
    # Blobs are scikit-learn's make_blobs seeded from the data seed, two centres.
    from sklearn.datasets import make_blobs

    X_sk, y_sk = make_blobs(n_samples=500, centers=2, n_features=2, cluster_std=1.0,
                            random_state=int(np.random.default_rng(seed).integers(0, 2**31 - 1)))
    X, y = load("blobs", seed=seed)
    np.testing.assert_array_equal(X, X_sk.astype(np.float32))
    np.testing.assert_array_equal(y, y_sk)


@pytest.mark.parametrize("centers", [3, 6])
def test_blobs_with_k_centers_are_k_gaussian_clouds(centers):
    X, y = load("blobs", n_samples=3000, centers=centers, cluster_std=0.5, seed=2)
    assert np.bincount(y.astype(int)).tolist() == [3000 // centers] * centers
    for c in range(centers):
        cloud = X[y == c].astype(np.float64)
        assert cloud.std(axis=0) == pytest.approx([0.5, 0.5], rel=0.1)


def test_spiral_turns_set_where_the_arms_end():
    X, y = load("spiral", n_samples=100, noise=0.0, turns=1.0)
    # One full turn: arm 0 ends on (1, 0), arm 1 on (-1, 0), both start at radius 0.1.
    np.testing.assert_allclose(X[y == 0][-1], [1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(X[y == 1][-1], [-1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(X[y == 0][0]), 0.1, atol=1e-6)


def test_moons_without_noise_lie_on_two_unit_half_circles():
    X, y = load("moons", n_samples=300, noise=0.0, seed=2)
    X = X.astype(np.float64)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.linalg.norm(upper, axis=1), 1.0, atol=1e-6)
    assert (upper[:, 1] >= -1e-6).all()
    np.testing.assert_allclose(np.linalg.norm(lower - [1.0, 0.5], axis=1), 1.0, atol=1e-6)
    assert (lower[:, 1] <= 0.5 + 1e-6).all()


def test_circles_without_noise_have_the_given_radii():
    X, y = load("circles", n_samples=300, noise=0.0, factor=0.3, seed=2)
    r = np.linalg.norm(X.astype(np.float64), axis=1)
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-6)
    assert (y == 0).sum() == 150 and (y == 1).sum() == 150


def test_gaussian_quantiles_split_inner_and_outer_shell():
    X, y = load("gaussian_quantiles", n_samples=500, seed=4)
    r = np.linalg.norm(X.astype(np.float64), axis=1)
    assert r[y == 0].max() <= r[y == 1].min()
    assert (y == 0).sum() == 250


def test_tricky_is_two_clouds_side_by_side():
    X, y = load("tricky", n_samples=400, seed=4)
    first, second = X[:200], X[200:]
    # The second half is shifted 4 to the right of the first one.
    assert second[:, 0].mean() - first[:, 0].mean() == pytest.approx(4.0, abs=1.0)
    assert 0.3 <= y[:200].mean() <= 0.7 and 0.3 <= y[200:].mean() <= 0.7


# --------------------------------------------------------------------------- check_params


def test_check_params_fills_defaults_and_normalises_types():
    given = {"noise": 0}
    out = check_params("circles", given)
    assert out == {"n_samples": 500, "noise": 0.0, "factor": 0.5}
    assert type(out["noise"]) is float and type(out["n_samples"]) is int
    assert given == {"noise": 0}, "the caller's dict must not change"
    assert check_params("moons", {"n_samples": 100.0}) == {"n_samples": 100, "noise": 0.1}
    assert type(check_params("moons", {"n_samples": np.int64(64)})["n_samples"]) is int
    for name, info in REGISTRY.items():
        assert check_params(name) == info.defaults()
        assert check_params(name, None) == info.defaults()


@pytest.mark.parametrize("name", ALL)
def test_check_params_accepts_the_ends_of_every_range(name):
    for p in REGISTRY[name].params:
        for value in (p.low, p.high):
            value = int(value) if p.kind is int else float(value)
            assert check_params(name, {p.name: value})[p.name] == value


def test_check_params_rejects_unknown_dataset_listing_the_names():
    for bad in ("mnist", 3, ["moons"], None):
        with pytest.raises(ValueError) as info:
            check_params(bad)
        for name in REGISTRY:
            assert name in str(info.value)


def test_check_params_rejects_unknown_parameter_listing_the_known_ones():
    with pytest.raises(ValueError, match=r"dataset 'blobs' has no parameter 'noise'") as info:
        check_params("blobs", {"noise": 0.1})
    assert "n_samples, cluster_std" in str(info.value)
    with pytest.raises(ValueError, match="parameters are: n_samples$"):
        check_params("gaussian_quantiles", {"factor": 0.5})


def test_check_params_rejects_params_that_are_not_a_mapping():
    for bad in ([("noise", 0.1)], "noise", 5):
        with pytest.raises(ValueError, match="dataset.params must be an object"):
            check_params("moons", bad)


def _out_of_range_cases():
    for name, info in REGISTRY.items():
        for p in info.params:
            step = 1 if p.kind is int else 0.01
            for value in (p.low - step, p.high + step):
                yield pytest.param(name, p, value, id=f"{name}.{p.name}={value:g}")


@pytest.mark.parametrize(("name", "p", "value"), list(_out_of_range_cases()))
def test_out_of_range_message_names_parameter_and_range(name, p, value):
    with pytest.raises(ValueError) as info:
        check_params(name, {p.name: value})
    text = str(info.value)
    assert f"dataset.{p.name} must be between {p.low:g} and {p.high:g}" in text
    assert f"got {value:g}" in text


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        ("n_samples", 100.5, r"dataset\.n_samples must be a whole number between 20 and 10000, got 100\.5"),
        ("n_samples", True, r"dataset\.n_samples must be a number between 20 and 10000, got True"),
        ("n_samples", "100", r"dataset\.n_samples must be a number between 20 and 10000, got '100'"),
        ("n_samples", None, r"dataset\.n_samples must be a number between 20 and 10000, got None"),
        ("n_samples", float("inf"), r"dataset\.n_samples must be between 20 and 10000, got inf"),
        ("n_samples", float("nan"), r"dataset\.n_samples must be between 20 and 10000, got nan"),
        pytest.param("n_samples", 10**400,
                     r"dataset\.n_samples must be between 20 and 10000, got 1000", id="huge-int"),
        ("noise", False, r"dataset\.noise must be a number between 0 and 1, got False"),
        ("noise", [0.1], r"dataset\.noise must be a number between 0 and 1"),
        ("noise", float("nan"), r"dataset\.noise must be between 0 and 1, got nan"),
    ],
)
def test_wrong_types_are_rejected_naming_parameter_and_range(param, value, expected):
    with pytest.raises(ValueError, match=expected):
        check_params("moons", {param: value})


def test_load_validates_its_parameters():
    with pytest.raises(ValueError, match=r"dataset\.n_samples must be between 20 and 10000"):
        load("moons", n_samples=5)
    with pytest.raises(ValueError, match="has no parameter 'turns'"):
        load("moons", turns=2.0)


# --------------------------------------------------------------------------- split and scale


@pytest.mark.parametrize("seed", range(6))
def test_split_shares_are_stratified(seed):
    X, y = load("moons", n_samples=100, seed=seed)
    data = split_and_standardize(X, y, validation_split=0.4, seed=seed)
    assert data.X.shape == (60, 2) and data.y.shape == (60,)
    assert data.X_val.shape == (40, 2) and data.y_val.shape == (40,)
    assert (data.y == 1).sum() == 30 and (data.y_val == 1).sum() == 20
    for a in (data.X, data.y, data.X_val, data.y_val):
        assert a.dtype == np.float32 and a.flags.c_contiguous


@pytest.mark.parametrize("seed", range(6))
def test_split_keeps_an_unbalanced_class_ratio(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(100, 2)).astype(np.float32)
    y = np.array([1.0] * 30 + [0.0] * 70, dtype=np.float32)
    data = split_and_standardize(X, y, validation_split=0.4, seed=seed)
    assert (data.y_val == 1).sum() == 12 and (data.y_val == 0).sum() == 28
    assert (data.y == 1).sum() == 18 and (data.y == 0).sum() == 42


def test_split_loses_and_duplicates_no_sample():
    X, y = load("circles", n_samples=250, seed=8)
    data = split_and_standardize(X, y, validation_split=0.3, seed=8)
    assert len(data.y) + len(data.y_val) == 250
    joined = _rows_sorted(np.concatenate([data.X, data.X_val]), np.concatenate([data.y, data.y_val]))
    np.testing.assert_array_equal(joined, _rows_sorted(X, y))
    # The two parts share no row.
    train_rows = {tuple(r) for r in np.column_stack([data.X, data.y]).tolist()}
    val_rows = {tuple(r) for r in np.column_stack([data.X_val, data.y_val]).tolist()}
    assert len(train_rows) == 175 and len(val_rows) == 75 and not train_rows & val_rows


def test_standardize_uses_training_statistics_for_both_parts():
    X, y = load("blobs", n_samples=200, seed=6, cluster_std=2.0)
    raw = split_and_standardize(X, y, validation_split=0.25, seed=6)
    scaled = split_and_standardize(X, y, validation_split=0.25, standardize=True, seed=6)
    # The split does not depend on scaling.
    np.testing.assert_array_equal(raw.y, scaled.y)
    np.testing.assert_array_equal(raw.y_val, scaled.y_val)

    train = raw.X.astype(np.float64)
    mean = train.sum(axis=0) / len(train)
    std = np.sqrt(((train - mean) ** 2).sum(axis=0) / len(train))
    np.testing.assert_allclose(scaled.mean, mean, rtol=1e-5)
    np.testing.assert_allclose(scaled.scale, std, rtol=1e-5)
    np.testing.assert_allclose(scaled.X, (train - mean) / std, atol=1e-5)
    np.testing.assert_allclose(scaled.X_val, (raw.X_val - mean) / std, atol=1e-5)

    np.testing.assert_allclose(scaled.X.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(scaled.X.std(axis=0), 1.0, atol=1e-5)
    # The validation part is not scaled by its own statistics.
    assert not np.allclose(scaled.X_val.mean(axis=0), 0.0, atol=1e-3)


def test_standardize_without_split_scales_everything():
    X, y = load("moons", n_samples=120, seed=1)
    data = split_and_standardize(X, y, standardize=True)
    assert data.X_val is None and data.y_val is None
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(data.X, (X64 - X64.mean(0)) / X64.std(0), atol=1e-5)
    np.testing.assert_array_equal(data.y, y)


def test_no_split_no_scaling_returns_the_data_unchanged():
    X, y = load("xor", n_samples=60, seed=1)
    data = split_and_standardize(X, y)
    np.testing.assert_array_equal(data.X, X)
    np.testing.assert_array_equal(data.y, y)
    assert data.X_val is None and data.mean is None and data.scale is None


def test_standardize_leaves_a_constant_feature_finite():
    X = np.column_stack([np.linspace(0, 1, 50), np.full(50, 3.0)]).astype(np.float32)
    y = np.tile([0.0, 1.0], 25).astype(np.float32)
    data = split_and_standardize(X, y, validation_split=0.2, standardize=True)
    assert np.isfinite(data.X).all() and np.isfinite(data.X_val).all()
    np.testing.assert_array_equal(data.X[:, 1], 0.0)
    np.testing.assert_array_equal(data.X_val[:, 1], 0.0)


def test_split_depends_on_the_seed():
    X, y = load("moons", n_samples=100, seed=3)
    a = split_and_standardize(X, y, validation_split=0.4, seed=1)
    b = split_and_standardize(X, y, validation_split=0.4, seed=2)
    c = split_and_standardize(X, y, validation_split=0.4, seed=1)
    assert not np.array_equal(a.X_val, b.X_val)
    np.testing.assert_array_equal(a.X_val, c.X_val)


@pytest.mark.parametrize("share", [-0.1, 1.0, 1.5, float("nan")])
def test_split_rejects_a_share_outside_0_1(share):
    X, y = load("moons", n_samples=40)
    with pytest.raises(ValueError, match=r"validation_split must be in \[0, 1\)"):
        split_and_standardize(X, y, validation_split=share)


def test_a_valid_spec_with_a_one_sample_validation_share_prepares():
    # 1% of 20 samples is one validation sample: too few to stratify two classes.
    spec = DatasetSpec("moons", {"n_samples": 20}, validation_split=0.01)
    data = prepare(spec)
    assert len(data.y_val) == 1 and len(data.y) == 19


def test_prepare_is_load_then_split():
    spec = DatasetSpec("circles", {"n_samples": 100, "noise": 0.3}, seed=9,
                       standardize=True, validation_split=0.4)
    data = prepare(spec)
    X, y = load("circles", seed=9, n_samples=100, noise=0.3)
    expected = split_and_standardize(X, y, validation_split=0.4, standardize=True, seed=9)
    for a, b in ((data.X, expected.X), (data.y, expected.y),
                 (data.X_val, expected.X_val), (data.y_val, expected.y_val)):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- many features


@pytest.mark.parametrize("dims", [3, 6, 10])
def test_hypercube_is_every_vertex_once_labelled_by_its_count_of_ones(dims):
    X, y = load("hypercube", dims=dims, seed=4)
    assert X.shape == (2**dims, dims)
    vertices = np.array(list(itertools.product((-1.0, 1.0), repeat=dims)))
    np.testing.assert_array_equal(_rows_sorted(X, np.zeros(len(X)))[:, :-1],
                                  _rows_sorted(vertices, np.zeros(len(vertices)))[:, :-1])
    # DeepReplay's rule: positive when at least half of the coordinates are +1.
    ones = (X == 1.0).sum(axis=1)
    np.testing.assert_array_equal(y, (2 * ones >= dims).astype(np.float32))
    # The seed only shuffles the vertices.
    X2, y2 = load("hypercube", dims=dims, seed=5)
    assert not np.array_equal(X, X2)
    np.testing.assert_array_equal(_rows_sorted(X, y), _rows_sorted(X2, y2))


@pytest.mark.parametrize("dims", [3, 10])
def test_hollow_ball_lies_on_one_sphere_and_is_split_by_two_hyperplanes(dims):
    X, y = load("ball", n_samples=2000, dims=dims, hollow=1, radius_fraction=0.4, seed=1)
    X = X.astype(np.float64)
    assert X.shape == (2000, dims)
    norms = np.linalg.norm(X, axis=1)
    radius = norms.mean()
    np.testing.assert_allclose(norms, radius, rtol=1e-5)
    # Scaled so that every coordinate has unit spread: d r²/d... = 1 on the sphere.
    assert X.std() == pytest.approx(1.0, rel=1e-5)
    diagonal = np.abs(X.sum(axis=1))
    expected = diagonal > 0.4 * radius
    ambiguous = np.abs(diagonal - 0.4 * radius) < 1e-4
    np.testing.assert_array_equal(y[~ambiguous], expected[~ambiguous])


@pytest.mark.parametrize("dims", [3, 8])
def test_solid_ball_fills_the_ball_and_labels_by_a_diagonal_threshold(dims):
    X, y = load("ball", n_samples=4000, dims=dims, radius_fraction=0.5, seed=2)
    X = X.astype(np.float64)
    assert X.std() == pytest.approx(1.0, rel=1e-5)
    norms = np.linalg.norm(X, axis=1)
    # Uniform in a ball of radius R: each coordinate has variance R²/(d+2), here 1.
    radius = math.sqrt(dims + 2)
    assert norms.max() <= radius * 1.02
    # A share rho^d of the points lies within rho R.
    assert (norms < 0.8 * radius).mean() == pytest.approx(0.8**dims, abs=0.03)
    # One threshold on |x1 + ... + xd| separates the classes, near half the radius.
    diagonal = np.abs(X.sum(axis=1))
    assert diagonal[y == 1].min() > diagonal[y == 0].max()
    threshold = (diagonal[y == 1].min() + diagonal[y == 0].max()) / 2
    assert threshold == pytest.approx(0.5 * radius, rel=0.05)


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_datasets_are_scikit_learns_copies_shuffled_by_the_seed(name):
    import sklearn.datasets

    X_sk, y_sk = getattr(sklearn.datasets, REAL[name])(return_X_y=True)
    X, y = load(name, seed=0)
    assert X.shape == X_sk.shape and X.dtype == np.float32
    np.testing.assert_array_equal(_rows_sorted(X, y), _rows_sorted(X_sk.astype(np.float32), y_sk))
    assert not np.array_equal(X, X_sk.astype(np.float32))  # shuffled
    # Measurements in their own units: standardising is recommended.
    assert REGISTRY[name].standardize


def test_iris_split_is_stratified_over_three_classes():
    data = prepare(DatasetSpec("iris", validation_split=0.2, standardize=True, seed=3))
    assert data.n_classes == 3
    assert np.bincount(data.y.astype(int)).tolist() == [40, 40, 40]
    assert np.bincount(data.y_val.astype(int)).tolist() == [10, 10, 10]
    np.testing.assert_allclose(data.X.mean(axis=0), 0.0, atol=1e-5)


def test_validation_split_of_a_small_fixed_dataset_is_refused_with_its_size():
    DatasetSpec("hypercube", {"dims": 3})  # 8 samples, all for training: fine
    with pytest.raises(ValueError, match=r"fewer than 10 training samples of the 8 in "
                                         r"'hypercube'; lower it"):
        DatasetSpec("hypercube", {"dims": 3}, validation_split=0.5)
    DatasetSpec("hypercube", {"dims": 5}, validation_split=0.5)  # 16 of 32
