"""Remove the fine regular grid the style network's decoder leaves in its pictures.

The decoder doubles its resolution twice by nearest-neighbour copies, each followed by a convolution,
so the pixels of each of the 4 x 4 positions modulo 4 are computed with slightly different effective
kernels: a faint period-2 and period-4 grid, seen at 2-3x zoom (`style_app.tools.quality.grid_ratio`
measures it; the encoder's features carry none, docs/quality.md). Training does not remove it.

The grid is a bias of each phase class: nearby, the pixels at one position modulo 4 are a little
lighter or darker than their neighbours as a whole. `remove_grid` estimates that bias with a wide
Gaussian (over about GRID_SIGMA * 4 pixels) and subtracts it, which is a narrow notch filter at
exactly the grid's frequencies: painted strokes and the photo's detail, spread over all frequencies,
are kept.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

GRID_PERIOD = 4    # two stride-2 stages: the grid repeats every 4 pixels
GRID_SIGMA = 10.0  # width of the bias estimate, in periods (40 pixels)
BLUR_SHRINK = 4    # the estimate is smooth: computed on maps this many times smaller


def _blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W) maps, edges replicated."""
    radius = int(3 * sigma)
    taps = torch.arange(-radius, radius + 1, dtype=maps.dtype, device=maps.device)
    kernel = torch.exp(-taps.pow(2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).repeat(maps.shape[1], 1, 1)
    maps = F.conv2d(F.pad(maps, (radius, radius, 0, 0), mode="replicate"), kernel[:, :, None, :], groups=maps.shape[1])
    return F.conv2d(F.pad(maps, (0, 0, radius, radius), mode="replicate"), kernel[:, :, :, None], groups=maps.shape[1])


def remove_grid(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) pictures in [0, 1] without their period-2/4 grid, same shape, in [0, 1]."""
    n, c, height, width = images.shape
    pad_h, pad_w = -height % GRID_PERIOD, -width % GRID_PERIOD
    x = F.pad(images.float(), (0, pad_w, 0, pad_h), mode="replicate")
    # (N, C, P, P, H/P, W/P): the picture split into its P x P phase classes, each a small picture
    phases = x.reshape(n, c, x.shape[-2] // GRID_PERIOD, GRID_PERIOD, x.shape[-1] // GRID_PERIOD, GRID_PERIOD)
    phases = phases.permute(0, 1, 3, 5, 2, 4)
    maps = phases.reshape(n, c * GRID_PERIOD**2, *phases.shape[-2:])
    # the wide blur runs on the maps shrunk BLUR_SHRINK times, then enlarged back: the same smooth
    # estimate at a sixteenth of the cost
    small = F.avg_pool2d(maps, BLUR_SHRINK, ceil_mode=True)
    local = F.interpolate(_blur(small, GRID_SIGMA / BLUR_SHRINK), size=maps.shape[-2:], mode="bilinear",
                          align_corners=False).reshape(phases.shape)
    bias = local - local.mean((2, 3), keepdim=True)  # each phase against all of them, nearby
    out = (phases - bias).permute(0, 1, 4, 2, 5, 3).reshape(x.shape)
    return out[..., :height, :width].clamp(0, 1).to(images.dtype)
