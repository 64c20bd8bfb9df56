"""A run as code: a standalone Python script that trains the same run with plain Keras.

The script rebuilds the dataset (``replay_core.datasets``, the same generator, seed,
split and scaling the app uses), the network (``keras.Sequential`` of Dense layers with
the same seeded initializers, layer by layer), the optimizer and the callbacks, and
trains with ``model.fit`` and the ``ReplayData`` callback. The app's fast trainer draws
each epoch's batch order from ``numpy.random.default_rng(seed)``, not from ``tf.data``'s
shuffle, so the script draws the same permutations and feeds ``model.fit`` the batches in
that order; the recorded weights then match the app's run: exactly for runs the app trains
without XLA, within float32 rounding (about 1e-6 after 150 epochs of the reference run)
for long runs, which the app compiles with XLA.

Example
-------
>>> from replay_core.data import presets
>>> script = run_script(presets.get("reference"), "sigmoid")
>>> "model.fit(" in script and "ReplayData(" in script
True
"""

from __future__ import annotations

import json
import textwrap

from replay_core.data.spec import RunSpec, output_units
from replay_core.errors import ReplayError

__all__ = ["CodeUnavailableError", "run_script", "script_name", "stored_run_script"]

_INITIALIZERS = {
    "glorot_normal": "GlorotNormal",
    "glorot_uniform": "GlorotUniform",
    "he_normal": "HeNormal",
    "he_uniform": "HeUniform",
    "lecun_normal": "LecunNormal",
}
# Spec metric names -> the names Keras puts in the logs its callbacks monitor.
_KERAS_MONITOR = {"loss": "loss", "acc": "accuracy", "val_loss": "val_loss",
                  "val_acc": "val_accuracy"}


class CodeUnavailableError(ReplayError, ValueError):
    """The run cannot be written as a standalone script (its data is not generated)."""


