"""Measure style networks on photos they never saw: how close to the painting, how faithful to
the photo, how it looks, and how fast.

Gram style ratio: the relative Gram loss of the stylized picture over that of the unstylized
photo (which fraction of the photo-to-painting distance remains, whatever the VGG). The loss
alone is not enough to judge by (a lower ratio can come with paler, blotchier pictures), so each
row also carries the measures of style_app.tools.quality: palette ratio, luminance contrast ratio,
blob count and grid ratio. Any stylizer's outputs can be scored the same way from a folder (`stylized_dirs`),
which is how a peer tool is compared.
"""
from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from style_app.models.vgg import VGGFeatures, VGGWeightsError, load_vgg
from style_app.tools import quality
from style_app.training.data import resize_shorter
from style_app.errors import ImageError, StyleAppError
from style_app.images import IMAGE_SUFFIXES, fit_within, list_images, open_image, save_image, to_image, to_tensor
from style_app.paintings import check_painting
from style_app.tools.compare import labelled_grid
from style_app.training.config import JOHNSON_TERMS
from style_app.training.losses import PerceptualLoss
from style_app.stylizer import Stylizer
from style_app.weights import ModelInfo, available_models, file_models, read_metadata

EVAL_SHORTER_SIDE = 512
GRID_PHOTOS = 4   # rows of the --grid pictures
GRID_TILE = 320   # their tiles' side in pixels
STYLE_DIR_ENV = "STYLE_APP_STYLE_DIR"
#: Longer side of the painting every model and tool is scored against: one reference for all, so
#: rows compare (the Gram targets depend on the painting's scale), whatever size a model trained at.
PAINTING_SIZE = 512


@dataclass
class ModelScore:
    style: str
    norm: str
    arch: str
    style_loss: float
    content_loss: float
    baseline_style_loss: float
    style_ratio: float
    palette_ratio: float
    contrast_ratio: float
    blobs: float  # mean count per photo (style_app.tools.quality.blob_count)
    grid: float  # mean per photo of style_app.tools.quality.grid_ratio: a fine regular grid pattern
    ms_per_image: float  # NaN for pictures read from a folder
    source: str = ""  # the model file's or the folder's name


def find_painting(info: ModelInfo, style_dir: str | os.PathLike | None) -> Path:
    """The painting a model was trained on: <style_dir>/<slug>.* (a network file keeps its
    paintings' names, not where they lay)."""
    for path in _in_style_dir(info.style, style_dir):
        if path.is_file():
            return path
    raise StyleAppError(f"no painting found for style {info.style!r}: pass --style-dir with {info.style}.jpg")


def _in_style_dir(style: str, style_dir: str | os.PathLike | None) -> list[Path]:
    return [Path(style_dir) / f"{style}{suffix}" for suffix in IMAGE_SUFFIXES] if style_dir else []


class _Judge:
    """The loss network and each painting's targets, built once per style."""

    def __init__(self, vgg: VGGFeatures, photos: list[torch.Tensor]):
        self.vgg, self.photos = vgg, photos
        self.targets: list[dict[str, torch.Tensor]] | None = None  # each photo's, shared by every painting
        self.by_style: dict[str, tuple[PerceptualLoss, float, torch.Tensor]] = {}
        self.columns: dict[str, list[tuple[str, list[torch.Tensor]]]] = {}  # style -> (label, outputs)

    def painting(self, style: str, path: Path) -> tuple[PerceptualLoss, float, torch.Tensor]:
        if style not in self.by_style:
            image = open_image(path)
            check_painting(image, path)
            painting = to_tensor(fit_within(image, PAINTING_SIZE))
            loss = PerceptualLoss(self.vgg, painting, JOHNSON_TERMS)
            baseline = statistics.fmean(_style_loss(loss, photo) for photo in self.photos)
            self.by_style[style] = (loss, baseline, painting[0])
        return self.by_style[style]

    def score(self, style: str, norm: str, arch: str, source: str, painting_path: Path,
              stylized: Iterable[tuple[torch.Tensor, float]]) -> ModelScore:
        """Score the stylized versions of self.photos (with the seconds each took, or NaN)."""
        loss, baseline, painting = self.painting(style, painting_path)
        if self.targets is None:  # every painting's loss has the same content layer: compute once
            self.targets = [loss.photo_targets(photo) for photo in self.photos]
        rows, shown = [], []
        for photo, targets, (out, seconds) in zip(self.photos, self.targets, stylized):
            if len(shown) < GRID_PHOTOS:
                shown.append(out)
            with torch.no_grad():
                terms = loss(out, photo, targets)
            rows.append((terms["style"].item(), terms["content"].item(),
                         quality.palette_ratio(out[0], photo[0], painting),
                         quality.contrast_ratio(out[0], photo[0]), quality.blob_count(out[0], photo[0]),
                         quality.grid_ratio(out[0]), seconds))
        self.columns.setdefault(style, []).append((source if norm == "-" else f"{norm}: {source}", shown))
        style_loss, content, palette, contrast, blobs, grid, seconds = (list(column) for column in zip(*rows))
        style_mean = statistics.fmean(style_loss)
        return ModelScore(style, norm, arch, style_mean, statistics.fmean(content), baseline, style_mean / baseline,
                          statistics.fmean(palette), statistics.fmean(contrast), statistics.fmean(blobs),
                          statistics.fmean(grid),
                          1000 * statistics.median(seconds), source)


    def grid(self, style: str) -> Image.Image:
        """The first GRID_PHOTOS photos (rows): photo, painting (first row), then each scored source."""
        _, _, painting = self.by_style[style]
        header = [("photo", self.photos), ("painting", [painting[None]])] + self.columns[style]
        tiles = [(label if row == 0 else "", _tile(outputs[row] if row < len(outputs) else None))
                 for row in range(min(GRID_PHOTOS, len(self.photos))) for label, outputs in header]
        return labelled_grid(tiles, columns=len(header))


