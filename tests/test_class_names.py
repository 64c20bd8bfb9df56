"""Class names from the data: datasets name their classes, runs store the names, replay
and its views carry them, and the frame's legends and labels show them."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import sklearn.datasets

from replay_core import Replay
from replay_core.data import csv_data, datasets, presets
from replay_core.store import runfile, upload


def _train(spec, path, name):
    from replay_core.train.trainer import train

    result = train(spec, path, name)
    assert result.status == "complete", result
    return result


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    """The Iris preset, 3 epochs, in a run file."""
    path = tmp_path_factory.mktemp("iris") / "runs.h5"
    _train(presets.get("iris").replace(**{"training.epochs": 3}), path, "iris")
    return path


def _animals(n: int = 60) -> bytes:
    rng = np.random.default_rng(0)
    rows = ["x1,x2,animal"]
    for i in range(n):
        label = ("cat", "dog", "bird")[i % 3]
        rows.append(f"{rng.normal() + i % 3:.4f},{rng.normal():.4f},{label}")
    return ("\n".join(rows) + "\n").encode()


def test_real_sets_name_their_classes_as_scikit_learn_does():
    for name, loader in (("iris", "load_iris"), ("wine", "load_wine"),
                         ("breast_cancer", "load_breast_cancer")):
        expected = tuple(map(str, getattr(sklearn.datasets, loader)().target_names))
        assert datasets.class_names({"name": name}) == expected
    assert datasets.class_names({"name": "moons"}) == ("class 0", "class 1")
    assert datasets.class_names({"name": "spiral", "params": {"arms": 3}}) == (
        "class 0", "class 1", "class 2")
    prepared = datasets.prepare(presets.get("iris").dataset)
    assert prepared.class_names == ("setosa", "versicolor", "virginica")


def test_iris_run_stores_and_replays_the_species(iris_run):
    with h5py.File(iris_run, "r") as f:
        assert json.loads(f["iris"].attrs["class_names"]) == ["setosa", "versicolor",
                                                              "virginica"]
    species = ("setosa", "versicolor", "virginica")
    assert runfile.read_run(iris_run, "iris").class_names == species
    assert runfile.list_runs(iris_run)[0].class_names == species
    replay = Replay(iris_run, "iris")
    assert replay.class_names == species
    views = replay.views()
    assert views.class_names == species
    assert views.confusion.class_names == species
    assert views.probability_histogram.class_names == species
    assert views.loss_histogram.class_names == species


def test_csv_class_values_name_the_classes(tmp_path):
    data = csv_data.parse(_animals(), "animals.csv")
    # Sorted as text, named as written.
    assert data.class_names == ("bird", "cat", "dog")
    folder = tmp_path / "session"
    params = csv_data.store(data, folder)
    spec = presets.get("reference").replace(**{
        "dataset.name": "csv", "dataset.params": params, "dataset.standardize": True,
        "model.layers": [{"units": 4, "activation": "tanh"}], "training.epochs": 2})
    _train(spec, folder / "runs.h5", "animals")
    with h5py.File(folder / "runs.h5", "r") as f:
        assert json.loads(f["animals"].attrs["class_names"]) == ["bird", "cat", "dog"]
    for path in (folder / "datasets").iterdir():  # the run holds its own names
        path.unlink()
    replay = Replay(folder / "runs.h5", "animals")
    assert replay.class_names == ("bird", "cat", "dog")
    assert replay.views().confusion.class_names == ("bird", "cat", "dog")


def test_numeric_csv_classes_keep_their_written_form():
    rows = "a,b,y\n" + "".join(f"{i},{i % 4},{('1.0', '2', '10')[i % 3]}\n" for i in range(30))
    data = csv_data.parse(rows.encode(), "n.csv")
    assert data.class_names == ("1.0", "2", "10")


def test_class_name_bounds():
    assert datasets.check_class_names([" a ", "b"], 2) == ("a", "b")
    for bad in (["a"], ["a", "b", "c"], ["a", 1], ["a", "x" * 41], ["a", "b\x00"], ["a", ""],
                "ab", None, {"a": 1}):
        assert datasets.check_class_names(bad, 2) is None, bad
    assert datasets.clean_class_name("y" * 100) == "y" * 39 + "…"


def _with_attr(src, dst, run, value):
    import shutil

    shutil.copy(src, dst)
    with h5py.File(dst, "a") as f:
        if value is None:
            del f[run].attrs["class_names"]
        else:
            f[run].attrs["class_names"] = value
    return dst


@pytest.mark.parametrize("value", [
    json.dumps(["a", "b", "c", "d"]),                  # too many
    json.dumps(["a", "b", "x" * 41]),                  # too long
    json.dumps(["a", 2, "c"]),                         # not a string
    "[" * 5000 + "]" * 5000,                           # deep JSON
    "not json",
    json.dumps({"a": 1}),
], ids=["many", "long", "number", "deep", "text", "object"])
def test_hostile_class_names_in_an_upload_read_as_default_names(iris_run, tmp_path, value):
    # Without a spec to fall back on, a bad attribute gives the neutral names.
    bad = _with_attr(iris_run, tmp_path / "bad.h5", "iris", value)
    with h5py.File(bad, "a") as f:
        del f["iris"].attrs["spec"]
    fresh = tmp_path / "fresh.h5"
    names = upload.import_file(bad, fresh, "bad.h5")
    with h5py.File(fresh, "r") as f:
        assert "class_names" not in f[names[0]].attrs
    default = ("class 0", "class 1", "class 2")
    assert Replay(fresh, names[0]).class_names == default
    assert runfile.list_runs(fresh)[0].class_names == default
    # Read directly too (a file in the workspace, not re-written).
    assert runfile.read_run(bad, "iris").class_names == default


def test_upload_copies_good_class_names(iris_run, tmp_path):
    fresh = tmp_path / "fresh.h5"
    good = _with_attr(iris_run, tmp_path / "good.h5", "iris",
                      json.dumps([" one ", "two", "three"]))
    names = upload.import_file(good, fresh, "good.h5")
    with h5py.File(fresh, "r") as f:
        assert json.loads(f[names[0]].attrs["class_names"]) == ["one", "two", "three"]
    assert Replay(fresh, names[0]).class_names == ("one", "two", "three")


def test_a_run_without_the_attribute_takes_its_specs_names(iris_run, tmp_path):
    old = _with_attr(iris_run, tmp_path / "old.h5", "iris", None)
    assert Replay(old, "iris").class_names == ("setosa", "versicolor", "virginica")


def test_original_deepreplay_file_reads_with_default_names(tmp_path):
    from prebuilt_runs import DEEPREPLAY_RUN, write_deepreplay_file

    path = tmp_path / "dr.h5"
    write_deepreplay_file(path)
    assert runfile.read_run(path, DEEPREPLAY_RUN).class_names == ("class 0", "class 1")
    assert runfile.list_runs(path)[0].class_names == ("class 0", "class 1")
    assert Replay(path, DEEPREPLAY_RUN).class_names == ("class 0", "class 1")


def test_from_arrays_checks_the_names():
    rng = np.random.default_rng(0)
    weights = [[rng.normal(size=(3, 2, 1)), np.zeros((3, 1))]]
    X, y = rng.normal(size=(20, 2)), rng.integers(0, 2, 20)
    assert Replay.from_arrays(weights, ["sigmoid"], X, y,
                              class_names=["no", "yes"]).class_names == ("no", "yes")
    assert Replay.from_arrays(weights, ["sigmoid"], X, y,
                              class_names=["a", "b", "c"]).class_names == ("class 0",
                                                                            "class 1")


# -- the frame -----------------------------------------------------------------------------


def _legend_texts(renderer) -> list[str]:
    return [t.get_text() for legend in renderer.figure.legends for t in legend.get_texts()]


def test_iris_frame_names_the_species_in_legend_ticks_and_confusion(iris_run):
    from replay_core.render.frame import FrameRenderer

    views = Replay(iris_run, "iris").views()
    renderer = FrameRenderer(views, size=(1000, 560))
    assert _legend_texts(renderer)[:3] == ["setosa", "versicolor", "virginica"]
    hist = renderer.artists["probability_histogram"]
    # Top to bottom on the axis: class 0 first (offsets run downwards).
    ticks = sorted(((t.get_position()[1], t.get_text()) for t in hist.ax_hist.get_yticklabels()),
                   reverse=True)
    assert [text for _, text in ticks] == ["setosa", "versicolor", "virginica"]
    assert [t.get_text() for t in hist.ax_conf.get_yticklabels()] == ["seto…", "vers…",
                                                                      "virg…"]


def test_csv_frame_legend_says_the_class_values(tmp_path):
    from replay_core.render.frame import FrameRenderer

    folder = tmp_path / "session"
    params = csv_data.store(csv_data.parse(_animals(), "animals.csv"), folder)
    spec = presets.get("reference").replace(**{
        "dataset.name": "csv", "dataset.params": params,
        "model.layers": [{"units": 3, "activation": "tanh"}], "training.epochs": 1})
    _train(spec, folder / "runs.h5", "animals")
    renderer = FrameRenderer(Replay(folder / "runs.h5", "animals").views(), size=(1000, 560))
    assert _legend_texts(renderer)[:3] == ["bird", "cat", "dog"]


def test_a_long_name_is_shortened_in_the_legend_and_kept_whole_in_the_views():
    from replay_core.render.frame import LEGEND_NAME, FrameRenderer

    rng = np.random.default_rng(1)
    weights = [[rng.normal(size=(2, 2, 3)), np.zeros((2, 3))],
               [rng.normal(size=(2, 3, 1)), np.zeros((2, 1))]]
    X, y = rng.normal(size=(30, 2)), rng.integers(0, 2, 30)
    long = "a very long class name, thirty-nine ch"
    replay = Replay.from_arrays(weights, ["tanh", "sigmoid"], X, y,
                                class_names=["short", long])
    views = replay.views()
    assert views.class_names == ("short", long)
    texts = _legend_texts(FrameRenderer(views, size=(1000, 560)))
    assert texts[:2] == ["short", long[: LEGEND_NAME - 1] + "…"]


def test_cli_info_lists_the_class_names(iris_run, capsys):
    from replay_core import cli

    assert cli.main(["info", str(iris_run)]) == 0
    header, row = capsys.readouterr().out.splitlines()[:2]
    assert header.split()[-1] == "classes"
    assert row.endswith("setosa, versicolor, virginica")


def test_a_training_job_stores_the_names_through_the_writing_process(tmp_path, monkeypatch):
    import time

    from prebuilt_runs import new_session_id

    from replay_core.store.workspace import Workspace
    from studio import jobs

    monkeypatch.setenv("DEEPREPLAY_MAX_WORKERS", "1")
    jobs._reset_for_tests()
    try:
        ws = Workspace.create(tmp_path / "sessions", new_session_id())
        spec = presets.get("iris").replace(**{"training.epochs": 2})
        jobs.submit_training(ws, spec, "iris job")
        deadline = time.monotonic() + 240
        while any(v.state in ("queued", "running") for v in jobs.jobs_of(ws)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with h5py.File(ws.run_path("iris job"), "r") as f:
            assert json.loads(f["iris job"].attrs["class_names"]) == [
                "setosa", "versicolor", "virginica"]
        assert next(r for r in ws.runs() if r.name == "iris job").status == "complete"
    finally:
        jobs._reset_for_tests()


def test_replay_page_confusion_table_names_the_species(data_root, iris_run):
    from prebuilt_runs import seed_workspace
    from test_pages import REPLAY, check, open_app

    at = open_app(seed_workspace(data_root, iris_run), REPLAY)
    check(at.selectbox(key="replay_run").set_value("iris").run())
    found = [e for e in at.expander if e.label.startswith("Confusion matrix at epoch ")]
    assert len(found) == 1, [e.label for e in at.expander]
    table = found[0].dataframe[0].value
    assert list(table.index) == ["true setosa", "true versicolor", "true virginica"]
    assert list(table.columns) == ["predicted setosa", "predicted versicolor",
                                   "predicted virginica"]


def test_runs_page_lists_each_runs_classes(data_root, iris_run, tmp_path):
    from prebuilt_runs import DEEPREPLAY_RUN, seed_workspace, write_deepreplay_file
    from test_pages import RUNS, open_app

    deepreplay = tmp_path / "dr.h5"
    write_deepreplay_file(deepreplay)
    at = open_app(seed_workspace(data_root, iris_run, deepreplay), RUNS)
    table = at.dataframe[0].value
    classes = dict(zip(table["name"], table["classes"]))
    assert classes == {"iris": "setosa, versicolor, virginica",
                       DEEPREPLAY_RUN: "class 0, class 1"}


def test_a_sweeps_runs_store_the_csv_class_values(tmp_path):
    from replay_core.train import sweep

    data = csv_data.parse(_animals(), "animals.csv")
    folder = tmp_path / "session"
    params = csv_data.store(data, folder)
    spec = presets.get("reference").replace(**{
        "dataset.name": "csv", "dataset.params": params, "dataset.standardize": True,
        "model.layers": [{"units": 4, "activation": "tanh"}], "training.epochs": 2})
    result = sweep.run_sweep(sweep.plan({"animals": spec}, 2), folder / "sweep.h5",
                             in_process=True)
    assert len(result.runs) == 2
    with h5py.File(folder / "sweep.h5", "r") as f:
        for name in f:
            assert json.loads(f[name].attrs["class_names"]) == ["bird", "cat", "dog"]
