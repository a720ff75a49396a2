"""Turn whatever image a user hands us into a safe, upright, 8-bit RGB picture, and back."""
from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from style_app.errors import ImageError, OutputError, first_line
from style_app.files import write_atomically

#: Largest input we decode: 64 megapixels (8000 x 8000). Larger files (and decompression bombs)
#: are refused from their header, before their pixels are decoded. Anything up to the limit is
#: decoded in full (a 24 MP photo is ~72 MB of RGB) and then shrunk by `fit_within` when the caller
#: gives a max size.
MAX_PIXELS = 64_000_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
# MAX_PIXELS is below Pillow's bomb-warning threshold, so its warning (a multi-line message on
# stderr) would only be noise. Set once, globally: catch_warnings() is not thread-safe in a server.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
# Pillow also warns about what it repairs in untrusted files (corrupt EXIF, odd chunks); we decode
# what we can and refuse the rest with an ImageError, so its warnings are only noise on stderr.
warnings.filterwarnings("ignore", module=r"PIL\.")


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
    with _decoding(str(path)), Image.open(path) as image:
        check_pixels(image.size, str(path))
        return to_rgb(image)


@contextlib.contextmanager
def _decoding(name: str) -> Iterator[None]:
    """Turn any failure while decoding untrusted bytes into an ImageError naming the file:
    a broken upload must give a message, never a traceback."""
    try:
        yield
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image file Pillow can read") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{name}: refused, far over the {MAX_PIXELS / 1e6:.0f} megapixel limit "
                         f"(a decompression bomb?)") from None
    except PermissionError:
        raise ImageError(f"{name}: permission denied") from None
    except Exception as e:  # Pillow's decoders raise many types on hostile input
        raise ImageError(f"{name}: corrupt or truncated image ({first_line(e)})") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Upright 8-bit RGB from any Pillow mode: 16-bit and float greys are rescaled, not clipped;
    transparency is composited on white; CMYK, palette and 1-bit images are converted.
    A lazily opened file that turns out corrupt raises ImageError."""
    name = getattr(image, "filename", "") or "image"
    with _decoding(name):
        check_pixels(image.size, name)
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
        image = ImageOps.exif_transpose(image)
        if image.mode.startswith("I") or image.mode == "F":
            image = Image.fromarray(_to_uint8(np.asarray(image), image.mode), "L")
        if image.mode == "P":
            image = image.convert("RGBA")
        if image.mode == "La":  # premultiplied grey + alpha, which Pillow cannot convert directly
            grey, alpha = image.split()
            image = Image.merge("RGBa", (grey, grey, grey, alpha))
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


def image_format(path: str | os.PathLike) -> str:
    """Pillow's format for writing `path`, from its extension; OutputError if it has none we write."""
    suffix = Path(path).suffix.lower()
    found = Image.registered_extensions().get(suffix)
    if found not in Image.SAVE:
        raise OutputError(f"{path}: cannot write a {suffix or 'extensionless'} picture; use .png, .jpg or .webp")
    return found


def save_image(image: Image.Image, path: str | os.PathLike, **options: object) -> Path:
    """Encode in memory, then write atomically (style_app.files): a full disk never leaves a
    truncated picture, nor destroys a previous file of that name. Raises OutputError."""
    buffer = io.BytesIO()
    image.save(buffer, image_format(path), **options)
    return write_atomically(path, buffer.getvalue())


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files under `folder`, recursively, sorted (jpg/jpeg/png/webp, any case)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImageError(f"{folder}: no such folder")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
