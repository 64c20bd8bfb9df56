"""Disk quotas and expiry: how much a session and all sessions may keep, and for how long.

Disk use is capped per session (``DEEPREPLAY_SESSION_QUOTA_MB``, default 200) and over
all sessions (``DEEPREPLAY_TOTAL_QUOTA_MB``, default 2000); sessions idle for longer than
``DEEPREPLAY_SESSION_MAX_AGE_H`` hours (default 168) are removed by :func:`clean_up`,
which does its work at most once every ``CLEAN_INTERVAL_S`` seconds per process. A folder
in which a writer of this process has a file open is never removed. ``workspace`` checks
a session's writes against these quotas.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from replay_core.store.opening import open_for_writing

if TYPE_CHECKING:
    from replay_core.data.spec import RunSpec

__all__ = [
    "CLEAN_INTERVAL_S", "IDLE_S", "MB", "SESSION_ID", "clean_up", "estimate_file_bytes",
    "folder_bytes", "in_mb", "remove_expired", "session_max_age_s",
    "session_quota_bytes", "total_bytes", "total_quota_bytes", "trim_to_total_quota",
]

# A session folder's name: its unguessable id.
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
# The clean-up walks every session folder; once per interval per server process is plenty.
CLEAN_INTERVAL_S = 600.0
# A session touched this recently counts as in use: the total quota never removes it.
IDLE_S = 15 * 60
MB = 2**20


def _env_number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return float(default)
    return value if value > 0 else float(default)


def session_quota_bytes() -> int:
    """Bytes one session may keep (``DEEPREPLAY_SESSION_QUOTA_MB``, default 200 MB)."""
    return int(_env_number("DEEPREPLAY_SESSION_QUOTA_MB", 200) * MB)


def total_quota_bytes() -> int:
    """Bytes all sessions together may keep (``DEEPREPLAY_TOTAL_QUOTA_MB``, default 2000 MB)."""
    return int(_env_number("DEEPREPLAY_TOTAL_QUOTA_MB", 2000) * MB)


def session_max_age_s() -> float:
    """Seconds a session may stay untouched (``DEEPREPLAY_SESSION_MAX_AGE_H``, default 7 days)."""
    return _env_number("DEEPREPLAY_SESSION_MAX_AGE_H", 168) * 3600


def estimate_file_bytes(spec: RunSpec) -> int:
    """About how many bytes the run file of ``spec`` takes once trained.

    Weights are stored as float32 for every epoch and the initial state
    ((epochs + 1) x parameters x 4 bytes), plus the data (float32 inputs and targets),
    the per-epoch logs and HDF5's own structure.
    """
    from replay_core.data import datasets

    ds = spec.dataset
    epochs = int(spec.training.epochs)
    params = int(spec.model.n_params(ds.input_dim, ds.n_classes))
    samples = int(datasets.n_samples(ds.name, ds.params))
    data = samples * (int(ds.input_dim) + 1) * 4
    logs = epochs * 8 * 4
    # HDF5's own structure: about 30 kB per file, and ~50 bytes of chunk index per
    # dataset (weights, biases, logs) and epoch (measured on files written here).
    datasets_per_epoch = 2 * (len(getattr(spec.model, "layers", ())) + 1) + 4
    structure = 32 * 1024 + (epochs + 1) * datasets_per_epoch * 50
    return (epochs + 1) * params * 4 + data + logs + structure


def in_mb(n: int) -> str:
    """``n`` bytes in MB as a message shows them: ``12``, ``3.4``."""
    value = n / MB
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder`` (0 when it does not exist)."""
    total = 0
    stack = [folder]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


def _sessions(root: Path) -> list[tuple[Path, float]]:
    """Every session folder under ``root`` with its last-touch time."""
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    found = []
    for entry in entries:
        if not SESSION_ID.fullmatch(entry.name):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                found.append((Path(entry.path), entry.stat(follow_symlinks=False).st_mtime))
        except OSError:
            continue
    return found


def total_bytes(root: str | os.PathLike) -> int:
    """Bytes every session under ``root`` takes together."""
    return sum(folder_bytes(folder) for folder, _ in _sessions(Path(root)))


def _busy_folders() -> set[str]:
    """The (real) folders in which a writer of this process has a file open."""
    return {os.path.dirname(p) for p in open_for_writing()}


def _busy(folder: Path, busy: set[str]) -> bool:
    # realpath costs a few system calls: only paid while something is being written.
    return bool(busy) and os.path.realpath(folder) in busy


def remove_expired(root: str | os.PathLike, keep: str | None = None,
                   wall: float | None = None) -> list[str]:
    """Remove the sessions untouched for longer than ``session_max_age_s()``; return their ids.

    ``keep`` (the current session) is never removed.
    """
    wall = time.time() if wall is None else wall
    max_age = session_max_age_s()
    busy = _busy_folders()
    removed = []
    for folder, touched in _sessions(Path(root)):
        if folder.name == keep or wall - touched <= max_age or _busy(folder, busy):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder.name)
    return removed


def trim_to_total_quota(root: str | os.PathLike, keep: str | None = None, need: int = 0,
                        wall: float | None = None) -> int:
    """Remove the oldest idle sessions until all of them take at most the total quota
    (less ``need`` bytes about to be written); return the bytes left.

    Sessions are removed by last-touch time, oldest first; ``keep`` (the current session)
    and sessions touched in the last ``IDLE_S`` seconds never are.
    """
    wall = time.time() if wall is None else wall
    cap = total_quota_bytes() - max(0, int(need))
    sizes = [(touched, folder, folder_bytes(folder)) for folder, touched in _sessions(Path(root))]
    total = sum(size for _, _, size in sizes)
    busy = _busy_folders()
    for touched, folder, size in sorted(sizes, key=lambda item: item[0]):
        if total <= cap:
            break
        if folder.name == keep or wall - touched < IDLE_S or _busy(folder, busy):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        total -= size
    return total


_CLEAN_LOCK = threading.Lock()
_last_clean: float | None = None


def clean_up(root: str | os.PathLike, keep: str | None = None, *,
             now: float | None = None, background: bool = False) -> bool:
    """Remove expired sessions and trim to the total quota, at most once per
    ``CLEAN_INTERVAL_S`` per process; return whether it was due (and so started).

    Args:
        root: the folder holding the session folders.
        keep: the current session's id (never removed).
        now: the monotonic clock's reading (``time.monotonic()`` when None); tests pass
            it to step time without sleeping.
        background: do the work in a daemon thread (a page rerun does not wait for a walk
            over every session folder: about 3 s at 20,000 of them).
    """
    global _last_clean
    now = time.monotonic() if now is None else now
    with _CLEAN_LOCK:
        if _last_clean is not None and now - _last_clean < CLEAN_INTERVAL_S:
            return False
        _last_clean = now

    def work() -> None:
        remove_expired(root, keep)
        trim_to_total_quota(root, keep)

    if background:
        threading.Thread(target=work, name="session-clean-up", daemon=True).start()
    else:
        work()
    return True
