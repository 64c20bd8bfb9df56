"""Checking one field of a spec: a number in its range, a choice, a flag, known keys.

Every check raises ``ValueError`` with one sentence naming the field's path (e.g.
``training.lr must be in (0, 10], got 20``); :func:`json_depth` bounds a spec's nesting
before its JSON is parsed. ``spec`` holds the dataclasses that use them.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import fields
from typing import Any

__all__ = ["boolean", "choice", "from_mapping", "json_depth", "number", "set_frozen"]


def number(path: str, value: Any, low: float, high: float, *, integer: bool = False,
           low_open: bool = False) -> float | int:
    """``value`` as an int (``integer``) or float in [low, high] (``(low, high]`` when
    ``low_open``); raises ``ValueError`` naming ``path`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{path} must be a number, got {value!r}")
    if isinstance(value, numbers.Integral) and not low <= value <= high:
        # Checked before any float(): a huge JSON integer would overflow it.
        bracket = "(" if low_open else "["
        raise ValueError(f"{path} must be in {bracket}{low:g}, {high:g}], got {value}")
    if not math.isfinite(value):
        raise ValueError(f"{path} must be a finite number, got {value!r}")
    if integer:
        if float(value) != int(value):
            raise ValueError(f"{path} must be a whole number, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    below = value <= low if low_open else value < low
    if below or value > high:
        bracket = "(" if low_open else "["
        raise ValueError(f"{path} must be in {bracket}{low:g}, {high:g}], got {value:g}")
    return value


def choice(path: str, value: Any, allowed: tuple[str, ...]) -> str:
    """``value`` when it is one of ``allowed``; raises ``ValueError`` naming ``path``."""
    if value not in allowed:
        raise ValueError(f"{path} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def boolean(path: str, value: Any) -> bool:
    """``value`` when it is a bool; raises ``ValueError`` naming ``path``."""
    if not isinstance(value, bool):
        raise ValueError(f"{path} must be true or false, got {value!r}")
    return value


def set_frozen(obj: Any, name: str, value: Any) -> None:
    """Set a field of a frozen dataclass while it checks itself (``__post_init__``)."""
    object.__setattr__(obj, name, value)


def json_depth(text: str) -> int:
    """How deeply ``[`` and ``{`` nest in ``text`` (brackets inside strings do not count).

    One pass, no recursion, so it is safe on any input, e.g. a link of 100,000 ``[``.
    """
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def from_mapping(cls: type, data: Any, path: str) -> Any:
    """``data`` when it is a dict of ``cls``'s fields only; raises ``ValueError`` naming
    the first unknown field otherwise."""
    if not isinstance(data, dict):
        raise ValueError(f"{path} must be an object, got {type(data).__name__}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown field {path}.{unknown[0]}; known fields: {', '.join(sorted(names))}")
    return data
