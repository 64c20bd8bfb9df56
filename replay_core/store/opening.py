"""Opening run files, and one sentence for every way a file fails to open or read.

Readers open read-only (a file another process writes is read without HDF5's lock: the
writer flushes whole epochs), writers open to append; a file that is missing, empty, not
HDF5, locked, or on a full disk is refused with one ``RunFileError`` saying so. The
registry of the files this process's ``RunWriter`` objects hold open lives here too, for
``writer_alive``: in one process h5py shares an open file, so HDF5's lock cannot tell.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from typing import Any

import h5py

from replay_core.errors import ReplayError, RunFileError

__all__ = [
    "READ_ERRORS", "base_name", "contained", "effective_status", "file_problem",
    "has_failed", "is_disk_full", "mark_failed", "open_for_writing", "open_read",
    "open_write", "reason", "register", "unregister", "writer_alive",
]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

# What h5py, HDF5 and numpy raise on odd file content; the public readers turn each into
# a RunFileError, so only ReplayError subclasses leave them.
READ_ERRORS = (MemoryError, RecursionError, RuntimeError, OSError, KeyError, ValueError,
               TypeError, OverflowError, IndexError)


# -- opening --------------------------------------------------------------------------


def base_name(path: str | os.PathLike) -> str:
    """How messages name a file: its base name."""
    return Path(path).name


def _has_signature(path: str | os.PathLike) -> bool:
    """HDF5's signature at offset 0 or at a userblock offset (512, 1024, 2048...)."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        offset = 0
        while offset + len(_HDF5_SIGNATURE) <= size:
            fh.seek(offset)
            if fh.read(len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def file_problem(path: str | os.PathLike, display: str) -> RunFileError | None:
    """What is wrong with the file itself (missing, empty, not HDF5, unreadable), if anything."""
    try:
        if not os.path.exists(path):
            return RunFileError(f"{display!r} does not exist")
        if os.path.getsize(path) == 0:
            return RunFileError(f"{display!r} is empty")
        if not _has_signature(path):
            return RunFileError(f"{display!r} is not an HDF5 file")
    except OSError as exc:
        return RunFileError(f"{display!r} cannot be read: {exc.strerror or exc}")
    return None


def _open_error(path: str | os.PathLike, display: str, exc: BaseException,
                doing: str) -> RunFileError:
    """The precise error for a file h5py could not open."""
    problem = file_problem(path, display)
    if problem is not None:
        return problem
    if _is_lock_error(exc):
        return RunFileError(f"{display!r} is in use by another process; try again when it "
                            "has finished")
    return RunFileError(f"{display!r} could not be {doing} as HDF5 ({reason(exc)})")


def reason(exc: BaseException) -> str:
    """The first line of an exception's message (at most 200 characters) for a sentence."""
    text = str(exc).strip() or type(exc).__name__
    return text.split("\n")[0][:200]


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "unable to lock file" in text or "errno = 11" in text


def open_read(path: str | os.PathLike, display: str | None = None) -> h5py.File:
    """Open read-only; a file another process holds for writing is read without locks.

    A writer flushes after every epoch, so what is on disk between flushes is a
    consistent run; in the same process h5py shares the writer's open file instead.
    """
    display = display or base_name(path)
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        if _is_lock_error(exc):
            try:
                return h5py.File(path, "r", locking=False)
            except OSError as again:
                raise _open_error(path, display, again, "opened") from again
        raise _open_error(path, display, exc, "opened") from exc


def open_write(path: str | os.PathLike) -> h5py.File:
    """Open to append (the file is created when missing), or raise one ``RunFileError``."""
    display = base_name(path)
    try:
        return h5py.File(path, "a", track_order=True)
    except (OSError, RuntimeError) as exc:
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise RunFileError(f"cannot create {display!r}: its folder does not exist") from exc
        if is_disk_full(exc):
            raise RunFileError(f"the disk is full: {display!r} could not be written") from exc
        raise _open_error(path, display, exc, "opened for writing") from exc


# -- the files this process writes ---------------------------------------------------

# Files a RunWriter of this process has open. HDF5's file lock tells another process's
# writer apart, but in one process h5py shares the open file, so the lock says nothing.
_WRITING_LOCK = threading.Lock()
_WRITING: dict[str, int] = {}
# Files whose writes failed: every writer still on one of them stops too.
_FAILED: set[str] = set()


def _writer_key(path: str | os.PathLike) -> str:
    return os.path.realpath(path)


def register(path: str | os.PathLike) -> None:
    """Count one more ``RunWriter`` of this process on ``path``."""
    key = _writer_key(path)
    with _WRITING_LOCK:
        _WRITING[key] = _WRITING.get(key, 0) + 1


def unregister(path: str | os.PathLike) -> None:
    """Count one ``RunWriter`` fewer on ``path``; the last one clears its failure."""
    key = _writer_key(path)
    with _WRITING_LOCK:
        left = _WRITING.get(key, 0) - 1
        if left > 0:
            _WRITING[key] = left
        else:
            _WRITING.pop(key, None)
            _FAILED.discard(key)


def mark_failed(path: str | os.PathLike) -> None:
    """Record that a write to ``path`` failed: every writer still on it stops too."""
    with _WRITING_LOCK:
        _FAILED.add(_writer_key(path))


def has_failed(path: str | os.PathLike) -> bool:
    """Whether a write to ``path`` failed while a writer of this process still holds it."""
    return _writer_key(path) in _FAILED


def open_for_writing() -> list[str]:
    """The files (real paths) a ``RunWriter`` of this process has open now."""
    with _WRITING_LOCK:
        return list(_WRITING)


def writer_alive(path: str | os.PathLike) -> bool:
    """Whether some writer has ``path`` open: a ``RunWriter`` of this process, or another
    process holding HDF5's write lock on it."""
    if _writer_key(path) in _WRITING:
        return True
    try:
        # The default locking, as every reader here opens: a writer elsewhere holds an
        # exclusive lock, so this open fails while it lives and succeeds once it is gone.
        h5py.File(path, "r").close()
    except FileNotFoundError:
        return False
    except OSError as exc:
        # "flag values don't match": this process has the file open with other lock
        # settings (a reader that found it locked by a writer elsewhere).
        return _is_lock_error(exc) or "don't match" in str(exc)
    return False


def effective_status(path: str | os.PathLike, status: str) -> str:
    """``status`` as a reader should show it: ``stopped`` for a ``running`` run whose
    writer is gone (a process killed mid-training), else ``status`` unchanged."""
    if status != "running" or writer_alive(path):
        return status
    return "stopped"


def is_disk_full(exc: BaseException) -> bool:
    """Whether a failed write ran out of disk space, file size or quota."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return True
    text = str(exc)
    return any(sign in text for sign in ("No space left", "File too large", "Disk quota",
                                         "errno = 28", "errno = 27", "errno = 122"))


# -- reading what is inside -----------------------------------------------------------


def contained(what: str, read: Any) -> Any:
    """``read()``, with any failure on the file's content as one ``RunFileError``."""
    try:
        return read()
    except ReplayError:
        raise
    except READ_ERRORS as exc:
        raise RunFileError(f"{what} could not be read ({reason(exc)})") from exc
