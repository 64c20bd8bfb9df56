"""Events of a run and their narration: constructed logs with known answers, the reference
run (trained here by the fast trainer, replayed in numpy), and the numbers the sentences say.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay_core import cli
from replay_core.data import presets
from replay_core.render.frame import FrameRenderer
from replay_core.render.guide import GUIDES, guide_markdown
from replay_core.replay.compare import key_figures
from replay_core.replay.events import KINDS, EventSettings, find_events
from replay_core.replay.narration import narrate, narration
from replay_core.replay.replayer import Replay
from tests.prebuilt_runs import small_spec


def _epochs(story, kind):
    return [e.epoch for e in story.of_kind(kind)]


def _wrong(counts, n=10):
    """(E+1, n) bool: the first ``counts[e]`` samples wrong at epoch ``e``."""
    return np.arange(n)[None, :] < np.asarray(counts)[:, None]


def _falling(n, start=1.0, rate=0.05):
    return start * (1 - rate) ** np.arange(n)


# -- constructed logs ----------------------------------------------------------------------

def test_accuracy_events_on_known_counts():
    #              epoch: 0  1  2  3  4  5  6  7
    story = find_events(loss=_falling(8), wrong=_wrong([6, 4, 5, 2, 0, 1, 0, 0]))
    assert _epochs(story, "fewer_wrong") == [1, 3]     # 5 at epoch 2 is no new low
    assert _epochs(story, "perfect") == [4]
    # Sample 0 went wrong again at 5 and crossed back at 6, the run's last crossing.
    assert _epochs(story, "last_crossing") == [6]
    assert "from here on every sample is on its correct side" in story.of_kind(
        "last_crossing")[0].text
    assert story.wrong.tolist() == [6, 4, 5, 2, 0, 1, 0, 0]
    np.testing.assert_allclose(story.accuracy, 1 - story.wrong / 10)
    assert [e.epoch for e in story.events] == sorted(e.epoch for e in story.events)


def test_last_crossing_of_a_run_that_never_gets_every_sample_right():
    wrong = _wrong([5, 3, 3, 2, 2])
    wrong[4, 0], wrong[4, 3] = False, True   # one crosses to right, another to wrong
    story = find_events(loss=_falling(5), wrong=wrong,
                        inputs=np.c_[np.arange(10.0), -np.arange(10.0)])
    (last,) = story.of_kind("last_crossing")
    assert last.epoch == 4
    assert "at (0.00, -0.00)" in last.text or "at (0.00, 0.00)" in last.text
    assert "2 samples stay on the wrong side to the end" in last.text
    assert story.of_kind("perfect") == ()


def test_best_validation_loss_skips_the_initial_weights():
    val = np.array([0.1, 0.8, 0.5, 0.3, 0.4, 0.6])
    story = find_events(loss=_falling(6), wrong=_wrong([1] * 6), val_loss=val)
    (best,) = story.of_kind("best_val_loss")
    assert best.epoch == 3 and "0.3" in best.text


@pytest.mark.parametrize("k, onset", [(3, 4), (4, 4), (5, None)])
def test_overfitting_begins_where_validation_rises_k_epochs_while_training_falls(k, onset):
    #            epoch: 0    1    2    3    4    5    6    7    8
    val = np.array([0.9, 0.7, 0.6, 0.5, 0.4, 0.45, 0.5, 0.55, 0.6])
    story = find_events(loss=_falling(9), wrong=_wrong([1] * 9), val_loss=val,
                        settings=EventSettings(overfit_epochs=k))
    assert _epochs(story, "overfitting") == ([] if onset is None else [onset])


def test_no_overfitting_when_training_loss_rises_too():
    val = np.array([0.9, 0.7, 0.6, 0.5, 0.4, 0.45, 0.5, 0.55, 0.6])
    loss = np.array([0.9, 0.7, 0.6, 0.5, 0.4, 0.42, 0.44, 0.46, 0.48])
    story = find_events(loss=loss, wrong=_wrong([1] * 9), val_loss=val,
                        settings=EventSettings(overfit_epochs=3))
    assert story.of_kind("overfitting") == ()


def test_learning_rate_reductions_at_the_epoch_that_ends_on_the_old_rate():
    # lr[i] is the rate during epoch i + 1: halved after epoch 2, cut to a tenth after 4.
    lr = np.array([0.1, 0.1, 0.05, 0.05, 0.005, 0.005], dtype=np.float32)
    story = find_events(loss=_falling(7), wrong=_wrong([1] * 7), lr=lr)
    first, second = story.of_kind("lr_reduced")
    assert (first.epoch, second.epoch) == (2, 4)
    assert "halved, from 0.1 to 0.05" in first.text
    assert "cut to a tenth, from 0.05 to 0.005" in second.text
    assert first.phrase == "the learning rate was halved"


def test_early_stop_and_divergence():
    early = find_events(loss=_falling(8), wrong=_wrong([1] * 8), status="complete",
                        message="early stopping at epoch 7", planned_epochs=20,
                        early_stopping={"monitor": "val_loss", "patience": 3})
    (stop,) = early.of_kind("early_stop")
    assert stop.epoch == 7
    assert "13 epochs before the planned 20" in stop.text and "3 epochs" in stop.text
    full = find_events(loss=_falling(8), wrong=_wrong([1] * 8), planned_epochs=7)
    assert full.of_kind("early_stop") == ()

    diverged = find_events(loss=_falling(6), wrong=_wrong([1] * 6), status="diverged",
                           message="loss became NaN at epoch 6", diverged_epoch=6)
    assert _epochs(diverged, "divergence") == [5]
    assert "loss became NaN at epoch 6" in diverged.of_kind("divergence")[0].text
    loss = _falling(6)
    loss[3:] = np.nan
    assert _epochs(find_events(loss=loss, wrong=_wrong([1] * 6)), "divergence") == [3]


def test_plateau_and_its_end():
    loss = np.concatenate([_falling(5), np.full(12, 0.8), _falling(4, 0.7)])
    loss[5:17] = 0.8 * (1 - 1e-4) ** np.arange(12)   # epochs 4..16 barely move
    story = find_events(loss=loss, wrong=_wrong([1] * len(loss)))
    (plateau,) = story.of_kind("plateau")
    (end,) = story.of_kind("plateau_end")
    changes = np.abs(np.diff(loss)) / loss[:-1]
    flat = np.flatnonzero(changes < 1e-3)
    assert plateau.epoch == flat[0] and end.epoch == flat[-1] + 2
    assert "less than 0.1 %" in plateau.text and "falls" in end.text
    longer = find_events(loss=loss, wrong=_wrong([1] * len(loss)),
                         settings=EventSettings(plateau_epochs=len(flat) + 1))
    assert longer.of_kind("plateau") == ()
    to_the_end = find_events(loss=loss[:17], wrong=_wrong([1] * 17))
    assert "to the end of the run" in to_the_end.of_kind("plateau")[0].text
    assert to_the_end.of_kind("plateau_end") == ()


@pytest.mark.parametrize("bad", [{"overfit_epochs": 0}, {"plateau_epochs": 2.5},
                                 {"plateau_change": 0.0}, {"plateau_change": 1.5}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        EventSettings(**bad)


def test_curves_of_the_wrong_length_are_refused():
    with pytest.raises(ValueError, match="loss"):
        find_events(loss=np.ones(3), wrong=_wrong([1, 1]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.booleans(), min_size=6, max_size=6), min_size=1, max_size=12))
def test_wrong_side_events_match_a_direct_count(rows):
    wrong = np.array(rows, bool)
    story = find_events(loss=_falling(len(rows)), wrong=wrong)
    counts = wrong.sum(axis=1)
    zero = [e for e in range(1, len(rows)) if counts[e] == 0]
    assert _epochs(story, "perfect") == zero[:1]
    lows = [e for e in range(1, len(rows)) if 0 < counts[e] < counts[:e].min()]
    assert _epochs(story, "fewer_wrong") == lows
    crossings = [e for e in range(1, len(rows)) if (wrong[e - 1] & ~wrong[e]).any()]
    assert _epochs(story, "last_crossing") == crossings[-1:]
    # Narration numbers: the count and its change from the epoch before.
    for e in range(1, len(rows)):
        sentence = narrate(story, e)
        assert sentence.startswith(f"Epoch {e}:")
        if counts[e]:
            assert f" {counts[e]} sample" in sentence
            d = int(counts[e] - counts[e - 1])
            assert (f"{abs(d)} fewer" in sentence if d < 0 else
                    f"{d} more" in sentence if d > 0 else "as many as" in sentence)


# -- narration -----------------------------------------------------------------------------

def test_narration_sentences_on_known_counts():
    lr = np.array([0.1, 0.1, 0.05, 0.05, 0.05, 0.05])
    story = find_events(loss=np.array([0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]),
                        wrong=_wrong([17, 12, 12, 14, 3, 0, 0], n=20), lr=lr)
    said = narration(story)
    assert len(said) == 7
    assert said[0] == ("Epoch 0, the initial weights before any training: 17 of 20 samples "
                       "on the wrong side (loss 0.7).")
    assert said[1] == ("Epoch 1: 12 samples still on the wrong side, 5 fewer than at epoch 0, "
                       "the fewest so far (loss 0.6).")
    assert said[2] == ("Epoch 2: 12 samples still on the wrong side, as many as at epoch 1 "
                       "(loss 0.5); the learning rate was halved at this epoch.")
    assert said[3] == ("Epoch 3: 14 samples still on the wrong side, 2 more than at epoch 2 "
                       "(loss 0.4); the learning rate was halved at epoch 2.")
    assert said[5] == ("Epoch 5: every sample on its correct side for the first time, the "
                       "last 3 samples crossed in this epoch (loss 0.2); the learning rate was "
                       "halved at epoch 2.")
    assert said[6].startswith("Epoch 6: every sample on its correct side since epoch 5")
    with pytest.raises(ValueError):
        narrate(story, 7)


def test_narration_says_the_loss_is_on_a_plateau():
    loss = np.concatenate([_falling(3), 0.9 * (1 - 1e-5) ** np.arange(12), [0.5]])
    story = find_events(loss=loss, wrong=_wrong([3] * len(loss)))
    start = story.of_kind("plateau")[0].epoch
    assert f"the loss has been on a plateau since epoch {start}" in narrate(story, start + 3)
    assert "a plateau of the loss ended at this epoch" in narrate(story, len(loss) - 1)


def test_every_panel_has_a_guide():
    for name in ("feature_space", "decision_boundary", "probability_histogram",
                 "loss_and_metric", "loss_histogram", "landscape"):
        guide = GUIDES[name]
        assert guide.axes and guide.good and guide.bad
    text = guide_markdown(["loss_and_metric", "nonsense"])
    assert text.startswith("**Loss & accuracy**") and "*Bad:*" in text


# -- the reference run -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    pytest.importorskip("keras")
    from replay_core.train.trainer import train

    path = tmp_path_factory.mktemp("events") / "runs.h5"
    train(presets.get("reference"), path, "reference")
    return path


def test_reference_run_events(reference):
    replay = Replay(reference, "reference")
    views = replay.views()
    story = views.events
    assert story is not None and story.n_epochs == 150
    # Misclassified counts: the off-diagonal of the confusion matrix, counted separately.
    counts = views.confusion.counts
    off_diagonal = counts.sum(axis=(1, 2)) - np.trace(counts, axis1=1, axis2=2)
    np.testing.assert_array_equal(story.wrong, off_diagonal)
    perfect = key_figures(replay)["first_perfect_epoch"]
    assert _epochs(story, "perfect") == [perfect]
    # The recorded sweep's figure for this seed (trained elsewhere, same settings).
    recorded = dict(zip(presets.REFERENCE_ACTIVATIONS,
                        presets.REFERENCE_SWEEP[presets.REFERENCE_SEED]))
    assert abs(perfect - recorded["sigmoid"]) <= 3
    # It stays perfect, so the last crossing is that epoch too.
    assert off_diagonal[perfect:].max() == 0
    assert _epochs(story, "last_crossing") == [perfect]
    lows = [e for e in range(1, 151) if 0 < off_diagonal[e] < off_diagonal[:e].min()]
    assert _epochs(story, "fewer_wrong") == lows and len(lows) > 20
    # Constant SGD rate, no validation data, no early stop, no divergence.
    kinds = {e.kind for e in story.events}
    assert kinds <= {"perfect", "last_crossing", "fewer_wrong", "plateau", "plateau_end"}
    assert set(KINDS) >= kinds


def test_reference_run_narration_numbers(reference):
    story = Replay(reference, "reference").events()
    for e in (1, 37, 60):
        sentence = narrate(story, e)
        now, before = int(story.wrong[e]), int(story.wrong[e - 1])
        numbers = [int(n) for n in re.findall(r"\b\d+\b", sentence.split("(loss")[0])]
        assert numbers[:3] == [e, now, abs(now - before)] or now == before, sentence
        assert f"loss {story.loss[e]:.3g}" in sentence
    perfect = story.of_kind("perfect")[0].epoch
    assert narrate(story, perfect + 5).startswith(
        f"Epoch {perfect + 5}: every sample on its correct side since epoch {perfect}")


def test_reference_run_markers_and_narration_line(reference):
    views = Replay(reference, "reference").views()
    renderer = FrameRenderer(views, size=(960, 540), panels=["loss_and_metric"],
                             narration=True)
    ax = renderer.axes["loss_and_metric"]
    triangles = [line for line in ax.get_lines() if line.get_marker() == "v"]
    assert [list(line.get_xdata()) for line in triangles] == [
        sorted({e.epoch for e in views.events.major})]
    renderer.png(37)
    assert renderer._narration.get_text().replace("\n", " ") == narrate(views.events, 37)
    plain = FrameRenderer(views, size=(960, 540), panels=["loss_and_metric"])
    assert not np.array_equal(plain.rgb(37)[-30:], renderer.rgb(37)[-30:])


def test_cli_info_events(reference, capsys):
    assert cli.main(["info", str(reference), "--events"]) == 0
    out = capsys.readouterr().out
    perfect = Replay(reference, "reference").events().of_kind("perfect")[0].epoch
    assert re.search(rf"^\s*{perfect}\s+100 % accuracy\s+Every training sample", out, re.M)
    assert "new lows of misclassified samples (--minor lists them)" in out
    assert cli.main(["info", str(reference), "--events", "--minor", "--run", "reference"]) == 0
    assert "fewest misclassified" in capsys.readouterr().out
    assert cli.main(["info", str(reference), "--events", "--run", "nope"]) == 2
    assert "holds no run 'nope'" in capsys.readouterr().err


def test_early_stopped_run_has_its_event(tmp_path):
    pytest.importorskip("keras")
    from replay_core.train.trainer import train

    spec = small_spec(30, **{"training.early_stopping": {"monitor": "loss", "patience": 2,
                                                         "min_delta": 5.0}})
    train(spec, tmp_path / "runs.h5", "early")
    replay = Replay(tmp_path / "runs.h5", "early")
    assert 0 < replay.n_epochs < 30
    (stop,) = replay.events().of_kind("early_stop")
    assert stop.epoch == replay.n_epochs
    assert f"{30 - replay.n_epochs} epochs before the planned 30" in stop.text
    assert "loss had not improved for 2 epochs" in stop.text


def test_exported_frame_and_cli_carry_the_narration_line(reference, tmp_path):
    from replay_core.render.export import export_frame

    views = Replay(reference, "reference").views()
    told = export_frame(views, tmp_path / "told.png", epoch=37, size=(640, 360),
                        narration=True)
    plain = export_frame(views, tmp_path / "plain.png", epoch=37, size=(640, 360))
    expected = FrameRenderer(views, size=(640, 360), narration=True).png(37)
    assert told.read_bytes() == expected != plain.read_bytes()
    out = tmp_path / "cli.png"
    assert cli.main(["export", str(reference), "--run", "reference", "--out", str(out),
                     "--epoch", "37", "--size", "640x360", "--narration"]) == 0
    assert out.read_bytes() == expected


def test_k_class_run_counts_the_samples_whose_true_class_is_not_the_most_probable():
    rng = np.random.default_rng(0)
    weights = [[rng.normal(size=(7, 2, 4)), np.zeros((7, 4))],
               [rng.normal(size=(7, 4, 3)), np.zeros((7, 3))]]
    X, y = rng.normal(size=(40, 2)), rng.integers(0, 3, 40)
    replay = Replay.from_arrays(weights, ["tanh", "softmax"], X, y)
    story = replay.views().events
    direct = (np.argmax(replay.predict_proba(), axis=-1) != y).sum(axis=1)
    np.testing.assert_array_equal(story.wrong, direct)
