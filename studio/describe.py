"""Table rows that describe a run for people: dataset, architecture, optimizer, figures."""

from __future__ import annotations

from replay_core.data.spec import RunSpec
from replay_core.store.runfile import RunSummary


def describe_run(summary: RunSummary) -> dict:
    """One row of the Runs table."""
    dataset = architecture = optimizer = "—"
    spec = RunSpec.from_stored(summary.spec)
    if spec is not None:
        dataset = spec.dataset.name
        try:
            architecture = spec.model.describe(spec.dataset.input_dim, spec.dataset.n_classes)
        except (ValueError, KeyError, OSError):  # data no longer at hand (an uploaded CSV)
            architecture = spec.model.describe()
        optimizer = spec.training.describe()
    elif summary.is_deepreplay:
        dataset = "DeepReplay file"
    return {
        "name": summary.name,
        "dataset": dataset,
        "classes": ", ".join(summary.class_names),
        "architecture": architecture,
        "optimizer": optimizer,
        "status": summary.status,
        "epochs": f"{summary.epochs_done} / {summary.n_epochs}",
        "final loss": None if summary.final_loss is None else round(summary.final_loss, 4),
        "final accuracy": None if summary.final_acc is None else round(summary.final_acc, 4),
        "sweep": sweep_label(summary),
    }


def sweep_label(summary: RunSummary) -> str:
    """``sigmoid, seed 3 (sweep 1a2b3c)`` for a run of a seed sweep, empty otherwise."""
    info = summary.sweep or {}
    if not isinstance(info.get("id"), str):
        return ""
    return f"{info.get('config', '?')}, seed {info.get('seed', '?')} (sweep {info['id'][:6]})"
