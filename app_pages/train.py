"""Train page: pick data, network and hyper-parameters, watch it train."""

from __future__ import annotations

import streamlit as st

from replay_core.data import csv_data, datasets, presets
from replay_core.data.spec import (
    ACTIVATIONS,
    INITIALIZERS,
    MAX_LAYERS,
    MAX_UNITS,
    MONITORS,
    OPTIMIZERS,
    RunSpec,
)
from replay_core.errors import ReplayError
from replay_core.train.trainer import training_cost
from studio import csv_upload, jobs, screen, session
from studio.form import (
    dataset_param_key,
    run_name_suggestion,
    spec_from_query,
    spec_to_state,
    state_to_spec,
)

ss = st.session_state
if "train_form_ready" not in ss:
    # First visit of this session: a shared link's settings win over the defaults.
    linked, problem = spec_from_query(st.query_params.get("spec"))
    for key, value in spec_to_state(linked or presets.get("reference")).items():
        ss[key] = value
    ss["preset_title"] = "Shared run" if linked else presets.PRESETS["reference"].title
    ss["preset_spec"] = (linked or presets.get("reference")).to_json()
    if problem:
        ss["url_notice"] = problem
    ss["train_form_ready"] = True
elif ss.get("_train_form_spec"):
    # Streamlit may drop a widget's value while another page runs (a fragment's timer,
    # such as a training's progress, ticking as the page changes): the form comes back
    # with the settings it last showed instead of failing on a missing key.
    for key, value in spec_to_state(RunSpec.from_json(ss["_train_form_spec"])).items():
        if key not in ss:
            ss[key] = value


def _apply_preset(name: str) -> None:
    for key, value in spec_to_state(presets.get(name)).items():
        ss[key] = value
    ss["preset_title"] = presets.PRESETS[name].title
    ss["preset_spec"] = presets.get(name).to_json()
    ss["run_name"] = ""
    ss.pop("url_notice", None)


# Real measurements in their own units train badly unscaled: picking such a dataset
# switches standardising on (a preset or a link keeps its own setting on arrival).
# (Read with get: a widget's value is gone after a page that does not draw it.)
picked = ss.get("ds_name")
ss.setdefault("_standardize_seen", picked)
if picked is not None and picked != ss["_standardize_seen"]:
    ss["_standardize_seen"] = picked
    if getattr(datasets.REGISTRY.get(picked), "standardize", False):
        ss["ds_standardize"] = True

ws = session.workspace()

screen.track(relayout=False)  # the form does not depend on the window's size
title_col, presets_col, intro_col = st.columns([1.0, 1.1, 4.9], vertical_alignment="center")
title_col.title("Train", anchor=False)
intro_col.caption("Pick a dataset, a network and its hyper-parameters, then train and replay "
                  "every epoch. The page's address holds every setting: share it to share "
                  "the run.")
if ss.get("url_notice"):
    # Kept until a preset or a training replaces the link's settings: the page reruns on
    # its own once the browser reports the window's size.
    st.warning(ss["url_notice"].capitalize() + ".")

# The presets in a popover: the form below keeps the page's height (a 720-px screen).
with presets_col.popover("Presets", icon=":material/auto_awesome:", key="train_presets",
                         help="One click fills every control"):
    per_row = 3  # rows of three, so every title fits
    items = list(presets.PRESETS.values())
    for start in range(0, len(items), per_row):
        cols = st.columns(per_row)
        for col, preset in zip(cols, items[start:start + per_row]):
            col.button(preset.title, key=f"preset_{preset.name}", help=preset.description,
                       on_click=_apply_preset, args=(preset.name,), width="stretch")

data_col, net_col, train_col, run_col = st.columns([1, 1.1, 1.15, 1], gap="small")

