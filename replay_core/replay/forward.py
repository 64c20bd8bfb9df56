"""Forward pass of stored weights, vectorised over every epoch at once.

A run stores, for each layer of a Keras ``Sequential`` model, its weights at every
epoch: a kernel ``(E+1, d_in, d_out)`` and a bias ``(E+1, d_out)`` for Dense layers,
nothing for weightless layers (activation layers such as ``Activation``/``ReLU``/
``LeakyReLU``/``ELU``, or identity-at-inference layers such as ``Dropout``). ``Network``
runs inputs through those layers for all ``E+1`` weight states at once (a stacked
matrix product per layer, or one BLAS product per epoch for wider kernels), so a
10,000-point grid over 151 epochs costs a few tens of milliseconds per layer.

Inputs are either shared by all epochs, ``(N, d)``, or given per epoch,
``(E+1, N, d)`` (the output of an earlier layer); outputs are always ``(E+1, N, k)``.

Example
-------
>>> import numpy as np
>>> from replay_core.replay.forward import Network
>>> kernel = np.ones((3, 2, 1))               # 3 weight states (epochs 0..2), 2 -> 1
>>> bias = np.zeros((3, 1))
>>> net = Network.from_weights([[kernel, bias]], [{"name": "linear"}])
>>> net.forward(np.array([[1.0, 2.0]])).shape
(3, 1, 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from replay_core.data import activations
from replay_core.errors import RunFileError, ViewUnavailableError

# Elements of the widest intermediate array ``forward`` keeps at once (float64: 16 MB);
# above it the epochs are processed in chunks, which bounds memory and stays cache-sized.
CHUNK_ELEMENTS = 2_000_000
# Largest d_in x d_out kernel multiplied with one stacked matmul over the epochs.
_BATCHED_MATMUL_MAX = 8


@dataclass(frozen=True, eq=False)
class Layer:
    """One layer of a replayed network, with its weights at every epoch.

    Attributes
    ----------
    name : the Keras layer name.
    kernel : (E+1, d_in, d_out) Dense kernel per epoch, or None for a weightless layer.
    bias : (E+1, d_out) bias per epoch, or None (weightless, or ``use_bias=False``).
    activation : the numpy activation applied after the affine map (identity for none).
    activation_name : its canonical name in ``activations.ACTIVATIONS``.
    activation_config : the stored config the activation was built from.
    units : number of outputs of the layer.
    """

    name: str
    kernel: np.ndarray | None
    bias: np.ndarray | None
    activation: activations.Activation
    activation_name: str
    activation_config: Mapping[str, Any]
    units: int

    @property
    def has_weights(self) -> bool:
        """True for a Dense layer."""
        return self.kernel is not None

    @property
    def is_identity(self) -> bool:
        """True for a weightless layer without activation (Dropout, Flatten of 2-D...)."""
        return self.kernel is None and self.activation_name == "linear"


def dense(X: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
    """``X @ kernel + bias`` for every epoch.

    Parameters
    ----------
    X : (N, d) shared by all epochs, or (E, N, d) one per epoch.
    kernel : (E, d, k); bias : (E, k) or None.

    Returns
    -------
    np.ndarray
        (E, N, k)
    """
    n_states, d, k = kernel.shape
    if d * k <= _BATCHED_MATMUL_MAX:
        out = np.matmul(X, kernel)
    else:
        # numpy's stacked matmul does not use BLAS well for wider kernels; a gemm per
        # epoch does.
        out = np.empty((n_states, X.shape[-2], k), dtype=np.result_type(X, kernel))
        for e in range(n_states):
            np.matmul(X if X.ndim == 2 else X[e], kernel[e], out=out[e])
    if bias is not None:
        out += bias[:, None, :]
    return out


def _as_config(config: Any) -> dict[str, Any]:
    if config is None:
        return {"name": ""}
    if isinstance(config, str):
        return {"name": config}
    if isinstance(config, Mapping):
        return dict(config)
    raise RunFileError(f"an activation config is a dict with a 'name', got {config!r}")


class Network:
    """A sequential stack of Dense, activation and identity layers, for every epoch.

    Args:
        layers: the layers in model order.
        input_dim: number of input features (taken from the first Dense kernel when None).

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> weights = [[rng.normal(size=(4, 2, 2)), np.zeros((4, 2))],
    ...            [rng.normal(size=(4, 2, 1)), np.zeros((4, 1))]]
    >>> net = Network.from_weights(weights, [{"name": "tanh"}, {"name": "sigmoid"}],
    ...                            ["hidden", "output"])
    >>> [h.shape for h in net.layer_outputs(np.zeros((5, 2)))]
    [(4, 5, 2), (4, 5, 1)]
    """

    def __init__(self, layers: Sequence[Layer], input_dim: int | None = None) -> None:
        self.layers: tuple[Layer, ...] = tuple(layers)
        if not self.layers:
            raise RunFileError("a network needs at least one layer")
        dense_layers = [layer for layer in self.layers if layer.has_weights]
        if not dense_layers:
            raise RunFileError("the network has no layer with weights, so there is "
                               "nothing to replay")
        self.n_states: int = int(dense_layers[0].kernel.shape[0])
        if input_dim is None:
            input_dim = int(dense_layers[0].kernel.shape[1])
        self.input_dim: int = int(input_dim)

    @classmethod
    def from_weights(
        cls,
        weights: Sequence[Sequence[np.ndarray]],
        activation_config: Sequence[Mapping[str, Any] | str | None],
        layer_names: Sequence[str] | None = None,
        *,
        dtype: type = np.float64,
        context: str = "this run",
    ) -> Network:
        """Build the network from a run's stored weights and activation configs.

        Parameters
        ----------
        weights : one list per model layer: ``[kernel (E+1, d_in, d_out), bias (E+1, d_out)]``
            for Dense layers (bias optional), ``[]`` for weightless layers.
        activation_config : one entry per model layer, ``{"name": ..., **params}``; a
            weightless layer with a non-empty name applies that activation, with ``''``
            it is the identity.
        layer_names : one per layer (``layer0``, ``layer1``... when None).
        dtype : the floating type the weights are computed in.
        context : how error messages name the run (e.g. ``"run 'x' in runs.h5"``).

        Raises
        ------
        RunFileError
            Mismatched lengths or shapes, a layer type replay cannot run, or an unknown
            activation.
        """
        n = len(weights)
        names = [f"layer{i}" for i in range(n)] if layer_names is None else list(layer_names)
        if len(activation_config) != n or len(names) != n:
            raise RunFileError(
                f"{context} has weights for {n} layers but {len(activation_config)} "
                f"activation configs and {len(names)} layer names; they must match")
        layers: list[Layer] = []
        units: int | None = None
        n_states: int | None = None
        for arrays, config, name in zip(weights, activation_config, names):
            config = _as_config(config)
            try:
                act_name = activations.canonical_name(config)
                act = activations.get(config)
            except ValueError as exc:
                raise RunFileError(f"layer {name!r} of {context}: {exc}") from exc
            arrays = [np.asarray(a, dtype=dtype) for a in arrays]
            kernel = bias = None
            if arrays:
                kernel = arrays[0]
                bias = arrays[1] if len(arrays) > 1 else None
                if (len(arrays) > 2 or kernel.ndim != 3
                        or (bias is not None and bias.shape != (kernel.shape[0], kernel.shape[2]))):
                    shapes = ", ".join(str(a.shape) for a in arrays)
                    raise RunFileError(
                        f"layer {name!r} of {context} has weights of shapes {shapes}; replay "
                        "runs Dense layers (kernel (epochs, in, out) and optional bias "
                        "(epochs, out)) and weightless activation or identity layers only")
                if n_states is None:
                    n_states = kernel.shape[0]
                elif kernel.shape[0] != n_states:
                    raise RunFileError(
                        f"layer {name!r} of {context} stores {kernel.shape[0]} weight states "
                        f"but an earlier layer stores {n_states}; every layer needs one per "
                        "epoch plus the initial one")
                if units is not None and kernel.shape[1] != units:
                    raise RunFileError(
                        f"layer {name!r} of {context} takes {kernel.shape[1]} inputs but the "
                        f"layer before it gives {units}")
                units = int(kernel.shape[2])
            elif units is None:
                units = -1  # resolved once the first Dense layer gives the input width
            layers.append(Layer(name=str(name), kernel=kernel, bias=bias, activation=act,
                                activation_name=act_name, activation_config=config,
                                units=units))
        first_dense = next((i for i, layer in enumerate(layers) if layer.has_weights), None)
        if first_dense is None:
            raise RunFileError(f"{context} has no layer with weights, so there is nothing "
                               "to replay")
        width = int(layers[first_dense].kernel.shape[1])
        for i in range(first_dense):
            layers[i] = replace(layers[i], units=width)
        return cls(layers, input_dim=width)

    @property
    def n_epochs(self) -> int:
        """Number of epochs stored (weight states minus the initial one)."""
        return self.n_states - 1

    @property
    def names(self) -> list[str]:
        """Layer names, in model order."""
        return [layer.name for layer in self.layers]

    @property
    def units(self) -> list[int]:
        """Output width of every layer."""
        return [layer.units for layer in self.layers]

    def index(self, layer: str | int) -> int:
        """Position of a layer given by name or (possibly negative) index.

        Raises
        ------
        KeyError
            No layer with that name; IndexError: index out of range.
        """
        if isinstance(layer, (int, np.integer)):
            i = int(layer)
            if not -len(self.layers) <= i < len(self.layers):
                raise IndexError(f"layer index {i} out of range for {len(self.layers)} layers")
            return i % len(self.layers)
        names = self.names
        if layer not in names:
            raise KeyError(f"no layer named {layer!r}; layers: {', '.join(map(repr, names))}")
        return names.index(layer)

    def _input_width(self, start: int) -> int:
        return self.input_dim if start == 0 else self.layers[start - 1].units

    def _check_input(self, X: np.ndarray, start: int) -> np.ndarray:
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ViewUnavailableError(f"the network takes numeric inputs ({exc})") from exc
        width = self._input_width(start)
        if X.ndim == 2:
            ok = X.shape[1] == width
        elif X.ndim == 3:
            ok = X.shape[2] == width and X.shape[0] == self.n_states
        else:
            ok = False
        if not ok:
            where = "the network" if start == 0 else f"layer {self.layers[start].name!r}"
            raise ViewUnavailableError(
                f"{where} takes inputs of shape (N, {width}) or ({self.n_states}, N, {width}); "
                f"got {X.shape}")
        return X

    @staticmethod
    def _apply(layer: Layer, H: np.ndarray, epochs: slice) -> np.ndarray:
        if layer.has_weights:
            bias = None if layer.bias is None else layer.bias[epochs]
            H = dense(H, layer.kernel[epochs], bias)
        if layer.activation_name != "linear":
            H = layer.activation(H)
        return H

    def layer_outputs(self, X: np.ndarray, start: int = 0,
                      stop: int | None = None) -> list[np.ndarray]:
        """Output of every layer from ``start`` up to (not including) ``stop``.

        Parameters
        ----------
        X : the input of layer ``start``: (N, d) shared by all epochs or (E+1, N, d).
        start, stop : layer positions (``stop`` None = through the last layer).

        Returns
        -------
        list of np.ndarray
            One (E+1, N, units) array per layer in ``range(start, stop)``.
        """
        stop = len(self.layers) if stop is None else stop
        H = self._check_input(X, start)
        epochs = slice(None)
        outputs = []
        for layer in self.layers[start:stop]:
            H = self._apply(layer, H, epochs)
            if H.ndim == 2:  # weightless layers before the first Dense keep shared inputs
                H = np.array(np.broadcast_to(H, (self.n_states, *H.shape)))
            outputs.append(H)
        return outputs

    def forward(self, X: np.ndarray, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Output of layer ``stop - 1`` (the network's output by default) for every epoch.

        Runs layers ``start .. stop-1``: ``start > 0`` replays "the rest of the network"
        from an intermediate layer, given that layer's input. Epochs are processed in
        chunks so no intermediate array exceeds ``CHUNK_ELEMENTS`` elements.

        Parameters
        ----------
        X : input of layer ``start``: (N, d) shared by all epochs or (E+1, N, d).
        start, stop : layer positions; ``start == stop`` returns the input per epoch.

        Returns
        -------
        np.ndarray
            (E+1, N, units of layer stop-1)
        """
        stop = len(self.layers) if stop is None else stop
        X = self._check_input(X, start)
        n_points = X.shape[-2]
        layers = self.layers[start:stop]
        if not layers:
            return np.array(np.broadcast_to(X, (self.n_states, *X.shape[-2:])))
        widest = max([X.shape[-1], *(layer.units for layer in layers)])
        chunk = max(1, CHUNK_ELEMENTS // max(1, n_points * widest))
        if chunk >= self.n_states:
            return self.layer_outputs(X, start, stop)[-1]
        out = np.empty((self.n_states, n_points, layers[-1].units), dtype=np.float64)
        for e0 in range(0, self.n_states, chunk):
            epochs = slice(e0, min(e0 + chunk, self.n_states))
            H = X[epochs] if X.ndim == 3 else X
            for layer in layers:
                H = self._apply(layer, H, epochs)
            out[epochs] = H
        return out


def layer_outputs(
    weights: Sequence[Sequence[np.ndarray]],
    activation_config: Sequence[Mapping[str, Any] | str | None],
    X: np.ndarray,
    start: int = 0,
) -> list[np.ndarray]:
    """Every layer's output (E+1, N, units) for inputs ``X``, straight from stored weights.

    A shortcut for ``Network.from_weights(weights, activation_config).layer_outputs(X,
    start)``; see there.
    """
    return Network.from_weights(weights, activation_config).layer_outputs(X, start)
