"""Seed sweep page: train configurations over many seeds, see what is luck and what is not."""

from __future__ import annotations

import streamlit as st

from replay_core.data import presets
from replay_core.data.spec import RunSpec
from replay_core.errors import ReplayError, ServerBusyError
from replay_core.store.names import unique_name
from replay_core.store.workspace import estimate_file_bytes
from replay_core.train import sweep
from replay_core.train.batched import group_specs
from studio import jobs, session, training
from studio.sweep_view import (
    final_loss_chart,
    first_perfect_chart,
    interpretation,
    picked_run,
    summary_rows,
    sweep_frame,
)

ss = st.session_state

# The seed article's experiment: the reference run with three hidden activations.
REFERENCE = {"sigmoid": "reference", "tanh": "reference_tanh", "relu": "reference_relu"}
CURRENT = "current"
CURRENT_LABEL = "current settings"
DEFAULT_SEEDS = 20

ws = session.workspace()
max_workers = sweep.default_workers()
ss.setdefault("sweep_seeds", DEFAULT_SEEDS)
session.clamp_widget("sweep_workers", 1, max_workers, max_workers)

st.title("Seed sweep")
st.caption("Train each configuration with seeds 1 to N (the seed sets the initial weights "
           "and the shuffling; the data stay the same) to tell what the hyper-parameters do "
           "from what is luck. Each run is kept and opens in Replay.")

runs = ws.runs()
specs = {r.name: RunSpec.from_stored(r.spec) for r in runs}
sweepable = [name for name, spec in specs.items() if spec is not None]
unsweepable = [name for name, spec in specs.items() if spec is None]

# Handed over by the Compare page (run names) or the Train page (the form's spec).
if "sweep_configs" in ss:
    ss["sweep_choice"] = [f"run:{n}" for n in ss.pop("sweep_configs") if n in sweepable]
if "sweep_handover_spec" in ss:
    ss["sweep_current_spec"] = ss.pop("sweep_handover_spec")
    ss["sweep_choice"] = [CURRENT]

options = [f"preset:{label}" for label in REFERENCE]
if "sweep_current_spec" in ss:
    options.insert(0, CURRENT)
options += [f"run:{name}" for name in sweepable]
ss["sweep_choice"] = [o for o in ss.get("sweep_choice", []) if o in options]


def _option_text(option: str) -> str:
    kind, _, name = option.partition(":")
    if option == CURRENT:
        return f"{CURRENT_LABEL} (from the Train page)"
    if kind == "preset":
        return f"{name} (reference run)"
    return name


def _choose_reference() -> None:
    ss["sweep_choice"] = [f"preset:{label}" for label in REFERENCE]


def _configurations(choice: list[str]) -> dict[str, RunSpec]:
    """Label -> spec of the chosen options; labels are unique and free of '/'."""
    out: dict[str, RunSpec] = {}
    for option in choice:
        kind, _, name = option.partition(":")
        if option == CURRENT:
            label, spec = CURRENT_LABEL, RunSpec.from_json(ss["sweep_current_spec"])
        elif kind == "preset":
            label, spec = name, presets.get(REFERENCE[name])
        else:
            label, spec = name, specs[name]
        out[unique_name(label, out)] = spec
    return out


