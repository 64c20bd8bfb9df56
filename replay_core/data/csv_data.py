"""Uploaded CSV files as datasets: numeric feature columns and one class column.

A file is checked once, on upload (:func:`parse`): size, rows, columns, missing,
non-numeric and out-of-range cells each get one message naming the line and column. It
may be UTF-8 (with or without a byte order mark) or UTF-16 with one, delimited by
``,``, ``;``, tab or ``|`` (guessed from unquoted text), and quoted as Excel does. The
target column may hold any values; its distinct values, sorted (numerically when they
are all numbers), become the class indices 0, 1, ...

The parsed arrays are stored in the session's folder (:func:`store`, under
``datasets/<id>.npz`` beside ``runs.h5``) and a spec refers to them as dataset ``csv``
with the parameters ``id`` (a 48-bit content hash of the file and the target column),
``n_samples``, ``n_features`` and ``n_classes``. Training reads them back from the
folder set by :func:`data_folder` (the trainer uses the run file's folder). A run
records its own inputs and targets, so replaying never needs the CSV again; a spec
whose file is not in the folder (a link shared with another session) gets a
``CsvDataError`` saying so.

Example
-------
>>> data = parse(b"x1,x2,label\\n" + b"".join(
...     f"{i},{i % 3},{'ab'[i % 2]}\\n".encode() for i in range(20)), "toy.csv")
>>> data.X.shape, data.class_names, data.params()["n_classes"]
((20, 2), ('a', 'b'), 2)
"""

from __future__ import annotations

import codecs
import contextlib
import contextvars
import csv
import hashlib
import io
import itertools
import math
import numbers
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from replay_core.errors import ReplayError

MAX_BYTES = 5 * 2**20
MAX_ROWS = 10_000
MIN_ROWS = 10
MAX_FEATURES = 30
MAX_CLASSES = 10
MAX_STORED = 20
"""Uploaded files a session folder keeps; storing another drops the least recently used."""
PARAM_NAMES = ("id", "n_samples", "n_features", "n_classes")
_ID_BITS = 48
_MISSING = {"", "na", "n/a", "nan", "null", "none", "?", "-", "#n/a"}
_DELIMITERS = ",;\t|"  # in order of preference when two split the file equally well
_SAMPLE_CHARS = 65536
_SAMPLE_RECORDS = 200
# The smallest float64 that becomes inf when cast to float32: the midpoint between the
# largest float32 (2**128 - 2**104) and 2**128, which rounds (to even) up to inf.
_FLOAT32_OVERFLOW = 2.0**128 - 2.0**103
# Signatures of files that are often uploaded by mistake instead of a CSV export.
_BINARY_SIGNATURES = {b"PK\x03\x04": "a ZIP archive (an Excel .xlsx workbook?)",
                      b"\xd0\xcf\x11\xe0": "an Excel .xls workbook",
                      b"\x89HDF": "an HDF5 file", b"%PDF": "a PDF document",
                      b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image"}


class CsvDataError(ReplayError, ValueError):
    """An uploaded CSV file that cannot be a dataset, or stored CSV data that is missing."""


@dataclass(frozen=True, eq=False)
class CsvDataset:
    """A parsed CSV file.

    Attributes
    ----------
    X : (N, d) float32 feature columns, in file order.
    y : (N,) float32 class index of each row.
    feature_names : the d feature column names.
    target_name : the class column's name.
    class_names : the class values in index order (as written in the file).
    filename : the uploaded file's name.
    id : 48-bit hash of the file's bytes and the target column.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str
    class_names: tuple[str, ...]
    filename: str
    id: int

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def params(self) -> dict[str, int]:
        """The ``dataset.params`` of a spec that uses this data."""
        return {"id": self.id, "n_samples": int(self.X.shape[0]),
                "n_features": int(self.X.shape[1]), "n_classes": self.n_classes}

    def describe(self) -> str:
        """One line: rows, features, target and classes."""
        counts = np.bincount(self.y.astype(np.intp), minlength=self.n_classes)
        classes = ", ".join(f"{name} → {i} ({n})"
                            for i, (name, n) in enumerate(zip(self.class_names, counts)))
        return (f"{self.filename}: {len(self.X):,} rows, {self.X.shape[1]} feature"
                f"{'s' if self.X.shape[1] != 1 else ''}; target {self.target_name!r}: "
                f"{classes}")


# -- parsing ----------------------------------------------------------------------------


def _text(data: bytes, filename: str) -> str:
    """The file's text, after the checks that need only its name and bytes."""
    if not filename.lower().endswith(".csv"):
        suffix = Path(filename).suffix or "no extension"
        raise CsvDataError(f"{filename!r} is not a CSV file ({suffix}); export the table as "
                           ".csv (comma-separated values) and upload that")
    if len(data) > MAX_BYTES:  # before anything that reads or copies the bytes
        raise CsvDataError(f"{filename!r} is {len(data) / 2**20:.1f} MB; the largest CSV "
                           f"upload is {MAX_BYTES // 2**20} MB")
    if len(data) == 0 or not data.strip():
        raise CsvDataError(f"{filename!r} is empty")
    for signature, what in _BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise CsvDataError(f"{filename!r} is not a CSV file: it is {what}; export the "
                               "table as .csv and upload that")
    # Excel's "Unicode text" and some Windows tools write UTF-16 with a byte order mark;
    # without one, NUL bytes mean binary data (UTF-16 without a BOM is not guessed at).
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, name = "utf-16", "UTF-16"
    elif b"\x00" in data:
        raise CsvDataError(f"{filename!r} is not a CSV file: it holds binary data")
    else:
        encoding, name = "utf-8-sig", "UTF-8"  # -sig: a UTF-8 BOM is not part of a name
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].decode(encoding, "replace").count("\n") + 1
        raise CsvDataError(f"{filename!r} could not be parsed: line {line} is not {name} "
                           "text; save the file as UTF-8 CSV") from None
    if "\x00" in text:
        raise CsvDataError(f"{filename!r} is not a CSV file: it holds binary data")
    if not text.strip():
        raise CsvDataError(f"{filename!r} is empty")
    return text


