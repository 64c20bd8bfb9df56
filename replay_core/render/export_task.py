"""An export as a self-contained task: the run's arrays and the export's settings, run in
a worker process (``train.pool.ExportUnit``) rather than in the page that asked for it.

The task carries a :class:`~replay_core.store.runfile.RunData` (the server already holds
the run, or the epochs recorded so far of one still training), never a file name to
open: the worker computes the views from the arrays (``Replay.from_arrays``), renders
them with :mod:`replay_core.render.export` into a hidden file and renames it when
complete, so a stop or a crash leaves no half-written file. Nothing here imports
TensorFlow.

Example
-------
>>> task = ExportTask(data, "out/run_0-150.gif", epochs=(0, 150), fps=10,
...                   size=(320, 180))                                       # doctest: +SKIP
>>> task.run(progress=lambda done, total: None)                             # doctest: +SKIP
PosixPath('out/run_0-150.gif')
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from replay_core.errors import RenderError
from replay_core.render import export
from replay_core.replay.replayer import Replay
from replay_core.store.runfile import RunData

__all__ = ["ExportTask", "export_name"]

_STEM = re.compile(r"[^\w.-]+")


def export_name(run_name: str, fmt: str, *, epochs: tuple[int, int] | None = None,
                epoch: int | None = None, layers: bool = False) -> str:
    """The export's file name: ``run_5-30.mp4``, ``run_epoch7.png``, ``run_layers_0-4.gif``.

    Example
    -------
    >>> export_name("Demo run", "mp4", epochs=(5, 30))
    'Demo_run_5-30.mp4'
    """
    stem = _STEM.sub("_", str(run_name)).strip("_") or "run"
    if layers:
        stem += "_layers"
    if fmt == "png":
        return f"{stem}_epoch{epoch}.png"
    first, last = epochs if epochs is not None else (0, 0)
    return f"{stem}_{first}-{last}.{fmt}"


@dataclass(frozen=True)
class ExportTask:
    """One export of one run, ready to render anywhere.

    Args:
        data: the run's arrays (its first ``n_epochs`` epochs are replayed).
        out: the file to write (its suffix picks the format: .mp4, .gif, .png).
        n_epochs: epochs of ``data`` replayed (None: all it holds), so the export has the
            axes of the views the page showed.
        epochs: ``(first, last)`` of an animation, both included.
        epoch: the epoch of a PNG.
        fps, size, theme, panels, narration, future_curves: as ``export_animation``.
        layers: export the layer internals (``panels`` are then internals panels).
        feature: ``(layer, projection, fit_epoch)`` of the feature space, as
            ``Replay.views`` takes them.
        only_export: once the file is complete, remove every other file of its folder.
    """

    data: RunData
    out: str
    n_epochs: int | None = None
    epochs: tuple[int, int] | None = None
    epoch: int | None = None
    fps: float = 10
    size: tuple[int, int] = (1280, 720)
    theme: str = "light"
    panels: tuple[str, ...] | None = None
    narration: bool = False
    future_curves: str = "faint"
    layers: bool = False
    feature: tuple[Any, Any, Any] = (None, None, None)
    only_export: bool = False

    @property
    def frames(self) -> int:
        """Frames the export renders."""
        if self.epochs is None:
            return 1
        return max(int(self.epochs[1]) - int(self.epochs[0]) + 1, 1)

    def run(self, progress: Callable[[int, int], object] | None = None) -> Path:
        """Render the export; ``progress(done, total)`` after each frame (an exception it
        raises ends the export with no file written). Returns the file written.

        Raises ``RenderError``/``ReplayError`` for what the run or the settings cannot
        give, ``OSError`` when the folder cannot be written.
        """
        out = Path(self.out)
        animated = out.suffix.lower() != ".png"
        if animated and self.epochs is None:
            raise RenderError("an animation needs its first and last epoch")
        replay = Replay.from_run_data(self.data, self.n_epochs)
        frames = (range(int(self.epochs[0]), int(self.epochs[1]) + 1) if animated
                  else None)
        if self.layers:
            from replay_core.replay.internals import Internals

            views = {self.data.name: Internals.from_replay(replay).views()}
            if animated:
                export.export_internals(views, out, epochs=frames, fps=self.fps,
                                        size=self.size, theme=self.theme, panels=self.panels,
                                        progress=progress)
            else:
                export.export_internals(views, out, epoch=self.epoch, size=self.size,
                                        theme=self.theme, panels=self.panels)
        else:
            layer, projection, fit_epoch = self.feature
            views = replay.views(layer=layer, projection=projection, fit_epoch=fit_epoch)
            if self.panels is not None and "landscape" in self.panels:
                from replay_core.replay.landscape import loss_landscape

                views = replace(views, landscape=loss_landscape(replay))
            common = dict(size=self.size, theme=self.theme, panels=self.panels,
                          narration=self.narration, future_curves=self.future_curves)
            if animated:
                export.export_animation(views, out, epochs=frames, fps=self.fps,
                                        progress=progress, **common)
            else:
                export.export_frame(views, out, epoch=self.epoch, **common)
        if self.only_export:
            # One export kept per folder: the one before goes once this one is complete.
            for old in out.parent.iterdir():
                if old != out and old.is_file():
                    old.unlink(missing_ok=True)
        return out
