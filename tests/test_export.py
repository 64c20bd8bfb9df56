"""Export: MP4 / GIF / PNG files of the right size, frame count and order; precise errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from replay_core.cli import main
from replay_core.data import presets
from replay_core.render.export import (
    check_size,
    export_animation,
    export_bytes,
    export_frame,
    parse_epochs,
    parse_panels,
    parse_size,
)
from replay_core.render.frame import FrameRenderer
from replay_core.replay.replayer import Replay

EPOCHS = 12
SIZE = (640, 360)


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    """A real, small run: the reference network trained 12 epochs on 200 samples."""
    from replay_core.train.trainer import train

    path = tmp_path_factory.mktemp("export-run") / "run.h5"
    spec = presets.get("reference").replace(
        **{"training.epochs": EPOCHS, "dataset.params.n_samples": 200})
    result = train(spec, path, "r")
    assert result.status == "complete"
    return path


@pytest.fixture(scope="module")
def views(run_file):
    return Replay(run_file, "r").views()


def _mp4_frames(path) -> tuple[tuple[int, int], list[np.ndarray]]:
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    frames = [np.frombuffer(data, np.uint8).reshape(h, w, 3) for data in reader]
    return (w, h), frames


def _only(folder, name):
    """The folder holds exactly ``name``: no temporary file was left behind."""
    assert sorted(p.name for p in folder.iterdir()) == [name]


# --- parsing ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("0:150", range(0, 151)),
    ("10:20", range(10, 21)),
    (":50", range(0, 51)),
    ("100:", range(100, 151)),
    (":", range(0, 151)),
    ("80", range(80, 81)),
    (" 5 : 7 ", range(5, 8)),
    ("0:150:5", range(0, 151, 5)),
    ("150", range(150, 151)),
])
def test_parse_epochs(text, expected):
    assert parse_epochs(text, 150) == expected


@pytest.mark.parametrize("text, message", [
    ("0:200", "--epochs 0:200 is outside 0..150"),
    ("-1:10", "--epochs -1:10 is outside 0..150"),
    ("151", "--epochs 151 is outside 0..150"),
    ("abc", "--epochs must look like START:END, got 'abc'"),
    ("", "--epochs must look like START:END, got ''"),
    ("1:2:3:4", "--epochs must look like START:END, got '1:2:3:4'"),
    ("1.5:3", "--epochs must look like START:END, got '1.5:3'"),
    ("20:10", "--epochs 20:10 is empty: START 20 is after END 10"),
    ("0:10:0", "--epochs 0:10:0: the step must be at least 1, got 0"),
])
def test_parse_epochs_errors(text, message):
    with pytest.raises(ValueError) as info:
        parse_epochs(text, 150)
    assert str(info.value) == message


def test_parse_size():
    assert parse_size("1280x720") == (1280, 720)
    assert parse_size(" 320X180 ") == (320, 180)
    assert parse_size("3840x2160") == (3840, 2160)
    assert parse_size("1281x721") == (1281, 721)  # odd is fine until the format is known


@pytest.mark.parametrize("text, message", [
    ("big", "--size must look like WIDTHxHEIGHT, e.g. 1280x720, got 'big'"),
    ("1280", "--size must look like WIDTHxHEIGHT, e.g. 1280x720, got '1280'"),
    ("-5x10", "--size must look like WIDTHxHEIGHT, e.g. 1280x720, got '-5x10'"),
    ("319x180", "--size 319x180 is outside 320x180 .. 3840x2160"),
    ("3842x2160", "--size 3842x2160 is outside 320x180 .. 3840x2160"),
])
def test_parse_size_errors(text, message):
    with pytest.raises(ValueError) as info:
        parse_size(text)
    assert str(info.value) == message


def test_check_size_per_format():
    assert check_size((1281, 721), ".gif") == (1281, 721)
    assert check_size((1281, 721), "png") == (1281, 721)
    with pytest.raises(ValueError) as info:
        check_size((1281, 720), ".mp4")
    assert str(info.value) == ("MP4 (H.264, yuv420p) needs an even width and height, "
                               "got 1281x720; try 1280x720")
    with pytest.raises(ValueError, match=r"^GIF frames can be at most 1920x1080, got 2560x1440"):
        check_size((2560, 1440), ".gif")
    with pytest.raises(ValueError, match=r"^size 100x100 is outside 320x180 \.\. 3840x2160$"):
        check_size((100, 100), ".mp4")


def test_parse_panels():
    assert parse_panels(None) is None
    assert parse_panels("loss_and_metric, feature_space") == ("loss_and_metric",
                                                              "feature_space")
    with pytest.raises(ValueError, match=r"^unknown view 'foo' in --views; choose from "
                                         r"feature_space, decision_boundary"):
        parse_panels("feature_space,foo")


# --- files ------------------------------------------------------------------------------

def test_mp4_has_every_frame_in_order_at_the_requested_size(views, tmp_path):
    epochs = range(0, EPOCHS + 1)
    calls = []
    out = export_animation(views, tmp_path / "anim.mp4", epochs=epochs, fps=10, size=SIZE,
                           progress=lambda done, total: calls.append((done, total)))
    assert out == tmp_path / "anim.mp4"
    _only(tmp_path, "anim.mp4")
    size, frames = _mp4_frames(out)
    assert size == SIZE
    assert len(frames) == len(epochs)
    assert calls == [(k, len(epochs)) for k in range(1, len(epochs) + 1)]
    renderer = FrameRenderer(views, size=SIZE)
    expected = [renderer.rgb(e).astype(np.int16) for e in epochs]
    for k, frame in enumerate(frames):
        diffs = [float(np.abs(frame.astype(np.int16) - ref).mean()) for ref in expected]
        assert diffs[k] < 1.5, f"frame {k} differs from epoch {epochs[k]} by {diffs[k]:.2f}"
        assert int(np.argmin(diffs)) == k, f"frame {k} looks most like epoch {np.argmin(diffs)}"


def test_mp4_of_a_stepped_range_and_a_single_epoch(views, tmp_path):
    out = export_animation(views, tmp_path / "step.mp4", epochs=range(0, EPOCHS + 1, 4),
                           size=(320, 180))
    size, frames = _mp4_frames(out)
    assert (size, len(frames)) == ((320, 180), 4)
    out = export_animation(views, tmp_path / "one.mp4", epochs=range(5, 6), size=(320, 180))
    assert len(_mp4_frames(out)[1]) == 1


def test_gif_has_every_frame_at_the_requested_size(views, tmp_path):
    epochs = range(2, EPOCHS + 1)
    out = export_animation(views, tmp_path / "anim.gif", epochs=epochs, fps=20, size=(481, 271),
                           theme="dark")
    _only(tmp_path, "anim.gif")
    with Image.open(out) as gif:
        assert gif.format == "GIF"
        assert gif.size == (481, 271)
        assert gif.n_frames == len(epochs)
        assert gif.info["loop"] == 0
        assert gif.info["duration"] == 50
        frames = []
        for k in range(len(epochs)):
            gif.seek(k)
            frames.append(np.asarray(gif.convert("RGB"), np.int16))
    renderer = FrameRenderer(views, size=(481, 271), theme="dark")
    expected = [renderer.rgb(e).astype(np.int16) for e in epochs]
    for k, frame in enumerate(frames):  # one shared palette: close to the true colours
        diffs = [float(np.abs(frame - ref).mean()) for ref in expected]
        assert diffs[k] < 1.0, f"frame {k} differs from epoch {epochs[k]} by {diffs[k]:.2f}"
        assert int(np.argmin(diffs)) == k, f"frame {k} looks most like epoch {np.argmin(diffs)}"


def test_png_frame_has_exactly_the_requested_size(views, tmp_path):
    out = export_frame(views, tmp_path / "frame.png", epoch=7, size=(801, 451))
    with Image.open(out) as img:
        assert img.format == "PNG"
        assert img.size == (801, 451)
        frame = np.asarray(img.convert("RGB"))
    assert np.array_equal(frame, FrameRenderer(views, size=(801, 451)).rgb(7))


def test_panel_subset(views, tmp_path):
    out = export_animation(views, tmp_path / "curves.mp4", epochs=range(0, 3), size=SIZE,
                           panels=("loss_and_metric",))
    size, frames = _mp4_frames(out)
    assert (size, len(frames)) == (SIZE, 3)
    only_curves = FrameRenderer(views, size=SIZE, panels=("loss_and_metric",)).rgb(2)
    every_panel = FrameRenderer(views, size=SIZE).rgb(2)
    last = frames[-1].astype(np.int16)
    assert np.abs(last - only_curves).mean() < np.abs(last - every_panel).mean() / 3


def test_export_bytes(views):
    assert export_bytes(views, "mp4", epochs=range(0, 3), size=(320, 180))[4:8] == b"ftyp"
    assert export_bytes(views, ".gif", epochs=range(0, 3), size=(320, 180))[:6] == b"GIF89a"
    assert export_bytes(views, "png", epoch=1, size=(320, 180))[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match=r"^unknown export format 'webm'; choose from mp4, "
                                         r"gif, png$"):
        export_bytes(views, "webm")


def test_an_interrupted_export_leaves_the_old_file_and_no_temporary(views, tmp_path):
    out = tmp_path / "anim.mp4"
    out.write_bytes(b"previous")

    def stop(done, total):
        if done == 3:
            raise KeyboardInterrupt

    for name in ("anim.mp4", "anim.gif"):
        with pytest.raises(KeyboardInterrupt):
            export_animation(views, tmp_path / name, size=(320, 180), progress=stop)
    assert out.read_bytes() == b"previous"
    _only(tmp_path, "anim.mp4")


# --- errors -----------------------------------------------------------------------------

def test_unknown_suffix_and_png_animation(views, tmp_path):
    with pytest.raises(ValueError) as info:
        export_animation(views, tmp_path / "anim.avi")
    assert str(info.value) == ("cannot export 'anim.avi': the name must end in .mp4 or .gif "
                               "(or .png for one frame with export_frame)")
    with pytest.raises(ValueError, match=r"^'frame\.png' is a PNG, which holds one frame: use "
                                         r"export_frame\(views, 'frame\.png', epoch=\.\.\.\)"):
        export_animation(views, tmp_path / "frame.png")
    with pytest.raises(ValueError, match=r"^cannot export 'frame\.jpg': the name must end in "
                                         r"\.png$"):
        export_frame(views, tmp_path / "frame.jpg")
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(views, tmp_path):
    with pytest.raises(ValueError, match=r"^MP4 \(H\.264, yuv420p\) needs an even width"):
        export_animation(views, tmp_path / "a.mp4", size=(641, 360))
    with pytest.raises(ValueError, match=rf"^epochs 0:20 is outside 0\.\.{EPOCHS}$"):
        export_animation(views, tmp_path / "a.mp4", epochs=range(0, 21), size=SIZE)
    with pytest.raises(ValueError, match=r"^epochs range\(3, 3\) is empty$"):
        export_animation(views, tmp_path / "a.gif", epochs=range(3, 3), size=SIZE)
    with pytest.raises(ValueError, match=r"^fps must be between 1 and 50 for GIF"):
        export_animation(views, tmp_path / "a.gif", fps=60, size=SIZE)
    with pytest.raises(ValueError, match=r"^fps must be between 1 and 60 for MP4, got 0$"):
        export_animation(views, tmp_path / "a.mp4", fps=0, size=SIZE)
    with pytest.raises(ValueError, match=rf"^epochs 99\.\.99 is outside 0\.\.{EPOCHS}$"):
        export_frame(views, tmp_path / "a.png", epoch=99)
    with pytest.raises(FileNotFoundError, match=r"^folder '.*missing' does not exist$"):
        export_animation(views, tmp_path / "missing" / "a.mp4", size=SIZE)
    assert list(tmp_path.iterdir()) == []


# --- command line -----------------------------------------------------------------------

def test_cli_exports_mp4_gif_and_png(run_file, tmp_path, capsys):
    mp4, gif, png = tmp_path / "a.mp4", tmp_path / "a.gif", tmp_path / "a.png"
    assert main(["export", str(run_file), "--run", "r", "--out", str(mp4), "--epochs", "0:6",
                 "--fps", "5", "--size", "480x270", "--theme", "dark"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"wrote {mp4} (7 frames, epochs 0..6, 480x270, 5 fps")
    assert "frame 7/7" in err
    size, frames = _mp4_frames(mp4)
    assert (size, len(frames)) == ((480, 270), 7)

    assert main(["export", str(run_file), "--run", "r", "--out", str(gif), "--epochs", ":",
                 "--size", "320x180", "--views", "loss_and_metric", "--layer", "hidden",
                 "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    with Image.open(gif) as img:
        assert (img.size, img.n_frames) == ((320, 180), EPOCHS + 1)

    assert main(["export", str(run_file), "--run", "r", "--out", str(png), "--epoch", "8",
                 "--size", "333x222"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {png} (epoch 8 of {EPOCHS}, 333x222)"
    with Image.open(png) as img:
        assert img.size == (333, 222)


@pytest.mark.parametrize("extra, message", [
    (["--out", "a.mp4", "--epochs", "0:200"], f"--epochs 0:200 is outside 0..{EPOCHS}"),
    (["--out", "a.mp4", "--epochs", "abc"], "--epochs must look like START:END, got 'abc'"),
    (["--out", "a.mp4", "--size", "1281x720"],
     "MP4 (H.264, yuv420p) needs an even width and height, got 1281x720; try 1280x720"),
    (["--out", "a.mp4", "--size", "10x10"], "--size 10x10 is outside 320x180 .. 3840x2160"),
    (["--out", "a.avi"], "--out must end in .mp4, .gif or .png, got 'a.avi'"),
    (["--out", "a.mp4", "--fps", "fast"], "--fps must be a number, got 'fast'"),
    (["--out", "a.mp4", "--views", "curves"],
     "unknown view 'curves' in --views; choose from feature_space, decision_boundary, "
     "probability_histogram, loss_and_metric, loss_histogram, landscape"),
    (["--out", "a.mp4", "--epoch", "3"],
     "--epoch picks the frame of a .png; an animation takes --epochs START:END"),
    (["--out", "a.png", "--epoch", "99"], f"--epoch 99 is outside 0..{EPOCHS}"),
    (["--out", "a.png", "--epochs", "0:5"],
     "a .png holds one frame: use --epoch N, not --epochs 0:5"),
])
def test_cli_bad_input_is_one_error_line(run_file, tmp_path, capsys, monkeypatch, extra,
                                         message):
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(run_file), "--run", "r", *extra]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_cli_unknown_run(run_file, tmp_path, capsys):
    assert main(["export", str(run_file), "--run", "nope", "--out",
                 str(tmp_path / "a.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nope" in err and err.count("\n") == 1
