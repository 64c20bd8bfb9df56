"""The Train page's controls as flat widget state, and back to a ``RunSpec``.

Pure functions (no Streamlit): a preset fills every control through ``spec_to_state``,
and ``state_to_spec`` validates what the controls hold. Widget keys are the keys of the
returned dict.
"""

from __future__ import annotations

from typing import Any

from replay_core.data import csv_data, datasets
from replay_core.data.spec import (
    MAX_LAYERS,
    MAX_SPEC_CHARS,
    DatasetSpec,
    EarlyStoppingSpec,
    LayerSpec,
    ModelSpec,
    ReduceLROnPlateauSpec,
    RunSpec,
    TrainingSpec,
)

LAYER_KEYS = ("units", "act", "slope")


def dataset_param_key(dataset: str, param: str) -> str:
    return f"ds_{dataset}_{param}"


def spec_to_state(spec: RunSpec) -> dict[str, Any]:
    """Widget values that show ``spec``."""
    ds, model, tr = spec.dataset, spec.model, spec.training
    state: dict[str, Any] = {
        "ds_name": ds.name,
        "ds_seed": ds.seed,
        "ds_standardize": ds.standardize,
        "ds_val": ds.validation_split,
        "n_layers": len(model.layers),
        "init": model.initializer,
        "init_stddev": model.init_stddev,
        "out_init": model.output_initializer,
        "out_init_stddev": model.output_init_stddev,
        "l1": model.l1,
        "l2": model.l2,
        "bottleneck": model.bottleneck,
        "opt": tr.optimizer,
        "lr": tr.learning_rate,
        "momentum": tr.momentum,
        "nesterov": tr.nesterov,
        "batch": tr.batch_size,
        "epochs": tr.epochs,
        "seed": tr.seed,
        "shuffle": tr.shuffle,
        "rlr_on": tr.reduce_lr is not None,
        "es_on": tr.early_stopping is not None,
    }
    for name, value in ds.params.items():
        state[dataset_param_key(ds.name, name)] = value
    for i in range(MAX_LAYERS):
        layer = model.layers[i] if i < len(model.layers) else LayerSpec(8, "relu")
        state[f"layer{i}_units"] = layer.units
        state[f"layer{i}_act"] = layer.activation
        state[f"layer{i}_slope"] = layer.negative_slope
        state[f"layer{i}_name"] = layer.name
    rlr = tr.reduce_lr or ReduceLROnPlateauSpec(monitor="val_loss" if ds.validation_split else "loss")
    state.update(rlr_monitor=rlr.monitor, rlr_factor=rlr.factor, rlr_patience=rlr.patience,
                 rlr_min_lr=rlr.min_lr)
    es = tr.early_stopping or EarlyStoppingSpec(monitor="val_loss" if ds.validation_split else "loss")
    state.update(es_monitor=es.monitor, es_patience=es.patience, es_min_delta=es.min_delta)
    return state


def state_to_spec(state: dict[str, Any]) -> RunSpec:
    """The ``RunSpec`` the controls describe; raises ``ValueError`` naming the field.

    Controls that are hidden (and so absent from ``state``) take the reference values.
    """
    state = {**_DEFAULT_STATE, **state}
    name = state["ds_name"]
    info = datasets.REGISTRY.get(name)
    if name == "csv":  # an uploaded file: its id and shape, set when it was read
        params = {key: state.get(dataset_param_key(name, key)) for key in csv_data.PARAM_NAMES}
        if params["id"] is None:
            raise ValueError("upload a CSV file first")
    elif info is None:
        raise ValueError(f"unknown dataset {name!r}")
    else:
        params = {
            p.name: state.get(dataset_param_key(name, p.name), p.default) for p in info.params
        }
    dataset = DatasetSpec(name, params, seed=state["ds_seed"], standardize=state["ds_standardize"],
                          validation_split=state["ds_val"])
    n_layers = int(state["n_layers"])
    layers = tuple(
        LayerSpec(state[f"layer{i}_units"], state[f"layer{i}_act"],
                  negative_slope=state[f"layer{i}_slope"], name=state.get(f"layer{i}_name", ""))
        for i in range(n_layers)
    )
    model = ModelSpec(layers, initializer=state["init"], init_stddev=state["init_stddev"],
                      output_initializer=state["out_init"],
                      output_init_stddev=state["out_init_stddev"], l1=state["l1"], l2=state["l2"],
                      bottleneck=state["bottleneck"])
    reduce_lr = (
        ReduceLROnPlateauSpec(state["rlr_monitor"], state["rlr_factor"], state["rlr_patience"],
                              state["rlr_min_lr"])
        if state["rlr_on"] else None
    )
    early = (
        EarlyStoppingSpec(state["es_monitor"], state["es_patience"], state["es_min_delta"])
        if state["es_on"] else None
    )
    training = TrainingSpec(
        state["opt"], learning_rate=state["lr"], momentum=state["momentum"],
        nesterov=state["nesterov"], batch_size=state["batch"], epochs=state["epochs"],
        seed=state["seed"], shuffle=state["shuffle"], reduce_lr=reduce_lr, early_stopping=early,
    )
    return RunSpec(dataset, model, training)


def run_name_suggestion(spec: RunSpec) -> str:
    """A run name made of the settings, for runs that are no longer a preset: dataset,
    hidden layers, activation, optimizer and learning rate (``"moons 10-10 tanh, adam
    lr 0.01"``); within the characters and length a run name allows."""
    layers = spec.model.layers
    acts = {layer.activation for layer in layers}
    act = acts.pop() if len(acts) == 1 else "mixed"
    bottleneck = " + bottleneck" if spec.model.bottleneck else ""
    text = (f"{spec.dataset.name} {'-'.join(str(layer.units) for layer in layers)} {act}"
            f"{bottleneck}, {spec.training.optimizer} lr {spec.training.learning_rate:g}")
    return "".join(c if c.isalnum() or c in " .:()+=,-_" else " " for c in text)[:80]


def spec_from_query(value: object) -> tuple[RunSpec | None, str]:
    """The spec carried by a link's ``spec`` query parameter, or None and why not.

    A tampered or outdated link never raises: the caller falls back to the defaults and
    shows the returned message. Over-long or deeply nested values are refused before any
    parsing.
    """
    if not value:
        return None, ""
    if not isinstance(value, str) or len(value) > MAX_SPEC_CHARS:
        return None, "the link's settings are too long to be real; using the defaults"
    try:
        return RunSpec.from_json(value), ""
    except ValueError as exc:
        return None, f"the link's settings were not valid ({_short(exc)}); using the defaults"
    except Exception:  # whatever a hostile link provokes, the page falls back to defaults
        return None, "the link's settings were not valid; using the defaults"


def _short(exc: Exception, limit: int = 160) -> str:
    """The reason, cut to one short line (a link's bad value is echoed in it)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def query_text(params, name: str, max_chars: int = 80) -> str | None:
    """Query parameter ``name`` as text, or None when absent, empty or over ``max_chars``.

    ``params`` is ``st.query_params`` (or any mapping); a parameter given several times
    counts by its last value, as Streamlit's does.
    """
    try:
        value = params.get(name)
    except Exception:
        return None
    if not isinstance(value, str) or not value or len(value) > max_chars:
        return None
    return value


_DEFAULT_STATE = spec_to_state(RunSpec())
