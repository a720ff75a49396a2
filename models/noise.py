"""Noise planes beside the photo: texture for the style network to paint where the photo is flat.

A convolutional network that sees only the photo paints a flat region (sky, a wall, snow) one smooth
colour, and a steep tone curve draws the photo's soft light there as a smooth contour: the blobs
and halos of docs/quality.md. Texture networks (Ulyanov et al. 2016) feed noise beside the image
so that strokes can be drawn anywhere. Training draws fresh noise every step; serving uses white
noise that is a fixed function of the pixel coordinates (an integer hash), so a photo always gives
the same picture, the tiles of a large picture read slices of one noise field, and an exported
ONNX graph computes the same field with integer arithmetic for any image size.
"""
from __future__ import annotations

import torch

PRIME = 2**31 - 1  # the hash works modulo this; squares of residues stay below 2**62 (int64)
ROW, COLUMN, CHANNEL = 1_000_003, 7_919, 104_729  # primes spreading coordinates over the residues
ROUNDS = (1_013_904_223, 1_664_525, 22_695_477)  # offsets of the squaring rounds that mix them


def coordinate_noise(batch: int, channels: int, height: int, width: int,
                     origin: tuple[int, int] = (0, 0), device: torch.device | None = None) -> torch.Tensor:
    """Uniform white noise in [0, 1) of shape (batch, channels, height, width) whose value at row r,
    column c is the same for every call that covers (origin[0] + r, origin[1] + c)."""
    top, left = origin
    rows = torch.arange(height, dtype=torch.int64, device=device).view(1, -1, 1) + top
    columns = torch.arange(width, dtype=torch.int64, device=device).view(1, 1, -1) + left
    planes = torch.arange(channels, dtype=torch.int64, device=device).view(-1, 1, 1)
    h = (rows * ROW + columns * COLUMN + planes * CHANNEL + 12_345) % PRIME
    for offset in ROUNDS:
        h = (h * h + offset) % PRIME
    return (h.float() / PRIME).expand(batch, channels, height, width)
