"""The feed-forward style network of Johnson et al. (2016), with a swappable normalization layer.

Reflection padding everywhere; the decoder upsamples with nearest neighbour + convolution instead
of transposed convolutions (no checkerboard artefacts, Odena et al. 2016), and upsamples to the
exact size of the matching encoder stage, so any input size (odd ones too) comes back unchanged.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .names import ZOO_ARCH  # noqa: F401 (public name here)
from .noise import coordinate_noise
from .norms import StyleConditional, make_norm


@dataclass(frozen=True)
class ArchConfig:
    """Widths and depth of the network: stem, middle and bottleneck channels."""

    channels: tuple[int, int, int] = (32, 64, 128)
    res_blocks: int = 5
    edge_kernel: int = 9  # kernel of the first and the last convolution
    # noise planes fed beside the photo: texture to paint where the photo is flat (Ulyanov et al. 2016)
    noise_channels: int = 0

    def to_dict(self) -> dict:
        """As stored in a weights file's header; without noise_channels when there are none, so
        networks without noise keep the header older versions read."""
        d = asdict(self)
        if not self.noise_channels:
            del d["noise_channels"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ArchConfig":
        return cls(channels=tuple(d["channels"]), res_blocks=int(d["res_blocks"]),
                   edge_kernel=int(d["edge_kernel"]), noise_channels=int(d.get("noise_channels", 0)))


ARCHS: dict[str, ArchConfig] = {
    "johnson": ArchConfig(),
    # ~13x fewer parameters (129 k) and ~7x fewer FLOPs: narrow full-resolution layers (they
    # dominate the cost) and 32 channels below, like Magenta's 166 k-parameter network
    "slim": ArchConfig(channels=(16, 32, 32)),
    # the same with a noise plane beside the photo (models/noise.py): strokes where the photo is flat
    "slim-noise": ArchConfig(channels=(16, 32, 32), noise_channels=1),
}


def conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    """Convolution with reflection padding fused into the layer."""
    return nn.Conv2d(in_ch, out_ch, kernel, stride, padding=kernel // 2, padding_mode="reflect")


class ConvNormReLU(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, norm: str, num_styles: int = 1):
        super().__init__(conv(in_ch, out_ch, kernel, stride), make_norm(norm, out_ch, num_styles),
                         nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str, num_styles: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            ConvNormReLU(channels, channels, 3, 1, norm, num_styles),
            conv(channels, channels, 3),
            make_norm(norm, channels, num_styles),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class TransformerNet(nn.Module):
    """Image in [0, 1] -> stylized image in [0, 1] of exactly the same size.

    `num_styles` > 1 makes every norm conditional on the style (style_app.models.norms.StyleConditional):
    the convolutions are shared, `set_style` picks the style or a blend of styles."""

    def __init__(self, norm: str = "instance", arch: str | ArchConfig = "johnson", num_styles: int = 1):
        super().__init__()
        if isinstance(arch, str):
            if arch not in ARCHS:
                raise ValueError(f"unknown arch {arch!r}; valid archs: {', '.join(ARCHS)}")
            arch = ARCHS[arch]
        self.norm, self.arch, self.num_styles = norm, arch, num_styles
        c1, c2, c3 = arch.channels
        self.enc1 = ConvNormReLU(3 + arch.noise_channels, c1, arch.edge_kernel, 1, norm, num_styles)
        self.enc2 = ConvNormReLU(c1, c2, 3, 2, norm, num_styles)
        self.enc3 = ConvNormReLU(c2, c3, 3, 2, norm, num_styles)
        self.res = nn.Sequential(*(ResidualBlock(c3, norm, num_styles) for _ in range(arch.res_blocks)))
        self.dec2 = ConvNormReLU(c3, c2, 3, 1, norm, num_styles)
        self.dec1 = ConvNormReLU(c2, c1, 3, 1, norm, num_styles)
        self.out = conv(c1, 3, arch.edge_kernel)

    def set_style(self, style: int | torch.Tensor) -> None:
        """Select style `style` (an index), or blend styles with weights (num_styles,) summing to 1."""
        if isinstance(style, int):
            if not 0 <= style < self.num_styles:
                raise ValueError(f"style index {style} out of range for {self.num_styles} styles")
            style = F.one_hot(torch.tensor(style), self.num_styles)
        if style.shape != (self.num_styles,) or not torch.isclose(style.float().sum(), torch.tensor(1.0)):
            raise ValueError(f"style weights must be {self.num_styles} numbers summing to 1")
        for module in self.modules():
            if isinstance(module, StyleConditional):
                module.mix.copy_(style)

    def with_noise(self, x: torch.Tensor, origin: tuple[int, int]) -> torch.Tensor:
        """The photo with the noise planes appended (style_app.models.noise): fresh noise in training, the
        fixed coordinate noise from pixel (top, left) = `origin` when serving."""
        shape = (x.shape[0], self.arch.noise_channels, *x.shape[-2:])
        if self.training:  # drawn from the CPU generator, which a checkpoint saves: resume stays exact on CUDA
            noise = torch.rand(shape)
        else:
            noise = coordinate_noise(*shape, origin=origin, device=x.device)
        return torch.cat([x, noise.to(x)], 1)

    def forward(self, x: torch.Tensor, origin: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """`origin`: where `x` lies in a larger picture (a tile's top-left pixel), for the noise planes."""
        height, width = x.shape[-2:]
        smallest = max(self.arch.edge_kernel // 2 + 1, 5)  # reflection padding needs this much
        if height < smallest or width < smallest:
            x = F.pad(x, (0, max(smallest - width, 0), 0, max(smallest - height, 0)), mode="replicate")
            return self.forward(x, origin)[..., :height, :width]
        h1 = self.enc1(self.with_noise(x, origin) if self.arch.noise_channels else x)
        h2 = self.enc2(h1)
        h = self.res(self.enc3(h2))
        h = self.dec2(F.interpolate(h, size=h2.shape[-2:], mode="nearest"))
        h = self.dec1(F.interpolate(h, size=h1.shape[-2:], mode="nearest"))
        return torch.sigmoid(self.out(h))