with data_col:
    st.subheader("Dataset")
    st.selectbox("Dataset", [*datasets.names(), "csv"], persist_state="session", key="ds_name",
                 format_func=lambda n: csv_upload.TITLE if n == "csv" else datasets.REGISTRY[n].title)
    info = datasets.REGISTRY.get(ss["ds_name"])
    if info is None:
        csv_upload.csv_panel(ws)
    else:
        st.caption(info.description)
    for p in info.params if info is not None else ():
        key = dataset_param_key(info.name, p.name)
        ss.setdefault(key, p.default)
        if p.kind is int:
            st.number_input(p.name.replace("_", " ").capitalize(), int(p.low), int(p.high),
                            step=10 if p.high - p.low >= 100 else 1,
                            persist_state="session", key=key, help=p.help)
        else:
            st.number_input(p.name.replace("_", " ").capitalize(), float(p.low), float(p.high),
                            step=0.01, format="%.3f", persist_state="session", key=key, help=p.help)
    c1, c2 = st.columns(2)
    c1.number_input("Data seed", 0, 2**31 - 1, persist_state="session", key="ds_seed")
    c2.slider("Validation share", 0.0, 0.9, step=0.05, persist_state="session", key="ds_val")
    st.toggle("Standardise features", persist_state="session", key="ds_standardize")

with net_col:
    st.subheader("Network")
    st.number_input("Hidden layers", 1, MAX_LAYERS, persist_state="session", key="n_layers")
    for i in range(int(ss["n_layers"])):
        # The slope only for leaky_relu, so the activation's name has room to be read.
        leaky = ss[f"layer{i}_act"] == "leaky_relu"
        c1, c2, c3 = st.columns([1, 1.5, 0.9] if leaky else [1, 2.4, 0.001])
        c1.number_input(f"Units {i + 1}", 1, MAX_UNITS,
                        persist_state="session", key=f"layer{i}_units")
        c2.selectbox(f"Activation {i + 1}", ACTIVATIONS,
                     persist_state="session", key=f"layer{i}_act")
        if leaky:
            c3.number_input(f"Slope {i + 1}", 0.0, 1.0, step=0.05,
                            persist_state="session", key=f"layer{i}_slope",
                            help="negative slope of leaky_relu")
    # One initializer a row, its stddev beside it when it has one: names read whole.
    for which, init_key, sd_key in (("Hidden", "init", "init_stddev"),
                                    ("Output", "out_init", "out_init_stddev")):
        c1, c2 = st.columns([1.9, 1] if ss[init_key] == "random_normal" else [1, 0.001])
        c1.selectbox(f"{which} initializer", INITIALIZERS, persist_state="session", key=init_key)
        if ss[init_key] == "random_normal":
            c2.number_input("stddev", 0.001, 10.0, step=0.01, format="%.3f",
                            persist_state="session", key=sd_key,
                            help=f"{which} initializer's standard deviation")
    c1, c2 = st.columns(2)
    c1.number_input("L1", 0.0, 1.0, step=0.0001, format="%.4f", persist_state="session", key="l1")
    c2.number_input("L2", 0.0, 1.0, step=0.0001, format="%.4f", persist_state="session", key="l2")
    st.checkbox("2-unit bottleneck before the output", persist_state="session", key="bottleneck",
                help="Adds a 2-unit linear layer named 'bottleneck' right before the output. "
                "The network then reads as an encoder to a learned 2-D latent space plus a "
                "logistic regression on it: Replay shows that latent space with the "
                "decoder's straight boundary, and for data of more than 2 features draws the "
                "decision boundary there, where the input space cannot be drawn.")

with train_col:
    st.subheader("Training")
    c1, c2 = st.columns(2)
    c1.selectbox("Optimizer", OPTIMIZERS, persist_state="session", key="opt",
                 format_func={"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop",
                              "adagrad": "Adagrad"}.get)
    c2.number_input("Learning rate", 1e-6, 10.0, step=0.001, format="%.4f",
                    persist_state="session", key="lr")
    c1, c2 = st.columns(2)
    c1.number_input("Momentum", 0.0, 0.9999, step=0.05, format="%.4f",
                    persist_state="session", key="momentum",
                    disabled=ss["opt"] not in ("sgd", "rmsprop"))
    c2.toggle("Nesterov", persist_state="session", key="nesterov", disabled=ss["opt"] != "sgd")
    c1, c2, c3 = st.columns(3)
    c1.number_input("Batch size", 1, 4096, persist_state="session", key="batch")
    c2.number_input("Epochs", 1, 2000, persist_state="session", key="epochs")
    c3.number_input("Seed", 0, 2**31 - 1, persist_state="session", key="seed")
    st.toggle("Reduce learning rate on plateau", persist_state="session", key="rlr_on")
    if ss["rlr_on"]:
        c1, c2, c3, c4 = st.columns(4)
        c1.selectbox("Monitor", MONITORS, persist_state="session", key="rlr_monitor")
        c2.number_input("Factor", 0.01, 0.99, step=0.05, persist_state="session", key="rlr_factor")
        c3.number_input("Patience", 1, 2000, persist_state="session", key="rlr_patience")
        c4.number_input("Min lr", 0.0, 1.0, step=1e-5, format="%.6f",
                        persist_state="session", key="rlr_min_lr")
    st.toggle("Early stopping", persist_state="session", key="es_on")
    if ss["es_on"]:
        c1, c2, c3 = st.columns(3)
        c1.selectbox("Monitor", MONITORS, persist_state="session", key="es_monitor")
        c2.number_input("Patience", 1, 2000, persist_state="session", key="es_patience")
        c3.number_input("Min delta", 0.0, 10.0, step=0.001, format="%.4f",
                        persist_state="session", key="es_min_delta")

