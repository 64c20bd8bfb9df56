"""Keras 3 activation functions in numpy, so a run replays without TensorFlow.

Kept whole on purpose (about 600 lines): the tables of every activation's value,
derivative and output range sit side by side, so a new activation is added in one place.

Each function follows the formula Keras 3 uses on the TensorFlow backend, keeps the
input's floating dtype (float32 stays float32) and is numerically stable where Keras is
(softplus, softmax, sigmoid). ``get`` turns a stored activation name or config (the
``activation_config`` entries of a run file, e.g. ``{"name": "leaky_relu",
"negative_slope": 0.3}``) into a callable.

Example
-------
>>> import numpy as np
>>> from replay_core.data import activations
>>> f = activations.get({"name": "leaky_relu", "negative_slope": 0.3})
>>> f(np.array([-1.0, 2.0]))
array([-0.3,  2. ])
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


class _SciPySpecial:
    """``scipy.special``, imported on first use: the app's first page lists activation
    names and never evaluates one, and scipy costs about half a second to import."""

    def __getattr__(self, name: str) -> Any:
        from scipy import special as module

        return getattr(module, name)


special = _SciPySpecial()

Activation = Callable[[np.ndarray], np.ndarray]

# Keras' SELU constants (Klambauer et al., 2017), as in tf.nn.selu.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_GELU_TANH_C = 0.7978845608028654  # sqrt(2 / pi)
_SQRT_HALF = 0.7071067811865476

# Keys of a stored activation config that describe the layer, not the function.
_NON_PARAM_KEYS = frozenset({"name", "layer", "dtype", "trainable"})


def _float(x: Any) -> np.ndarray:
    """``x`` as a floating array (integers become float64, float32 stays float32)."""
    a = np.asarray(x)
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


def linear(x: np.ndarray) -> np.ndarray:
    """Identity: ``x``."""
    return _float(x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))``, without overflow for large ``|x|``."""
    return special.expit(_float(x))


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent."""
    return np.tanh(_float(x))


def relu(x: np.ndarray, negative_slope: float = 0.0, max_value: float | None = None,
         threshold: float = 0.0) -> np.ndarray:
    """Rectified linear unit with Keras 3's ``negative_slope``, ``max_value``, ``threshold``.

    ``x`` above ``threshold`` passes (clipped to ``max_value``); below it the output is
    ``negative_slope * (x - threshold)``.
    """
    x = _float(x)
    slope = float(negative_slope)
    threshold = float(threshold)
    if slope != 0.0 and max_value is None and threshold == 0.0:
        return leaky_relu(x, slope)
    negative_part = np.maximum(threshold - x, 0.0) if slope != 0.0 else None
    # Keras casts threshold and max_value through float32 (tf.cast of a Python float),
    # which decides inputs lying exactly on the threshold.
    if threshold != 0.0:
        out = np.where(x > x.dtype.type(np.float32(threshold)), x, 0.0)
    else:
        out = np.maximum(x, 0.0)
    if max_value is not None:
        out = np.clip(out, 0.0, x.dtype.type(np.float32(max_value)))
    if negative_part is not None:
        out = out - slope * negative_part
    return out.astype(x.dtype, copy=False)


def leaky_relu(x: np.ndarray, negative_slope: float = 0.2) -> np.ndarray:
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise (Keras' default slope 0.2)."""
    x = _float(x)
    slope = float(negative_slope)
    out = x * slope
    # max(slope*x, x) is x above 0 and slope*x below for slope <= 1 (min for slope > 1).
    return np.maximum(out, x, out=out) if slope <= 1.0 else np.minimum(out, x, out=out)


def relu6(x: np.ndarray) -> np.ndarray:
    """``min(max(x, 0), 6)``."""
    return np.clip(_float(x), 0.0, 6.0)


def elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise."""
    x = _float(x)
    return np.where(x > 0, x, float(alpha) * np.expm1(np.minimum(x, 0.0)))


def selu(x: np.ndarray) -> np.ndarray:
    """``scale * elu(x, alpha)`` with Keras' fixed SELU constants."""
    x = _float(x)
    return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))


