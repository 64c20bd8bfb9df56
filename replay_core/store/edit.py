"""Changing runs already in a file: delete, rename, copy, and mark an interrupted run.

Each opens the file for writing, changes what it was asked to, and closes it; the
messages name the file and the run (``RunNotFoundError``, ``RunExistsError``,
``RunFileError``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from replay_core.errors import RunExistsError, RunFileError, RunNotFoundError
from replay_core.store import h5guard
from replay_core.store.layout import get_run, run_names
from replay_core.store.names import check_name
from replay_core.store.opening import (
    base_name,
    contained,
    open_read,
    open_write,
    reason,
    writer_alive,
)

__all__ = ["copy_runs", "delete_run", "mark_interrupted", "rename_run"]


def mark_interrupted(filename: str | os.PathLike, run_name: str, message: str) -> bool:
    """Store ``stopped`` and ``message`` for run ``run_name`` when it is still marked
    ``running`` but no writer has its file; return whether it was changed.

    Raises ``RunFileError`` when the file cannot be opened for writing.
    """
    if not os.path.exists(filename) or writer_alive(filename):
        return False
    display = base_name(filename)
    try:
        with open_write(filename) as f:
            a = get_run(f, run_name, display).attrs
            if h5guard.decode_attr(a.get("status", "complete")) != "running":
                return False
            a["status"] = "stopped"
            a["message"] = str(message)
            return True
    except (OSError, RuntimeError) as exc:
        raise RunFileError(f"{display!r} could not be updated ({reason(exc)})") from exc


def delete_run(filename: str | os.PathLike, run_name: str) -> None:
    """Remove a run from the file.

    Raises ``RunNotFoundError`` when the file or the run does not exist.
    """
    display = base_name(filename)
    if not os.path.exists(filename):
        raise RunNotFoundError(f"no run {run_name!r}: {display!r} does not exist")
    with open_write(filename) as f:
        get_run(f, run_name, display)
        del f[run_name]


def rename_run(filename: str | os.PathLike, old: str, new: str) -> None:
    """Rename run ``old`` to ``new``.

    Raises ``RunNotFoundError`` (no ``old``), ``RunExistsError`` (``new`` is taken) or
    ``RunFileError`` (``new`` is not a valid name).
    """
    display = base_name(filename)
    check_name(new)
    if not os.path.exists(filename):
        raise RunNotFoundError(f"no run {old!r}: {display!r} does not exist")
    with open_write(filename) as f:
        get_run(f, old, display)
        if new == old:
            return
        if new in f:
            raise RunExistsError(f"run {new!r} already exists in {display!r}; pick another "
                                 "name")
        f.move(old, new)


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def copy_runs(src: str | os.PathLike, dst: str | os.PathLike,
              names: Sequence[str] | None = None,
              rename: Mapping[str, str] | None = None) -> list[str]:
    """Copy runs (groups with every attribute and dataset) from ``src`` into ``dst``.

    Parameters
    ----------
    src : the file to copy from.
    dst : the file to copy into (created when missing; its runs are kept).
    names : the runs to copy; every run of ``src`` when None.
    rename : ``{name in src: name in dst}`` for the runs that need another name.

    Returns
    -------
    list of str
        The names the runs have in ``dst``, in the order copied.

    Raises
    ------
    RunNotFoundError
        A name is not a run of ``src``.
    RunExistsError
        A target name is taken in ``dst`` (or given twice); nothing is copied.
    """
    rename = dict(rename or {})
    src_display = base_name(src)
    if not os.path.exists(src):
        raise RunNotFoundError(f"{src_display!r} does not exist")
    same = _same_file(src, dst)
    with (open_write(src) if same else open_read(src)) as fs:
        chosen = run_names(fs) if names is None else list(names)
        for name in chosen:
            run = get_run(fs, name, src_display)
            contained(f"{src_display!r}",
                       lambda run=run, name=name: h5guard.walk(
                           run, f"{src_display!r} run {name!r}", depth=1))
        targets = [check_name(rename.get(name, name)) for name in chosen]
        dst_display = base_name(dst)
        seen: set[str] = set()
        for target in targets:
            if target in seen:
                raise RunExistsError(f"run {target!r} would be copied into {dst_display!r} "
                                     "twice; rename one")
            seen.add(target)
        fd = fs if same else open_write(dst)
        try:
            taken = [t for t in targets if t in fd]
            if len(taken) == 1:
                raise RunExistsError(f"run {taken[0]!r} already exists in {dst_display!r}; "
                                     "rename it to copy it")
            if taken:
                raise RunExistsError(f"runs {', '.join(map(repr, taken))} already exist in "
                                     f"{dst_display!r}; rename them to copy them")
            for name, target in zip(chosen, targets):
                fs.copy(fs[name], fd, name=target)
            fd.flush()
        finally:
            if not same:
                fd.close()
    return targets
