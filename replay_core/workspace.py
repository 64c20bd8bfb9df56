"""A private folder and run file per user session, with the operations the app offers.

On a shared server every browser session gets a workspace under one data root, named by
an unguessable id. A workspace only ever touches its own folder: listing, reading,
renaming, deleting, importing uploads and exporting runs all go through its run file.

Example
-------
>>> ws = Workspace.create("data/sessions")          # doctest: +SKIP
>>> ws.run_file                                      # doctest: +SKIP
PosixPath('data/sessions/3f2a.../runs.h5')
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from replay_core import runfile
from replay_core.errors import RunFileError

_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
_RUN_NAME = re.compile(r"^[\w .:()+=,-]{1,80}$")

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# A seed sweep of 4 configurations x 50 seeds fits beside a few dozen other runs; a
# reference run takes about 60 kB.
MAX_RUNS = 250
SESSION_MAX_AGE_S = 24 * 3600


def check_run_name(name: str) -> str:
    """Strip and check a run name typed by a user; return it or raise ``RunFileError``."""
    name = (name or "").strip()
    if not _RUN_NAME.fullmatch(name):
        raise RunFileError(
            "a run name needs 1 to 80 letters, digits, spaces or . _ - : ( ) + = , characters; "
            f"got {name!r}"
        )
    return name


@dataclass(frozen=True)
class Workspace:
    """One session's folder and run file.

    Args:
        folder: the session's own folder (created if missing).
    """

    folder: Path

    @classmethod
    def create(cls, root: str | os.PathLike, session_id: str | None = None) -> Workspace:
        """The workspace of ``session_id`` under ``root`` (a new random id when None).

        Workspaces older than a day are removed on the way, so an abandoned session's
        files do not pile up on a shared server.
        """
        root = Path(root)
        if session_id is None:
            session_id = secrets.token_hex(16)
        if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
            raise ValueError("session id must be 32 hexadecimal characters")
        root.mkdir(parents=True, exist_ok=True)
        _remove_stale(root, keep=session_id)
        folder = root / session_id
        folder.mkdir(exist_ok=True)
        return cls(folder)

    @property
    def session_id(self) -> str:
        return self.folder.name

    @property
    def run_file(self) -> Path:
        return self.folder / "runs.h5"

    def touch(self) -> None:
        """Mark the workspace as in use (its age counts from the last touch)."""
        os.utime(self.folder)

    def runs(self) -> list[runfile.RunSummary]:
        """The session's runs, oldest first."""
        return runfile.list_runs(self.run_file)

    def run_names(self) -> list[str]:
        return [r.name for r in self.runs()]

    def unique_name(self, base: str) -> str:
        """``base``, or ``base (2)``, ``base (3)``... whichever is free."""
        base = check_run_name(base[:70])
        taken = set(self.run_names())
        if base not in taken:
            return base
        i = 2
        while f"{base} ({i})" in taken:
            i += 1
        return f"{base} ({i})"

    def check_capacity(self, new_runs: int = 1) -> None:
        """Refuse ``new_runs`` more runs when they would take the session past ``MAX_RUNS``."""
        held = len(self.run_names())
        if held + new_runs > MAX_RUNS:
            if new_runs == 1:
                raise RunFileError(
                    f"this session holds {MAX_RUNS} runs, the most it can keep; delete some on "
                    "the Runs page first")
            raise RunFileError(
                f"this session holds {held} runs and can keep {MAX_RUNS}: {new_runs} more do not "
                f"fit; delete {held + new_runs - MAX_RUNS} on the Runs page or sweep fewer seeds")

    def delete(self, name: str) -> None:
        runfile.delete_run(self.run_file, name)

    def rename(self, old: str, new: str) -> str:
        new = check_run_name(new)
        runfile.rename_run(self.run_file, old, new)
        return new

    def import_upload(self, data: bytes, filename: str = "upload.h5") -> list[str]:
        """Validate an uploaded run file and copy its runs in; return the new run names.

        Names that clash with the session's runs get a `` (2)`` suffix. Nothing is copied
        when the file is refused.
        """
        if len(data) == 0:
            raise RunFileError(f"{filename!r} is empty")
        if len(data) > MAX_UPLOAD_BYTES:
            raise RunFileError(
                f"{filename!r} is {len(data) / 2**20:.1f} MB; the largest upload is "
                f"{MAX_UPLOAD_BYTES // 2**20} MB"
            )
        fd, tmp = tempfile.mkstemp(suffix=".h5", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            names = runfile.validate_file(tmp, display_name=filename)
            if len(self.run_names()) + len(names) > MAX_RUNS:
                raise RunFileError(
                    f"{filename!r} holds {len(names)} runs; with them this session would hold "
                    f"more than {MAX_RUNS}. Delete some runs first"
                )
            rename: dict[str, str] = {}
            taken = set(self.run_names())
            for name in names:
                new = name
                i = 2
                while new in taken:
                    new = f"{name} ({i})"
                    i += 1
                taken.add(new)
                if new != name:
                    rename[name] = new
            runfile.copy_runs(tmp, self.run_file, names=names, rename=rename)
            return [rename.get(n, n) for n in names]
        finally:
            Path(tmp).unlink(missing_ok=True)

    def export_run(self, name: str) -> bytes:
        """One run as the bytes of a standalone ``.h5`` file."""
        fd, tmp = tempfile.mkstemp(suffix=".h5", dir=self.folder)
        os.close(fd)
        try:
            Path(tmp).unlink()
            runfile.copy_runs(self.run_file, tmp, names=[name])
            return Path(tmp).read_bytes()
        finally:
            Path(tmp).unlink(missing_ok=True)


def _remove_stale(root: Path, keep: str) -> None:
    now = time.time()
    for child in root.iterdir():
        if child.name == keep or not _SESSION_ID.fullmatch(child.name) or not child.is_dir():
            continue
        try:
            if now - child.stat().st_mtime > SESSION_MAX_AGE_S:
                shutil.rmtree(child, ignore_errors=True)
        except OSError:
            continue
