"""Run files built the way an attacker would, from a valid DeepReplay-layout run.

Each builder copies ``base`` (a valid run file with one run ``run``) to ``out`` and
changes one thing with h5py, so the file passes every check but the one it attacks.
Used by the browser test that uploads them through the real Runs page.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np


def _copy(base: Path, out: Path) -> Path:
    shutil.copyfile(base, out)
    out.chmod(0o644)
    return out


def external_storage(base: Path, out: Path, run: str, secret_file: Path) -> Path:
    """``run/loss`` stored in ``secret_file`` (HDF5 external storage)."""
    _copy(base, out)
    with h5py.File(out, "a") as f:
        g = f[run]
        n = g["loss"].shape[0]
        del g["loss"]
        g.create_dataset("loss", shape=(n,), dtype="<f4",
                         external=[(str(secret_file), 0, h5py.h5f.UNLIMITED)])
    return out


def external_link(base: Path, out: Path, run: str, target_file: Path, target_run: str) -> Path:
    """A second run that is an ``ExternalLink`` to ``target_run`` of ``target_file``."""
    _copy(base, out)
    with h5py.File(out, "a") as f:
        f["stolen"] = h5py.ExternalLink(str(target_file), f"/{target_run}")
    return out


def virtual_dataset(base: Path, out: Path, run: str, target_file: Path, target_run: str) -> Path:
    """``run/inputs`` a virtual dataset over ``target_run/inputs`` of ``target_file``."""
    _copy(base, out)
    with h5py.File(target_file, "r") as t:
        shape, dtype = t[target_run]["inputs"].shape, t[target_run]["inputs"].dtype
    with h5py.File(out, "a") as f:
        g = f[run]
        del g["inputs"]
        layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
        layout[:] = h5py.VirtualSource(str(target_file), f"/{target_run}/inputs", shape=shape)
        g.create_virtual_dataset("inputs", layout)
    return out


def deep_nesting(base: Path, out: Path, run: str, depth: int = 40_000) -> Path:
    """A chain of ``depth`` nested empty groups inside the run."""
    _copy(base, out)
    with h5py.File(out, "a", libver="latest") as f:  # compact groups: ~150 bytes a level
        gid = f[run].id
        for _ in range(depth):
            gid = h5py.h5g.create(gid, b"g")
    return out


def shape_bomb(base: Path, out: Path, run: str, rows: int = 200_000_000) -> Path:
    """``run/inputs`` declared ``(rows, 2)``, chunked and compressed, never written."""
    _copy(base, out)
    with h5py.File(out, "a") as f:
        g = f[run]
        del g["inputs"], g["targets"]
        g.create_dataset("inputs", shape=(rows, 2), dtype="<f4", chunks=(65536, 2),
                         compression="gzip")
        g.create_dataset("targets", shape=(rows, 1), dtype="<f4", chunks=(65536, 1),
                         compression="gzip")
    return out


def nested_json(base: Path, out: Path, run: str, depth: int = 100_000) -> Path:
    """A ``sweep`` attribute of ``depth`` nested JSON lists."""
    _copy(base, out)
    with h5py.File(out, "a") as f:
        f[run].attrs["sweep"] = "[" * depth + "]" * depth
    return out


def unknown_activation(base: Path, out: Path, run: str) -> Path:
    """``activation_functions`` naming a function nobody knows."""
    _copy(base, out)
    with h5py.File(out, "a") as f:
        n = len(f[run].attrs["activation_functions"])
        f[run].attrs["activation_functions"] = np.array([b"abc"] * n)
    return out


def negative_targets(base: Path, out: Path, run: str) -> Path:
    """Targets of -1 and 2 for a sigmoid output."""
    _copy(base, out)
    with h5py.File(out, "a") as f:
        t = f[run]["targets"]
        values = t[()]
        values[::2] = -1
        values[1::2] = 2
        t[...] = values
    return out
