"""How fast a run's five views are computed for every epoch, and how that grows.

Builds a synthetic run the size of the reference run (parabola, 2000 samples, 150
epochs, 2 -> 2 sigmoid -> 1 sigmoid) whose weights follow a random walk, writes it to a
temporary HDF5 file with ``runfile.RunWriter`` (or keeps it in memory when runfile.py is
missing), then times ``Replay(...).views()`` (best of 3; each repetition on a freshly read
``Replay`` so nothing is cached), and the same with 10x the epochs and 10x the samples.
Reading the file is timed separately. Target: views under 1 s for the reference size,
growing about linearly with epochs x samples.

It first times the layer internals of the weight-initializers article's 5 x 100 network
over 100 epochs (target under 3 s and 600 MB; ``internals_s=... internals_peak_mb=...``).

Usage: ``python bench/replay_speed.py``. The last line is machine-readable:
``views_s=<reference> x10_epochs_ratio=<..> x10_samples_ratio=<..>``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from replay_core.replay.replayer import Replay  # noqa: E402

try:
    from replay_core.store import runfile
except ImportError:  # runfile.py not written yet: replay from arrays
    runfile = None

LAYER_NAMES = ["hidden", "output"]
ACTIVATIONS = [{"name": "sigmoid"}, {"name": "sigmoid"}]


def parabola(n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference dataset with ``n_samples`` points (half per class)."""
    half = n_samples // 2
    x1 = np.linspace(-1.0, 1.0, half)
    X = np.concatenate([np.c_[x1, x1**2], np.c_[x1, x1**2 - 0.5]]).astype(np.float32)
    y = np.concatenate([np.zeros(half), np.ones(half)]).astype(np.float32)
    return X, y


def random_walk_weights(n_epochs: int, seed: int = 42) -> list[list[np.ndarray]]:
    """Per layer ``[kernel, bias]`` of shape (n_epochs + 1, ...): a drift plus noise."""
    rng = np.random.default_rng(seed)
    shapes = [[(2, 2), (2,)], [(2, 1), (1,)]]
    out = []
    for layer in shapes:
        arrays = []
        for shape in layer:
            start = rng.normal(0.0, 0.5, shape)
            steps = rng.normal(0.0, 3.0 / np.sqrt(max(n_epochs, 1)), (n_epochs, *shape))
            walk = np.concatenate([start[None], start + np.cumsum(steps, axis=0)])
            arrays.append(walk.astype(np.float32))
        out.append(arrays)
    return out


def make_run(directory: Path, n_epochs: int, n_samples: int):
    """A function returning a fresh ``Replay`` of the synthetic run, and how it is stored."""
    X, y = parabola(n_samples)
    weights = random_walk_weights(n_epochs)
    if runfile is None:
        return (lambda: Replay.from_arrays(weights, ACTIVATIONS, X, y, LAYER_NAMES,
                                           name="bench")), "in memory (no runfile.py)"
    path = directory / f"bench_{n_epochs}x{n_samples}.h5"
    writer = runfile.RunWriter(
        path, "bench", inputs=X, targets=y, layer_names=LAYER_NAMES,
        activation_config=ACTIVATIONS, initial_weights=[[a[0] for a in layer] for layer in weights],
        samples=n_samples, batch_size=16, n_epochs=n_epochs)
    try:
        for e in range(1, n_epochs + 1):
            writer.append_epoch([[a[e] for a in layer] for layer in weights],
                                {"loss": float("nan"), "accuracy": float("nan")}, lr=0.05)
        writer.set_status("complete")
    finally:
        writer.close()
    return (lambda: Replay(path, "bench")), f"HDF5 {path.stat().st_size / 1e6:.1f} MB"


def best_of(n: int, open_replay) -> tuple[float, float]:
    """Best read time and best ``views()`` time over ``n`` fresh replays."""
    reads, views = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        replay = open_replay()
        t1 = time.perf_counter()
        replay.views()
        t2 = time.perf_counter()
        reads.append(t1 - t0)
        views.append(t2 - t1)
    return min(reads), min(views)


