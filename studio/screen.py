"""The browser window's size, so frames are drawn at the size they are shown, and the CSS
that lets every page fit a 1280x720 projector and a 1920x1080 screen.

A tiny component in the sidebar reports ``window.innerWidth``/``innerHeight`` and the
sidebar's width (none of which depend on the page's content, so a frame sized from them
never makes the page re-measure itself); a change reruns the page. Before the first
report (and in AppTest, which has no browser) :func:`window` returns None and the pages
fall back to a fixed size.
"""

from __future__ import annotations

import streamlit as st

# Padding of the main column (CSS below) and an allowance for a vertical scroll bar.
SIDE_PAD_PX = 16
TOP_PAD_PX = 16
SCROLLBAR_PX = 16
# Sizes are rounded down to this step, so a window resized by a few pixels does not
# rebuild the frame renderer.
STEP_PX = 4
NARROW_PX = 1400  # at most this wide: a narrower sidebar leaves the frame more room
NARROW_SIDEBAR_PX = 220

_JS = """
export default function(component) {
  const { setStateValue } = component;
  let last = "";
  const report = () => {
    const bar = document.querySelector('[data-testid="stSidebar"]');
    const open = bar && bar.getAttribute("aria-expanded") !== "false"
      && getComputedStyle(bar).display !== "none";
    const size = {width: window.innerWidth, height: window.innerHeight,
                  sidebar: open ? Math.round(bar.getBoundingClientRect().width) : 0};
    const text = JSON.stringify(size);
    if (text !== last) { last = text; setStateValue("size", size); }
  };
  let timer = null;
  const later = () => { clearTimeout(timer); timer = setTimeout(report, 250); };
  report();
  window.addEventListener("resize", later);
  const bar = document.querySelector('[data-testid="stSidebar"]');
  const watch = bar ? new MutationObserver(later) : null;
  if (watch) watch.observe(bar, {attributes: true, attributeFilter: ["aria-expanded", "style"]});
  return () => { window.removeEventListener("resize", later); if (watch) watch.disconnect(); };
}
"""

_component = st.components.v2.component("deepreplay_window_size", js=_JS)

# Compact pages: little padding, a narrower sidebar on small screens, control labels on
# one line, the hidden component taking no room.
PAGE_CSS = f"""<style>
[data-testid="stMainBlockContainer"], .block-container {{
  padding: {TOP_PAD_PX}px {SIDE_PAD_PX}px {SIDE_PAD_PX}px {SIDE_PAD_PX}px !important;
  max-width: 100% !important;
}}
@media (max-width: {NARROW_PX}px) {{
  section[data-testid="stSidebar"] {{
    width: {NARROW_SIDEBAR_PX}px !important; min-width: {NARROW_SIDEBAR_PX}px !important;
    max-width: {NARROW_SIDEBAR_PX}px !important;
  }}
}}
[data-testid="stSidebarUserContent"] {{ padding-top: 0.5rem !important; }}
/* The sidebar's header (the collapse button) and the line under the page links take
   less height, so Replay's settings with a wide layer's projection fit a 720-px window. */
[data-testid="stSidebarHeader"] {{ height: 2.5rem !important; margin-bottom: 0 !important;
  align-items: center !important; }}
[data-testid="stSidebarNavSeparator"] {{ padding-top: 0.25rem !important; }}
[data-testid="stSidebarUserContent"] [data-testid="stVerticalBlock"] {{ gap: 0.5rem; }}
/* The header is transparent and over the page's first row: let clicks through it. */
header[data-testid="stHeader"] {{ pointer-events: none; background: transparent; }}
header[data-testid="stHeader"] button, header[data-testid="stHeader"] a {{
  pointer-events: auto; }}
/* Replay's narration line under the caption stays one line (cut with an ellipsis; the
   whole sentence shows in presentation mode and exports), so a long sentence never
   pushes the page past a 720-px window. */
.st-key-replay_player [data-testid="stElementContainer"]:has([data-testid="stCaptionContainer"])
  + [data-testid="stElementContainer"] [data-testid="stMarkdownContainer"] p {{
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; margin-bottom: 0; }}
.st-key-window_size, .st-key-window_size_box,
[data-testid="stLayoutWrapper"]:has(> .st-key-window_size_box) {{ display: none !important; }}
</style>"""