def celu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """``max(x, 0) + alpha * (exp(min(x, 0) / alpha) - 1)``."""
    x = _float(x)
    alpha = float(alpha)
    return np.maximum(x, 0.0) + alpha * np.expm1(np.minimum(x, 0.0) / alpha)


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))``, computed as ``logaddexp(0, x)`` so it never overflows."""
    x = _float(x)
    return np.logaddexp(x.dtype.type(0), x)


def softsign(x: np.ndarray) -> np.ndarray:
    """``x / (1 + |x|)``."""
    x = _float(x)
    return x / (1.0 + np.abs(x))


def gelu(x: np.ndarray, approximate: bool = False) -> np.ndarray:
    """Gaussian error linear unit: exact (erf) form, or the tanh form when ``approximate``."""
    x = _float(x)
    if approximate:
        return 0.5 * x * (1.0 + np.tanh(_GELU_TANH_C * (x + 0.044715 * x**3)))
    return 0.5 * x * (1.0 + special.erf(x * _SQRT_HALF))


def silu(x: np.ndarray) -> np.ndarray:
    """Swish / SiLU: ``x * sigmoid(x)``."""
    x = _float(x)
    return x * special.expit(x)


def hard_sigmoid(x: np.ndarray) -> np.ndarray:
    """Keras 3's ``relu6(x + 3) / 6``."""
    return relu6(_float(x) + 3.0) / 6.0


def hard_silu(x: np.ndarray) -> np.ndarray:
    """``x * hard_sigmoid(x)``."""
    x = _float(x)
    return x * hard_sigmoid(x)


def hard_tanh(x: np.ndarray) -> np.ndarray:
    """``clip(x, -1, 1)``."""
    return np.clip(_float(x), -1.0, 1.0)


def mish(x: np.ndarray) -> np.ndarray:
    """``x * tanh(softplus(x))``."""
    x = _float(x)
    return x * np.tanh(softplus(x))


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    """``log(sigmoid(x)) = -softplus(-x)``."""
    return -softplus(-_float(x))


def exponential(x: np.ndarray) -> np.ndarray:
    """``exp(x)``."""
    return np.exp(_float(x))


def squareplus(x: np.ndarray, b: float = 4.0) -> np.ndarray:
    """``(x + sqrt(x**2 + b)) / 2``."""
    x = _float(x)
    return (x + np.sqrt(x * x + float(b))) / 2.0


def sparse_sigmoid(x: np.ndarray) -> np.ndarray:
    """0 below -1, 1 above 1, ``(x + 1) / 2`` between."""
    return np.clip(0.5 * (_float(x) + 1.0), 0.0, 1.0)


def sparse_plus(x: np.ndarray) -> np.ndarray:
    """0 at or below -1, ``x`` at or above 1, ``(x + 1)**2 / 4`` between."""
    x = _float(x)
    return np.where(x <= -1, 0.0, np.where(x < 1, 0.25 * (x + 1.0) ** 2, x)).astype(x.dtype)


