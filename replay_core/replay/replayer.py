"""Replay a recorded run: predictions and the five views, for every epoch, in numpy.

``Replay`` reads a run once (``runfile.read_run``; no file handle is kept), rebuilds the
network from the stored weights (``forward.Network``) and computes each view for all
epochs at once into the frozen dataclasses of ``views``. No TensorFlow is involved.

Example
-------
>>> from replay_core.replay.replayer import Replay                  # doctest: +SKIP
>>> replay = Replay("runs.h5", "sigmoid")                  # doctest: +SKIP
>>> replay.predict_proba().shape                           # doctest: +SKIP
(151, 2000)
>>> views = replay.views()                                 # doctest: +SKIP
>>> views.feature_space.features.shape                     # doctest: +SKIP
(151, 2000, 2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import contourpy
import numpy as np

from replay_core.data import activations
from replay_core.errors import (
    NoFeatureLayerError,
    RunFileError,
    ViewUnavailableError,
)
from replay_core.replay import events as run_events
from replay_core.replay import projection as projections
from replay_core.replay.forward import CHUNK_ELEMENTS, Network
from replay_core.replay.views import (
    ClassLossHistogramView,
    ClassProbabilityHistogramView,
    ConfusionView,
    DecisionBoundaryView,
    FeatureSpaceView,
    LossAndMetricView,
    LossHistogramView,
    ProbabilityHistogramView,
    ReplayViews,
    UnitMapsView,
)
from replay_core.store import runfile

EPSILON = 1e-7
"""Keras' clipping epsilon for binary cross-entropy on probabilities."""
THRESHOLD = 0.5
"""A sample is predicted positive when P(class 1) is at or above this."""

FEATURE_GRID_POINTS = 60
"""Points along each bent grid line of the feature space."""
FEATURE_BOUNDARY_GRID = 80
"""Resolution of the feature-space grid the non-linear 0.5 boundary is traced on."""

UNIT_MAP_ELEMENTS = 8_000_000
"""Values the default unit maps of a layer hold over all epochs (32 MB as float32)."""

_SIGMOID_LIKE = ("sigmoid", "hard_sigmoid", "sparse_sigmoid")


def _padded_range(values: np.ndarray, margin: float) -> tuple[float, float]:
    """``[min, max]`` of the finite values widened by ``margin`` of the span on each side."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return -1.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    if hi == lo:  # all values equal: a unit-sized window around them
        pad = max(abs(lo) * 0.1, 0.5)
    else:
        pad = (hi - lo) * margin
    return lo - pad, hi + pad


def _robust_range(values: np.ndarray, margin: float = 0.05) -> tuple[float, float]:
    """Limits covering the values but not their outliers, widened by ``margin``.

    The 0.5th..99.5th percentiles are extended to the true extremes when those lie
    within half that span beyond, so a cloud without outliers is shown whole.
    """
    v = values[np.isfinite(values)]
    if v.size == 0:
        return -1.0, 1.0
    if v.size > 4_000_000:  # percentiles of an even subsample are as good, and faster
        v = v[:: v.size // 2_000_000]
    p_lo, p_hi = (float(q) for q in np.percentile(v, [0.5, 99.5]))
    span = p_hi - p_lo
    lo = max(float(v.min()), p_lo - 0.5 * span)
    hi = min(float(v.max()), p_hi + 0.5 * span)
    pad = (hi - lo) * margin if hi > lo else max(abs(lo) * 0.1, 0.5)
    return lo - pad, hi + pad


OVERFLOW = 1e6
"""Values of larger magnitude mean the network blew up."""
BLOW_UP = 20.0
"""An epoch whose largest value is this many times the run's typical (median) epoch's
has blown up too. Such epochs are left out when fitting projections and axis ranges, so
the epochs before them stay readable."""


def _epoch_scales(values: np.ndarray) -> np.ndarray:
    """(E+1,) the largest magnitude of each epoch's values (first axis); inf when any is
    not finite."""
    v = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    finite = np.isfinite(v).all(axis=1)
    scale = np.abs(np.where(np.isfinite(v), v, 0.0)).max(axis=1, initial=0.0)
    return np.where(finite, scale, np.inf)


def tame_epochs(scales: np.ndarray) -> np.ndarray:
    """(E+1,) bool: the epochs whose scale (see ``_epoch_scales``) is finite, within
    ``OVERFLOW`` and within ``BLOW_UP`` times the median of those."""
    scales = np.asarray(scales, dtype=np.float64)
    ok = np.isfinite(scales) & (scales <= OVERFLOW)
    if ok.any():
        typical = float(np.median(scales[ok]))
        if typical > 0:
            ok &= scales <= BLOW_UP * typical
    return ok


def overflow_note(scales: np.ndarray) -> str:
    """One sentence naming the epochs left out of the ranges, or empty when none are."""
    scales = np.asarray(scales, dtype=np.float64)
    bad = np.flatnonzero(~tame_epochs(scales))
    if bad.size == 0:
        return ""
    shown = ", ".join(str(e) for e in bad[:4]) + (" and later" if bad.size > 4 else "")
    top = scales[bad].max()
    size = "values overflow" if not np.isfinite(top) else f"values up to {top:.1e}"
    return (f"The network blew up at epoch{'s' if bad.size > 1 else ''} {shown} ({size}); "
            "axes fit the other epochs")


def clip_line(w: np.ndarray, b: float, xlim: Sequence[float],
              ylim: Sequence[float]) -> np.ndarray:
    """The part of the line ``w[0]*x + w[1]*y + b = 0`` inside a box.

    Returns
    -------
    np.ndarray
        (2, 2) end points, or (0, 2) when the line misses the box (or ``w`` is zero).
    """
    (x0, x1), (y0, y1) = (float(v) for v in xlim), (float(v) for v in ylim)
    w0, w1, b = float(w[0]), float(w[1]), float(b)
    norm = np.hypot(w0, w1)
    if not (np.isfinite(norm) and np.isfinite(b)) or norm == 0.0:
        return np.empty((0, 2))
    tol = 1e-9 * max(x1 - x0, y1 - y0)
    points = []
    if abs(w1) > 1e-12 * norm:
        for x in (x0, x1):
            y = -(w0 * x + b) / w1
            if y0 - tol <= y <= y1 + tol:
                points.append((x, min(max(y, y0), y1)))
    if abs(w0) > 1e-12 * norm:
        for y in (y0, y1):
            x = -(w1 * y + b) / w0
            if x0 - tol <= x <= x1 + tol:
                points.append((min(max(x, x0), x1), y))
    if len(points) < 2:
        return np.empty((0, 2))
    pts = np.array(points, dtype=float)
    along = pts @ np.array([-w1, w0])
    segment = pts[[int(np.argmin(along)), int(np.argmax(along))]]
    if np.allclose(segment[0], segment[1]):
        return np.empty((0, 2))
    return segment


class ContourTracer:
    """Traces contours of many ``z[i, j]`` arrays given at ``(xs[j], ys[i])`` on one grid.

    Builds contourpy's serial generator directly (what ``contourpy.contour_generator``
    builds by default) so its input checks are not repeated for every epoch.
    """

    def __init__(self, xs: np.ndarray, ys: np.ndarray) -> None:
        self.xs = np.asarray(xs, dtype=np.float64)
        self.ys = np.asarray(ys, dtype=np.float64)
        self._gx, self._gy = np.meshgrid(self.xs, self.ys)

    def lines(self, z: np.ndarray, level: float = THRESHOLD) -> np.ndarray:
        """The ``level`` contour of ``z`` as (M, 2), NaN rows between pieces."""
        z = np.ascontiguousarray(z, dtype=np.float64)
        if np.isfinite(z).all():
            gen = contourpy.SerialContourGenerator(
                self._gx, self._gy, z, None, corner_mask=True,
                line_type=contourpy.LineType.ChunkCombinedNan,
                fill_type=contourpy.FillType.OuterOffset, quad_as_tri=False,
                z_interp=contourpy.ZInterp.Linear)
        else:
            gen = contourpy.contour_generator(self.xs, self.ys, np.ma.masked_invalid(z),
                                              line_type=contourpy.LineType.ChunkCombinedNan)
        lines = gen.lines(level)[0][0]
        return np.empty((0, 2)) if lines is None else np.asarray(lines, dtype=np.float64)


def contour_lines(xs: np.ndarray, ys: np.ndarray, z: np.ndarray,
                  level: float = THRESHOLD) -> np.ndarray:
    """The ``level`` contour of ``z[i, j]`` at ``(xs[j], ys[i])`` as (M, 2), NaN between pieces."""
    return ContourTracer(xs, ys).lines(z, level)


def _counts(values: np.ndarray, edges: np.ndarray, category: np.ndarray,
            n_categories: int) -> np.ndarray:
    """Histogram counts (E+1, C, B) of ``values[e]`` split by ``category[e]`` in 0..C-1.

    Values beyond the edges (and NaN) are counted in the first or last bin.
    """
    n_bins = len(edges) - 1
    idx = np.searchsorted(edges, values, side="right") - 1
    np.clip(idx, 0, n_bins - 1, out=idx)
    epoch = np.arange(values.shape[0])[:, None]
    flat = (epoch * n_categories + category) * n_bins + idx
    counts = np.bincount(flat.ravel(), minlength=values.shape[0] * n_categories * n_bins)
    return counts.reshape(values.shape[0], n_categories, n_bins)


def binary_crossentropy(targets: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per-sample binary cross-entropy, with probabilities clipped to ``[eps, 1-eps]`` as
    Keras does; ``targets`` (N,) broadcasts against ``proba`` (..., N)."""
    p = np.clip(proba, EPSILON, 1.0 - EPSILON)
    return -(targets * np.log(p) + (1.0 - targets) * np.log1p(-p))