def script_name(run_name: str) -> str:
    """A file name for the script of ``run_name``: ``train_<name>.py``, safe characters."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(run_name))[:60]
    return f"train_{safe.strip('_') or 'run'}.py"


def _initializer(name: str, stddev: float, seed: str) -> str:
    if name == "random_normal":
        return f"keras.initializers.RandomNormal(mean=0.0, stddev={stddev!r}, seed={seed})"
    return f"keras.initializers.{_INITIALIZERS[name]}(seed={seed})"


def _activation(name: str, negative_slope: float) -> tuple[str, str]:
    """``(argument, definition)``: the Dense ``activation=`` text and any line defining it."""
    if name == "leaky_relu":
        # A partial keeps the slope where ReplayData (and so the replay) can read it.
        var = f"leaky_relu_{str(negative_slope).replace('.', '_').replace('-', 'm')}"
        return var, (f"{var} = functools.partial(keras.activations.leaky_relu, "
                     f"negative_slope={negative_slope!r})")
    if name == "swish":
        return '"silu"', ""
    return _q(name), ""


def _q(text: str) -> str:
    """``text`` as a double-quoted Python string literal."""
    return json.dumps(str(text))


def _optimizer(spec: RunSpec) -> str:
    t = spec.training
    lr = repr(float(t.learning_rate))
    if t.optimizer == "sgd":
        return (f"keras.optimizers.SGD(learning_rate={lr}, momentum={float(t.momentum)!r}, "
                f"nesterov={bool(t.nesterov)!r})")
    if t.optimizer == "adam":
        return f"keras.optimizers.Adam(learning_rate={lr})"
    if t.optimizer == "rmsprop":
        return f"keras.optimizers.RMSprop(learning_rate={lr}, momentum={float(t.momentum)!r})"
    return f"keras.optimizers.Adagrad(learning_rate={lr})"


def _callbacks(spec: RunSpec) -> list[str]:
    t = spec.training
    out = []
    if t.reduce_lr is not None:
        r = t.reduce_lr
        mode = "max" if r.monitor.endswith("acc") else "min"
        out.append(f"keras.callbacks.ReduceLROnPlateau(monitor={_q(_KERAS_MONITOR[r.monitor])}, "
                   f"factor={r.factor!r}, patience={r.patience!r}, min_lr={r.min_lr!r}, "
                   f"mode={_q(mode)}, verbose=0)")
    if t.early_stopping is not None:
        e = t.early_stopping
        mode = "max" if e.monitor.endswith("acc") else "min"
        out.append(f"keras.callbacks.EarlyStopping(monitor={_q(_KERAS_MONITOR[e.monitor])}, "
                   f"patience={e.patience!r}, min_delta={e.min_delta!r}, mode={_q(mode)}, "
                   "verbose=0)")
    return out


def run_script(spec: RunSpec, run_name: str = "run", run_file: str = "run.h5") -> str:
    """The Python source of a script that trains ``spec`` with ``model.fit`` and records it
    as run ``run_name`` of ``run_file``, reproducing the app's run of ``spec``.

    Raises
    ------
    CodeUnavailableError
        ``spec`` trains on uploaded CSV data, which no script can regenerate.
    """
    if not isinstance(spec, RunSpec):
        raise CodeUnavailableError("only a run with a stored spec can be written as code")
    ds, model, t = spec.dataset, spec.model, spec.training
    if ds.name == "csv":
        raise CodeUnavailableError(
            "a run on uploaded CSV data cannot be written as a standalone script, since its "
            "data is not generated from a seed; download the run file instead")
    n_classes = ds.n_classes
    input_dim = ds.input_dim
    names = model.layer_names()
    definitions: list[str] = []
    layers: list[str] = [f"keras.Input(shape=({input_dim},)),"]
    regularizer = (f"keras.regularizers.L1L2(l1={model.l1!r}, l2={model.l2!r})"
                   if model.l1 or model.l2 else None)
    reg = "" if regularizer is None else "\n    kernel_regularizer=regularizer,"

    def dense(units: int, activation: str, initializer: str, name: str) -> str:
        return (f"keras.layers.Dense(\n    {units}, activation={activation}, name={_q(name)},\n"
                f"    kernel_initializer={initializer},{reg}\n),")

    for i, layer in enumerate(model.layers):
        act, definition = _activation(layer.activation, layer.negative_slope)
        if definition and definition not in definitions:
            definitions.append(definition)
        init = _initializer(model.initializer, model.init_stddev, f"SEED + {i}")
        layers.append(dense(layer.units, act, init, names[i]))
    n_hidden = len(model.layers)
    if model.bottleneck:
        init = _initializer(model.initializer, model.init_stddev, f"SEED + {n_hidden}")
        layers.append(dense(2, '"linear"', init, "bottleneck"))
        n_hidden += 1
    units = output_units(n_classes)
    init = _initializer(model.output_initializer, model.output_init_stddev,
                        f"SEED + {n_hidden}")
    layers.append(dense(units, '"sigmoid"' if units == 1 else '"softmax"', init, names[-1]))
    loss = "binary_crossentropy" if units == 1 else "sparse_categorical_crossentropy"
    has_val = ds.validation_split > 0
    params = ", ".join(f"{k}={v!r}" for k, v in ds.params.items())
    callbacks = _callbacks(spec)
    architecture = model.describe(input_dim, n_classes)

    lines: list[str] = []
    add = lines.append
    add(f'"""Train run {_q(run_name)} with plain Keras and record every epoch with ReplayData.')
    add("")
    add(f"{ds.name}, {architecture}, {t.describe()}, batch {t.batch_size}, "
        f"{t.epochs} epochs, seed {t.seed}.")
    add("")
    add("The app trains the same Keras model with a faster loop (one compiled call per epoch);")
    add("this script uses model.fit and reproduces that run: the same data, the same initial")
    add("weights (each layer's initializer seeded with SEED + its index), the same batches in")
    add("the same order (drawn with numpy as the app draws them, not with tf.data's shuffle),")
    add("the same optimizer and callbacks. The weights it records equal the app's exactly for")
    add("runs the app trains without XLA, and within float32 rounding (about 1e-6 after the")
    add("reference run's 150 epochs) for long runs, which the app compiles with XLA.")
    add("")
    add("Needs: pip install tensorflow keras, and this project's replay_core on the path.")
    add("Replay the result:  python -m replay_core plot RUN_FILE --run RUN_NAME --epoch N")
    add('"""')
    add("")
    if definitions:
        add("import functools")
    add("import math")
    add("")
    add("import keras")
    add("import numpy as np")
    add("import tensorflow as tf")
    add("")
    add("from replay_core import ReplayData")
    add("from replay_core.data import datasets")
    add("")
    add(f"RUN_FILE = {_q(run_file)}")
    add(f"RUN_NAME = {_q(run_name)}")
    add(f"SEED = {t.seed!r}")
    add(f"EPOCHS = {t.epochs!r}")
    add(f"BATCH_SIZE = {t.batch_size!r}")
    add("# The run's settings, stored with it so the app shows and compares them.")
    add(f"SPEC = {spec.to_json()!r}")
    add("")
    add("# --- the data: the app's generator, seed, validation split and scaling")
    add(f"X, y = datasets.load({_q(ds.name)}, seed={ds.seed!r}{', ' + params if params else ''})")
    add(f"data = datasets.split_and_standardize(X, y, validation_split={ds.validation_split!r}, "
        f"standardize={ds.standardize!r}, seed={ds.seed!r})")
    add("X, y = data.X, data.y")
    if has_val:
        add("X_val, y_val = data.X_val, data.y_val")
    add("")
    add("# --- the network")
    add("keras.utils.set_random_seed(SEED)")
    lines.extend(definitions)
    if regularizer is not None:
        add(f"regularizer = {regularizer}")
    add("model = keras.Sequential([")
    for text in layers:
        add(textwrap.indent(text, "    "))
    add('], name="replay_model")')
    add(f"model.compile(optimizer={_optimizer(spec)},")
    add(f'              loss="{loss}", metrics=["accuracy"])')
    add("")
    add("# --- the batches: every epoch's order drawn as the app draws it")
    add("rng = np.random.default_rng(SEED)")
    add("n = len(X)")
    if t.shuffle:
        add("orders = np.stack([rng.permutation(n) for _ in range(EPOCHS)]).astype(np.int32)")
    else:
        add("orders = np.tile(np.arange(n, dtype=np.int32), (EPOCHS, 1))  # no shuffling")
    add("inputs = tf.constant(X)")
    add("targets = tf.constant(y.reshape(-1, 1))")
    add("")
    add("")
    add("def epoch_batches(epoch):")
    add("    order = tf.gather(orders, epoch)")
    add("    return tf.data.Dataset.from_tensor_slices(")
    add("        (tf.gather(inputs, order), tf.gather(targets, order))).batch(BATCH_SIZE)")
    add("")
    add("")
    add("# One dataset of every epoch's batches; with steps_per_epoch, fit reads it on from")
    add("# epoch to epoch instead of starting it again.")
    add("batches = tf.data.Dataset.range(EPOCHS).flat_map(epoch_batches)")
    add("")
    add("# --- training, recorded epoch by epoch")
    rec_val = "\n                      validation_data=(X_val, y_val)," if has_val else ""
    add(f"recorder = ReplayData(X, y, RUN_FILE, RUN_NAME,{rec_val}")
    add("                      spec=SPEC, batch_size=BATCH_SIZE, epochs=EPOCHS)")
    add("callbacks = [recorder" + "".join(f",\n             {c}" for c in callbacks) + "]")
    add("try:")
    add("    model.fit(batches, epochs=EPOCHS, steps_per_epoch=math.ceil(n / BATCH_SIZE),")
    if has_val:
        add("              # the app evaluates the validation data in one batch")
        add("              validation_data=(X_val, y_val.reshape(-1, 1)),")
        add("              validation_batch_size=len(X_val),")
    add("              callbacks=callbacks, verbose=0)")
    add("finally:")
    add("    recorder.close()")
    add('print(f"{RUN_NAME}: {recorder.status}, {recorder.epochs_done} epochs in {RUN_FILE}")')
    return "\n".join(lines) + "\n"


def stored_run_script(stored_spec: dict | None, run_name: str,
                      run_file: str = "run.h5") -> str:
    """:func:`run_script` of the spec stored with a run (``RunSummary.spec``).

    Raises
    ------
    CodeUnavailableError
        The run stores no valid spec (a run recorded by a plain ``model.fit``, or by the
        original DeepReplay package), or it trained on uploaded CSV data.
    """
    spec = RunSpec.from_stored(stored_spec)
    if spec is None:
        raise CodeUnavailableError(
            f"run {run_name!r} stores no settings it was trained with (it was recorded "
            "outside the app's trainer), so it cannot be written as code")
    return run_script(spec, run_name, run_file)