def soft_shrink(x: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """``x - t`` above ``t``, ``x + t`` below ``-t``, 0 between."""
    x = _float(x)
    t = float(threshold)
    return np.where(x > t, x - t, np.where(x < -t, x + t, 0.0)).astype(x.dtype)


def hard_shrink(x: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """``x`` where ``|x| > threshold``, 0 elsewhere."""
    x = _float(x)
    return np.where(np.abs(x) > float(threshold), x, 0.0).astype(x.dtype)


def tanh_shrink(x: np.ndarray) -> np.ndarray:
    """``x - tanh(x)``."""
    x = _float(x)
    return x - np.tanh(x)


def threshold(x: np.ndarray, threshold: float, default_value: float) -> np.ndarray:
    """``x`` above ``threshold``, ``default_value`` elsewhere."""
    x = _float(x)
    return np.where(x > float(threshold), x, float(default_value)).astype(x.dtype)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log(softmax(x))`` along ``axis``, computed without forming the softmax."""
    x = _float(x)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``exp(x) / sum(exp(x))`` along ``axis`` (the last by default), shifted by the max."""
    x = _float(x)
    z = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return z / np.sum(z, axis=axis, keepdims=True)


ACTIVATIONS: dict[str, Activation] = {
    "linear": linear,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "relu6": relu6,
    "elu": elu,
    "selu": selu,
    "celu": celu,
    "softplus": softplus,
    "softsign": softsign,
    "gelu": gelu,
    "silu": silu,
    "hard_sigmoid": hard_sigmoid,
    "hard_silu": hard_silu,
    "hard_tanh": hard_tanh,
    "mish": mish,
    "log_sigmoid": log_sigmoid,
    "exponential": exponential,
    "squareplus": squareplus,
    "sparse_sigmoid": sparse_sigmoid,
    "sparse_plus": sparse_plus,
    "soft_shrink": soft_shrink,
    "hard_shrink": hard_shrink,
    "tanh_shrink": tanh_shrink,
    "threshold": threshold,
    "softmax": softmax,
    "log_softmax": log_softmax,
}
"""Every activation replay knows, by its Keras 3 name."""

ALIASES: dict[str, str] = {"": "linear", "none": "linear", "swish": "silu",
                           "hard_swish": "hard_silu"}
"""Other names Keras uses for the same functions (``''`` is a layer without activation)."""

OUTPUT_RANGES: dict[str, tuple[float, float]] = {
    "sigmoid": (0.0, 1.0),
    "hard_sigmoid": (0.0, 1.0),
    "sparse_sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "softsign": (-1.0, 1.0),
    "hard_tanh": (-1.0, 1.0),
    "softmax": (0.0, 1.0),
    "relu6": (0.0, 6.0),
}
"""Bounded activations and the closed range their outputs lie in."""


# -- derivatives ------------------------------------------------------------------------
# d f / d x of every elementwise activation, as the TensorFlow backend's gradients give it
# (at a kink the side TensorFlow picks: relu'(0) = 0, leaky_relu'(0) = negative_slope).
# softmax and log_softmax are not elementwise: ``backprop`` gives their vector-Jacobian
# product instead.


def _ones(x: np.ndarray) -> np.ndarray:
    return np.ones_like(x)


def _d_sigmoid(x: np.ndarray) -> np.ndarray:
    s = special.expit(x)
    return s * (1.0 - s)


def _d_tanh(x: np.ndarray) -> np.ndarray:
    t = np.tanh(x)
    return 1.0 - t * t


def _step(mask: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return mask.astype(dtype)


def _d_relu(x: np.ndarray, negative_slope: float = 0.0, max_value: float | None = None,
            threshold: float = 0.0) -> np.ndarray:
    slope, thr = float(negative_slope), float(threshold)
    if slope != 0.0 and max_value is None and thr == 0.0:
        return _d_leaky_relu(x, slope)
    above = x > (x.dtype.type(np.float32(thr)) if thr != 0.0 else 0.0)
    if max_value is not None:
        # the passed part is clipped to [0, max_value]: no gradient outside (a negative
        # threshold passes values below 0, which the clip then stops)
        above &= (x >= 0) & (x <= x.dtype.type(np.float32(max_value)))
    out = _step(above, x.dtype)
    if slope != 0.0:
        out += slope * (x < thr)
    return out


def _d_leaky_relu(x: np.ndarray, negative_slope: float = 0.2) -> np.ndarray:
    return np.where(x > 0, 1.0, float(negative_slope)).astype(x.dtype)


def _d_relu6(x: np.ndarray) -> np.ndarray:
    return _step((x > 0) & (x < 6), x.dtype)


def _d_elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    return np.where(x > 0, 1.0, float(alpha) * np.exp(np.minimum(x, 0.0))).astype(x.dtype)


def _d_selu(x: np.ndarray) -> np.ndarray:
    return (SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0.0)))
            ).astype(x.dtype)


def _d_celu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0) / float(alpha))).astype(x.dtype)


def _d_softplus(x: np.ndarray) -> np.ndarray:
    return special.expit(x)


def _d_softsign(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.abs(x)) ** 2


def _d_gelu(x: np.ndarray, approximate: bool = False) -> np.ndarray:
    if approximate:
        t = np.tanh(_GELU_TANH_C * (x + 0.044715 * x**3))
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _GELU_TANH_C * (
            1.0 + 3 * 0.044715 * x * x)
    return 0.5 * (1.0 + special.erf(x * _SQRT_HALF)) + x * np.exp(-0.5 * x * x) * (
        _SQRT_HALF / math.sqrt(math.pi))


def _d_silu(x: np.ndarray) -> np.ndarray:
    s = special.expit(x)
    return s * (1.0 + x * (1.0 - s))