def main() -> None:
    cases = [("reference", 150, 2000), ("x10 epochs", 1500, 2000), ("x10 samples", 150, 20000)]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        best_of(1, make_run(Path(tmp), 5, 100)[0])  # imports and first-call costs
        print(f"{'case':<12} {'epochs':>6} {'samples':>7}  {'read s':>7}  {'views s':>7}  stored")
        for label, n_epochs, n_samples in cases:
            open_replay, stored = make_run(Path(tmp), n_epochs, n_samples)
            read_s, views_s = best_of(3, open_replay)
            results[label] = views_s
            print(f"{label:<12} {n_epochs:>6} {n_samples:>7}  {read_s:7.3f}  {views_s:7.3f}  "
                  f"{stored}")
    ref = results["reference"]
    ratio_e = results["x10 epochs"] / ref
    ratio_s = results["x10 samples"] / ref
    print(f"target: reference views under 1 s ({'met' if ref < 1.0 else 'NOT met'}); "
          "ratios at or under ~10 mean growth no worse than linear")
    print(f"views_s={ref:.3f} x10_epochs_ratio={ratio_e:.2f} x10_samples_ratio={ratio_s:.2f}")
    landscape_speed()


def landscape_speed() -> None:
    """The loss landscape (41 x 41 grid, 2000 samples) of a run the reference's size."""
    from replay_core.replay.landscape import loss_landscape

    X, y = parabola(2000)
    replay = Replay.from_arrays(random_walk_weights(150), ACTIVATIONS, X, y, LAYER_NAMES)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        view = loss_landscape(replay, grid_size=41)
        times.append(time.perf_counter() - t0)
    best = min(times)
    print(f"loss landscape {view.loss.shape[0]}x{view.loss.shape[1]} grid, "
          f"{view.samples_used} samples: {best:.3f} s (target < 2 s: "
          f"{'met' if best < 2.0 else 'NOT met'})")
    print(f"landscape_s={best:.3f}")


def internals_speed(n_epochs: int = 100) -> None:
    """Layer internals (weights, z-values, activations, gradients, every epoch) of the
    weight-initializers article's network: ball, 10 dimensions, 1000 samples, 5 x 100
    relu units, weights following a random walk. Target: under 3 s and 600 MB."""
    import tracemalloc

    from replay_core.data import datasets
    from replay_core.replay.internals import Internals

    X, y = datasets.load("ball", n_samples=1000, dims=10, seed=13)
    rng = np.random.default_rng(13)
    widths = [10, 100, 100, 100, 100, 100, 1]
    weights = []
    for a, b in zip(widths, widths[1:]):
        limit = np.sqrt(6.0 / a)  # He uniform
        start = rng.uniform(-limit, limit, size=(a, b))
        steps = rng.normal(0.0, 0.002, size=(n_epochs, a, b))
        kernel = np.concatenate([start[None], start + np.cumsum(steps, axis=0)])
        weights.append([kernel, np.zeros((n_epochs + 1, b))])
    acts = ["relu"] * 5 + ["sigmoid"]
    times, peaks = [], []
    for _ in range(2):
        tracemalloc.start()
        t0 = time.perf_counter()
        Internals.from_weights(weights, acts, X, y).views()
        times.append(time.perf_counter() - t0)
        peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
    best, peak = min(times), max(peaks)
    print(f"layer internals, 5 x 100 units, 1000 samples, {n_epochs} epochs: {best:.2f} s, "
          f"peak {peak:.0f} MB above the weights (target < 3 s and < 600 MB: "
          f"{'met' if best < 3.0 and peak < 600 else 'NOT met'})")
    print(f"internals_s={best:.2f} internals_peak_mb={peak:.0f}")


if __name__ == "__main__":
    internals_speed()
    main()
