"""Command line: ``python -m replay_core train|sweep|info|plot|export``.

Examples
--------
    python -m replay_core train --preset reference --file run.h5 --run sigmoid
    python -m replay_core train --preset reference --activation tanh --file run.h5 --run tanh \\
        --training.epochs 50
    python -m replay_core sweep --preset reference --activations sigmoid,tanh,relu --seeds 20 \\
        --file sweep.h5
    python -m replay_core info run.h5
    python -m replay_core info run.h5 --events --run sigmoid
    python -m replay_core plot run.h5 --run sigmoid --epoch 80 --out frame.png
    python -m replay_core export run.h5 --run sigmoid --out sigmoid.mp4 --epochs 0:150 --fps 10
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from replay_core.data import presets
from replay_core.data.spec import ACTIVATIONS, RunSpec
from replay_core.errors import ReplayError
from replay_core.train.sweep import MAX_SEEDS


def _leaves(data: dict, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and key != "params":
            out.extend(_leaves(value, path + "."))
        elif key == "params":
            for name, v in value.items():
                out.append((f"{path}.{name}", v))
        elif key != "layers":
            out.append((path, value))
    return out


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, got {text!r}") from None
    if not (160 <= w <= 3840 and 120 <= h <= 2160):
        raise argparse.ArgumentTypeError(f"size {w}x{h} is outside 160x120 .. 3840x2160")
    return w, h


def _parse_layers(text: str) -> list[dict]:
    layers = []
    for part in text.split(","):
        units, _, act = part.strip().partition(":")
        try:
            layers.append({"units": int(units), "activation": act or "relu"})
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"layers look like '2:sigmoid' or '10:relu,10:relu', got {text!r}"
            ) from None
    return layers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m replay_core",
        description="Record how a network learns and replay every epoch.",
    )
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's own start-up lines (hidden by default)")
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser("train", help="train a run and record every epoch to an HDF5 file")
    tr.add_argument("--file", required=True, help="HDF5 run file (created if missing)")
    tr.add_argument("--run", required=True, help="name of the new run in the file")
    _add_spec_arguments(tr)
    tr.set_defaults(func=_cmd_train)

    sw = sub.add_parser(
        "sweep", help="train configurations over many seeds at once and summarise",
        description="Train the spec (one configuration per --activations entry) with seeds "
                    "1 to --seeds, the seeds of a configuration as one batched computation, "
                    "recording every run to --file; then "
                    "print, per configuration, how many seeds reached 100%% training "
                    "accuracy, the first epoch they did, and the final loss.")
    sw.add_argument("--file", required=True, help="HDF5 run file (created if missing)")
    sw.add_argument("--seeds", required=True, type=int, help=f"number of seeds, 1 to {MAX_SEEDS}")
    sw.add_argument("--activations", default=None, metavar="NAME,NAME",
                    help="one configuration per hidden activation, e.g. sigmoid,tanh,relu "
                         "(default: the spec as it is)")
    sw.add_argument("--workers", type=int, default=None,
                    help="worker processes, each training whole configurations (default: "
                         "none, every configuration in this process, one after another)")
    _add_spec_arguments(sw)
    sw.set_defaults(func=_cmd_sweep)

    info = sub.add_parser("info", help="list the runs in a file (and their events)")
    info.add_argument("file")
    info.add_argument("--events", action="store_true",
                      help="after the table, each run's events: 100 %% accuracy, the last "
                           "crossing, learning-rate cuts, plateaus, overfitting, early stop...")
    info.add_argument("--run", default=None, help="only this run")
    info.add_argument("--minor", action="store_true",
                      help="with --events, also every new low of misclassified samples")
    info.set_defaults(func=_cmd_info)

    plot = sub.add_parser("plot", help="draw the five views of one epoch to a PNG")
    plot.add_argument("file")
    plot.add_argument("--run", required=True)
    plot.add_argument("--epoch", type=int, default=None, help="epoch (default: the last)")
    plot.add_argument("--out", required=True, help="output .png")
    plot.add_argument("--size", type=_parse_size, default=(1280, 720), help="WIDTHxHEIGHT")
    _add_feature_space_arguments(plot)
    plot.add_argument("--theme", choices=("light", "dark"), default="light")
    plot.add_argument("--views", default=None, metavar="layers|NAME,NAME",
                      help="layer panels instead of the five views: 'layers' (all), or names "
                           "from z, activations, weights, gradients, weights_std, "
                           "gradients_std, health, learning_rate, explainer")
    plot.set_defaults(func=_cmd_plot)

    exp = sub.add_parser(
        "export", help="export an animation (.mp4, .gif) or one frame (.png) of a run",
        description="Export the views of a run: every epoch of --epochs as one frame of an "
                    "MP4 or GIF, or the frame of --epoch as a PNG.")
    exp.add_argument("file")
    exp.add_argument("--run", required=True)
    exp.add_argument("--out", required=True, help="output file: .mp4, .gif or .png")
    # Parsed by _cmd_export so a bad value is one 'error: ...' line (exit 2).
    exp.add_argument("--epochs", default=None, metavar="START:END[:STEP]",
                     help="epochs of the animation, END included, e.g. 0:150, :50, 80, "
                          "0:150:5 (default: all)")
    exp.add_argument("--epoch", default=None, metavar="N",
                     help="epoch of a .png frame (default: the last)")
    exp.add_argument("--fps", default="10", help="frames per second (default 10)")
    exp.add_argument("--size", default="1280x720", metavar="WIDTHxHEIGHT",
                     help="frame size, 320x180 .. 3840x2160, even for .mp4 (default 1280x720)")
    exp.add_argument("--views", default=None, metavar="NAME,NAME",
                     help="panels in order, from feature_space, decision_boundary, "
                          "probability_histogram, loss_and_metric, loss_histogram, and "
                          "landscape, the loss landscape with the optimizer's path "
                          "(default: the first five); or layer panels: 'layers' (all), or "
                          "names from z, activations, weights, gradients, weights_std, "
                          "gradients_std, health, learning_rate, explainer")
    exp.add_argument("--theme", choices=("light", "dark"), default="light")
    _add_feature_space_arguments(exp)
    exp.add_argument("--dpi", default="100", help="dots per inch: text size (default 100)")
    exp.add_argument("--quiet", action="store_true", help="no progress bar")
    exp.add_argument("--narration", action="store_true",
                     help="a line under the panels saying in words what happens at each epoch")
    exp.set_defaults(func=_cmd_export)

    code = sub.add_parser(
        "code", help="print a standalone Keras script that trains a run again",
        description="Write the run as plain Keras code: the dataset, the network, the "
                    "optimizer and model.fit with the ReplayData callback, reproducing it.")
    code.add_argument("file")
    code.add_argument("--run", required=True)
    code.add_argument("--out", default=None, help="write the script to this .py file "
                      "(default: print it)")
    code.add_argument("--record-to", default="run.h5", metavar="FILE",
                      help="the run file the script records to (default run.h5)")
    code.set_defaults(func=_cmd_code)
    return parser


def _add_feature_space_arguments(parser: argparse.ArgumentParser) -> None:
    """--layer, --projection and --fit-epoch: which feature space ``plot``/``export`` draw."""
    parser.add_argument("--layer", default=None,
                        help="hidden layer of the feature space (default: the bottleneck, "
                             "else the first 2-unit layer, else the last wider one)")
    parser.add_argument("--projection", default=None, metavar="pca|units:I,J",
                        help="how a layer of more than 2 units is drawn: a PCA fitted once "
                             "and frozen, or two of its units (1-based), e.g. units:3,7 "
                             "(default: pca)")
    parser.add_argument("--fit-epoch", default=None, type=int, metavar="N",
                        help="epoch whose activations fit the PCA (default: the last)")


def _add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that describe a spec: a preset or JSON, then overrides."""
    parser.add_argument("--preset", default="reference", choices=presets.names())
    parser.add_argument("--activation", choices=ACTIVATIONS,
                        help="activation of every hidden layer")
    parser.add_argument("--layers", type=_parse_layers,
                        help="hidden layers as units:activation, e.g. '2:sigmoid' or "
                             "'10:relu,2:tanh'")
    parser.add_argument("--spec", help="a whole RunSpec as JSON (a string or @file.json)")
    parser.add_argument("--set", action="append", metavar="PATH=VALUE",
                        help="override any field, e.g. --set dataset.params.factor=0.3 "
                             "(repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    for path, default in _leaves(RunSpec().to_dict()):
        parser.add_argument(
            f"--{path}", dest=path, type=_parse_value, default=None,
            metavar=type(default).__name__.upper() if default is not None else "JSON",
            help=f"override {path} (reference: {json.dumps(default)})")


def spec_from_args(args: argparse.Namespace) -> RunSpec:
    """The RunSpec a ``train`` command line describes."""
    if args.spec:
        text = Path(args.spec[1:]).read_text() if args.spec.startswith("@") else args.spec
        spec = RunSpec.from_json(text)
    else:
        spec = presets.get(args.preset)
    changes = {
        path: getattr(args, path)
        for path, _ in _leaves(RunSpec().to_dict())
        if getattr(args, path, None) is not None
    }
    data = spec.to_dict()
    if args.layers:
        data["model"]["layers"] = args.layers
    if args.activation:
        data["model"]["layers"] = [
            dict(layer, activation=args.activation) for layer in data["model"]["layers"]
        ]
    for item in args.set or []:
        dotted, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--set takes PATH=VALUE, e.g. dataset.params.factor=0.3; got {item!r}")
        changes[dotted.strip()] = _parse_value(text)
    if changes.get("dataset.name", data["dataset"]["name"]) != data["dataset"]["name"]:
        data["dataset"]["params"] = {}  # the new dataset's own defaults
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            if node.get(key) is None:
                node[key] = {}
            node = node[key]
            if not isinstance(node, dict):
                raise ValueError(f"unknown field {dotted}")
        node[leaf] = value
    return RunSpec.from_dict(data)


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


def _cmd_train(args: argparse.Namespace) -> int:
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


def _cmd_sweep(args: argparse.Namespace) -> int:
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


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _cmd_info(args: argparse.Namespace) -> int:
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


def _cmd_plot(args: argparse.Namespace) -> int:
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


def _cmd_export(args: argparse.Namespace) -> int:
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


def _cmd_code(args: argparse.Namespace) -> int:
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:  # read by replay_core.train.quiet when TensorFlow loads
        os.environ["DEEPREPLAY_VERBOSE"] = "1"
    try:
        return args.func(args)
    except (ReplayError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        note = {"train": "; the finished epochs are kept",
                "sweep": "; the finished runs are kept"}.get(args.command, "")
        print(f"\ninterrupted{note}", file=sys.stderr)
        return 130

