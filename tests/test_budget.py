"""The training budget: optimizer steps x parameters plus each epoch's evaluation, for a
run and for a sweep in all."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay_core.data import presets
from replay_core.data.spec import RunSpec
from replay_core.errors import TrainingLimitError
from replay_core.train import sweep, trainer
from replay_core.train.trainer import DEFAULT_MAX_COST, STEP_COST, estimate_cost, training_cost

ROOT = Path(__file__).resolve().parent.parent
# The run that cost a shared server minutes of CPU per click under a budget of epochs x
# samples x parameters: moons of 10,000 samples in batches of 1 for 2,000 epochs.
MOONS_10K = presets.get("reference").replace(**{
    "dataset.name": "moons", "dataset.params": {"n_samples": 10_000, "noise": 0.1},
    "training.batch_size": 1, "training.epochs": 2000})
# The default sweep budget of the app (studio.session.MAX_SWEEP_COST).
SWEEP_BUDGET = 20 * DEFAULT_MAX_COST


def test_batch_size_counts_as_the_optimizer_steps_do():
    batch_1 = MOONS_10K.replace(**{"training.epochs": 100})
    batch_16 = batch_1.replace(**{"training.batch_size": 16})
    params = 2 * 2 + 2 + 2 * 1 + 1  # 2 -> 2 -> 1
    evaluation = 100 * 10_000 * params  # every sample, every epoch, a forward pass each
    # 10,000 steps an epoch in batches of 1, 625 in batches of 16.
    assert estimate_cost(batch_1) == 100 * 10_000 * params * STEP_COST + evaluation
    assert estimate_cost(batch_16) == 100 * 625 * params * STEP_COST + evaluation
    steps_ratio = ((estimate_cost(batch_1) - evaluation)
                   / (estimate_cost(batch_16) - evaluation))
    assert steps_ratio == 10_000 / 625 == 16
    assert 14 < estimate_cost(batch_1) / estimate_cost(batch_16) <= 16
    cost = training_cost(batch_16)
    assert (cost.epochs, cost.batches, cost.params, cost.evaluated, cost.steps) == (
        100, 625, params, 10_000, 62_500)


def test_validation_samples_are_evaluated_but_take_no_steps():
    spec = MOONS_10K.replace(**{"dataset.validation_split": 0.25, "training.batch_size": 100,
                                "training.epochs": 10})
    # 7,500 training samples in 75 batches; all 10,000 evaluated every epoch.
    assert estimate_cost(spec) == 10 * 9 * (75 * STEP_COST + 10_000)


@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 4096), epochs=st.integers(1, 2000),
       n_samples=st.integers(20, 10_000))
def test_a_larger_batch_never_costs_more(batch, epochs, n_samples):
    spec = MOONS_10K.replace(**{"dataset.params": {"n_samples": n_samples, "noise": 0.1},
                                "training.batch_size": batch, "training.epochs": epochs})
    larger = spec.replace(**{"training.batch_size": min(4096, batch * 2)})
    assert estimate_cost(larger) <= estimate_cost(spec)
    assert estimate_cost(spec) == epochs * 9 * (math.ceil(n_samples / batch) * STEP_COST
                                                + n_samples)


def test_moons_in_batches_of_one_for_2000_epochs_is_refused(tmp_path):
    epochs_seen = []
    path = tmp_path / "runs.h5"
    with pytest.raises(TrainingLimitError) as refused:
        trainer.train(MOONS_10K, path, "moons", on_epoch=epochs_seen.append,
                      max_budget=DEFAULT_MAX_COST)
    message = str(refused.value)
    assert f"{estimate_cost(MOONS_10K):,}" in message and f"{DEFAULT_MAX_COST:,}" in message
    assert "2,000 epochs x 10,000 batches of 1 x 9 parameters" in message
    assert "a larger batch size" in message and "lower the epochs" in message
    # What would fit is said too, and it does fit.
    fits = training_cost(MOONS_10K).max_epochs(DEFAULT_MAX_COST)
    assert f"at most {fits:,} epochs" in message
    assert estimate_cost(MOONS_10K.replace(**{"training.epochs": fits})) <= DEFAULT_MAX_COST
    assert estimate_cost(MOONS_10K.replace(**{"training.epochs": fits + 1})) > DEFAULT_MAX_COST
    assert message.count(". ") == 0 and "\n" not in message  # one sentence
    assert epochs_seen == [] and not path.exists()
    # The same spec in batches of 16 fits the budget.
    assert estimate_cost(MOONS_10K.replace(**{"training.batch_size": 16})) <= DEFAULT_MAX_COST


def test_the_refusal_comes_before_tensorflow_is_loaded(tmp_path):
    code = (
        "import sys\n"
        "from replay_core import trainer\n"
        "from replay_core.errors import TrainingLimitError\n"
        "from replay_core.data.spec import RunSpec\n"
        f"spec = RunSpec.from_json({MOONS_10K.to_json()!r})\n"
        "try:\n"
        f"    trainer.train(spec, {str(tmp_path / 'runs.h5')!r}, 'moons',\n"
        "                  max_budget=trainer.DEFAULT_MAX_COST)\n"
        "except TrainingLimitError:\n"
        "    print('refused', 'tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.stdout.strip() == "refused False False", out.stderr[-2000:]


@pytest.mark.parametrize("name", presets.names())
def test_every_preset_fits_the_default_budget_with_room(name):
    spec = presets.get(name)
    cost = trainer._check_budget(spec, DEFAULT_MAX_COST)
    assert cost.total == estimate_cost(spec) <= DEFAULT_MAX_COST / 2


def _app_budgets(**env: str) -> tuple[int, int]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("DEEPREPLAY_MAX_COST", "DEEPREPLAY_MAX_SWEEP_COST")}
    out = subprocess.run(
        [sys.executable, "-c", "from studio import session\n"
                               "print(session.MAX_TRAINING_COST, session.MAX_SWEEP_COST)"],
        capture_output=True, text=True, cwd=ROOT, env={**clean, **env}, timeout=120)
    run, total = out.stdout.split()
    return int(run), int(total)


def test_the_app_uses_the_library_default_and_its_settings():
    assert _app_budgets() == (DEFAULT_MAX_COST, SWEEP_BUDGET)
    # A sweep's budget follows a run's unless it is set too.
    assert _app_budgets(DEEPREPLAY_MAX_COST="1e6") == (10**6, 2 * 10**7)
    assert _app_budgets(DEEPREPLAY_MAX_COST="1e6", DEEPREPLAY_MAX_SWEEP_COST="3e7") == (
        10**6, 3 * 10**7)


# -- sweeps --------------------------------------------------------------------------------


def _reference_configs() -> dict[str, RunSpec]:
    return {label: presets.get(name) for label, name in
            [("sigmoid", "reference"), ("tanh", "reference_tanh"), ("relu", "reference_relu")]}


def test_three_activations_by_50_seeds_of_the_reference_run_fit(tmp_path):
    tasks = sweep.plan(_reference_configs(), 50)
    total = sweep.check_budget(tasks, DEFAULT_MAX_COST, tmp_path / "runs.h5",
                               max_total=SWEEP_BUDGET)
    assert total == 150 * estimate_cost(presets.get("reference"))
    assert total <= SWEEP_BUDGET / 10


def test_eight_configurations_by_50_seeds_of_a_costly_run_are_refused(tmp_path):
    overfitting = presets.get("overfitting")  # the costliest preset, within a run's budget
    configs = {f"lr {lr:g}": overfitting.replace(**{"training.learning_rate": lr})
               for lr in (0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.03, 0.05)}
    tasks = sweep.plan(configs, 50)
    # Each run alone is within the budget of a run...
    sweep.check_budget(tasks[:1], DEFAULT_MAX_COST, tmp_path / "runs.h5")
    total = 400 * estimate_cost(overfitting)
    with pytest.raises(TrainingLimitError) as refused:
        sweep.check_budget(tasks, DEFAULT_MAX_COST, tmp_path / "runs.h5",
                           max_total=SWEEP_BUDGET)
    message = str(refused.value)
    assert f"{total:,}" in message and f"{SWEEP_BUDGET:,}" in message
    assert "400 runs of 8 configurations" in message
    assert "fewer seeds or fewer configurations" in message and "\n" not in message
    # ... and run_sweep refuses it before any worker starts or the file exists.
    path = tmp_path / "sweep.h5"
    with pytest.raises(TrainingLimitError, match="over the sweep budget"):
        sweep.run_sweep(tasks, path, max_budget=DEFAULT_MAX_COST,
                        max_total_budget=SWEEP_BUDGET)
    assert not path.exists()


def test_a_sweep_still_checks_each_run_against_a_runs_budget(tmp_path):
    costly = MOONS_10K.replace(**{"training.epochs": 1000})
    tasks = sweep.plan({"cheap": presets.get("reference"), "costly": costly}, 2)
    with pytest.raises(TrainingLimitError, match="this run costs .* a larger batch size"):
        sweep.check_budget(tasks, DEFAULT_MAX_COST, tmp_path / "runs.h5",
                           max_total=math.inf)
