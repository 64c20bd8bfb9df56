"""Run names: what may name a run in a file, what a user may type, and the one
"name (2)" rule every part of the package uses to avoid a clash."""

from __future__ import annotations

import re
from collections.abc import Collection

from replay_core.errors import RunFileError

MAX_NAME_LENGTH = 100
# What a user may type on a page: a readable subset, short enough for a " (999)" suffix.
_TYPED_NAME = re.compile(r"^[\w .:()+=,-]{1,80}$")


def check_name(name: str) -> str:
    """Return ``name`` if it can name a run, else raise ``RunFileError``.

    A run name is a non-empty string of at most ``MAX_NAME_LENGTH`` characters without
    ``/`` (HDF5's path separator); ``.`` and ``..`` are refused too.
    """
    if not isinstance(name, str):
        raise RunFileError(f"a run name must be a string, got {type(name).__name__}")
    if not name:
        raise RunFileError("a run name cannot be empty")
    if "/" in name:
        raise RunFileError(f"run name {name!r} contains '/', which HDF5 reads as a path")
    if "\x00" in name:
        raise RunFileError(f"run name {name!r} contains a NUL character")
    if name in (".", ".."):
        raise RunFileError(f"run name {name!r} is reserved; pick another")
    if len(name) > MAX_NAME_LENGTH:
        raise RunFileError(f"run name {name[:20]!r}... is {len(name)} characters long; "
                           f"the limit is {MAX_NAME_LENGTH}")
    return name


def check_run_name(name: str) -> str:
    """Strip and check a run name typed by a user; return it or raise ``RunFileError``."""
    name = (name or "").strip()
    if not _TYPED_NAME.fullmatch(name):
        raise RunFileError(
            "a run name needs 1 to 80 letters, digits, spaces or . _ - : ( ) + = , characters; "
            f"got {name!r}"
        )
    return name


def unique_name(base: str, taken: Collection[str]) -> str:
    """``base``, or ``base (2)``, ``base (3)``... whichever is not in ``taken``."""
    name, k = base, 2
    while name in taken:
        name, k = f"{base} ({k})", k + 1
    return name
