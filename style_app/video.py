"""Read and write video clips with PyAV (FFmpeg's libraries in a wheel, no ffmpeg binary needed).

`probe` checks a clip from its header before any frame is decoded (not a video, 0 fps, too
long, too large); `read_frames` decodes it as RGB arrays with each frame's timestamp and fails
with a VideoError on a truncated or corrupt stream; `write_video` encodes H.264 (which browsers
play) with the input's timestamps, so the frame rate (constant or variable) is kept, and copies
the audio track. Output goes through the atomic writer: a failure leaves no partial file.
"""
from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from style_app.errors import ImageError, first_line
from style_app.files import atomic_output

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")
#: Longest clip the CLI stylizes (the UI sets its own, shorter limit).
MAX_SECONDS = 3600.0
#: Largest frame decoded (pixels): 4K UHD.
MAX_FRAME_PIXELS = 3840 * 2160
#: Smallest side the network can stylize and H.264 encode.
MIN_SIDE = 16
MAX_FPS = 240.0


_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


class VideoError(ImageError):
    """A video input is not a video, is empty, corrupt, truncated, too long or too large."""


@dataclass(frozen=True)
class VideoInfo:
    """What a clip's header says: size, frame rate, duration, frame count (0 if unknown), audio."""

    path: Path
    width: int
    height: int
    fps: Fraction
    seconds: float
    frames: int
    has_audio: bool


def is_video(path: str | os.PathLike) -> bool:
    """Whether `path` is named like a video (by suffix; the contents are checked by `probe`)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@contextlib.contextmanager
def _decoding(name: str) -> Iterator[None]:
    """Any failure while reading untrusted bytes becomes a one-line VideoError naming the file."""
    import av

    try:
        yield
    except VideoError:
        raise
    except av.error.EOFError:
        raise VideoError(f"{name}: no frames (the file ends before any video data)") from None
    except av.error.InvalidDataError:
        raise VideoError(f"{name}: not a video file FFmpeg can read, or corrupt") from None
    except OSError as e:
        if e.errno in _DISK_ERRORS:  # writing the output failed: atomic_output reports it as an OutputError
            raise OSError(e.errno, os.strerror(e.errno)) from None
        raise VideoError(f"{name}: cannot read this video ({first_line(e)})") from None
    except (av.error.FFmpegError, ValueError, EOFError) as e:
        raise VideoError(f"{name}: corrupt or truncated video ({first_line(e)})") from None


def probe(path: str | os.PathLike, max_seconds: float = MAX_SECONDS) -> VideoInfo:
    """The clip's header, checked: a video stream, a frame rate, a size and a duration in range."""
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file")
    with _decoding(str(path)), av.open(str(path)) as container:
        if not container.streams.video:
            raise VideoError(f"{path}: no video stream in this file")
        stream = container.streams.video[0]
        info = VideoInfo(path, stream.codec_context.width, stream.codec_context.height,
                         _frame_rate(stream), _seconds(container, stream), stream.frames or 0,
                         bool(container.streams.audio))
    check_header(info, max_seconds)
    return info


def _frame_rate(stream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate
    return Fraction(rate) if rate else Fraction(0)


def _seconds(container, stream) -> float:
    """The longest duration the header claims: the stream's, the container's, or frames / rate."""
    claims = [container.duration / 1e6 if container.duration else 0.0]
    if stream.duration and stream.time_base:
        claims.append(float(stream.duration * stream.time_base))
    if stream.frames and stream.average_rate:
        claims.append(float(stream.frames / stream.average_rate))
    return max(claims)


def check_header(info: VideoInfo, max_seconds: float) -> None:
    """Refuse, before decoding, what cannot be stylized: no frame rate, too long, too large."""
    name = info.path
    if info.frames > 1 and info.seconds == 0:
        raise VideoError(f"{name}: the header gives {info.frames} frames no duration (0 frames/s)")
    if not 0 < info.fps <= MAX_FPS:
        raise VideoError(f"{name}: the header gives {float(info.fps):g} frames/s; a video needs a frame "
                         f"rate above 0 and at most {MAX_FPS:g}")
    if info.seconds > max_seconds:
        raise VideoError(f"{name}: {_duration(info.seconds)} long; the limit is {_duration(max_seconds)}")
    if min(info.width, info.height) < MIN_SIDE:
        raise VideoError(f"{name}: {info.width}x{info.height} frames; each side must be at least {MIN_SIDE} px")
    if info.width * info.height > MAX_FRAME_PIXELS:
        raise VideoError(f"{name}: {info.width}x{info.height} frames are over the 3840x2160 limit")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 3600:.1f} h" if seconds >= 3600 \
        else f"{seconds / 60:.0f} min"


