"""Uploaded CSV files: one precise message per bad file; a good file trains and replays."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay_core.data import csv_data, datasets, presets
from replay_core.data.csv_data import CsvDataError, parse
from replay_core.data.spec import RunSpec
from replay_core.errors import ReplayError
from replay_core.replay.replayer import Replay


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
    from replay_core.train.trainer import train

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


# -- numbers a float32 cannot hold ------------------------------------------------------


def test_a_value_beyond_float32_is_refused_with_its_line_and_column():
    rows = _good_rows()
    rows[6][1] = "1e308"  # finite as a float64, inf as the float32 the network trains on
    with pytest.raises(CsvDataError) as info:
        parse(_csv(rows), "data.csv")
    assert str(info.value) == ("'data.csv': value '1e308' at line 8, column 'b' is too large; "
                               "the largest magnitude a feature can hold is 3.403e+38")
    rows = _good_rows()
    rows[0][0] = "-3.5e38"
    with pytest.raises(CsvDataError, match=r"value '-3.5e38' at line 2, column 'a' is too "):
        parse(_csv(rows), "data.csv")


@pytest.mark.parametrize("value", ["3e38", "-3e38", "3.4028234e38", "3.4028235e38",
                                   "3.40282356e38", "3.40282357e38", "3.4028236e38",
                                   "-3.4028236e38", "1e39", "1e-50"])
def test_a_value_is_refused_exactly_when_float32_makes_it_infinite(value):
    with np.errstate(over="ignore"):
        becomes_inf = bool(np.isinf(np.float32(float(value))))
    rows = _good_rows()
    rows[3][0] = value
    if becomes_inf:
        with pytest.raises(CsvDataError, match=f"value '{value}' at line 5, column 'a' is too"):
            parse(_csv(rows), "data.csv")
    else:
        data = parse(_csv(rows), "data.csv")
        assert np.isfinite(data.X).all()
        assert data.X[3, 0] == np.float32(float(value))
    assert becomes_inf == (value in {"3.40282357e38", "3.4028236e38", "-3.4028236e38",
                                     "1e39"})


# -- delimiters, quotes and encodings ---------------------------------------------------


def test_a_delimiter_inside_a_quoted_cell_is_part_of_the_cell():
    rows = _good_rows(20)
    comma = ("a,b,label\n" + "".join(f'{x},{z},"{"x;y" if c == "yes" else "p;q;r"}"\n'
                                      for x, z, c in rows)).encode()
    data = parse(comma, "c.csv")
    assert data.feature_names == ("a", "b") and data.class_names == ("p;q;r", "x;y")
    np.testing.assert_array_equal(data.X, np.array([r[:2] for r in rows], dtype=np.float32))
    np.testing.assert_array_equal(data.y, [r[2] == "yes" for r in rows])
    # Only some cells quoted, a quoted class holding the other delimiter and a line break.
    semicolon = ("a;b;label\n" + "".join(
        f'{x};{z};{chr(34) + "big, round" + chr(10) + "one" + chr(34) if c == "yes" else "n"}\n'
        for x, z, c in rows)).encode()
    data = parse(semicolon, "s.csv")
    assert data.feature_names == ("a", "b") and data.class_names == ("big, round\none", "n")
    np.testing.assert_array_equal(data.X, np.array([r[:2] for r in rows], dtype=np.float32))
    np.testing.assert_array_equal(data.y, [r[2] != "yes" for r in rows])


@pytest.mark.parametrize(("written", "value"), [
    ('"x"";""y"', 'x";"y'), ('"; ""y;"', '; "y;'), ('""";\n"', '";'), ('"a,b;c|d"', "a,b;c|d")])
def test_a_quoted_class_value_holding_delimiters_and_quotes_stays_one_cell(written, value):
    text = "a,b,label\n" + "".join(f"{i},{i % 3},{written if i % 2 else 'n'}\n"
                                    for i in range(12))
    data = parse(text.encode(), "q.csv")
    assert data.feature_names == ("a", "b") and data.target_name == "label"
    assert sorted(data.class_names) == sorted([value.strip(), "n"])
    np.testing.assert_array_equal(data.X, [[i, i % 3] for i in range(12)])


