"""The CLI's video side, kept out of cli.py: `stylize clip.mp4` (with --smooth-stats and
--stabilize) and `evaluate --video` (the flicker table)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from style_app.clip import DEFAULT_SMOOTH_STATS, DEFAULT_STABILIZE, SMOOTH_STATS, Steadying


def add_steadying_flags(p: argparse.ArgumentParser, smooth_stats: float = DEFAULT_SMOOTH_STATS) -> None:
    """`--smooth-stats A` and `--stabilize S` (videos; 0 turns each off)."""
    from style_app.arguments import number_in

    p.add_argument("--smooth-stats", type=number_in(float, 0.0, 0.99), default=smooth_stats, metavar="A",
                   help="videos: instance/layer/group norm statistics carried from frame to frame, A x the last "
                   f"frame's + (1 - A) x this one's (0: off; default: {smooth_stats}; docs/video.md: it did not "
                   "lower flicker on the clips measured)")
    p.add_argument("--stabilize", type=number_in(float, 0.0, 0.99), default=DEFAULT_STABILIZE, metavar="S",
                   help="videos: each frame blended with the previous result warped along the optical flow, "
                   f"weight S where visible (0: off; default: {DEFAULT_STABILIZE})")


def add_evaluate_video_flags(p: argparse.ArgumentParser) -> None:
    """`evaluate --video CLIP...`: the flicker table instead of the photo scores."""
    from style_app.arguments import MAX_SIDE, number_in
    from style_app.models.norms import COMPARED_NORMS

    p.add_argument("--video", nargs="+", metavar="CLIP", help="measure flicker on these clips instead: temporal "
                   "error of each norm, with and without --smooth-stats and --stabilize, relative to the input")
    p.add_argument("--style", help="--video: the shipped style (default: the first)")
    p.add_argument("--norm", nargs="+", choices=COMPARED_NORMS, default=list(COMPARED_NORMS), help="--video: norms")
    p.add_argument("--max-size", type=number_in(int, 16, MAX_SIDE), default=360,
                   help="--video: frames shrunk to this longer side (default: 360)")
    p.add_argument("--frames", type=number_in(int, 2, 100000), default=60, help="--video: first N frames (default: 60)")
    add_steadying_flags(p, SMOOTH_STATS)  # the table measures each setting, so smoothing has a strength here


def run_evaluate_video(args: argparse.Namespace) -> None:
    from style_app.stylizer import Stylizer
    from style_app.tools.flicker_table import flicker_rows, format_rows
    from style_app.weights import available_models

    style = args.style or sorted({m.style for m in available_models()})[0]
    stylizers = [Stylizer.from_pretrained(style, norm, device=args.device) for norm in args.norm]
    print(f"style {style}; temporal error relative to the input clip (1.0 = as steady as the input), "
          f"first {args.frames} frames at {args.max_size} px", flush=True)
    for i, clip in enumerate(args.video):  # each clip's rows as soon as they are measured
        table = format_rows(flicker_rows(clip, stylizers, args.max_size, args.frames, args.smooth_stats,
                                         args.stabilize), args.smooth_stats, args.stabilize)
        print(table if i == 0 else table.split("\n", 2)[2], flush=True)


def stylize_video(stylizer, src: Path, dst: Path, args: argparse.Namespace) -> None:
    """One clip through `stylizer` to `dst`, with a frames/s progress bar on a terminal."""
    from tqdm import tqdm

    from style_app.clip import stylize_clip

    start, count = time.perf_counter(), [0]
    with tqdm(desc=src.name, unit="frame", disable=None, file=sys.stderr) as bar:
        def progress(done: int, total: int) -> None:
            bar.total, count[0] = total or None, done
            bar.update(done - bar.n)

        report = stylize_clip(stylizer, src, dst, args.max_size, Steadying(args.smooth_stats, args.stabilize),
                              progress, strength=args.strength, preserve_color=args.preserve_color)
    seconds, frames = time.perf_counter() - start, count[0]
    print(f"{dst}: {frames} frames in {seconds:.1f} s ({frames / seconds:.2f} frames/s, decoding, flow and "
          f"encoding included); temporal error {report.relative_error:.2f} x the input clip's", file=sys.stderr)
