"""How long exporting the reference run's 151 epochs takes, as MP4 and as GIF, at 1280x720.

Trains the reference run (parabola, 2 -> 2 sigmoid -> 1, 150 epochs) with the fast trainer
into a temporary file, replays its views, then times :func:`replay_core.render.export.
export_animation` end to end (renderer construction, 151 frames rendered, encoding,
file renamed into place) for ``.mp4`` and ``.gif``. Rendering and ffmpeg's encoding run
concurrently, so MP4 time is close to the larger of the two, not their sum; the CPU time
of the ffmpeg child is printed beside it.

Usage: ``python bench/export_speed.py [--synthetic]`` (``--synthetic`` skips training and
uses tests/synthetic_views.py's reference-sized views). The last line is
machine-readable: ``mp4_s=<..> gif_s=<..> s_per_frame=<mp4 seconds per frame>``.
Target: the MP4 under 30 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from replay_core.render.export import export_animation  # noqa: E402

SIZE = (1280, 720)
FPS = 10


def _reference_views(folder: Path):
    from replay_core.data import presets
    from replay_core.replay.replayer import Replay
    from replay_core.train.trainer import train

    path = folder / "reference.h5"
    start = time.perf_counter()
    result = train(presets.get("reference"), path, "reference")
    trained = time.perf_counter() - start
    start = time.perf_counter()
    views = Replay(path, "reference").views()
    print(f"reference run: {result.status}, {result.epochs_done} epochs, trained in "
          f"{trained:.1f} s, views in {time.perf_counter() - start:.2f} s")
    return views


def _synthetic_views():
    from tests.synthetic_views import synthetic_views

    print("synthetic reference-sized views (150 epochs, 2000 samples)")
    return synthetic_views()


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(views, out: Path) -> tuple[float, float, float]:
    """Wall seconds, this process's CPU seconds, child (ffmpeg) CPU seconds."""
    wall, cpu, child = time.perf_counter(), time.process_time(), _child_cpu()
    export_animation(views, out, epochs=range(0, views.n_epochs + 1), fps=FPS, size=SIZE)
    return (time.perf_counter() - wall, time.process_time() - cpu, _child_cpu() - child)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", action="store_true",
                        help="use synthetic views instead of training the reference run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        folder = Path(tmp)
        views = _synthetic_views() if args.synthetic else _reference_views(folder)
        frames = views.n_epochs + 1
        results = {}
        for suffix in (".mp4", ".gif"):
            out = folder / f"reference{suffix}"
            wall, cpu, child = _time(views, out)
            results[suffix] = wall
            print(f"{suffix[1:]:>4}: {frames} frames {SIZE[0]}x{SIZE[1]} in {wall:6.2f} s "
                  f"({1000 * wall / frames:5.1f} ms/frame; python cpu {cpu:.2f} s, "
                  f"ffmpeg cpu {child:.2f} s), {out.stat().st_size / 1e6:.2f} MB")
    mp4, gif = results[".mp4"], results[".gif"]
    verdict = "meets" if mp4 < 30.0 else "MISSES"
    print(f"MP4 {verdict} the 30 s target ({mp4:.1f} s)")
    print(f"mp4_s={mp4:.2f} gif_s={gif:.2f} s_per_frame={mp4 / frames:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
