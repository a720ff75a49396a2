"""Generate the input corpus the reliability tests feed to every entry point.

Every file is made here from Pillow or raw bytes, so the repository holds no binary fixtures and
each case says in code exactly what is odd about it. `BAD` files must be refused with a clear
error naming the file; `ODD` files are unusual but valid and must give an upright RGB picture.
"""
from __future__ import annotations

import io
import json
import pickle
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(side: int = 20000) -> bytes:
    """A 1-bit greyscale PNG of side x side all-black pixels: ~50 kB on disk, 400 MP decoded."""
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def jpeg_bytes(image: Image.Image, **save_kw) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, **save_kw)
    return buffer.getvalue()


def gradient(size: tuple[int, int]) -> Image.Image:
    """A left-to-right red ramp over a top-to-bottom green ramp: orientation is visible in it."""
    w, h = size
    xx, yy = np.meshgrid(np.linspace(0, 255, w), np.linspace(0, 255, h))
    return Image.fromarray(np.stack([xx, yy, np.full_like(xx, 64)], -1).astype(np.uint8), "RGB")


# --- refused files: name -> bytes written to disk (None: the path does not exist) -------------

def _truncated_jpeg() -> bytes:
    """Headers intact, scan data cut: Pillow opens it lazily and fails only when decoding."""
    data = jpeg_bytes(gradient((64, 48)))
    return data[: len(data) * 7 // 10]


def _garbage_chunks_png() -> bytes:
    """Starts like a PNG, then garbage: the signature is right, the chunks are not."""
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + b"\xff" * 40


BAD: dict[str, Callable[[], bytes | None]] = {
    "empty.png": lambda: b"",
    "notes.png": lambda: b"this is a text file, not a picture\n" * 10,
    "truncated.jpg": _truncated_jpeg,
    "garbage_chunks.png": _garbage_chunks_png,
    "bomb.png": bomb_png,  # 400 MP: Pillow itself refuses it at open
    "big.png": lambda: bomb_png(10000),  # 100 MP: opens, refused by our 64 MP limit before decoding
    "missing.jpg": lambda: None,
}


# --- odd but valid files: name -> (writer, upright size) -----------------------------------

@dataclass(frozen=True)
class Odd:
    """How to write the file and what a correct reader must see: size and a few known pixels."""

    write: Callable[[Path], None]
    size: tuple[int, int]
    pixels: dict[tuple[int, int], tuple[int, int, int]]  # (x, y) -> expected RGB, +- tolerance


def _one_pixel(path: Path) -> None:
    Image.new("RGB", (1, 1), RED).save(path)


def _cmyk_jpeg(path: Path) -> None:
    image = Image.new("CMYK", (24, 16), (0, 255, 255, 0))  # pure red in CMYK
    image.paste((255, 255, 0, 0), (12, 0, 24, 16))  # pure blue on the right half
    path.write_bytes(jpeg_bytes(image))


def _grey16_png(path: Path) -> None:
    """A 16-bit grey ramp 0..65535: readers that clip to 8 bits see white almost everywhere."""
    ramp = np.tile(np.linspace(0, 65535, 32).astype(np.uint16), (8, 1))
    Image.fromarray(ramp).save(path)  # mode I;16


def _rgb48_png(path: Path) -> None:
    """A 16-bit-per-channel RGB PNG (mid grey) built from raw bytes: Pillow cannot write one."""
    w, h = 8, 4
    pixel = struct.pack(">HHH", 32768, 0, 65535)  # half red, no green, full blue
    raw = b"".join(b"\x00" + pixel * w for _ in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw))
                     + png_chunk(b"IEND", b""))


def _palette_transparent_png(path: Path) -> None:
    """Palette PNG: index 0 fully transparent (must become white), index 1 opaque red."""
    image = Image.new("P", (16, 8), 0)
    image.putpalette([0, 0, 0, *RED] + [0] * (254 * 3))
    image.paste(1, (8, 0, 16, 8))
    image.save(path, transparency=0)


def _animated_gif(path: Path) -> None:
    """Two frames, red then blue: a reader must give the first."""
    frames = [Image.new("RGB", (20, 10), colour) for colour in (RED, BLUE)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)


def _exif_rotated(orientation: int) -> Callable[[Path], None]:
    """A 40x20 landscape stored with an EXIF orientation tag: upright it is 20x40 portrait."""
    def write(path: Path) -> None:
        image = Image.new("RGB", (40, 20), BLUE)
        image.paste(RED, (0, 0, 20, 20))  # left half red as stored
        exif = Image.Exif()
        exif[0x0112] = orientation
        path.write_bytes(jpeg_bytes(image, exif=exif.tobytes()))
    return write


def _corrupt_exif(path: Path) -> None:
    """An EXIF block whose orientation (6) is readable but whose next entry runs past the end:
    Pillow warns "Corrupt EXIF data" and still applies the orientation."""
    image = Image.new("RGB", (40, 20), BLUE)
    image.paste(RED, (0, 0, 20, 20))
    entry = struct.pack("<HHIHH", 0x0112, 3, 1, 6, 0)  # orientation = 6
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 5) + entry + b"\xff" * 10
    path.write_bytes(jpeg_bytes(image, exif=exif))