spec = None
try:
    spec = state_to_spec(dict(ss))
except ValueError as exc:
    if ss["ds_name"] != "csv" or ss.get(dataset_param_key("csv", "id")) is not None:
        st.error(f"Check the settings: {exc}")  # a missing upload is said by its panel
else:
    ss["_train_form_spec"] = spec.to_json()
    if st.query_params.get("spec") != spec.to_json():
        st.query_params["spec"] = spec.to_json()

data = None
if spec is not None:
    try:
        with csv_data.data_folder(ws.folder):  # an uploaded CSV is stored there
            data = datasets.prepare(spec.dataset)
    except (ReplayError, ValueError):
        pass  # the CSV panel says why the data is missing; training says it again
def _data_chart(data):
    """The data's scatter (2 features), drawn where the live preview goes. Altair and
    pandas are imported here, after the form's controls are on screen (cold start)."""
    import altair as alt
    import numpy as np
    import pandas as pd

    from replay_core.render.frame import CLASS_PALETTE
    from replay_core.replay.views import class_labels

    second = min(1, data.X.shape[1] - 1)  # a 1-feature CSV is drawn on a diagonal
    names = np.asarray(class_labels(data.class_names, data.n_classes))
    frame = pd.DataFrame({"x1": data.X[:, 0], "x2": data.X[:, second],
                          "class": names[data.y.astype(int)], "part": "train"})
    if data.X_val is not None:
        frame = pd.concat([frame, pd.DataFrame({
            "x1": data.X_val[:, 0], "x2": data.X_val[:, second],
            "class": names[data.y_val.astype(int)], "part": "validation"})])
    n_classes, n_features = data.n_classes, data.X.shape[1]
    notes = [f"first 2 of {n_features} features"] if n_features > 2 else []
    if data.X_val is not None:
        notes.append(f"▲ {len(data.X_val)} held out for validation")
    title = alt.TitleParams(f"{len(frame)} samples", subtitle=notes)
    # The classes' legend without a title beside the points, the validation part's shape
    # said in the subtitle: the column is narrow.
    legend = alt.Legend(orient="right", title=None, labelLimit=90)
    shape = (alt.Shape("part", legend=None, scale=alt.Scale(
        domain=["train", "validation"], range=["circle", "triangle"]))
        if data.X_val is not None else alt.value("circle"))
    chart = alt.Chart(frame).mark_point(filled=True, size=18, opacity=0.8).encode(
        x=alt.X("x1", title=None, scale=alt.Scale(zero=False)),
        y=alt.Y("x2", title=None, scale=alt.Scale(zero=False)),
        color=alt.Color("class", legend=legend, scale=alt.Scale(
            domain=list(names),
            range=list(CLASS_PALETTE[:n_classes]))),
        shape=shape,
    ).properties(height=160, title=title)
    return chart


network_line = None
if data is not None:
    # The network's summary goes under the Run heading: the Network column stays short.
    network_line = (f"**{spec.model.describe(data.X.shape[1], data.n_classes)}**"
                    f" · {spec.model.n_params(data.X.shape[1], data.n_classes):,} trainable "
                    "parameters")