def _tile(image: torch.Tensor | None) -> Image.Image:
    """A (1, 3, H, W) picture fitted into a white GRID_TILE square (blank for None)."""
    tile = Image.new("RGB", (GRID_TILE, GRID_TILE), "white")
    if image is not None:
        picture = fit_within(to_image(image), GRID_TILE)
        tile.paste(picture, ((GRID_TILE - picture.width) // 2, (GRID_TILE - picture.height) // 2))
    return tile


def evaluate(content_dir: str | os.PathLike, style_dir: str | os.PathLike | None = None,
             vgg_weights: str | None = None, limit: int | None = None, device: str = "cpu",
             shorter_side: int = EVAL_SHORTER_SIDE, weights: list[str] | None = None,
             stylized_dirs: list[str] | None = None, grid_dir: str | os.PathLike | None = None) -> list[ModelScore]:
    """Score models on the photos in `content_dir` (at `shorter_side` pixels): the files in
    `weights` (every style each holds), else every shipped model; plus the pictures in each of
    `stylized_dirs` (<dir>/<style>/<photo name>.*, any image format). With `grid_dir`, also write
    <grid_dir>/<style>.jpg: the first photos beside the painting and every scored picture."""
    models = _models(weights) if weights else ([] if stylized_dirs else available_models())
    if not models and not stylized_dirs:
        raise StyleAppError("no models to evaluate in the weights folders")
    paths = list_images(content_dir)[:limit]
    if not paths:
        raise StyleAppError(f"{content_dir}: no photos to evaluate on")
    style_dir = style_dir or os.environ.get(STYLE_DIR_ENV)
    for painting in {find_painting(info, style_dir) for info in models}:  # before any work: learnable paintings
        check_painting(open_image(painting), painting)
    try:
        vgg = load_vgg(vgg_weights or None)
    except VGGWeightsError as e:
        raise StyleAppError(str(e)) from None
    judge = _Judge(vgg, [to_tensor(resize_shorter(open_image(p), shorter_side)) for p in paths])
    scores = []
    for info in models:
        stylizer = Stylizer.from_file(info.path, device, style=info.style)
        scores.append(judge.score(info.style, info.norm, info.arch, info.path.name, find_painting(info, style_dir),
                                  (_timed(stylizer.run, photo) for photo in judge.photos)))
    for folder in stylized_dirs or []:
        scores += _score_folder(judge, Path(folder), paths, style_dir)
    if grid_dir:
        for style in judge.columns:
            save_image(judge.grid(style), Path(grid_dir) / f"{style}.jpg", quality=88)
    return scores


def _models(weights: list[str]) -> list[ModelInfo]:
    """Every style of each given model file."""
    return [info for path in weights for info in file_models(path, read_metadata(path))]


def _timed(run: Callable[[torch.Tensor], torch.Tensor], photo: torch.Tensor) -> tuple[torch.Tensor, float]:
    start = time.perf_counter()
    out = run(photo)
    return out, time.perf_counter() - start


def _score_folder(judge: _Judge, folder: Path, photo_paths: list[Path],
                  style_dir: str | os.PathLike | None) -> list[ModelScore]:
    """Rows for a folder of another tool's outputs: one subfolder per style."""
    if not folder.is_dir():
        raise StyleAppError(f"{folder}: no such folder of stylized pictures")
    scores = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        painting = next((p for p in _in_style_dir(sub.name, style_dir) if p.is_file()), None)
        if painting is None:
            raise StyleAppError(f"no painting found for style {sub.name!r}: pass --style-dir with {sub.name}.jpg")
        outputs = [_read_output(sub, p.stem, photo) for p, photo in zip(photo_paths, judge.photos)]
        scores.append(judge.score(sub.name, "-", folder.name, folder.name, painting,
                                  ((out, math.nan) for out in outputs)))
    return scores


def _read_output(folder: Path, stem: str, photo: torch.Tensor) -> torch.Tensor:
    """<folder>/<stem>.*, resized to the photo's size."""
    for suffix in IMAGE_SUFFIXES:
        if (folder / f"{stem}{suffix}").is_file():
            out = to_tensor(open_image(folder / f"{stem}{suffix}"))
            return F.interpolate(out, size=photo.shape[-2:], mode="bilinear", antialias=True).clamp(0, 1)
    raise ImageError(f"{folder}: no stylized picture for photo {stem}")


@torch.no_grad()
def _style_loss(loss: PerceptualLoss, photo: torch.Tensor) -> float:
    return loss.style_loss(loss.vgg(photo)).mean().item()


def format_table(scores: list[ModelScore]) -> str:
    """A markdown table, one row per model."""
    rows = ["| style | norm | arch | Gram style ratio | palette ratio | contrast ratio | blobs | grid | content loss "
            "| ms/image |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    rows += [f"| {s.style} | {s.norm} | {s.arch} | {s.style_ratio:.3f} | {s.palette_ratio:.3f} | "
             f"{s.contrast_ratio:.3f} | {s.blobs:.1f} | {s.grid:.1f} | {s.content_loss:.3f} | "
             f"{'-' if math.isnan(s.ms_per_image) else f'{s.ms_per_image:.0f}'} |" for s in scores]
    return "\n".join(rows)


def scores_as_json(scores: list[ModelScore]) -> list[dict]:
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(s).items()}
            for s in scores]
