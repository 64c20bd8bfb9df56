"""The command line's commands that train or rebuild runs: ``train``, ``sweep`` and ``code``.

Each takes the parsed arguments of its sub-command (see ``cli.build_parser``) and
returns the process's exit status; TensorFlow loads only when a command trains.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from replay_core.cli_spec import spec_from_args
from replay_core.data.spec import ACTIVATIONS, RunSpec

__all__ = ["cmd_code", "cmd_sweep", "cmd_train", "sweep_configs"]


class _ProgressBar:
    def __init__(self, total: int, stream=sys.stderr) -> None:
        self.total, self.stream, self.start = total, stream, time.perf_counter()

    def __call__(self, record) -> None:
        done = record.epoch / self.total
        bar = "#" * int(30 * done)
        acc = record.logs.get("acc", record.logs.get("accuracy", float("nan")))
        self.stream.write(
            f"\r[{bar:<30}] epoch {record.epoch}/{self.total} "
            f"loss {record.logs.get('loss', float('nan')):.4f} acc {acc:.3f} lr {record.lr:.3g}"
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write(f"\n{time.perf_counter() - self.start:.1f} s\n")


def cmd_train(args: argparse.Namespace) -> int:
    """``train``: train one run and record it; 0 when it completed or was stopped."""
    spec = spec_from_args(args)
    from replay_core.train.trainer import train

    bar = None if args.quiet else _ProgressBar(spec.training.epochs)
    try:
        result = train(spec, args.file, args.run, on_epoch=bar)
    finally:
        if bar is not None:
            bar.close()
    print(f"run {args.run!r} in {args.file}: {result.status}, {result.epochs_done} epochs"
          + (f" ({result.message})" if result.message else ""))
    return 0 if result.status in ("complete", "stopped") else 1


def sweep_configs(args: argparse.Namespace) -> dict[str, RunSpec]:
    """The configurations a ``sweep`` command line describes, by label."""
    spec = spec_from_args(args)
    if not args.activations:
        return {args.preset if not (args.spec or args.layers or args.activation) else "spec": spec}
    names = [a.strip() for a in args.activations.split(",") if a.strip()]
    unknown = [a for a in names if a not in ACTIVATIONS]
    if unknown:
        raise ValueError(f"--activations: unknown activation {unknown[0]!r}; choose from "
                         f"{', '.join(ACTIVATIONS)}")
    if len(set(names)) != len(names) or not names:
        raise ValueError("--activations must list different activations, e.g. sigmoid,tanh,relu")
    configs = {}
    for name in names:
        data = spec.to_dict()
        data["model"]["layers"] = [dict(layer, activation=name)
                                   for layer in data["model"]["layers"]]
        configs[name] = RunSpec.from_dict(data)
    return configs


def cmd_sweep(args: argparse.Namespace) -> int:
    """``sweep``: train every configuration with every seed, print the summary table."""
    from replay_core.store import runfile
    from replay_core.train import sweep

    configs = sweep_configs(args)
    taken = [r.name for r in runfile.list_runs(args.file)]
    tasks = sweep.plan(configs, args.seeds, taken=taken)
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    workers = min(len(configs), args.workers or 0)
    stream = sys.stderr
    start = time.perf_counter()

    def progress(p: sweep.SweepProgress) -> None:
        if args.quiet:
            return
        share = p.epochs_done / p.epochs_total if p.epochs_total else p.done / p.total
        bar = "#" * int(30 * share)
        stream.write(f"\r[{bar:<30}] {p.epochs_done}/{p.epochs_total} epochs, "
                     f"{p.done}/{p.total} runs, {time.perf_counter() - start:.0f} s")
        stream.flush()

    if not args.quiet:
        stream.write(f"{len(tasks)} runs ({len(configs)} configuration"
                     f"{'s' if len(configs) > 1 else ''} x {args.seeds} seeds) "
                     + (f"on {workers} worker process{'es' if workers > 1 else ''}\n"
                        if workers else "in this process\n"))
    try:
        result = sweep.run_sweep(tasks, args.file, workers=workers or None,
                                 on_progress=progress, in_process=not workers)
    finally:
        if not args.quiet:
            stream.write("\n")
    print(sweep.summary_table(result.runs))
    print(f"{len(result.runs)} runs in {args.file} (sweep {result.sweep_id}), "
          f"{result.seconds:.1f} s" + (f" on {result.workers} worker"
                                       f"{'s' if result.workers > 1 else ''}"
                                       if result.workers else ""))
    for failure in result.failures:
        print(f"failed: {failure}", file=sys.stderr)
    return 0 if not result.failures else 1


def cmd_code(args: argparse.Namespace) -> int:
    """``code``: write a stored run as a standalone Keras script (printed or to --out)."""
    from replay_core.data.as_code import stored_run_script
    from replay_core.store.runfile import list_runs

    summary = next((r for r in list_runs(args.file) if r.name == args.run), None)
    if summary is None:
        raise ValueError(f"{args.file} holds no run named {args.run!r}")
    script = stored_run_script(summary.spec, summary.name, args.record_to)
    if args.out is None:
        sys.stdout.write(script)
        return 0
    out = Path(args.out)
    if out.suffix.lower() != ".py":
        raise ValueError(f"--out must end in .py, got {out.name!r}")
    out.write_text(script, encoding="utf-8")
    print(f"wrote {out} (run {summary.name!r}; it records to {args.record_to})")
    return 0
