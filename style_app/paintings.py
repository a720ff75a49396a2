"""What we know about the paintings the zoo was trained on (and a few more), keyed by the file's slug."""
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
