"""High-resolution inference in overlapping tiles, normalized with whole-image statistics.

Memory grows with the pixels the network sees at once, so a 4096x4096 photo goes through in tiles.
Instance, layer and group norm would normalize each tile by its own statistics, and neighbouring
tiles would then disagree in brightness and texture (seams). Instead the network first runs on a
downscaled copy of the whole picture with its norms recording per-(image, channel/group) mean
and variance (style_app.models.norms.recorded_statistics); every tile is then normalized with those fixed
statistics. Batch norm in eval mode already uses fixed running statistics. Tiles overlap and are
cross-faded with linear ramps, which hides the remaining reflection-padding effects at tile edges.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from style_app.models.norms import recorded_statistics

#: Stylizer tiles images with more pixels than this (2048x2048); below it one pass is faster.
TILE_ABOVE_PIXELS = 2048 * 2048
TILE = 1024  # side of the tiles the network sees
OVERLAP = 128  # pixels shared by neighbouring tiles and cross-faded
STATS_SIDE = 1024  # longer side of the downscaled copy the norm statistics are recorded on

Network = Callable[..., torch.Tensor]  # net(batch) or net(tile, (top, left)), as fastpath.InferenceNet


def whole_image_stats(model: nn.Module, net: Network, image: torch.Tensor,
                      stats_side: int = STATS_SIDE) -> contextlib.AbstractContextManager:
    """Within the block, `model`'s norms use the statistics of `image` (N, 3, H, W), recorded by
    running `net` (which calls `model`) on a copy whose longer side is at most `stats_side`."""
    scale = min(1.0, stats_side / max(image.shape[-2:]))
    small = image if scale == 1.0 else F.interpolate(
        image, size=[max(1, round(s * scale)) for s in image.shape[-2:]], mode="area")
    return recorded_statistics(model, lambda: net(small))


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering [0, length) with tiles of `tile` overlapping by at least `overlap`."""
    if length <= tile:
        return [0]
    count = -(-(length - overlap) // (tile - overlap))  # ceil
    step = (length - tile) / (count - 1)
    return [round(i * step) for i in range(count)]


def ramp(length: int, start: int, tile: int, overlap: int, total: int) -> torch.Tensor:
    """1-D blending weight of a tile: rises over `overlap` pixels at inner edges, 1 elsewhere."""
    w = torch.ones(length)
    edge = torch.linspace(0, 1, overlap + 2)[1:-1]
    if start > 0:
        w[:overlap] = edge
    if start + tile < total:
        w[-overlap:] = edge.flip(0)
    return w


def stylize_tiled(model: nn.Module, net: Network, image: torch.Tensor, tile: int = TILE,
                  overlap: int = OVERLAP, stats_side: int = STATS_SIDE) -> torch.Tensor:
    """`net(image)` computed tile by tile with `model`'s norms fixed to whole-image statistics;
    returns an fp32 CPU tensor. Peak memory is that of one tile plus the input and output."""
    n, _, height, width = image.shape
    out = torch.zeros(n, 3, height, width)
    total = torch.zeros(1, 1, height, width)
    with whole_image_stats(model, net, image, stats_side):
        for top in tile_starts(height, tile, overlap):
            for left in tile_starts(width, tile, overlap):
                h, w = min(tile, height - top), min(tile, width - left)
                result = net(image[..., top:top + h, left:left + w], (top, left)).float().cpu()
                weight = (ramp(h, top, tile, overlap, height)[:, None]
                          * ramp(w, left, tile, overlap, width)[None, :])
                out[..., top:top + h, left:left + w] += result * weight
                total[..., top:top + h, left:left + w] += weight
    return out.div_(total)