def track(relayout: bool = True) -> dict | None:
    """Mount the size reporter (in the sidebar) and add the compact page CSS; return the
    last size reported: ``{"width", "height", "sidebar"}`` in CSS pixels, or None.

    ``relayout``: a page laid out for the window's size (Replay, Compare) runs again when
    the size changes. A page that is not (Train) only records it: a run the browser did
    not ask for gives every kept widget its value again, over what the user may be
    typing at that moment."""
    st.html(PAGE_CSS)
    ss = st.session_state
    ss["_window_relayout"] = bool(relayout)
    ss["_window_in_page_run"] = True
    try:
        with st.sidebar.container(key="window_size_box"):
            _size_reporter()
    finally:
        ss["_window_in_page_run"] = False
    return window()


@st.fragment
def _size_reporter() -> None:
    """The reporter, in a fragment of its own: a new size reruns only this fragment,
    which does not interrupt a run of the page under way (so the first run's controls
    reach the browser whole, and a value typed meanwhile is not lost), and the fragment
    then reruns the page once, to lay it out for the new size."""
    result = _component(key="window_size", default={"size": None}, height=0,
                        on_size_change=lambda: None)
    size = getattr(result, "size", None)
    ss = st.session_state
    if _valid(size) and size != ss.get("_window"):
        before = ss.get("_window")
        ss["_window"] = size
        if (not ss.get("_window_in_page_run") and ss.get("_window_relayout", True)
                and _layout_changed(before, size)):
            st.rerun(scope="app")


def _layout_changed(before: dict | None, after: dict) -> bool:
    """Whether a page laid out for ``before`` must be laid out again for ``after``: the
    window's size, or the sidebar's width unless presenting (presentation mode hides the
    sidebar, and the rerun would only cost a frame and a click landing meanwhile)."""
    if not _valid(before):
        return True
    keys = ("width", "height") if st.session_state.get("presenting") else (
        "width", "height", "sidebar")
    return any(int(before[k]) != int(after[k]) for k in keys)


def _valid(size) -> bool:
    if not isinstance(size, dict):
        return False
    try:
        return all(0 <= int(size.get(k, -1)) <= 20_000 for k in ("width", "height", "sidebar"))
    except (TypeError, ValueError):
        return False


def window() -> dict | None:
    """The last size the browser reported (see :func:`track`), or None."""
    size = st.session_state.get("_window")
    return size if _valid(size) else None


def main_width(size: dict, presenting: bool = False) -> int:
    """Width in CSS pixels of the main column for a window of ``size``."""
    sidebar = 0 if presenting else int(size["sidebar"])
    if not presenting and int(size["width"]) <= NARROW_PX and sidebar:
        sidebar = min(sidebar, NARROW_SIDEBAR_PX)
    return int(size["width"]) - sidebar - 2 * SIDE_PAD_PX - SCROLLBAR_PX


def fit(size: dict, reserved_height: int, aspect: float, *,
        presenting: bool = False) -> tuple[int, int]:
    """A frame as wide as the main column and at most ``1 / aspect`` of that high, less
    when the window's height less ``reserved_height`` (the controls above and below it)
    is shorter; rounded down to ``STEP_PX``, at least 480x240."""
    width = main_width(size, presenting)
    width -= width % STEP_PX
    height = min(int(width / aspect), int(size["height"]) - reserved_height)
    return max(480, width), max(240, height - height % STEP_PX)


def frame_dpi(width: int) -> int:
    """Dots per inch for a frame ``width`` pixels wide: text of about 11 px at 1000 px and
    a little larger on wider frames, where there is room."""
    return int(min(max(width / 11.0, 100), 125))
