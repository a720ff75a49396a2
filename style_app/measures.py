"""Picture measures shared by a training loss and the held-out scores: luminance and its local spread.

They sit in the core, so `training/losses.py` and `tools/quality.py` both build on them and
neither imports the other."""
from __future__ import annotations

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)  # Rec. 601


def luminance(image: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) in [0, 1] -> (..., H, W) luma: one picture or a batch."""
    return torch.einsum("c,...chw->...hw", torch.tensor(LUMA, device=image.device), image.float())


def local_luminance_variance(images: torch.Tensor, window: int) -> torch.Tensor:
    """Variance of the luminance in each window x window square: (..., 3, H, W) -> (..., H // window,
    W // window), one picture or a batch."""
    y = luminance(images)
    flat = y.reshape(-1, 1, *y.shape[-2:])
    variance = (F.avg_pool2d(flat.pow(2), window) - F.avg_pool2d(flat, window).pow(2)).clamp_min(0)
    return variance.reshape(*y.shape[:-2], *variance.shape[-2:])
