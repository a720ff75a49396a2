"""What we know about the paintings the zoo was trained on (and a few more), keyed by the file's slug."""
from __future__ import annotations

import os
from pathlib import Path

PAINTINGS: dict[str, tuple[str, str, str]] = {
    "starry_night": ("The Starry Night", "Vincent van Gogh", "1889"),
    "great_wave": ("The Great Wave off Kanagawa", "Katsushika Hokusai", "c. 1831"),
    "the_scream": ("The Scream", "Edvard Munch", "1893"),
    "composition_vii": ("Composition VII", "Wassily Kandinsky", "1913"),
    "udnie": ("Udnie", "Francis Picabia", "1913"),
    "shipwreck_minotaur": ("The Shipwreck of the Minotaur", "J. M. W. Turner", "c. 1810"),
    "woman_with_hat": ("Woman with a Hat", "Henri Matisse", "1905"),
    "the_kiss": ("The Kiss", "Gustav Klimt", "1907-08"),
    "water_lilies": ("Water Lilies", "Claude Monet", "1919"),
    "sunday_afternoon": ("A Sunday on La Grande Jatte", "Georges Seurat", "1884-86"),
}


def describe(slug: str) -> dict[str, str]:
    """Title, artist and year of a style; unknown styles get their slug as title."""
    title, artist, year = PAINTINGS.get(slug, (slug.replace("_", " ").title(), "", ""))
    return {"title": title, "artist": artist, "year": year}


def slug(painting_path: str | os.PathLike) -> str:
    """A style's name: its painting file's name, lower case, with underscores."""
    return Path(painting_path).stem.lower().replace("-", "_").replace(" ", "_")


def painting_paths(style_image: str | list[str]) -> list[str]:
    """A training config's `style_image` (one painting or several) as a list of paths."""
    return [style_image] if isinstance(style_image, str) else list(style_image)


#: A painting the networks can learn from: each side at least this many pixels (the loss network
#: halves it three times, and the style loss needs a few feature positions at the last of them).
MIN_PAINTING_SIDE = 32
#: ...and at most this many times longer than it is wide (or the reverse): a thin strip, once shrunk
#: to the style size, is a few pixels across.
MAX_PAINTING_ASPECT = 8
#: Flat: no channel's pixels vary by this much (standard deviation, 0-255 levels).
MIN_PAINTING_STD = 1.0


def check_painting(image: "Image.Image", name: str | os.PathLike, style_size: int | None = None) -> None:
    """Refuse, before any work, a painting the losses cannot learn from: too small, too thin, or
    flat (one colour). One sentence that says what to fix, naming the painting by its file name;
    the UI shows the same. `style_size`: also check the painting as training shrinks it."""
    from PIL import ImageStat

    label = Path(name).name
    w, h = image.size
    if min(w, h) < MIN_PAINTING_SIDE:
        raise _painting_error(f"{label}: the painting is {w}x{h} px; each side must be at least "
                              f"{MIN_PAINTING_SIDE} px, use a larger picture")
    if max(w, h) > MAX_PAINTING_ASPECT * min(w, h):
        raise _painting_error(f"{label}: the painting is {w}x{h} px, more than {MAX_PAINTING_ASPECT} times longer "
                              f"than wide; crop it closer to a square")
    if style_size and max(w, h) > style_size:
        shorter = round(min(w, h) * style_size / max(w, h))
        if shorter < MIN_PAINTING_SIDE:
            raise _painting_error(f"{label}: shrunk to the style size {style_size} px the painting is {shorter} px "
                                  f"across, under {MIN_PAINTING_SIDE} px; raise the style size or crop it closer "
                                  f"to a square")
    factor = -(-max(w, h) // 1024)  # flatness on at most 1024 px a side: no full-size copy
    sample = (image.reduce(factor) if factor > 1 else image).convert("RGB")
    if max(ImageStat.Stat(sample).stddev) < MIN_PAINTING_STD:
        raise _painting_error(f"{label}: the painting is one flat colour, with nothing to learn; use a picture "
                              f"with some variation")


def _painting_error(message: str) -> Exception:
    from style_app.errors import ImageError

    return ImageError(message)
