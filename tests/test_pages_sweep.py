"""The Seed sweep page driven by AppTest: results of a recorded sweep, its entry points,
refusals, and a sweep started from the page (worker processes spawned from the script)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from prebuilt_runs import (
    SMALL_EPOCHS,
    PrebuiltRuns,
    seed_workspace,
    session_prebuilt_runs,
    small_spec,
)
from streamlit.testing.v1 import AppTest
from test_pages import finish_jobs

from replay_core.replay.replayer import Replay
from replay_core.store import runfile, workspace
from replay_core.train import sweep
from studio import session

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "streamlit_app.py"
SWEEP, COMPARE, TRAIN = "app_pages/sweep.py", "app_pages/compare.py", "app_pages/train.py"
SEEDS = 3
EPOCHS = 20


def _configs(epochs: int = EPOCHS, lr: float = 0.5) -> dict:
    """tanh and relu hidden layers, a large learning rate: some seeds reach 100% in 20
    epochs, some do not."""
    return {act: small_spec(epochs, **{"training.learning_rate": lr, "model.layers": [
        {"units": 2, "activation": act, "name": "hidden"}]}) for act in ("tanh", "relu")}


@pytest.fixture(scope="session")
def prebuilt(tmp_path_factory) -> PrebuiltRuns:
    return session_prebuilt_runs(tmp_path_factory)


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[Path, str]:
    """A run file holding one sweep: tanh and relu, seeds 1 to 3, 20 epochs."""
    path = tmp_path_factory.mktemp("swept") / "runs.h5"
    result = sweep.run_sweep(sweep.plan(_configs(), SEEDS), path, workers=2)
    assert result.failures == [] and len(result.runs) == 2 * SEEDS
    path.chmod(0o444)
    return path, result.sweep_id


@pytest.fixture(scope="module")
def short_runs(tmp_path_factory) -> Path:
    """Runs "short sigmoid" and "short tanh": 3 epochs each, to sweep from the page."""
    from replay_core.train.trainer import train

    path = tmp_path_factory.mktemp("short") / "runs.h5"
    train(small_spec(3), path, "short sigmoid")
    train(small_spec(3, **{"model.layers": [{"units": 2, "activation": "tanh",
                                             "name": "hidden"}]}), path, "short tanh")
    path.chmod(0o444)
    return path


def check(at: AppTest) -> AppTest:
    assert not at.exception, "\n\n".join(
        f"{e.message}\n{''.join(e.stack_trace)}" for e in at.exception)
    return at


def open_app(session_id: str, page: str = SWEEP, **state) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.session_state["session_id"] = session_id
    check(at.run())
    for key, value in state.items():
        at.session_state[key] = value
    if page != TRAIN:
        check(at.switch_page(page).run())
    return at


def button(at: AppTest, label: str):
    found = [b for b in at.button if b.label == label]
    assert len(found) == 1, f"{len(found)} buttons labelled {label!r}: {[b.label for b in at.button]}"
    return found[0]


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def charts(at: AppTest) -> list[dict]:
    """The Vega-Lite specs of the page's Altair charts, each with its ``datasets`` as
    lists of row dicts."""
    import pyarrow as pa

    out = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        spec["datasets"] = {
            d.name: pa.ipc.open_stream(d.data.data).read_pandas().to_dict("records")
            for d in chart.proto.datasets}
        out.append(spec)
    return out


def by_hand(path: Path, sweep_id: str) -> dict:
    """Per configuration, from the weights alone: seeds, first epoch at 100 % training
    accuracy of each seed (None for never) and final loss."""
    out: dict[str, dict] = {}
    for summary in runfile.list_runs(path):
        info = summary.sweep or {}
        if info.get("id") != sweep_id:
            continue
        replay = Replay(path, summary.name)
        p = replay.predict_proba()
        y = replay.targets.astype(bool)
        correct = ((p > 0.5) == y[None, :]).all(axis=1)
        perfect = [e for e in range(1, replay.n_epochs + 1) if correct[e]]
        pe = np.clip(p[-1], 1e-7, 1 - 1e-7)
        loss = float(-np.mean(y * np.log(pe) + (1 - y) * np.log(1 - pe)))
        entry = out.setdefault(info["config"], {"first": {}, "loss": {}})
        entry["first"][summary.name] = perfect[0] if perfect else None
        entry["loss"][summary.name] = loss
    return out


# -- the page's figures, by hand -------------------------------------------------------


def _summary(config: str, firsts: list) -> sweep.ConfigSummary:
    runs = [sweep.SweepRun(f"{config} seed {i}", config, i, "complete", 10, fp, 0.1, 1.0)
            for i, fp in enumerate(firsts, start=1)]
    (summary,) = sweep.summarize(runs)
    return summary


def test_the_sentence_by_hand():
    from studio.sweep_view import interpretation

    a = _summary("sigmoid", [40, None, 50, None])      # median 45, never 2 of 4
    b = _summary("relu", [10, 30, 20, 12])             # median 16, never 0
    c = _summary("tanh", [15, 25, None, 20])           # median 20, never 1
    budgets = {"sigmoid": 150, "relu": 150, "tanh": 150}
    assert interpretation([a, b, c], budgets) == (
        "relu reached 100% training accuracy fastest: median epoch 16. sigmoid failed most "
        "often: 2 of 4 seeds (50%) never reached it within 150 epochs. Every seed of relu "
        "reached it.")
    assert interpretation([b, _summary("x", [16, 16, 16, 16])], budgets).startswith(
        "relu and x reached 100% training accuracy fastest: median epoch 16. Every seed of "
        "every configuration got there.")
    none = [_summary("p", [None, None]), _summary("q", [None, None])]
    assert interpretation(none, {"p": 5, "q": 5}) == (
        "No seed of any configuration reached 100% training accuracy within its epochs. "
        "Every configuration missed it on 100% of its seeds (2 of 2).")


def test_boxes_and_rows_by_hand():
    from studio.sweep_view import box_stats, summary_rows, sweep_frame

    runs = [sweep.SweepRun(f"a{i}", "a", i, "complete", 10, fp, loss, 1.0)
            for i, (fp, loss) in enumerate([(1, 0.4), (2, 0.3), (3, 0.2), (4, 0.1)], 1)]
    runs.append(sweep.SweepRun("b1", "b", 1, "diverged", 3, None, float("nan"), 0.5))
    frame = sweep_frame(runs)
    # Linear quartiles of 1, 2, 3, 4: 1.75, 2.5, 3.25; "b" never got there: no box.
    (box,) = box_stats(frame, "first_perfect", ["a", "b"]).to_dict("records")
    assert (box["config"], box["row"], box["min"], box["q1"], box["median"], box["q3"],
            box["max"]) == ("a", 0, 1, 1.75, 2.5, 3.25, 4)
    assert list(frame["jitter"].between(-1, 1)) == [True] * 5
    rows = summary_rows(sweep.summarize(runs))
    assert rows[0] == {"configuration": "a", "seeds": 4, "reached 100%": 4, "never": "0 (0%)",
                       "first 100% epoch: median [range]": "2.5 [1–4]",
                       "final loss: median [range]": "0.2500 [0.1000–0.4000]", "diverged": 0}
    assert rows[1]["diverged"] == 1 and rows[1]["final loss: median [range]"] == "—"


@pytest.mark.parametrize("losses, log", [([0.004, 0.005, 0.4], True), ([0.1, 0.3, 0.2], False)])
def test_the_loss_axis_turns_logarithmic_over_a_wide_range(losses, log):
    from studio.sweep_view import final_loss_chart, sweep_frame

    runs = [sweep.SweepRun(f"a{i}", "a", i, "complete", 10, None, v, 1.0)
            for i, v in enumerate(losses, 1)]
    spec = final_loss_chart(sweep_frame(runs), ["a"]).to_dict()
    dots = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "point")
    assert (dots["encoding"]["x"]["scale"].get("type") == "log") == log
    assert ("log scale" in dots["encoding"]["x"]["title"]) == log


@pytest.mark.parametrize("event, run", [
    ({"selection": {"pick": [{"run": "relu seed 3"}]}}, "relu seed 3"),
    ({"selection": {"pick": {"run": ["tanh seed 1"]}}}, "tanh seed 1"),
    ({"selection": {"pick": []}}, None),
    ({"selection": {}}, None),
    (None, None),
])
def test_a_click_gives_the_run(event, run):
    from studio.sweep_view import picked_run

    assert picked_run(event) == run


# -- results of a recorded sweep ---------------------------------------------------------


def test_results_table_counts_match_the_runs_replayed_by_hand(data_root, swept):
    path, sweep_id = swept
    sid = seed_workspace(data_root, path)
    at = open_app(sid)
    assert texts(at.title) == ["Seed sweep"]
    assert at.selectbox(key="sweep_selected").value == sweep_id
    table = at.dataframe[0].value
    expected = by_hand(path, sweep_id)
    assert list(table["configuration"]) == ["tanh", "relu"]
    for _, row in table.iterrows():
        firsts = expected[row["configuration"]]["first"]
        reached = sorted(v for v in firsts.values() if v is not None)
        never = sum(v is None for v in firsts.values())
        assert row["seeds"] == SEEDS
        assert row["reached 100%"] == len(reached)
        assert row["never"] == f"{never} ({never / SEEDS:.0%})"
        if reached:
            assert row["first 100% epoch: median [range]"] == (
                f"{np.median(reached):g} [{reached[0]}–{reached[-1]}]")
        losses = sorted(expected[row["configuration"]]["loss"].values())
        assert row["final loss: median [range]"].startswith(f"{np.median(losses):.4f} [")
    assert not at.error and not at.exception


def test_the_sentence_names_the_fastest_and_the_least_reliable(data_root, swept):
    path, sweep_id = swept
    at = open_app(seed_workspace(data_root, path))
    expected = by_hand(path, sweep_id)
    medians = {c: np.median([v for v in e["first"].values() if v is not None])
               for c, e in expected.items() if any(v is not None for v in e["first"].values())}
    never = {c: sum(v is None for v in e["first"].values()) for c, e in expected.items()}
    sentence = next(m.value for m in at.markdown if "100% training accuracy" in m.value)
    if medians:
        best = min(medians.values())
        fastest = [c for c, m in medians.items() if m == best]
        assert sentence.startswith(" and ".join(fastest) + " reached 100% training accuracy "
                                   "fastest") or len(medians) == 1
        assert f"median epoch {best:g}" in sentence
    worst = max(never.values())
    if worst and len(set(never.values())) == 1:
        assert f"Every configuration missed it on {worst / SEEDS:.0%} of its seeds" in sentence
    elif worst:
        losers = [c for c, n in never.items() if n == worst]
        assert f"{' and '.join(losers)} failed most often" in sentence
        assert f"{worst} of {SEEDS} seeds" in sentence and f"within {EPOCHS} epochs" in sentence
    else:
        assert "Every seed of every configuration got there." in sentence


def test_the_charts_plot_one_clickable_dot_per_seed(data_root, swept):
    path, sweep_id = swept
    at = open_app(seed_workspace(data_root, path))
    first, loss = charts(at)
    expected = by_hand(path, sweep_id)
    for spec in (first, loss):
        assert spec["usermeta"]["embedOptions"]["renderer"] == "svg"
        (pick,) = spec["params"]
        assert pick["select"]["fields"] == ["run"] and pick["select"]["on"] == "click"
        dots = _dots(spec)
        assert dots.get("name") in pick["views"]  # the dots carry the click selection
        tooltip = {t["field"] for t in dots["encoding"]["tooltip"]}
        assert tooltip == {"run", "seed", "value"}
        rows = _dot_rows(spec)
        assert sorted(r["run"] for r in rows) == sorted(
            n for e in expected.values() for n in e["first"])
    rows = {r["run"]: r for r in _dot_rows(first)}
    for entry in expected.values():
        for name, epoch in entry["first"].items():
            if epoch is None:  # right of the end of training, on the "never" label
                assert rows[name]["x"] > EPOCHS and rows[name]["value"].startswith("never")
            else:
                assert rows[name]["x"] == epoch and rows[name]["value"] == f"epoch {epoch}"
    loss_rows = {r["run"]: r for r in _dot_rows(loss)}
    for entry in expected.values():
        for name, value in entry["loss"].items():
            assert loss_rows[name]["x"] == pytest.approx(value, rel=1e-4)
    assert "'never'" in _dots(first)["encoding"]["x"]["axis"]["labelExpr"]


def _dots(spec: dict) -> dict:
    (layer,) = [layer for layer in spec["layer"] if layer["mark"]["type"] == "point"]
    return layer


def _dot_rows(spec: dict) -> list[dict]:
    """The rows the dots are drawn from (a layer's own data, or the chart's)."""
    return spec["datasets"][_dots(spec).get("data", spec.get("data"))["name"]]


def test_open_in_replay_opens_the_chosen_run_on_its_last_epoch(data_root, swept):
    path, _ = swept
    at = open_app(seed_workspace(data_root, path))
    names = at.selectbox(key=[w.key for w in at.selectbox
                              if w.key.startswith("sweep_run_")][0]).options
    assert names == ["tanh seed 1", "tanh seed 2", "tanh seed 3",
                     "relu seed 1", "relu seed 2", "relu seed 3"]
    box = next(w for w in at.selectbox if w.key.startswith("sweep_run_"))
    check(box.set_value("relu seed 2").run())
    check(button(at, "Open in Replay ▶").click().run())
    assert at.selectbox(key="replay_run").value == "relu seed 2"
    assert any(c.value.startswith(f"Epoch {EPOCHS} of {EPOCHS} ·") for c in at.caption)


def test_a_stopped_sweep_reports_the_runs_it_kept(data_root, prebuilt):
    """A sweep followed from a fresh page session (a reload: nothing of the first run's
    state) shows its progress and Stop; the notice after Stop gives the counts in the
    file."""
    sid = seed_workspace(data_root, prebuilt.small)
    at = open_app(sid, sweep_handover_spec=small_spec(2000).to_json())
    check(at.number_input(key="sweep_seeds").set_value(2).run())
    check(button(at, "Start").click().run())
    again = open_app(sid)  # the page in a new session: it finds the sweep by its job
    assert "sweep_job" in again.session_state and button(again, "Running…").disabled
    assert [p for p in again.get("progress")], "the running sweep shows no progress"
    assert texts(again.info) == ["The sweep's results appear here once it has ended."]
    check(button(again, "Stop").click().run())
    # A stop that lands before the worker has started the runs ends the job at once, and
    # the Stop's own run already says so; otherwise the run after the job's end does.
    seen = texts(again.warning)
    check(finish_jobs(again, timeout=300))
    seen += texts(again.warning)
    ws = workspace.Workspace(data_root / "sessions" / sid)
    members = [r for r in ws.runs() if r.sweep]
    finished = sum(r.status in ("complete", "diverged") for r in members)
    midway = sum(r.status == "stopped" for r in members)
    assert finished < 2 and not any(r.status == "running" for r in members)
    notice = f"Stopped: {finished} of 2 runs finished, {midway} kept with their finished epochs."
    assert seen.count(notice) == 1, seen
    check(again.run())  # said once
    assert notice not in texts(again.warning)


# -- choosing configurations -----------------------------------------------------------


def test_runs_without_settings_cannot_be_swept(data_root, prebuilt):
    at = open_app(seed_workspace(data_root, prebuilt.small, prebuilt.deepreplay))
    choice = at.multiselect(key="sweep_choice")
    assert choice.options == ["sigmoid (reference run)", "tanh (reference run)",
                              "relu (reference run)", "small"]
    assert any("cannot be swept: sgd." in c.value for c in at.caption)
    assert any("No sweep in this session yet" in i.value for i in at.info)
    assert button(at, "Start").disabled


def test_the_reference_button_picks_three_activations(data_root, prebuilt):
    at = open_app(seed_workspace(data_root, prebuilt.small))
    check(button(at, "Sigmoid, tanh and relu (reference run)").click().run())
    assert at.multiselect(key="sweep_choice").value == [
        "preset:sigmoid", "preset:tanh", "preset:relu"]
    line = next(m.value for m in at.markdown if m.value.startswith("**"))
    # The three activations share one graph: the 60 runs train as one batched program.
    assert line == ("**60 runs**: 3 configurations × 20 seeds, 150 epochs each, "
                    "in 1 batched group")
    assert at.number_input(key="sweep_workers").value == sweep.default_workers()


def test_the_plan_counts_the_groups_the_sweep_trains(data_root, prebuilt):
    at = open_app(seed_workspace(data_root, prebuilt.small))
    # "small" is the reference network on fewer samples: a graph of its own.
    check(at.multiselect(key="sweep_choice").set_value(
        ["preset:sigmoid", "preset:tanh", "run:small"]).run())
    check(at.number_input(key="sweep_seeds").set_value(3).run())
    check(at.number_input(key="sweep_workers").set_value(1).run())
    line = next(m.value for m in at.markdown if m.value.startswith("**"))
    assert line == (f"**9 runs**: 3 configurations × 3 seeds, {SMALL_EPOCHS}–150 epochs, "
                    "in 2 batched groups, one at a time")


def test_seeds_out_of_range_cannot_be_entered(data_root, prebuilt):
    sid = seed_workspace(data_root, prebuilt.small)
    at = open_app(sid)
    seeds = at.number_input(key="sweep_seeds")
    assert (seeds.min, seeds.max, seeds.value) == (1, sweep.MAX_SEEDS, 20)
    check(at.multiselect(key="sweep_choice").set_value(["run:small"]).run())
    # The browser refuses typed values out of the bounds; the server replaces a forged
    # one by a value within them.
    for bad in (0, sweep.MAX_SEEDS + 1, -5):
        check(at.number_input(key="sweep_seeds").set_value(bad).run())
        kept = at.number_input(key="sweep_seeds").value
        assert 1 <= kept <= sweep.MAX_SEEDS
        line = next(m.value for m in at.markdown if m.value.startswith("**"))
        assert line.startswith(f"**{kept} runs**: 1 configuration × {kept} seeds")
    assert workspace.Workspace(data_root / "sessions" / sid).run_names() == ["small"]
    with pytest.raises(sweep.SweepError, match=f"1 to {sweep.MAX_SEEDS}"):  # what the page says
        sweep.plan({"small": small_spec()}, sweep.MAX_SEEDS + 1)


def test_a_sweep_that_does_not_fit_says_so_once(data_root, prebuilt, monkeypatch):
    monkeypatch.setattr(workspace, "MAX_RUNS", 5)
    sid = seed_workspace(data_root, prebuilt.small)
    at = open_app(sid)
    check(at.multiselect(key="sweep_choice").set_value(["run:small"]).run())
    check(at.number_input(key="sweep_seeds").set_value(5).run())
    check(button(at, "Start").click().run())
    errors = texts(at.error)
    assert errors == ["The sweep did not start: this session holds 1 runs and can keep 5: "
                      "5 more do not fit; delete 1 on the Runs page or sweep fewer seeds"]
    assert workspace.Workspace(data_root / "sessions" / sid).run_names() == ["small"]


def test_an_over_budget_sweep_says_so_once(data_root, prebuilt, monkeypatch):
    monkeypatch.setattr(session, "MAX_TRAINING_COST", 1000)
    sid = seed_workspace(data_root, prebuilt.small)
    at = open_app(sid)
    check(at.multiselect(key="sweep_choice").set_value(["run:small"]).run())
    check(button(at, "Start").click().run())
    errors = texts(at.error)
    assert len(errors) == 1 and errors[0].startswith("The sweep did not run:")
    assert "budget of 1,000" in errors[0]
    assert workspace.Workspace(data_root / "sessions" / sid).run_names() == ["small"]


def test_compare_hands_its_runs_to_the_sweep_page(data_root, short_runs):
    at = open_app(seed_workspace(data_root, short_runs), COMPARE)
    check(at.multiselect(key="compare_runs").set_value(["short sigmoid", "short tanh"]).run())
    check(button(at, "Sweep seeds for these runs").click().run())
    assert texts(at.title) == ["Seed sweep"]
    assert at.multiselect(key="sweep_choice").value == ["run:short sigmoid", "run:short tanh"]


def test_train_hands_its_settings_to_the_sweep_page(data_root, prebuilt):
    at = open_app(seed_workspace(data_root, prebuilt.small), TRAIN)
    check(at.number_input(key="epochs").set_value(7).run())
    check(button(at, "Sweep seeds…").click().run())
    assert texts(at.title) == ["Seed sweep"]
    assert at.multiselect(key="sweep_choice").value == ["current"]
    assert json.loads(at.session_state["sweep_current_spec"])["training"]["epochs"] == 7
    line = next(m.value for m in at.markdown if m.value.startswith("**"))
    assert line.startswith("**20 runs**: 1 configuration × 20 seeds, 7 epochs each")


# -- a sweep from the page -------------------------------------------------------------


def test_a_sweep_started_from_the_page_records_every_run(data_root, short_runs):
    sid = seed_workspace(data_root, short_runs)
    at = open_app(sid)
    check(at.multiselect(key="sweep_choice").set_value(
        ["run:short sigmoid", "run:short tanh"]).run())
    check(at.number_input(key="sweep_seeds").set_value(2).run())
    check(button(at, "Start").click().run())
    # The sweep is a job: it trains in worker processes while the page returns at once.
    check(finish_jobs(at, timeout=600))
    ws = workspace.Workspace(data_root / "sessions" / sid)
    swept_runs = [r for r in ws.runs() if r.sweep]
    assert sorted((r.sweep["config"], r.sweep["seed"], r.status, r.epochs_done)
                  for r in swept_runs) == [
        ("short sigmoid", 1, "complete", 3), ("short sigmoid", 2, "complete", 3),
        ("short tanh", 1, "complete", 3), ("short tanh", 2, "complete", 3)]
    # Each run is its configuration's settings with the sweep's seed.
    stored = {r.name: r.spec for r in ws.runs()}
    for run in swept_runs:
        expected = dict(stored[run.sweep["config"]])
        expected["training"] = {**expected["training"], "seed": run.sweep["seed"]}
        assert run.spec == expected
    success = texts(at.success)
    assert len(success) == 1 and success[0].startswith("Sweep finished: 4 of 4 runs"), (
        success, texts(at.error), texts(at.warning))
    table = at.dataframe[0].value
    assert list(table["configuration"]) == ["short sigmoid", "short tanh"]
    assert list(table["seeds"]) == [2, 2]
    assert at.selectbox(key="sweep_selected").value == swept_runs[0].sweep["id"]
    assert not any(b.label == "Stop" for b in at.button)


def test_workers_are_capped_by_what_the_server_can_spare(data_root, prebuilt, monkeypatch):
    monkeypatch.setenv(sweep.WORKERS_ENV, "1")
    at = open_app(seed_workspace(data_root, prebuilt.small))
    workers = at.number_input(key="sweep_workers")
    assert (workers.min, workers.max, workers.value) == (1, 1, 1)


def test_no_tensorflow_in_the_page_process(data_root, swept, tmp_path):
    """Rendering the page, running a sweep and showing its results must not load
    TensorFlow in the server: each worker has its own."""
    import subprocess
    import sys

    path, _ = swept
    sid = seed_workspace(data_root, path)
    code = (
        "import sys\n"
        f"sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(APP)!r}, default_timeout=120)\n"
        f"at.session_state['session_id'] = {sid!r}\n"
        "at.run()\n"
        f"at.switch_page({SWEEP!r}).run()\n"
        "assert not at.exception, [e.message for e in at.exception]\n"
        "assert len(at.get('vega_lite_chart')) == 2\n"
        "at.multiselect(key='sweep_choice').set_value(['run:tanh seed 1']).run()\n"
        "at.number_input(key='sweep_seeds').set_value(1).run()\n"
        "[b for b in at.button if b.label == 'Start'][0].click().run()\n"
        "assert not at.exception, [e.message for e in at.exception]\n"
        "from test_pages import finish_jobs\n"
        "finish_jobs(at, timeout=300)\n"
        "assert not at.exception, [e.message for e in at.exception]\n"
        "assert [s.value for s in at.success][0].startswith('Sweep finished: 1 of 1'), "
        "[e.value for e in at.error]\n"
        "print('tensorflow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "DEEPREPLAY_DATA": str(data_root)},
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "False"



# -- leaving the page and coming back --------------------------------------------------


@pytest.mark.parametrize("away", [TRAIN, COMPARE, "app_pages/replay.py"])
def test_the_choices_survive_a_visit_to_another_page(data_root, short_runs, away):
    at = open_app(seed_workspace(data_root, short_runs))
    check(at.multiselect(key="sweep_choice").set_value(
        ["run:short sigmoid", "preset:tanh"]).run())
    check(at.number_input(key="sweep_seeds").set_value(4).run())
    check(at.number_input(key="sweep_workers").set_value(1).run())
    check(at.switch_page(away).run())
    assert texts(at.title) != ["Seed sweep"]
    check(at.run())  # a second run of the other page: Streamlit forgets unseen widgets here
    check(at.switch_page(SWEEP).run())
    assert at.multiselect(key="sweep_choice").value == ["run:short sigmoid", "preset:tanh"]
    assert at.number_input(key="sweep_seeds").value == 4
    assert at.number_input(key="sweep_workers").value == 1
    line = next(m.value for m in at.markdown if m.value.startswith("**"))
    assert line.startswith("**8 runs**: 2 configurations × 4 seeds")


def test_the_chosen_run_of_a_sweep_survives_a_visit_to_another_page(data_root, swept):
    path, sweep_id = swept
    at = open_app(seed_workspace(data_root, path))
    check(at.selectbox(key=f"sweep_run_{sweep_id}").set_value("relu seed 2").run())
    check(at.switch_page(TRAIN).run())
    check(at.run())
    check(at.switch_page(SWEEP).run())
    assert at.selectbox(key=f"sweep_run_{sweep_id}").value == "relu seed 2"
    assert at.selectbox(key="sweep_selected").value == sweep_id
