"""Where a seed sweep's time goes on the server, from its submission to its end, without a
browser: the 60-run reference sweep (sigmoid, tanh and relu x 20 seeds, 150 epochs) as the
Seed sweep page submits it (``studio.jobs.submit_sweep``), trained by the server's worker
pool and written by its job manager.

Three sweeps in one session: the first starts the worker (TensorFlow's import included),
the next two run on the worker that is up. For each it prints the wall time from submit to
the job's end, when the first epochs arrived, the worker's CPU time, the server's
(dispatcher: opening the 60 runs, writing what the worker sends, deciding how the job
ended) and the messages the worker sent. The last line:
``cold_s=.. warm_s=.. warm_worker_cpu_s=.. warm_server_cpu_s=.. messages=..``.

Run: ``python bench/sweep_jobs.py`` (``--seeds 5`` for a shorter sweep).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from replay_core.data import presets  # noqa: E402
from replay_core.store.workspace import Workspace  # noqa: E402
from replay_core.train import sweep  # noqa: E402
from studio import job_manager, jobs  # noqa: E402

CONFIGS = {"sigmoid": "reference", "tanh": "reference_tanh", "relu": "reference_relu"}
PARTS = {"open": "open_run", "write": "epoch_chunk", "end": "finish_ended"}


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Meter:
    """CPU time the dispatcher thread spends in some of the job manager's methods."""

    def __init__(self) -> None:
        self.cpu = dict.fromkeys(PARTS, 0.0)
        self.messages: dict[str, int] = {}
        manager = job_manager._Manager
        for part, name in PARTS.items():
            setattr(manager, name, self._timed(getattr(manager, name), part))
        handle = manager.handle

        def counted(this, msg: tuple) -> None:
            self.messages[msg[0]] = self.messages.get(msg[0], 0) + 1
            return handle(this, msg)

        manager.handle = counted

    def _timed(self, method, part: str):
        def timed(this, *args):
            start = time.thread_time()
            try:
                return method(this, *args)
            finally:
                self.cpu[part] += time.thread_time() - start
        return timed

    def reset(self) -> None:
        self.cpu = dict.fromkeys(PARTS, 0.0)
        self.messages = {}


def _sweep(ws: Workspace, configs: dict, seeds: int, meter: _Meter) -> dict:
    tasks = sweep.plan(configs, seeds, taken=ws.run_names())
    pool = job_manager._manager.pool
    before = {pid: _process_cpu(pid) for pid in (pool.pids().values() if pool else ()) if pid}
    meter.reset()
    start = time.perf_counter()
    view = jobs.submit_sweep(ws, tasks, 1)
    first = None
    while True:
        now = next(v for v in jobs.jobs_of(ws) if v.id == view.id)
        if first is None and now.epochs_done:
            first = time.perf_counter() - start
        if now.state not in ("queued", "running"):
            break
        time.sleep(0.02)
    wall = time.perf_counter() - start
    assert now.state == "done", now.message
    pids = job_manager._manager.pool.pids().values()
    worker = sum(_process_cpu(pid) - before.get(pid, 0.0) for pid in pids if pid)
    return {"wall": wall, "first": first or wall, "worker": worker, **meter.cpu,
            "messages": sum(meter.messages.values()), "chunks": meter.messages.get("epochs", 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("DEEPREPLAY_MAX_WORKERS", "2")  # as on a 2-core server
    configs = {label: presets.get(name) for label, name in CONFIGS.items()}
    runs = len(configs) * args.seeds
    print(f"{runs} runs: {', '.join(CONFIGS)} x {args.seeds} seeds through the job manager; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    meter = _Meter()
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.create(Path(tmp) / "sessions")
        try:
            for label in ("cold", "warm", "warm"):
                f = _sweep(ws, configs, args.seeds, meter)
                figures.append(f)
                server = f["open"] + f["write"] + f["end"]
                print(f"{label}: {f['wall']:.2f} s from submit to end, first epochs after "
                      f"{f['first']:.2f} s; worker CPU {f['worker']:.2f} s; server "
                      f"(dispatcher) CPU {server:.2f} s = open {f['open']:.2f} + write "
                      f"{f['write']:.2f} + end {f['end']:.2f}; {f['messages']} messages, "
                      f"{f['chunks']} of them chunks of epochs")
        finally:
            jobs._reset_for_tests()
    warm = min(figures[1:], key=lambda f: f["wall"])
    print(f"cold_s={figures[0]['wall']:.2f} warm_s={warm['wall']:.2f} "
          f"warm_worker_cpu_s={warm['worker']:.2f} "
          f"warm_server_cpu_s={warm['open'] + warm['write'] + warm['end']:.2f} "
          f"messages={warm['messages']} load={os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
