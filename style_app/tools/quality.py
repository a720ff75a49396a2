"""Measures of what people see in a stylized picture, for `style-app evaluate`. The training losses
build on two of their parts (style_app.measures); none optimizes these scores as such.

- palette ratio: how far the picture's colours are from the painting's, as a fraction of how far
  the photo's were. Sliced Wasserstein distance between RGB pixel distributions: both images at
  256x256, 64 fixed random directions in RGB, the sorted projections compared (root mean square).
  1 = no closer to the painting's colours than the photo; lower is better.
- contrast ratio: standard deviation of the stylized picture's luminance over the photo's
  (Rec. 601 luma). 1 = as contrasty as the photo; a pale colour grade scores well below 1.
- blobs: smooth spots the network paints into areas that are flat in the photo (walls, sky), pale
  or dark: 16x16-pixel patches flat in the photo and smooth in the picture whose colour is far
  from what the picture's own colour mapping predicts (blob_mask). Counted per image.
- grid: the fine regular grid a network with stride-2 stages can leave, seen at 2-3x zoom. Spectral
  power of the luminance at the frequencies of a 2- and 4-pixel period, over the power at the
  frequencies beside them (grid_ratio): about 1-2 for a photo (a JPEG's 8-pixel blocks give a little),
  tens for a visible grid.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from style_app.degrid import GRID_PERIOD  # the grid the decoder leaves is the grid measured
from style_app.measures import local_luminance_variance, luminance

PALETTE_SIZE = 256
PALETTE_PROJECTIONS = 64
PATCH = 16
FLAT_STD = 0.03      # a photo patch with a luminance standard deviation below this is flat
SMOOTH_STD = 0.03    # ... and a stylized patch below this is smooth (no painted texture)
BLOB_MARGIN = 0.2    # how far (RGB distance) from the predicted colour a patch must be to count


def _directions() -> torch.Tensor:
    """PALETTE_PROJECTIONS fixed unit vectors in RGB (the same for every call and machine)."""
    g = torch.Generator().manual_seed(0)
    d = torch.randn(PALETTE_PROJECTIONS, 3, generator=g)
    return d / d.norm(dim=1, keepdim=True)


def palette_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Sliced Wasserstein distance between the RGB pixel distributions of two (3, H, W) images."""
    def projected(image: torch.Tensor) -> torch.Tensor:
        small = F.interpolate(image[None].float(), size=(PALETTE_SIZE, PALETTE_SIZE), mode="bilinear",
                              antialias=True, align_corners=False)[0].clamp(0, 1)
        return (_directions() @ small.reshape(3, -1)).sort(dim=1).values
    return (projected(a) - projected(b)).pow(2).mean().sqrt().item()


def palette_ratio(stylized: torch.Tensor, photo: torch.Tensor, painting: torch.Tensor) -> float:
    """palette_distance(stylized, painting) / palette_distance(photo, painting)."""
    baseline = max(palette_distance(photo, painting), 1e-6)
    return palette_distance(stylized, painting) / baseline


def contrast_ratio(stylized: torch.Tensor, photo: torch.Tensor) -> float:
    """Luminance standard deviation of the stylized picture over that of the photo."""
    return (luminance(stylized).std() / luminance(photo).std().clamp_min(1e-6)).item()


def blob_mask(stylized: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """(H/PATCH, W/PATCH) bool: blob patches. A blob patch is flat in the photo, smooth in the
    stylized picture, and more than BLOB_MARGIN (RGB distance) away from the colour the picture's
    overall colour mapping predicts for it.

    The mapping is a least-squares quadratic fit from the photo's patch colours to the stylized
    patch colours over the whole picture: it absorbs the colour grade and tone curve, and strokes smaller
    than a patch average out. What remains are smooth patches of a colour painted where the photo
    has nothing to paint: the pale lilac, white or yellow blobs and the dark droplets of per-image
    normalization (StyleGAN2's "droplets"). Painted texture over a flat area is not smooth, so it
    does not count."""
    h, w = (photo.shape[-2] // PATCH) * PATCH, (photo.shape[-1] // PATCH) * PATCH
    src, out = photo[:, :h, :w].float(), stylized[:, :h, :w].float()
    src_mean = F.avg_pool2d(src[None], PATCH)[0]                        # (3, h/P, w/P)
    out_mean = F.avg_pool2d(out[None], PATCH)[0]
    colours = src_mean.reshape(3, -1)
    x = torch.cat([colours, colours.pow(2), torch.ones(1, colours.shape[1])]).T          # (patches, 7)
    target = out_mean.reshape(3, -1).T                                                  # (patches, 3)
    coef = torch.linalg.lstsq(x, target).solution
    residual = (target - x @ coef).T.reshape(out_mean.shape)
    return ((local_luminance_variance(src, PATCH).sqrt() < FLAT_STD)
            & (local_luminance_variance(out, PATCH).sqrt() < SMOOTH_STD)
            & (residual.norm(dim=0) > BLOB_MARGIN))


def blob_count(stylized: torch.Tensor, photo: torch.Tensor) -> int:
    """How many PATCH x PATCH patches blob_mask flags."""
    return int(blob_mask(stylized, photo).sum())


GRID_BESIDE = 3   # the reference frequencies lie this many bins beside each grid frequency


def grid_ratio(image: torch.Tensor) -> float:
    """Spectral power of a (3, H, W) picture's luminance (Hann-windowed) at the grid frequencies (every
    multiple of 1/4 cycle per pixel in either direction, but not (0, 0)), over the mean power of the
    frequencies GRID_BESIDE bins beside each of them: 1 for noise, how many times a grid stands out."""
    period = GRID_PERIOD  # multiples of 1/4 cycle per pixel hold the period-2 and period-4 grid
    y = luminance(image)
    h, w = (y.shape[-2] // period) * period, (y.shape[-1] // period) * period
    y = (y[:h, :w] - y[:h, :w].mean()).double()
    window = torch.outer(torch.hann_window(h, dtype=y.dtype), torch.hann_window(w, dtype=y.dtype))
    power = torch.fft.fft2(y * window).abs().pow(2)  # the window: no leakage from the picture's edges
    grid = [(fy * h // period, fx * w // period) for fy in range(period) for fx in range(period) if fy or fx]
    offsets = [(dy, dx) for dy in (-GRID_BESIDE, 0, GRID_BESIDE) for dx in (-GRID_BESIDE, 0, GRID_BESIDE) if dy or dx]
    at = sum(power[fy, fx] for fy, fx in grid)
    beside = sum(power[(fy + dy) % h, (fx + dx) % w] for fy, fx in grid for dy, dx in offsets) / len(offsets)
    return (at / beside.clamp_min(1e-12)).item()
