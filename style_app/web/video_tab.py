"""The UI's Video tab: a short clip stylized with one norm, or its first seconds with all four
side by side, each captioned with its flicker (temporal error relative to the input clip)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from style_app.clip import DEFAULT_STABILIZE, SMOOTH_STATS, Steadying, prepare, stylize_clip, stylize_frames
from style_app.errors import StyleAppError
from style_app.flicker import FlickerMeter
from style_app.models.norms import COMPARED_NORMS, norm_label
from style_app.stylizer import cached_stylizer
from style_app.video import Frame, even_size, probe, read_frames, write_video
from style_app.web import handlers
from style_app.web.widgets import style_dropdown, user_errors

#: Longest clip the page takes; the page says so.
MAX_SECONDS = 20.0
VIDEO_SIZE = 360  # default output size (longer side)
COMPARE_SECONDS = 2.0  # "compare normalizations" renders this much of the clip
COMPARE_SIZE = 256  # each norm's tile, longer side
STEADYING = {"smooth statistics": "smooth", "flow stabilization": "stabilize"}
SHORT = {"instance": "IN", "batch": "BN", "layer": "LN", "group": "GN"}


def example_clips() -> list[str]:
    """The sample clips that ship inside the gradio package, those short enough for the page."""
    folder = Path(gr.__file__).parent / "media_assets" / "videos"
    return [str(p) for p in sorted(folder.glob("*.mp4")) if _short(p)]


def _short(path: Path) -> bool:
    try:
        probe(path, MAX_SECONDS)
    except StyleAppError:
        return False
    return True


def steadying(chosen: list[str]) -> Steadying:
    """The Steadying the checkboxes name (each on at its usual strength, or off)."""
    picked = {STEADYING[c] for c in chosen or [] if c in STEADYING}
    return Steadying(SMOOTH_STATS if "smooth" in picked else 0.0, DEFAULT_STABILIZE if "stabilize" in picked else 0.0)


def _out_path(stem: str) -> Path:
    return Path(tempfile.mkdtemp(prefix="style_app_video_")) / f"{stem}.mp4"


def stylize_upload(path: str | None, style: str, norm: str, chosen: list[str], size: int,
                   progress: gr.Progress = gr.Progress()) -> tuple[str, str]:
    """The uploaded clip stylized: (the MP4's path, a line with its flicker)."""
    if not path:
        raise StyleAppError("upload a clip first (at most 20 s)")
    probe(path, MAX_SECONDS)
    out = _out_path(Path(path).stem + "_stylized")
    report = stylize_clip(cached_stylizer(style, norm), path, out, int(size), steadying(chosen),
                          lambda done, total: progress((done, total or None), desc="frames", unit="frames"),
                          MAX_SECONDS)
    return str(out), (f"{norm_label(norm)}: temporal error **{report.relative_error:.2f}** x the input clip's "
                      f"(1.0 = as steady as the input; {report.pairs} frame pairs)")


def _labelled(rgb: np.ndarray, text: str) -> np.ndarray:
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 8 + 7 * len(text), 16), fill=(0, 0, 0))
    draw.text((4, 2), text, fill=(255, 255, 255))
    return np.asarray(image)


def compare_upload(path: str | None, style: str, chosen: list[str],
                   progress: gr.Progress = gr.Progress()) -> tuple[str, pd.DataFrame]:
    """The clip's first seconds through all four norms, side by side, and each norm's flicker."""
    if not path:
        raise StyleAppError("upload a clip first (at most 20 s)")
    info = probe(path, MAX_SECONDS)
    count = max(2, round(COMPARE_SECONDS * float(info.fps)))
    sources = [Frame(prepare(f.rgb, COMPARE_SIZE), f.pts) for f in read_frames(info, count)]
    tiles, rows = [], []
    for i, norm in enumerate(COMPARED_NORMS):
        progress((i, len(COMPARED_NORMS)), desc=f"{norm_label(norm)}")
        meter = FlickerMeter()
        tiles.append([f.rgb for f in stylize_frames(cached_stylizer(style, norm), sources, None,
                                                    steadying(chosen), meter)])
        rows.append((norm_label(norm), round(meter.report().relative_error, 2)))
    frames = (Frame(np.concatenate([_labelled(t[k], f"{SHORT[n]} {r[1]:.2f}")
                                    for t, n, r in zip(tiles, COMPARED_NORMS, rows)], axis=1), s.pts)
              for k, s in enumerate(sources))
    out = _out_path(Path(path).stem + "_norms")
    write_video(_even(frames), info, out, trim_audio=True)
    return str(out), pd.DataFrame(rows, columns=["Normalization", "Temporal error (input clip = 1.0)"])


def _even(frames):
    for frame in frames:
        width, height = even_size(frame.rgb.shape[1], frame.rgb.shape[0])
        yield Frame(frame.rgb[:height, :width], frame.pts)


def video_tab() -> None:
    """Upload a short clip; stylize it with one norm, or compare all four on its first seconds."""
    with gr.Tab("Video"):
        gr.Markdown(f"Clips up to **{MAX_SECONDS:.0f} s**. Instance, layer and group norm compute their "
                    "statistics afresh on every frame, so colours can jump from frame to frame; batch norm uses "
                    "fixed statistics. *Smooth statistics* carries them over from frame to frame; *flow "
                    "stabilization* blends each frame with the previous result along the motion. The flicker "
                    "figure is the temporal error relative to the input clip's (docs/video.md).")
        with gr.Row():
            with gr.Column():
                clip = gr.Video(label="Clip", sources=["upload"], elem_id="video-input")
                gr.Examples(example_clips(), clip)
            with gr.Column():
                style = style_dropdown()
                norms = handlers.norm_choices()
                norm = gr.Radio(norms, value=norms[0][1] if norms else None, label="Normalization")
                chosen = gr.CheckboxGroup(list(STEADYING), value=["flow stabilization"], label="Stabilization")
                size = gr.Slider(64, 720, value=VIDEO_SIZE, step=16, label="Output size (longer side, px)",
                                 elem_id="video-size")
                run = gr.Button("Stylize clip", variant="primary")
                compare = gr.Button("Compare normalizations")
            with gr.Column():
                result = gr.Video(label="Stylized clip", elem_id="video-result", interactive=False)
                info = gr.Markdown(elem_id="video-info")
        side_by_side = gr.Video(label=f"IN | BN | LN | GN, first {COMPARE_SECONDS:g} s", elem_id="video-compare",
                                interactive=False)
        table = gr.Dataframe(label="Flicker per norm", interactive=False, elem_id="video-flicker")
    run.click(user_errors(stylize_upload), [clip, style, norm, chosen, size], [result, info],
              api_visibility="private")
    compare.click(user_errors(compare_upload), [clip, style, chosen], [side_by_side, table],
                  api_visibility="private")
