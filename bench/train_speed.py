"""How fast the reference run trains and records, three ways, in one process.

1. ``model.fit`` with Keras defaults and the ``ReplayData`` recorder;
2. ``replay_core.train.trainer.train`` (one compiled call per epoch) with the same recorder;
3. a hand-written numpy SGD loop of the same network, same initial weights and batch
   order, keeping every epoch's weights in memory: the floor to compare against.

Prints seconds for each and, as the last line,
``ratio_vs_numpy=<fast/numpy> speedup_vs_fit=<fit/fast>``. Targets (DESIGN.md): the
ratio within 3, the speed-up at least 10.

Run: ``python bench/train_speed.py`` (``--skip-fit`` leaves out the slow fit).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from replay_core.data import datasets, presets  # noqa: E402


def numpy_sgd(X: np.ndarray, y: np.ndarray, weights: list[np.ndarray], *, lr: float,
              batch_size: int, epochs: int, seed: int) -> tuple[list[float], list[list]]:
    """SGD on Dense(sigmoid) -> Dense(1, sigmoid) with binary cross-entropy, in float32.

    The batch order is the trainer's: one ``default_rng(seed)`` permutation per epoch.
    Returns the per-epoch losses (batch losses averaged weighted by batch size, as Keras
    reports them) and every epoch's weights, index 0 before training.
    """
    W1, b1, W2, b2 = (np.array(w, dtype=np.float32) for w in weights)
    y = y.reshape(-1, 1).astype(np.float32)
    lr = np.float32(lr)
    n = len(X)
    rng = np.random.default_rng(seed)
    exp, log, dot = np.exp, np.log, np.dot
    losses: list[float] = []
    history = [[W1.copy(), b1.copy(), W2.copy(), b2.copy()]]
    for _ in range(epochs):
        order = rng.permutation(n)
        Xp, yp = X[order], y[order]
        total = 0.0
        for start in range(0, n, batch_size):
            xb, yb = Xp[start:start + batch_size], yp[start:start + batch_size]
            h = 1.0 / (1.0 + exp(-(dot(xb, W1) + b1)))
            p = 1.0 / (1.0 + exp(-(dot(h, W2) + b2)))
            total -= float((yb * log(p) + (1.0 - yb) * log(1.0 - p)).sum())
            dz = (p - yb) / np.float32(len(xb))
            dh = dot(dz, W2.T)
            dh *= h * (1.0 - h)
            W2 -= lr * dot(h.T, dz)
            b2 -= lr * dz.sum(axis=0)
            W1 -= lr * dot(xb.T, dh)
            b1 -= lr * dh.sum(axis=0)
        losses.append(total / n)
        history.append([W1.copy(), b1.copy(), W2.copy(), b2.copy()])
    return losses, history


def _seconds(times: list[float]) -> str:
    return ", ".join(f"{s:.2f}" for s in times) + " s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-fit", action="store_true", help="leave out plain model.fit")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the trainer and of the numpy loop; the median counts")
    args = parser.parse_args()

    import keras

    from replay_core.train.model_builder import build_model, compile_model
    from replay_core.train.recorder import ReplayData
    from replay_core.train.trainer import train

    spec = presets.get("reference")
    t = spec.training
    data = datasets.prepare(spec.dataset)
    print(f"reference run: {len(data.X)} samples, batch {t.batch_size}, {t.epochs} epochs, "
          f"{spec.model.describe()}, {t.describe()}")
    tmp = Path(tempfile.mkdtemp(prefix="train_speed_"))
    filename = tmp / "runs.h5"

    fit_s = float("nan")
    if not args.skip_fit:
        keras.utils.set_random_seed(t.seed)
        model = compile_model(build_model(spec.model, 2, t.seed), t)
        recorder = ReplayData(data.X, data.y, str(filename), "fit", spec=spec.to_json(),
                              batch_size=t.batch_size, epochs=t.epochs)
        start = time.perf_counter()
        history = model.fit(data.X, data.y, batch_size=t.batch_size, epochs=t.epochs,
                            callbacks=[recorder], verbose=0)
        fit_s = time.perf_counter() - start
        recorder.close()
        print(f"model.fit + ReplayData:      {fit_s:7.2f} s  "
              f"final loss {history.history['loss'][-1]:.5f}")

    # Every trainer run builds and compiles a new model, as the app does for each run.
    times = []
    for i in range(args.repeat):
        start = time.perf_counter()
        result = train(spec, str(filename), f"fast{i}")
        times.append(time.perf_counter() - start)
    fast_s = statistics.median(times)
    fast_loss = result.history["loss"][-1]
    print(f"trainer.train + ReplayData:  {fast_s:7.2f} s  final loss {fast_loss:.5f}  "
          f"({result.status}, {result.epochs_done} epochs; runs {_seconds(times)})")

    initial = build_model(spec.model, 2, t.seed).get_weights()
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        losses, _ = numpy_sgd(data.X, data.y, initial, lr=t.learning_rate,
                              batch_size=t.batch_size, epochs=t.epochs, seed=t.seed)
        times.append(time.perf_counter() - start)
    numpy_s = statistics.median(times)
    print(f"numpy SGD loop:              {numpy_s:7.2f} s  final loss {losses[-1]:.5f}  "
          f"(runs {_seconds(times)})")

    gap = abs(losses[-1] - fast_loss)
    print(f"final loss, numpy vs trainer: |diff| = {gap:.2e}")
    if gap > 1e-3:
        print("WARNING: the numpy loop and the trainer disagree; the comparison is unfair")
    print(f"ratio_vs_numpy={fast_s / numpy_s:.2f} speedup_vs_fit={fit_s / fast_s:.1f}")


if __name__ == "__main__":
    main()
