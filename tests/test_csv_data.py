"""Uploaded CSV files: one precise message per bad file; a good file trains and replays."""

from __future__ import annotations

import numpy as np
import pytest

from replay_core import csv_data, datasets, presets
from replay_core.csv_data import CsvDataError, parse
from replay_core.errors import ReplayError
from replay_core.replay import Replay
from replay_core.spec import RunSpec


def _csv(rows: list[list], header=("a", "b", "label")) -> bytes:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def _good_rows(n: int = 40, seed: int = 0) -> list[list]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return [[f"{x:.4f}", f"{z:.4f}", "yes" if x + z > 0 else "no"] for x, z in X]


BAD_FILES = [
    ("missing value", "data.csv",
     _csv(_good_rows()[:4] + [["0.1", "", "yes"]] + _good_rows()[4:]),
     "'data.csv': missing value at line 6, column 'b'; fill it in or drop the row"),
    ("missing target", "data.csv",
     _csv(_good_rows()[:2] + [["0.1", "0.2", "NA"]] + _good_rows()[2:]),
     "'data.csv': missing value at line 4, column 'label' (the target); every row needs a class"),
    ("non-numeric", "data.csv",
     _csv(_good_rows()[:9] + [["0.1", "abc", "yes"]] + _good_rows()[9:]),
     "'data.csv': non-numeric value 'abc' at line 11, column 'b'; feature columns must hold "
     "numbers"),
    ("single class", "one.csv", _csv([[i, i * 2, "cat"] for i in range(20)]),
     "'one.csv': the target column 'label' holds a single class ('cat'); a classifier needs "
     "at least two"),
    ("too many rows", "big.csv", _csv([[i, i % 7, i % 2] for i in range(10_001)]),
     "'big.csv' has more than 10,000 data rows (line 10002 is row 10,001); the most is 10,000"),
    ("too many columns", "wide.csv",
     _csv([list(range(32)) for _ in range(12)], header=[f"c{i}" for i in range(32)]),
     "'wide.csv' has 31 feature columns besides the target; the most is 30"),
    ("empty", "empty.csv", b"", "'empty.csv' is empty"),
    ("blank", "blank.csv", b"\n \n\n", "'blank.csv' is empty"),
    ("unparsable", "broken.csv", b'a,b,label\n1,2,"x\n3,4,y\n',
     "'broken.csv' could not be parsed at line 3: unexpected end of data"),
    ("ragged", "ragged.csv", _csv(_good_rows()[:3] + [["1", "2"]] + _good_rows()[3:]),
     "'ragged.csv': line 5 has 2 values but the header names 3 columns"),
    ("not csv by name", "table.xlsx", _csv(_good_rows()),
     "'table.xlsx' is not a CSV file (.xlsx); export the table as .csv (comma-separated "
     "values) and upload that"),
    ("not csv by content", "table.csv", b"PK\x03\x04\x14\x00\x06\x00binary",
     "'table.csv' is not a CSV file: it is a ZIP archive (an Excel .xlsx workbook?); export "
     "the table as .csv and upload that"),
    ("too few rows", "few.csv", _csv(_good_rows(4)),
     "'few.csv' has 4 data rows; at least 10 are needed"),
    ("one column", "one_col.csv", b"label\nx\ny\n",
     "'one_col.csv' has one column ('label'); it needs at least one feature column and a "
     "target column"),
]


@pytest.mark.parametrize("case", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_each_bad_file_gets_its_message(case):
    _, name, data, message = case
    with pytest.raises(CsvDataError) as info:
        parse(data, name)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError) and isinstance(info.value, ReplayError)


