"""The layer internals in the app: the "Layers" switch, cached view data and renderers.

The Replay page shows the strip under the frame for the epoch on the slider; Compare
shows 2-4 runs' violins in rows. View data is cached with ``st.cache_data`` keyed on the
run key (file, name, epochs written, status, mtime); a renderer is kept per page in
session state and built once.
"""

from __future__ import annotations

import streamlit as st

from replay_core.replay.internals import Internals, InternalsViews
from replay_core.replay.replayer import Replay

SHOW_KEY = "show_layers"
EXPLAIN_KEY = "layers_explain"


@st.cache_data(max_entries=6, show_spinner="Computing every layer's values and gradients "
               "for every epoch…")
def internals_views(key: tuple) -> InternalsViews:
    """The layer-internals views of the run ``key`` (``session.run_key``)."""
    path, name = key[0], key[1]
    return Internals.from_replay(Replay(path, name)).views()


def layers_toggle(col) -> bool:
    """The "Layers" switch; True when the layer internals are wanted under the frame."""
    return col.toggle("Layers", key=SHOW_KEY,
                      help="Inside the network: per layer, the distribution of z-values, "
                      "activations, weights and gradients at the epoch shown; their spread "
                      "over epochs; dead and saturated units; the learning rate; and one "
                      "layer's activation function with its derivative over its z-values.")


def explain_picker(col, layer_names: tuple[str, ...]) -> str | None:
    """The layer whose activation the explainer panel shows (the last hidden by default)."""
    if not layer_names:
        return None
    default = layer_names[max(len(layer_names) - 2, 0)]
    if st.session_state.get(EXPLAIN_KEY) not in layer_names:
        st.session_state[EXPLAIN_KEY] = default
    return col.selectbox("Explain the activation of", list(layer_names), key=EXPLAIN_KEY)


def strip(keys: tuple, names: tuple[str, ...], size: tuple[int, int], theme: str,
          slot: str, explain: str | None = None):
    """The renderer of these runs' layer panels (one run: every panel; several: their
    violins in rows), kept in session state under ``slot`` and built once."""
    from replay_core.render.internals import InternalsRenderer

    wanted = (keys, names, size, theme, explain)
    kept = st.session_state.get(slot)
    if kept is None or kept[0] != wanted:
        views = {name: internals_views(k) for name, k in zip(names, keys)}
        # text sized for the width, as a 1280-pixel figure at 100 dpi
        dpi = min(max(100.0 * size[0] / 1280, 60.0), 150.0)
        renderer = InternalsRenderer(views, size=size, theme=theme, explain_layer=explain,
                                     dpi=dpi)
        st.session_state[slot] = (wanted, renderer)
        return renderer
    return kept[1]
