"""Perceptual losses (Johnson et al. 2016), normalized so one set of weights fits any VGG.

VGG activations differ in scale by orders of magnitude between weight releases (VGG-16 weights
converted from Caffe give far larger activations than torchvision's). Each term is therefore
relative: the content loss is ||F(y) - F(x)||^2 / ||F(x)||^2 and the style loss of a layer is
||G(y) - G(s)||^2 / ||G(s)||^2, averaged over the style layers. Both are scale-free, so the
same content/style/tv weights work whatever weights the loss network has, and a style loss of
1.0 means "as far from the painting's statistics as the painting's statistics are from zero".
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from style_app.models.vgg import VGGFeatures
from style_app.measures import local_luminance_variance, luminance

STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
CONTENT_LAYERS = ("relu2_2", "relu3_3")
#: gram: match channel correlations (Gatys, Johnson); sliced: match each picture's whole
#: distribution of feature vectors along random directions (sliced Wasserstein, Heitz et al. 2021);
#: sliced-batch: match the batch's vectors pooled, so no one photo has to hold all of the painting's
#: colours (matched per picture, a snowfield must paint the painting's darks somewhere: droplets);
#: sliced-tiles: match each region of each picture (TILES x TILES of them), so that a flat area must
#: hold the painting's texture rather than one of its colours as a smooth patch (a glow);
#: sliced-texture: sliced-batch for the colours, plus what varies inside each REGION_PX square of each
#: picture (its features less the square's mean) matched to what varies inside the painting's squares:
#: a flat area may take any of the painting's colours but must carry its brushwork, so a jump between
#: two of its colours there is broken into strokes instead of drawn as one smooth contour (a glow).
STYLE_LOSSES = ("gram", "sliced", "sliced-batch", "sliced-tiles", "sliced-texture")
SLICES = 32             # random directions per layer and step (sliced loss)
SLICE_POSITIONS = 16384  # feature vectors per image compared (sliced loss): a random subset
TILES = 4               # regions per side of a picture (sliced-tiles)
REGION_PX = 64          # side in image pixels of the squares whose texture sliced-texture matches
GRAM_LAYERS = ("relu3_3", "relu4_3")


def gram(features: torch.Tensor) -> torch.Tensor:
    """Channel correlations (N, C, C), normalized by C*H*W, computed in fp32."""
    n, c, h, w = features.shape
    f = features.float().reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def gram_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample relative distance of the features' Gram matrices to a target Gram matrix (1, C, C)."""
    return relative_mse(gram(features), target.expand(len(features), -1, -1))


