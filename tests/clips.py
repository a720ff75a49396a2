"""Small test clips made with PyAV: moving pictures, a sine tone, and deliberately broken files."""
from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from helpers import random_photo


def moving_frames(count: int, size: tuple[int, int], seed: int = 0, step: int = 1) -> list[np.ndarray]:
    """A random picture with blotchy texture, panning right by `step` px a frame (so optical flow
    has something to follow)."""
    import cv2

    w, h = size
    smooth = np.asarray(random_photo(seed, (w + step * count, h))).astype(np.float32)
    noise = np.random.default_rng(seed).normal(0, 1, smooth.shape).astype(np.float32)
    blotches = cv2.GaussianBlur(noise, (0, 0), 2.0)
    wide = np.clip(smooth * 0.6 + 128 * 0.4 + blotches / blotches.std() * 40, 0, 255).astype(np.uint8)
    return [np.ascontiguousarray(wide[:, i * step:i * step + w]) for i in range(count)]


def make_clip(path: Path, frames: list[np.ndarray], fps: int = 10, pts: list[int] | None = None,
              tone: bool = False, faststart: bool = False) -> Path:
    """Encode RGB `frames` as H.264 MP4 (odd sizes padded by the encoder's yuv444p), optionally
    with a 440 Hz AAC tone as long as the video and given timestamps (in 1/fps/10 s units)."""
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4", options=options) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv444p"
        stream.options = {"bf": "0"}
        stream.time_base = stream.codec_context.time_base = Fraction(1, fps * 10)
        audio = out.add_stream("aac", rate=16000, layout="mono") if tone else None
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = (pts[i] if pts else i * 10), stream.time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
        if audio is not None:
            seconds = len(frames) / fps
            t = np.arange(int(16000 * seconds)) / 16000
            wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            sound = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
            sound.sample_rate, sound.pts = 16000, 0
            out.mux(audio.encode(sound))
            out.mux(audio.encode(None))
    return path


def empty_clip(path: Path) -> Path:
    """A Matroska file with a video stream and not one frame (MP4 drops an empty track)."""
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        out.start_encoding()
    return path


def _boxes(data: bytes, kind: bytes) -> list[int]:
    """Offsets of every `kind` box (its size field) in an MP4 file's bytes."""
    found, start = [], 0
    while (i := data.find(kind, start)) >= 0:
        found.append(i - 4)
        start = i + 4
    return found


def patch_header(path: Path, seconds: float = 0.0, zero_rate: bool = False) -> Path:
    """Rewrite an MP4's header in place: its durations to `seconds` (a '10-hour' header), or every
    frame's duration to 0 (a header with no frame rate)."""
    data = bytearray(path.read_bytes())
    for box in _boxes(data, b"mvhd") + _boxes(data, b"mdhd"):
        if seconds is not None:
            timescale = struct.unpack(">I", data[box + 20:box + 24])[0]
            data[box + 24:box + 28] = struct.pack(">I", int(seconds * timescale))
    track_scale = struct.unpack(">I", data[_boxes(data, b"mdhd")[0] + 20:][:4])[0]
    for box in _boxes(data, b"stts"):  # each frame's duration: what FFmpeg times the clip by
        entries = struct.unpack(">I", data[box + 12:box + 16])[0]
        frames = sum(struct.unpack(">I", data[box + 16 + 8 * k:box + 20 + 8 * k])[0] for k in range(entries))
        delta = 0 if zero_rate else int(seconds * track_scale / frames)
        for k in range(entries):
            data[box + 20 + 8 * k:box + 24 + 8 * k] = struct.pack(">I", delta)
    path.write_bytes(bytes(data))
    return path
