"""Stylize a video clip frame by frame, steadily: the library side of `style-app stylize clip.mp4`,
`style-app evaluate --video` and the UI's Video tab.

Each frame is shrunk to `max_size`, cropped to even sides (H.264 needs them), stylized with the
norms' statistics smoothed over time (`smooth_stats`, style_app.temporal) and blended with the
previous result along the flow (`stabilize`). The flicker of the result is measured on the way
(style_app.flicker) from the same optical flow.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from style_app.errors import StyleAppError
from style_app.flicker import FlickerMeter, FlickerReport, motion
from style_app.images import fit_within
from style_app.stylizer import Stylizer
from style_app.temporal import Stabilizer, smoothed_statistics
from style_app.tiling import TILE_ABOVE_PIXELS
from style_app.video import MAX_SECONDS, Frame, VideoError, even_size, probe, read_frames, write_video

#: The defaults, chosen by the flicker table and by looking at the clips (docs/video.md): the flow
#: stabilization cut every norm's temporal error by 55-80 %; smoothed statistics did not lower it on
#: any clip (and doubled IN's on one), so they are off unless asked for, at SMOOTH_STATS when on.
DEFAULT_SMOOTH_STATS = 0.0
DEFAULT_STABILIZE = 0.8
SMOOTH_STATS = 0.9

Progress = Callable[[int, int], None]  # (frames done, frames expected; 0 if unknown)


@dataclass(frozen=True)
class Steadying:
    """How a clip is kept steady: the norms' statistics carried over (`smooth_stats`, 0 = off)
    and the output blended with the warped previous one (`stabilize`, 0 = off)."""

    smooth_stats: float = DEFAULT_SMOOTH_STATS
    stabilize: float = DEFAULT_STABILIZE

    def __post_init__(self) -> None:
        for name in ("smooth_stats", "stabilize"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value < 1.0):
                raise StyleAppError(f"{name} must be a number from 0 to below 1, got {value!r}")


OFF = Steadying(0.0, 0.0)


def prepare(rgb: np.ndarray, max_size: int | None) -> np.ndarray:
    """A frame shrunk so its longer side is at most `max_size`, cropped to even sides."""
    image = fit_within(Image.fromarray(rgb), max_size)
    width, height = even_size(*image.size)
    return np.asarray(image)[:height, :width]


def stylize_frames(stylizer: Stylizer, frames: Iterable[Frame], max_size: int | None = None,
                   steadying: Steadying = Steadying(), meter: FlickerMeter | None = None,
                   strength: float = 1.0, preserve_color: bool = False) -> Iterator[Frame]:
    """The stylized frames, one by one (timestamps kept); `meter` (if given) measures flicker;
    `strength` and `preserve_color` as for a photo (Stylizer.stylize)."""
    smoothing = smoothed_statistics(stylizer.model, steadying.smooth_stats) if steadying.smooth_stats \
        else contextlib.nullcontext()
    stabilizer = Stabilizer(steadying.stabilize)
    previous = None
    with smoothing:
        for frame in frames:
            source = prepare(frame.rgb, max_size)
            if steadying.smooth_stats and source.shape[0] * source.shape[1] > TILE_ABOVE_PIXELS:
                raise StyleAppError(f"{source.shape[1]}x{source.shape[0]} frames are too large to smooth "
                                    f"statistics over; give a max size of 2048 or less")
            needs_motion = previous is not None and (steadying.stabilize or meter is not None)
            move = motion(previous, source) if needs_motion else None
            stylized = stylizer.stylize(Image.fromarray(source), strength, preserve_color)
            output = stabilizer(np.asarray(stylized), move)
            if meter is not None:
                meter.add(source, output, move)
            previous = source
            yield Frame(output, frame.pts)


def _counted(frames: Iterable[Frame], total: int, progress: Progress | None) -> Iterator[Frame]:
    for done, frame in enumerate(frames, 1):
        yield frame
        if progress is not None:
            progress(done, total)


def stylize_clip(stylizer: Stylizer, source: str | os.PathLike, out: str | os.PathLike,
                 max_size: int | None = None, steadying: Steadying = Steadying(),
                 progress: Progress | None = None, max_seconds: float = MAX_SECONDS,
                 limit: int | None = None, strength: float = 1.0, preserve_color: bool = False) -> FlickerReport:
    """Stylize the clip `source` into the MP4 `out` (audio and timing kept, written whole or not
    at all) and return its flicker beside the input's. `limit`: only the first frames."""
    info = probe(source, max_seconds)
    if Path(out).suffix.lower() != ".mp4":
        raise StyleAppError(f"{out}: videos are written as .mp4; give an output name ending in .mp4")
    meter = FlickerMeter()
    total = min(info.frames, limit) if limit and info.frames else info.frames or (limit or 0)
    frames = stylize_frames(stylizer, read_frames(info, limit), max_size, steadying, meter, strength, preserve_color)
    write_video(_counted(frames, total, progress), info, out, trim_audio=limit is not None)
    return meter.report()


def measure_clip(stylizer: Stylizer, source: str | os.PathLike, max_size: int | None,
                 steadying: Steadying, limit: int | None = None) -> tuple[FlickerReport, float]:
    """The flicker of the stylized clip, without writing it, and the frames per second of
    stylizing (network and steadying, flow included)."""
    import time

    info = probe(source)
    meter = FlickerMeter()
    start = time.perf_counter()
    count = sum(1 for _ in stylize_frames(stylizer, read_frames(info, limit), max_size, steadying, meter))
    if count == 0:
        raise VideoError(f"{source}: no frames")
    return meter.report(), count / (time.perf_counter() - start)
