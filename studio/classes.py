"""The confusion matrix of a run at one epoch, as a table under the Replay frame."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from replay_core.replay.views import ReplayViews, class_labels


def confusion_frame(views: ReplayViews, epoch: int) -> pd.DataFrame | None:
    """Counts of true class (rows) by predicted class (columns) at ``epoch``, or None
    when the run has no confusion matrix."""
    if views.confusion is None:
        return None
    counts = views.confusion.counts[epoch]
    names = class_labels(views.confusion.class_names or views.class_names, counts.shape[0])
    return pd.DataFrame(counts, index=[f"true {c}" for c in names],
                        columns=[f"predicted {c}" for c in names])


def confusion_table(views: ReplayViews, epoch: int) -> None:
    """The confusion matrix and accuracy at ``epoch``, in a collapsed expander."""
    frame = confusion_frame(views, epoch)
    if frame is None:
        return
    accuracy = views.confusion.accuracy(epoch)
    label = (f"Confusion matrix at epoch {epoch} · accuracy {accuracy:.1%} "
             f"({int(frame.values.trace())} of {int(frame.values.sum())} samples)")
    with st.expander(label, expanded=False):
        st.dataframe(frame, width="content")
