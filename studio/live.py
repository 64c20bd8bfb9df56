"""Live progress while a run trains: a progress bar and a decision-boundary preview.

The Train page follows a training job and hands the newest epoch the job's writer holds
(``jobs.latest_record``) to ``LivePreview.show``; a training in this process hands every
finished epoch to ``LivePreview.on_epoch`` (the recorder's sink). Nothing is read back
from the run file while it is being written.
"""

from __future__ import annotations

import io
import time

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from replay_core.data.datasets import PreparedData
from replay_core.data.spec import RunSpec
from replay_core.render.frame import (
    CLASS_PALETTE,
    class_lut,
    class_regions_rgba,
    probability_colormap,
)
from replay_core.replay.forward import Network
from replay_core.replay.replayer import class_margins

PREVIEW_EVERY_S = 0.5
GRID = 60


class LivePreview:
    """Writes progress and a boundary preview into two Streamlit placeholders.

    Args:
        spec: the run being trained.
        data: its training arrays (the preview covers them with a margin).
        progress_slot, preview_slot: ``st.empty()`` placeholders.
    """

    def __init__(self, spec: RunSpec, data: PreparedData, progress_slot, preview_slot,
                 starting: str = "Starting…") -> None:
        self.spec = spec
        self.progress_slot = progress_slot
        self.preview_slot = preview_slot
        self.activations = spec.model.activation_configs(data.n_classes)
        self.n_classes = max(int(data.n_classes), 2)
        self.X, self.y = data.X, data.y
        self.grid = None
        if data.X.shape[1] == 2:
            lo, hi = data.X.min(axis=0), data.X.max(axis=0)
            pad = 0.1 * (hi - lo)
            self.xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], GRID)
            self.ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], GRID)
            gx, gy = np.meshgrid(self.xs, self.ys)
            self.grid = np.column_stack([gx.ravel(), gy.ravel()])
        self._last_preview = 0.0
        self._last_record = None
        self.progress_slot.progress(0.0, text=starting)

    def show(self, record) -> None:
        """Draw the progress and the preview of ``record`` (an ``EpochRecord``) now."""
        self._last_record = record
        self._progress(record)
        self._draw(record)

    def on_epoch(self, record) -> None:
        """The recorder's sink: called once per finished epoch."""
        self._last_record = record
        self._progress(record)
        now = time.perf_counter()
        if now - self._last_preview >= PREVIEW_EVERY_S:
            self._last_preview = now
            self._draw(record)

    def _progress(self, record) -> None:
        total = self.spec.training.epochs
        logs = record.logs
        text = f"Epoch {record.epoch} / {total} · loss {logs.get('loss', float('nan')):.4f}"
        acc = logs.get("acc", logs.get("accuracy"))
        if acc is not None:
            text += f" · accuracy {acc:.1%}"
        if "val_loss" in logs:
            text += f" · val loss {logs['val_loss']:.4f}"
        text += f" · lr {record.lr:.3g}"
        self.progress_slot.progress(min(record.epoch / total, 1.0), text=text)

    def finish(self) -> None:
        """Draw the last epoch's preview (the periodic one may have skipped it)."""
        if self._last_record is not None:
            self._draw(self._last_record)

    def _draw(self, record) -> None:
        if self.grid is None:
            return
        weights = [[np.asarray(w)[None] for w in layer] for layer in record.weights]
        network = Network.from_weights(weights, self.activations)
        out = network.forward(self.grid)[0]
        fig = Figure(figsize=(4.2, 3.4), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        extent = (self.xs[0], self.xs[-1], self.ys[0], self.ys[-1])
        if self.n_classes > 2:  # regions of the winning class, deeper where it is surer
            proba = out.reshape(GRID, GRID, -1)
            rgba = class_regions_rgba(class_lut(CLASS_PALETTE[:self.n_classes]),
                                      proba.argmax(-1), proba.max(-1))
            ax.imshow(rgba, origin="lower", extent=extent, aspect="auto")
            fields = np.moveaxis(class_margins(proba), -1, 0)
        else:
            probs = out[:, 0].reshape(GRID, GRID)
            ax.imshow(probs, origin="lower", extent=extent, cmap=probability_colormap(), vmin=0,
                      vmax=1, aspect="auto")
            fields = [probs]
        for field in fields:
            if field.min() < 0.5 < field.max():
                ax.contour(self.xs, self.ys, field, levels=[0.5], colors="black",
                           linewidths=1.2)
        for cls, colour in enumerate(CLASS_PALETTE[:self.n_classes]):
            pts = self.X[self.y == cls]
            ax.scatter(pts[:, 0], pts[:, 1], s=7, c=colour, edgecolors="#333333",
                       linewidths=0.3)
        ax.set_title(f"Decision boundary after epoch {record.epoch}", fontsize=10)
        ax.tick_params(labelsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        self.preview_slot.image(buf.getvalue(), width="content")
