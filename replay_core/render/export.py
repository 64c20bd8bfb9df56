"""Export a replay as an animation (MP4, GIF) or one frame (PNG).

Every frame comes from ONE renderer (a :class:`~replay_core.render.canvas.FrameCanvas`:
the run's frame, or the layer internals) built for the export and reused across frames
(it only updates artists and blits), so a frame costs a few tens of milliseconds whatever
the figure.

- ``.mp4``: H.264 (libx264, yuv420p, CRF 18, preset veryfast) through the ffmpeg binary
  shipped in the ``imageio-ffmpeg`` wheel; raw RGB frames are piped to it while the next
  frame renders, so rendering and encoding overlap. No system ffmpeg is needed.
- ``.gif``: Pillow, every frame mapped without dithering onto ONE 256-colour palette built
  from a few frames spread over the export (no palette flicker between frames).
- ``.png``: one frame, :func:`export_frame`.

Files are written to a hidden temporary file in the destination folder and renamed when
complete, so an interrupted export never leaves a half-written file under the final name.

Example
-------
>>> from replay_core.replay.replayer import Replay                                   # doctest: +SKIP
>>> views = Replay("runs.h5", "sigmoid").views()                            # doctest: +SKIP
>>> export_animation(views, "sigmoid.mp4", epochs=parse_epochs("0:150", views.n_epochs),
...                  fps=10, size=(1280, 720))                              # doctest: +SKIP
PosixPath('sigmoid.mp4')
>>> export_frame(views, "epoch80.png", epoch=80)                            # doctest: +SKIP
PosixPath('epoch80.png')
"""

from __future__ import annotations

import operator
import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from replay_core.errors import RenderError, ReplayError
from replay_core.render.canvas import FrameCanvas, frame_size
from replay_core.render.frame import FrameRenderer
from replay_core.render.frame import parse_panels as _parse_panels
from replay_core.replay.internals import InternalsViews
from replay_core.replay.views import ReplayViews

__all__ = [
    "ANIMATION_FORMATS",
    "FORMATS",
    "GIF_MAX_SIZE",
    "MAX_FPS",
    "MAX_SIZE",
    "MIN_SIZE",
    "ExportError",
    "check_size",
    "export_animation",
    "export_bytes",
    "export_frame",
    "parse_epochs",
    "parse_panels",
    "parse_size",
]

MIN_SIZE = (320, 180)
"""Smallest export frame (width, height) in pixels."""
MAX_SIZE = (3840, 2160)
"""Largest export frame (width, height) in pixels."""
GIF_MAX_SIZE = (1920, 1080)
"""Largest GIF frame: Pillow keeps every frame in memory (1 byte a pixel) until it writes."""
MAX_FPS = 60.0
"""Highest frame rate of an animation."""
GIF_MAX_FPS = 50.0
"""GIF delays are in 1/100 s and browsers slow delays under 0.02 s down to 0.1 s."""
ANIMATION_FORMATS = (".mp4", ".gif")
FORMATS = (".mp4", ".gif", ".png")

MP4_CRF = 18
"""x264 constant rate factor: 18 keeps thin lines and small text sharp (~1 MB / 151 frames)."""
MP4_PRESET = "veryfast"
"""x264 preset: 2x less CPU than 'medium' for the same size on these flat-colour frames."""
GIF_COLOURS = 256
_PALETTE_SAMPLES = 4

Progress = Callable[[int, int], object]


class ExportError(ReplayError, RuntimeError):
    """The encoder is missing or failed (bad input raises ``ValueError`` instead)."""


# --- parsing and checking -------------------------------------------------------------

_SIZE = re.compile(r"^\s*(\d+)\s*[x×X*]\s*(\d+)\s*$")


