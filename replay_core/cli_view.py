"""The command line's commands that read runs back: ``info``, ``plot`` and ``export``.

Each takes the parsed arguments of its sub-command (see ``cli.build_parser``) and
returns the process's exit status; the views are those of ``Replay``, drawn by the
render layer's artists, as in the app.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from replay_core.errors import ReplayError

__all__ = ["cmd_export", "cmd_info", "cmd_plot"]


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def cmd_info(args: argparse.Namespace) -> int:
    """``info``: a table of the file's runs, and with --events each run's events."""
    from replay_core.store import runfile

    names = runfile.validate_file(args.file)
    if getattr(args, "run", None) is not None:
        if args.run not in names:
            raise ValueError(f"{Path(args.file).name!r} holds no run {args.run!r} (runs: "
                             f"{', '.join(map(repr, names))})")
        names = [args.run]
    rows = [("run", "status", "epochs", "final loss", "final acc", "classes")]
    summaries = {s.name: s for s in runfile.list_runs(args.file)}
    for name in names:
        s = summaries[name]
        rows.append((name, s.status, f"{s.epochs_done}/{s.n_epochs}", _fmt(s.final_loss, ".4f"),
                     _fmt(s.final_acc, ".4f"), ", ".join(s.class_names)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if getattr(args, "events", False):
        _print_events(args.file, names, minor=args.minor)
    return 0


def _print_events(path: str, names: list[str], *, minor: bool) -> None:
    """Each run's events, one line each; a run that cannot be replayed says why."""
    from replay_core.replay import events
    from replay_core.replay.replayer import Replay

    for name in names:
        print()
        try:
            story = Replay(path, name).events()
        except ReplayError as exc:
            print(f"{name}: cannot be replayed: {exc}")
            continue
        lows = len(story.of_kind("fewer_wrong"))
        note = (f"; {lows} new low{'s' if lows != 1 else ''} of misclassified samples"
                + ("" if minor or not lows else " (--minor lists them)"))
        print(f"{name}: {len(story.major)} event{'s' if len(story.major) != 1 else ''}{note}")
        for line in events.describe(story, minor=minor):
            print(line)


def _projection(text: str | None):
    """``pca`` -> "pca"; ``units:3,7`` (1-based, as on screen) -> ("units", 2, 6)."""
    if text is None:
        return None
    text = text.strip().lower()
    if text == "pca":
        return "pca"
    kind, _, rest = text.partition(":")
    parts = rest.split(",")
    if kind == "units" and len(parts) == 2 and all(p.strip().isdigit() for p in parts):
        i, j = (int(p) for p in parts)
        if i >= 1 and j >= 1:
            return ("units", i - 1, j - 1)
    raise ValueError(f"--projection must be pca or units:I,J with unit numbers from 1, e.g. "
                     f"units:1,2; got {text!r}")


def _views(args: argparse.Namespace, panels: tuple[str, ...] | None = None):
    from replay_core.replay.replayer import Replay

    replay = Replay(args.file, args.run)
    views = replay.views(
        layer=args.layer, projection=_projection(args.projection), fit_epoch=args.fit_epoch)
    if panels is not None and "landscape" in panels:
        from replay_core.replay.landscape import with_landscape

        views = with_landscape(views, replay)
    return views


def _layer_panels(text: str | None) -> tuple[str, ...] | None:
    """The layer panels ``--views`` names, or None when it names none (the five views).

    Raises
    ------
    ValueError
        Layer panels mixed with the five views, or an unknown layer panel.
    """
    from replay_core.render.internals import INTERNALS_PANELS, parse_internals_panels

    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    layer = [n for n in names if n == "layers" or n in INTERNALS_PANELS]
    if not layer:
        return None
    if len(layer) != len(names):
        raise ValueError("--views takes either the five views' panels or layer panels, "
                         "not both in one frame")
    return parse_internals_panels(layer)


def _internals(args: argparse.Namespace):
    from replay_core.replay.internals import Internals
    from replay_core.replay.replayer import Replay

    return Internals.from_replay(Replay(args.file, args.run)).views()


def cmd_plot(args: argparse.Namespace) -> int:
    """``plot``: one epoch's views (or layer panels) to a PNG."""
    from replay_core.render.frame import FrameRenderer

    layer_panels = _layer_panels(args.views)
    if layer_panels is not None:
        from replay_core.render.export import export_internals

        views = _internals(args)
        epoch = views.n_epochs if args.epoch is None else args.epoch
        export_internals({args.run: views}, args.out, epoch=epoch, size=args.size,
                         theme=args.theme, panels=layer_panels)
        print(f"wrote {args.out} (layers, epoch {epoch} of {views.n_epochs}, "
              f"{args.size[0]}x{args.size[1]})")
        return 0
    views = _views(args)
    epoch = views.n_epochs if args.epoch is None else args.epoch
    renderer = FrameRenderer(views, size=args.size, theme=args.theme)
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out must end in .png, got {out.name!r}")
    out.write_bytes(renderer.png(epoch))
    print(f"wrote {out} (epoch {epoch} of {views.n_epochs}, {args.size[0]}x{args.size[1]})")
    return 0


