"""Train a spec from a page: progress and a live preview, errors as one message."""

from __future__ import annotations

import streamlit as st

from replay_core.data import csv_data, datasets
from replay_core.data.spec import RunSpec
from replay_core.errors import ReplayError, ServerBusyError
from replay_core.store.workspace import Workspace, estimate_file_bytes
from studio import capacity, session
from studio.live import LivePreview


def train_in_page(ws: Workspace, spec: RunSpec, name: str, progress_slot, preview_slot) -> bool:
    """Train ``spec`` into run ``name`` of the session's file; True when it finished.

    The run's name goes to ``st.session_state["training_run"]`` first, so the rerun that a
    click on Stop causes can report on it. Over-budget runs and failures show one message,
    a server already running all the trainings it can hold a warning; the run file keeps
    every epoch that finished.
    """
    from replay_core.train import trainer

    keep_reruns_light()
    try:
        ws.check_capacity()
        ws.check_space(estimate_file_bytes(spec))
    except (ReplayError, ValueError) as exc:
        st.error(f"Training did not start: {exc}")
        return False
    try:
        with csv_data.data_folder(ws.folder):  # an uploaded CSV is stored there
            data = datasets.prepare(spec.dataset)
    except (ReplayError, ValueError) as exc:
        st.error(f"Training did not run: {exc}")
        return False
    try:
        # Held until training ends, however it ends (a click on Stop reruns the script by
        # raising inside it): the server runs only as many trainings as it can hold.
        with capacity.slot("training"):
            st.session_state["training_run"] = name
            live = LivePreview(spec, data, progress_slot, preview_slot)
            trainer.train(spec, ws.new_run_file(), name, on_epoch=live.on_epoch,
                          max_budget=session.MAX_TRAINING_COST)
    except ServerBusyError as exc:
        st.warning(str(exc))
        return False
    except (ReplayError, ValueError) as exc:
        progress_slot.empty()
        st.error(f"Training did not run: {exc}")
        return False
    live.finish()
    return True


def keep_reruns_light() -> None:
    """Stop Streamlit's per-rerun Keras clean-up from running a full garbage collection.

    Once Keras is loaded, Streamlit calls ``keras.backend.clear_session()`` after every
    rerun, and its ``gc.collect()`` costs ~300 ms with TensorFlow's objects around, on
    every slider step of every session. The app builds a fresh model per run, so the
    clean-up only needs to reset Keras' global state, not collect garbage.
    """
    import functools

    import keras

    clear = keras.backend.clear_session
    if not isinstance(clear, functools.partial):
        keras.backend.clear_session = functools.partial(clear, free_memory=False)