with run_col:
    st.subheader("Run")
    if network_line:
        st.markdown(network_line)
    if spec is not None:
        caption = (f"{spec.training.describe()} · batch {spec.training.batch_size} · "
                   f"{spec.training.epochs} epochs")
        if data is not None:
            # The figure the Train button checks: optimizer steps x parameters, plus the
            # evaluation of every epoch.
            cost = training_cost(spec, data)
            share = cost.total / session.MAX_TRAINING_COST
            used = f"{share:.0%}" if share >= 0.01 else "under 1%"
            caption += (f" · {cost.steps:,} steps, {used} of a run's budget" if share <= 1
                        else f" · {cost.steps:,} steps, {share:.1f}× a run's budget: lower the "
                             "epochs, the samples or the layer sizes, or raise the batch size")
        st.caption(caption)
    # Empty name: the preset's title while the settings are the preset's, else a name
    # made of the settings (the placeholder shows which).
    default_name = ss["preset_title"]  # the preset's title, or an uploaded CSV's file name
    if (spec is not None and spec.dataset.name != "csv"
            and spec.to_json() != ss.get("preset_spec")):
        default_name = run_name_suggestion(spec)
    st.text_input("Run name", persist_state="session", key="run_name", placeholder=default_name,
                  help="Leave empty to use the name shown.")
    c1, c2 = st.columns(2)
    train_clicked = c1.button("Train", type="primary", width="stretch", disabled=spec is None)
    if train_clicked:
        ss.pop("url_notice", None)
    stop_clicked = c2.button("Stop", width="stretch", key="stop_training",
                             help="Ends training after the current epoch and keeps every "
                                  "finished epoch.")
    if st.button("Sweep seeds…", key="sweep_settings", icon=":material/scatter_plot:",
                 width="stretch", disabled=spec is None,
                 help="Train these settings over many seeds on the Seed sweep page"):
        ss["sweep_handover_spec"] = spec.to_json()
        st.switch_page("app_pages/sweep.py")
    status_box = st.container()  # above the preview, so "Open in Replay" stays in view
    follow_box = st.container()
    preview_slot = st.empty()
    # Imported once the form is on screen: it loads the live preview's plotting (about
    # half a second of a cold start), which the form itself does not need.
    from studio import training

    if train_clicked and spec is not None:
        try:
            name = ws.unique_name(ss["run_name"].strip() or default_name)
        except (ReplayError, ValueError) as exc:
            st.error(str(exc))
        else:
            view = training.start_training(ws, spec, name)
            if view is not None:
                ss["training_job"] = view.id
                ss["training_run"] = name
                ss["training_spec"] = spec.to_json()
    if stop_clicked and ss.get("training_job"):
        jobs.stop(ws, ss["training_job"])

    following = training.followed_job(ws, ss.get("training_job"))
    if following is not None:
        # The job trains in a worker process: this fragment redraws its progress and the
        # boundary preview every second, from what the job's writer holds, until it ends.
        with follow_box:
            st.fragment(training.follow_job, run_every=training.FOLLOW_EVERY_S)(
                ws, following.id, ss["training_run"], ss["training_spec"])
    else:
        ended = training.job_view(ws, ss.get("training_job"))
        shown = False
        if ended is not None and ss.get("_training_end_shown") != ended.id:
            # The run that just ended: its last epoch's preview, once.
            ss["_training_end_shown"] = ended.id
            with follow_box:
                shown = training.show_last_epoch(ws, ss["training_run"], ss["training_spec"],
                                                 st.empty(), preview_slot)
        if not shown and data is not None:
            # Drawn last: the form's controls are already in the browser while altair and
            # pandas load (about a second, on the server's first visit only).
            preview_slot.altair_chart(_data_chart(data), width="stretch")

    last = ss.get("training_run")
    summaries = {r.name: r for r in ws.runs()} if following is None else {}
    if last in summaries:
        run = summaries[last]
        text = (f"**{run.name}** — {run.status}, {run.epochs_done} of {run.n_epochs} epochs")
        if run.final_loss is not None:
            text += f", loss {session.loss_text(run.final_loss)}, accuracy {run.final_acc:.1%}"
        if run.status == "complete":
            status_box.success(text)
        elif run.status == "diverged":
            status_box.error(f"{text}. {run.message.capitalize()}; the epochs before it stay replayable.")
        elif run.status in ("stopped", "running"):
            status_box.warning(f"{text}. Training was stopped; every finished epoch is kept.")
        else:
            status_box.error(f"{text}. {run.message}")
        if run.epochs_done > 0 or run.status == "complete":
            if status_box.button("Open in Replay ▶", type="primary", key="open_replay"):
                ss["replay_run"] = run.name
                ss["epoch"] = run.epochs_done
                st.switch_page("app_pages/replay.py")
