"""Command line: ``python -m replay_core train|info|plot``.

Examples
--------
    python -m replay_core train --preset reference --file run.h5 --run sigmoid
    python -m replay_core train --preset reference --activation tanh --file run.h5 --run tanh \\
        --training.epochs 50
    python -m replay_core info run.h5
    python -m replay_core plot run.h5 --run sigmoid --epoch 80 --out frame.png
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from replay_core import presets
from replay_core.errors import ReplayError
from replay_core.spec import ACTIVATIONS, RunSpec


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
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser("train", help="train a run and record every epoch to an HDF5 file")
    tr.add_argument("--preset", default="reference", choices=presets.names())
    tr.add_argument("--file", required=True, help="HDF5 run file (created if missing)")
    tr.add_argument("--run", required=True, help="name of the new run in the file")
    tr.add_argument("--activation", choices=ACTIVATIONS,
                    help="activation of every hidden layer")
    tr.add_argument("--layers", type=_parse_layers,
                    help="hidden layers as units:activation, e.g. '2:sigmoid' or '10:relu,2:tanh'")
    tr.add_argument("--spec", help="a whole RunSpec as JSON (a string or @file.json)")
    tr.add_argument("--set", action="append", metavar="PATH=VALUE",
                    help="override any field, e.g. --set dataset.params.factor=0.3 (repeatable)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    for path, default in _leaves(RunSpec().to_dict()):
        tr.add_argument(f"--{path}", dest=path, type=_parse_value, default=None,
                        metavar=type(default).__name__.upper() if default is not None else "JSON",
                        help=f"override {path} (reference: {json.dumps(default)})")
    tr.set_defaults(func=_cmd_train)

    info = sub.add_parser("info", help="list the runs in a file")
    info.add_argument("file")
    info.set_defaults(func=_cmd_info)

    plot = sub.add_parser("plot", help="draw the five views of one epoch to a PNG")
    plot.add_argument("file")
    plot.add_argument("--run", required=True)
    plot.add_argument("--epoch", type=int, default=None, help="epoch (default: the last)")
    plot.add_argument("--out", required=True, help="output .png")
    plot.add_argument("--size", type=_parse_size, default=(1280, 720), help="WIDTHxHEIGHT")
    plot.add_argument("--layer", default=None, help="2-unit layer of the feature space")
    plot.add_argument("--theme", choices=("light", "dark"), default="light")
    plot.set_defaults(func=_cmd_plot)
    return parser


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
    from replay_core.trainer import train

    bar = None if args.quiet else _ProgressBar(spec.training.epochs)
    try:
        result = train(spec, args.file, args.run, on_epoch=bar)
    finally:
        if bar is not None:
            bar.close()
    print(f"run {args.run!r} in {args.file}: {result.status}, {result.epochs_done} epochs"
          + (f" ({result.message})" if result.message else ""))
    return 0 if result.status in ("complete", "stopped") else 1


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _cmd_info(args: argparse.Namespace) -> int:
    from replay_core import runfile

    names = runfile.validate_file(args.file)
    rows = [("run", "status", "epochs", "final loss", "final acc")]
    summaries = {s.name: s for s in runfile.list_runs(args.file)}
    for name in names:
        s = summaries[name]
        rows.append((name, s.status, f"{s.epochs_done}/{s.n_epochs}", _fmt(s.final_loss, ".4f"),
                     _fmt(s.final_acc, ".4f")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from replay_core.render_mpl import FrameRenderer
    from replay_core.replay import Replay

    views = Replay(args.file, args.run).views(layer=args.layer)
    epoch = views.n_epochs if args.epoch is None else args.epoch
    renderer = FrameRenderer(views, size=args.size, theme=args.theme)
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out must end in .png, got {out.name!r}")
    out.write_bytes(renderer.png(epoch))
    print(f"wrote {out} (epoch {epoch} of {views.n_epochs}, {args.size[0]}x{args.size[1]})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ReplayError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; the finished epochs are kept", file=sys.stderr)
        return 130

