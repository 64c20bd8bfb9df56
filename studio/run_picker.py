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
# A selectbox value's room in the sidebar, in characters of the app's font: the sidebar's
# width less its padding and the picker's arrow, at ~7.5 px a character (the training
# mark is wider).
SIDEBAR_PAD_PX = 100
CHAR_PX = 7.5
MIN_CHARS = 12
DEFAULT_SIDEBAR_PX = 220  # before the browser reports its window: the narrow sidebar


def text_budget(sidebar_px: int | None) -> int:
    """How many characters a picker's value shows whole in a sidebar ``sidebar_px`` wide.

    Example
    -------
    >>> text_budget(220)
    16
    """
    px = DEFAULT_SIDEBAR_PX if not sidebar_px or sidebar_px <= 0 else int(sidebar_px)
    return max(MIN_CHARS, int((min(px, 2000) - SIDEBAR_PAD_PX) / CHAR_PX))


def middle_ellipsis(text: str, limit: int, tail: int | None = None) -> str:
    """``text`` at most ``limit`` characters: its start, "…" and its end (``tail``
    characters of it, about half the room by default).

    Example
    -------
    >>> middle_ellipsis("parabola 2 sigmoid, sgd lr 0.05", 16)
    'parabola…lr 0.05'
    """
    limit = max(int(limit), 3)
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    tail = room // 2 if tail is None else min(max(int(tail), 1), room - 1)
    return text[:room - tail].rstrip() + ELLIPSIS + text[len(text) - tail:].lstrip()


def picker_texts(names: Iterable[str], training: Collection[str],
                 limit: int) -> dict[str, str]:
    """Each run's text in the picker, by name: ``TRAINING_MARK`` before a run in
    ``training``, the name shortened in its middle to ``limit`` characters in all.

    Two names that would read the same keep more of their end (where a sweep's seeds
    and rates differ), and at worst their whole name: every text is unique.
    """
    names = list(dict.fromkeys(names))
    marks = {n: TRAINING_MARK if n in training else "" for n in names}
    tails: dict[str, int | None] = dict.fromkeys(names)
    texts = {n: marks[n] + middle_ellipsis(n, limit - len(marks[n])) for n in names}
    for _ in range(limit):  # each pass gives the clashing names one more character
        seen: dict[str, list[str]] = {}
        for name, text in texts.items():
            seen.setdefault(text, []).append(name)
        clashing = [n for group in seen.values() if len(group) > 1 for n in group]
        if not clashing:
            return texts
        for name in clashing:
            room = max(limit - len(marks[name]), 3) - len(ELLIPSIS)
            tail = (tails[name] or room // 2) + 1
            tails[name] = tail
            texts[name] = marks[name] + (middle_ellipsis(name, limit - len(marks[name]), tail)
                                         if tail < room else name)
    # Still clashing: whole names, which differ.
    counts: dict[str, int] = {}
    for text in texts.values():
        counts[text] = counts.get(text, 0) + 1
    return {n: marks[n] + n if counts[t] > 1 else t for n, t in texts.items()}
