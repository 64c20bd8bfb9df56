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
from replay_core.errors import ReplayError
from replay_core.render.artists import draw_view
from replay_core.replay.replayer import Replay
from replay_core.replay.views import DecisionBoundaryView

PREVIEW_EVERY_S = 0.5
# A job's page shows its progress each second and a new preview at most this often.
REDRAW_EVERY_S = 2.0
GRID = 60
"""Grid points per side: coarser than Replay's 100, as the preview is small and redrawn
while the job trains."""
FIGSIZE = (4.2, 3.4)
"""Inches at 100 dpi: 420 px wide, what the Train page's Run column holds."""


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
        # The network description the recorder stores (bottleneck included), so the
        # preview replays the weights exactly as Replay will replay the run file.
        self.activations = spec.model.activation_configs(data.n_classes)
        self.layer_names = spec.model.layer_names()
        self.X, self.y = data.X, data.y
        self.class_names = tuple(data.class_names) or None
        # One figure per preview, cleared between epochs: its canvas and renderer are
        # built once.
        self.figure = Figure(figsize=FIGSIZE, dpi=100)
        FigureCanvasAgg(self.figure)
        self._last_preview = 0.0
        self._last_record = None
        # The last preview drawn, re-sent while no newer epoch is due: a job's page
        # redraws its progress every second, the preview only every PREVIEW_EVERY_S.
        self._png: bytes | None = None
        self._png_epoch: int | None = None
        self.progress_slot.progress(0.0, text=starting)

    def retarget(self, progress_slot, preview_slot) -> LivePreview:
        """Draw into new placeholders (a fragment's rerun makes new ones); keeps the
        figure and the last preview."""
        self.progress_slot, self.preview_slot = progress_slot, preview_slot
        return self

    def show(self, record) -> None:
        """Draw the progress and the preview of ``record`` (an ``EpochRecord``): a new
        preview when its epoch is newer and the last one is ``REDRAW_EVERY_S`` old,
        else the last preview again (a redraw costs about 0.3 s of the server's CPU)."""
        self._last_record = record
        self._progress(record)
        now = time.perf_counter()
        if (self._png is not None and (record.epoch == self._png_epoch
                                       or now - self._last_preview < REDRAW_EVERY_S)):
            self.preview_slot.image(self._png, width="content")
            return
        self._last_preview = now
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

    def view(self, record) -> DecisionBoundaryView | None:
        """Replay's decision-boundary view of ``record``'s weights (as epoch 0 of a run
        over the training data), or None when the run has no plane to draw or its
        weights cannot be replayed (e.g. they blew up)."""
        weights = [[np.asarray(w)[None] for w in layer] for layer in record.weights]
        names = self.layer_names if len(self.layer_names) == len(weights) else None
        try:
            replay = Replay.from_arrays(weights, self.activations, self.X, self.y,
                                        layer_names=names, name="preview",
                                        class_names=self.class_names)
            return replay.decision_boundary(grid_size=GRID)
        except (ReplayError, ValueError, FloatingPointError):
            return None

    def _draw(self, record) -> None:
        view = self.view(record)
        if view is None:
            return
        fig = self.figure
        fig.clear()
        ax = fig.add_subplot()
        draw_view(ax, view, 0, theme="light", colorbar=True)
        # Shorter than Replay's panel titles: the preview is about 420 px wide.
        title = {"latent": f"Latent space ({view.latent_layer})",
                 "input_pca": "P(class) on the inputs' PC 1-2"}.get(view.space,
                                                                     "Decision boundary")
        ax.set_title(f"{title} · epoch {record.epoch}")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        self._png, self._png_epoch = buf.getvalue(), record.epoch
        self.preview_slot.image(self._png, width="content")
