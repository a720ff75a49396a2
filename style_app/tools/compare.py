"""One photo through every norm of a style: the app's central comparison, as data and as a grid."""
from __future__ import annotations

import time
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from style_app.models.norms import NORMS, norm_label
from style_app.models.transformer import ZOO_ARCH
from style_app.stylizer import cached_stylizer
from style_app.weights import available_models, find_model

@dataclass
class NormResult:
    norm: str
    image: Image.Image
    seconds: float

    @property
    def label(self) -> str:
        return f"{norm_label(self.norm)}  {self.seconds * 1000:.0f} ms"


def norms_for(style: str, arch: str = ZOO_ARCH) -> list[str]:
    """The norms shipped for a style, in teaching order (IN, BN, LN, GN)."""
    have = {m.norm for m in available_models() if m.style == style and m.arch == arch}
    return [n for n in NORMS if n in have]


def compare_norms(image: Image.Image, style: str, arch: str = ZOO_ARCH, device: str = "auto",
                  **stylize_kw) -> list[NormResult]:
    """Stylize `image` with every shipped norm of `style`, timing each."""
    norms = norms_for(style, arch)
    if not norms:
        find_model(style, "instance", arch)  # raises the helpful "unknown style" error
    results = []
    for norm in norms:
        stylizer = cached_stylizer(style, norm, arch, device)
        start = time.perf_counter()
        out = stylizer.stylize(image, **stylize_kw)
        results.append(NormResult(norm, out, time.perf_counter() - start))
    return results


def labelled_grid(tiles: list[tuple[str, Image.Image]], columns: int | None = None) -> Image.Image:
    """Tiles side by side (wrapping after `columns`), each with its label in a band above it."""
    columns = columns or len(tiles)
    w = max(img.width for _, img in tiles)
    h = max(img.height for _, img in tiles)
    font = ImageFont.load_default(size=max(12, w // 24))
    band = font.size + 12
    rows = -(-len(tiles) // columns)
    grid = Image.new("RGB", (columns * w, rows * (h + band)), "white")
    draw = ImageDraw.Draw(grid)
    for i, (label, img) in enumerate(tiles):
        x, y = (i % columns) * w, (i // columns) * (h + band)
        draw.text((x + 6, y + 6), label, fill="black", font=font)
        grid.paste(img, (x, y + band))
    return grid