def categorical_crossentropy(targets: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per-sample categorical cross-entropy of class-index ``targets`` (N,) against class
    probabilities ``proba`` (..., N, k), computed as Keras does on probabilities: clipped
    to ``[eps, 1-eps]``, renormalised, ``-log p[target]``."""
    p = np.clip(proba, EPSILON, 1.0 - EPSILON)
    index = np.broadcast_to(np.asarray(targets, dtype=np.intp)[:, None], p.shape[:-1] + (1,))
    p_true = np.take_along_axis(p, index, axis=-1)[..., 0]
    return np.log(p.sum(axis=-1)) - np.log(p_true)


def _joined(pieces: Sequence[np.ndarray]) -> np.ndarray:
    """Polylines (M_i, 2) joined into one (M, 2) array with a NaN row between pieces."""
    parts = [piece for piece in pieces if len(piece)]
    if not parts:
        return np.empty((0, 2))
    gap = np.full((1, 2), np.nan)
    out = [parts[0]]
    for piece in parts[1:]:
        out += [gap, piece]
    return np.concatenate(out)


def class_margins(proba: np.ndarray) -> np.ndarray:
    """``(p_c - max_{j != c} p_j + 1) / 2`` for every class ``c`` of ``proba`` (..., k).

    Class ``c`` wins where its margin is above 0.5, so the 0.5 contours of the margins are
    the lines between the class regions.
    """
    top2 = -np.partition(-proba, 1, axis=-1)[..., :2]
    best, second = top2[..., :1], top2[..., 1:]
    other = np.where(proba >= best, second, best)
    return (proba - other + 1.0) / 2.0


def _inputs(values: Any, what: str, context: str) -> np.ndarray:
    X = np.asarray(values, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise RunFileError(f"{context}: {what} must be (samples, features), got shape {X.shape}")
    return X


def _targets(values: Any, n: int, what: str, context: str) -> np.ndarray:
    t = np.asarray(values, dtype=np.float64)
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    elif t.ndim == 2 and t.shape[1] > 1:  # one-hot
        t = np.argmax(t, axis=1).astype(np.float64)
    if t.shape != (n,):
        raise RunFileError(f"{context}: {what} has shape {np.shape(values)} but there are "
                           f"{n} samples")
    return t


def _check_classes(t: np.ndarray, units: int, what: str, context: str) -> None:
    """Targets must be class indices of the output (0/1 for one unit), so every view can
    index, count and colour by them."""
    classes = 2 if units == 1 else units
    bad = ~np.isfinite(t) | (t < 0) | (t >= classes) | (t != np.floor(t))
    if bad.any():
        raise RunFileError(f"{context}: {what} holds {int(bad.sum())} values that are not class "
                           f"indices 0 to {classes - 1} (e.g. {t[np.argmax(bad)]:g})")


def _check_finite(X: np.ndarray, what: str, context: str) -> None:
    if not np.isfinite(X).all():
        raise RunFileError(f"{context}: {what} holds {int(np.sum(~np.isfinite(X)))} NaN or "
                           "infinite values")


class Replay:
    """A recorded run, ready to replay: predictions and views for every epoch.

    Args:
        filename: the HDF5 run file.
        run_name: the run (top-level group) in it.

    The file is read once and closed; ``from_arrays`` builds the same object from
    arrays. Attributes: ``name``, ``n_epochs`` (epochs stored after the initial state),
    ``layer_names``, ``inputs`` (N, d), ``targets`` (N,) 0/1, ``val_inputs`` /
    ``val_targets`` (or None), ``spec`` (dict or None), ``status``, ``message``,
    ``logs``, ``network`` (the ``forward.Network``).

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> weights = [[rng.normal(size=(11, 2, 2)), np.zeros((11, 2))],
    ...            [rng.normal(size=(11, 2, 1)), np.zeros((11, 1))]]
    >>> X, y = rng.normal(size=(50, 2)), rng.integers(0, 2, 50)
    >>> replay = Replay.from_arrays(weights, ["sigmoid", "sigmoid"], X, y,
    ...                             layer_names=["hidden", "output"])
    >>> replay.predict_proba().shape
    (11, 50)
    >>> replay.feature_space().features.shape
    (11, 50, 2)
    """

    def __init__(self, filename: str | Path, run_name: str) -> None:
        data = runfile.read_run(filename, run_name)
        self._setup(
            name=data.name, weights=data.weights, activation_config=data.activation_config,
            layer_names=data.layer_names, inputs=data.inputs, targets=data.targets,
            val_inputs=data.val_inputs, val_targets=data.val_targets, filename=filename,
            spec=data.spec, status=data.status, message=data.message, logs=data.logs,
            attrs=data.attrs, epochs_done=data.epochs_done)

    @classmethod
    def from_arrays(
        cls,
        weights: Sequence[Sequence[np.ndarray]],
        activation_config: Sequence[Mapping[str, Any] | str | None],
        inputs: np.ndarray,
        targets: np.ndarray,
        layer_names: Sequence[str] | None = None,
        val_inputs: np.ndarray | None = None,
        val_targets: np.ndarray | None = None,
        name: str = "run",
    ) -> Replay:
        """A replay of weights held in memory, laid out as in a run file.

        Parameters
        ----------
        weights : per model layer, ``[kernel (E+1, d_in, d_out), bias (E+1, d_out)]`` or
            ``[]`` for a weightless layer.
        activation_config : per model layer, a name or ``{"name": ..., **params}``.
        inputs : (N, d); targets : (N,) or (N, 1) 0/1.
        layer_names : per model layer (``layer0``, ``layer1``... when None).
        val_inputs, val_targets : held-out data, or None.
        name : the run name used in views and messages.
        """
        replay = cls.__new__(cls)
        replay._setup(name=name, weights=weights, activation_config=activation_config,
                      layer_names=layer_names, inputs=inputs, targets=targets,
                      val_inputs=val_inputs, val_targets=val_targets)
        return replay

    def _setup(self, *, name: str, weights: Sequence[Sequence[np.ndarray]],
               activation_config: Sequence[Any], layer_names: Sequence[str] | None,
               inputs: Any, targets: Any, val_inputs: Any = None, val_targets: Any = None,
               filename: str | Path | None = None, spec: dict | None = None,
               status: str = "complete", message: str = "", logs: Mapping | None = None,
               attrs: Mapping | None = None, epochs_done: int | None = None) -> None:
        self.name = str(name)
        self.filename = None if filename is None else str(filename)
        self._context = f"run {self.name!r}" + (
            "" if filename is None else f" in {Path(filename).name}")
        if epochs_done is not None:
            # A file preallocated to the planned epochs holds unwritten rows past this.
            weights = [[np.asarray(a)[: int(epochs_done) + 1] for a in layer]
                       for layer in weights]
        self.network = Network.from_weights(weights, activation_config, layer_names,
                                            context=self._context)
        self.layer_names: list[str] = self.network.names
        self.activation_config: list[dict] = [
            dict(layer.activation_config) for layer in self.network.layers]
        self.n_epochs: int = self.network.n_epochs
        self.inputs = _inputs(inputs, "inputs", self._context)
        if self.inputs.shape[1] != self.network.input_dim:
            raise RunFileError(
                f"{self._context}: the inputs have {self.inputs.shape[1]} features but the "
                f"network takes {self.network.input_dim}")
        self.targets = _targets(targets, len(self.inputs), "targets", self._context)
        units = self.network.layers[-1].units
        _check_finite(self.inputs, "inputs", self._context)
        _check_classes(self.targets, units, "targets", self._context)
        self.val_inputs = self.val_targets = None
        if val_inputs is not None and val_targets is not None:
            self.val_inputs = _inputs(val_inputs, "val_inputs", self._context)
            self.val_targets = _targets(val_targets, len(self.val_inputs), "val_targets",
                                        self._context)
            if self.val_inputs.shape[1] != self.network.input_dim:
                raise RunFileError(
                    f"{self._context}: the val_inputs have {self.val_inputs.shape[1]} features "
                    f"but the network takes {self.network.input_dim}")
            _check_finite(self.val_inputs, "val_inputs", self._context)
            _check_classes(self.val_targets, units, "val_targets", self._context)
        self.spec = spec
        self.status = status
        self.message = message
        self.logs = dict(logs or {})
        self.attrs = dict(attrs or {})
        self.epochs_done = self.n_epochs if epochs_done is None else int(epochs_done)

    def __repr__(self) -> str:
        return (f"Replay({self.name!r}, epochs={self.n_epochs}, samples={len(self.inputs)}, "
                f"layers={self.layer_names})")

    # -- network output ---------------------------------------------------------------

    @cached_property
    def _output_kind(self) -> str | None:
        """'sigmoid' (one unit in [0, 1]), 'softmax' (k units), or None."""
        layers = self.network.layers
        act = next((layer.activation_name for layer in reversed(layers)
                    if not layer.is_identity), "linear")
        units = layers[-1].units
        if units == 1 and act in _SIGMOID_LIKE:
            return "sigmoid"
        if units >= 2 and act == "softmax":
            return "softmax"
        return None

    def _check_output(self) -> str:
        kind = self._output_kind
        if kind is None:
            last = self.network.layers[-1]
            act = next((layer.activation_name for layer in reversed(self.network.layers)
                        if not layer.is_identity), "linear")
            raise ViewUnavailableError(
                f"{self._context} ends in layer {last.name!r} with {last.units} unit(s) and "
                f"activation {act!r}; replay needs a sigmoid output unit (or a softmax "
                "layer) to give probabilities")
        return kind

    def _binary(self, output: np.ndarray) -> np.ndarray:
        """P(class 1) (E+1, M) from the network output (E+1, M, k)."""
        kind = self._check_output()
        if kind == "sigmoid":
            return output[..., 0]
        if output.shape[-1] == 2:
            return output[..., 1]
        raise ViewUnavailableError(
            f"{self._context} has {output.shape[-1]} output classes; the views show binary "
            "classifiers only")

    def predict_proba(self, X: np.ndarray | None = None) -> np.ndarray:
        """Predicted probabilities at every epoch.

        Parameters
        ----------
        X : (N, d) points; the training inputs when None.

        Returns
        -------
        np.ndarray
            (E+1, N) P(class 1) for a sigmoid output unit, (E+1, N, k) for a k-unit
            softmax output.

        Raises
        ------
        ViewUnavailableError
            The output layer does not give probabilities.
        """
        kind = self._check_output()
        if X is None:
            out = self._train_output
        else:
            out = self.network.forward(X)  # which refuses non-numeric or mis-shaped X
        return out[..., 0] if kind == "sigmoid" else out

    @cached_property
    def _train_output(self) -> np.ndarray:
        return self.network.forward(self.inputs)

    @cached_property
    def _train_p1(self) -> np.ndarray:
        return self._binary(self._train_output)

    @cached_property
    def n_classes(self) -> int:
        """Number of classes: 2 for a sigmoid unit or a 2-unit softmax, else the softmax's
        units."""
        kind = self._check_output()
        return 2 if kind == "sigmoid" else int(self._train_output.shape[-1])

    def _predicted(self, output: np.ndarray) -> np.ndarray:
        """Predicted class (E+1, M): P(class 1) at or above 0.5 for two classes, else the
        most probable class."""
        if self.n_classes == 2:
            return (self._binary(output) >= THRESHOLD).astype(np.intp)
        return np.argmax(output, axis=-1)

    @cached_property
    def _train_predicted(self) -> np.ndarray:
        return self._predicted(self._train_output)

    def _boundary_lines(self, output: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple:
        """Per epoch, the decision boundary traced on a (len(ys), len(xs)) grid whose
        network output is ``output`` (E+1, G*G, units): the 0.5 contour of P(class 1) for
        two classes, the lines between the class regions for more."""
        shape = (-1, len(ys), len(xs))
        tracer = ContourTracer(xs, ys)
        if self.n_classes == 2:
            p = self._binary(output).reshape(shape)
            return tuple(tracer.lines(p[e]) for e in range(len(p)))
        margins = class_margins(output).reshape(*shape, output.shape[-1])
        return tuple(_joined([tracer.lines(margins[e, ..., c])
                              for c in range(margins.shape[-1])])
                     for e in range(len(margins)))

    @cached_property
    def _val_p1(self) -> np.ndarray | None:
        if self.val_inputs is None:
            return None
        return self._binary(self.network.forward(self.val_inputs))

    @cached_property
    def _train_sample_loss(self) -> np.ndarray:
        if self.n_classes > 2:
            return categorical_crossentropy(self.targets, self._train_output)
        return binary_crossentropy(self.targets, self._train_p1)

    def _layer_index(self, layer: str | int) -> int:
        try:
            return self.network.index(layer)
        except (KeyError, IndexError) as exc:
            raise ViewUnavailableError(
                f"{self._context} has no layer {layer!r}; layers: {self._describe_layers()}"
            ) from exc

    def layer_outputs(self, layer: str | int, X: np.ndarray | None = None) -> np.ndarray:
        """Output (E+1, N, units) of one layer (name or index) for ``X`` (training inputs
        when None)."""
        i = self._layer_index(layer)
        return self.network.forward(self.inputs if X is None else X, stop=i + 1)

    # -- feature space ----------------------------------------------------------------

    def _describe_layers(self) -> str:
        return ", ".join(f"{layer.name!r} {layer.units} unit{'s' if layer.units != 1 else ''}"
                         for layer in self.network.layers)

    def two_unit_layers(self) -> list[str]:
        """Names of the hidden layers (not the output layer) with exactly 2 units."""
        return [layer.name for layer in self.network.layers[:-1] if layer.units == 2]

    def feature_layers(self) -> list[str]:
        """Names of the hidden layers (not the output layer) with at least 2 units: the
        layers whose feature space can be shown (wider ones through a projection)."""
        return [layer.name for layer in self.network.layers[:-1] if layer.units >= 2]

    def default_feature_layer(self) -> str | None:
        """The layer the feature space shows when none is named.

        A 2-unit layer named ``bottleneck`` (the learned latent space), else the first
        2-unit hidden layer, else the last hidden layer of at least 2 units (drawn through
        a PCA); None when there is no such layer.
        """
        layers = self.network.layers[:-1]
        for layer in layers:
            if layer.name == "bottleneck" and layer.units == 2:
                return layer.name
        two = self.two_unit_layers()
        if two:
            return two[0]
        wide = self.feature_layers()
        return wide[-1] if wide else None

    def _feature_layer(self, layer: str | int | None) -> int:
        if layer is None:
            name = self.default_feature_layer()
            if name is None:
                raise NoFeatureLayerError(
                    f"{self._context} has no hidden layer with 2 or more units (layers: "
                    f"{self._describe_layers()}); add one to see its feature space")
            return self.network.index(name)
        try:
            i = self.network.index(layer)
        except (KeyError, IndexError) as exc:
            raise NoFeatureLayerError(
                f"{self._context} has no layer {layer!r} (layers: {self._describe_layers()})"
            ) from exc
        if self.network.layers[i].units < 2:
            shown = ", ".join(map(repr, self.feature_layers())) or "none"
            raise NoFeatureLayerError(
                f"layer {self.network.layers[i].name!r} of {self._context} has "
                f"{self.network.layers[i].units} unit; the feature space needs a layer of at "
                f"least 2 units (such layers: {shown})")
        return i

    def _epoch(self, epoch: int | None, what: str = "fit_epoch") -> int:
        """An epoch index 0..E (None = the last, negative counts from the end)."""
        if epoch is None:
            return self.n_epochs
        e = int(epoch)
        if e < 0:
            e += self.n_epochs + 1
        if not 0 <= e <= self.n_epochs:
            raise ViewUnavailableError(
                f"{what} must be an epoch of {self._context}, 0 to {self.n_epochs}; got {epoch}")
        return e

    def _epoch_network(self, epoch: int) -> Network:
        """The network with only the weights of one epoch (one state)."""
        one = slice(epoch, epoch + 1)
        layers = [replace(layer,
                          kernel=None if layer.kernel is None else layer.kernel[one],
                          bias=None if layer.bias is None else layer.bias[one])
                  for layer in self.network.layers]
        return Network(layers, input_dim=self.network.input_dim)

    def fit_projection(self, layer: str | int | None = None, projection=None,
                       fit_epoch: int | None = None) -> projections.Projection:
        """The 2-D projection of a layer's feature space, fitted on the training inputs'
        activations at ``fit_epoch``; when None, the last epoch whose activations are
        finite and within ``OVERFLOW`` (a run that blew up is fitted before it did).

        ``projection`` is ``"pca"``, ``("units", i, j)`` (0-based unit indices) or None
        (units 0 and 1 of a 2-unit layer, PCA of a wider one).
        """
        i = self._feature_layer(layer)
        if fit_epoch is None:
            tame = np.flatnonzero(tame_epochs(self._layer_scales(i)))
            e = int(tame[-1]) if tame.size else self.n_epochs
        else:
            e = self._epoch(fit_epoch)
        acts = self._epoch_network(e).forward(self.inputs, stop=i + 1)[0]
        where = f"layer {self.network.layers[i].name!r} of {self._context}"
        return projections.fit(acts, projection, e, where=where)

    def _layer_scales(self, i: int) -> np.ndarray:
        """(E+1,) the largest magnitude of layer ``i``'s output over the training inputs
        per epoch (inf when any is not finite), in row chunks like ``_projected``."""
        n_states = self.network.n_states
        units = max(self.network.layers[i].units or 1, 1)
        rows = max(1, CHUNK_ELEMENTS // (n_states * units))
        scales = np.zeros(n_states)
        for r0 in range(0, len(self.inputs), rows):
            out = self.network.forward(self.inputs[r0:r0 + rows], stop=i + 1)
            scales = np.maximum(scales, _epoch_scales(out))
        return scales

    def _projected(self, points: np.ndarray, stop: int,
                   proj: projections.Projection) -> np.ndarray:
        """``proj`` of layer ``stop - 1``'s output (E+1, M, 2), in row chunks so a wide
        layer's activations for every epoch are never held at once."""
        n_states = self.network.n_states
        rows = max(1, CHUNK_ELEMENTS // (n_states * max(proj.n_units, 1)))
        if proj.is_identity or rows >= len(points):
            return proj.apply(self.network.forward(points, stop=stop))
        out = np.empty((n_states, len(points), 2))
        for r0 in range(0, len(points), rows):
            out[:, r0:r0 + rows] = proj.apply(self.network.forward(points[r0:r0 + rows],
                                                                   stop=stop))
        return out

    def _input_grid(self, n_lines: int, n_points: int) -> np.ndarray | None:
        """(L, P, 2) horizontal then vertical lines over the inputs' range (2-D inputs only).

        The range is the data's, without outliers (see ``_robust_range``).
        """
        if self.inputs.shape[1] != 2 or n_lines <= 0:
            return None
        # The bulk of the data, so one stray sample does not stretch the whole grid.
        (x0, x1), (y0, y1) = (_robust_range(self.inputs[:, k], 0.0) for k in (0, 1))
        s = np.linspace(0.0, 1.0, n_points)
        horizontal = [np.c_[x0 + (x1 - x0) * s, np.full(n_points, v)]
                      for v in np.linspace(y0, y1, n_lines)]
        vertical = [np.c_[np.full(n_points, v), y0 + (y1 - y0) * s]
                    for v in np.linspace(x0, x1, n_lines)]
        return np.stack(horizontal + vertical)

    def _layer_range(self, i: int) -> tuple[float, float] | None:
        """The bounded output range of layer ``i`` (looking through identity layers)."""
        for layer in reversed(self.network.layers[: i + 1]):
            if not layer.is_identity:
                rng = activations.output_range(layer.activation_name)
                # A wide bound such as relu6's would leave most of the panel empty.
                return rng if rng is not None and rng[1] - rng[0] <= 2.0 else None
        return None

    def _straight_boundary(self, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(w (E+1, 2), b (E+1,))`` when layer ``i`` feeds an affine map whose sign decides
        the class (a Dense sigmoid unit, or a 2-unit softmax), else None."""
        rest = [layer for layer in self.network.layers[i + 1:] if not layer.is_identity]
        if not rest or not rest[0].has_weights or any(lay.has_weights for lay in rest[1:]):
            return None
        dense = rest[0]
        acts = [lay.activation_name for lay in rest if lay.activation_name != "linear"]
        kernel = dense.kernel
        bias = dense.bias if dense.bias is not None else np.zeros(kernel.shape[::2])
        if kernel.shape[2] == 1 and len(acts) == 1 and acts[0] in _SIGMOID_LIKE:
            return kernel[:, :, 0], bias[:, 0]
        if kernel.shape[2] == 2 and acts == ["softmax"]:
            return kernel[:, :, 1] - kernel[:, :, 0], bias[:, 1] - bias[:, 0]
        return None

    def _feature_boundary(self, i: int, xlim: tuple[float, float],
                          ylim: tuple[float, float],
                          inverse: tuple[np.ndarray, np.ndarray] | None = None) -> tuple:
        """The 0.5 boundary in the plane of layer ``i``; ``inverse = (B, m)`` maps plane
        points back to the layer (``h = z @ B + m``) when the plane is a projection."""
        straight = self._straight_boundary(i)
        if straight is not None:
            w, b = straight
            if inverse is not None:  # w.h + b = (w B^T).z + (w.m + b)
                B, m = inverse
                w, b = w @ B.T, b + w @ m
            return tuple(clip_line(w[e], b[e], xlim, ylim) for e in range(len(b)))
        xs = np.linspace(*xlim, FEATURE_BOUNDARY_GRID)
        ys = np.linspace(*ylim, FEATURE_BOUNDARY_GRID)
        gx, gy = np.meshgrid(xs, ys)
        plane = np.c_[gx.ravel(), gy.ravel()]
        if inverse is not None:
            plane = plane @ inverse[0] + inverse[1]
        return self._boundary_lines(self.network.forward(plane, start=i + 1), xs, ys)

    def feature_space(self, layer: str | int | None = None, grid_lines: int = 11,
                      grid_points: int = FEATURE_GRID_POINTS, projection=None,
                      fit_epoch: int | None = None) -> FeatureSpaceView:
        """The samples and a bent input grid in the space of a hidden layer, every epoch.

        A 2-unit layer is shown as it is. A wider layer is shown through a projection
        fitted once (at ``fit_epoch``) and applied unchanged to every epoch, the samples
        and the bent grid alike; its 0.5 boundary is then left out (``boundary_note``
        says why), since a 2-D projection of more than 2 units has no exact boundary.

        Parameters
        ----------
        layer : name or index of a layer of at least 2 units; None for
            ``default_feature_layer()``.
        grid_lines : lines per direction of the input-space grid (2-D inputs only; with
            other inputs ``grid_lines`` of the view is empty).
        grid_points : points along each grid line.
        projection : ``"pca"``, ``("units", i, j)`` with 0-based unit indices, or None
            (units 0, 1 of a 2-unit layer; PCA of a wider one).
        fit_epoch : the epoch whose activations fit the projection and give its variance
            figure; the last epoch when None.

        Raises
        ------
        NoFeatureLayerError
            No layer of 2 or more units, no layer of that name, a 1-unit layer, or a bad
            projection.
        """
        i = self._feature_layer(layer)
        proj = self.fit_projection(i, projection, fit_epoch)
        n_states = self.network.n_states
        grid = self._input_grid(grid_lines, grid_points)
        points = self.inputs if grid is None else np.concatenate([self.inputs,
                                                                  grid.reshape(-1, 2)])
        mapped = self._projected(points, i + 1, proj)
        n = len(self.inputs)
        features = mapped[:, :n]
        if grid is None:
            lines = np.empty((n_states, 0, grid_points, 2))
        else:
            lines = mapped[:, n:].reshape(n_states, *grid.shape)

        bounds = self._layer_range(i) if proj.kind == "units" else None
        scales = _epoch_scales(features)
        tame = tame_epochs(scales)
        # Epochs that blew up would stretch the axes until every other epoch is one dot.
        kept = tame if tame.any() else np.ones_like(tame)
        if bounds is not None:
            pad = 0.05 * (bounds[1] - bounds[0])
            xlim = ylim = (bounds[0] - pad, bounds[1] + pad)
        else:
            xlim, ylim = (_robust_range(np.concatenate([features[kept][..., k].ravel(),
                                                        lines[kept][..., k].ravel()]))
                          for k in (0, 1))
        note = ""
        if proj.is_identity:
            boundary = self._feature_boundary(i, xlim, ylim)
        elif (inverse := proj.inverse()) is not None:
            boundary = self._feature_boundary(i, xlim, ylim, inverse)
        else:
            boundary = tuple(np.empty((0, 2)) for _ in range(n_states))
            note = (f"No 0.5 boundary: a 2-D projection of {proj.n_units} units has none "
                    "that is exact")
        return FeatureSpaceView(
            layer_name=self.network.layers[i].name,
            features=features.astype(np.float32),
            targets=self.targets,
            grid_lines=lines.astype(np.float32),
            boundary=boundary,
            xlim=xlim,
            ylim=ylim,
            projection=proj.kind,
            projection_label=proj.label,
            axis_labels=proj.axis_labels,
            variance_kept=proj.variance_kept,
            fit_epoch=proj.fit_epoch,
            n_units=proj.n_units,
            boundary_note=note,
            overflow_note=overflow_note(scales),
            mean=proj.mean,
            components=proj.components,
        )

    def unit_maps(self, layer: str | int | None = None,
                  grid_size: int | None = None) -> UnitMapsView:
        """Each unit of a layer over a ``grid_size``² grid of the 2-D input space, every epoch.

        The grid covers the inputs with a 10% margin (as the decision boundary's does).
        With ``grid_size`` None it is 32, or less (down to 8) for long runs of wide layers,
        so the maps of every epoch stay within ``UNIT_MAP_ELEMENTS`` values.

        Raises
        ------
        ViewUnavailableError
            The inputs are not 2-D.
        NoFeatureLayerError
            No such layer.
        """
        d = self.inputs.shape[1]
        if d != 2:
            raise ViewUnavailableError(
                f"{self._context} has {d} input feature{'s' if d != 1 else ''}; unit maps "
                "are pictures of the 2-D input space")
        if layer is None:
            i = self._feature_layer(None)
        else:
            try:
                i = self.network.index(layer)
            except (KeyError, IndexError) as exc:
                raise NoFeatureLayerError(
                    f"{self._context} has no layer {layer!r} (layers: "
                    f"{self._describe_layers()})") from exc
        if grid_size is None:
            per_point = self.network.n_states * self.network.layers[i].units
            grid_size = int(min(32, max(8, (UNIT_MAP_ELEMENTS / per_point) ** 0.5)))
        xs = np.linspace(*_padded_range(self.inputs[:, 0], 0.1), grid_size)
        ys = np.linspace(*_padded_range(self.inputs[:, 1], 0.1), grid_size)
        gx, gy = np.meshgrid(xs, ys)
        acts = self.network.forward(np.c_[gx.ravel(), gy.ravel()], stop=i + 1)
        acts = acts.reshape(acts.shape[0], grid_size, grid_size, -1).transpose(0, 3, 1, 2)
        bounds = self._layer_range(i)
        if bounds is None:
            lo, hi = _robust_range(acts, 0.0)
            if lo < 0 < hi:  # symmetric, so white is zero
                lo, hi = -max(-lo, hi), max(-lo, hi)
        else:
            lo, hi = bounds
        return UnitMapsView(layer_name=self.network.layers[i].name, xs=xs, ys=ys,
                            activations=acts.astype(np.float32), vmin=float(lo),
                            vmax=float(hi))

    # -- decision boundary ------------------------------------------------------------

    def decision_boundary(self, grid_size: int = 100) -> DecisionBoundaryView:
        """P(class 1) over a ``grid_size`` x ``grid_size`` input grid and its 0.5 contour.

        The grid covers the training inputs with a 10% margin on each side.

        Raises
        ------
        ViewUnavailableError
            The inputs are not 2-D.
        """
        d = self.inputs.shape[1]
        if d != 2:
            latent = self.latent_layer()
            if latent is not None:
                return self._latent_decision_boundary(latent, grid_size)
            if d > 2:
                return self._input_plane_decision_boundary(grid_size)
            raise ViewUnavailableError(
                "this run has 1 input feature; the decision boundary is drawn over a plane "
                "of at least 2 features")
        xlim = _padded_range(self.inputs[:, 0], 0.1)
        ylim = _padded_range(self.inputs[:, 1], 0.1)
        return DecisionBoundaryView(
            **self._grid_probabilities(xlim, ylim, grid_size),
            inputs=self.inputs, targets=self.targets, xlim=xlim, ylim=ylim,
            n_classes=self.n_classes)

    def _grid_probabilities(self, xlim: tuple[float, float], ylim: tuple[float, float],
                            grid_size: int, start: int = 0, lift=None) -> dict[str, Any]:
        """The network from layer ``start`` on, over a grid of its 2-D input plane:
        ``xs``, ``ys``, ``probabilities`` (P(class 1), or the winner's for k classes),
        ``winners`` (k classes only, else None) and the ``contours`` between classes.
        ``lift`` maps the plane's (M, 2) points into the network's input first."""
        xs = np.linspace(*xlim, grid_size)
        ys = np.linspace(*ylim, grid_size)
        gx, gy = np.meshgrid(xs, ys)
        plane = np.c_[gx.ravel(), gy.ravel()]
        out = self.network.forward(plane if lift is None else lift(plane), start=start)
        winners = None
        if self.n_classes > 2:  # the winning class and its probability
            proba = out.reshape(-1, grid_size, grid_size, out.shape[-1])
            winners = np.argmax(proba, axis=-1).astype(np.int8)
            p = proba.max(axis=-1)
        else:
            p = self._binary(out).reshape(-1, grid_size, grid_size)
        return {"xs": xs, "ys": ys, "probabilities": p.astype(np.float32),
                "winners": winners, "contours": self._boundary_lines(out, xs, ys)}

    def _input_plane_decision_boundary(self, grid_size: int) -> DecisionBoundaryView:
        """Predicted probability over the plane of the inputs' first two principal
        components, through their mean: every grid point is a real input (the other
        directions at the data's mean), so the picture is exact on that plane. The
        samples are drawn at their projection onto it."""
        proj = projections.fit(self.inputs, "pca", 0, where="the inputs")
        on_plane = proj.apply(self.inputs)
        xlim, ylim = (_padded_range(on_plane[:, k], 0.1) for k in (0, 1))
        labels = tuple(f"inputs' PC {k + 1} ({100 * v:.0f}% of variance)"
                       for k, v in enumerate(proj.axis_variance))
        return DecisionBoundaryView(
            **self._grid_probabilities(xlim, ylim, grid_size,
                                       lift=lambda z: z @ proj.components + proj.mean),
            inputs=on_plane.astype(np.float32), targets=self.targets, xlim=xlim, ylim=ylim,
            n_classes=self.n_classes, space="input_pca", axis_labels=labels)

    def latent_layer(self) -> str | None:
        """The 2-unit hidden layer named ``bottleneck``, if the network has one."""
        return next((layer.name for layer in self.network.layers[:-1]
                     if layer.name == "bottleneck" and layer.units == 2), None)

    def _latent_decision_boundary(self, layer: str, grid_size: int) -> DecisionBoundaryView:
        """P(class 1) over a grid of the 2-D latent space of ``layer``: the rest of the
        network (the decoder) maps every grid point, so the picture is exact. The
        samples sit where the encoder puts them at each epoch."""
        i = self.network.index(layer)
        positions = self.network.forward(self.inputs, stop=i + 1)
        tame = tame_epochs(_epoch_scales(positions))
        kept = positions[tame] if tame.any() else positions
        xlim, ylim = (_robust_range(kept[..., k]) for k in (0, 1))
        positions = positions.astype(np.float32)
        return DecisionBoundaryView(
            **self._grid_probabilities(xlim, ylim, grid_size, start=i + 1),
            inputs=positions[-1], targets=self.targets, xlim=xlim, ylim=ylim,
            n_classes=self.n_classes,
            space="latent", latent_layer=layer, sample_positions=positions,
            axis_labels=("latent 1", "latent 2"))

    # -- histograms and curves --------------------------------------------------------

    def probability_histogram(
            self, bins: int = 20) -> ProbabilityHistogramView | ClassProbabilityHistogramView:
        """Counts of predicted P(class 1) per class, correct and wrong, every epoch.

        For a k-class run (k > 2): counts of the probability given to each sample's true
        class, per true class, correct (its class is the most probable) and wrong.
        """
        if self.n_classes > 2:
            return self._class_probability_histogram(bins)
        p = self._train_p1
        edges = np.linspace(0.0, 1.0, bins + 1)
        positive = (self.targets > 0.5).astype(np.intp)
        hit = (p >= THRESHOLD).astype(np.intp)
        # 0 negative correct, 1 negative wrong, 2 positive wrong, 3 positive correct
        counts = _counts(p, edges, 2 * positive + hit, 4)
        neg_ok, neg_wrong, pos_wrong, pos_ok = (counts[:, k] for k in range(4))
        ymax = max(float((neg_ok + neg_wrong).max()), float((pos_ok + pos_wrong).max()))
        return ProbabilityHistogramView(
            bin_edges=edges, negatives_correct=neg_ok, negatives_wrong=neg_wrong,
            positives_correct=pos_ok, positives_wrong=pos_wrong, ymax=ymax)

    def _class_probability_histogram(self, bins: int) -> ClassProbabilityHistogramView:
        k = self.n_classes
        edges = np.linspace(0.0, 1.0, bins + 1)
        target = self.targets.astype(np.intp)
        p_true = np.take_along_axis(
            self._train_output, np.broadcast_to(target[:, None],
                                                self._train_output.shape[:-1] + (1,)),
            axis=-1)[..., 0]
        wrong = (self._train_predicted != target).astype(np.intp)
        counts = _counts(p_true, edges, 2 * target + wrong, 2 * k)
        counts = counts.reshape(len(p_true), k, 2, bins)
        correct, wrong_counts = counts[:, :, 0], counts[:, :, 1]
        return ClassProbabilityHistogramView(
            bin_edges=edges, correct=correct, wrong=wrong_counts,
            ymax=float((correct + wrong_counts).max()))

    def confusion(self) -> ConfusionView:
        """Confusion matrix (E+1, k, k) of the training samples at every epoch: true class
        by row, predicted class by column."""
        k = self.n_classes
        predicted = self._train_predicted
        target = self.targets.astype(np.intp)
        epoch = np.arange(predicted.shape[0])[:, None]
        flat = (epoch * k + target) * k + predicted
        counts = np.bincount(flat.ravel(), minlength=predicted.shape[0] * k * k)
        return ConfusionView(counts=counts.reshape(-1, k, k))

    def loss_and_metric(self) -> LossAndMetricView:
        """Cross-entropy and accuracy of every epoch's weights on all the data (binary
        cross-entropy and threshold 0.5 for two classes; categorical cross-entropy and the
        most probable class for more)."""
        if self.n_classes > 2:
            return self._class_loss_and_metric()
        positive = self.targets > 0.5
        loss = self._train_sample_loss.mean(axis=1)
        accuracy = ((self._train_p1 >= THRESHOLD) == positive).mean(axis=1)
        val_loss = val_accuracy = None
        if self._val_p1 is not None:
            val_loss = binary_crossentropy(self.val_targets, self._val_p1).mean(axis=1)
            val_accuracy = ((self._val_p1 >= THRESHOLD) == (self.val_targets > 0.5)).mean(axis=1)
        curves = loss if val_loss is None else np.concatenate([loss, val_loss])
        finite = curves[np.isfinite(curves)]
        top = float(finite.max()) if finite.size else 0.0
        return LossAndMetricView(
            epochs=np.arange(self.n_epochs + 1), loss=loss, accuracy=accuracy,
            val_loss=val_loss, val_accuracy=val_accuracy,
            loss_ylim=(0.0, top * 1.05 if top > 0 else 1.0))

    def _class_loss_and_metric(self) -> LossAndMetricView:
        loss = self._train_sample_loss.mean(axis=1)
        accuracy = (self._train_predicted == self.targets.astype(np.intp)).mean(axis=1)
        val_loss = val_accuracy = None
        if self.val_inputs is not None:
            out = self.network.forward(self.val_inputs)
            val_loss = categorical_crossentropy(self.val_targets, out).mean(axis=1)
            val_accuracy = (np.argmax(out, axis=-1)
                            == self.val_targets.astype(np.intp)).mean(axis=1)
        curves = loss if val_loss is None else np.concatenate([loss, val_loss])
        finite = curves[np.isfinite(curves)]
        top = float(finite.max()) if finite.size else 0.0
        return LossAndMetricView(
            epochs=np.arange(self.n_epochs + 1), loss=loss, accuracy=accuracy,
            val_loss=val_loss, val_accuracy=val_accuracy,
            loss_ylim=(0.0, top * 1.05 if top > 0 else 1.0))

    def loss_histogram(self, bins: int = 20) -> LossHistogramView | ClassLossHistogramView:
        """Counts of the per-sample loss per class, every epoch.

        The edges span 0 to the 99th percentile of all per-sample losses over all epochs;
        larger losses are counted in the last bin.
        """
        losses = self._train_sample_loss
        finite = losses[np.isfinite(losses)]
        upper = float(np.percentile(finite, 99.0)) if finite.size else 0.0
        if not upper > 0.0:
            upper = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        edges = np.linspace(0.0, upper, bins + 1)
        if self.n_classes > 2:
            counts = _counts(losses, edges, self.targets.astype(np.intp), self.n_classes)
            return ClassLossHistogramView(bin_edges=edges, counts=counts,
                                          ymax=float(counts.sum(axis=1).max()))
        counts = _counts(losses, edges, (self.targets > 0.5).astype(np.intp), 2)
        negatives, positives = counts[:, 0], counts[:, 1]
        return LossHistogramView(bin_edges=edges, negatives=negatives, positives=positives,
                                 ymax=float((negatives + positives).max()))

    def views(self, layer: str | int | None = None, projection=None,
              fit_epoch: int | None = None) -> ReplayViews:
        """All five views for every epoch.

        ``layer``, ``projection`` and ``fit_epoch`` choose the feature space (see
        ``feature_space``). With all three None a run without a hidden layer of 2 or more
        units gets no feature space and a note saying why; a run whose inputs are not 2-D
        gets its decision boundary in the bottleneck's latent space, or no decision
        boundary and a note. An explicit layer or projection that cannot be shown raises
        ``NoFeatureLayerError``.
        """
        feature_space, feature_note = None, ""
        try:
            feature_space = self.feature_space(layer, projection=projection,
                                               fit_epoch=fit_epoch)
        except NoFeatureLayerError as exc:
            if layer is not None or projection is not None:
                raise
            feature_note = str(exc)
        decision_boundary, boundary_note = None, ""
        try:
            decision_boundary = self.decision_boundary()
        except ViewUnavailableError as exc:
            boundary_note = str(exc)
        loss_and_metric = self.loss_and_metric()
        return ReplayViews(
            run_name=self.name,
            n_epochs=self.n_epochs,
            feature_space=feature_space,
            decision_boundary=decision_boundary,
            probability_histogram=self.probability_histogram(),
            loss_and_metric=loss_and_metric,
            loss_histogram=self.loss_histogram(),
            feature_space_note=feature_note,
            decision_boundary_note=boundary_note,
            confusion=self.confusion(),
            n_classes=self.n_classes,
            events=self.events(loss_and_metric),
        )

    def events(self, loss_and_metric: LossAndMetricView | None = None,
               settings: run_events.EventSettings | None = None) -> run_events.RunEvents:
        """The run's events (first 100 % accuracy, the last crossing, learning-rate cuts,
        plateaus...) and the per-epoch figures its narration reads; see ``events``."""
        return run_events.run_events(self, loss_and_metric, settings)
