"""Train many runs of one network graph together: one compiled program for a group of runs.

A seed sweep trains the same small network many times. Each run's step is a few hundred
multiply-adds, so run after run the time goes into per-run overhead (building a model,
tracing and compiling its function, a call per epoch). Here the runs of a *group*, those
whose computation graph is the same (dataset, layer sizes, batch size, optimizer type;
hidden activations among ``SELECTABLE`` are computed side by side and selected per run:
see :func:`group_key`), are trained together: every weight carries a leading run axis
``R``, and one compiled TensorFlow function runs an epoch of every run.

Each run is exactly the run the single-run trainer (``trainer.train``) makes of its spec:

- its initial weights are drawn by the same seeded Keras initializers
  (``model_builder.layer_seed``);
- its batches come in the same order (``numpy.random.default_rng(seed).permutation``
  every epoch);
- the forward pass, the loss and its gradient are the same Keras and TensorFlow
  operations. In a plain graph (runs of fewer than ``trainer.XLA_MIN_STEPS`` batches)
  each run's are the single trainer's own 2-D operations, so each run's floats are the
  run's alone bit for bit, a diverging run included: a batched matmul or a reduction
  over a run axis would pick other CPU kernels (oneDNN's GEMV for one output unit, a
  column reduction for a bias' gradient), which round the last bit differently, and a
  diverging run multiplies that difference every step. Under XLA, where each run alone
  is one compiled module of its own, they are computed on a run axis (XLA's code for a
  reduction or a small dot depends on the shapes of the whole module, so no layout
  reproduces a run's alone to the bit): the reference run's 150 epochs agree within a
  few float32 steps of the weights (about 1e-6);
- the optimizer update is Keras 3's ``update_step`` (SGD with momentum and Nesterov,
  Adam, RMSprop, Adagrad), written out operation by operation in the same float32 order
  with each run's own learning rate and momentum (TensorFlow's graph optimizer turns
  RMSprop's and Adagrad's division by a square root into a multiplication by ``rsqrt``
  here but not in Keras' own update, so those two agree to the last bits, not bit for
  bit);
- plateau schedules and early stopping are Keras' own ``ReduceLROnPlateau`` and
  ``EarlyStopping`` callbacks, one per run, and divergence is the recorder's rule.

A run that diverges, stops early or reaches its last epoch leaves the group through a
mask (its weights and optimizer state stop changing); the others go on. Every run is
recorded through its own writer, with the same layout and values a single training
writes.

The compiled program is ``batched_program.BatchedEpochs``; each run's callbacks, history
and end are kept by ``group_runs.GroupRun``; this module groups the specs and trains a
group. TensorFlow is imported only when :func:`train_group` runs.

Example
-------
>>> from replay_core.data import presets                                  # doctest: +SKIP
>>> from replay_core.train.batched import train_group                     # doctest: +SKIP
>>> specs = [presets.get("reference").with_seed(s) for s in (1, 2, 3)]   # doctest: +SKIP
>>> out = train_group(specs, "runs.h5", ["s1", "s2", "s3"])               # doctest: +SKIP
>>> [r.result.status for r in out]                                        # doctest: +SKIP
['complete', 'complete', 'complete']
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from replay_core.data import csv_data, datasets
from replay_core.data.spec import RunSpec
from replay_core.store.runfile import EpochRecord, stored_logs
from replay_core.train.batched_program import THRESHOLD, BatchedEpochs
from replay_core.train.group_runs import BatchedRun, GroupRun, initial_weights

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# BatchedEpochs, BatchedRun and THRESHOLD live in batched_program and group_runs; they are
# importable from here as before.
__all__ = ["THRESHOLD", "BatchedEpochs", "BatchedRun", "group_key", "group_specs",
           "max_group_runs", "train_group"]

# The float32 bytes the widest array of one program may hold (the training data gathered
# per run, or a layer's outputs over the whole data set): larger groups are split.
GROUP_BYTES = 96 * 2**20
# Hidden activations one program may compute side by side, keeping each run's own with a
# select: their derivatives are finite wherever they are defined, so the zero gradient a
# select sends to the others adds exactly nothing (an exp that overflows, as in elu or
# softplus, would turn it into NaN).
SELECTABLE = ("sigmoid", "tanh", "relu", "linear")
# Compiled programs a process keeps for its next group of the same shape (a worker's next
# sweep of the same configurations, with other seeds): tracing and compiling the reference
# sweep's program takes longer than training its 60 runs x 150 epochs. Each is small (the
# data set, R copies of the weights); the oldest goes first.
KEEP_PROGRAMS = 2
_PROGRAMS: OrderedDict[tuple, BatchedEpochs] = OrderedDict()
_PROGRAMS_LOCK = threading.Lock()


def group_key(spec: RunSpec) -> str:
    """What runs must share to be trained in one program: everything in the spec except
    the seed, the number of epochs, the learning rate, the momentum, shuffling, the
    plateau schedule and early stopping (those differ run by run inside a group).

    :func:`train_group` splits a group further by the single-run trainer's choice of XLA
    (by the run's number of batches), so every run is computed by the same kind of
    compiled code as alone.
    """
    data = spec.to_dict()
    training = data["training"]
    for name in ("seed", "epochs", "learning_rate", "momentum", "shuffle", "reduce_lr",
                 "early_stopping"):
        training.pop(name, None)
    for layer in data["model"]["layers"]:
        if layer.get("activation") in SELECTABLE:
            # One program computes these activations side by side and keeps each run's.
            layer["activation"] = "selectable"
            layer.pop("negative_slope", None)
    return json.dumps(data, sort_keys=True)


def group_specs(specs: Sequence[RunSpec]) -> list[list[int]]:
    """Indices of ``specs`` in groups of one graph (:func:`group_key`), in order of first
    appearance."""
    groups: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(group_key(spec), []).append(i)
    return list(groups.values())


def max_group_runs(n_samples: int, widest: int) -> int:
    """The most runs one program holds for ``n_samples`` samples whose widest row
    (inputs or a layer's units) has ``widest`` values (``GROUP_BYTES`` of float32)."""
    return max(1, GROUP_BYTES // max(1, 4 * int(n_samples) * int(widest)))


# -- training a group -----------------------------------------------------------------------


def train_group(
    specs: Sequence[RunSpec],
    filename: str | os.PathLike[str],
    run_names: Sequence[str],
    *,
    writer_factory: Callable[..., Any] | None = None,
    on_epoch: Callable[[int, EpochRecord], None] | None = None,
    on_group_epoch: Callable[[int], None] | None = None,
    stop_event: Any = None,
    max_budget: float | None = None,
) -> list[BatchedRun]:
    """Train runs of one graph (:func:`group_key`) together and record each of them.

    Parameters
    ----------
    specs : one spec per run; all with the same :func:`group_key`.
    filename : the run file (where a single training would write; uploaded CSV data is
        found in its folder).
    run_names : one new name per run.
    writer_factory : makes run ``i``'s writer, called as ``writer_factory(i, filename,
        name, **fields)`` with ``RunWriter``'s fields; a plain ``RunWriter`` when None.
    on_epoch : called with ``(i, EpochRecord)`` after run ``i`` records an epoch.
    on_group_epoch : called after every epoch of the group with the number of run epochs
        it finished (recorded, or ended by divergence).
    stop_event : anything with ``is_set()``, checked between epochs; when set, every run
        still training ends ``stopped`` with its finished epochs kept.
    max_budget : refuse the group when one run costs more (see ``trainer.training_cost``).

    Returns
    -------
    list of BatchedRun
        One per spec, in order: the run's ``TrainResult`` and its seed figures.

    Raises
    ------
    TrainingLimitError
        A run over ``max_budget``; nothing is written.
    ValueError
        Specs of different graphs.
    Exception
        Anything raised while training, after every run still training is marked
        ``failed``; a ``BaseException`` marks them ``stopped`` and propagates.
    """
    specs = list(specs)
    names = list(run_names)
    if not specs or len(specs) != len(names):
        raise ValueError("give one run name per spec, and at least one spec")
    if len({group_key(s) for s in specs}) != 1:
        raise ValueError("the specs of a group must share one graph (see group_key)")
    from replay_core.train import trainer

    with csv_data.data_folder(os.path.dirname(os.path.abspath(filename))):
        data = datasets.prepare(specs[0].dataset)
    if max_budget is not None:
        for spec in specs:
            trainer._check_budget(spec, max_budget, data)
    n, input_dim = data.X.shape
    widest = max([input_dim, data.n_classes, *(layer.units for layer in specs[0].model.layers)])
    chunk = max_group_runs(n + (0 if data.X_val is None else len(data.X_val)), widest)
    steps = math.ceil(n / specs[0].training.batch_size)
    by_jit: dict[bool, list[int]] = {}
    for i, spec in enumerate(specs):
        by_jit.setdefault(spec.training.epochs * steps >= trainer.XLA_MIN_STEPS, []).append(i)
    out: dict[int, BatchedRun] = {}
    for jit, members in by_jit.items():
        for start in range(0, len(members), chunk):
            part = members[start:start + chunk]
            results = _train_chunk([specs[i] for i in part], [names[i] for i in part], part,
                                   filename, data, jit, writer_factory, on_epoch,
                                   on_group_epoch, stop_event)
            out.update(zip(part, results))
    return [out[i] for i in range(len(specs))]


@contextlib.contextmanager
def _program(specs: list[RunSpec], data: datasets.PreparedData, jit: bool,
             initial: list[list[np.ndarray]],
             build: Callable[[], BatchedEpochs]) -> Iterator[BatchedEpochs]:
    """The program of this group: a kept one of the same shape, started again from
    ``initial`` (``BatchedEpochs.reset``), else a new one (``build``); kept for the next
    group once this one is done with it (a thread never shares one in use).

    A program's trace depends on the graph (:func:`group_key`: layers, loss, batch size,
    optimizer and its constants), each run's network (its activations select per run),
    the number of runs, XLA, and the data it holds as constants: all in the key. Seeds,
    learning rates, momentum, epochs and callbacks are inputs or run outside it.
    """
    digest = hashlib.blake2b(digest_size=16)
    for arr in (data.X, data.y, data.X_val, data.y_val):
        if arr is not None:
            arr = np.ascontiguousarray(arr)
            digest.update(f"{arr.dtype}{arr.shape}".encode())
            digest.update(arr.tobytes())
    key = (group_key(specs[0]), tuple(repr(s.model) for s in specs), bool(jit),
           digest.hexdigest())
    with _PROGRAMS_LOCK:
        program = _PROGRAMS.pop(key, None)
    if program is None:
        program = build()
    else:
        program.reset(initial)
    yield program
    with _PROGRAMS_LOCK:
        _PROGRAMS[key] = program
        while len(_PROGRAMS) > KEEP_PROGRAMS:
            _PROGRAMS.popitem(last=False)


def _train_chunk(specs: list[RunSpec], names: list[str], index: list[int], filename: Any,
                 data: datasets.PreparedData, jit: bool, writer_factory: Callable[..., Any] | None,
                 on_epoch: Callable[[int, EpochRecord], None] | None,
                 on_group_epoch: Callable[[int], None] | None,
                 stop_event: Any) -> list[BatchedRun]:
    from replay_core.store.runfile import RunWriter
    from replay_core.train.model_builder import build_model, build_optimizer
    from replay_core.train.recorder import activation_config

    first = specs[0]
    n, input_dim = data.X.shape
    R = len(specs)
    models: dict[str, Any] = {}  # one Keras model per network (activations) in the group
    run_models = []
    for spec in specs:
        key = repr(spec.model)
        if key not in models:
            models[key] = build_model(spec.model, input_dim, first.training.seed,
                                      n_classes=data.n_classes)
        run_models.append(models[key])
    model = run_models[0]
    initial = [initial_weights(s, m, input_dim) for s, m in zip(specs, run_models)]
    stacked = [[np.stack([w[i][j] for w in initial]) for j in range(2)]
               for i in range(len(model.layers))]
    epochs_planned = np.array([s.training.epochs for s in specs])

    fields = dict(
        inputs=data.X, targets=data.y,
        val_inputs=data.X_val if data.X_val is not None else None,
        val_targets=data.y_val if data.X_val is not None else None,
        layer_names=[layer.name for layer in model.layers],
        samples=int(n), batch_size=int(first.training.batch_size),
        class_names=list(data.class_names) if data.class_names else None)
    writers: list[Any] = [None] * R
    runs = [GroupRun(s) for s in specs]
    active = np.zeros(R, bool)
    try:
        for r, spec in enumerate(specs):
            run_fields = dict(fields, initial_weights=initial[r],
                              activation_config=activation_config(run_models[r]),
                              n_epochs=int(spec.training.epochs), spec_json=spec.to_json())
            if writer_factory is None:
                writers[r] = RunWriter(filename, names[r], **run_fields)
            else:
                writers[r] = writer_factory(index[r], filename, names[r], **run_fields)
            active[r] = True

        def build() -> BatchedEpochs:
            return BatchedEpochs(
                model, build_optimizer(first.training), stacked, data.X, data.y,
                first.training.batch_size, data.X_val, data.y_val,
                l1=first.model.l1, l2=first.model.l2, jit_compile=jit,
                activations=[[layer.activation for layer in m.layers] for m in run_models])

        with _program(specs, data, jit, stacked, build) as program:
            figures = program.figures()
            for r, run in enumerate(runs):
                run.figures.append((float(figures[0, r]), float(figures[1, r])))
            shuffle = np.array([s.training.shuffle for s in specs])
            rngs = [np.random.default_rng(s.training.seed) for s in specs]
            in_order = np.arange(n)
            momentum = np.array([s.training.momentum for s in specs], np.float32)
            for epoch in range(int(epochs_planned.max())):
                if not active.any():
                    break
                lr = np.array([run.model.optimizer.learning_rate for run in runs],
                              np.float32)
                orders = None
                if shuffle.any():
                    # Each run's generator draws one permutation per epoch it trains, as
                    # alone: ``permutation(n)`` is ``arange(n)`` shuffled, done in place.
                    orders = np.tile(in_order, (R, 1))
                    for r in np.flatnonzero(shuffle & active):
                        rngs[r].shuffle(orders[r])
                logs, figures = program.run(orders, lr, momentum, active)
                weights = program.weights()
                # Whether each run's weights are all finite, for every run at once.
                finite = np.logical_and.reduce([np.isfinite(w).reshape(R, -1).all(axis=1)
                                                for layer in weights for w in layer])
                finished = 0
                for r in np.flatnonzero(active):
                    run = runs[r]
                    run_logs = {key: float(values[r]) for key, values in logs.items()}
                    run_weights = [[w[r] for w in layer] for layer in weights]
                    ended = run.end_epoch(epoch, run_logs, float(lr[r]), run_weights,
                                          (float(figures[0, r]), float(figures[1, r])),
                                          writers[r], finite=bool(finite[r]))
                    finished += 1
                    if on_epoch is not None and run.recorded_last:
                        on_epoch(index[r], EpochRecord(
                            epoch=writers[r].epochs_done, logs=stored_logs(run_logs),
                            lr=float(lr[r]), weights=run_weights))
                    if ended:
                        active[r] = False
                if on_group_epoch is not None:
                    on_group_epoch(finished)
                if (stop_event is not None and stop_event.is_set()):
                    for r in np.flatnonzero(active):
                        done = writers[r].epochs_done
                        runs[r].close(writers[r], "stopped",
                                      f"stopped by the user after epoch {done}")
                        active[r] = False
            for r in np.flatnonzero(active):
                runs[r].close(writers[r], None, "")
    except Exception as exc:
        for r, writer in enumerate(writers):
            if writer is not None and writer.status == "running":
                runs[r].close(writer, "failed", f"training failed after epoch "
                              f"{writer.epochs_done}: {exc}")
        raise
    except BaseException:
        for r, writer in enumerate(writers):
            if writer is not None and writer.status == "running":
                runs[r].close(writer, "stopped",
                              f"stopped by the user after epoch {writer.epochs_done}")
        raise
    finally:
        for writer in writers:
            if writer is not None and not writer.closed:
                writer.close()
    return [run.outcome(writers[r]) for r, run in enumerate(runs)]
