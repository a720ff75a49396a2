"""Normalization layers chosen by name, so any block can swap its norm with one argument.

What each kind averages over, for activations shaped (N, C, H, W):

    batch     one channel across the whole batch      (N, H, W)  per C
    layer     all channels of one image               (C, H, W)  per N
    instance  one channel of one image                (H, W)     per N, C
    group     a group of channels of one image        (C/G, H, W) per N, G
    none      nothing (identity)
"""
from __future__ import annotations

from torch import nn

NORM_KINDS = ("instance", "batch", "layer", "group", "none")

#: Group norm puts this many channels in each group, so a 32-channel layer gets 4 groups and a
#: 128-channel layer 16: always strictly between layer norm (1 group) and instance norm (C groups).
GROUP_NORM_CHANNELS_PER_GROUP = 8


def group_count(num_channels: int, channels_per_group: int = GROUP_NORM_CHANNELS_PER_GROUP) -> int:
    """Groups for GroupNorm: `channels_per_group` channels each, but never 1 group (= layer norm)
    nor one channel per group (= instance norm) when the layer has at least 4 channels."""
    groups = max(num_channels // channels_per_group, 2)
    while num_channels % groups or groups >= num_channels > 3:
        groups -= 1
    return max(groups, 1)


def make_norm(kind: str, num_channels: int, **kw) -> nn.Module:
    """Build the normalization layer `kind` for `num_channels` channels.

    `kw` is passed to the underlying torch layer (e.g. `eps`, `momentum`; `num_groups` for group).
    """
    if kind == "instance":
        # affine, and no running stats: per-image statistics in eval mode too (Ulyanov et al. 2016)
        return nn.InstanceNorm2d(num_channels, affine=True, track_running_stats=False, **kw)
    if kind == "batch":
        return nn.BatchNorm2d(num_channels, **kw)
    if kind == "layer":
        # GroupNorm with one group == LayerNorm([C, H, W]) for any H, W, with per-channel affine
        return nn.GroupNorm(1, num_channels, **kw)
    if kind == "group":
        num_groups = kw.pop("num_groups", None) or group_count(num_channels)
        return nn.GroupNorm(num_groups, num_channels, **kw)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; valid kinds: {', '.join(NORM_KINDS)}")
