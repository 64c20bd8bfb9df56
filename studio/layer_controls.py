"""Replay page controls for the feature space: which hidden layer, and for a layer of
more than 2 units which projection (a frozen PCA or two chosen units) and fitted when.

Widget keys: ``replay_layer``, ``replay_projection`` ("PCA" / "Two units"),
``replay_unit_x`` / ``replay_unit_y`` (1-based), ``replay_fit_epoch``.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from replay_core.errors import ReplayError
from studio import session

KEYS = ["replay_layer", "replay_projection", "replay_unit_x", "replay_unit_y",
        "replay_fit_epoch", "show_units", "show_landscape"]
PROJECTIONS = ("PCA", "Two units")
NAME_CHARS = 12
"""Characters of a layer's name in the picker: with its unit count, the value reads whole
in the sidebar of a 1280-px window."""


def layer_options(layer_units: list[tuple[str, int]]) -> dict[str, str]:
    """Each layer's text in the picker, ``"bottleneck (2)"`` (name and unit count); a name
    longer than ``NAME_CHARS`` is cut with an ellipsis unless two layers would then read
    the same."""
    def cut(name: str) -> str:
        return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"

    texts = {name: f"{cut(name)} ({n})" for name, n in layer_units}
    if len(set(texts.values())) < len(texts):
        texts = {name: f"{name} ({n})" for name, n in layer_units}
    return texts


def _clamp(key: str, low: int, high: int, default: int) -> None:
    value = st.session_state.get(key)
    if not isinstance(value, int) or not low <= value <= high:
        st.session_state[key] = default


def feature_controls(layer_col, layer_units: list[tuple[str, int]], default: str | None,
                     epochs_done: int, run_name: str, show: bool = True,
                     fit_default: Callable[[str], int] | None = None):
    """Draw the controls (``show`` False: read the kept values only, for presentation
    mode); return ``(layer, projection, fit_epoch)`` for ``Replay.views``.

    ``layer_col`` (a container: the Replay page's sidebar) holds the layer picker and,
    for a wide layer, the projection controls under it. ``fit_default(layer)`` is the
    epoch a layer's projection is fitted at when none is chosen
    (``Replay.fit_projection(layer).fit_epoch``: the last epoch, or the last finite one
    of a run that blew up); the last epoch when None.
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
        options = layer_options(layer_units)
        session.relabel_widget("replay_layer", options.values())
        layer_col.selectbox("Feature-space layer", list(units),
                            persist_state="session", key="replay_layer",
                            format_func=options.__getitem__,
                            help="Any hidden layer, with its number of units: a 2-unit layer "
                            "is shown as it is, a wider one through a projection chosen below.")
    layer = ss["replay_layer"]
    n_units = units[layer]
    if n_units <= 2:
        return layer, None, None
    if ss.get("_fit_run") != (run_name, layer):
        # A new run or layer: fitted where the projection is fitted by default, which for
        # a run that blew up is its last finite epoch, not its last one.
        ss["_fit_run"] = (run_name, layer)
        ss["replay_fit_epoch"] = _default_fit_epoch(fit_default, layer, epochs_done)
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
                         "share of variance shown): by default the last one, or for a run "
                         "that blew up its last finite one; the projection then stays the "
                         "same for every epoch, and the panel's title says its epoch.")
    fit_epoch = int(ss["replay_fit_epoch"])
    if ss["replay_projection"] == "Two units":
        x, y = int(ss["replay_unit_x"]), int(ss["replay_unit_y"])
        if x != y:
            return layer, ("units", x - 1, y - 1), fit_epoch
        if show:
            layer_col.warning("Pick two different units; showing the PCA meanwhile.")
    return layer, "pca", fit_epoch


def _default_fit_epoch(fit_default: Callable[[str], int] | None, layer: str,
                       epochs_done: int) -> int:
    if fit_default is None:
        return epochs_done
    try:
        epoch = int(fit_default(layer))
    except (ReplayError, ValueError):
        return epochs_done  # the page says what is wrong with the run when it draws it
    return min(max(epoch, 0), epochs_done)


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
