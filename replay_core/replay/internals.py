"""Inside the network: weights, z-values, activations and gradients of every layer.

This module holds ``Internals``, which runs the pass (``backprop``) and builds the views
(``internals_views``) from per-epoch histograms (``violins``); their names are importable
from here too.

A numpy forward and backward pass of the stored weights, epoch by epoch, over the whole
training set, as DeepReplay's ``build_weights``, ``build_outputs`` and ``build_gradients``
drew them (there with Keras, here without TensorFlow). A *layer* here is a Dense layer
together with the activation it applies and any weightless activation layers that follow
it (DeepReplay files record ``Activation`` as a layer of its own): its z-values are the
Dense output before any activation, its activations the output after them.

Gradients are those of the training loss (the mean binary cross-entropy of a sigmoid
output unit, or the mean sparse categorical cross-entropy of a softmax output, plus the
kernels' L1/L2 penalty when the run had one) with respect to every kernel and bias.

Holding every epoch's z-values and activations at once does not fit for deep, wide runs
(5 x 100 units x 1000 samples x 101 epochs is 400 MB per quantity), so:

- :meth:`Internals.at` computes one epoch's exact arrays on demand (a small cache keeps
  the last few epochs), :class:`EpochInternals`;
- :meth:`Internals.views` makes one pass over every epoch and keeps only what the
  drawings need: per epoch and layer a 256-bin histogram of each quantity over its own
  range and the summary figures (standard deviations, mean |gradient|, dead and saturated
  shares), from which the violins on axes fixed across epochs are built.

Example
-------
>>> import numpy as np
>>> from replay_core.replay.internals import Internals
>>> rng = np.random.default_rng(0)
>>> weights = [[rng.normal(size=(4, 2, 3)), np.zeros((4, 3))],
...            [rng.normal(size=(4, 3, 1)), np.zeros((4, 1))]]
>>> inside = Internals.from_weights(weights, ["relu", "sigmoid"], rng.normal(size=(20, 2)),
...                                 rng.integers(0, 2, 20), layer_names=["h", "out"])
>>> inside.at(3).kernel_gradients[0].shape
(2, 3)
>>> inside.views().z.density.shape
(4, 1, 80)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from replay_core.data import activations
from replay_core.errors import ViewUnavailableError
from replay_core.replay import backprop
from replay_core.replay.forward import Network
from replay_core.replay.internals_views import (
    DEAD_CAPABLE,
    LABELS,
    QUANTITIES,
    SATURATED_SHARE,
    SATURATING,
    SATURATION_Z,
    ActivationExplainerView,
    EpochInternals,
    InternalsViews,
    LayerDistributionsView,
    LayerStatsView,
)
from replay_core.replay.violins import FINE_BINS, VIOLIN_BINS, FineHistograms

__all__ = [
    "DEAD_CAPABLE",
    "FINE_BINS",
    "LABELS",
    "QUANTITIES",
    "SATURATED_SHARE",
    "SATURATING",
    "SATURATION_Z",
    "VIOLIN_BINS",
    "ActivationExplainerView",
    "EpochInternals",
    "Internals",
    "InternalsViews",
    "LayerDistributionsView",
    "LayerStatsView",
]

_CACHE_EPOCHS = 4
# Elements of the z-values and activations a chunk of epochs may hold at once (float64:
# 64 MB); small networks take many epochs per stacked matmul, wide ones one at a time.
_CHUNK_ELEMENTS = 8_000_000


class Internals:
    """The layer internals of a replayed network over its training data, any epoch.

    Args:
        network: the replayed network (``Replay.network``).
        inputs: (N, d) training inputs; targets: (N,) class indices (0/1 for one unit).
        l1, l2: the kernels' regularisation factors the run trained with.
        learning_rate: (E,) rate per epoch, or None.
        name: the run's name, for views and messages.

    Raises
    ------
    ViewUnavailableError
        The network does not end in a sigmoid unit or a softmax layer (no loss to derive).
    """

    def __init__(self, network: Network, inputs: np.ndarray, targets: np.ndarray, *,
                 l1: float = 0.0, l2: float = 0.0, learning_rate: Any = None,
                 name: str = "run") -> None:
        self.network = network
        self.name = str(name)
        self.n_epochs = network.n_epochs
        self.inputs = np.asarray(inputs, dtype=np.float64)
        self.targets = np.asarray(targets).reshape(-1).astype(np.intp)
        self.l1, self.l2 = float(l1), float(l2)
        self.learning_rate = _learning_rate(learning_rate, self.n_epochs)
        # activations before the first Dense layer (forward only), then the blocks
        self._pre, self.blocks = backprop.build_blocks(network)
        last = self.blocks[-1]
        units = int(last.kernel.shape[2])
        if not last.functions or last.functions[-1][0] not in ("sigmoid", "softmax") or (
                last.functions[-1][0] == "sigmoid" and units != 1):
            raise ViewUnavailableError(
                f"run {self.name!r} does not end in a sigmoid unit or a softmax layer, so "
                "its loss and gradients are not known")
        self.loss_kind = "binary" if units == 1 else "categorical"
        self._cache: OrderedDict[int, EpochInternals] = OrderedDict()
        self._views: InternalsViews | None = None

    @classmethod
    def from_weights(cls, weights: Sequence[Sequence[np.ndarray]],
                     activation_config: Sequence[Mapping[str, Any] | str | None],
                     inputs: np.ndarray, targets: np.ndarray,
                     layer_names: Sequence[str] | None = None, **kw: Any) -> Internals:
        """Internals of weights held in memory, laid out as in a run file (see
        ``Network.from_weights``); keyword arguments as the constructor's."""
        return cls(Network.from_weights(weights, activation_config, layer_names),
                   inputs, targets, **kw)

    @classmethod
    def from_replay(cls, replay: Any) -> Internals:
        """Internals of a :class:`~replay_core.replay.replayer.Replay`: its network,
        training data, learning rates and (from its spec) regularisation."""
        model = (replay.spec or {}).get("model") if isinstance(replay.spec, dict) else None
        l1 = l2 = 0.0
        if isinstance(model, dict):
            l1 = _factor(model.get("l1"))
            l2 = _factor(model.get("l2"))
        return cls(replay.network, replay.inputs, replay.targets, l1=l1, l2=l2,
                   learning_rate=replay.logs.get("lr"), name=replay.name)

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Names of the Dense layers, hidden and output."""
        return tuple(b.name for b in self.blocks)

    # -- one chunk of epochs ------------------------------------------------------------

    def _inputs(self) -> np.ndarray:
        X = self.inputs
        for _, forward, _, _ in self._pre:
            X = forward(X)
        return X

    def _pass(self, epochs: slice, dtype: type = np.float64) -> dict[str, Any]:
        """Forward and backward pass for a slice of epochs (``backprop.forward_backward``);
        arrays have a leading epoch axis."""
        return backprop.forward_backward(self._inputs(), self.blocks, self.targets,
                                         self.loss_kind, epochs, dtype, self.l1, self.l2)

    def at(self, epoch: int) -> EpochInternals:
        """The exact internals of one epoch (0 = initial weights, negative from the end)."""
        e = int(epoch)
        if e < 0:
            e += self.n_epochs + 1
        if not 0 <= e <= self.n_epochs:
            raise ViewUnavailableError(
                f"epoch must be 0 to {self.n_epochs} for run {self.name!r}; got {epoch}")
        hit = self._cache.get(e)
        if hit is not None:
            self._cache.move_to_end(e)
            return hit
        r = self._pass(slice(e, e + 1))
        result = EpochInternals(
            epoch=e, layer_names=self.layer_names,
            z=tuple(a[0] for a in r["z"]), activations=tuple(a[0] for a in r["activations"]),
            kernels=tuple(b.kernel[e] for b in self.blocks),
            biases=tuple(None if b.bias is None else b.bias[e] for b in self.blocks),
            kernel_gradients=tuple(g[0] for g in r["kernel_gradients"]),
            bias_gradients=tuple(None if g is None else g[0] for g in r["bias_gradients"]),
            loss=float(r["loss"][0]))
        self._cache[e] = result
        while len(self._cache) > _CACHE_EPOCHS:
            self._cache.popitem(last=False)
        return result

    # -- every epoch ----------------------------------------------------------------------

    def _chunk(self) -> int:
        n = self.inputs.shape[0]
        per_epoch = n * sum(int(b.kernel.shape[2]) * (2 + len(b.functions))
                            for b in self.blocks)
        return max(1, _CHUNK_ELEMENTS // max(per_epoch, 1))

    def views(self) -> InternalsViews:
        """Every layer-internals view for every epoch (one pass, kept once computed)."""
        if self._views is None:
            with backprop.one_blas_thread():
                self._views = self._compute_views()
        return self._views

    def _compute_views(self) -> InternalsViews:
        n_states, n_layers = self.n_epochs + 1, len(self.blocks)
        hists = {q: FineHistograms(n_states, n_layers) for q in QUANTITIES}
        gstd = np.empty((n_states, n_layers))
        gabs = np.empty((n_states, n_layers))
        dead = np.full((n_states, n_layers), np.nan)
        saturated = np.full((n_states, n_layers), np.nan)
        loss = np.empty(n_states)
        kinds = [b.activation_name for b in self.blocks]
        for i, block in enumerate(self.blocks):
            flat = block.kernel.reshape(n_states, -1)
            hists["weights"].add(slice(0, n_states), i, flat)
        step = self._chunk()
        hidden = n_layers - 1  # the output unit's confidence is no saturation
        for e0 in range(0, n_states, step):
            sl = slice(e0, min(e0 + step, n_states))
            # float32: the drawings need 3 digits, and it halves the time (at() is float64);
            # values beyond float32's range (a run blowing up) are redone in float64
            with np.errstate(all="ignore"):
                r = self._pass(sl, np.float32)
                if not backprop.finite(r):
                    r = self._pass(sl, np.float64)
            loss[sl] = r["loss"]
            for i in range(n_layers):
                Z = r["z"][i]
                A = r["activations"][i]
                gk = r["kernel_gradients"][i]
                hists["z"].add(sl, i, Z.reshape(Z.shape[0], -1))
                hists["activations"].add(sl, i, A.reshape(A.shape[0], -1))
                flat = gk.reshape(gk.shape[0], -1)
                hists["gradients"].add(sl, i, flat)
                gstd[sl, i] = flat.std(axis=1)
                gabs[sl, i] = np.abs(flat).mean(axis=1)
                if i >= hidden:
                    continue
                if kinds[i] in DEAD_CAPABLE:
                    dead[sl, i] = (~(Z > 0).any(axis=1)).mean(axis=1)
                elif kinds[i] in SATURATING:
                    share = (np.abs(Z) > SATURATION_Z).mean(axis=1)
                    saturated[sl, i] = (share > SATURATED_SHARE).mean(axis=1)
        names = self.layer_names
        # The violins show the hidden layers, as DeepReplay's (exclude_outputs=True): the
        # output's values (logits, its large gradients) would set the axis and flatten
        # the hidden layers' violins. A network without hidden layer shows its output.
        n_shown = max(n_layers - 1, 1)
        dists = {q: hists[q].view(q, names, n_shown) for q in QUANTITIES}
        stats = LayerStatsView(
            layer_names=names, activation_names=tuple(kinds),
            weights_std=hists["weights"].std.copy(), gradients_std=gstd, gradients_mean_abs=gabs,
            dead_share=dead, saturated_share=saturated, loss=loss,
            learning_rate=self.learning_rate)
        explainers = tuple(self._explainer(i, hists["z"]) for i in range(n_layers))
        return InternalsViews(run_name=self.name, n_epochs=self.n_epochs, z=dists["z"],
                              activations=dists["activations"], weights=dists["weights"],
                              gradients=dists["gradients"], stats=stats,
                              explainers=explainers)

    def _explainer(self, i: int, z_hists: FineHistograms) -> ActivationExplainerView:
        block = self.blocks[i]
        act = block.activation_name
        lo, hi = z_hists.robust_range(layer=i)
        span = max(hi - lo, 1e-12)
        lo, hi = lo - 0.05 * span, hi + 0.05 * span
        # Always show the bend of the function: sigmoid/tanh saturate by +-4.
        lo, hi = min(lo, -5.0), max(hi, 5.0)
        xs = np.linspace(lo, hi, 401)
        note = ""
        if len(block.functions) > 1:
            note = "several activations after this layer: the last one is drawn"
        config = block.functions[-1][3] if block.functions else "linear"
        if act in activations.NOT_ELEMENTWISE:
            f = activations.get(config)
            values = f(np.stack([xs, np.zeros_like(xs)], axis=-1))[:, 0]
            derivative = None
            note = (f"{act} mixes the units of a sample: drawn for one unit against a second "
                    "at 0, without a derivative")
        else:
            values = activations.get(config)(xs)
            derivative = activations.derivative(config)(xs)
        edges = np.linspace(lo, hi, 61)
        counts = z_hists.counts_on(edges, layer=i)
        curves = [values] + ([] if derivative is None else [derivative])
        ymin = min(float(np.min(c)) for c in curves)
        ymax = max(float(np.max(c)) for c in curves)
        ymin, ymax = max(ymin, -3.0), min(ymax, 3.0)  # unbounded ones: the bend matters
        pad = 0.08 * max(ymax - ymin, 1e-6)
        return ActivationExplainerView(
            layer_name=block.name, activation_name=act, xs=xs, values=values,
            derivative=derivative, edges=edges, counts=counts,
            ymax=float(counts.max()) if counts.size else 1.0, xlim=(lo, hi),
            ylim=(ymin - pad, ymax + pad),
            saturated_beyond=SATURATION_Z if act in SATURATING else None,
            dead_below=0.0 if act in DEAD_CAPABLE else None, note=note)


def _factor(value: Any) -> float:
    """A stored regularisation factor, or 0 when absent or not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value) if math.isfinite(value) and value >= 0 else 0.0


def _learning_rate(values: Any, n_epochs: int) -> np.ndarray | None:
    """The stored rates of epochs 1..E, or None when absent or of another length."""
    if values is None:
        return None
    try:
        lr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
    if len(lr) < n_epochs or n_epochs == 0:
        return None
    return lr[:n_epochs]