def parse_epochs(text: str, n_epochs: int) -> range:
    """The epochs an ``--epochs`` text names, END inclusive, within ``0..n_epochs``.

    ``"0:150"`` -> 0..150, ``"10:20"`` -> 10..20, ``":50"`` -> 0..50, ``"100:"`` ->
    100..n_epochs, ``"80"`` -> only 80, ``"0:150:5"`` -> every 5th epoch.

    Raises ``ValueError`` with a message naming ``--epochs``, e.g.
    ``--epochs 0:200 is outside 0..150`` or ``--epochs must look like START:END, got 'abc'``.

    Example
    -------
    >>> parse_epochs("10:20", 150)
    range(10, 21)
    >>> parse_epochs("80", 150)
    range(80, 81)
    """
    n = operator.index(n_epochs)
    raw = str(text)
    parts = [p.strip() for p in raw.strip().split(":")]
    message = f"--epochs must look like START:END, got {raw!r}"

    def number(part: str, default: int | None) -> int:
        if part == "" and default is not None:
            return default
        if re.fullmatch(r"[+-]?\d+", part) is None:
            raise RenderError(message)
        return int(part)

    if len(parts) > 3:
        raise RenderError(message)
    if len(parts) == 1:  # a single epoch
        start = end = number(parts[0], None)
    else:
        start, end = number(parts[0], 0), number(parts[1], n)
    step = number(parts[2], 1) if len(parts) == 3 else 1
    shown = raw.strip()
    if not (0 <= start <= n and 0 <= end <= n):
        raise RenderError(f"--epochs {shown} is outside 0..{n}")
    if start > end:
        raise RenderError(f"--epochs {shown} is empty: START {start} is after END {end}")
    if step < 1:
        raise RenderError(f"--epochs {shown}: the step must be at least 1, got {step}")
    return range(start, end + 1, step)


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> ``(1280, 720)``, within :data:`MIN_SIZE` .. :data:`MAX_SIZE`.

    Odd sizes are accepted here (GIF and PNG take them); :func:`export_animation`
    rejects them for MP4.

    Example
    -------
    >>> parse_size("1280x720")
    (1280, 720)
    """
    raw = str(text)
    match = _SIZE.match(raw)
    if match is None:
        raise RenderError(f"--size must look like WIDTHxHEIGHT, e.g. 1280x720, got {raw!r}")
    return frame_size((int(match.group(1)), int(match.group(2))), MIN_SIZE, MAX_SIZE,
                      what="--size")


def check_size(size: Sequence[int], fmt: str = ".png") -> tuple[int, int]:
    """``size`` as ``(width, height)`` ints, checked for the format ``fmt`` (".mp4"...).

    Every format: within :data:`MIN_SIZE` .. :data:`MAX_SIZE`. MP4: even width and
    height (H.264 in yuv420p halves the colour resolution). GIF: at most
    :data:`GIF_MAX_SIZE`.
    """
    w, h = frame_size(size, MIN_SIZE, MAX_SIZE)
    fmt = _suffix(fmt)
    if fmt == ".mp4" and (w % 2 or h % 2):
        raise RenderError(
            f"MP4 (H.264, yuv420p) needs an even width and height, got {w}x{h}; "
            f"try {w - w % 2}x{h - h % 2}")
    if fmt == ".gif" and (w > GIF_MAX_SIZE[0] or h > GIF_MAX_SIZE[1]):
        raise RenderError(
            f"GIF frames can be at most {GIF_MAX_SIZE[0]}x{GIF_MAX_SIZE[1]}, got {w}x{h}; "
            f"export an MP4 for larger frames")
    return w, h


def parse_panels(text: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``"feature_space,decision_boundary"`` -> a tuple of panel names (None = all);
    the messages name ``--views``."""
    return _parse_panels(text, flag="--views", noun="view")


def _suffix(fmt: str) -> str:
    fmt = str(fmt).lower()
    return fmt if fmt.startswith(".") else "." + fmt


def _check_epochs(epochs: Iterable[int] | None, n_epochs: int) -> list[int]:
    if epochs is None:
        return list(range(n_epochs + 1))
    try:
        out = [operator.index(e) for e in epochs]
    except TypeError:
        raise RenderError(f"epochs must be a range of integers, got {epochs!r}") from None
    if not out:
        raise RenderError(f"epochs {epochs!r} is empty")
    lo, hi = min(out), max(out)
    if lo < 0 or hi > n_epochs:
        what = f"{out[0]}:{out[-1]}" if isinstance(epochs, range) else f"{lo}..{hi}"
        raise RenderError(f"epochs {what} is outside 0..{n_epochs}")
    return out


def _check_fps(fps: float, fmt: str) -> float:
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise RenderError(f"fps must be a number, got {fps!r}") from None
    top = GIF_MAX_FPS if fmt == ".gif" else MAX_FPS
    if not 1.0 <= value <= top:
        why = " (GIF delays are in 1/100 s)" if fmt == ".gif" else ""
        raise RenderError(f"fps must be between 1 and {top:g} for {fmt[1:].upper()}{why}, "
                         f"got {value:g}")
    return value


def _out_path(out_path: str | os.PathLike[str], allowed: tuple[str, ...], hint: str) -> Path:
    out = Path(out_path)
    suffix = out.suffix.lower()
    if suffix == ".png" and ".png" not in allowed:
        raise RenderError(f"{out.name!r} is a PNG, which holds one frame: use "
                         f"export_frame(views, {out.name!r}, epoch=...) for a still "
                         f"(CLI: --out {out.name} --epoch N), or .mp4 / .gif for an animation")
    if suffix not in allowed:
        raise RenderError(f"cannot export {out.name!r}: the name must end in {hint}")
    if out.is_dir():
        raise IsADirectoryError(f"{out} is a folder; give a file name ending in {hint}")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"folder {str(out.parent)!r} does not exist")
    return out