ODD: dict[str, Odd] = {
    "one_pixel.png": Odd(_one_pixel, (1, 1), {(0, 0): RED}),
    "cmyk.jpg": Odd(_cmyk_jpeg, (24, 16), {(2, 8): RED, (21, 8): BLUE}),
    "grey16.png": Odd(_grey16_png, (32, 8), {(0, 4): (0, 0, 0), (31, 4): WHITE, (16, 4): (132, 132, 132)}),
    "rgb48.png": Odd(_rgb48_png, (8, 4), {(3, 2): (128, 0, 255)}),
    "palette_alpha.png": Odd(_palette_transparent_png, (16, 8), {(2, 4): WHITE, (12, 4): RED}),
    "animated.gif": Odd(_animated_gif, (20, 10), {(10, 5): RED}),
    # orientation 6: rotate 90 degrees clockwise to view, so the stored left half ends up on top
    "exif6.jpg": Odd(_exif_rotated(6), (20, 40), {(10, 5): RED, (10, 35): BLUE}),
    # orientation 8: rotate 90 degrees counter-clockwise to view, so the stored left half ends at the bottom
    "exif8.jpg": Odd(_exif_rotated(8), (20, 40), {(10, 35): RED, (10, 5): BLUE}),
    "corrupt_exif.jpg": Odd(_corrupt_exif, (20, 40), {(10, 5): RED, (10, 35): BLUE}),
}


#: JPEG is lossy: how far a decoded colour may be from the one we encoded.
TOLERANCE = 12


def assert_colours(image: Image.Image, expected: dict[tuple[int, int], tuple[int, int, int]]) -> None:
    """Each listed pixel is within TOLERANCE of its expected RGB colour."""
    for xy, colour in expected.items():
        got = image.getpixel(xy)
        assert all(abs(g - e) <= TOLERANCE for g, e in zip(got, colour)), f"pixel {xy}: {got}, expected {colour}"


def write_bad(folder: Path, name: str) -> Path:
    """Write one refused file into `folder` (or, for a missing one, nothing) and return its path."""
    data = BAD[name]()
    path = folder / name
    if data is not None:
        path.write_bytes(data)
    return path


def write_odd(folder: Path, name: str) -> Path:
    path = folder / name
    ODD[name].write(path)
    return path


# --- weights files a user might hand us -------------------------------------------------------

class MarkerPayload:
    """A pickle that, if ever unpickled, creates `marker`: proof that loading ran code from a file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def pickle_bytes(marker: Path) -> bytes:
    """A torch.save-style pickle whose loading would create `marker`."""
    return pickle.dumps({"state_dict": MarkerPayload(marker)})


def safetensors_header_lie(real: bytes) -> bytes:
    """A real safetensors file whose JSON header claims its first tensor runs far past the end."""
    (n,) = struct.unpack("<Q", real[:8])
    header = json.loads(real[8:8 + n])
    first = next(k for k in header if k != "__metadata__")
    header[first]["data_offsets"][1] += 10**9
    blob = json.dumps(header).encode()
    return struct.pack("<Q", len(blob)) + blob + real[8 + n:]


#: Headers that lie or are malformed, as metadata changes to a good model file: each must be a
#: one-line WeightsError before anything is built (a deep network took 96 s and 3.5 GB to refuse).
HOSTILE_HEADERS: dict[str, dict[str, str]] = {
    "arch_deep": {"arch_config": '{"channels": [32, 64, 128], "res_blocks": 100000, "edge_kernel": 9}'},
    "arch_wide_within_bounds": {"arch_config": '{"channels": [1024, 1024, 1024], "res_blocks": 64, "edge_kernel": 15}'},
    "arch_float": {"arch_config": '{"channels": [32.5, 64, 128], "res_blocks": 5, "edge_kernel": 9}'},
    "arch_even_kernel": {"arch_config": '{"channels": [32, 64, 128], "res_blocks": 5, "edge_kernel": 8}'},
    "arch_bool": {"arch_config": '{"channels": [32, 64, 128], "res_blocks": true, "edge_kernel": 9}'},
    "arch_noise_many": {"arch_config": '{"channels": [16, 32, 32], "res_blocks": 5, "edge_kernel": 9, "noise_channels": 1000}'},
    "arch_unknown_key": {"arch_config": '{"channels": [16, 32, 32], "res_blocks": 5, "edge_kernel": 9, "dropout": 1}'},
    "deeply_nested": {"final_losses": "[" * 100_000 + "]" * 100_000},
    "styles_a_string": {"styles": '"starry_night"'},
    "styles_repeated": {"styles": '["starry_night", "starry_night"]'},
    "styles_numbers": {"styles": "[1, 2]"},
    "steps_not_a_number": {"steps": "many"},
    "paintings_not_objects": {"paintings": "[1, 2]"},
    "loss_curve_an_object": {"loss_curve": '{"a": 1}'},
}
