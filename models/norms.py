"""Normalization layers chosen by name, so any block can swap its norm with one argument.

`NORMS` is the one table of the kinds: name, label, and what each averages over. `make_norm`
builds any of them; with `num_styles` > 1 every kind becomes conditional (Dumoulin et al. 2017):
the statistics are shared, the scale and shift are chosen per style, so one network holds
several styles.

Two switches change where the statistics come from, for callers that need it:
`recorded_statistics` (per-image norms reuse statistics recorded on another input) and
`with_batch_statistics` (batch norms use the current batch's statistics, as in training).
"""
from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .names import COMPARED_NORMS, NORM_KINDS, NORMS, NormKind, norm_label  # noqa: F401 (public names here)

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


class WholeImageStats:
    """A per-image norm (instance, layer, group) whose statistics can be recorded on one input
    and reused for later ones; `recorded_statistics` is the interface."""

    _recording: bool = False
    #: (mean, var), each (N, groups) in fp32; when set, used instead of the input's own statistics.
    _recorded: tuple[torch.Tensor, torch.Tensor] | None = None

    def normalize(self, x: torch.Tensor, groups: int) -> torch.Tensor:
        if self._recorded is not None and not self._recording:
            return normalize_with(x, *self._recorded, self.weight, self.bias, self.eps)
        if self._recording:
            n = x.shape[0]
            var, mean = torch.var_mean(x.float().reshape(n, groups, -1), dim=2, unbiased=False)
            self._recorded = (mean, var)
        # the GroupNorm kernel keeps bf16 and channels_last as they come (no conversion copies)
        if (torch.is_grad_enabled() and x.device.type == "cpu" and x.dtype == torch.bfloat16
                and x.dim() == 4 and not x.is_contiguous()):
            return ChannelsLastGroupNorm.apply(x, groups, self.weight, self.bias, self.eps)
        return F.group_norm(x, groups, self.weight, self.bias, self.eps)


@contextlib.contextmanager
def recorded_statistics(model: nn.Module, record: Callable[[], object]) -> Iterator[None]:
    """Within the block, every instance, layer and group norm of `model` normalizes with the
    statistics it saw while `record()` ran (which must call `model` once), instead of each
    input's own. Lets parts of a picture share the statistics of the whole. Batch norm in eval
    mode uses its running statistics and is unaffected."""
    norms = [m for m in model.modules() if isinstance(m, WholeImageStats)]
    try:
        for m in norms:
            m._recorded, m._recording = None, True
        record()
        for m in norms:
            m._recording = False
        yield
    finally:
        for m in norms:
            m._recorded, m._recording = None, False


def with_batch_statistics(model: nn.Module) -> nn.Module:
    """A copy of `model` whose batch norms normalize with the statistics of the batch they are
    given, as in training, even in eval mode. `model` itself is untouched, so this is safe while
    it serves other requests."""
    private = copy.deepcopy(model)
    for layer in private.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            # with no running buffers, batch norm uses batch statistics even in eval mode
            layer.track_running_stats = False
            layer.running_mean = layer.running_var = layer.num_batches_tracked = None
    return private


class ChannelsLastGroupNorm(torch.autograd.Function):
    """F.group_norm for bf16 channels_last input on the CPU whose backward runs on contiguous
    copies, because the kernel's own channels_last bf16 backward is several times slower
    (docs/performance.md)."""

    @staticmethod
    def forward(ctx, x, groups, weight, bias, eps):
        n, c, h, w = x.shape
        y, mean, rstd = torch.native_group_norm(x, weight, bias, n, c, h * w, groups, eps)
        ctx.save_for_backward(x, weight, mean, rstd)
        ctx.groups = groups
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight, mean, rstd = ctx.saved_tensors
        n, c, h, w = x.shape
        dx, dw, db = torch.ops.aten.native_group_norm_backward(
            grad.contiguous(), x.contiguous(), mean, rstd, weight, n, c, h * w, ctx.groups,
            [ctx.needs_input_grad[0], weight is not None and ctx.needs_input_grad[2],
             weight is not None and ctx.needs_input_grad[3]])
        if dx is not None:
            dx = dx.contiguous(memory_format=torch.channels_last)
        return dx, None, dw, db, None


