"""How fast FrameRenderer turns an epoch into a frame, against a full figure redraw.

Builds reference-size synthetic views (2000 samples, 151 epochs, 100x100 probability
grid), then for 1280x720 and 1920x1080 times: renderer construction, the first frame
(which draws and caches the static background), and per frame over all 151 epochs
update + rgb, png and jpeg. Each pass uses a fresh renderer, so every epoch is a first
visit; a second jpeg pass shows revisits. The full redraw is ``fig.canvas.draw()`` of
the same figure with nothing cached (layout frozen, so it only counts drawing).

Each per-frame line also gives the p50 of the process's CPU time per frame: on a machine
shared with other work, wall times grow with the load while CPU times stay comparable
between runs (compare two trees by their CPU figures).

Usage: ``python bench/render_speed.py``. The last line is machine-readable:
``frame_ms=<p50 jpeg 1280x720> png_ms=<p50 png 1280x720> full_redraw_ms=<p50>
frame_cpu_ms=<p50 CPU jpeg 1280x720> full_redraw_cpu_ms=<p50 CPU>``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from replay_core.render.frame import FrameRenderer  # noqa: E402
from tests.synthetic_views import synthetic_views  # noqa: E402

SIZES = [(1280, 720), (1920, 1080)]
APP_SIZES = [(1600, 760), (1180, 560)]


def _ms(seconds: list[float]) -> tuple[float, float]:
    arr = np.asarray(seconds) * 1000.0
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def _per_frame(views, size, call: str,
               passes: int = 1) -> tuple[list[tuple[float, float]], float]:
    """(p50, p95) wall ms per pass, and the first pass's p50 CPU ms."""
    renderer = FrameRenderer(views, size=size)
    renderer.rgb(0)
    epochs = list(range(views.n_epochs + 1))
    results, cpu = [], []
    for i in range(passes):
        times = []
        for epoch in epochs:
            renderer._shown = None  # the rgb(0) above must not make epoch 0 free
            t0, c0 = time.perf_counter(), time.process_time()
            getattr(renderer, call)(epoch)
            times.append(time.perf_counter() - t0)
            if i == 0:
                cpu.append(time.process_time() - c0)
        results.append(_ms(times))
    return results, _ms(cpu)[0]


def _full_redraw(views, size, step: int = 5) -> tuple[float, float, float]:
    """(p50, p95) wall ms and p50 CPU ms of a whole-figure draw."""
    # A renderer that never blits: nothing is animated, every draw redraws everything.
    renderer = FrameRenderer(views, size=size)
    renderer.canvas.draw()
    renderer.figure.set_layout_engine("none")
    times, cpu = [], []
    for epoch in range(0, views.n_epochs + 1, step):
        t0, c0 = time.perf_counter(), time.process_time()
        renderer._set_epoch(epoch)
        renderer.canvas.draw()
        renderer._image()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return (*_ms(times), _ms(cpu)[0])


def main() -> None:
    t0 = time.perf_counter()
    views = synthetic_views()
    print(f"synthetic views: {views.n_epochs + 1} epochs x "
          f"{views.feature_space.features.shape[1]} samples, "
          f"{views.decision_boundary.probabilities.shape[1]}^2 grid "
          f"({time.perf_counter() - t0:.2f} s)")
    headline = {}
    for size in SIZES + APP_SIZES:
        label = f"{size[0]}x{size[1]}"
        t0 = time.perf_counter()
        renderer = FrameRenderer(views, size=size)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        renderer.rgb(0)
        first = time.perf_counter() - t0
        print(f"\n{label}: construct {build * 1000:.0f} ms, first frame (background) "
              f"{first * 1000:.0f} ms, jpeg {len(renderer.jpeg(80)) / 1024:.0f} kB")
        calls = ("jpeg",) if size in APP_SIZES else ("update", "rgb", "png", "jpeg")
        for call in calls:
            passes, cpu = _per_frame(views, size, call, passes=2 if call == "jpeg" else 1)
            (p50, p95) = passes[0]
            line = (f"  {call:7s} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  (151 first visits; "
                    f"CPU p50 {cpu:.1f} ms)")
            if len(passes) > 1:
                line += f";  revisits p50 {passes[1][0]:.1f} ms"
            print(line)
            headline[(size, call)] = p50
            headline[(size, call, "cpu")] = cpu
        if size in SIZES:
            p50, p95, cpu = _full_redraw(views, size)
            print(f"  full redraw (canvas.draw) p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
                  f"(CPU p50 {cpu:.1f} ms)")
            headline[(size, "full")] = p50
            headline[(size, "full", "cpu")] = cpu
    ref = SIZES[0]
    print(f"frame_ms={headline[(ref, 'jpeg')]:.1f} png_ms={headline[(ref, 'png')]:.1f} "
          f"full_redraw_ms={headline[(ref, 'full')]:.1f} "
          f"frame_cpu_ms={headline[(ref, 'jpeg', 'cpu')]:.1f} "
          f"full_redraw_cpu_ms={headline[(ref, 'full', 'cpu')]:.1f}")


if __name__ == "__main__":
    main()
