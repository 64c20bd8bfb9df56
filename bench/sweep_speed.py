"""How fast a seed sweep trains as one batched computation, against run after run.

The sweep: the reference run (parabola, 2000 samples, 2 -> 2 -> 1, SGD 0.05, batch 16,
150 epochs) with a sigmoid, a tanh and a relu hidden layer, 20 seeds each: 60 runs.

1. one after another: ``trainer.train`` for each run in this process, the way a script
   without the sweep would do it (TensorFlow loaded and one run trained before the
   clock starts);
2. ``sweep.run_sweep(..., in_process=True)``: the 60 runs as one batched program (the
   three activations computed side by side, each run keeping its own), recorded by the
   same single writer, in the same process;
3. the same sweep again with the next seeds (21-40) in the same process: the program
   compiled for the first is kept and reused (``batched.KEEP_PROGRAMS``), as a server's
   worker does for the next sweep of the same configurations.

Peak RSS is this process's high-water mark after the sweep less the one after the single
warm-up run (the sweep runs first, so the sequential runs do not raise the mark).

Prints wall times and, as the last line,
``sweep_s=.. sequential_s=.. speedup=.. peak_rss_mb=.. again_s=..``. Target on 2 cores:
sweep_s <= 5, speedup >= 10, peak_rss_mb <= 300.

Run: ``python bench/sweep_speed.py`` (``--seeds 5`` for a shorter run).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from replay_core.data import presets  # noqa: E402
from replay_core.train import sweep  # noqa: E402

CONFIGS = {"sigmoid": "reference", "tanh": "reference_tanh", "relu": "reference_relu"}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    configs = {label: presets.get(name) for label, name in CONFIGS.items()}
    tasks = sweep.plan(configs, args.seeds)
    print(f"{len(tasks)} runs: {', '.join(CONFIGS)} x {args.seeds} seeds, "
          f"{os.cpu_count()} cores")

    with tempfile.TemporaryDirectory() as tmp:
        from replay_core.train.trainer import train

        train(tasks[0].spec, Path(tmp) / "warm.h5", "warm-up")
        single_rss = _peak_rss_mb()

        result = sweep.run_sweep(tasks, Path(tmp) / "sweep.h5", in_process=True)
        assert len(result.runs) == len(tasks) and not result.failures, result.failures
        swept = result.seconds
        peak = _peak_rss_mb() - single_rss
        print(f"batched sweep, in this process: {swept:.2f} s "
              f"(peak RSS {peak:.0f} MB above a single run's)")
        print(sweep.summary_table(result.runs))

        others = sweep.plan(configs, range(args.seeds + 1, 2 * args.seeds + 1))
        again = sweep.run_sweep(others, Path(tmp) / "again.h5", in_process=True)
        assert len(again.runs) == len(others) and not again.failures, again.failures
        print(f"the same sweep with seeds {others[0].seed}-{others[-1].seed}, on the kept "
              f"program: {again.seconds:.2f} s")

        start = time.perf_counter()
        for task in tasks:
            train(task.spec, Path(tmp) / "sequential.h5", task.run_name)
        sequential = time.perf_counter() - start
        print(f"one after another, in this process: {sequential:.1f} s "
              f"({sequential / len(tasks):.2f} s a run)")

    print(f"sweep_s={swept:.2f} sequential_s={sequential:.1f} "
          f"speedup={sequential / swept:.1f} peak_rss_mb={peak:.0f} "
          f"again_s={again.seconds:.2f}")


if __name__ == "__main__":
    main()