def test_a_record_with_a_quoted_line_break_keeps_the_line_numbers_right():
    text = 'a,b,label\n1,2,"two\nlines"\n3,,x\n' + "".join(f"{i},{i},x\n" for i in range(9))
    with pytest.raises(CsvDataError) as info:
        parse(text.encode(), "q.csv")
    assert str(info.value) == ("'q.csv': missing value at line 4, column 'b'; fill it in or "
                               "drop the row")
    with pytest.raises(CsvDataError, match=r"'q.csv': the column name 'a' appears twice in "
                                           r"the header \(line 3\)"):
        parse(b"\n\na,a,label\n" + b"1,2,x\n" * 12, "q.csv")


_CELL_TEXT = st.text(alphabet=st.sampled_from(list("xy;,|\t \"\n'")), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(delimiter=st.sampled_from([",", ";", "\t", "|"]),
       classes=st.lists(_CELL_TEXT, min_size=2, max_size=2, unique_by=str.strip),
       line_end=st.sampled_from(["\n", "\r\n"]))
def test_any_class_text_written_by_a_csv_writer_reads_back(delimiter, classes, line_end):
    if any(c.strip().lower() in {"", "-", "?"} for c in classes):
        return  # a missing-value marker, refused by design
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(["a", "b", "label"])
    writer.writerows([i, i % 3 - 0.5, classes[i % 2]] for i in range(12))
    data = parse(buf.getvalue().encode(), "w.csv")
    assert data.feature_names == ("a", "b")
    assert sorted(data.class_names) == sorted(c.strip() for c in classes)
    np.testing.assert_array_equal(data.X, [[i, i % 3 - 0.5] for i in range(12)])
    assert [data.class_names[int(k)] for k in data.y] == [classes[i % 2].strip()
                                                          for i in range(12)]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16-le", "utf-16-be"])
def test_a_file_with_a_byte_order_mark_reads_as_the_utf8_file(encoding):
    text = "höhe,breite,klasse\r\n" + "".join(
        f"{x},{z},{'groß' if c == 'yes' else 'klein; rund'}\r\n"
        for x, z, c in _good_rows(30))
    text = text.replace("klein; rund", '"klein; rund"')
    plain = parse(text.encode("utf-8"), "plain.csv")
    bom = {"utf-8-sig": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[encoding]
    data = parse(bom + text.encode(encoding), "bom.csv")
    assert data.feature_names == plain.feature_names == ("höhe", "breite")
    assert data.target_name == plain.target_name == "klasse"
    assert data.class_names == plain.class_names == ("groß", "klein; rund")
    np.testing.assert_array_equal(data.X, plain.X)
    np.testing.assert_array_equal(data.y, plain.y)
    assert csv_data.columns(bom + text.encode(encoding), "bom.csv") == ["höhe", "breite",
                                                                        "klasse"]


@pytest.mark.parametrize("data", [b"\x00" * 64, _csv(_good_rows()).decode().encode("utf-16-le"),
                                  _csv(_good_rows()) + b"\x00\x01\x02"],
                         ids=["nul bytes", "utf-16 without a byte order mark", "nul at end"])
def test_nul_bytes_without_a_utf16_byte_order_mark_are_binary_data(data):
    with pytest.raises(CsvDataError) as info:
        parse(data, "x.csv")
    assert str(info.value) == "'x.csv' is not a CSV file: it holds binary data"


def test_a_utf16_file_with_nul_characters_is_binary_data_too():
    with pytest.raises(CsvDataError, match="^'x.csv' is not a CSV file: it holds binary data$"):
        parse(b"\xff\xfe" + "a,b\x00,label\n1,2,x\n".encode("utf-16-le"), "x.csv")


# -- bounds applied before the work they bound ------------------------------------------


def test_the_byte_size_is_checked_before_decoding():
    data = b"\x00\xff" * (csv_data.MAX_BYTES // 2 + 1)  # binary and not UTF-8 either
    with pytest.raises(CsvDataError, match="^'huge.csv' is 5.0 MB; the largest CSV upload is "):
        parse(data, "huge.csv")


def test_the_row_limit_stops_parsing_at_the_first_row_too_many():
    # Nearly a million tiny rows under 5 MB, then an unclosed quote: had the file been
    # read to its end, the message would be about the quote.
    n = (csv_data.MAX_BYTES - 64) // 5
    data = b"a,label\n" + b"1,0\n2,1\n" * (n // 2) + b'3,"never closed\n'
    assert len(data) <= csv_data.MAX_BYTES and n > 50 * csv_data.MAX_ROWS
    with pytest.raises(CsvDataError) as info:
        parse(data, "long.csv")
    assert str(info.value) == ("'long.csv' has more than 10,000 data rows (line 10002 is row "
                               "10,001); the most is 10,000")
