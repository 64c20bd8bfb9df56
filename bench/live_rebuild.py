"""What a live replay costs each time new epochs arrive: a full build against an extension.

A run that trains is replayed from its writer's arrays; each time epochs arrive the Replay
page takes them in. A full build (``Replay.from_run_data(...).views()``) runs every epoch
through the network again; an extension (``previous.extended(data).views()``) runs only
the new ones (``Replay.extended``; the views are built with ``keep=True``, as the page
does). This bench builds a synthetic run with the reference
network's shapes (parabola, 2000 samples, 2 -> 2 sigmoid -> 1 sigmoid, random-walk
weights) at 500, 1000 and 2000 epochs, then times, after 20 more epochs arrive, a full
build of all of them and the extension of the previous replay (itself an extension, as
on the page; best of 3 each), and checks that both give the same arrays.

Usage: ``python bench/live_rebuild.py``. The last line is machine-readable, for 2000
epochs: ``epochs=2000 full_s=<..> incremental_s=<..>``.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from replay_core.replay.replayer import Replay  # noqa: E402
from replay_core.store.records import RunData  # noqa: E402

SAMPLES = 2000
ARRIVING = 20
REPEATS = 3


def parabola(n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference dataset with ``n_samples`` points (half per class)."""
    half = n_samples // 2
    x1 = np.linspace(-1.0, 1.0, half)
    X = np.concatenate([np.c_[x1, x1**2], np.c_[x1, x1**2 - 0.5]])
    y = np.concatenate([np.zeros(half), np.ones(half)])
    return X, y


def reference_run(n_epochs: int, seed: int = 42) -> RunData:
    """The reference network's shapes with weights on a random walk, as a writer holds
    them while a job trains the run."""
    rng = np.random.default_rng(seed)
    X, y = parabola(SAMPLES)
    weights = []
    for shapes in ([(2, 2), (2,)], [(2, 1), (1,)]):
        layer = []
        for shape in shapes:
            start = rng.normal(0.0, 0.5, shape)
            steps = rng.normal(0.0, 3.0 / np.sqrt(n_epochs), (n_epochs, *shape))
            layer.append(np.concatenate([start[None], start + np.cumsum(steps, axis=0)])
                         .astype(np.float32))
        weights.append(layer)
    return RunData(name="bench", inputs=X, targets=y, val_inputs=None, val_targets=None,
                   weights=weights, layer_names=["hidden", "output"],
                   activation_config=[{"name": "sigmoid"}, {"name": "sigmoid"}],
                   logs={"loss": np.zeros(n_epochs), "lr": np.full(n_epochs, 0.05)},
                   epochs_done=n_epochs, status="running", spec=None, attrs={}, message="")


def _same(a, b) -> bool:
    if dataclasses.is_dataclass(a):
        return all(_same(getattr(a, f.name), getattr(b, f.name))
                   for f in dataclasses.fields(a))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)


def measure(epochs: int) -> tuple[float, float, float, bool]:
    """Seconds of a full build at ``epochs``, of one at ``epochs + ARRIVING``, of the
    extension from the first to the second, and whether the two builds agree."""
    run = reference_run(epochs + ARRIVING)
    first, full, extension = [], [], []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        previous = Replay.from_run_data(run, epochs)
        previous.views(keep=True)
        t1 = time.perf_counter()
        # The page extends again and again: the first extension moves the arrays into
        # room that grows, the next ones (timed here) write only the new epochs.
        previous = Replay.from_run_data(run, epochs - ARRIVING)
        previous.views(keep=True)
        previous = previous.extended(run, epochs)
        previous.views(keep=True)
        t1b = time.perf_counter()
        grown = Replay.from_run_data(run, epochs + ARRIVING)
        full_views = grown.views()
        t2 = time.perf_counter()
        full.append(t2 - t1b)
        extended = previous.extended(run, epochs + ARRIVING)
        extended_views = extended.views(keep=True)
        t3 = time.perf_counter()
        first.append(t1 - t0)
        extension.append(t3 - t2)
    return min(first), min(full), min(extension), _same(full_views, extended_views)


def main() -> None:
    print(f"reference network, {SAMPLES} samples; {ARRIVING} epochs arrive; best of {REPEATS}")
    line = ""
    for epochs in (500, 1000, 2000):
        first, full, incremental, same = measure(epochs)
        print(f"{epochs:>5} epochs: first build {first:.3f} s; +{ARRIVING}: full build "
              f"{full:.3f} s, extension {incremental:.3f} s ({full / incremental:.1f}x), "
              f"same arrays: {same}")
        line = f"epochs={epochs} full_s={full:.3f} incremental_s={incremental:.3f}"
    print(line)


if __name__ == "__main__":
    main()
