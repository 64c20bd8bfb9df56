"""Cheap checks that keep a read of an HDF5 file inside that file and inside our limits.

An HDF5 file can point outside itself (soft and external links, datasets with external
storage, virtual datasets), declare far more data than it stores (a chunked, compressed
dataset that was never written: a "shape bomb"), nest groups deep enough to crash the
library's recursive copy, and hold attributes or JSON that cost more to parse than the
file is worth. These checks look at metadata only (link types, creation property lists,
shapes, attribute headers), never at data, so they cost the same for a bomb as for a
small file. ``upload`` uses them to walk an uploaded file before reading anything;
``runfile`` uses them on every dataset and attribute it reads.

The limits admit everything this app trains (``spec``, ``datasets``, ``csv_data``) and
what the original DeepReplay package wrote for its datasets, with room to spare.

Example
-------
>>> import h5py, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "x.h5")
>>> with h5py.File(path, "w") as f:
...     f["a"] = h5py.SoftLink("/elsewhere")
>>> with h5py.File(path, "r") as f:
...     walk(f, "'x.h5'")
Traceback (most recent call last):
...
replay_core.errors.RunFileError: 'x.h5': 'a' is a soft link; a run file may not point elsewhere
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from replay_core.data import csv_data, spec
from replay_core.data.fields import json_depth
from replay_core.errors import RunFileError

__all__ = ["ALLOWED_FILTERS", "DEFAULT", "Limits", "check_dataset", "decode_attr", "dumps_json", "get_member",
           "hard_member", "has_member", "json_depth", "loads_json", "read_attr", "read_attrs",
           "walk"]


@dataclass(frozen=True)
class Limits:
    """The most a run file may hold: structure, declared shapes and attribute sizes.

    Args:
        samples: rows of ``inputs`` (and of ``val_inputs``).
        features: columns of ``inputs``.
        classes: output classes (units of a softmax output).
        layers: model layers (``layer0``, ``layer1``...).
        units: outputs of one layer.
        epochs: epochs stored (rows of ``loss``; weight rows minus one).
        epoch_samples: weight states times samples (training plus validation): the size
            of each per-sample array replay computes for every epoch.
        weight_floats: floats of every weight array of a run over every epoch.
        depth: group nesting below the file's root (a weight array is at depth 3).
        objects: groups and datasets in the file.
        attrs_per_object: attributes of one group or dataset.
        attr_bytes: bytes of one attribute's value (and characters of a JSON text).
        attr_elements: elements of one array attribute.
        json_depth: nesting of ``[`` and ``{`` in a JSON attribute.
        chunk_bytes: bytes of one chunk (HDF5 decompresses whole chunks).
        bomb_floor_bytes, max_expansion: a dataset declaring more than ``bomb_floor_bytes``
            must store at least ``1 / max_expansion`` of what it declares.
        name_length: characters of a run name.

    Example
    -------
    >>> Limits(epochs=100).epochs, DEFAULT.features
    (100, 64)
    """

    # The app trains up to 10,000 samples (datasets, CSV) of up to 30 features; DeepReplay's
    # sets were smaller (ball: 1000 points, hypercube: 2^10 vertices of 10 features).
    samples: int = 10 * csv_data.MAX_ROWS
    features: int = 64
    classes: int = csv_data.MAX_CLASSES
    # Hidden layers, a bottleneck and the output, each possibly followed by the separate
    # Activation layer DeepReplay recorded as a model layer of its own.
    layers: int = 2 * (spec.MAX_LAYERS + 2)
    # DeepReplay's examples used 100-unit layers; the app trains up to 128.
    units: int = 2 * spec.MAX_UNITS
    epochs: int = 5 * spec.MAX_EPOCHS
    # The app's longest run over its largest dataset: 2001 states x 10,000 samples.
    epoch_samples: int = (spec.MAX_EPOCHS + 1) * csv_data.MAX_ROWS
    # Weights stored = parameters x (epochs + 1), and the training budget bounds
    # parameters x epochs: the app's largest run (6 x 128 units over 30 features, as many
    # epochs as the budget allows and a session's 200 MB hold) stores ~52 million.
    weight_floats: int = 64_000_000
    depth: int = 4
    objects: int = 2_000
    attrs_per_object: int = 64
    attr_bytes: int = 64 * 1024
    attr_elements: int = 1024
    json_depth: int = 20
    chunk_bytes: int = 16 * 2**20
    bomb_floor_bytes: int = 2**20
    max_expansion: int = 1000
    name_length: int = 100


DEFAULT = Limits()
"""The limits the app applies to every run file it reads."""

ALLOWED_FILTERS = {1: "deflate (gzip)", 2: "shuffle", 3: "fletcher32", 32000: "lzf"}
"""HDF5 filters a run file may use: the ones h5py writes itself."""

_LINK_KINDS = {h5py.h5l.TYPE_SOFT: "a soft link", h5py.h5l.TYPE_EXTERNAL: "an external link"}


def _quote(name: str) -> str:
    return repr(name if len(name) <= 60 else name[:57] + "...")


def _link_type(group: h5py.Group, name: str) -> int:
    return group.id.links.get_info(name.encode("utf-8")).type


def _refuse_link(group: h5py.Group, name: str, where: str, label: str | None = None) -> None:
    kind = _link_type(group, name)
    if kind != h5py.h5l.TYPE_HARD:
        what = _LINK_KINDS.get(kind, "a user-defined link")
        raise RunFileError(f"{where}: {label or name} is {what}; a run file may not point "
                           "elsewhere")


def _place(where: str, top: str, path: str, kind: str = "") -> tuple[str, str]:
    """How a message names the object at ``path``: ``("'x.h5' run 'a'", "layer0/weights0")``
    inside a run, ``("'x.h5'", "'notes'")`` for a top-level object, ``("'x.h5'", "the
    file")`` for the root; ``top`` is the group a walk started from ('' for the file)."""
    if top:
        rest = path[len(top) + 1:] if path.startswith(top + "/") else ""
        return where, rest or f"the {kind or 'group'}"
    if not path:
        return where, "the file"
    run, _, rest = path.partition("/")
    if rest:
        return f"{where} run {run[:60]!r}", rest[:80]
    return where, _quote(path)


def has_member(group: h5py.Group, name: str) -> bool:
    """Whether ``group`` has a link named ``name`` (of any kind; nothing is followed)."""
    return bool(group.id.links.exists(name.encode("utf-8")))


def hard_member(group: h5py.Group, name: str) -> h5py.Group | h5py.Dataset | None:
    """``group[name]`` when reached by a hard link, else None (missing, or a link that
    would lead elsewhere, which is not followed)."""
    if not has_member(group, name) or _link_type(group, name) != h5py.h5l.TYPE_HARD:
        return None
    return group[name]


def get_member(group: h5py.Group, name: str, where: str) -> h5py.Group | h5py.Dataset | None:
    """``group[name]`` if it exists and is reached by a hard link, None when missing.

    Never follows a soft or external link (``RunFileError`` instead), so a read cannot
    leave the file; ``name in group`` and ``group.get(name)`` would.
    """
    if not has_member(group, name):
        return None
    _refuse_link(group, name, where)
    return group[name]


def _prod(shape: tuple[int, ...]) -> int:
    return math.prod(int(s) for s in shape)


def check_dataset(ds: h5py.Dataset, where: str, what: str, limits: Limits = DEFAULT) -> None:
    """Refuse a dataset whose data lives outside the file, that uses an unusual filter,
    is not plain numbers, or declares more than ``limits`` let a read allocate.

    Looks at the dataset's creation property list, type and shape only.
    """
    plist = ds.id.get_create_plist()
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        raise RunFileError(f"{where}: {what} is a virtual dataset over other data; a run file "
                           "must hold its own arrays")
    if plist.get_external_count() > 0:
        raise RunFileError(f"{where}: {what} keeps its data in an external file; a run file "
                           "must hold its own arrays")
    for i in range(plist.get_nfilters()):
        code = int(plist.get_filter(i)[0])
        if code not in ALLOWED_FILTERS:
            raise RunFileError(f"{where}: {what} uses HDF5 filter {code}; a run file may use "
                               f"only {', '.join(ALLOWED_FILTERS.values())}")
    dtype = ds.dtype
    if dtype.kind not in "fiub" or dtype.fields is not None or dtype.subdtype is not None \
            or h5py.check_vlen_dtype(dtype) is not None:
        raise RunFileError(f"{where}: {what} has dtype {_dtype_name(dtype)}; it must hold "
                           "plain numbers")
    shape = ds.shape
    if shape is None:
        raise RunFileError(f"{where}: {what} has no shape (an empty dataspace)")
    if len(shape) > 3:
        raise RunFileError(f"{where}: {what} has {len(shape)} dimensions; a run file's arrays "
                           "have at most 3")
    elements = _prod(shape)
    largest = max(limits.weight_floats, limits.samples * limits.features)
    if elements > largest:
        raise RunFileError(f"{where}: {what} declares {elements:,} values; the limit is "
                           f"{largest:,}")
    if plist.get_layout() == h5py.h5d.CHUNKED:
        chunk_bytes = _prod(plist.get_chunk()) * dtype.itemsize
        if chunk_bytes > limits.chunk_bytes:
            raise RunFileError(f"{where}: {what} has chunks of {chunk_bytes:,} bytes; the "
                               f"limit is {limits.chunk_bytes:,}")
    declared = elements * dtype.itemsize
    stored = ds.id.get_storage_size()
    if declared > limits.bomb_floor_bytes and declared > limits.max_expansion * stored:
        raise RunFileError(f"{where}: {what} declares {declared:,} bytes but stores only "
                           f"{stored:,}; a run file must store the arrays it declares")


def _dtype_name(dtype: np.dtype) -> str:
    if dtype.fields is not None:
        return "compound"
    if h5py.check_string_dtype(dtype) is not None:
        return "string"
    if h5py.check_vlen_dtype(dtype) is not None:
        return "variable-length"
    if h5py.check_ref_dtype(dtype) is not None:
        return "reference"
    return str(dtype)


def _check_attr_headers(obj: h5py.HLObject, where: str, label: str, limits: Limits) -> None:
    """Count, type and size of every attribute of ``obj``, read from the headers only."""
    count = h5py.h5a.get_num_attrs(obj.id)
    if count > limits.attrs_per_object:
        raise RunFileError(f"{where}: {label} has {count} attributes; the limit is "
                           f"{limits.attrs_per_object}")
    for index in range(count):
        attr = h5py.h5a.open(obj.id, index=index)
        name = attr.name.decode("utf-8", "replace")
        _check_attr(attr, where, f"{label} attribute {_quote(name)}", limits)


def _check_attr(attr: h5py.h5a.AttrID, where: str, label: str, limits: Limits) -> None:
    dtype = attr.dtype
    shape = attr.shape
    elements = _prod(shape) if shape else 1
    if elements > limits.attr_elements:
        raise RunFileError(f"{where}: {label} holds {elements:,} values; the limit is "
                           f"{limits.attr_elements:,}")
    string = h5py.check_string_dtype(dtype)
    if dtype.kind not in "fiubS" and string is None:
        raise RunFileError(f"{where}: {label} has dtype {_dtype_name(dtype)}; attributes hold "
                           "numbers or text")
    if dtype.fields is not None or dtype.subdtype is not None:
        raise RunFileError(f"{where}: {label} has dtype {_dtype_name(dtype)}; attributes hold "
                           "numbers or text")
    if string is None or string.length is not None:
        size = elements * dtype.itemsize
        if size > limits.attr_bytes:
            raise RunFileError(f"{where}: {label} is {size:,} bytes; the limit is "
                               f"{limits.attr_bytes:,}")


def walk(f: h5py.Group, where: str, limits: Limits = DEFAULT, depth: int = 0) -> int:
    """Check the whole structure of ``f`` without following a link; return its objects.

    ``f`` is a file, or a group at nesting ``depth`` (a run: 1) whose members are checked.

    Refuses soft, external and user-defined links, groups nested deeper than
    ``limits.depth``, more than ``limits.objects`` objects, named datatypes, every dataset
    ``check_dataset`` refuses and attributes over the limits. The walk keeps an explicit
    stack and stops at the first object past a limit, so a chain of 40,000 nested
    groups costs a few steps.
    """
    count = 0
    top = "" if f.name == "/" else f.name.lstrip("/")
    stack: list[tuple[h5py.Group, str, int]] = [(f, top, depth)]
    _check_attr_headers(f, *_place(where, top, top, "group"), limits)
    while stack:
        group, path, depth = stack.pop()
        members = len(group)
        if count + members > limits.objects:
            raise RunFileError(f"{where}: holds more than {limits.objects:,} groups and "
                               f"datasets; the limit is {limits.objects:,}")
        if members and depth + 1 > limits.depth:
            at, label = _place(where, top, path, "group")
            raise RunFileError(f"{at}: {label} nests groups deeper than {limits.depth} "
                               f"levels; the limit is {limits.depth}")
        for name in group:
            child = f"{path}/{name}" if path else name
            at, label = _place(where, top, child)
            _refuse_link(group, name, at, label)
            count += 1
            kind = h5py.h5o.get_info(group.id, name.encode("utf-8")).type
            if kind == h5py.h5o.TYPE_GROUP:
                obj = group[name]
                _check_attr_headers(obj, at, f"group {label}", limits)
                stack.append((obj, child, depth + 1))
            elif kind == h5py.h5o.TYPE_DATASET:
                obj = group[name]
                _check_attr_headers(obj, at, f"dataset {label}", limits)
                check_dataset(obj, at, label, limits)
            else:
                raise RunFileError(f"{at}: {label} is neither a group nor a dataset")
    return count


def decode_attr(value: Any) -> Any:
    """An attribute value as plain Python (bytes -> str, arrays -> lists)."""
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return [decode_attr(v) for v in value.tolist()] if value.dtype.kind in "SOU" else \
            value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _text_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_text_size(v) for v in value)
    return 0


def read_attr(obj: h5py.HLObject, key: str, where: str, limits: Limits = DEFAULT) -> Any:
    """Attribute ``key`` of ``obj`` as plain Python (None when missing), within ``limits``.

    The header is checked before the value is read; variable-length text, whose size the
    header does not give, is measured once read (its bytes are in the file, so that read
    is bounded by the file's size).
    """
    if not h5py.h5a.exists(obj.id, key.encode("utf-8")):
        return None
    label = f"attribute {_quote(key)}"
    _check_attr(h5py.h5a.open(obj.id, key.encode("utf-8")), where, label, limits)
    value = decode_attr(obj.attrs[key])
    if _text_size(value) > limits.attr_bytes:
        raise RunFileError(f"{where}: {label} holds {_text_size(value):,} characters; the "
                           f"limit is {limits.attr_bytes:,}")
    return value


def read_attrs(obj: h5py.HLObject, where: str, limits: Limits = DEFAULT) -> dict[str, Any]:
    """Every attribute of ``obj`` as plain Python, within ``limits``."""
    count = h5py.h5a.get_num_attrs(obj.id)
    if count > limits.attrs_per_object:
        raise RunFileError(f"{where}: {count} attributes; the limit is "
                           f"{limits.attrs_per_object}")
    # A name that is not UTF-8 (h5py gives it as bytes) is no attribute a run uses.
    return {key: read_attr(obj, key, where, limits) for key in obj.attrs
            if isinstance(key, str)}


def loads_json(text: Any, where: str, what: str, limits: Limits = DEFAULT) -> Any:
    """Parse a JSON attribute after bounding its length and nesting; ``RunFileError`` if not.

    Example
    -------
    >>> loads_json('{"a": 1}', "run 'x'", "the spec attribute")
    {'a': 1}
    """
    if not isinstance(text, str):
        raise RunFileError(f"{where}: {what} is not JSON text")
    if len(text) > limits.attr_bytes:
        raise RunFileError(f"{where}: {what} is {len(text):,} characters long; the limit is "
                           f"{limits.attr_bytes:,}")
    depth = json_depth(text)
    if depth > limits.json_depth:
        raise RunFileError(f"{where}: {what} nests {depth} levels deep; the limit is "
                           f"{limits.json_depth}")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RunFileError(f"{where}: {what} is not valid JSON") from exc


def dumps_json(value: Mapping[str, Any] | list) -> str:
    """JSON text of a value parsed by ``loads_json`` (its depth is already bounded)."""
    return json.dumps(value)