with st.container(border=True):
    choice = st.multiselect(
        f"Configurations (1 to {sweep.MAX_CONFIGS})", options,
                          persist_state="session", key="sweep_choice",
        format_func=_option_text, max_selections=sweep.MAX_CONFIGS,
        placeholder="Choose runs whose settings to sweep",
        help="Each run's recorded settings are one configuration, labelled by the run's name.")
    st.button("Sigmoid, tanh and relu (reference run)", icon=":material/science:",
              on_click=_choose_reference, width="content",
              help="The seed article's experiment: parabolas, 2 → 2 → 1, SGD lr 0.05, "
                   "150 epochs, with a sigmoid, a tanh and a relu hidden layer")
    if unsweepable:
        st.caption("Runs without recorded settings (such as files written by the original "
                   "DeepReplay package) cannot be swept: " + ", ".join(unsweepable) + ".")
    row = st.columns([0.8, 0.8, 2.4, 1.1, 0.9], vertical_alignment="bottom")
    seeds = row[0].number_input("Seeds", 1, sweep.MAX_SEEDS, step=1,
                                persist_state="session", key="sweep_seeds",
                                help=f"Seeds 1 to N for every configuration, N from 1 to "
                                     f"{sweep.MAX_SEEDS}")
    workers = row[1].number_input("Workers", 1, max_workers, step=1,
                                  persist_state="session", key="sweep_workers",
                                  help=f"The seeds of a configuration train together as one "
                                       f"batched computation; configurations train in 1 to "
                                       f"{max_workers} worker processes at once. The default "
                                       "is one per core this server can spare.")
    n_runs = len(choice) * int(seeds)
    if choice:
        configs = _configurations(choice)
        epochs = sorted({s.training.epochs for s in configs.values()})
        epochs_text = (f"{epochs[0]} epochs each" if len(epochs) == 1
                       else f"{epochs[0]}–{epochs[-1]} epochs")
        # As the sweep trains them: configurations of one graph in one batched group, the
        # groups in up to ``workers`` worker processes at once (no TensorFlow needed here).
        n_groups = len(group_specs(list(configs.values())))
        at_once = min(int(workers), n_groups)
        groups_text = ("in 1 batched group" if n_groups == 1 else
                       f"in {n_groups} batched groups, "
                       f"{'one' if at_once == 1 else at_once} at a time")
        row[2].markdown(f"**{n_runs} runs**: {len(choice)} configuration"
                        f"{'s' if len(choice) > 1 else ''} × {int(seeds)} seeds, "
                        f"{epochs_text}, {groups_text}")
    else:
        configs = {}
        row[2].markdown("Choose at least one configuration.")
    # The sweep this page follows: the one started here, else this session's sweep still
    # queued or running (started before a reload, or in another tab of this browser).
    sweep_jobs = [v for v in jobs.jobs_of(ws) if v.kind == "sweep"]
    view = next((v for v in sweep_jobs if v.id == ss.get("sweep_job")), None)
    if view is None or view.state not in training.ACTIVE:
        view = next((v for v in sweep_jobs if v.state in training.ACTIVE), view)
    if view is not None:
        ss["sweep_job"] = view.id
    running = view is not None and view.state in training.ACTIVE
    start_slot = row[3].empty()
    if running:
        start = False
        start_slot.button("Running…", type="primary", width="stretch", disabled=True,
                          key="sweep_running")
    else:
        start = start_slot.button("Start", type="primary", icon=":material/play_arrow:",
                                  width="stretch", disabled=not choice)
    stop_slot = row[4].empty()
    if running and stop_slot.button(
            "Stop", icon=":material/stop:", width="stretch", key="sweep_stop",
            help="Ends the sweep after the current epochs; finished runs are kept, and so "
                 "are the runs it cuts short, with their finished epochs. Leaving the page "
                 "lets the sweep go on."):
        jobs.stop(ws, view.id)
    progress_box = st.container()

if start and configs:
    notices: list[tuple[str, str]] = []
    try:
        tasks = sweep.plan(configs, int(seeds), taken=ws.run_names())
        ws.check_capacity(len(tasks))
        ws.check_space(sum(estimate_file_bytes(task.spec) for task in tasks))
    except (ReplayError, ValueError) as exc:
        notices.append(("error", f"The sweep did not start: {exc}"))
    else:
        try:
            view = jobs.submit_sweep(ws, tasks, min(int(workers), len(configs)))
        except ServerBusyError as exc:  # the session's or the server's queue is full
            notices.append(("warning", str(exc)))
        except (ReplayError, ValueError) as exc:
            notices.append(("error", f"The sweep did not run: {exc}"))
        else:
            ss["sweep_job"] = view.id
            # Shown once it has ended (the selectbox then moves to it).
            ss["sweep_show_next"] = tasks[0].sweep_id
    ss["sweep_notices"] = notices
    st.rerun()


def _follow_sweep(job_id: str) -> None:
    """The sweep's progress, redrawn every second from the job; a rerun of the page
    once it has ended."""
    now = training.job_view(ws, job_id)
    if now is None or now.state not in ("queued", "running"):
        st.rerun()
    if now.state == "queued":
        place = now.queue_position
        st.progress(0.0, text=f"Queued{f' · {place} in line' if place else ''}: the sweep "
                              "starts when a worker is free.")
        return
    if now.epochs_done == 0:
        st.progress(0.0, text=f"0 of {now.epochs_total:,} epochs · starting: a worker process "
                              "loads TensorFlow…")
        return
    # One bar for the whole sweep, in epochs: every run of a group advances at once.
    text = f"{now.epochs_done:,} of {now.epochs_total:,} epochs"
    if now.seconds_left is not None:
        text += f" · about {max(1, round(now.seconds_left)):,} s left"
    st.progress(min(1.0, now.epochs_done / max(now.epochs_total, 1)), text=text)


if running:
    with progress_box:
        st.fragment(_follow_sweep, run_every=training.FOLLOW_EVERY_S)(view.id)
