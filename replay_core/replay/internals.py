"""Inside the network: weights, z-values, activations and gradients of every layer.

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
(4, 2, 80)
"""

from __future__ import annotations

import contextlib
import math
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from replay_core.data import activations
from replay_core.errors import RunFileError, ViewUnavailableError
from replay_core.replay.forward import Network

__all__ = [
    "DEAD_CAPABLE",
    "QUANTITIES",
    "SATURATING",
    "ActivationExplainerView",
    "EpochInternals",
    "Internals",
    "InternalsViews",
    "LayerDistributionsView",
    "LayerStatsView",
]

QUANTITIES = ("z", "activations", "weights", "gradients")
"""The per-layer distributions drawn as violins, in DeepReplay's order of titles."""
LABELS = {"z": "Z-values", "activations": "Activations", "weights": "Weights",
          "gradients": "Gradients"}

SATURATING = frozenset({"sigmoid", "tanh"})
"""Activations whose units saturate: |z| > ``SATURATION_Z`` leaves almost no gradient."""
DEAD_CAPABLE = frozenset({"relu", "relu6"})
"""Activations whose units die: an output of 0 and no gradient below 0."""
SATURATION_Z = 4.0
SATURATED_SHARE = 0.9
"""A unit is saturated when |z| > ``SATURATION_Z`` on more than this share of samples."""

FINE_BINS = 256
"""Bins of the per-epoch histograms kept by the pass (each over its own range)."""
VIOLIN_BINS = 80
"""Bins of the violins on the fixed axis."""
_TAIL = 0.002
"""Share of values left out at each end when the fixed axis is chosen (outliers)."""
_CACHE_EPOCHS = 4
# Elements of the z-values and activations a chunk of epochs may hold at once (float64:
# 64 MB); small networks take many epochs per stacked matmul, wide ones one at a time.
_CHUNK_ELEMENTS = 8_000_000
_BATCHED_MATMUL_MAX = 64


@dataclass(frozen=True)
class EpochInternals:
    """One epoch's layer internals over the training inputs (exact, float64).

    Attributes
    ----------
    epoch : the epoch (0 = the initial weights).
    layer_names : (L,) names of the Dense layers, hidden and output.
    z : L arrays (N, units) the Dense outputs before activation.
    activations : L arrays (N, units) the layers' outputs after their activations.
    kernels : L arrays (d_in, units); biases : L arrays (units,) or None.
    kernel_gradients : L arrays (d_in, units) d loss / d kernel over the whole training
        set (with the regularisation penalty's part).
    bias_gradients : L arrays (units,) or None.
    loss : the mean loss over the training set (without the penalty).
    """

    epoch: int
    layer_names: tuple[str, ...]
    z: tuple[np.ndarray, ...]
    activations: tuple[np.ndarray, ...]
    kernels: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray | None, ...]
    kernel_gradients: tuple[np.ndarray, ...]
    bias_gradients: tuple[np.ndarray | None, ...]
    loss: float


@dataclass(frozen=True)
class LayerDistributionsView:
    """One quantity's distribution per layer, every epoch, on an axis fixed across epochs.

    Attributes
    ----------
    quantity : one of ``QUANTITIES``; label : its title ("Z-values"...).
    layer_names : (L,) the layers shown, in model order: the hidden layers (the output
        too when there is no hidden layer).
    edges : (B+1,) the fixed bin edges (the y axis of the violins).
    density : (E+1, L, B) share of the layer's values per bin, scaled so each epoch's
        layer peaks at 1 (every violin as wide as the others, DeepReplay's ``scale='width'``).
    quartiles : (E+1, L, 3) 25th, 50th and 75th percentiles.
    extremes : (E+1, L, 2) smallest and largest value.
    std : (E+1, L) standard deviation.
    ylim : the fixed limits (values beyond are drawn at the ends).
    """

    quantity: str
    label: str
    layer_names: tuple[str, ...]
    edges: np.ndarray
    density: np.ndarray
    quartiles: np.ndarray
    extremes: np.ndarray
    std: np.ndarray
    ylim: tuple[float, float]


