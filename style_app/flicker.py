"""Flicker, measured: how much a clip changes from frame to frame beyond what motion explains.

Optical flow (OpenCV's Farneback) between consecutive *input* frames says where each pixel of
frame t was in frame t-1. The previous frame is warped along it and compared with the current
one, over the pixels a forward-backward check finds visible in both (Sundaram et al. 2010, as
in Ruder et al. 2016 and Lai et al. 2018's warping error). The same flow and mask score the
input clip and the stylized one, so `relative_error` (stylized / input) is 1.0 for a result
as steady as its input and larger the more it flickers.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

#: Flow is computed on frames shrunk to this longer side: Farneback's cost grows with pixels and
#: a coarse flow, scaled up, is good enough to warp with.
FLOW_SIDE = 360


@dataclass
class Motion:
    """Where each pixel of frame t came from in frame t-1, and whether it was visible there.

    `flow` (H, W, 2) in pixels of this size; `visible` (H, W) bool."""

    flow: np.ndarray
    visible: np.ndarray

    def resized(self, width: int, height: int) -> "Motion":
        """The same motion at another frame size (vectors scaled with the frame)."""
        import cv2

        h, w = self.visible.shape
        if (w, h) == (width, height):
            return self
        flow = cv2.resize(self.flow, (width, height), interpolation=cv2.INTER_LINEAR)
        flow[..., 0] *= width / w
        flow[..., 1] *= height / h
        visible = cv2.resize(self.visible.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
        return Motion(flow, visible.astype(bool))


def _gray(rgb: np.ndarray, side: int) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _farneback(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow from grey frame `a` to `b`: a pixel x of `a` is at x + flow(x) in `b`."""
    import cv2

    return cv2.calcOpticalFlowFarneback(a, b, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
                                        poly_n=5, poly_sigma=1.2, flags=0)


def motion(previous: np.ndarray, current: np.ndarray, side: int = FLOW_SIDE) -> Motion:
    """The motion from RGB frame `previous` to `current`, computed at `side` px."""
    a, b = _gray(previous, side), _gray(current, side)
    backward = _farneback(b, a)  # current -> previous: where each current pixel came from
    forward = _farneback(a, b)
    # forward-backward check: going back and then forward again should return to the start
    forward_there = warp(forward, backward)
    round_trip = np.sum((forward_there + backward) ** 2, axis=2)
    bound = 0.01 * (np.sum(forward_there ** 2, axis=2) + np.sum(backward ** 2, axis=2)) + 0.5
    return Motion(backward, round_trip < bound)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """`image` (the previous frame) sampled at x + flow(x): where each current pixel came from."""
    import cv2

    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, xs + flow[..., 0], ys + flow[..., 1], interpolation=cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def warp_error(previous: np.ndarray, current: np.ndarray, move: Motion) -> float:
    """Mean absolute difference (RGB in [0, 1]) between `current` and the warped `previous`, over
    the visible pixels; frames of any size (the motion is resized to them)."""
    h, w = current.shape[:2]
    move = move.resized(w, h)
    if not move.visible.any():
        return 0.0
    diff = np.abs(current.astype(np.float32) - warp(previous.astype(np.float32), move.flow)) / 255.0
    return float(diff[move.visible].mean())


@dataclass
class FlickerReport:
    """The temporal error of a clip and of its input, averaged over frame pairs."""

    error: float
    input_error: float
    pairs: int

    @property
    def relative_error(self) -> float:
        """Stylized over input: 1.0 is as steady as the input clip."""
        return self.error / self.input_error if self.input_error > 0 else float("inf")


class FlickerMeter:
    """Accumulates the warping error frame pair by frame pair as a clip is produced, given the
    motion between the input frames (so stylizing and measuring share one flow)."""

    def __init__(self) -> None:
        self._prev: tuple[np.ndarray, np.ndarray] | None = None
        self._errors: list[tuple[float, float]] = []

    def add(self, source: np.ndarray, output: np.ndarray, move: Motion | None) -> None:
        """One frame: the input `source`, the stylized `output`, the motion from the last frame."""
        if self._prev is not None and move is not None:
            self._errors.append((warp_error(self._prev[1], output, move),
                                 warp_error(self._prev[0], source, move)))
        self._prev = (source, output)

    def report(self) -> FlickerReport:
        if not self._errors:
            return FlickerReport(0.0, 0.0, 0)
        out, inp = np.mean(self._errors, axis=0)
        return FlickerReport(float(out), float(inp), len(self._errors))


def motions(frames: Iterable[np.ndarray], side: int = FLOW_SIDE) -> Iterator[Motion | None]:
    """For each frame, the motion from the one before (None for the first)."""
    previous = None
    for frame in frames:
        yield None if previous is None else motion(previous, frame, side)
        previous = frame