@dataclass
class Frame:
    """One decoded frame: RGB (H, W, 3) uint8 and its timestamp in the stream's time base."""

    rgb: np.ndarray
    pts: int | None


def read_frames(info: VideoInfo, limit: int | None = None) -> Iterator[Frame]:
    """The clip's frames in order (the first `limit`). A clip with no decodable frame, or one that
    ends far before its header says it does (truncated), raises VideoError."""
    import av

    count = 0
    with _decoding(str(info.path)), av.open(str(info.path)) as container:
        for frame in container.decode(video=0):
            yield Frame(frame.to_ndarray(format="rgb24"), frame.pts)
            count += 1
            if limit is not None and count >= limit:
                return
    if count == 0:
        raise VideoError(f"{info.path}: no frames could be decoded (empty or corrupt video)")
    if info.frames and count < 0.9 * info.frames:
        raise VideoError(f"{info.path}: truncated: the header says {info.frames} frames, only {count} decode")


def time_base(info: VideoInfo) -> Fraction:
    """The video stream's time base, which `Frame.pts` counts in."""
    import av

    with _decoding(str(info.path)), av.open(str(info.path)) as container:
        return container.streams.video[0].time_base


def write_video(frames: Iterable[Frame], info: VideoInfo, path: str | os.PathLike,
                audio: bool = True, trim_audio: bool = False) -> Path:
    """Encode `frames` (RGB, one size, even sides) as H.264 MP4 at `path`, whole or not at all.
    Timestamps are the input's, so the timing is kept; the input's audio is copied unchanged
    (`trim_audio`: only up to the last frame, for a clip's first seconds)."""
    import av

    with atomic_output(path) as tmp, _decoding(str(info.path)), av.open(str(tmp), "w", format="mp4") as out:
        source = av.open(str(info.path)) if audio and info.has_audio else None
        try:
            _encode(out, source, frames, info, trim_audio)
        finally:
            if source is not None:
                source.close()
    return Path(path)


def _encode(out, source, frames: Iterable[Frame], info: VideoInfo, trim_audio: bool) -> None:
    """The video stream first (players expect it as stream 0; its size is the first frame's), then
    the audio copied beside it, interleaved by time."""
    import itertools

    import av

    base, frames = time_base(info), iter(frames)
    first = next(frames, None)
    if first is None:
        raise VideoError(f"{info.path}: no frames to write")
    stream = _video_stream(out, first.rgb.shape, info, base)
    audio_in = source.streams.audio[0] if source is not None else None
    audio_out = out.add_stream_from_template(audio_in) if audio_in is not None else None
    packets = source.demux(audio_in) if audio_in is not None else iter(())
    pending, seconds, last = None, 0.0, -1
    for index, frame in enumerate(itertools.chain([first], frames)):
        pts = frame.pts if frame.pts is not None else round(index / info.fps / base)
        if pts <= last:
            raise VideoError(f"{info.path}: frame {index + 1}'s timestamp is not after the one before "
                             f"(a broken or 0-fps header)")
        last, seconds = pts, float(pts * base)
        pending = _mux_audio_until(out, packets, audio_out, seconds, pending)
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame.rgb), format="rgb24")
        picture.pts, picture.time_base = pts, base
        out.mux(stream.encode(picture))
    out.mux(stream.encode(None))
    _mux_audio_until(out, packets, audio_out, seconds + 1 / info.fps if trim_audio else float("inf"), pending)


def _video_stream(out, shape: tuple[int, ...], info: VideoInfo, base: Fraction):
    height, width = shape[:2]
    stream = out.add_stream("libx264", rate=info.fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.time_base = stream.codec_context.time_base = base  # the input's clock: variable rates survive
    stream.options = {"crf": "18", "preset": "veryfast"}
    return stream


def _mux_audio_until(out, packets: Iterator, audio_out, seconds: float, pending):
    """Mux the input's audio packets up to `seconds`, so audio and video interleave; returns the
    first packet past it, held for the next call."""
    if audio_out is None:
        return None
    while True:
        packet = pending if pending is not None else next(packets, None)
        pending = None
        if packet is None:
            return None
        if packet.dts is None:  # the demuxer's flush packet
            continue
        if packet.pts is not None and float(packet.pts * packet.time_base) > seconds:
            return packet
        packet.stream = audio_out
        out.mux(packet)


def even_size(width: int, height: int) -> tuple[int, int]:
    """The largest even size within (width, height): H.264 in yuv420p needs even sides."""
    return width - width % 2, height - height % 2


def list_videos(folder: str | os.PathLike) -> list[Path]:
    """Video files under `folder`, recursively, sorted (by suffix, any case)."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
