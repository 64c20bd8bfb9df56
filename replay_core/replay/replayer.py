"""Replay a recorded run: predictions and the five views, for every epoch, in numpy.

``Replay`` reads a run once (``runfile.read_run``; no file handle is kept), rebuilds the
network from the stored weights (``forward.Network``), chooses its output head once
(``heads``: two classes or k) and hands the arrays to one module per view family, which
computes the view for all epochs at once into the frozen dataclasses of ``views``:
``feature_space``, ``decision_boundary``, ``histograms``, ``curves``, ``confusion``,
``unit_maps``. No TensorFlow is involved. A run that trains is replayed by extending the
previous replay (``extended``; the work is in ``extension``).

Kept in one module (about 560 lines) on purpose: ``Replay`` is the library's public face,
one short method per view or question, each handing the arrays to its own module.

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

import numpy as np

from replay_core.data import datasets
from replay_core.errors import NoFeatureLayerError, RunFileError, ViewUnavailableError
from replay_core.replay import confusion as confusion_view
from replay_core.replay import curves, extension, histograms
from replay_core.replay import decision_boundary as boundaries
from replay_core.replay import events as run_events
from replay_core.replay import feature_space as features
from replay_core.replay import projection as projections
from replay_core.replay import unit_maps as unit_map_views
from replay_core.replay import views as v
from replay_core.replay.epoch_arrays import EpochArrays
from replay_core.replay.feature_space import BOUNDARY_GRID as FEATURE_BOUNDARY_GRID
from replay_core.replay.feature_space import GRID_POINTS as FEATURE_GRID_POINTS
from replay_core.replay.forward import Network
from replay_core.replay.heads import (
    NoProbabilityHead,
    OutputHead,
    binary_crossentropy,
    categorical_crossentropy,
    class_margins,
    output_head,
)
from replay_core.replay.ranges import OVERFLOW, overflow_note, tame_epochs
from replay_core.replay.unit_maps import UNIT_MAP_ELEMENTS
from replay_core.store import runfile, samples

# Names other modules import from here; they live in the modules above.
__all__ = [
    "FEATURE_BOUNDARY_GRID", "OVERFLOW", "UNIT_MAP_ELEMENTS", "Replay", "ViewUnavailableError",
    "binary_crossentropy", "categorical_crossentropy", "class_margins", "overflow_note",
    "tame_epochs",
]


# The sample checks are the store's (one sentence per fault, as the recorder, the writer
# and the upload check say it); replay takes a 1-D input as one feature and one-hot
# targets as class indices.
def _inputs(values: Any, what: str, context: str) -> np.ndarray:
    return np.asarray(samples.check_inputs(values, what, context, column=True), np.float64)


def _targets(values: Any, n: int, what: str, context: str) -> np.ndarray:
    of = what.replace("targets", "inputs")
    return samples.class_indices(samples.check_targets(values, n, what, of, context))


def _check_classes(t: np.ndarray, units: int, what: str, context: str) -> None:
    """Targets must be class indices of the output (0/1 for one unit), so every view can
    index, count and colour by them."""
    samples.check_classes(t, 2 if units == 1 else units, what, context)


_check_finite = samples.check_finite


class Replay:
    """A recorded run, ready to replay: predictions and views for every epoch.

    Args:
        filename: the HDF5 run file.
        run_name: the run (top-level group) in it.

    The file is read once and closed; ``from_arrays`` builds the same object from
    arrays. Attributes: ``name``, ``n_epochs`` (epochs stored after the initial state),
    ``layer_names``, ``inputs`` (N, d), ``targets`` (N,) class indices, ``val_inputs`` /
    ``val_targets`` (or None), ``spec`` (dict or None), ``status``, ``message``,
    ``logs``, ``network`` (the ``forward.Network``), ``head`` (its ``heads.OutputHead``),
    ``class_names`` (one per class, as the data names them; ``class 0``... when the run
    stores none).

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
        self._setup_from(runfile.read_run(filename, run_name), filename=filename)

    @classmethod
    def from_run_data(cls, data: runfile.RunData, epochs: int | None = None) -> Replay:
        """A replay of a run held in memory (what ``runfile.read_run`` returns, or a
        training's writer holds), of its first ``epochs`` epochs (all when None), with
        its spec, status and logs as the file would give them."""
        epochs = data.epochs_done if epochs is None else min(int(epochs), data.epochs_done)
        replay = cls.__new__(cls)
        replay._setup_from(data, epochs=epochs)
        return replay

    def _setup_from(self, data: runfile.RunData, filename: str | Path | None = None,
                    epochs: int | None = None) -> None:
        epochs = data.epochs_done if epochs is None else epochs
        self._setup(
            name=data.name, weights=data.weights, activation_config=data.activation_config,
            layer_names=data.layer_names, inputs=data.inputs, targets=data.targets,
            val_inputs=data.val_inputs, val_targets=data.val_targets, filename=filename,
            spec=data.spec, status=data.status, message=data.message,
            logs={k: np.asarray(v)[:epochs] for k, v in data.logs.items()},
            attrs=data.attrs, epochs_done=epochs, class_names=data.class_names)

    @classmethod
    def from_arrays(cls, weights: Sequence[Sequence[np.ndarray]],
                    activation_config: Sequence[Mapping[str, Any] | str | None],
                    inputs: np.ndarray, targets: np.ndarray,
                    layer_names: Sequence[str] | None = None,
                    val_inputs: np.ndarray | None = None,
                    val_targets: np.ndarray | None = None, name: str = "run",
                    class_names: Sequence[str] | None = None) -> Replay:
        """A replay of weights held in memory, laid out as in a run file.

        Parameters
        ----------
        weights : per model layer, ``[kernel (E+1, d_in, d_out), bias (E+1, d_out)]`` or
            ``[]`` for a weightless layer.
        activation_config : per model layer, a name or ``{"name": ..., **params}``.
        inputs : (N, d); targets : (N,) or (N, 1) class indices (0/1 for one output
            unit), or (N, k) one-hot.
        layer_names : per model layer (``layer0``, ``layer1``... when None).
        val_inputs, val_targets : held-out data, or None.
        name : the run name used in views and messages.
        class_names : one name per class (``class 0``, ``class 1``... when None or not
            one per class).
        """
        replay = cls.__new__(cls)
        replay._setup(name=name, weights=weights, activation_config=activation_config,
                      layer_names=layer_names, inputs=inputs, targets=targets,
                      val_inputs=val_inputs, val_targets=val_targets,
                      class_names=class_names)
        return replay

    def _setup(self, *, name: str, weights: Sequence[Sequence[np.ndarray]],
               activation_config: Sequence[Any], layer_names: Sequence[str] | None,
               inputs: Any, targets: Any, val_inputs: Any = None, val_targets: Any = None,
               filename: str | Path | None = None, spec: dict | None = None,
               status: str = "complete", message: str = "", logs: Mapping | None = None,
               attrs: Mapping | None = None, epochs_done: int | None = None,
               class_names: Sequence[str] | None = None) -> None:
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
        self.head: OutputHead = output_head(self.network, self._context)
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
        # Checked like a file's attribute: from_arrays callers may pass anything.
        # A head without probabilities has no classes to count: name the output's.
        k = (2 if units == 1 else units) if isinstance(self.head, NoProbabilityHead) else (
            self.n_classes)
        self.class_names: tuple[str, ...] = (
            datasets.check_class_names(list(class_names or ()), k)
            or datasets.default_class_names(k))
        # Per-epoch arrays kept for a longer replay of the same run (``extended``): the
        # layers' scales, and the last views built with their samples' scales.
        self._scales: dict[int, np.ndarray] = {}
        self._kept: dict[tuple, tuple[v.ReplayViews, np.ndarray | None]] = {}
        self._earlier: tuple[int, dict] | None = None
        self._grown = EpochArrays()

    def __repr__(self) -> str:
        return (f"Replay({self.name!r}, epochs={self.n_epochs}, samples={len(self.inputs)}, "
                f"layers={self.layer_names})")

    # -- network output ---------------------------------------------------------------

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
        head = self.head.check()
        # forward refuses non-numeric or mis-shaped X
        return head.proba(self._train_output if X is None else self.network.forward(X))

    @cached_property
    def n_classes(self) -> int:
        """Number of classes: 2 for a sigmoid unit or a 2-unit softmax, else the softmax's
        units."""
        return self.head.n_classes

    @cached_property
    def _train_output(self) -> np.ndarray:
        return self.network.forward(self.inputs)

    @cached_property
    def _train_predicted(self) -> np.ndarray:
        return self.head.predicted(self._train_output)

    @cached_property
    def _train_sample_loss(self) -> np.ndarray:
        return self.head.sample_loss(self.targets, self._train_output)

    @cached_property
    def _val_output(self) -> np.ndarray | None:
        return None if self.val_inputs is None else self.network.forward(self.val_inputs)

    def layer_outputs(self, layer: str | int, X: np.ndarray | None = None) -> np.ndarray:
        """Output (E+1, N, units) of one layer (name or index) for ``X`` (training inputs
        when None)."""
        try:
            i = self.network.index(layer)
        except (KeyError, IndexError) as exc:
            raise ViewUnavailableError(
                f"{self._context} has no layer {layer!r}; layers: "
                f"{features.describe_layers(self.network)}"
            ) from exc
        return self.network.forward(self.inputs if X is None else X, stop=i + 1)

    # -- layers -----------------------------------------------------------------------

    def two_unit_layers(self) -> list[str]:
        """Names of the hidden layers (not the output layer) with exactly 2 units."""
        return features.two_unit_layers(self.network)

    def feature_layers(self) -> list[str]:
        """Names of the hidden layers (not the output layer) with at least 2 units: the
        layers whose feature space can be shown (wider ones through a projection)."""
        return features.feature_layers(self.network)

    def default_feature_layer(self) -> str | None:
        """The layer the feature space shows when none is named.

        A 2-unit layer named ``bottleneck`` (the learned latent space), else the first
        2-unit hidden layer, else the last hidden layer of at least 2 units (drawn through
        a PCA); None when there is no such layer.
        """
        return features.default_feature_layer(self.network)

    def latent_layer(self) -> str | None:
        """The 2-unit hidden layer named ``bottleneck``, if the network has one."""
        return boundaries.latent_layer(self.network)

    # -- feature space and unit maps ---------------------------------------------------

    def fit_projection(self, layer: str | int | None = None, projection=None,
                       fit_epoch: int | None = None) -> projections.Projection:
        """The 2-D projection of a layer's feature space, fitted on the training inputs'
        activations at ``fit_epoch`` (the last epoch when None); when the layer blew up
        there (``ranges.tame_epochs``), at the last epoch before it that did not, since a
        fit on overflowing values would squeeze every other epoch into a dot.

        ``projection`` is ``"pca"``, ``("units", i, j)`` (0-based unit indices) or None
        (units 0 and 1 of a 2-unit layer, PCA of a wider one).
        """
        i = features.feature_layer(self.network, layer, self._context)
        return features.fit_projection(self.network, self.inputs, i, projection, fit_epoch,
                                       self._context, scales=self._layer_scales(i))

    def _layer_scales(self, i: int) -> np.ndarray:
        """(E+1,) ``feature_space.layer_scales`` of layer ``i``, computed once."""
        if i not in self._scales:
            self._scales[i] = features.layer_scales(self.network, self.inputs, i)
        return self._scales[i]

    def _input_grid(self, n_lines: int, n_points: int) -> np.ndarray | None:
        """(L, P, 2) the input-space grid lines the feature space bends (2-D inputs)."""
        return features.input_grid(self.inputs, n_lines, n_points)

    def feature_space(self, layer: str | int | None = None, grid_lines: int = 11,
                      grid_points: int = FEATURE_GRID_POINTS, projection=None,
                      fit_epoch: int | None = None) -> v.FeatureSpaceView:
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
            figure (the last when None); an epoch that blew up gives way to the last one
            before it that did not (the view's ``fit_epoch`` says which).

        Raises
        ------
        NoFeatureLayerError
            No layer of 2 or more units, no layer of that name, a 1-unit layer, or a bad
            projection.
        """
        return self._feature_space(layer, grid_lines, grid_points, projection, fit_epoch)[0]

    def _feature_space(self, layer, grid_lines: int = 11,
                       grid_points: int = FEATURE_GRID_POINTS, projection=None,
                       fit_epoch: int | None = None, earlier=None
                       ) -> tuple[v.FeatureSpaceView, np.ndarray]:
        """``feature_space`` and its samples' per-epoch scales; ``earlier`` = ``(view,
        scales)`` of this run's first epochs extends those when that gives the same."""
        i = features.feature_layer(self.network, layer, self._context)
        proj = self.fit_projection(i, projection, fit_epoch)
        if earlier is not None and earlier[0] is not None and earlier[1] is not None:
            n0 = len(earlier[1])
            longer = features.extend_feature_space(
                earlier[0], earlier[1], features.later_states(self.network, n0), self.head,
                self.inputs, i, proj, join=self._grown.join)
            if longer is not None:
                return longer
        return features.feature_space_and_scales(self.network, self.head, self.inputs,
                                                 self.targets, i, proj, grid_lines,
                                                 grid_points)

    def unit_maps(self, layer: str | int | None = None,
                  grid_size: int | None = None) -> v.UnitMapsView:
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
        i = (features.feature_layer(self.network, None, self._context) if layer is None
             else features.named_layer(self.network, layer, self._context))
        return unit_map_views.unit_maps(self.network, self.inputs, i, grid_size)

    # -- decision boundary, histograms and curves ---------------------------------------

    def decision_boundary(self, grid_size: int = 100) -> v.DecisionBoundaryView:
        """P(class 1) over a ``grid_size`` x ``grid_size`` grid and its 0.5 contour (for
        k classes: the winning class, its probability and the lines between classes).

        The grid covers the 2-D inputs with a 10% margin on each side; for other inputs
        it covers a bottleneck's latent space, else the plane of the inputs' first two
        principal components (see ``decision_boundary``).

        Raises
        ------
        ViewUnavailableError
            One input feature and no bottleneck.
        """
        return boundaries.decision_boundary(self.network, self.head, self.inputs,
                                            self.targets, grid_size)

    def probability_histogram(self, bins: int = 20):
        """Counts of predicted P(class 1) per class, correct and wrong, every epoch
        (a ``ProbabilityHistogramView``).

        For a k-class run (k > 2): counts of the probability given to each sample's true
        class, per true class, correct (its class is the most probable) and wrong (a
        ``ClassProbabilityHistogramView``).
        """
        return replace(self.head.probability_histogram(
            self._train_output, self._train_predicted, self.targets, bins),
            class_names=self.class_names)

    def confusion(self) -> v.ConfusionView:
        """Confusion matrix (E+1, k, k) of the training samples at every epoch: true class
        by row, predicted class by column."""
        return replace(confusion_view.confusion(self._train_predicted, self.targets,
                                                self.n_classes),
                       class_names=self.class_names)

    def loss_and_metric(self) -> v.LossAndMetricView:
        """Cross-entropy and accuracy of every epoch's weights on all the data (binary
        cross-entropy and threshold 0.5 for two classes; categorical cross-entropy and the
        most probable class for more)."""
        return curves.loss_and_metric(self.head, self._train_sample_loss,
                                      self._train_predicted, self.targets,
                                      self._val_output, self.val_targets)

    def loss_histogram(self, bins: int = 20):
        """Counts of the per-sample loss per class, every epoch (a ``LossHistogramView``,
        or a ``ClassLossHistogramView`` for k > 2 classes).

        The edges span 0 to the 99th percentile of all per-sample losses over all epochs;
        larger losses are counted in the last bin.
        """
        losses = self._train_sample_loss
        return replace(self.head.loss_histogram(losses, self.targets,
                                                histograms.loss_edges(losses, bins)),
                       class_names=self.class_names)

    def views(self, layer: str | int | None = None, projection=None,
              fit_epoch: int | None = None, keep: bool = False) -> v.ReplayViews:
        """All five views for every epoch.

        ``layer``, ``projection`` and ``fit_epoch`` choose the feature space (see
        ``feature_space``). With all three None a run without a hidden layer of 2 or more
        units gets no feature space and a note saying why; a run whose inputs are not 2-D
        gets its decision boundary in the bottleneck's latent space, or no decision
        boundary and a note. An explicit layer or projection that cannot be shown raises
        ``NoFeatureLayerError``.

        ``keep`` holds on to the views (one set: the last kept) so that a replay of the
        same run with more epochs (``extended``) computes only the new epochs' views; a
        replay made by ``extended`` does so for the views it was given with the same
        ``layer``, ``projection`` and ``fit_epoch``.
        """
        try:
            wanted = (layer, projection, fit_epoch)
            hash(wanted)
        except TypeError:  # a projection given as a list: built, not kept
            wanted = None
        earlier = (None if wanted is None or self._earlier is None
                   else self._earlier[1].get(wanted))
        if earlier is not None:
            built, scales = extension.extend_views(self, self._earlier[0], earlier[0],
                                                   earlier[1], layer, projection, fit_epoch)
        else:
            built, scales = self._build_views(layer, projection, fit_epoch)
        if self._earlier is not None:
            # The earlier epochs' views are in these now (or were not wanted): let them
            # go, and the room kept for arrays these views no longer use.
            self._earlier = None
            self._grown.drop_unused()
        if keep and wanted is not None:
            self._kept = {wanted: (built, scales)}
        return built

    def _build_views(self, layer, projection, fit_epoch
                     ) -> tuple[v.ReplayViews, np.ndarray | None]:
        """Every view of every epoch, and the feature space samples' per-epoch scales."""
        feature_space, feature_note, scales = None, "", None
        try:
            feature_space, scales = self._feature_space(layer, projection=projection,
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
        return v.ReplayViews(
            run_name=self.name, n_epochs=self.n_epochs, feature_space=feature_space,
            decision_boundary=decision_boundary,
            probability_histogram=self.probability_histogram(),
            loss_and_metric=loss_and_metric, loss_histogram=self.loss_histogram(),
            feature_space_note=feature_note, decision_boundary_note=boundary_note,
            confusion=self.confusion(), n_classes=self.n_classes,
            events=self.events(loss_and_metric), class_names=self.class_names), scales

    def extended(self, data: runfile.RunData, epochs: int | None = None) -> Replay:
        """The replay of ``data``'s first ``epochs`` epochs (all when None), as
        ``from_run_data`` gives it, reusing what this replay computed when ``data`` is
        this run with more epochs (a run a job is training): the network's outputs and
        the views kept from this replay's last ``views`` call, so its next ``views``
        with the same arguments runs only the new epochs through the network and gives
        the same arrays as a full build.

        Anything else (another run, other data, fewer epochs, changed weights) gives a
        plain ``from_run_data`` replay.
        """
        longer = Replay.from_run_data(data, epochs)
        if extension.continues(longer, self):
            extension.take_over(longer, self)
        return longer

    def events(self, loss_and_metric: v.LossAndMetricView | None = None,
               settings: run_events.EventSettings | None = None) -> run_events.RunEvents:
        """The run's events (first 100 % accuracy, the last crossing, learning-rate cuts,
        plateaus...) and the per-epoch figures its narration reads; see ``events``."""
        return run_events.run_events(self, loss_and_metric, settings)