class _FrameBar:
    """``[#####     ] frame 75/151  3.2 s`` on stderr, redrawn in place."""

    def __init__(self, stream=None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.start, self.drawn = time.perf_counter(), False

    def __call__(self, done: int, total: int) -> None:
        self.drawn = True
        bar = "#" * int(30 * done / total)
        self.stream.write(f"\r[{bar:<30}] frame {done}/{total}  "
                          f"{time.perf_counter() - self.start:.1f} s")
        self.stream.flush()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _number(text: str, flag: str, kind: type = float) -> Any:
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ValueError(f"{flag} must be {what}, got {text!r}") from None


def cmd_export(args: argparse.Namespace) -> int:
    """``export``: an animation (.mp4, .gif) or one frame (.png) of a run's views."""
    from replay_core.render import export

    out = Path(args.out)
    fmt = out.suffix.lower()
    if fmt not in export.FORMATS:
        raise ValueError(f"--out must end in .mp4, .gif or .png, got {out.name!r}")
    size = export.check_size(export.parse_size(args.size), fmt)
    layer_panels = _layer_panels(args.views)
    if layer_panels is not None:
        return _export_layers(args, out, size, layer_panels)
    panels = export.parse_panels(args.views)
    fps = _number(args.fps, "--fps")
    dpi = _number(args.dpi, "--dpi")
    if not dpi > 0:
        raise ValueError(f"--dpi must be positive, got {args.dpi!r}")
    epoch = None if args.epoch is None else _number(args.epoch, "--epoch", int)
    if fmt != ".png" and epoch is not None:
        raise ValueError("--epoch picks the frame of a .png; "
                         "an animation takes --epochs START:END")
    views = _views(args, panels)
    n = views.n_epochs
    w, h = size
    if fmt == ".png":
        if epoch is None and args.epochs is not None:
            picked = export.parse_epochs(args.epochs, n)
            if len(picked) != 1:
                raise ValueError(f"a .png holds one frame: use --epoch N, not --epochs "
                                 f"{args.epochs}")
            epoch = picked[0]
        epoch = n if epoch is None else epoch
        if not 0 <= epoch <= n:
            raise ValueError(f"--epoch {epoch} is outside 0..{n}")
        export.export_frame(views, out, epoch=epoch, size=size, theme=args.theme,
                            panels=panels, dpi=dpi, narration=args.narration)
        print(f"wrote {out} (epoch {epoch} of {n}, {w}x{h})")
        return 0
    epochs = export.parse_epochs(":" if args.epochs is None else args.epochs, n)
    bar = None if args.quiet else _FrameBar()
    start = time.perf_counter()
    try:
        export.export_animation(views, out, epochs=epochs, fps=fps, size=size,
                                theme=args.theme, panels=panels, dpi=dpi, progress=bar,
                                narration=args.narration)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    nbytes = out.stat().st_size
    shown = f"{nbytes / 1e6:.1f} MB" if nbytes >= 1e6 else f"{nbytes / 1e3:.0f} kB"
    print(f"wrote {out} ({len(epochs)} frames, epochs {epochs[0]}..{epochs[-1]}, {w}x{h}, "
          f"{fps:g} fps, {shown}, {seconds:.1f} s)")
    return 0


def _export_layers(args: argparse.Namespace, out: Path, size: tuple[int, int],
                   panels: tuple[str, ...]) -> int:
    """``export --views layers,...``: the layer panels as an animation or one frame."""
    from replay_core.render import export

    fps = _number(args.fps, "--fps")
    dpi = _number(args.dpi, "--dpi")
    if not dpi > 0:
        raise ValueError(f"--dpi must be positive, got {args.dpi!r}")
    views = _internals(args)
    n = views.n_epochs
    if out.suffix.lower() == ".png":
        epoch = n if args.epoch is None else _number(args.epoch, "--epoch", int)
        export.export_internals({args.run: views}, out, epoch=epoch, size=size,
                                theme=args.theme, panels=panels, dpi=dpi)
        print(f"wrote {out} (layers, epoch {epoch} of {n}, {size[0]}x{size[1]})")
        return 0
    epochs = export.parse_epochs(":" if args.epochs is None else args.epochs, n)
    bar = None if args.quiet else _FrameBar()
    try:
        export.export_internals({args.run: views}, out, epochs=epochs, fps=fps, size=size,
                                theme=args.theme, panels=panels, dpi=dpi, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    print(f"wrote {out} (layers, {len(epochs)} frames, epochs {epochs[0]}..{epochs[-1]})")
    return 0
