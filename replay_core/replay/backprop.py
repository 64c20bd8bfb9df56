"""A numpy forward and backward pass of stored weights, for a slice of epochs at once.

The network is cut into blocks: a Dense layer with the activations applied after it, up
to the next Dense layer (DeepReplay files record ``Activation`` as a layer of its own).
``forward_backward`` returns every block's z-values (the Dense output before any
activation), activations and the gradients of the training loss (the mean binary
cross-entropy of a sigmoid output unit, or the mean sparse categorical cross-entropy of a
softmax output, plus the kernels' L1/L2 penalty) with respect to every kernel and bias.

Example
-------
>>> import numpy as np
>>> from replay_core.replay.forward import Network
>>> rng = np.random.default_rng(0)
>>> net = Network.from_weights([[rng.normal(size=(4, 2, 3)), np.zeros((4, 3))],
...                             [rng.normal(size=(4, 3, 1)), np.zeros((4, 1))]],
...                            ["relu", "sigmoid"])
>>> pre, blocks = build_blocks(net)
>>> r = forward_backward(rng.normal(size=(20, 2)), blocks, rng.integers(0, 2, 20),
...                      "binary", slice(0, 4))
>>> r["kernel_gradients"][0].shape
(4, 2, 3)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from replay_core.data import activations
from replay_core.errors import RunFileError
from replay_core.replay.forward import Network

_BATCHED_MATMUL_MAX = 64
"""Largest d_in x d_out product done as one stacked matmul over the epochs."""


@dataclass(frozen=True)
class Block:
    """A Dense layer and the activations applied after it, up to the next Dense layer."""

    name: str
    kernel: np.ndarray  # (E+1, d_in, units)
    bias: np.ndarray | None  # (E+1, units)
    functions: tuple  # ((canonical name, forward, vjp, config), ...) in order
    activation_name: str  # the last non-identity activation ('linear' when none)


def build_blocks(network: Network) -> tuple[list, list[Block]]:
    """``(pre, blocks)``: the activations applied before the first Dense layer (forward
    only, as ``(name, forward, vjp, config)``) and the network's blocks in order.

    Raises
    ------
    RunFileError
        An activation without a known derivative.
    """
    pre: list = []
    blocks: list[dict] = []
    for layer in network.layers:
        fn = None
        if layer.activation_name != "linear":
            try:
                vjp = activations.backprop(layer.activation_config)
            except ValueError as exc:
                raise RunFileError(f"layer {layer.name!r}: {exc}") from exc
            fn = (layer.activation_name, layer.activation, vjp, dict(layer.activation_config))
        if layer.has_weights:
            blocks.append({"name": layer.name, "kernel": layer.kernel, "bias": layer.bias,
                           "functions": [fn] if fn else []})
        elif fn is not None:
            (blocks[-1]["functions"] if blocks else pre).append(fn)
    return pre, [Block(name=b["name"], kernel=b["kernel"], bias=b["bias"],
                       functions=tuple(b["functions"]),
                       activation_name=b["functions"][-1][0] if b["functions"] else "linear")
                 for b in blocks]


def matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A @ B`` over a leading epoch axis; a gemm per epoch for wide operands, where
    numpy's stacked matmul does not use BLAS well."""
    if A.shape[-1] * B.shape[-1] <= _BATCHED_MATMUL_MAX or A.shape[0] == 1:
        return np.matmul(A, B)
    out = np.empty((A.shape[0], A.shape[1], B.shape[2]), dtype=np.result_type(A, B))
    for e in range(A.shape[0]):
        np.matmul(A[e], B[e], out=out[e])
    return out


def forward_backward(X: np.ndarray, blocks: list[Block], targets: np.ndarray,
                     loss_kind: str, epochs: slice, dtype: type = np.float64,
                     l1: float = 0.0, l2: float = 0.0) -> dict[str, Any]:
    """Forward and backward pass of ``blocks`` for a slice of epochs.

    Parameters
    ----------
    X : (N, d) inputs (after the activations before the first block).
    targets : (N,) class indices; loss_kind : "binary" (one sigmoid unit) or
        "categorical" (softmax).
    epochs : the weight states; dtype : the arithmetic's float type.
    l1, l2 : the kernels' regularisation factors.

    Returns
    -------
    dict
        ``z``, ``activations``: per block (S, N, units); ``kernel_gradients`` per block
        (S, d_in, units); ``bias_gradients`` per block (S, units) or None; ``loss`` (S,)
        the mean loss without the penalty, for the S epochs of the slice.
    """
    X = X.astype(dtype, copy=False)
    n = X.shape[0]
    n_states = blocks[0].kernel.shape[0]
    H = np.broadcast_to(X, (len(range(*epochs.indices(n_states))), *X.shape))
    ins, zs, acts, trail = [], [], [], []
    last = len(blocks) - 1
    for i, block in enumerate(blocks):
        Z = matmul(H, block.kernel[epochs].astype(dtype, copy=False))
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
    if loss_kind == "binary":
        G[..., 0] -= targets
        # from the logit, as Keras computes it, so it stays exact near 0 and 1
        z_out = trail[-1][-1][0][..., 0]
        loss = np.mean(np.logaddexp(0.0, z_out) - targets * z_out, axis=1)
    else:
        G[:, np.arange(n), targets] -= 1.0
        logits = trail[-1][-1][0]
        shifted = logits - logits.max(axis=2, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
        loss = -np.mean(log_p[:, np.arange(n), targets], axis=1)
    G /= n
    k_grads: list = [None] * len(blocks)
    b_grads: list = [None] * len(blocks)
    for i in range(last, -1, -1):
        block = blocks[i]
        steps = trail[i][:-1] if i == last else trail[i]
        for x, y, vjp in reversed(steps):
            G = vjp(x, y, G)
        kernel = block.kernel[epochs].astype(dtype, copy=False)
        gk = matmul(np.swapaxes(ins[i], 1, 2), G)
        if l2:
            gk += 2.0 * l2 * kernel
        if l1:
            gk += l1 * np.sign(kernel)
        k_grads[i] = gk
        if block.bias is not None:
            b_grads[i] = G.sum(axis=1)
        if i > 0:
            G = matmul(G, np.swapaxes(kernel, 1, 2))
    return {"z": zs, "activations": acts, "kernel_gradients": k_grads,
            "bias_gradients": b_grads, "loss": loss}


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
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


def finite(result: dict[str, Any]) -> bool:
    """True when a pass's loss, z-values and gradients are all finite numbers."""
    return bool(np.isfinite(result["loss"]).all()
                and all(np.isfinite(g).all() for g in result["kernel_gradients"])
                and all(np.isfinite(z).all() for z in result["z"]))
