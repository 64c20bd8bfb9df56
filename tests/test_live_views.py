"""A run that trains is replayed by extending the previous replay (``Replay.extended``):
its views must be the arrays a full build of the same epochs gives, and the old epochs
must not go through the network again."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from replay_core.replay.forward import Network
from replay_core.replay.replayer import Replay
from replay_core.store.records import RunData


def _walk(rng: np.random.Generator, n_epochs: int, shape: tuple, scale: float) -> np.ndarray:
    start = rng.normal(0.0, scale, shape)
    steps = rng.normal(0.0, 0.05, (n_epochs, *shape))
    return np.concatenate([start[None], start + np.cumsum(steps, axis=0)]).astype(np.float32)


def _run(widths: list[int], activations: list[str], n_epochs: int, *, classes: int = 2,
         val: bool = False, seed: int = 0) -> RunData:
    """A run of ``n_epochs`` with random-walk weights, as a writer holds it."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 2))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(float) if classes == 2 else (
        np.digitize(X[:, 0], [-0.5, 0.5]).astype(float))
    weights, d = [], 2
    for units in widths:
        weights.append([_walk(rng, n_epochs, (d, units), 1.0), _walk(rng, n_epochs, (units,), 0.3)])
        d = units
    names = [f"dense{i}" for i in range(len(widths) - 1)] + ["output"]
    Xv = rng.normal(size=(40, 2)) if val else None
    yv = (Xv[:, 0] > 0).astype(float) if val else None
    logs = {"loss": rng.random(n_epochs), "lr": np.full(n_epochs, 0.05)}
    return RunData(name="live", inputs=X, targets=y, val_inputs=Xv, val_targets=yv,
                   weights=weights, layer_names=names,
                   activation_config=[{"name": a} for a in activations], logs=logs,
                   epochs_done=n_epochs, status="running", spec=None, attrs={}, message="")


