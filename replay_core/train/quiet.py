"""TensorFlow without its start-up chatter: the oneDNN, CUDA and absl lines it writes to
the process's stderr (from C++, before any log level applies) while it loads and looks
for devices.

:func:`install` (called when ``replay_core.train`` is imported) wraps the first import of
``tensorflow`` in any process that trains: file descriptor 2 points at ``/dev/null``
while TensorFlow loads and lists its devices, then comes back. Set ``DEEPREPLAY_VERBOSE=1``
(``python -m replay_core --verbose``) to see the lines.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import os
import sys

VERBOSE_ENV = "DEEPREPLAY_VERBOSE"


def verbose() -> bool:
    """Whether TensorFlow's own lines are wanted."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes")


@contextlib.contextmanager
def stderr_closed():
    """Point file descriptor 2 at /dev/null for the block (C++ writes included)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr: nothing to hide
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        with stderr_closed():
            self.loader.exec_module(module)
            with contextlib.suppress(Exception):  # device discovery prints the CUDA lines
                module.config.list_physical_devices()


class _QuietFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or verbose():
            return None
        sys.meta_path.remove(self)  # only the first import, and no recursion
        from importlib.util import find_spec

        spec = find_spec(name)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> None:
    """Silence TensorFlow's start-up lines in this process (see the module's docstring)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietFinder())
