"""Pages with more than two classes, driven by Streamlit's AppTest.

Runs of 3 and 6 classes are trained once per module with the real trainer (few epochs);
the figures the pages show are compared with an independent replay and scikit-learn.
"""

from __future__ import annotations

import numpy as np
import pytest
from prebuilt_runs import seed_workspace, write_small_run
from sklearn.metrics import confusion_matrix
from test_pages import REPLAY, TRAIN, button, check, epoch_caption, finish_jobs, open_app, texts

from replay_core.data import datasets, presets
from replay_core.data.spec import RunSpec
from replay_core.replay.replayer import Replay
from studio.form import dataset_param_key, run_name_suggestion

EPOCHS = 3
THREE, SIX = "three classes", "six classes"


def _spec(dataset: dict, layers: list) -> RunSpec:
    return RunSpec.from_dict({
        "dataset": dataset, "model": {"layers": layers},
        "training": {"epochs": EPOCHS, "optimizer": "adam", "learning_rate": 0.03},
    })


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    from replay_core.train.trainer import train

    path = tmp_path_factory.mktemp("pages_multiclass") / "runs.h5"
    train(_spec({"name": "spiral", "params": {"n_samples": 150, "arms": 3}},
                [{"units": 6, "activation": "tanh"}, {"units": 2, "activation": "tanh"}]),
          path, THREE)
    train(_spec({"name": "blobs", "params": {"n_samples": 180, "centers": 6}},
                [{"units": 6, "activation": "relu"}, {"units": 2, "activation": "tanh"}]),
          path, SIX)
    write_small_run(path, "binary")
    return path


def _open_replay(data_root, run_file, run: str):
    at = open_app(seed_workspace(data_root, run_file), REPLAY)
    check(at.selectbox(key="replay_run").set_value(run).run())
    return at


def _confusion_expander(at):
    found = [e for e in at.expander if e.label.startswith("Confusion matrix at epoch ")]
    assert len(found) == 1, [e.label for e in at.expander]
    return found[0]


@pytest.mark.parametrize("run, k", [(THREE, 3), (SIX, 6)])
def test_replay_page_shows_a_k_class_run_with_its_confusion_matrix(data_root, run_file, run, k):
    at = _open_replay(data_root, run_file, run)
    assert len(at.image) == 1 and not at.error
    replay = Replay(run_file, run)
    predicted = replay.predict_proba().argmax(-1)
    for epoch in (EPOCHS, 1):
        check(at.slider(key="epoch").set_value(epoch).run())
        accuracy = float((predicted[epoch] == replay.targets).mean())
        assert epoch_caption(at).startswith(f"Epoch {epoch} of {EPOCHS} · loss ")
        assert f"accuracy {accuracy:.1%}" in epoch_caption(at)
        expander = _confusion_expander(at)
        assert expander.label.startswith(f"Confusion matrix at epoch {epoch} · accuracy "
                                         f"{accuracy:.1%}")
        table = expander.dataframe[0].value
        assert list(table.index) == [f"true {c}" for c in replay.class_names]
        assert len(replay.class_names) == k
        np.testing.assert_array_equal(
            table.to_numpy(), confusion_matrix(replay.targets, predicted[epoch],
                                               labels=range(k)))


def test_binary_runs_show_no_confusion_table(data_root, run_file):
    at = _open_replay(data_root, run_file, "binary")
    assert len(at.image) == 1
    assert not [e for e in at.expander if e.label.startswith("Confusion matrix")]


def test_compare_page_takes_a_three_class_run_beside_a_binary_one(data_root, run_file):
    at = open_app(seed_workspace(data_root, run_file))
    check(at.switch_page("app_pages/compare.py").run())
    check(at.multiselect(key="compare_runs").set_value([THREE, "binary"]).run())
    assert not at.error and len(at.image) == 1
    check(at.slider(key="compare_epoch").set_value(1).run())
    assert len(at.image) == 1


def test_train_page_builds_every_dataset_s_controls_from_the_registry(data_root):
    at = open_app(seed_workspace(data_root))
    titles = {info.title for info in datasets.REGISTRY.values()}
    assert titles <= set(at.selectbox(key="ds_name").options)
    for name, info in datasets.REGISTRY.items():
        check(at.selectbox(key="ds_name").set_value(name).run())
        for p in info.params:
            widget = at.number_input(key=dataset_param_key(name, p.name))
            assert widget.value == p.default
        assert not at.error, (name, texts(at.error))
        k, d = datasets.n_classes(name), datasets.input_dim(name)
        output = "1 sigmoid" if k == 2 else f"{k} softmax"
        info_texts = [m.value for m in at.markdown]
        assert any(t.startswith(f"**{d} → ") and f"→ {output}**" in t for t in info_texts), (
            name, info_texts)
        if info.standardize:  # real measurements: standardising switches itself on
            assert at.toggle(key="ds_standardize").value
    # A parameter that sets the number of classes changes the output layer.
    check(at.selectbox(key="ds_name").set_value("spiral").run())
    check(at.number_input(key=dataset_param_key("spiral", "arms")).set_value(3).run())
    assert any("→ 3 softmax**" in m.value for m in at.markdown)


def test_spiral3_preset_trains_through_the_page_and_opens_in_replay(data_root):
    at = open_app(seed_workspace(data_root), TRAIN)
    check(at.button(key="preset_spiral3").click().run())
    assert at.number_input(key=dataset_param_key("spiral", "arms")).value == 3
    at.number_input(key=dataset_param_key("spiral", "n_samples")).set_value(150)
    at.number_input(key="epochs").set_value(3)
    check(at.run())
    check(finish_jobs(check(button(at, "Train").click().run())))
    success = texts(at.success)
    assert len(success) == 1 and "complete, 3 of 3 epochs" in success[0], (
        success, texts(at.error))
    # Samples and epochs edited: the run is named after its settings, not the preset.
    assert success[0].startswith(f"**{run_name_suggestion(presets.get('spiral3'))}**")
    assert len(at.image) == 1  # the live preview of the class regions
    check(at.button(key="open_replay").click().run())
    assert epoch_caption(at).startswith("Epoch 3 of 3 ·")
    assert _confusion_expander(at).label.startswith("Confusion matrix at epoch 3 ")


def test_train_page_comes_back_after_other_pages(data_root):
    # Streamlit drops a widget's value in a run of a page that does not draw it.
    at = open_app(seed_workspace(data_root))
    check(at.selectbox(key="ds_name").set_value("wine").run())
    assert at.toggle(key="ds_standardize").value
    for page in ("app_pages/runs.py", REPLAY, TRAIN):
        check(at.switch_page(page).run())
    assert texts(at.title) == ["Train"] and not at.error