def _assert_same(a, b, where: str = "views") -> None:
    """Every array equal (same dtype), every other value equal, field by field."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            _assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{k}]")
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    else:
        assert a == b, where


@pytest.fixture
def forward_states(monkeypatch):
    """The number of weight states each forward pass runs, in order."""
    seen: list[int] = []
    original = Network.forward

    def counting(self, *args, **kwargs):
        seen.append(self.n_states)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Network, "forward", counting)
    return seen


def _grow(run: RunData, first: int, steps: list[int], forward_states: list[int], **views):
    """Views of the run's first ``first`` epochs, then extended epoch count by epoch count,
    each compared with a full build; returns the largest forward pass of the extensions."""
    replay = Replay.from_run_data(run, first)
    replay.views(**views, keep=True)
    largest = 0
    for epochs in steps:
        grown = replay.extended(run, epochs)
        forward_states.clear()
        incremental = grown.views(**views, keep=True)
        largest = max([largest, *forward_states])
        full = Replay.from_run_data(run, epochs).views(**views)
        assert incremental.n_epochs == epochs
        _assert_same(incremental, full)
        replay = grown
    return largest


def test_two_unit_run_extends_without_replaying_old_epochs(forward_states):
    run = _run([2, 1], ["sigmoid", "sigmoid"], 40, val=True)
    largest = _grow(run, 20, [23, 31, 40], forward_states)
    # Only the new epochs (8 at most) and one epoch's projection fit were run.
    assert 0 < largest <= 9


def test_softmax_run_with_tanh_layer_extends_exactly(forward_states):
    run = _run([3, 2, 3], ["tanh", "tanh", "softmax"], 30, classes=3, seed=1)
    largest = _grow(run, 12, [20, 30], forward_states)
    assert 0 < largest <= 11


@pytest.mark.parametrize("fit_epoch", [None, 5])
def test_wide_layer_with_pca_matches_a_full_build(forward_states, fit_epoch):
    """A PCA fitted at the last epoch moves with every new epoch: the feature space is
    built in full, the other views are still extended."""
    run = _run([6, 1], ["relu", "sigmoid"], 30, seed=2)
    _grow(run, 10, [17, 30], forward_states, projection="pca", fit_epoch=fit_epoch)


def test_other_run_or_fewer_epochs_is_a_full_build():
    run = _run([2, 1], ["sigmoid", "sigmoid"], 20)
    replay = Replay.from_run_data(run, 15)
    replay.views(keep=True)
    other = dataclasses.replace(run, weights=[[a + 1.0 for a in layer] for layer in run.weights])
    for data, epochs in ((other, 20), (run, 10), (run, 15)):
        grown = replay.extended(data, epochs)
        assert grown._earlier is None
        _assert_same(grown.views(), Replay.from_run_data(data, epochs).views())


def test_views_not_kept_are_not_extended(forward_states):
    run = _run([2, 1], ["sigmoid", "sigmoid"], 20)
    replay = Replay.from_run_data(run, 10)
    replay.views()
    grown = replay.extended(run, 20)
    forward_states.clear()
    _assert_same(grown.views(), Replay.from_run_data(run, 20).views())
    assert max(forward_states) == 21


def test_views_with_other_settings_after_an_extension_are_full_builds():
    run = _run([4, 1], ["tanh", "sigmoid"], 20, seed=3)
    replay = Replay.from_run_data(run, 10)
    replay.views(projection=("units", 0, 2), keep=True)
    grown = replay.extended(run, 20)
    for settings in ({"projection": ("units", 0, 2)}, {"projection": ("units", 1, 3)}, {}):
        _assert_same(grown.views(**settings), Replay.from_run_data(run, 20).views(**settings))


def test_session_extends_the_live_replay_it_shows(tmp_path, monkeypatch, forward_states):
    """The Replay page's live path: each new epoch count extends the session's replay and
    its renderer shows the views a full build gives."""
    import streamlit as st

    from replay_core.store.workspace import Workspace
    from studio import jobs, session

    run = _run([2, 1], ["sigmoid", "sigmoid"], 30)
    monkeypatch.setattr(jobs, "live_run", lambda ws, name: run if name == run.name else None)
    st.session_state.clear()
    ws = Workspace(tmp_path / ("0" * 32))
    try:
        first = session.run_replay(session.live_key(ws, run.name, 12))
        session.frame_renderer(session.live_key(ws, run.name, 12), None, (640, 360), "light")
        forward_states.clear()
        key = session.live_key(ws, run.name, 30)
        renderer = session.frame_renderer(key, None, (640, 360), "light")
        assert session.run_replay(key) is not first
        assert max(forward_states) <= 19  # the 18 new epochs (and one for the fit)
        _assert_same(renderer.views, Replay.from_run_data(run, 30).views())
    finally:
        st.session_state.clear()


def test_two_extensions_of_one_replay_do_not_overwrite_each_other():
    """Arrays grow in place (``epoch_arrays``): a second continuation of the same replay,
    and the continuation of a continuation, must leave every view handed out intact."""
    run = _run([2, 1], ["tanh", "sigmoid"], 60, seed=4)
    base = Replay.from_run_data(run, 10)
    base.views(keep=True)
    first = base.extended(run, 20)
    first_views = first.views(keep=True)
    second = base.extended(run, 14)
    second_views = second.views(keep=True)
    third = first.extended(run, 30)
    third_views = third.views(keep=True)
    # The new epochs were written after the first continuation's, in the same memory.
    assert np.shares_memory(first_views.decision_boundary.probabilities,
                            third_views.decision_boundary.probabilities)
    fourth_views = third.extended(run, 60).views(keep=True)
    for views, epochs in ((first_views, 20), (second_views, 14), (third_views, 30),
                          (fourth_views, 60)):
        _assert_same(views, Replay.from_run_data(run, epochs).views())


@pytest.mark.parametrize("names", [["bottleneck", "output"], ["hidden", "output"]])
def test_three_input_features_extend_exactly(forward_states, names):
    """Inputs of 3 features: the decision boundary over a bottleneck's latent space (its
    grid covers where the samples went: built in full) or over the inputs' principal
    plane (extended)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(80, 3))
    weights = [[_walk(rng, 24, (3, 2), 1.0), _walk(rng, 24, (2,), 0.3)],
               [_walk(rng, 24, (2, 1), 1.0), _walk(rng, 24, (1,), 0.3)]]
    run = RunData(name="wide inputs", inputs=X, targets=(X[:, 0] > 0).astype(float),
                  val_inputs=None, val_targets=None, weights=weights, layer_names=names,
                  activation_config=[{"name": "tanh"}, {"name": "sigmoid"}],
                  logs={"loss": np.zeros(24)}, epochs_done=24, status="running", spec=None,
                  attrs={}, message="")
    largest = _grow(run, 10, [16, 24], forward_states)
    if names[0] == "bottleneck":
        assert largest == 25  # the latent space went through every epoch again
    else:
        assert 0 < largest <= 9