def _reader(text: str, delimiter: str, strict: bool) -> Any:
    # skipinitialspace: `1, "x,y"` is a quoted cell after a space, not a stray quote.
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"',
                      doublequote=True, skipinitialspace=True, strict=strict)


def _delimiter(text: str) -> str:
    """The delimiter among ``,;\\t|`` that splits the first records most consistently.

    Each candidate parses a sample with the csv module, so a delimiter inside a quoted
    cell (``"x;y"``) or a quoted line break never counts. The candidate whose most common
    number of cells (at least 2) covers the largest share of the records wins; then the
    one giving more columns; then the earlier in ``,;\\t|``. A file no candidate splits is
    read with commas (and then has a single column).
    """
    sample = text[:_SAMPLE_CHARS]
    cut = len(sample) < len(text)
    best, best_score = ",", (0.0, 0)
    for delimiter in _DELIMITERS:
        records: list[list[str]] = []
        reader = _reader(sample, delimiter, strict=False)
        try:
            for cells in reader:
                if any(c.strip() for c in cells):
                    records.append(cells)
                if len(records) > _SAMPLE_RECORDS:
                    break
        except csv.Error:
            pass  # judged on the records before the error; parsing reports the error
        if len(records) > _SAMPLE_RECORDS:
            records = records[:_SAMPLE_RECORDS]
        elif cut and len(records) > 1:
            records = records[:-1]  # the sample may end inside the last record
        counts = Counter(len(cells) for cells in records)
        if not counts:
            continue
        n_columns, n_records = counts.most_common(1)[0]
        score = (n_records / len(records), n_columns)
        if n_columns >= 2 and score > best_score:
            best, best_score = delimiter, score
    return best


def _rows(text: str, filename: str) -> Iterator[tuple[int, list[str]]]:
    """(line number where it starts, cells) of every non-blank record, read lazily so a
    caller that stops early never parses the rest of the file."""
    reader = _reader(text, _delimiter(text), strict=True)
    end = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvDataError(f"{filename!r} could not be parsed at line {reader.line_num}: "
                               f"{exc}") from None
        start, end = end + 1, reader.line_num  # a quoted line break spans several lines
        if any(c.strip() for c in cells):
            yield start, [c.strip() for c in cells]


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def columns(data: bytes, filename: str) -> list[str]:
    """The column names of an uploaded file (``column 1``... when the first row holds
    numbers only); raises ``CsvDataError`` for a file that is no CSV at all."""
    header, _ = _header(_rows(_text(data, filename), filename), filename)
    return header


def _header(rows: Iterator[tuple[int, list[str]]], filename: str
            ) -> tuple[list[str], list[tuple[int, list[str]]]]:
    first = next(rows, None)
    if first is None:
        raise CsvDataError(f"{filename!r} is empty")
    line, cells = first
    if all(_number(c) is not None for c in cells):  # no header row: data from line 1
        return [f"column {i + 1}" for i in range(len(cells))], [first]
    names = [c or f"column {i + 1}" for i, c in enumerate(cells)]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise CsvDataError(f"{filename!r}: the column name {name!r} appears twice in the "
                               f"header (line {line}); column names must differ")
        seen.add(name)
    return names, []


