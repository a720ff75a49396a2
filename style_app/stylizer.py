"""The Python API: load a trained style network and stylize pictures with it.

    from style_app import Stylizer
    out = Stylizer.from_pretrained("starry_night", "instance").stylize(Image.open("photo.jpg"))
"""
from __future__ import annotations

import functools
import os

import torch
from PIL import Image

from models.transformer import TransformerNet
from style_app.errors import StyleAppError, WeightsError
from style_app.images import fit_within, to_image, to_rgb, to_tensor
from style_app.fastpath import InferenceNet
from style_app.runtime import resolve_device
from style_app.tiling import TILE_ABOVE_PIXELS, stylize_tiled
from style_app.weights import file_styles, find_model, load_model


class Stylizer:
    """One trained network (a style, a norm, an architecture) on one device.

    `fast=False` forces plain fp32; by default the device's measured fast path runs
    (style_app.fastpath: bf16 + channels_last on capable CPUs, autocast on CUDA)."""

    def __init__(self, model: TransformerNet, metadata: dict, device: str = "auto", fast: bool = True):
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.metadata = metadata
        self.net = InferenceNet(self.model, self.device, fast)

    @classmethod
    def from_pretrained(cls, style: str, norm: str = "instance", arch: str = "johnson",
                        device: str = "auto", fast: bool = True) -> "Stylizer":
        """A shipped model from the weights folder, by style slug and norm kind."""
        return cls.from_file(find_model(style, norm, arch).path, device, fast, style)

    @classmethod
    def from_file(cls, path: str | os.PathLike, device: str = "auto", fast: bool = True,
                  style: str | None = None) -> "Stylizer":
        """Any style_app .safetensors file; `style` picks one of a conditional file's styles
        (default: its first)."""
        model, metadata = load_model(path)
        if model.num_styles > 1:
            styles = file_styles(metadata)
            if style is not None and style not in styles:
                raise WeightsError(f"{path}: no style {style!r} in this file; it has {', '.join(styles)}")
            model.set_style(styles.index(style) if style else 0)
            metadata = {**metadata, "style": style or styles[0]}
        return cls(model, metadata, device, fast)

    @property
    def style(self) -> str:
        return self.metadata.get("style", "")

    @property
    def norm(self) -> str:
        return self.model.norm

    def __repr__(self) -> str:
        return f"Stylizer(style={self.style!r}, norm={self.norm!r}, device={self.device.type!r})"

    def stylize(self, image: Image.Image, strength: float = 1.0, preserve_color: bool = False,
                max_size: int | None = None) -> Image.Image:
        """Stylize a picture; same size as the input unless `max_size` (longer side) shrinks it.

        `strength` in [0, 1] blends the stylized picture with the photo; `preserve_color` keeps
        the photo's colours and takes only the luminance from the stylized picture."""
        if not 0.0 <= strength <= 1.0:
            raise StyleAppError(f"strength must be between 0 and 1, got {strength}")
        if max_size is not None and max_size < 1:
            raise StyleAppError(f"max_size must be a positive number of pixels, got {max_size}")
        photo = fit_within(to_rgb(image), max_size)
        result = to_image(self.run(to_tensor(photo)))
        if preserve_color:
            result = transfer_luminance(result, photo)
        if strength < 1.0:
            result = Image.blend(photo, result, strength)
        return result

    @torch.inference_mode()
    def run(self, batch: torch.Tensor) -> torch.Tensor:
        """The network on a (N, 3, H, W) batch in [0, 1]; returns the same shape on the CPU.

        Pictures above TILE_ABOVE_PIXELS go through in tiles with whole-image norm statistics,
        which bounds memory (a 4096x4096 photo fits in well under 3 GB)."""
        if batch.shape[-2] * batch.shape[-1] > TILE_ABOVE_PIXELS:
            return stylize_tiled(self.net.model, self.net, batch)
        return self.net(batch).cpu()


@functools.lru_cache(maxsize=32)
def cached_stylizer(style: str, norm: str, arch: str = "johnson", device: str = "auto") -> Stylizer:
    """A shipped model loaded once per process (the UI and comparisons reuse them)."""
    return Stylizer.from_pretrained(style, norm, arch, device)


def transfer_luminance(stylized: Image.Image, photo: Image.Image) -> Image.Image:
    """The stylized picture's brightness with the photo's colours (YCbCr), Gatys et al. 2016."""
    y, _, _ = stylized.convert("YCbCr").split()
    _, cb, cr = photo.convert("YCbCr").split()
    return Image.merge("YCbCr", (y, cb, cr)).convert("RGB")
