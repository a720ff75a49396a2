"""The Python API: load a trained style network and stylize pictures with it.

    from style_app import Stylizer
    out = Stylizer.from_pretrained("starry_night", "instance").stylize(Image.open("photo.jpg"))
"""
from __future__ import annotations

import functools
import math
import numbers
import os

import torch
from PIL import Image

from style_app.models.transformer import ZOO_ARCH, TransformerNet
from style_app.errors import StyleAppError, WeightsError
from style_app.images import fit_within, to_image, to_rgb, to_tensor
from style_app.fastpath import InferenceNet
from style_app.runtime import resolve_device
from style_app.style_files import load_network
from style_app.degrid import remove_grid
from style_app.tiling import TILE_ABOVE_PIXELS, stylize_tiled
from style_app.weights import file_styles, find_model


class Stylizer:
    """One trained network (a style, a norm, an architecture) on one device.

    `fast=False` forces plain fp32; by default the device's measured fast path runs
    (style_app.fastpath: bf16 + channels_last on capable CPUs, autocast on CUDA)."""

    def __init__(self, model: TransformerNet, metadata: dict, device: str = "auto", fast: bool = True):
        self.device = resolve_device(device)
        self.metadata = metadata
        self.net = InferenceNet(model, self.device, fast)
        #: The style, or the blend, the network runs: slug -> weight (summing to 1).
        self.style_weights = {file_styles(metadata)[0]: 1.0}

    @property
    def model(self) -> TransformerNet:
        """The network (on the fast path its convolutions may be bf16; see `net`)."""
        return self.net.model

    @classmethod
    def from_pretrained(cls, style: str, norm: str = "instance", arch: str = ZOO_ARCH,
                        device: str = "auto", fast: bool = True) -> "Stylizer":
        """A model of the shipped zoo or the user's folder, by style slug and norm kind."""
        return cls.from_file(find_model(style, norm, arch).path, device, fast, style)

    @classmethod
    def from_file(cls, path: str | os.PathLike, device: str = "auto", fast: bool = True,
                  style: str | None = None) -> "Stylizer":
        """Any style_app .safetensors file: a network (with the styles added to it in the weights
        folders) or an added style's file (on its network); `style` picks one of the network's
        styles (default: the style file's own, else the network's first)."""
        model, metadata = load_network(path)
        stylizer = cls(model, metadata, device, fast)
        if model.num_styles > 1:
            stylizer.set_style(style or metadata.get("default_style") or file_styles(metadata)[0])
        return stylizer

    def set_style(self, style: str | dict[str, float]) -> None:
        """Switch a conditional model (several styles in one network) to another of its styles, or
        blend them: {"starry_night": 0.7, "great_wave": 0.3} mixes their norm parameters (weights
        are scaled to sum to 1)."""
        styles = file_styles(self.metadata)
        if self.model.num_styles == 1:
            raise StyleAppError(f"this model holds one style ({self.style}); switching and blending "
                                f"need a conditional model")
        weights = {style: 1.0} if isinstance(style, str) else dict(style)
        unknown = sorted(set(weights) - set(styles))
        if unknown:
            raise WeightsError(f"no style {unknown[0]!r} in this model; it has {', '.join(styles)}")
        if not all(_finite(w) and w >= 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise StyleAppError(f"style weights must be finite, non-negative and not all zero, got {weights}")
        total = sum(weights.values())
        self.model.set_style(torch.tensor([weights.get(s, 0.0) / total for s in styles]))
        self.style_weights = {s: weights[s] / total for s in styles if weights.get(s, 0.0) > 0}

    @property
    def style(self) -> str:
        """The style's slug, or a blend as 'starry_night 60% + great_wave 40%'."""
        if len(self.style_weights) == 1:
            return next(iter(self.style_weights))
        return " + ".join(f"{s} {w:.0%}" for s, w in self.style_weights.items())

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
        check_fraction("strength", strength)
        if max_size is not None and not (_finite(max_size) and max_size >= 1):
            raise StyleAppError(f"max_size must be a positive number of pixels, got {max_size!r}")
        photo = fit_within(to_rgb(image), max_size)
        result = to_image(self.run(to_tensor(photo)))
        if preserve_color:
            result = transfer_luminance(result, photo)
        if strength < 1.0:
            result = Image.blend(photo, result, strength)
        return result

    @torch.inference_mode()
    def run(self, batch: torch.Tensor) -> torch.Tensor:
        """The network on a (N, 3, H, W) batch in [0, 1]; returns the same shape on the CPU, without
        the fine grid the decoder leaves (style_app.degrid).

        Pictures above TILE_ABOVE_PIXELS go through in tiles with whole-image norm statistics,
        which bounds memory."""
        tiled = batch.shape[-2] * batch.shape[-1] > TILE_ABOVE_PIXELS
        return remove_grid(stylize_tiled(self.model, self.net, batch) if tiled else self.net(batch).cpu())


@functools.lru_cache(maxsize=32)
def cached_stylizer(style: str, norm: str, arch: str = ZOO_ARCH, device: str = "auto",
                    blend_with: str | None = None, blend: float = 0.0) -> Stylizer:
    """A shipped model loaded once per process (the UI and comparisons reuse them, so it is never
    changed after loading). `blend` in [0, 1] mixes in the style `blend_with`, which must live in
    the same conditional network."""
    stylizer = Stylizer.from_pretrained(style, norm, arch, device)
    check_fraction("blend", blend)
    if blend_with and blend > 0:
        if blend_with not in file_styles(stylizer.metadata):
            raise StyleAppError(f"{style} and {blend_with} cannot blend with {norm} norm: only styles "
                                f"of one conditional network can")
        stylizer.set_style({style: 1.0 - blend, blend_with: blend})
    return stylizer


def check_fraction(name: str, value: object) -> None:
    """Refuse anything but a number from 0 to 1 (NaN, strings, bools) with a StyleAppError."""
    if not (_finite(value) and 0.0 <= value <= 1.0):
        raise StyleAppError(f"{name} must be a number between 0 and 1, got {value!r}")


def _finite(value: object) -> bool:
    """A real, finite number (not a bool, a string or NaN)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def transfer_luminance(stylized: Image.Image, photo: Image.Image) -> Image.Image:
    """The stylized picture's brightness with the photo's colours (YCbCr), Gatys et al. 2016."""
    y, _, _ = stylized.convert("YCbCr").split()
    _, cb, cr = photo.convert("YCbCr").split()
    return Image.merge("YCbCr", (y, cb, cr)).convert("RGB")
