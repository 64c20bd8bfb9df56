"""How much faster a seed sweep runs in parallel worker processes than run after run.

The sweep: the reference run (parabola, 2000 samples, 2 -> 2 -> 1, SGD 0.05, batch 16,
150 epochs) with a sigmoid, a tanh and a relu hidden layer, 10 seeds each: 30 runs.

1. one after another: ``trainer.train`` for each run in this process, the way a script
   without the sweep would do it (TensorFlow loaded once, before the clock starts);
2. ``sweep.run_sweep`` with one worker process (the sweep's own overhead: a process
   start with TensorFlow's import, every run's records sent to the writing process);
3. ``sweep.run_sweep`` with one worker per core.

Prints wall times and, as the last line,
``speedup_vs_sequential=<1/3> speedup_vs_one_worker=<2/3> workers=<n>``. Target: close to
the number of cores.

Run: ``python bench/sweep_speed.py`` (``--seeds 4`` for a shorter run).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from replay_core.data import presets
from replay_core.train import sweep  # noqa: E402

CONFIGS = {"sigmoid": "reference", "tanh": "reference_tanh", "relu": "reference_relu"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=sweep.default_workers())
    args = parser.parse_args()
    configs = {label: presets.get(name) for label, name in CONFIGS.items()}
    tasks = sweep.plan(configs, args.seeds)
    print(f"{len(tasks)} runs: {', '.join(CONFIGS)} x {args.seeds} seeds, "
          f"{os.cpu_count()} cores")

    with tempfile.TemporaryDirectory() as tmp:
        import keras  # noqa: F401 - TensorFlow's import is not part of the figure

        from replay_core.train.trainer import train

        start = time.perf_counter()
        for task in tasks:
            train(task.spec, Path(tmp) / "sequential.h5", task.run_name)
        sequential = time.perf_counter() - start
        print(f"one after another, in this process: {sequential:.1f} s "
              f"({sequential / len(tasks):.2f} s a run)")

        timings = {}
        for workers in sorted({1, args.workers}):
            path = Path(tmp) / f"workers{workers}.h5"
            result = sweep.run_sweep(sweep.plan(configs, args.seeds), path, workers=workers)
            assert len(result.runs) == len(tasks) and not result.failures, result.failures
            timings[workers] = result.seconds
            print(f"sweep, {workers} worker process{'es' if workers > 1 else ''}: "
                  f"{result.seconds:.1f} s")
        print(sweep.summary_table(result.runs))

    parallel = timings[args.workers]
    print(f"speedup_vs_sequential={sequential / parallel:.2f} "
          f"speedup_vs_one_worker={timings[1] / parallel:.2f} workers={args.workers}")


if __name__ == "__main__":
    main()
