"""The Run picker's texts: whole names when they fit, else shortened in the middle; a mark
on runs a job trains; never two runs with the same text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from studio.run_picker import (
    ELLIPSIS,
    TRAINING_MARK,
    middle_ellipsis,
    picker_texts,
    text_budget,
    text_width,
)


def test_a_long_name_keeps_its_start_and_end():
    name = "parabola 2 sigmoid, sgd lr 0.05"
    short = middle_ellipsis(name, 108)
    assert short == "parabola…lr 0.05"
    assert text_width(short) <= 108
    assert middle_ellipsis("tanh", 108) == "tanh"


def test_wide_letters_take_more_room():
    assert len(middle_ellipsis("WWWWWWWWWWWWWWWWWWWW", 108)) < len(
        middle_ellipsis("iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii", 108))


def test_a_training_run_is_marked_within_the_budget():
    texts = picker_texts(["parabola 2 sigmoid, sgd lr 0.05", "tanh"],
                         {"parabola 2 sigmoid, sgd lr 0.05"}, 108)
    assert texts == {"parabola 2 sigmoid, sgd lr 0.05": "● parabol…lr 0.05", "tanh": "tanh"}


def test_sweep_names_that_differ_near_their_end_stay_apart():
    names = [f"parabola 2 sigmoid, seed {s} lr 0.05" for s in range(12)]
    texts = picker_texts(names, set(), 108)
    assert len(set(texts.values())) == len(names)
    assert texts[names[3]] == "parabol…3 lr 0.05"


def test_the_budget_grows_with_the_sidebar():
    assert text_budget(None) == text_budget(220) == 108
    assert text_budget(300) > text_budget(220)
    assert text_budget(10**9) == text_budget(2000)  # a hostile size is bounded


@settings(max_examples=150, deadline=None)
@given(names=st.lists(st.text(alphabet="ab .,-0123456789", min_size=1, max_size=60),
                      min_size=1, max_size=12, unique=True),
       limit=st.integers(min_value=80, max_value=300), data=st.data())
def test_texts_are_unique_short_and_made_of_the_name(names, limit, data):
    training = set(data.draw(st.lists(st.sampled_from(names), max_size=3)))
    texts = picker_texts(names, training, limit)
    assert set(texts) == set(names)
    assert len(set(texts.values())) == len(names)
    for name, text in texts.items():
        assert text.startswith(TRAINING_MARK) == (name in training)
        body = text.removeprefix(TRAINING_MARK) if name in training else text
        if body == name:
            continue
        assert text_width(text) <= limit
        start, _, end = body.partition(ELLIPSIS)
        assert name.startswith(start) and name.endswith(end)
