"""Compare's "Activation functions in action": the reference run with sigmoid, tanh and
relu, the recorded seed sweep's sentence under the figure, and its way to the Seed sweep."""

from __future__ import annotations

from pathlib import Path

import pytest
from prebuilt_runs import seed_workspace
from streamlit.testing.v1 import AppTest

from replay_core.data import presets

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
COMPARE = "app_pages/compare.py"
TRIO = {"sigmoid": "reference", "tanh": "reference_tanh", "relu": "reference_relu"}


@pytest.fixture(scope="module")
def trio(tmp_path_factory) -> Path:
    """The three reference presets trained whole (runs "sigmoid", "tanh", "relu"), and
    "relu 42", the relu preset with the article's seed."""
    from replay_core.train.trainer import train

    path = tmp_path_factory.mktemp("trio") / "runs.h5"
    for name, preset in TRIO.items():
        train(presets.get(preset), path, name)
    train(presets.get("reference_relu_seed42"), path, "relu 42")
    path.chmod(0o444)
    return path


def check(at: AppTest) -> AppTest:
    assert not at.exception, "\n\n".join(
        f"{e.message}\n{''.join(e.stack_trace)}" for e in at.exception)
    return at


def open_compare(session_id: str, runs: list[str]) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state["session_id"] = session_id
    check(at.run())
    check(at.switch_page(COMPARE).run())
    check(at.multiselect(key="compare_runs").set_value(runs).run())
    return at


def _figure_row(at: AppTest, label: str) -> dict:
    table = at.dataframe[0].value
    row = table[table[""] == label]
    assert len(row) == 1, list(table[""])
    return row.iloc[0].to_dict()


def test_the_three_activations_show_the_article_order_and_the_sweep_sentence(data_root, trio):
    at = open_compare(seed_workspace(data_root, trio), ["sigmoid", "tanh", "relu"])
    first = _figure_row(at, "first epoch at 100% training accuracy")
    assert int(first["relu"]) < int(first["tanh"]) < int(first["sigmoid"]) <= 150
    captions = [c.value for c in at.caption]
    assert presets.reference_sweep_sentence() in captions
    # The sentence's counts are the recorded sweep's.
    counts = presets.reference_orders()
    assert f"relu → tanh → sigmoid (the article's) {counts.orders[('relu', 'tanh', 'sigmoid')]}" \
        in presets.reference_sweep_sentence()

    link = at.button(key="compare_trio_sweep")
    check(link.click().run())
    assert [t.value for t in at.title] == ["Seed sweep"]
    assert at.multiselect(key="sweep_choice").value == ["run:sigmoid", "run:tanh", "run:relu"]
    assert at.number_input(key="sweep_seeds").value == counts.seeds == 20
    line = next(m.value for m in at.markdown if m.value.startswith("**"))
    assert line.startswith("**60 runs**: 3 configurations × 20 seeds, 150 epochs each")


def test_other_runs_get_no_sweep_sentence(data_root, trio):
    # The article's seed is not the recorded seed: same activations, no sentence.
    at = open_compare(seed_workspace(data_root, trio), ["sigmoid", "tanh", "relu 42"])
    assert presets.reference_sweep_sentence() not in [c.value for c in at.caption]
    assert "compare_trio_sweep" not in [b.key for b in at.button]
    first = _figure_row(at, "first epoch at 100% training accuracy")
    assert first["relu 42"] == "never"
    # Two of the three are not the trio either.
    check(at.multiselect(key="compare_runs").set_value(["sigmoid", "relu"]).run())
    assert "compare_trio_sweep" not in [b.key for b in at.button]
