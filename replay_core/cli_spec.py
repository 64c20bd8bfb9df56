"""The command line's run spec: a preset or JSON, then field-by-field overrides.

``train`` and ``sweep`` take the same spec options (:func:`add_spec_arguments`):
``--preset`` or ``--spec``, ``--activation``, ``--layers``, ``--set PATH=VALUE`` and
one ``--PATH`` option per field of a :class:`RunSpec`; :func:`spec_from_args` turns
them into the spec.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from replay_core.data import presets
from replay_core.data.spec import ACTIVATIONS, RunSpec

__all__ = ["add_spec_arguments", "spec_from_args"]


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


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
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