def normalize_with(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, weight: torch.Tensor | None,
                   bias: torch.Tensor | None, eps: float) -> torch.Tensor:
    """Group normalization of `x` (N, C, H, W) with given per-(image, group) statistics."""
    n, c = x.shape[:2]
    scale = torch.rsqrt(var + eps).repeat_interleave(c // mean.shape[1], dim=1)
    shift = -mean.repeat_interleave(c // mean.shape[1], dim=1) * scale
    if weight is not None:
        scale, shift = scale * weight, shift * weight + bias
    return x * scale.view(n, c, 1, 1).to(x.dtype) + shift.view(n, c, 1, 1).to(x.dtype)


class InstanceNorm(WholeImageStats, nn.InstanceNorm2d):
    """nn.InstanceNorm2d (same parameters and state dict), computed as a group norm with one
    channel per group: in bf16 and channels_last without the casts and copies InstanceNorm2d
    makes there (its output under autocast is contiguous, forcing a copy before each conv)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalize(x, self.num_features)


class GroupNorm(WholeImageStats, nn.GroupNorm):
    """nn.GroupNorm whose statistics can be recorded and reused (layer norm is 1 group)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalize(x, self.num_groups)


class PerStyleBatchNorm(nn.BatchNorm2d):
    """Affine-free batch norm with running statistics per style. In a conditional network the
    shared layers' activations differ from style to style, so one set of running statistics would
    fit none of them; training (one style per step) updates the selected style's row, inference
    uses the style mix's weighted statistics."""

    def __init__(self, num_channels: int, num_styles: int, **kw):
        super().__init__(num_channels, affine=False, **kw)
        self.running_mean = self.running_mean.repeat(num_styles, 1)
        self.running_var = self.running_var.repeat(num_styles, 1)

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        if self.running_mean is None:  # with_batch_statistics: the batch's own statistics
            return F.batch_norm(x, None, None, None, None, True, 0.0, self.eps)
        if self.training:
            self.num_batches_tracked += 1
            style = int(mix.argmax())
            return F.batch_norm(x, self.running_mean[style], self.running_var[style], None, None, True,
                                self.momentum, self.eps)
        mean = (mix[:, None] * self.running_mean).sum(0)
        var = (mix[:, None] * self.running_var).sum(0)
        return F.batch_norm(x, mean, var, None, None, False, 0.0, self.eps)


class StyleConditional(nn.Module):
    """Conditional normalization (Dumoulin et al. 2017): one affine-free norm shared by all styles,
    then the scale and shift of the selected style. `mix` weights the styles: one-hot selects one,
    anything in between blends them."""

    def __init__(self, norm: nn.Module, num_channels: int, num_styles: int):
        super().__init__()
        self.norm = norm
        self.weight = nn.Parameter(torch.ones(num_styles, num_channels))
        self.bias = nn.Parameter(torch.zeros(num_styles, num_channels))
        mix = torch.zeros(num_styles)  # one-hot, style 0 (F.one_hot on the meta device loads torch._dynamo: 1-2 s)
        mix[0] = 1.0
        self.register_buffer("mix", mix, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(x, self.mix) if isinstance(self.norm, PerStyleBatchNorm) else self.norm(x)
        # weighted sums elementwise, not as a matmul: stays fp32 under autocast
        scale = (self.mix[:, None] * self.weight).sum(0).view(1, -1, 1, 1).to(y.dtype)
        shift = (self.mix[:, None] * self.bias).sum(0).view(1, -1, 1, 1).to(y.dtype)
        return y * scale + shift


def style_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every conditional norm layer's per-style scale and shift: all that tells one style from another."""
    return [p for m in model.modules() if isinstance(m, StyleConditional) for p in (m.weight, m.bias)]


def make_norm(kind: str, num_channels: int, num_styles: int = 1, **kw) -> nn.Module:
    """Build the normalization layer `kind` for `num_channels` channels; with `num_styles` > 1, a
    StyleConditional one.

    `kw` is passed to the underlying torch layer (e.g. `eps`, `momentum`; `num_groups` for group).
    """
    if num_styles > 1 and kind != "none":
        norm = (PerStyleBatchNorm(num_channels, num_styles, **kw) if kind == "batch"
                else make_norm(kind, num_channels, affine=False, **kw))
        return StyleConditional(norm, num_channels, num_styles)
    if kind == "instance":
        # affine, and no running stats: per-image statistics in eval mode too (Ulyanov et al. 2016)
        return InstanceNorm(num_channels, **{"affine": True, **kw}, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(num_channels, **kw)
    if kind == "layer":
        # GroupNorm with one group == LayerNorm([C, H, W]) for any H, W, with per-channel affine
        return GroupNorm(1, num_channels, **kw)
    if kind == "group":
        num_groups = kw.pop("num_groups", None) or group_count(num_channels)
        return GroupNorm(num_groups, num_channels, **kw)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; valid kinds: {', '.join(NORM_KINDS)}")