@dataclass(frozen=True)
class LayerStatsView:
    """Per layer figures over epochs.

    Attributes
    ----------
    layer_names : (L,); activation_names : (L,) each layer's last activation.
    weights_std : (E+1, L) standard deviation of the kernel.
    gradients_std : (E+1, L) standard deviation of d loss / d kernel.
    gradients_mean_abs : (E+1, L) mean |d loss / d kernel|.
    dead_share : (E+1, L) share of units never active on any training sample (z <= 0
        everywhere), for hidden relu/relu6 layers; NaN for the others (and the output).
    saturated_share : (E+1, L) share of units with |z| > 4 on more than 90 % of the
        samples, for hidden sigmoid/tanh layers; NaN for the others (and the output).
    loss : (E+1,) mean training loss per epoch (without penalty).
    learning_rate : (E,) rate in force during epochs 1..E, or None when not stored.
    """

    layer_names: tuple[str, ...]
    activation_names: tuple[str, ...]
    weights_std: np.ndarray
    gradients_std: np.ndarray
    gradients_mean_abs: np.ndarray
    dead_share: np.ndarray
    saturated_share: np.ndarray
    loss: np.ndarray
    learning_rate: np.ndarray | None


@dataclass(frozen=True)
class ActivationExplainerView:
    """A layer's activation function and its derivative, with the layer's z-values.

    Attributes
    ----------
    layer_name, activation_name : the layer shown and its (last) activation.
    xs : (P,) z values the curves are drawn at; values, derivative : (P,) f and f'.
    edges : (B+1,) bins over ``xlim``; counts : (E+1, B) the layer's z-values (all units,
        all samples) per bin at every epoch; ymax : the largest count over all epochs.
    xlim, ylim : fixed limits (ylim for the curves).
    saturated_beyond : |z| where a sigmoid/tanh unit counts as saturated, else None.
    dead_below : z below which a relu unit gives 0 and no gradient, else None.
    note : why there is no derivative curve (softmax), else empty.
    """

    layer_name: str
    activation_name: str
    xs: np.ndarray
    values: np.ndarray
    derivative: np.ndarray | None
    edges: np.ndarray
    counts: np.ndarray
    ymax: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    saturated_beyond: float | None = None
    dead_below: float | None = None
    note: str = ""


@dataclass(frozen=True)
class InternalsViews:
    """Every layer-internals view of a run, for every epoch.

    Attributes
    ----------
    run_name, n_epochs.
    z, activations, weights, gradients : :class:`LayerDistributionsView` each.
    stats : :class:`LayerStatsView`.
    explainers : one :class:`ActivationExplainerView` per layer (model order).
    """

    run_name: str
    n_epochs: int
    z: LayerDistributionsView
    activations: LayerDistributionsView
    weights: LayerDistributionsView
    gradients: LayerDistributionsView
    stats: LayerStatsView
    explainers: tuple[ActivationExplainerView, ...]

    @property
    def layer_names(self) -> tuple[str, ...]:
        return self.stats.layer_names

    def distribution(self, quantity: str) -> LayerDistributionsView:
        """The view of one of ``QUANTITIES``."""
        if quantity not in QUANTITIES:
            raise ViewUnavailableError(f"no layer view {quantity!r}; choose one of: "
                                       f"{', '.join(QUANTITIES)}")
        return getattr(self, quantity)

    def explainer(self, layer: str | None = None) -> ActivationExplainerView:
        """The explainer of ``layer`` (the last hidden layer when None)."""
        names = self.layer_names
        if layer is None:
            return self.explainers[max(len(names) - 2, 0)]
        if layer not in names:
            raise ViewUnavailableError(f"no layer {layer!r}; layers: {', '.join(names)}")
        return self.explainers[names.index(layer)]


@dataclass(frozen=True)
class _Block:
    """A Dense layer and the activations applied after it, up to the next Dense layer."""

    name: str
    kernel: np.ndarray  # (E+1, d_in, units)
    bias: np.ndarray | None  # (E+1, units)
    functions: tuple  # ((canonical name, forward, vjp, config), ...) in order
    activation_name: str  # the last non-identity activation ('linear' when none)


