"""The layer-internals views: per-layer distributions, statistics and activation explainers.

Frozen dataclasses of arrays covering every epoch, computed by ``internals.Internals`` and
drawn by ``render.internals``; ``EpochInternals`` holds one epoch's exact arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from replay_core.errors import ViewUnavailableError

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
