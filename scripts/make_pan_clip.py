"""A test clip with what gradio's sample clips lack: camera motion over a real photo and a change
of light. A window pans and zooms across one of the photos inside the gradio package while the
scene darkens and recovers (a cloud passing) and sensor noise is added, at 24 frames/s. The clip
is made, not shipped: docs/video.md measures flicker on it.

    .venv/bin/python scripts/make_pan_clip.py /tmp/pan.mp4 [--photo lion.jpg] [--frames 60]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import av
import gradio
import numpy as np
from PIL import Image

SIZE = (480, 270)
FPS = 24


def frame(photo: Image.Image, t: float, rng: np.random.Generator) -> np.ndarray:
    """The view at time t in [0, 1]: panning right, zooming in by 15 %, darkened by up to 45 %."""
    w, h = photo.size
    zoom = 1.0 + 0.15 * t
    cw, ch = w * 0.7 / zoom, w * 0.7 / zoom * SIZE[1] / SIZE[0]
    left, top = (w - cw) * (0.15 + 0.7 * t), (h - ch) * 0.5
    view = photo.resize(SIZE, Image.Resampling.BILINEAR, box=(left, top, left + cw, top + ch))
    light = 1.0 - 0.45 * np.exp(-((t - 0.5) / 0.15) ** 2)
    pixels = np.asarray(view, dtype=np.float32) * light + rng.normal(0, 2.0, (SIZE[1], SIZE[0], 3))
    return np.clip(pixels + 0.5, 0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--photo", default="lion.jpg", help="a photo in gradio/media_assets/images")
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    photo = Image.open(Path(gradio.__file__).parent / "media_assets" / "images" / args.photo).convert("RGB")
    rng = np.random.default_rng(0)
    with av.open(args.out, "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        for i in range(args.frames):
            picture = av.VideoFrame.from_ndarray(frame(photo, i / (args.frames - 1), rng), format="rgb24")
            picture.pts = i
            out.mux(stream.encode(picture))
        out.mux(stream.encode(None))


if __name__ == "__main__":
    main()
