"""Turn whatever image a user hands us into a safe, upright, 8-bit RGB picture, and back."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from style_app.errors import ImageError

#: Largest input we decode: 64 megapixels (8000 x 8000). Larger files (and decompression bombs)
#: are refused before their pixels are decoded.
MAX_PIXELS = 64_000_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def check_pixels(size: tuple[int, int], name: str = "image") -> None:
    w, h = size
    if w < 1 or h < 1:
        raise ImageError(f"{name}: empty image ({w}x{h})")
    if w * h > MAX_PIXELS:
        raise ImageError(f"{name}: {w}x{h} is {w * h / 1e6:.0f} megapixels; the limit is "
                         f"{MAX_PIXELS / 1e6:.0f} megapixels")


def open_image(path: str | os.PathLike) -> Image.Image:
    """Read an image file: first frame, EXIF orientation applied, RGB. Raises ImageError."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: empty file")
    try:
        with Image.open(path) as image:
            check_pixels(image.size, str(path))
            return to_rgb(image)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file Pillow can read") from None
    except Image.DecompressionBombError as e:
        raise ImageError(f"{path}: refused as a decompression bomb ({e})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(f"{path}: corrupt or truncated image ({e})") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Upright 8-bit RGB from any Pillow mode: 16-bit and float greys are rescaled, not clipped;
    transparency is composited on white; CMYK, palette and 1-bit images are converted."""
    check_pixels(image.size)
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I") or image.mode == "F":
        image = Image.fromarray(_to_uint8(np.asarray(image), image.mode), "L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def _to_uint8(array: np.ndarray, mode: str) -> np.ndarray:
    """Rescale a 16-bit, 32-bit or float grey image to 0-255 by its nominal range."""
    array = array.astype(np.float64)
    if mode.startswith("I;16") or (mode == "I" and array.max() > 255):
        top = 65535.0
    elif mode == "F" and array.max() > 1.0:
        top = float(array.max())
    else:
        top = 1.0 if mode == "F" else 255.0
    return np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image -> float tensor (1, 3, H, W) in [0, 1]."""
    array = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def to_image(tensor: torch.Tensor) -> Image.Image:
    """Tensor (1, 3, H, W) or (3, H, W) in [0, 1] -> RGB PIL image."""
    t = tensor.detach().float().squeeze(0).clamp(0, 1).mul(255).round().to(torch.uint8)
    return Image.fromarray(t.permute(1, 2, 0).cpu().numpy(), "RGB")


def fit_within(image: Image.Image, max_side: int | None) -> Image.Image:
    """Shrink (never enlarge) so the longer side is at most `max_side` pixels."""
    if not max_side or max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files under `folder`, recursively, sorted (jpg/jpeg/png/webp, any case)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"{folder}: no such folder")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