def test_too_large_a_file():
    data = b"a,b,label\n" + b"1.000000,2.000000,1\n" * (csv_data.MAX_BYTES // 20 + 1)
    assert len(data) > 5 * 2**20
    with pytest.raises(CsvDataError) as info:
        parse(data, "huge.csv")
    assert str(info.value) == (f"'huge.csv' is {len(data) / 2**20:.1f} MB; the largest CSV "
                               "upload is 5 MB")


def test_classes_are_sorted_values_and_the_target_column_is_chosen():
    rows = [[3, 1.5, "b"], [1, 2.5, "a"], [2, 0.5, "c"]] * 5
    data = parse(_csv(rows, header=("num", "x", "letter")), "t.csv")
    assert data.class_names == ("a", "b", "c") and data.target_name == "letter"
    np.testing.assert_array_equal(data.y, [1, 0, 2] * 5)
    np.testing.assert_array_equal(data.X[:3], [[3, 1.5], [1, 2.5], [2, 0.5]])
    by_num = parse(_csv(rows, header=("num", "x", "letter")).replace(b"b\n", b"2\n")
                   .replace(b"a\n", b"10\n").replace(b"c\n", b"2.0\n"), "t.csv", target="num")
    assert by_num.feature_names == ("x", "letter") and by_num.target_name == "num"
    assert by_num.class_names == ("1", "2", "3")
    np.testing.assert_array_equal(by_num.X[:3], [[1.5, 2], [2.5, 10], [0.5, 2]])
    numeric = parse(b"x,y\n" + b"".join(f"{i},{v}\n".encode()
                                        for i, v in enumerate(["10", "2", "2.0", "1"] * 3)),
                    "n.csv")
    assert numeric.class_names == ("1", "2", "10")  # numeric order; 2 and 2.0 are one class
    np.testing.assert_array_equal(numeric.y, [2, 1, 1, 0] * 3)
    with pytest.raises(CsvDataError, match="has no column 'nope'; its columns are 'num', 'x'"):
        parse(_csv(rows, header=("num", "x", "letter")), "t.csv", target="nope")


def test_a_file_without_header_and_with_semicolons():
    text = "".join(f"{i};{i * 0.5};{i % 2}\n" for i in range(12)).encode()
    data = parse(text, "plain.csv")
    assert data.feature_names == ("column 1", "column 2") and data.target_name == "column 3"
    assert data.X.shape == (12, 2) and data.class_names == ("0", "1")


def test_spec_refers_to_stored_data_and_another_session_gets_a_clear_message(tmp_path):
    data = parse(_csv(_good_rows()), "good.csv")
    params = csv_data.store(data, tmp_path / "mine")
    spec = RunSpec.from_dict({"dataset": {"name": "csv", "params": params}})
    assert RunSpec.from_json(spec.to_json()) == spec
    assert datasets.input_dim("csv", params) == 2 and datasets.n_classes("csv", params) == 2
    with csv_data.data_folder(tmp_path / "mine"):
        prepared = datasets.prepare(spec.dataset)
    np.testing.assert_array_equal(prepared.X, data.X)
    with csv_data.data_folder(tmp_path / "other"), pytest.raises(CsvDataError) as info:
        datasets.prepare(spec.dataset)
    assert str(info.value).startswith(
        "this run's data is an uploaded CSV file (40 rows, 2 features, 2 classes; id ")
    assert str(info.value).endswith(
        "that this session does not hold; upload the same file on the Train page (choose "
        "'Upload CSV…') to train it here")
    with pytest.raises(ValueError, match="dataset.id of an uploaded CSV must be a whole number"):
        RunSpec.from_dict({"dataset": {"name": "csv", "params": {**params, "id": "x"}}})


def test_a_good_file_trains_and_replays(tmp_path):
    from replay_core.trainer import train

    rows = _good_rows(120, seed=3)
    data = parse(_csv(rows, header=("height", "weight", "fit")), "people.csv")
    folder = tmp_path / "session"
    params = csv_data.store(data, folder)
    spec = presets.get("reference").replace(**{
        "dataset.name": "csv", "dataset.params": params, "dataset.standardize": True,
        "model.layers": [{"units": 6, "activation": "tanh"}], "training.epochs": 4,
        "training.optimizer": "adam", "training.learning_rate": 0.05})
    result = train(spec, folder / "runs.h5", "people")
    assert (result.status, result.epochs_done) == ("complete", 4)
    # The CSV is not needed any more: the run holds its own inputs and targets.
    for path in (folder / "datasets").iterdir():
        path.unlink()
    replay = Replay(folder / "runs.h5", "people")
    scaled = (data.X - data.X.mean(axis=0)) / data.X.std(axis=0)
    np.testing.assert_allclose(replay.inputs, scaled, atol=1e-5)
    np.testing.assert_array_equal(replay.targets, data.y)
    views = replay.views()
    assert views.feature_space.projection == "pca" and views.decision_boundary is not None
    acc = views.loss_and_metric.accuracy
    assert acc[-1] == pytest.approx(result.history["accuracy"][-1], abs=0.1)


def test_a_session_keeps_a_bounded_number_of_uploads(tmp_path, monkeypatch):
    import os

    monkeypatch.setattr(csv_data, "MAX_STORED", 3)
    stored = []
    for i in range(5):
        data = parse(_csv(_good_rows(20, seed=i)), f"f{i}.csv")
        stored.append(csv_data.store(data, tmp_path))
        path = tmp_path / "datasets" / f"{data.id:012x}.npz"
        os.utime(path, (1000.0 + i, 1000.0 + i))  # distinct ages, oldest first
        if i == 2:
            csv_data.stored(stored[0], tmp_path)  # reading marks it as recently used
    assert len(list((tmp_path / "datasets").glob("*.npz"))) == 3
    csv_data.stored(stored[0], tmp_path)
    csv_data.stored(stored[4], tmp_path)
    with pytest.raises(CsvDataError, match="that this session does not hold"):
        csv_data.stored(stored[1], tmp_path)
