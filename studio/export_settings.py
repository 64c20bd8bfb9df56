"""What an export job may ask for, and the checks of each value.

The Export panel's widgets offer no more than these bounds, but ``jobs.submit_export`` is
a server-side API: every value is checked again here before a job exists, and refused
with one sentence (``RenderError``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from replay_core.errors import RenderError

EXPORT_FORMATS = ("mp4", "gif", "png")
EXPORT_MAX_SIZE = (1920, 1080)
EXPORT_MAX_FPS = 30
EXPORT_MAX_PANELS = 12
EXPORTS_FOLDER = "exports"
# Bytes per pixel of a frame, generously (measured: an MP4 of the reference run's 151
# frames at 1280x720 takes about 1 MB, a GIF frame some 50-100 kB, a PNG 100-200 kB).
EXPORT_BYTES_PER_PIXEL = {"mp4": 0.02, "gif": 0.15, "png": 0.5}


def whole_number(value: Any, low: int, high: int, what: str) -> int:
    """``value`` as an int within ``[low, high]``, or a ``RenderError`` naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise RenderError(f"{what} must be a whole number, got {value!r}")
    if not low <= int(value) <= high:
        raise RenderError(f"{what} must be within {low}..{high}, got {int(value)}")
    return int(value)


def export_panels(panels: Any, layers: bool) -> tuple[str, ...]:
    """The views (``layers``: the internals panels) to export, each known and once."""
    from replay_core.render.frame import PANELS
    from replay_core.render.internals import INTERNALS_PANELS

    allowed = INTERNALS_PANELS if layers else PANELS
    if isinstance(panels, str) or not isinstance(panels, (list, tuple)):
        raise RenderError("pick the views to export as a list")
    if not panels:
        raise RenderError("pick at least one view to export")
    if len(panels) > EXPORT_MAX_PANELS or len(set(map(str, panels))) != len(panels):
        raise RenderError("pick each view to export once")
    bad = [p for p in panels if not isinstance(p, str) or p not in allowed]
    if bad:
        raise RenderError(f"{str(bad[0])[:40]!r} is not a view that can be exported; "
                          f"choose from {', '.join(allowed)}")
    return tuple(panels)


def export_feature(feature: Any, n: int) -> tuple[Any, Any, Any]:
    """``(layer, projection, fit_epoch)`` of the page's feature space, bounded."""
    if not isinstance(feature, (list, tuple)) or len(feature) != 3:
        raise RenderError("the feature space settings must be (layer, projection, epoch)")
    layer, projection, fit_epoch = feature
    if layer is not None and not (isinstance(layer, str) and len(layer) <= 200):
        layer = whole_number(layer, 0, 1000, "the feature layer")
    if projection not in (None, "pca"):
        if not (isinstance(projection, (list, tuple)) and len(projection) == 3
                and projection[0] == "units"):
            raise RenderError(f"unknown projection {str(projection)[:40]!r}")
        projection = ("units", whole_number(projection[1], 0, 100_000, "a unit"),
                      whole_number(projection[2], 0, 100_000, "a unit"))
    if fit_epoch is not None:
        fit_epoch = whole_number(fit_epoch, 0, n, "the projection's epoch")
    return layer, projection, fit_epoch