elif view is not None and ss.get("_sweep_reported") != view.id:
    # The sweep ended (here or while the page was elsewhere): say how, with the counts
    # in the file.
    ss["_sweep_reported"] = view.id
    members = sweep.group_sweeps(ws.runs()).get(view.sweep_id or "", [])
    finished = sum(m.status in ("complete", "diverged") for m in members)
    midway = sum(m.status == "stopped" for m in members)
    total = len(view.run_names)
    if view.state == "done":
        notices = [("success", f"Sweep finished: {finished} of {total} runs.")]
    elif view.state == "stopped":
        notices = [("warning", f"Stopped: {finished} of {total} runs finished, {midway} kept "
                               "with their finished epochs.")]
    else:
        notices = [("warning", view.message)]
    ss["sweep_notices"] = ss.get("sweep_notices", []) + notices

for kind, text in ss.pop("sweep_notices", []):
    getattr(st, kind)(text)

# -- results ------------------------------------------------------------------------------


@st.cache_data(max_entries=8, show_spinner="Replaying every run of the sweep…")
def _sweep_runs(path: str, mtime: float, sweep_id: str) -> list[sweep.SweepRun]:
    return sweep.read_sweep(path, sweep_id)


recorded = sweep.group_sweeps(runs)  # read once above; a finished sweep reruns the page
if running:  # its results are shown once it has ended
    recorded.pop(view.sweep_id or "", None)
if not recorded:
    if running:
        st.info("The sweep's results appear here once it has ended.")
    else:
        st.info("No sweep in this session yet. Choose configurations above and start one, or "
                "use “Sweep seeds for these runs” on the Compare page.")
    st.stop()

ids = list(reversed(recorded))  # newest first
if ss.get("sweep_show_next") in ids:
    ss["sweep_selected"] = ss.pop("sweep_show_next")
if ss.get("sweep_selected") not in ids:
    ss["sweep_selected"] = ids[0]


def _sweep_text(sweep_id: str) -> str:
    members = recorded[sweep_id]
    labels = list(dict.fromkeys((m.sweep or {}).get("config", "?") for m in members))
    created = min((m.created or "" for m in members), default="")[:16].replace("T", " ")
    when = f" · {created} UTC" if created else ""
    return f"{', '.join(labels)} · {len(members)} runs{when}"


st.subheader("Results")
session.relabel_widget("sweep_selected", map(_sweep_text, ids))
sweep_id = st.selectbox("Sweep", ids,
                        persist_state="session", key="sweep_selected", format_func=_sweep_text)
try:
    sweep_path = ws.run_path(recorded[sweep_id][0].name)
    figures_key = (str(sweep_path), sweep_path.stat().st_mtime, sweep_id)
    slot = ss.get("_sweep_runs")
    if slot is not None and slot[0] == figures_key:
        swept = slot[1]
    else:
        swept = _sweep_runs(*figures_key)
        ss["_sweep_runs"] = (figures_key, swept)
except (ReplayError, ValueError, OSError) as exc:
    st.error(f"This sweep cannot be read: {exc}")
    st.stop()
if not swept:
    st.warning("No run of this sweep finished.")
    st.stop()

n_epochs = {m.name: m.n_epochs for m in recorded[sweep_id]}
summaries = sweep.summarize(swept)
config_order = [s.config for s in summaries]
budgets: dict[str, int] = {}
for run in swept:
    budgets[run.config] = max(budgets.get(run.config, 0), n_epochs.get(run.name, run.epochs_done))

st.dataframe(summary_rows(summaries), hide_index=True, width="stretch")
st.markdown(interpretation(summaries, budgets))

frame = sweep_frame(swept)
left, right = st.columns(2, gap="large")
charts = (
    (left, "First epoch at 100% training accuracy",
     first_perfect_chart(frame, config_order, max(budgets.values())), "sweep_chart_first"),
    (right, "Final loss", final_loss_chart(frame, config_order), "sweep_chart_loss"),
)
for column, title, chart, key in charts:
    with column:
        st.markdown(f"**{title}**")
        event = st.altair_chart(chart, width="stretch", on_select="rerun",
                                selection_mode="pick", key=f"{key}_{sweep_id}")
        clicked = picked_run(event)
        if clicked is not None and clicked in n_epochs:
            ss["replay_run"] = clicked
            ss["epoch"] = n_epochs[clicked]
            st.switch_page("app_pages/replay.py")
st.caption("One dot per seed. The box spans the middle half of the seeds, the line runs from "
           "the lowest to the highest value and the bar marks the median. Seeds that never "
           "reached 100% sit right of the dashed line. Click a dot to open that run in Replay.")

names = [r.name for r in swept]
c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
chosen = c1.selectbox("Run of this sweep", names,
                      persist_state="session", key=f"sweep_run_{sweep_id}")
if c2.button("Open in Replay ▶", width="stretch", key="sweep_open_replay"):
    ss["replay_run"] = chosen
    ss["epoch"] = n_epochs.get(chosen, 0)
    st.switch_page("app_pages/replay.py")