def _matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B`` over a leading epoch axis; a gemm per epoch for wide operands, where
    numpy's stacked matmul does not use BLAS well."""
    if A.shape[-1] * B.shape[-1] <= _BATCHED_MATMUL_MAX or A.shape[0] == 1:
        return np.matmul(A, B)
    out = np.empty((A.shape[0], A.shape[1], B.shape[2]), dtype=np.result_type(A, B))
    for e in range(A.shape[0]):
        np.matmul(A[e], B[e], out=out[e])
    return out


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
        self._pre: list = []  # weightless layers before the first Dense: forward only
        self.blocks = self._blocks()
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

    # -- structure ----------------------------------------------------------------------

    def _blocks(self) -> list[_Block]:
        blocks: list[dict] = []
        for layer in self.network.layers:
            fn = None
            if layer.activation_name != "linear":
                try:
                    vjp = activations.backprop(layer.activation_config)
                except ValueError as exc:
                    raise RunFileError(f"layer {layer.name!r}: {exc}") from exc
                fn = (layer.activation_name, layer.activation, vjp,
                      dict(layer.activation_config))
            if layer.has_weights:
                blocks.append({"name": layer.name, "kernel": layer.kernel, "bias": layer.bias,
                               "functions": [fn] if fn else []})
            elif fn is not None:
                (blocks[-1]["functions"] if blocks else self._pre).append(fn)
        return [_Block(name=b["name"], kernel=b["kernel"], bias=b["bias"],
                       functions=tuple(b["functions"]),
                       activation_name=b["functions"][-1][0] if b["functions"] else "linear")
                for b in blocks]

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
        """Forward and backward pass for a slice of epochs; arrays have a leading epoch
        axis."""
        X = self._inputs().astype(dtype, copy=False)
        n = X.shape[0]
        H = np.broadcast_to(X, (len(range(*epochs.indices(self.n_epochs + 1))), *X.shape))
        ins, zs, acts, trail = [], [], [], []
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            Z = _matmul(H, block.kernel[epochs].astype(dtype, copy=False))
            if block.bias is not None:
                Z += block.bias[epochs][:, None, :].astype(dtype, copy=False)
            steps = []  # (input, output, vjp) of each activation, to go back through
            A = Z
            for _, forward, vjp, _ in block.functions:
                out = forward(A)
                steps.append((A, out, vjp))
                A = out
            ins.append(H)
            zs.append(Z)
            acts.append(A)
            trail.append(steps)
            if i < last:
                H = A
        # d loss / d (input of the output's sigmoid or softmax) = (p - y) / N: the loss
        # Keras computes from the logits it keeps, so saturation does not clip it.
        P = acts[-1]
        G = P.copy()
        if self.loss_kind == "binary":
            G[..., 0] -= self.targets
            # from the logit, as Keras computes it, so it stays exact near 0 and 1
            z_out = trail[-1][-1][0][..., 0]
            loss = np.mean(np.logaddexp(0.0, z_out) - self.targets * z_out, axis=1)
        else:
            G[:, np.arange(n), self.targets] -= 1.0
            logits = trail[-1][-1][0]
            shifted = logits - logits.max(axis=2, keepdims=True)
            log_p = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
            loss = -np.mean(log_p[:, np.arange(n), self.targets], axis=1)
        G /= n
        k_grads: list = [None] * len(self.blocks)
        b_grads: list = [None] * len(self.blocks)
        for i in range(last, -1, -1):
            block = self.blocks[i]
            steps = trail[i][:-1] if i == last else trail[i]
            for x, y, vjp in reversed(steps):
                G = vjp(x, y, G)
            kernel = block.kernel[epochs].astype(dtype, copy=False)
            gk = _matmul(np.swapaxes(ins[i], 1, 2), G)
            if self.l2:
                gk += 2.0 * self.l2 * kernel
            if self.l1:
                gk += self.l1 * np.sign(kernel)
            k_grads[i] = gk
            if block.bias is not None:
                b_grads[i] = G.sum(axis=1)
            if i > 0:
                G = _matmul(G, np.swapaxes(kernel, 1, 2))
        return {"z": zs, "activations": acts, "kernel_gradients": k_grads,
                "bias_gradients": b_grads, "loss": loss}

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
            with _one_blas_thread():
                self._views = self._compute_views()
        return self._views

    def _compute_views(self) -> InternalsViews:
        n_states, n_layers = self.n_epochs + 1, len(self.blocks)
        hists = {q: _FineHistograms(n_states, n_layers) for q in QUANTITIES}
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
                if not _finite(r):
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

    def _explainer(self, i: int, z_hists: _FineHistograms) -> ActivationExplainerView:
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