@contextmanager
def _atomic(out: Path) -> Iterator[Path]:
    """A fresh hidden file next to ``out``; renamed to ``out`` only if the block succeeds."""
    while True:
        tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.part{out.suffix}")
        try:
            # 0o666 minus the umask, like any new file (mkstemp would make it 0o600).
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()


# --- writers ----------------------------------------------------------------------------

def _write_mp4(renderer: FrameCanvas, path: Path, epochs: list[int], fps: float,
               progress: Progress | None) -> None:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ExportError("MP4 export needs the imageio-ffmpeg package "
                          "(pip install 'imageio-ffmpeg>=0.5'), or export a .gif") from None
    try:
        imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise ExportError(f"MP4 export found no ffmpeg binary: {exc}") from None
    writer = imageio_ffmpeg.write_frames(
        str(path), renderer.size, pix_fmt_in="rgb24", pix_fmt_out="yuv420p", fps=fps,
        codec="libx264", quality=None, macro_block_size=1, ffmpeg_log_level="error",
        output_params=["-crf", str(MP4_CRF), "-preset", MP4_PRESET, "-tune", "animation",
                       "-movflags", "+faststart"])
    writer.send(None)  # start ffmpeg
    try:
        total = len(epochs)
        for done, epoch in enumerate(epochs, 1):
            writer.send(renderer.rgb(epoch))  # ffmpeg encodes it while the next renders
            if progress is not None:
                progress(done, total)
    finally:
        writer.close()  # waits for ffmpeg to finish the file


def _gif_palette(renderer: FrameCanvas, epochs: list[int]):
    from PIL import Image

    picks = sorted({epochs[round(i * (len(epochs) - 1) / max(_PALETTE_SAMPLES - 1, 1))]
                    for i in range(_PALETTE_SAMPLES)})
    sample = Image.fromarray(np.concatenate([renderer.rgb(e) for e in picks], axis=0))
    return sample.quantize(colors=GIF_COLOURS, method=Image.Quantize.FASTOCTREE,
                           dither=Image.Dither.NONE)


def _write_gif(renderer: FrameCanvas, path: Path, epochs: list[int], fps: float,
               progress: Progress | None) -> None:
    from PIL import Image

    palette = _gif_palette(renderer, epochs)
    total = len(epochs)

    def frame(epoch: int):
        return Image.fromarray(renderer.rgb(epoch)).quantize(palette=palette,
                                                             dither=Image.Dither.NONE)

    def rest() -> Iterator:
        # Rendered as Pillow asks for them; Pillow writes the file after the last one.
        for done, epoch in enumerate(epochs[1:], 2):
            yield frame(epoch)
            if progress is not None:
                progress(done, total)

    first = frame(epochs[0])
    if progress is not None:
        progress(1, total)
    # Each epoch's title differs, so Pillow never merges two frames into one.
    first.save(path, format="GIF", save_all=True, append_images=rest(),
               duration=round(1000.0 / fps), loop=0, optimize=False)


# --- public API -------------------------------------------------------------------------

def export_animation(views: ReplayViews, out_path: str | os.PathLike[str], *,
                     epochs: Iterable[int] | None = None, fps: float = 10,
                     size: Sequence[int] = (1280, 720), theme: str = "light",
                     panels: Sequence[str] | None = None, dpi: float = 100,
                     progress: Progress | None = None, narration: bool = False,
                     future_curves: str = "faint") -> Path:
    """Write an animation of ``epochs`` to ``out_path`` (.mp4 or .gif) and return its path.

    Parameters
    ----------
    views : the run's views (``Replay(file, run).views()``).
    out_path : destination; its suffix picks the format (``.mp4``, ``.gif``; ``.png`` is
        refused with a pointer to :func:`export_frame`). Overwritten if it exists, but
        only once the new file is complete.
    epochs : the epochs shown, one frame each, in order (e.g. ``range(0, 151)``,
        ``parse_epochs("0:150:5", n)``); None = every epoch 0..n_epochs.
    fps : frames per second, 1..60 (GIF: 1..50).
    size : (width, height) of the video in pixels, 320x180 .. 3840x2160; even for MP4;
        GIF at most 1920x1080.
    theme, panels, dpi, narration, future_curves : as
        :class:`~replay_core.render.frame.FrameRenderer` (``narration``: each epoch's
        plain-language sentence as a line under the panels; ``future_curves``: the loss
        panel's epochs after the one shown, "faint", "hidden" or "full").
    progress : called as ``progress(done, total)`` after each frame; an exception it
        raises stops the export (no file is left behind).

    Raises ``RenderError`` (a ``ValueError``) for a bad suffix, size, fps, epochs or
    panel, ``ExportError`` when the encoder is missing or fails, ``OSError`` when the
    folder is not writable.
    """
    out = _out_path(out_path, ANIMATION_FORMATS, ".mp4 or .gif (or .png for one frame "
                    "with export_frame)")
    fmt = out.suffix.lower()
    w, h = check_size(size, fmt)
    frames = _check_epochs(epochs, int(views.n_epochs))
    rate = _check_fps(fps, fmt)
    renderer = FrameRenderer(views, size=(w, h), dpi=dpi, theme=theme, panels=panels,
                             narration=narration, future_curves=future_curves)
    write = _write_mp4 if fmt == ".mp4" else _write_gif
    with _atomic(out) as tmp:
        write(renderer, tmp, frames, rate, progress)
    return out