def _d_hard_sigmoid(x: np.ndarray) -> np.ndarray:
    return _step((x > -3) & (x < 3), x.dtype) / 6.0


def _d_hard_silu(x: np.ndarray) -> np.ndarray:
    return hard_sigmoid(x) + x * _d_hard_sigmoid(x)


def _d_hard_tanh(x: np.ndarray) -> np.ndarray:
    return _step((x >= -1) & (x <= 1), x.dtype)


def _d_mish(x: np.ndarray) -> np.ndarray:
    t = np.tanh(softplus(x))
    return t + x * (1.0 - t * t) * special.expit(x)


def _d_log_sigmoid(x: np.ndarray) -> np.ndarray:
    return special.expit(-x)


def _d_squareplus(x: np.ndarray, b: float = 4.0) -> np.ndarray:
    return 0.5 * (1.0 + x / np.sqrt(x * x + float(b)))


def _d_sparse_sigmoid(x: np.ndarray) -> np.ndarray:
    return _step((x > -1) & (x < 1), x.dtype) * 0.5


def _d_sparse_plus(x: np.ndarray) -> np.ndarray:
    return np.where(x <= -1, 0.0, np.where(x < 1, 0.5 * (x + 1.0), 1.0)).astype(x.dtype)


def _d_shrink(x: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    return _step(np.abs(x) > float(threshold), x.dtype)


def _d_tanh_shrink(x: np.ndarray) -> np.ndarray:
    t = np.tanh(x)
    return t * t


def _d_threshold(x: np.ndarray, threshold: float, default_value: float) -> np.ndarray:
    return _step(x > float(threshold), x.dtype)


DERIVATIVES: dict[str, Activation] = {
    "linear": _ones,
    "sigmoid": _d_sigmoid,
    "tanh": _d_tanh,
    "relu": _d_relu,
    "leaky_relu": _d_leaky_relu,
    "relu6": _d_relu6,
    "elu": _d_elu,
    "selu": _d_selu,
    "celu": _d_celu,
    "softplus": _d_softplus,
    "softsign": _d_softsign,
    "gelu": _d_gelu,
    "silu": _d_silu,
    "hard_sigmoid": _d_hard_sigmoid,
    "hard_silu": _d_hard_silu,
    "hard_tanh": _d_hard_tanh,
    "mish": _d_mish,
    "log_sigmoid": _d_log_sigmoid,
    "exponential": exponential,
    "squareplus": _d_squareplus,
    "sparse_sigmoid": _d_sparse_sigmoid,
    "sparse_plus": _d_sparse_plus,
    "soft_shrink": _d_shrink,
    "hard_shrink": _d_shrink,
    "tanh_shrink": _d_tanh_shrink,
    "threshold": _d_threshold,
}
"""The derivative of every elementwise activation, by its Keras 3 name."""

NOT_ELEMENTWISE = frozenset({"softmax", "log_softmax"})
"""Activations that mix the units of a sample (no elementwise derivative)."""


def _split(name_or_config: str | Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    if name_or_config is None:
        return "", {}
    if isinstance(name_or_config, str):
        return name_or_config, {}
    if isinstance(name_or_config, Mapping):
        name = name_or_config.get("name", "")
        if not isinstance(name, str):
            raise ValueError(f"activation config {dict(name_or_config)!r} has a non-string "
                             "'name'")
        params = {k: v for k, v in name_or_config.items() if k not in _NON_PARAM_KEYS}
        return name, params
    raise ValueError(f"an activation is a name or a config dict with a 'name', "
                     f"got {type(name_or_config).__name__}")


def canonical_name(name_or_config: str | Mapping[str, Any] | None) -> str:
    """The key in ``ACTIVATIONS`` of a name or config (``'swish'`` -> ``'silu'``).

    Raises
    ------
    ValueError
        When the name is not one replay knows; the message lists the known ones.
    """
    name, _ = _split(name_or_config)
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in ACTIVATIONS:
        known = ", ".join(sorted(set(ACTIVATIONS) | set(ALIASES) - {""}))
        raise ValueError(f"unknown activation {name!r}; known activations: {known}")
    return key


def _check_param(key: str, param: str, value: Any, default: Any) -> None:
    """A stored parameter of the right kind, so the function cannot fail when called.

    Configs come from run files, which may come from anywhere: ``axis`` must be an axis
    of the (epochs, samples, units) arrays replay passes (-3 to 2), ``approximate`` a bool,
    ``max_value`` None or a number, every other parameter a finite number.
    """
    if param == "axis":
        ok, want = type(value) is int and -3 <= value <= 2, "a whole number from -3 to 2"
    elif isinstance(default, bool):
        ok, want = isinstance(value, bool), "true or false"
    else:
        ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
              and math.isfinite(value)) or (param == "max_value" and value is None)
        want = "a finite number"
    if not ok:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise ValueError(f"activation {key!r} parameter {param} must be {want}, got {shown}")


def get(name_or_config: str | Mapping[str, Any] | None) -> Activation:
    """The numpy activation for a name (``'relu'``) or config (``{"name": "elu", "alpha": 1.0}``).

    Parameters in the config are bound to the function; ``''``, ``'linear'`` and None
    give the identity. Keys ``layer``, ``dtype`` and ``trainable`` are ignored.

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones), or a parameter the activation
        does not take.
    """
    name, params = _split(name_or_config)
    key = canonical_name(name)
    return _bind(ACTIVATIONS[key], key, params)


def _bind(func: Activation, key: str, params: dict[str, Any]) -> Activation:
    """``func`` with the checked ``params`` of activation ``key`` bound."""
    signature = inspect.signature(func).parameters
    accepted = [p for p in signature if p != "x"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        takes = ", ".join(accepted) if accepted else "no parameters"
        raise ValueError(f"activation {key!r} takes {takes}; got unknown "
                         f"parameter(s) {', '.join(unknown)}")
    missing = [p for p in accepted if signature[p].default is inspect.Parameter.empty
               and p not in params]
    if missing:
        raise ValueError(f"activation {key!r} needs parameter(s) {', '.join(missing)}")
    for param, value in params.items():
        _check_param(key, param, value, signature[param].default)
    if not params:
        return func
    bound = functools.partial(func, **params)
    functools.update_wrapper(bound, func)
    return bound


def output_range(name_or_config: str | Mapping[str, Any] | None) -> tuple[float, float] | None:
    """The closed range of a bounded activation's outputs, or None when unbounded."""
    return OUTPUT_RANGES.get(canonical_name(name_or_config))


def derivative(name_or_config: str | Mapping[str, Any] | None) -> Activation:
    """The elementwise derivative ``f'(x)`` of an activation, parameters bound.

    Raises
    ------
    ValueError
        Unknown name or parameter (as :func:`get`), or softmax / log_softmax, which have
        no elementwise derivative (see :func:`backprop`).
    """
    name, params = _split(name_or_config)
    key = canonical_name(name)
    if key in NOT_ELEMENTWISE:
        raise ValueError(f"activation {key!r} mixes the units of a sample and has no "
                         "elementwise derivative")
    get(name_or_config)  # the same parameter checks as the activation itself
    return _bind(DERIVATIVES[key], key, params)


Backprop = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def backprop(name_or_config: str | Mapping[str, Any] | None) -> Backprop:
    """``vjp(x, y, g)``: the gradient with respect to the input ``x`` of an activation,
    given its output ``y = f(x)`` and the gradient ``g`` with respect to ``y``.

    Elementwise activations give ``g * f'(x)``; softmax ``y * (g - sum(g * y))`` and
    log_softmax ``g - softmax(x) * sum(g)`` along their axis.

    Example
    -------
    >>> vjp = backprop("relu")
    >>> vjp(np.array([-1.0, 2.0]), np.array([0.0, 2.0]), np.array([5.0, 5.0]))
    array([0., 5.])
    """
    name, params = _split(name_or_config)
    key = canonical_name(name)
    get(name_or_config)
    if key == "softmax":
        axis = int(params.get("axis", -1))
        return lambda x, y, g: y * (g - np.sum(g * y, axis=axis, keepdims=True))
    if key == "log_softmax":
        axis = int(params.get("axis", -1))
        return lambda x, y, g: g - np.exp(y) * np.sum(g, axis=axis, keepdims=True)
    if key == "linear":
        return lambda x, y, g: g
    d = _bind(DERIVATIVES[key], key, params)
    return lambda x, y, g: g * d(x)
