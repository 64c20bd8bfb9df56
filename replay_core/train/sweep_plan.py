"""Planning a seed sweep: every configuration with every seed, named, and its cost checked.

A sweep trains every configuration with the same N seeds (1 to N: the training seed,
which sets the initial weights and the shuffling; the data stay the same). ``plan`` turns
configurations and seeds into :class:`SweepTask` (one run each); ``check_budget`` refuses
a sweep that costs too much before anything starts.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from replay_core.data.spec import RunSpec
from replay_core.errors import ReplayError
from replay_core.store.names import unique_name

__all__ = ["MAX_CONFIGS", "MAX_SEEDS", "SweepError", "SweepTask", "check_budget", "plan"]

MAX_SEEDS = 200
MAX_CONFIGS = 8


class SweepError(ReplayError, ValueError):
    """A sweep that cannot run as asked (a bad seed count, no configuration...)."""


@dataclass(frozen=True)
class SweepTask:
    """One run of a sweep: a configuration's spec with one seed, and its run name."""

    index: int
    config: str
    seed: int
    run_name: str
    spec_json: str
    sweep_id: str

    @property
    def spec(self) -> RunSpec:
        return RunSpec.from_json(self.spec_json)


def _seed_list(seeds: int | Iterable[int]) -> list[int]:
    if isinstance(seeds, bool):
        raise SweepError(f"seeds must be a number of seeds (1 to {MAX_SEEDS}) or a list")
    if isinstance(seeds, int | np.integer):
        if not 1 <= int(seeds) <= MAX_SEEDS:
            raise SweepError(f"the number of seeds must be 1 to {MAX_SEEDS}, got {int(seeds)}")
        return list(range(1, int(seeds) + 1))
    out = [int(s) for s in seeds]
    if not 1 <= len(out) <= MAX_SEEDS:
        raise SweepError(f"give 1 to {MAX_SEEDS} seeds, got {len(out)}")
    if len(set(out)) != len(out):
        raise SweepError("the seeds of a sweep must differ")
    if any(not 0 <= s < 2**31 for s in out):
        raise SweepError("seeds must be whole numbers from 0 to 2147483647")
    return out


def plan(configs: Mapping[str, RunSpec] | Sequence[RunSpec], seeds: int | Iterable[int], *,
         taken: Iterable[str] = (), sweep_id: str | None = None) -> list[SweepTask]:
    """The runs of a sweep: every configuration with every seed.

    Parameters
    ----------
    configs : label -> spec (a sequence is labelled by each spec's hidden activations).
    seeds : a count N (seeds 1 to N) or the seeds themselves; at most ``MAX_SEEDS``.
    taken : run names already in the file; new names avoid them.
    sweep_id : the sweep's id (a new random one when None).

    Returns
    -------
    list of SweepTask, configuration by configuration, seeds in order. Runs are named
    ``<label> seed <s>`` (with `` (2)`` and so on when a name is taken).
    """
    if not isinstance(configs, Mapping):
        configs = _label(list(configs))
    if not configs:
        raise SweepError("a sweep needs at least one configuration")
    if len(configs) > MAX_CONFIGS:
        raise SweepError(f"a sweep takes at most {MAX_CONFIGS} configurations, got "
                         f"{len(configs)}")
    seed_values = _seed_list(seeds)
    sweep_id = sweep_id or uuid.uuid4().hex[:12]
    used = set(taken)
    tasks = []
    for label, spec in configs.items():
        if not isinstance(spec, RunSpec):
            raise SweepError(f"configuration {label!r} is not a RunSpec")
        if not str(label).strip() or "/" in str(label):
            raise SweepError(f"configuration label {label!r} must be non-empty, without '/'")
        data = spec.to_dict()
        for seed in seed_values:
            data["training"]["seed"] = seed
            name = unique_name(f"{label} seed {seed}", used)
            used.add(name)
            tasks.append(SweepTask(len(tasks), str(label), seed, name,
                                   RunSpec.from_dict(data).to_json(), sweep_id))
    return tasks


def _label(specs: list[RunSpec]) -> dict[str, RunSpec]:
    out: dict[str, RunSpec] = {}
    for spec in specs:
        base = "-".join(layer.activation for layer in spec.model.layers)
        out[unique_name(base, set(out))] = spec
    return out


def check_budget(tasks: Sequence[SweepTask], max_budget: float,
                 filename: str | os.PathLike = "runs.h5", *,
                 max_total: float | None = None) -> int:
    """Raise ``TrainingLimitError`` when a run of the sweep costs more than ``max_budget``
    or all its runs together cost more than ``max_total`` (no total limit when None);
    return the total otherwise.

    Costs are those of ``trainer.training_cost``; uploaded CSV data is looked up beside
    ``filename``, as the trainer does.
    """
    from replay_core.data import csv_data, datasets
    from replay_core.errors import TrainingLimitError
    from replay_core.train import trainer

    costs: dict[str, int] = {}  # runs that differ only in their seed cost the same
    total = 0
    for task in tasks:
        data = task.spec.to_dict()
        data["training"]["seed"] = 0
        key = json.dumps(data, sort_keys=True)
        if key not in costs:
            with csv_data.data_folder(os.path.dirname(os.path.abspath(filename))):
                prepared = datasets.prepare(task.spec.dataset)
            costs[key] = trainer._check_budget(task.spec, max_budget, prepared).total
        total += costs[key]
    if max_total is not None and total > max_total:
        configs = len({task.config for task in tasks})
        raise TrainingLimitError(
            f"this sweep costs {total:,} in all ({len(tasks):,} runs of {configs:,} "
            f"configuration{'s' if configs != 1 else ''}), over the sweep budget of "
            f"{max_total:,.0f}; choose fewer seeds or fewer configurations, or cheaper runs"
        )
    return total
