"""Train a spec from a page: progress and a live preview, errors as one message."""

from __future__ import annotations

import streamlit as st

from replay_core import datasets
from replay_core.errors import ReplayError
from replay_core.spec import RunSpec
from replay_core.workspace import Workspace
from studio import session
from studio.live import LivePreview


def train_in_page(ws: Workspace, spec: RunSpec, name: str, progress_slot, preview_slot) -> bool:
    """Train ``spec`` into run ``name`` of the session's file; True when it finished.

    The run's name goes to ``st.session_state["training_run"]`` first, so the rerun that a
    click on Stop causes can report on it. Over-budget runs and failures show one message;
    the run file keeps every epoch that finished.
    """
    from replay_core import trainer

    try:
        ws.check_capacity()
    except (ReplayError, ValueError) as exc:
        st.error(str(exc))
        return False
    st.session_state["training_run"] = name
    live = LivePreview(spec, datasets.prepare(spec.dataset), progress_slot, preview_slot)
    try:
        trainer.train(spec, ws.run_file, name, on_epoch=live.on_epoch,
                      max_budget=session.MAX_TRAINING_COST)
    except (ReplayError, ValueError) as exc:
        progress_slot.empty()
        st.error(f"Training did not run: {exc}")
        return False
    live.finish()
    return True