class _FineHistograms:
    """Per (epoch, layer) a ``FINE_BINS`` histogram over its own [min, max]: enough to draw
    the distribution on any fixed axis and read its quartiles, without keeping the values.
    """

    def __init__(self, n_states: int, n_layers: int) -> None:
        self.counts = np.zeros((n_states, n_layers, FINE_BINS))
        self.lo = np.zeros((n_states, n_layers))
        self.hi = np.zeros((n_states, n_layers))
        self.std = np.zeros((n_states, n_layers))

    def add(self, epochs: slice, layer: int, values: np.ndarray) -> None:
        """``values`` (epochs in the slice, M): one histogram per row. A row holding
        values that are not finite (a diverged epoch) keeps no histogram: NaN extremes."""
        rows, m = values.shape
        with np.errstate(all="ignore"):
            self._add(epochs, layer, values, rows, m)

    def _add(self, epochs: slice, layer: int, values: np.ndarray, rows: int, m: int) -> None:
        values = values.astype(np.float64, copy=False)
        lo = values.min(axis=1)
        hi = values.max(axis=1)
        bad = ~(np.isfinite(lo) & np.isfinite(hi))
        if bad.any():
            values = np.where(bad[:, None], 0.0, values)
            lo = np.where(bad, np.nan, lo)
            hi = np.where(bad, np.nan, hi)
        self.lo[epochs, layer] = lo
        self.hi[epochs, layer] = hi
        mean = values.sum(axis=1) / m
        square = np.einsum("ij,ij->i", values, values) / m
        self.std[epochs, layer] = np.sqrt(np.maximum(square - mean * mean, 0.0))
        scale = FINE_BINS / np.where(hi > lo, hi - lo, 1.0)
        idx = ((values - lo[:, None]) * scale[:, None]).astype(np.intp)
        np.minimum(idx, FINE_BINS - 1, out=idx)
        np.maximum(idx, 0, out=idx)  # NaN of a diverged run
        idx += (np.arange(rows) * FINE_BINS)[:, None]
        counts = np.bincount(idx.ravel(), minlength=rows * FINE_BINS).reshape(rows, FINE_BINS)
        counts[bad] = 0
        self.counts[epochs, layer] = counts
        if bad.any():
            self.std[epochs, layer] = np.where(bad, np.nan, self.std[epochs, layer])

    def _cumulative(self) -> np.ndarray:
        """(E+1, L, FINE_BINS+1) cumulative shares at the fine bins' edges."""
        total = np.maximum(self.counts.sum(axis=2, keepdims=True), 1.0)
        cum = np.cumsum(self.counts, axis=2) / total
        return np.concatenate([np.zeros(cum.shape[:2] + (1,)), cum], axis=2)

    def cdf(self, x: np.ndarray, layers: slice | int = slice(None)) -> np.ndarray:
        """Share of values at or below each ``x`` (P,), per epoch and layer: (E+1, L', P),
        the histogram's piecewise-linear CDF."""
        cum = self._cumulative()[:, layers]
        lo, hi = self.lo[:, layers][..., None], self.hi[:, layers][..., None]
        width = np.where(hi > lo, hi - lo, 1.0)
        t = (np.asarray(x, dtype=np.float64) - lo) / width * FINE_BINS
        t = np.clip(np.nan_to_num(t, nan=0.0), 0.0, float(FINE_BINS))
        j = np.minimum(t.astype(np.intp), FINE_BINS - 1)
        below = np.take_along_axis(cum, j, axis=-1)
        above = np.take_along_axis(cum, j + 1, axis=-1)
        out = below + (t - j) * (above - below)
        # every value equal: a step at lo
        return np.where(hi > lo, out, (np.asarray(x) >= lo).astype(np.float64))

    def quantiles(self, qs: Sequence[float], layers: slice | int = slice(None)) -> np.ndarray:
        """(E+1, L', Q) the values below which the shares ``qs`` lie."""
        cum = self._cumulative()[:, layers]
        lo, hi = self.lo[:, layers][..., None], self.hi[:, layers][..., None]
        q = np.asarray(qs, dtype=np.float64)
        # first fine edge whose cumulative share reaches q, then linear within the bin
        j = np.argmax(cum[..., None, :] >= q[:, None] - 1e-12, axis=-1)  # (E, L', Q)
        j = np.clip(j, 1, FINE_BINS)
        below = np.take_along_axis(cum, j - 1, axis=-1)
        above = np.take_along_axis(cum, j, axis=-1)
        frac = np.divide(q - below, above - below, out=np.zeros_like(below),
                         where=above > below)
        pos = (j - 1 + np.clip(frac, 0.0, 1.0)) / FINE_BINS
        return lo + pos * (hi - lo)

    def robust_range(self, layer: int | None = None) -> tuple[float, float]:
        layers = slice(None) if layer is None else slice(layer, layer + 1)
        ends = self.quantiles([_TAIL, 1 - _TAIL], layers)
        finite = np.isfinite(ends).all(axis=-1)
        if not finite.any():
            raise ViewUnavailableError("the layer values are not finite numbers at any epoch "
                                       "(the run diverged), so their distributions cannot "
                                       "be drawn")
        lo, hi = float(ends[..., 0][finite].min()), float(ends[..., 1][finite].max())
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        return lo, hi

    def counts_on(self, edges: np.ndarray, layer: int) -> np.ndarray:
        """(E+1, B) counts of ``layer``'s values in ``edges`` (values outside left out),
        moved from the fine bins by linear interpolation of their CDF."""
        cdf = self.cdf(edges, slice(layer, layer + 1))[:, 0]
        return np.diff(cdf, axis=-1) * self.counts[:, layer].sum(axis=-1, keepdims=True)

    def view(self, quantity: str, names: tuple[str, ...], n_shown: int) -> LayerDistributionsView:
        """The violins of the first ``n_shown`` layers, on an axis that fits them."""
        shown = slice(0, n_shown)
        lows, highs = zip(*(self.robust_range(i) for i in range(n_shown)))
        lo, hi = min(lows), max(highs)
        span = hi - lo
        ylim = (lo - 0.04 * span, hi + 0.04 * span)
        edges = np.linspace(ylim[0], ylim[1], VIOLIN_BINS + 1)
        with np.errstate(invalid="ignore"):
            density = np.nan_to_num(np.diff(self.cdf(edges, shown), axis=-1))
        peak = density.max(axis=2, keepdims=True)
        density = np.divide(density, peak, out=np.zeros_like(density), where=peak > 0)
        return LayerDistributionsView(
            quantity=quantity, label=LABELS[quantity], layer_names=names[:n_shown],
            edges=edges, density=density, quartiles=self.quantiles([0.25, 0.5, 0.75], shown),
            extremes=np.stack([self.lo[:, shown], self.hi[:, shown]], axis=-1),
            std=self.std[:, shown].copy(), ylim=ylim)


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """BLAS on one thread for the pass: its products are small (N x 100 x 100), and on a
    busy machine OpenBLAS' threads wait on each other (a 1000 x 100 x 100 product took
    12 ms with 2 threads under load against 1 ms with one)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; without it BLAS keeps its threads
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _finite(result: dict[str, Any]) -> bool:
    """True when a pass's loss, z-values and gradients are all finite numbers."""
    return bool(np.isfinite(result["loss"]).all()
                and all(np.isfinite(g).all() for g in result["kernel_gradients"])
                and all(np.isfinite(z).all() for z in result["z"]))


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