def export_frame(views: ReplayViews, out_path: str | os.PathLike[str], *,
                 epoch: int | None = None, size: Sequence[int] = (1280, 720),
                 theme: str = "light", panels: Sequence[str] | None = None,
                 dpi: float = 100, narration: bool = False,
                 future_curves: str = "faint") -> Path:
    """Write the frame of ``epoch`` (None = the last) as a PNG of exactly ``size``
    (with the epoch's sentence under the panels when ``narration``; the loss panel's
    later epochs as ``future_curves`` says: "faint", "hidden" or "full")."""
    out = _out_path(out_path, (".png",), ".png")
    w, h = check_size(size, ".png")
    e = int(views.n_epochs) if epoch is None else epoch
    _check_epochs([e], int(views.n_epochs))
    renderer = FrameRenderer(views, size=(w, h), dpi=dpi, theme=theme, panels=panels,
                             narration=narration, future_curves=future_curves)
    data = renderer.png(e)
    with _atomic(out) as tmp:
        tmp.write_bytes(data)
    return out


def export_bytes(views: ReplayViews, fmt: str, **kw) -> bytes:
    """The bytes of an export in ``fmt`` ("mp4", "gif" or "png"), for a download button.

    Keyword arguments are those of :func:`export_animation` (mp4, gif) or
    :func:`export_frame` (png). The file is written in a temporary folder and removed.

    Example
    -------
    >>> st.download_button("MP4", export_bytes(views, "mp4", epochs=range(0, 151)),
    ...                    "replay.mp4", "video/mp4")                       # doctest: +SKIP
    """
    suffix = _suffix(fmt)
    if suffix not in FORMATS:
        raise RenderError(f"unknown export format {fmt!r}; choose from mp4, gif, png")
    with tempfile.TemporaryDirectory(prefix="replay-export-") as folder:
        path = Path(folder) / f"export{suffix}"
        if suffix == ".png":
            export_frame(views, path, **kw)
        else:
            export_animation(views, path, **kw)
        return path.read_bytes()


def export_internals(views_by_run: Mapping[str, InternalsViews],
                     out_path: str | os.PathLike[str], *, epochs: Iterable[int] | None = None,
                     epoch: int | None = None, fps: float = 10,
                     size: Sequence[int] = (1280, 720), theme: str = "light",
                     panels: Sequence[str] | None = None, dpi: float = 100,
                     explain_layer: str | None = None,
                     progress: Progress | None = None) -> Path:
    """Write the layer-internals panels (one run, or 2-4 runs in rows) as an animation of
    ``epochs`` (.mp4, .gif) or the frame of ``epoch`` (.png, None = the last).

    ``panels`` are names of :data:`~replay_core.render.internals.INTERNALS_PANELS` (or
    ``"layers"`` for the default set); the other arguments are those of
    :func:`export_animation` and :func:`export_frame`.
    """
    from replay_core.render.internals import InternalsRenderer, parse_internals_panels

    out = _out_path(out_path, FORMATS, ".mp4, .gif or .png")
    fmt = out.suffix.lower()
    w, h = check_size(size, fmt)
    renderer = InternalsRenderer(views_by_run, size=(w, h), dpi=dpi, theme=theme,
                                 panels=None if panels is None
                                 else parse_internals_panels(panels),
                                 explain_layer=explain_layer)
    n = renderer.n_epochs
    if fmt == ".png":
        e = n if epoch is None else epoch
        _check_epochs([e], n)
        data = renderer.png(e)
        with _atomic(out) as tmp:
            tmp.write_bytes(data)
        return out
    frames = _check_epochs(epochs, n)
    rate = _check_fps(fps, fmt)
    write = _write_mp4 if fmt == ".mp4" else _write_gif
    with _atomic(out) as tmp:
        write(renderer, tmp, frames, rate, progress)
    return out
