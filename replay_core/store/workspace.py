"""A private folder per user session, one HDF5 file per run, bounded in size and age.

On a shared server every browser session gets a workspace under one data root, named by
an unguessable id. A workspace only ever touches its own folder. Each run lives in a file
of its own (a seed sweep writes its runs into one file of its own), so deleting a run
frees its bytes, a fault while writing one run leaves every other run readable, and
renaming one run leaves the other files, and the views cached for them, alone.

The folder is created by the first write (a training, a sweep, an upload), never by a
page load. Its disk use is checked against the quotas of ``quotas`` (per session and over
all sessions), whose ``clean_up`` removes idle sessions; the quota names are re-exported
here.

Example
-------
>>> ws = Workspace.create("data/sessions")           # doctest: +SKIP
>>> ws.check_space(estimate_file_bytes(spec))        # doctest: +SKIP
>>> trainer.train(spec, ws.new_run_file(), ws.unique_name("sigmoid"))   # doctest: +SKIP
>>> Replay(ws.run_path("sigmoid"), "sigmoid")        # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from replay_core.errors import RunFileError, RunNotFoundError
from replay_core.store import runfile, upload
from replay_core.store.names import check_run_name, unique_name
from replay_core.store.quotas import (
    CLEAN_INTERVAL_S,
    SESSION_ID,
    clean_up,
    estimate_file_bytes,
    folder_bytes,
    in_mb,
    remove_expired,
    session_max_age_s,
    session_quota_bytes,
    total_bytes,
    total_quota_bytes,
    trim_to_total_quota,
)

__all__ = [
    "CLEAN_INTERVAL_S", "MAX_RUNS", "MAX_UPLOAD_BYTES", "Workspace", "check_run_name",
    "clean_up", "estimate_file_bytes", "remove_expired", "session_max_age_s",
    "session_quota_bytes", "total_bytes", "total_quota_bytes", "trim_to_total_quota",
]

# Run files the workspace wrote are ``run-<ns>-<hex>.h5``; a session folder from before
# one file per run holds ``runs.h5``. Any visible ``.h5`` file in the folder is listed.
_TEMP_PREFIX = ".tmp-"
_LEGACY_FILE = "runs.h5"

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# A seed sweep of 4 configurations x 50 seeds fits beside a few dozen other runs; a
# reference run takes about 60 kB.
MAX_RUNS = 250
# A file without runs is removed once it is this old: younger, its writer may be starting.
EMPTY_FILE_GRACE_S = 120.0


# -- the listing cache ------------------------------------------------------------------

_LISTING_LOCK = threading.Lock()
# path -> ((size, mtime_ns, inode), summaries or the error that file gave)
_LISTINGS: OrderedDict[str, tuple[tuple[int, int, int], Any]] = OrderedDict()
_MAX_LISTINGS = 4096


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _forget(path: Path) -> None:
    with _LISTING_LOCK:
        _LISTINGS.pop(str(path), None)


def _file_listing(path: Path, st: os.stat_result) -> list[runfile.RunSummary] | RunFileError:
    """The runs of one file, read again only when its size, mtime or inode changed."""
    key, stamp = str(path), _stamp(st)
    with _LISTING_LOCK:
        hit = _LISTINGS.get(key)
        if hit is not None and hit[0] == stamp:
            _LISTINGS.move_to_end(key)
            return hit[1]
    try:
        found: list[runfile.RunSummary] | RunFileError = runfile.list_runs(path)
    except RunFileError as exc:
        found = exc
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        found = RunFileError(f"{path.name!r} could not be read ({exc})")
    with _LISTING_LOCK:
        _LISTINGS[key] = (stamp, found)
        _LISTINGS.move_to_end(key)
        while len(_LISTINGS) > _MAX_LISTINGS:
            _LISTINGS.popitem(last=False)
    return found


def _interrupted_message(epochs_done: int) -> str:
    return f"interrupted: its writer stopped after epoch {epochs_done}"


@dataclass(frozen=True)
class Workspace:
    """One session's folder and its run files.

    Args:
        folder: the session's own folder; it need not exist (it is created by the first
            write).

    Example
    -------
    >>> ws = Workspace.create("data/sessions", "0" * 32)       # doctest: +SKIP
    >>> [r.name for r in ws.runs()]                             # doctest: +SKIP
    ['sigmoid', 'tanh']
    """

    folder: Path

    @classmethod
    def create(cls, root: str | os.PathLike, session_id: str | None = None) -> Workspace:
        """The workspace of ``session_id`` under ``root`` (a new random id when None).

        Nothing is created on disk: the folder appears with the session's first run.
        """
        if session_id is None:
            session_id = secrets.token_hex(16)
        if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
            raise ValueError("session id must be 32 hexadecimal characters")
        return cls(Path(root) / session_id)

    @property
    def session_id(self) -> str:
        return self.folder.name

    @property
    def root(self) -> Path:
        return self.folder.parent

    def touch(self) -> None:
        """Mark the workspace as in use (its age counts from the last touch).

        Only an existing folder is touched: a visit that writes nothing leaves no trace.
        """
        try:
            os.utime(self.folder)
        except OSError:
            pass

    # -- files ------------------------------------------------------------------------

    def _run_files(self) -> list[tuple[Path, os.stat_result]]:
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return []
        found = []
        for entry in entries:
            if (not entry.name.endswith(".h5") or entry.name.startswith(".")
                    or not entry.is_file(follow_symlinks=False)):
                continue
            try:
                found.append((Path(entry.path), entry.stat(follow_symlinks=False)))
            except OSError:
                continue
        # Oldest file first: the single file of earlier versions, then ours by their
        # creation time in the name.
        return sorted(found, key=lambda item: (item[0].name != _LEGACY_FILE, item[0].name))

    def new_run_file(self) -> Path:
        """A fresh path for a writer (a training, a sweep, an upload); creates the folder.

        The file itself does not exist yet: the writer creates it.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            path = self.folder / f"run-{time.time_ns()}-{secrets.token_hex(4)}.h5"
            if not path.exists():
                return path

    def _listing(self) -> tuple[list[tuple[Path, runfile.RunSummary]], list[str]]:
        """Every run with its file, oldest first, and one sentence per unreadable file."""
        runs: list[tuple[Path, runfile.RunSummary]] = []
        damaged: list[str] = []
        for path, st in self._run_files():
            found = _file_listing(path, st)
            if isinstance(found, RunFileError):
                damaged.append(str(found))
                continue
            if not found and time.time() - st.st_mtime > EMPTY_FILE_GRACE_S \
                    and not runfile.writer_alive(path):
                # What a sweep stopped before any run finished leaves behind.
                path.unlink(missing_ok=True)
                _forget(path)
                continue
            stale = []
            for summary in found:
                if summary.status == "running":
                    status = runfile.effective_status(path, summary.status)
                    if status != summary.status:
                        summary = dataclasses.replace(
                            summary, status=status,
                            message=_interrupted_message(summary.epochs_done))
                        stale.append(summary)
                runs.append((path, summary))
            if stale:
                self._mark_interrupted(path, stale)
        # Oldest first across files; DeepReplay runs (no creation time) first; ties (copies
        # of one run) in the order the files were written.
        runs.sort(key=lambda item: item[1].created or "")
        return runs, damaged

    @staticmethod
    def _mark_interrupted(path: Path, summaries: Iterable[runfile.RunSummary]) -> None:
        """Store ``stopped`` for runs whose writer is gone, so every reader agrees."""
        for summary in summaries:
            try:
                runfile.mark_interrupted(path, summary.name, summary.message)
            except RunFileError:
                return  # read-only or busy: the listing still says stopped
        _forget(path)

    def runs(self) -> list[runfile.RunSummary]:
        """The session's runs over all its files, oldest first.

        A run whose writer is gone shows ``stopped`` (never ``running`` forever). Files
        that cannot be read are left out (see :meth:`damaged_files`).
        """
        return [summary for _, summary in self._listing()[0]]

    def damaged_files(self) -> list[str]:
        """One sentence per run file of the session that cannot be read."""
        return self._listing()[1]

    def delete_damaged(self) -> int:
        """Remove the session's run files that cannot be read; return how many."""
        removed = 0
        for path, st in self._run_files():
            if isinstance(_file_listing(path, st), RunFileError) and \
                    not runfile.writer_alive(path):
                path.unlink(missing_ok=True)
                _forget(path)
                removed += 1
        return removed

    def run_names(self) -> list[str]:
        return [r.name for r in self.runs()]

    def run_path(self, name: str) -> Path:
        """The file that holds run ``name``; ``RunNotFoundError`` when no file does."""
        for path, summary in self._listing()[0]:
            if summary.name == name:
                return path
        raise RunNotFoundError(f"this session has no run {name!r}")

    def _summary(self, name: str) -> tuple[Path, runfile.RunSummary, list[str]]:
        """The run's file, its summary and the names of every run in that file."""
        runs = self._listing()[0]
        for path, summary in runs:
            if summary.name == name:
                return path, summary, [s.name for p, s in runs if p == path]
        raise RunNotFoundError(f"this session has no run {name!r}")

    def unique_name(self, base: str) -> str:
        """``base``, or ``base (2)``, ``base (3)``... whichever is free in the session."""
        return unique_name(check_run_name(base[:70]), self.run_names())

    # -- limits -----------------------------------------------------------------------

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

    def bytes_used(self) -> int:
        """Bytes the session's folder takes (run files, stored CSV data, exports)."""
        return folder_bytes(self.folder)

    def check_space(self, extra_bytes: int = 0) -> None:
        """Refuse work that would write ``extra_bytes`` more than the quotas allow.

        Over the session's quota: ``RunFileError`` with one sentence. Over the total
        quota: the oldest idle sessions are removed first; when that is not enough,
        ``RunFileError``.
        """
        extra = max(0, int(extra_bytes))
        used, quota = self.bytes_used(), session_quota_bytes()
        if used + extra > quota:
            need = (f" and this needs about {in_mb(extra)} MB more" if used <= quota and extra
                    else "")
            raise RunFileError(f"this session's runs take {in_mb(used)} MB of its "
                               f"{in_mb(quota)} MB{need}; delete some on the Runs page")
        cap = total_quota_bytes()
        total = total_bytes(self.root)
        if total + extra > cap:
            total = trim_to_total_quota(self.root, keep=self.session_id, need=extra)
            if total + extra > cap:
                raise RunFileError(
                    f"the server's storage for runs is full ({in_mb(total)} MB of {in_mb(cap)} MB "
                    "over all sessions); delete runs on the Runs page or try again later")

    # -- changes ----------------------------------------------------------------------

    def delete(self, name: str) -> None:
        """Delete run ``name`` and free its bytes.

        A file that held only that run is removed; otherwise the file is rewritten
        without it (HDF5 never shrinks a file in place) and swapped in atomically.
        """
        self.delete_many([name])

    def delete_many(self, names: Iterable[str]) -> None:
        """Delete several runs (e.g. a seed sweep's), rewriting each file once.

        Refused, before anything changes, for a run still being written and for a file
        a writer still has open (a seed sweep's other runs).
        """
        wanted = list(dict.fromkeys(names))
        runs = self._listing()[0]
        held = {s.name for _, s in runs}
        missing = [n for n in wanted if n not in held]
        if missing:
            raise RunNotFoundError(f"this session has no run {missing[0]!r}")
        by_file: dict[Path, list[str]] = {}
        for path, summary in runs:
            by_file.setdefault(path, []).append(summary.name)
            if summary.name in wanted and summary.status == "running":
                raise RunFileError(f"run {summary.name!r} is still being written; stop it "
                                   "before deleting it")
        changes = [(path, [n for n in in_file if n not in wanted], in_file)
                   for path, in_file in by_file.items()]
        changes = [(path, keep, in_file) for path, keep, in_file in changes
                   if len(keep) < len(in_file)]
        for path, _, in_file in changes:
            if runfile.writer_alive(path):
                name = next(n for n in wanted if n in in_file)
                raise RunFileError(f"run {name!r} shares its file with runs still being "
                                   "written; delete it once they have finished")
        for path, keep, _ in changes:
            if not keep:
                path.unlink(missing_ok=True)
                _forget(path)
                continue
            fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".h5", dir=self.folder)
            os.close(fd)
            try:
                Path(tmp).unlink()
                runfile.copy_runs(path, tmp, names=keep)
                os.replace(tmp, path)
            except OSError as exc:
                raise RunFileError(f"runs of {path.name!r} could not be deleted "
                                   f"({exc.strerror or exc})") from exc
            finally:
                Path(tmp).unlink(missing_ok=True)
                _forget(path)

    def rename(self, old: str, new: str) -> str:
        """Rename run ``old`` to ``new`` (stripped and checked); return the new name."""
        new = check_run_name(new)
        path, _, _ = self._summary(old)
        if new != old and new in self.run_names():
            raise RunFileError(f"this session already has a run {new!r}; pick another name")
        try:
            runfile.rename_run(path, old, new)
        finally:
            _forget(path)
        return new

    def import_upload(self, data: bytes, filename: str = "upload.h5") -> list[str]:
        """Validate an uploaded run file and write its runs afresh into a new file of the
        session; return the new run names.

        Names that clash with the session's runs get a `` (2)`` suffix. Nothing is kept
        when the file is refused.
        """
        if len(data) == 0:
            raise RunFileError(f"{filename!r} is empty")
        if len(data) > MAX_UPLOAD_BYTES:
            raise RunFileError(
                f"{filename!r} is {len(data) / 2**20:.1f} MB; the largest upload is "
                f"{MAX_UPLOAD_BYTES // 2**20} MB"
            )
        # The upload lands on disk once as it came and once written afresh.
        self.check_space(2 * len(data))
        taken = self.run_names()
        dst = self.new_run_file()
        fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".h5", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            names = upload.import_file(tmp, dst, filename, taken=taken)
            if len(taken) + len(names) > MAX_RUNS:
                raise RunFileError(
                    f"{filename!r} holds {len(names)} runs; with them this session would hold "
                    f"more than {MAX_RUNS}. Delete some runs first"
                )
            return names
        except BaseException:
            dst.unlink(missing_ok=True)
            raise
        finally:
            Path(tmp).unlink(missing_ok=True)
            _forget(dst)

    def export_run(self, name: str) -> bytes:
        """One run as the bytes of a standalone ``.h5`` file."""
        path = self.run_path(name)
        fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".h5", dir=self.folder)
        os.close(fd)
        try:
            Path(tmp).unlink()
            runfile.copy_runs(path, tmp, names=[name])
            return Path(tmp).read_bytes()
        finally:
            Path(tmp).unlink(missing_ok=True)
