"""Measure shipped models: how close to the painting (style loss), how faithful to the photo
(content loss), and how fast, on photos the models never saw.

The style loss of an unstylized photo is the baseline: a model's style ratio (stylized /
unstylized) says which fraction of the photo-to-painting distance remains, whatever the VGG.
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from models.vgg import VGGWeightsError, load_vgg
from style_app.data import resize_shorter
from style_app.errors import StyleAppError
from style_app.images import IMAGE_SUFFIXES, fit_within, list_images, open_image, to_tensor
from style_app.losses import PerceptualLoss
from style_app.paintings import painting_paths, slug
from style_app.stylizer import Stylizer
from style_app.weights import ModelInfo, available_models

EVAL_SHORTER_SIDE = 512
STYLE_DIR_ENV = "STYLE_APP_STYLE_DIR"


@dataclass
class ModelScore:
    style: str
    norm: str
    arch: str
    style_loss: float
    content_loss: float
    baseline_style_loss: float
    style_ratio: float
    ms_per_image: float


def find_painting(info: ModelInfo, style_dir: str | os.PathLike | None) -> Path:
    """The painting a model was trained on: <style_dir>/<slug>.*, else the path it was trained from."""
    candidates = [Path(style_dir) / f"{info.style}{suffix}" for suffix in IMAGE_SUFFIXES] if style_dir else []
    trained_from = painting_paths(info.metadata.get("train_config", {}).get("style_image") or [])
    candidates += [Path(p) for p in trained_from if slug(p) == info.style]
    for path in candidates:
        if path.is_file():
            return path
    raise StyleAppError(f"no painting found for style {info.style!r}: pass --style-dir with {info.style}.jpg")


def evaluate(content_dir: str | os.PathLike, style_dir: str | os.PathLike | None = None,
             vgg_weights: str | None = None, limit: int | None = None, device: str = "cpu",
             shorter_side: int = EVAL_SHORTER_SIDE) -> list[ModelScore]:
    """Score every shipped model on the photos in `content_dir` (at `shorter_side` pixels)."""
    models = available_models()
    if not models:
        raise StyleAppError("no models to evaluate in the weights folder")
    paths = list_images(content_dir)[:limit]
    if not paths:
        raise StyleAppError(f"{content_dir}: no photos to evaluate on")
    try:
        vgg = load_vgg(vgg_weights or None)
    except VGGWeightsError as e:
        raise StyleAppError(str(e)) from None
    photos = [to_tensor(resize_shorter(open_image(p), shorter_side)) for p in paths]
    style_dir = style_dir or os.environ.get(STYLE_DIR_ENV)
    scores, losses_by_style = [], {}
    for info in models:
        if info.style not in losses_by_style:
            style_size = int(info.metadata.get("train_config", {}).get("style_size", 512))
            painting = to_tensor(fit_within(open_image(find_painting(info, style_dir)), style_size))
            loss = PerceptualLoss(vgg, painting)
            baseline = statistics.fmean(_style_loss(loss, photo) for photo in photos)
            losses_by_style[info.style] = (loss, baseline)
        loss, baseline = losses_by_style[info.style]
        stylizer = Stylizer.from_file(info.path, device, style=info.style)
        style_values, content_values, seconds = [], [], []
        for photo in photos:
            start = time.perf_counter()
            stylized = stylizer.run(photo)
            seconds.append(time.perf_counter() - start)
            with torch.no_grad():
                terms = loss(stylized, photo)
            style_values.append(terms["style"].item())
            content_values.append(terms["content"].item())
        style_mean = statistics.fmean(style_values)
        scores.append(ModelScore(info.style, info.norm, info.arch, style_mean, statistics.fmean(content_values),
                                 baseline, style_mean / baseline, 1000 * statistics.median(seconds)))
    return scores


@torch.no_grad()
def _style_loss(loss: PerceptualLoss, photo: torch.Tensor) -> float:
    return loss.style_loss(loss.vgg(photo)).mean().item()


def format_table(scores: list[ModelScore]) -> str:
    """A markdown table, one row per model."""
    rows = ["| style | norm | arch | style loss | unstylized | style ratio | content loss | ms/image |",
            "|---|---|---|---:|---:|---:|---:|---:|"]
    rows += [f"| {s.style} | {s.norm} | {s.arch} | {s.style_loss:.4f} | {s.baseline_style_loss:.4f} | "
             f"{s.style_ratio:.3f} | {s.content_loss:.3f} | {s.ms_per_image:.0f} |" for s in scores]
    return "\n".join(rows)


def scores_as_json(scores: list[ModelScore]) -> list[dict]:
    return [asdict(s) for s in scores]
