"""The texts of a run picker in the sidebar: each run's name, whole when it fits the
picker's box, else shortened in its middle, and marked while a job trains it.

A selectbox shows its value on one line: a long name (a sweep's, a typed one) with a
training mark was cut at its end, which hides what tells two runs apart. The browser
holds a choice as the text it shows, so two runs never get the same text.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

TRAINING_MARK = "● "  # before the name of a run a job is training
ELLIPSIS = "…"
# A selectbox value's room in the sidebar: the sidebar's width less its padding, the
# picker's arrow and the box's own padding (110 px of text in a 220-px sidebar, measured
# in Chromium), less a margin.
SIDEBAR_PAD_PX = 112
MIN_PX = 80
DEFAULT_SIDEBAR_PX = 220  # before the browser reports its window: the narrow sidebar
# Glyph widths in px of the app's 14-px sans-serif, measured in Chromium and rounded up
# ("W" is three times an "i"; the ellipsis and the mark come from a wider fallback font).
_NARROW = set("iljtfr.,:;'|!()[]{} 1")
_WIDE = set("mwMW@%")
_GLYPH_PX = {"…": 13.5, "●": 8.5}


def char_width(ch: str) -> float:
    """Width of ``ch`` in px of the sidebar's 14-px sans-serif font (an estimate)."""
    if ch in _GLYPH_PX:
        return _GLYPH_PX[ch]
    if ch in _NARROW:
        return 4.0
    if ch in _WIDE:
        return 11.8
    if ch.isupper():
        return 9.0
    return 7.2


def text_width(text: str) -> float:
    """Width of ``text`` in px (see :func:`char_width`)."""
    return sum(char_width(c) for c in text)


def text_budget(sidebar_px: int | None) -> int:
    """How many px wide a picker's value shows whole in a sidebar ``sidebar_px`` wide.

    Example
    -------
    >>> text_budget(220)
    108
    """
    px = DEFAULT_SIDEBAR_PX if not sidebar_px or sidebar_px <= 0 else int(sidebar_px)
    return max(MIN_PX, min(px, 2000) - SIDEBAR_PAD_PX)


def _shorten(text: str, limit: float, tail: int | None) -> tuple[str, int]:
    """``text`` within ``limit``, and how many of its last characters it keeps."""
    if text_width(text) <= limit:
        return text, len(text)
    room = max(limit - char_width(ELLIPSIS), 2 * char_width("W"))
    if tail is None:  # about half the room for the end
        tail, used = 0, 0.0
        while tail < len(text) and used + char_width(text[-1 - tail]) <= room / 2:
            used += char_width(text[-1 - tail])
            tail += 1
    tail = min(max(int(tail), 1), len(text) - 1)
    end = text[len(text) - tail:]
    head, used = 0, text_width(end)
    while head < len(text) - tail and used + char_width(text[head]) <= room:
        used += char_width(text[head])
        head += 1
    if head == 0:
        return text, len(text)  # no room for its start: the whole text
    return text[:head].rstrip() + ELLIPSIS + end.lstrip(), tail


def middle_ellipsis(text: str, limit: float, tail: int | None = None) -> str:
    """``text`` at most ``limit`` px wide (as :func:`text_width` estimates it): its
    start, "…" and its end (``tail`` characters of it, about half the room by default).

    Example
    -------
    >>> middle_ellipsis("parabola 2 sigmoid, sgd lr 0.05", 108)
    'parabola…lr 0.05'
    """
    return _shorten(text, limit, tail)[0]


def picker_texts(names: Iterable[str], training: Collection[str],
                 limit: float) -> dict[str, str]:
    """Each run's text in the picker, by name: ``TRAINING_MARK`` before a run in
    ``training``, the name shortened in its middle to ``limit`` px in all.

    Two names that would read the same keep more of their end (where a sweep's seeds
    and rates differ), and at worst their whole name: every text is unique.
    """
    names = list(dict.fromkeys(names))
    marks = {n: TRAINING_MARK if n in training else "" for n in names}
    room = {n: limit - text_width(marks[n]) for n in names}
    texts, tails = {}, {}
    for n in names:
        text, tails[n] = _shorten(n, room[n], None)
        texts[n] = marks[n] + text
    for _ in range(max(len(n) for n in names) if names else 0):
        seen: dict[str, list[str]] = {}
        for name, text in texts.items():
            seen.setdefault(text, []).append(name)
        clashing = [n for group in seen.values() if len(group) > 1 for n in group]
        if not clashing:
            return texts
        for name in clashing:  # one more character of its end
            if texts[name] == marks[name] + name:
                continue
            text, tails[name] = _shorten(name, room[name], tails[name] + 1)
            if tails[name] >= len(name) - 1 or ELLIPSIS not in text:
                text = name
            texts[name] = marks[name] + text
    # Still clashing: whole names, which differ.
    counts: dict[str, int] = {}
    for text in texts.values():
        counts[text] = counts.get(text, 0) + 1
    return {n: marks[n] + n if counts[t] > 1 else t for n, t in texts.items()}
