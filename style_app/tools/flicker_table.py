"""`style-app evaluate --video`: the flicker table, each norm with and without each steadying.

For one clip, the input's optical flow is computed once and shared; each norm's network runs
twice (plain and with smoothed statistics) and the flow stabilization is applied to both
results, which gives the four settings of docs/video.md for two network passes.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from style_app.clip import DEFAULT_STABILIZE, SMOOTH_STATS, prepare
from style_app.flicker import FlickerMeter, Motion, motion
from style_app.models.norms import norm_label
from style_app.stylizer import Stylizer
from style_app.temporal import Stabilizer, smoothed_statistics
from style_app.video import probe, read_frames

SETTINGS = ("none", "smooth-stats", "stabilize", "both")


@dataclass
class FlickerRow:
    """One norm on one clip: the relative temporal error of each setting, and frames/s."""

    clip: str
    norm: str
    relative: dict[str, float]
    fps: float


def _network_pass(stylizer: Stylizer, sources: list[np.ndarray], smooth: float) -> tuple[list[np.ndarray], float]:
    start = time.perf_counter()
    if smooth:
        with smoothed_statistics(stylizer.model, smooth):
            outputs = [np.asarray(stylizer.stylize(Image.fromarray(s))) for s in sources]
    else:
        outputs = [np.asarray(stylizer.stylize(Image.fromarray(s))) for s in sources]
    return outputs, len(sources) / (time.perf_counter() - start)


def _relative(sources: list[np.ndarray], outputs: list[np.ndarray], moves: list[Motion | None],
              stabilize: float) -> float:
    meter, stabilizer = FlickerMeter(), Stabilizer(stabilize)
    for source, output, move in zip(sources, outputs, moves):
        meter.add(source, stabilizer(output, move), move)
    return meter.report().relative_error


def flicker_rows(clip: str | os.PathLike, stylizers: list[Stylizer], max_size: int | None = 360,
                 frames: int | None = 60, smooth: float = SMOOTH_STATS,
                 stabilize: float = DEFAULT_STABILIZE) -> list[FlickerRow]:
    """Each stylizer's row for `clip` (its first `frames` frames at `max_size`)."""
    sources = [prepare(f.rgb, max_size) for f in read_frames(probe(clip), frames)]
    moves = [None] + [motion(a, b) for a, b in zip(sources, sources[1:])]
    rows = []
    for stylizer in stylizers:
        plain, fps = _network_pass(stylizer, sources, 0.0)
        smoothed, _ = _network_pass(stylizer, sources, smooth)
        relative = {"none": _relative(sources, plain, moves, 0.0),
                    "smooth-stats": _relative(sources, smoothed, moves, 0.0),
                    "stabilize": _relative(sources, plain, moves, stabilize),
                    "both": _relative(sources, smoothed, moves, stabilize)}
        rows.append(FlickerRow(os.path.basename(clip), stylizer.norm, relative, fps))
    return rows


def format_rows(rows: list[FlickerRow], smooth: float, stabilize: float) -> str:
    """A Markdown table: temporal error relative to the input clip (= 1.0)."""
    head = (f"| clip | norm | none | --smooth-stats {smooth:g} | --stabilize {stabilize:g} | both | frames/s |\n"
            "|---|---|---|---|---|---|---|")
    lines = [f"| {r.clip} | {norm_label(r.norm)} | " + " | ".join(f"{r.relative[s]:.2f}" for s in SETTINGS)
             + f" | {r.fps:.1f} |" for r in rows]
    return "\n".join([head, *lines])