def _class_order(values: list[str]) -> list[str]:
    distinct = set(values)
    numbers_ = {v: _number(v) for v in distinct}
    if all(n is not None and math.isfinite(n) for n in numbers_.values()):
        # 2 and 2.0 are one class; ordered by value, named as first written.
        by_value: dict[float, str] = {}
        for v in values:
            by_value.setdefault(float(numbers_[v]), v)
        return [by_value[k] for k in sorted(by_value)]
    return sorted(distinct)


def parse(data: bytes, filename: str, target: str | None = None) -> CsvDataset:
    """Check and read an uploaded CSV file.

    Parameters
    ----------
    data : the file's bytes.
    filename : its name (must end in ``.csv``).
    target : the class column; the last column when None.

    Raises
    ------
    CsvDataError
        One sentence naming the problem and, for a cell, its line and column: not a CSV
        file, empty, unparsable, over ``MAX_BYTES`` / ``MAX_ROWS`` / ``MAX_FEATURES``,
        fewer than ``MIN_ROWS`` rows, a missing, non-numeric or infinite cell (or one that
        float32 cannot hold), a single class or more than ``MAX_CLASSES``.
    """
    filename = os.path.basename(str(filename)) or "upload.csv"
    rows = _rows(_text(data, filename), filename)
    header, pending = _header(rows, filename)
    if len(header) < 2:
        raise CsvDataError(f"{filename!r} has one column ({header[0]!r}); it needs at least "
                           "one feature column and a target column")
    target = header[-1] if target is None else target
    if target not in header:
        raise CsvDataError(f"{filename!r} has no column {target!r}; its columns are "
                           f"{', '.join(map(repr, header))}")
    if len(header) - 1 > MAX_FEATURES:
        raise CsvDataError(f"{filename!r} has {len(header) - 1} feature columns besides the "
                           f"target; the most is {MAX_FEATURES}")
    t = header.index(target)
    features = [i for i in range(len(header)) if i != t]
    X: list[list[float]] = []
    labels: list[str] = []
    n_rows = 0
    for line, cells in itertools.chain(pending, rows):  # lazily: stops at MAX_ROWS + 1
        n_rows += 1
        if n_rows > MAX_ROWS:
            raise CsvDataError(f"{filename!r} has more than {MAX_ROWS:,} data rows (line "
                               f"{line} is row {n_rows:,}); the most is {MAX_ROWS:,}")
        if len(cells) != len(header):
            raise CsvDataError(f"{filename!r}: line {line} has {len(cells)} values but the "
                               f"header names {len(header)} columns")
        row = []
        for i in features:
            cell = cells[i]
            if cell.lower() in _MISSING:
                raise CsvDataError(f"{filename!r}: missing value at line {line}, column "
                                   f"{header[i]!r}; fill it in or drop the row")
            value = _number(cell)
            if value is None:
                raise CsvDataError(f"{filename!r}: non-numeric value {cell[:40]!r} at line "
                                   f"{line}, column {header[i]!r}; feature columns must "
                                   "hold numbers")
            if not math.isfinite(value):
                raise CsvDataError(f"{filename!r}: value {cell[:40]!r} at line {line}, column "
                                   f"{header[i]!r} is not a finite number")
            if abs(value) >= _FLOAT32_OVERFLOW:  # finite here, inf once stored as float32
                raise CsvDataError(f"{filename!r}: value {cell[:40]!r} at line {line}, column "
                                   f"{header[i]!r} is too large; the largest magnitude a "
                                   f"feature can hold is {float(np.finfo(np.float32).max):.4g}")
            row.append(value)
        if cells[t].lower() in _MISSING:
            raise CsvDataError(f"{filename!r}: missing value at line {line}, column "
                               f"{target!r} (the target); every row needs a class")
        X.append(row)
        labels.append(cells[t])
    if n_rows < MIN_ROWS:
        raise CsvDataError(f"{filename!r} has {n_rows} data row{'s' if n_rows != 1 else ''}; "
                           f"at least {MIN_ROWS} are needed")
    classes = _class_order(labels)
    if len(classes) < 2:
        raise CsvDataError(f"{filename!r}: the target column {target!r} holds a single class "
                           f"({classes[0]!r}); a classifier needs at least two")
    if len(classes) > MAX_CLASSES:
        raise CsvDataError(f"{filename!r}: the target column {target!r} holds "
                           f"{len(classes)} different values; the most is {MAX_CLASSES} "
                           "classes (is it really a class column?)")
    if all(_number(c) is not None for c in classes):  # by value: 2 and 2.0 are one class
        by_value = {float(_number(c)): i for i, c in enumerate(classes)}
        y = [by_value[float(_number(v))] for v in labels]
    else:
        by_name = {name: i for i, name in enumerate(classes)}
        y = [by_name[v] for v in labels]
    digest = hashlib.sha256(data + b"\x00" + target.encode("utf-8")).hexdigest()
    return CsvDataset(
        X=np.asarray(X, dtype=np.float32), y=np.asarray(y, dtype=np.float32),
        feature_names=tuple(header[i] for i in features), target_name=target,
        class_names=tuple(classes), filename=filename,
        id=int(digest[: _ID_BITS // 4], 16))


# -- storage in a session folder --------------------------------------------------------

_FOLDER: contextvars.ContextVar[Path | None] = contextvars.ContextVar("csv_folder",
                                                                      default=None)


@contextlib.contextmanager
def data_folder(folder: str | os.PathLike | None):
    """Read stored CSV data from ``folder`` (a session's folder) inside this block."""
    token = _FOLDER.set(None if folder is None else Path(folder))
    try:
        yield
    finally:
        _FOLDER.reset(token)


def _path(folder: Path, data_id: int) -> Path:
    return Path(folder) / "datasets" / f"{int(data_id):012x}.npz"


def store(dataset: CsvDataset, folder: str | os.PathLike) -> dict[str, int]:
    """Keep a parsed file in ``folder`` (``datasets/<id>.npz``); returns its spec params."""
    path = _path(Path(folder), dataset.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, X=dataset.X, y=dataset.y, feature_names=np.array(dataset.feature_names),
             class_names=np.array(dataset.class_names),
             target_name=np.array(dataset.target_name), filename=np.array(dataset.filename))
    os.replace(tmp, path)
    kept = sorted(path.parent.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in kept[MAX_STORED:]:  # bounded disk use on a shared server
        if old != path:
            old.unlink(missing_ok=True)
    return dataset.params()


def stored(params: dict[str, Any], folder: str | os.PathLike | None = None) -> CsvDataset:
    """The stored data a spec's ``params`` refer to, from ``folder`` (else the folder of
    the enclosing :func:`data_folder`).

    Raises
    ------
    CsvDataError
        The data is not in the folder (another session's upload) or does not match.
    """
    params = check_params(params)
    where = Path(folder) if folder is not None else _FOLDER.get()
    what = (f"an uploaded CSV file ({params['n_samples']:,} rows, {params['n_features']} "
            f"features, {params['n_classes']} classes; id {params['id']:012x})")
    path = None if where is None else _path(where, params["id"])
    if path is None or not path.exists():
        raise CsvDataError(f"this run's data is {what} that this session does not hold; "
                           "upload the same file on the Train page (choose 'Upload CSV…') "
                           "to train it here")
    os.utime(path)  # recently used: kept longest when the folder is full
    with np.load(path, allow_pickle=False) as f:
        data = CsvDataset(X=f["X"], y=f["y"], feature_names=tuple(map(str, f["feature_names"])),
                          target_name=str(f["target_name"]),
                          class_names=tuple(map(str, f["class_names"])),
                          filename=str(f["filename"]), id=params["id"])
    if data.params() != params:
        raise CsvDataError(f"the stored data of {what} does not match its description "
                           f"({data.params()}); upload the file again")
    return data


def load(params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of the stored data ``params`` refer to (see :func:`stored`)."""
    data = stored(params)
    return data.X, data.y


def check_params(params: Any) -> dict[str, int]:
    """Validate a ``csv`` dataset's params (all four, whole numbers in range)."""
    if not isinstance(params, dict):
        raise ValueError(f"dataset.params must be an object, got {type(params).__name__}")
    unknown = sorted(set(params) - set(PARAM_NAMES))
    if unknown:
        raise ValueError(f"dataset 'csv' has no parameter {unknown[0]!r}; its parameters are: "
                         f"{', '.join(PARAM_NAMES)}")
    ranges = {"id": (0, 2**_ID_BITS - 1), "n_samples": (MIN_ROWS, MAX_ROWS),
              "n_features": (1, MAX_FEATURES), "n_classes": (2, MAX_CLASSES)}
    out = {}
    for name in PARAM_NAMES:
        low, high = ranges[name]
        value = params.get(name)
        if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                or not low <= value <= high or float(value) != int(value)):
            raise ValueError(f"dataset.{name} of an uploaded CSV must be a whole number "
                             f"between {low} and {high:,}, got {value!r}")
        out[name] = int(value)
    return out


def shape(params: dict[str, Any], what: str) -> int:
    """``classes``, ``features`` or ``size`` of a ``csv`` dataset from its params."""
    checked = check_params(params)
    return {"classes": checked["n_classes"], "features": checked["n_features"],
            "size": checked["n_samples"]}[what]