def relative_mse(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample ||x - target||^2 / ||target||^2 (shape (N,))."""
    return _over_target((x.float() - target.float()).pow(2), target)


def _over_target(squared_error: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample sum of a squared error over the target's squared norm (shape (N,))."""
    dims = tuple(range(1, target.dim()))
    return squared_error.sum(dims) / target.float().pow(2).sum(dims).clamp_min(torch.finfo(torch.float32).tiny)


def stronger_contours(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample ||relu(|x| - |target|)||^2 / ||target||^2: like relative_mse, but only where x bends
    more sharply than the target. A contour the photo does not have (a droplet, a glow) pays; a
    contour painted softer than the photo's (a dark figure on a darkened field) does not, so the
    network is not paid to redraw it with a pale band (a halo)."""
    return _over_target((x.float().abs() - target.float().abs()).clamp_min(0).pow(2), target)


def sample_positions(features: torch.Tensor, count: int = SLICE_POSITIONS) -> torch.Tensor:
    """(..., C, H, W) features -> at most `count` feature vectors (a random subset, drawn from the
    global RNG so a resumed run draws the same): (..., C, P)."""
    flat = features.flatten(-2)
    if flat.shape[-1] <= count:
        return flat
    return flat[..., torch.randperm(flat.shape[-1])[:count].to(flat.device)]


def regions(features: torch.Tensor, size: int) -> torch.Tensor:
    """(N, C, H, W) features -> (N * R, C, size, size): each picture's square regions, row by row,
    as pictures of their own (edge rows and columns that do not fill a square are cut)."""
    n, c, h, w = features.shape
    size = max(min(size, h, w), 1)
    rows, cols = h // size, w // size
    cut = features[..., :rows * size, :cols * size].reshape(n, c, rows, size, cols, size)
    return cut.permute(0, 2, 4, 1, 3, 5).reshape(n * rows * cols, c, size, size)


def tiles(features: torch.Tensor, per_side: int = TILES) -> torch.Tensor:
    """Square regions, per_side of them along the shorter side of each picture (sliced-tiles)."""
    return regions(features, min(features.shape[-2:]) // per_side)


def texture(features: torch.Tensor, size: int) -> torch.Tensor:
    """Square regions of `size` feature pixels, each less its own mean: what varies inside a region
    (strokes, grain), not which colour it holds."""
    r = regions(features.float(), size)
    return r - r.mean((-2, -1), keepdim=True)


def sorted_projections(features: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Feature vectors (..., C, P) projected on (C, K) directions, sorted per direction: (..., K, P)."""
    return (directions.T @ features.float()).sort(dim=-1).values


def sliced_wasserstein(projected: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample relative squared distance between sorted projections (N, K, P) and the target's
    (K, Q), the target resampled to P quantiles (so the painting may have any size)."""
    if target.shape[-1] != projected.shape[-1]:
        target = F.interpolate(target[None], size=projected.shape[-1], mode="linear", align_corners=True)[0]
    err = (projected - target).pow(2).mean((1, 2))
    return err / target.pow(2).mean().clamp_min(torch.finfo(torch.float32).tiny)


LAPLACIAN_POOL = 4  # the Laplacian loss compares structure coarser than this many pixels (Li et al. 2017)
LAPLACIAN_SIDE = 3  # pixels a pooled image needs per side for the 3x3 Laplacian
LAPLACIAN_POOLS = (4, 8, 16)  # train's default scales: 4 alone misses large soft patches (docs/quality.md, S3)
#: How the Laplacian term prices a picture's contours against its photo's: both: any difference;
#: stronger: only contours stronger than the photo's (no halos round softened edges, docs/quality.md).
LAPLACIAN_MODES = {"both": relative_mse, "stronger": stronger_contours}


def laplacian(images: torch.Tensor, pool: int = LAPLACIAN_POOL) -> torch.Tensor:
    """The 3x3 Laplacian of each channel of the images average-pooled by `pool`: where the light
    bends (edges, contours), zero on flat areas and smooth gradients."""
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], device=images.device)
    pooled = F.avg_pool2d(images.float(), pool)
    return F.conv2d(pooled, kernel.expand(images.shape[1], 1, 3, 3), groups=images.shape[1])


def luma_std(images: torch.Tensor, window: int = 0) -> torch.Tensor:
    """Standard deviation of the luminance: how contrasty each picture is, (N,); with `window`,
    inside each window x window square, (N, H // window, W // window). A smooth bright field raises
    a whole picture's spread but not a square's: only darks and lights drawn side by side do."""
    if not window:
        return luminance(images).flatten(1).std(1)
    return (local_luminance_variance(images, window) + 1e-6).sqrt()  # finite gradient on a flat square


def paleness(stylized_std: torch.Tensor, photo_std: torch.Tensor) -> torch.Tensor:
    """Per-sample hinge: (1 - stylized contrast / photo contrast)^2 where the picture is paler than
    its photo, 0 where it is as contrasty or more. The painting's darks are the first thing a
    colour-matching loss gives up (docs/quality.md); this keeps the photo's tonal range."""
    return (1 - stylized_std / photo_std.clamp_min(1e-3)).clamp_min(0).pow(2)


TONE_POOL = 8  # the tone term compares the light and dark of areas this many pixels wide, not strokes


def coarse_luma(images: torch.Tensor, pool: int = TONE_POOL) -> torch.Tensor:
    """Each picture's luminance average-pooled by `pool`, less its mean: (N, H // pool * W // pool)."""
    luma = F.avg_pool2d(luminance(images).unsqueeze(1), pool).flatten(1)
    return luma - luma.mean(1, keepdim=True)


def tone_paleness(stylized: torch.Tensor, photo_tones: torch.Tensor) -> torch.Tensor:
    """Per-sample `paleness` of the picture's coarse luminance along its photo's (`photo_tones`:
    `coarse_luma` of the photo): its spread in the photo's direction, cov(picture, photo) / std(photo),
    against the photo's std. 0 when the picture keeps the photo's lights and darks at full strength; a
    field the photo does not have (a bright middle framed by dark, C28) lowers it not at all, however
    much it adds to the picture's spread."""
    photo_std = photo_tones.pow(2).mean(1).sqrt()
    spread = (coarse_luma(stylized) * photo_tones).mean(1) / photo_std.clamp_min(1e-3)
    return paleness(spread, photo_std)


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels, per sample."""
    dx = (images[..., :, 1:] - images[..., :, :-1]).float().pow(2).mean((1, 2, 3))
    dy = (images[..., 1:, :] - images[..., :-1, :]).float().pow(2).mean((1, 2, 3))
    return dx + dy


#: PerceptualLoss's terms, named as TrainConfig and the CLI name them (style_app.training.config holds
#: their defaults): the loss a network was trained with, which --resume must match and add-style takes
#: from its base.
LOSS_SETTINGS = ("content_layer", "content_weight", "style_weight", "tv_weight", "style_loss", "style_layers",
                 "laplacian_weight", "laplacian_pools", "texture_weight", "gram_weight", "gram_layers",
                 "contrast_weight", "mean_colour_weight", "contrast_window", "tone_weight", "laplacian_mode",
                 "palette_weight")


class PerceptualLoss(nn.Module):
    """Content + style + total-variation loss against one style image; optionally a Laplacian term
    (keep the photo's coarse contours) and, beside a sliced style loss, a Gram term (each picture's
    channel correlations: the pooled sliced losses let one picture of the batch miss them), on all
    style layers or some (the deep ones ask each picture for the painting's texture, not its colours),
    a contrast term (no picture, or with `contrast_window` no square of it, paler than its photo's) and
    a mean-colour term (the batch's mean colour is the painting's: the content loss otherwise keeps each
    picture as light as its photo) and a tone term (each picture keeps its photo's coarse lights and darks
    at full strength: the contrast the photo has, drawn where the photo has it) and a palette term (the
    batch's RGB pixels, pooled, distributed as the painting's: its colour masses, not only its mean)."""

    def __init__(self, vgg: VGGFeatures, style_image: torch.Tensor, terms: Mapping[str, Any]):
        """`terms`: a value for every name of LOSS_SETTINGS (style_app.training.config.loss_terms, or
        its JOHNSON_TERMS); a weight of 0 leaves that term out."""
        missing = set(LOSS_SETTINGS) - set(terms)
        if missing:
            raise ValueError(f"loss terms missing: {', '.join(sorted(missing))}")
        content_layer, style_loss, gram_layers, style_layers = (terms[k] for k in (
            "content_layer", "style_loss", "gram_layers", "style_layers"))
        gram_weight, laplacian_mode = terms["gram_weight"], terms["laplacian_mode"]
        super().__init__()
        if content_layer not in CONTENT_LAYERS:
            raise ValueError(f"content layer must be one of {', '.join(CONTENT_LAYERS)}")
        if style_loss not in STYLE_LOSSES:
            raise ValueError(f"style loss must be one of {', '.join(STYLE_LOSSES)}")
        if gram_weight and style_loss == "gram":
            raise ValueError("a Gram term goes beside a sliced style loss; with the Gram loss raise the style weight")
        if laplacian_mode not in LAPLACIAN_MODES:
            raise ValueError(f"Laplacian mode must be one of {', '.join(LAPLACIAN_MODES)}")
        if not gram_layers or set(gram_layers) - set(STYLE_LAYERS):
            raise ValueError(f"Gram layers must be among {', '.join(STYLE_LAYERS)}")
        if not style_layers or set(style_layers) - set(STYLE_LAYERS):
            raise ValueError(f"style layers must be among {', '.join(STYLE_LAYERS)}")
        # relu1_2's statistics are mostly colour: without it the style is texture and the photo keeps
        # its local colour accents where the painting's palette can carry them
        self.style_layers = tuple(name for name in STYLE_LAYERS if name in style_layers)
        self.vgg, self.content_layer, self.kind, self.pools = vgg, content_layer, style_loss, terms["laplacian_pools"]
        self.texture_weight, self.contrast_window = terms["texture_weight"], terms["contrast_window"]
        self.contour_price = LAPLACIAN_MODES[laplacian_mode]
        self.gram_layers = tuple(name for name in STYLE_LAYERS if name in gram_layers)
        optional = {name: terms[f"{name}_weight"] for name in ("laplacian", "gram", "contrast", "mean_colour",
                                                               "tone", "palette")}
        self.weights = {"content": terms["content_weight"], "style": terms["style_weight"], "tv": terms["tv_weight"],
                        **{name: weight for name, weight in optional.items() if weight}}
        self._register_painting_targets(style_image)

    @torch.no_grad()
    def _register_painting_targets(self, style_image: torch.Tensor) -> None:
        """The painting's side of every term in use, computed once: its mean colour and pixels, and
        per style layer its Gram matrix or sampled features (and squares' textures)."""
        if "mean_colour" in self.weights:
            self.register_buffer("painting_mean", style_image.float().mean((0, 2, 3)))
        if "palette" in self.weights:
            self.register_buffer("painting_pixels", sample_positions(style_image[0].float()))
        feats = self.vgg(style_image.float())
        for name in STYLE_LAYERS:
            target = gram(feats[name]) if self.kind == "gram" else sample_positions(feats[name][0].float())
            self.register_buffer(f"target_{name}", target)
        if self.kind == "sliced-texture":
            # each layer's squares: REGION_PX image pixels, in that layer's (strided) feature pixels
            self.region = {name: max(round(REGION_PX * feats[name].shape[-1] / style_image.shape[-1]), 1)
                           for name in STYLE_LAYERS}
            for name in STYLE_LAYERS:  # the painting's squares pooled: (C, P)
                pooled = texture(feats[name], self.region[name]).transpose(0, 1).flatten(1)
                self.register_buffer(f"texture_{name}", sample_positions(pooled[:, None]))
        if "gram" in self.weights:
            for name in self.gram_layers:
                self.register_buffer(f"gram_{name}", gram(feats[name]))

    def style_loss(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-sample style loss of VGG features against the style image's."""
        terms = []
        for name in self.style_layers:
            target = getattr(self, f"target_{name}")
            if self.kind == "gram":
                terms.append(gram_loss(feats[name], target))
            else:  # fresh random directions each call, from the global (checkpointed) RNG
                directions = F.normalize(torch.randn(target.shape[0], SLICES), dim=0).to(target.device)
                terms.append(self._sliced(name, feats[name], directions))
        return torch.stack(terms).mean(0)

    def _sliced(self, name: str, features: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
        """Per-sample sliced Wasserstein style loss of one layer's features, as self.kind says."""
        n = len(features)
        if self.kind == "sliced-tiles":
            vectors = sample_positions(tiles(features), SLICE_POSITIONS // TILES ** 2)  # (N*R, C, P)
        else:
            vectors = sample_positions(features)  # (N, C, P)
        if self.kind in ("sliced-batch", "sliced-texture"):
            vectors = vectors.transpose(0, 1).flatten(1)[None]  # (1, C, N*P): one pooled set
        target = getattr(self, f"target_{name}")
        err = sliced_wasserstein(sorted_projections(vectors, directions), sorted_projections(target, directions))
        err = err.expand(n) if len(err) == 1 else err.view(n, -1).mean(1)  # regions: their mean
        if self.kind == "sliced-texture":
            squares = sample_positions(texture(features, self.region[name]), SLICE_POSITIONS // TILES ** 2)
            local = sliced_wasserstein(sorted_projections(squares, directions),
                                       sorted_projections(getattr(self, f"texture_{name}"), directions))
            err = err + self.texture_weight * local.view(n, -1).mean(1)
        return err

    def palette(self, stylized: torch.Tensor) -> torch.Tensor:
        """Sliced Wasserstein distance of the batch's RGB pixels, pooled, to the painting's, along
        fresh random directions in RGB (the palette ratio's measure, as a loss)."""
        pixels = sample_positions(stylized.float().transpose(0, 1).flatten(1)[:, None])  # (3, P)
        directions = F.normalize(torch.randn(3, SLICES), dim=0).to(stylized.device)
        return sliced_wasserstein(sorted_projections(pixels[None], directions),
                                  sorted_projections(self.painting_pixels, directions))[0]

    @torch.no_grad()
    def photo_targets(self, content: torch.Tensor) -> dict[str, torch.Tensor]:
        """What a stylized picture is compared with from its photo: the photo's VGG features at the
        content layer and, with the Laplacian term, its Laplacians. They do not depend on the
        painting, so a step that trains several paintings on the same photos computes them once."""
        targets = {"content": self.vgg(content, last=self.content_layer)[self.content_layer]}
        if "laplacian" in self.weights:
            targets.update({f"laplacian_{k}": laplacian(content, k) for k in self.pools})
        if "contrast" in self.weights:
            targets["contrast"] = luma_std(content, self.contrast_window)
        if "tone" in self.weights:
            targets["tone"] = coarse_luma(content)
        return targets

    def forward(self, stylized: torch.Tensor, content: torch.Tensor,
                targets: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Batch-mean loss terms and their weighted total; `targets`: `photo_targets(content)`,
        when the caller already has them."""
        targets = self.photo_targets(content) if targets is None else targets
        feats = self.vgg(stylized)
        terms = {"content": relative_mse(feats[self.content_layer], targets["content"]).mean(),
                 "style": self.style_loss(feats).mean(),
                 "tv": total_variation(stylized).mean()}
        if "laplacian" in self.weights:  # new contours where the photo has none: blobs (docs/quality.md)
            terms["laplacian"] = torch.stack([self.contour_price(laplacian(stylized, k), targets[f"laplacian_{k}"]).mean()
                                              for k in self.pools]).mean()
        if "gram" in self.weights:  # each picture's channel correlations too, at the layers chosen
            terms["gram"] = torch.stack([gram_loss(feats[k], getattr(self, f"gram_{k}"))
                                         for k in self.gram_layers]).mean()
        if "contrast" in self.weights:  # the painting's darks kept: no picture (or square) paler than its photo's
            terms["contrast"] = paleness(luma_std(stylized, self.contrast_window), targets["contrast"]).mean()
        if "mean_colour" in self.weights:  # pooled over the batch: a dark photo may stay darker than a light one
            terms["mean_colour"] = relative_mse(stylized.float().mean((0, 2, 3))[None], self.painting_mean[None])[0]
        if "tone" in self.weights:  # the photo's lights and darks as strong, where the photo has them
            terms["tone"] = tone_paleness(stylized, targets["tone"]).mean()
        if "palette" in self.weights:  # pooled like the mean colour: no one photo must hold every colour
            terms["palette"] = self.palette(stylized)
        terms["total"] = sum(self.weights[k] * v for k, v in terms.items())
        return terms
