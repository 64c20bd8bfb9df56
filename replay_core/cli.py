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
import os
import sys

from replay_core.cli_spec import add_spec_arguments, spec_from_args
from replay_core.cli_train import cmd_code, cmd_sweep, cmd_train, sweep_configs
from replay_core.cli_view import cmd_export, cmd_info, cmd_plot
from replay_core.errors import ReplayError
from replay_core.train.sweep import MAX_SEEDS

# The commands' bodies live beside this module: cli_spec (the spec options), cli_train
# (train, sweep, code) and cli_view (info, plot, export); this one holds the parser.
__all__ = ["build_parser", "main", "spec_from_args", "sweep_configs"]


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, got {text!r}") from None
    if not (160 <= w <= 3840 and 120 <= h <= 2160):
        raise argparse.ArgumentTypeError(f"size {w}x{h} is outside 160x120 .. 3840x2160")
    return w, h


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
    add_spec_arguments(tr)
    tr.set_defaults(func=cmd_train)

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
    add_spec_arguments(sw)
    sw.set_defaults(func=cmd_sweep)

    info = sub.add_parser("info", help="list the runs in a file (and their events)")
    info.add_argument("file")
    info.add_argument("--events", action="store_true",
                      help="after the table, each run's events: 100 %% accuracy, the last "
                           "crossing, learning-rate cuts, plateaus, overfitting, early stop...")
    info.add_argument("--run", default=None, help="only this run")
    info.add_argument("--minor", action="store_true",
                      help="with --events, also every new low of misclassified samples")
    info.set_defaults(func=cmd_info)

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
    plot.set_defaults(func=cmd_plot)

    exp = sub.add_parser(
        "export", help="export an animation (.mp4, .gif) or one frame (.png) of a run",
        description="Export the views of a run: every epoch of --epochs as one frame of an "
                    "MP4 or GIF, or the frame of --epoch as a PNG.")
    exp.add_argument("file")
    exp.add_argument("--run", required=True)
    exp.add_argument("--out", required=True, help="output file: .mp4, .gif or .png")
    # Parsed by cmd_export so a bad value is one 'error: ...' line (exit 2).
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
    exp.set_defaults(func=cmd_export)

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
    code.set_defaults(func=cmd_code)
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
