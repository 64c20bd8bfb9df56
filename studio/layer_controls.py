"""Replay page controls for the feature space: which hidden layer, and for a layer of
more than 2 units which projection (a frozen PCA or two chosen units) and fitted when.

Widget keys: ``replay_layer``, ``replay_projection`` ("PCA" / "Two units"),
``replay_unit_x`` / ``replay_unit_y`` (1-based), ``replay_fit_epoch``.
"""

from __future__ import annotations

import streamlit as st

KEYS = ["replay_layer", "replay_projection", "replay_unit_x", "replay_unit_y",
        "replay_fit_epoch", "show_units", "show_landscape"]
PROJECTIONS = ("PCA", "Two units")


def _clamp(key: str, low: int, high: int, default: int) -> None:
    value = st.session_state.get(key)
    if not isinstance(value, int) or not low <= value <= high:
        st.session_state[key] = default


def feature_controls(layer_col, layer_units: list[tuple[str, int]], default: str | None,
                     epochs_done: int, run_name: str, show: bool = True):
    """Draw the controls (``show`` False: read the kept values only, for presentation
    mode); return ``(layer, projection, fit_epoch)`` for ``Replay.views``.

    ``layer_col`` (a container: the Replay page's sidebar) holds the layer picker and,
    for a wide layer, the projection controls under it.
    """
    ss = st.session_state
    units = dict(layer_units)
    if not units:
        if show:
            layer_col.selectbox("Feature-space layer", ["no hidden layer of 2+ units"],
                                disabled=True)
        return None, None, None
    if ss.get("replay_layer") not in units:
        ss["replay_layer"] = default if default in units else next(iter(units))
    if show:
        layer_col.selectbox("Feature-space layer", list(units),
                            persist_state="session", key="replay_layer",
                            format_func=lambda n: f"{n} ({units[n]} units)",
                            help="Any hidden layer: a 2-unit layer is shown as it is, a wider "
                            "one through a projection chosen below.")
    layer = ss["replay_layer"]
    n_units = units[layer]
    if n_units <= 2:
        return layer, None, None
    if ss.get("_fit_run") != run_name:  # a new run: fit at its last epoch again
        ss["_fit_run"] = run_name
        ss["replay_fit_epoch"] = epochs_done
    ss.setdefault("replay_projection", PROJECTIONS[0])
    _clamp("replay_fit_epoch", 0, epochs_done, epochs_done)
    _clamp("replay_unit_x", 1, n_units, 1)
    _clamp("replay_unit_y", 1, n_units, 2)
    if show:
        # In a popover: the sidebar gives the projection one row and still fits a 720-px
        # window (its four controls took five rows and pushed the last ones below it).
        box = layer_col.popover("Projection", icon=":material/tune:", width="stretch",
                                help=f"How the {n_units} units are shown in 2-D")
        box.radio(f"Projection of {n_units} units", PROJECTIONS,
                  persist_state="session", key="replay_projection",
                  horizontal=True,
                  help="PCA: the first two principal components of the training inputs' "
                  "activations at the chosen epoch, then kept fixed for every epoch, so "
                  "motion is the network's. Two units: the plane of two chosen units.")
        two = ss["replay_projection"] == "Two units"
        units_x, units_y = box.columns(2, vertical_alignment="bottom")
        units_x.number_input("Unit x", 1, n_units,
                             persist_state="session", key="replay_unit_x", disabled=not two)
        units_y.number_input("Unit y", 1, n_units,
                             persist_state="session", key="replay_unit_y", disabled=not two)
        box.number_input("Fitted at epoch", 0, epochs_done,
                         persist_state="session", key="replay_fit_epoch",
                         help="The epoch whose activations fit the PCA (and give the "
                         "share of variance shown); the projection then stays the same "
                         "for every epoch.")
    fit_epoch = int(ss["replay_fit_epoch"])
    if ss["replay_projection"] == "Two units":
        x, y = int(ss["replay_unit_x"]), int(ss["replay_unit_y"])
        if x != y:
            return layer, ("units", x - 1, y - 1), fit_epoch
        if show:
            layer_col.warning("Pick two different units; showing the PCA meanwhile.")
    return layer, "pca", fit_epoch


def unit_strip_toggle(col, layer: str | None, inputs_2d: bool) -> bool:
    """The "Units of <layer>" switch (2-D inputs only); True when the strip is wanted."""
    if layer is None or not inputs_2d:
        return False
    return col.toggle(f"Units of {layer}", persist_state="session", key="show_units",
                      help="Every unit of the layer as a small map of the input space, for "
                      "the epoch shown (white zero, blue positive, orange negative).")


def landscape_toggle(col) -> bool:
    """The "Loss landscape" switch; True when the landscape panel is wanted."""
    return col.toggle("Loss landscape", persist_state="session", key="show_landscape",
                      help="The loss over the plane of the weights' path (its first two "
                      "principal components), the path as a line and the epoch shown as a dot.")
