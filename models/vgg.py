"""Frozen VGG-16 features up to relu4_3: the loss network for perceptual losses."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

#: Index of each ReLU we read in `torchvision.models.vgg16().features`.
LAYERS = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22}
#: VGG-16 ("D") up to relu4_3: the widths of its 10 convolutions, and where the max-pools are.
VGG16_WIDTHS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512)
POOL_AFTER = (1, 3, 6)  # conv numbers followed by a 2x2 max-pool
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHTS_ENV = "STYLE_APP_VGG_WEIGHTS"


class VGGWeightsError(RuntimeError):
    """The loss network's weights could not be found or read."""


def vgg_layers(widths: Sequence[int] = VGG16_WIDTHS) -> nn.Sequential:
    """VGG-16's feature layers up to relu4_3, indexed like torchvision's so its state dict loads.

    Other `widths` build a copy with the same structure (a narrow one makes tests fast)."""
    layers: list[nn.Module] = []
    in_ch = 3
    for number, out_ch in enumerate(widths):
        layers += [nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.ReLU(inplace=True)]
        if number in POOL_AFTER:
            layers.append(nn.MaxPool2d(2, 2))
        in_ch = out_ch
    return nn.Sequential(*layers)


def conv_indices() -> list[int]:
    return [i for i, layer in enumerate(vgg_layers((1,) * len(VGG16_WIDTHS))) if isinstance(layer, nn.Conv2d)]


class VGGFeatures(nn.Module):
    """Takes RGB in [0, 1]; returns the activations named in `LAYERS`."""

    def __init__(self, layers: nn.Sequential):
        super().__init__()
        self.layers = layers.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.taps = {index: name for name, index in LAYERS.items()}

    def train(self, mode: bool = True) -> "VGGFeatures":
        return super().train(False)  # always frozen

    def forward(self, x: torch.Tensor, last: str = "relu4_3") -> dict[str, torch.Tensor]:
        """Activations up to and including layer `last` (stopping early saves work)."""
        h = (x - self.mean) / self.std
        out = {}
        for index, layer in enumerate(self.layers[: LAYERS[last] + 1]):
            h = layer(h)
            if index in self.taps:
                out[self.taps[index]] = h
        return out


def load_vgg(weights_path: str | os.PathLike | None = None) -> VGGFeatures:
    """The ImageNet VGG-16, from an explicit safetensors file if given (argument, else env
    STYLE_APP_VGG_WEIGHTS), else torchvision's VGG16_Weights.IMAGENET1K_V1 (downloads once)."""
    weights_path = weights_path or os.environ.get(WEIGHTS_ENV)
    source = str(weights_path or "torchvision VGG16_Weights.IMAGENET1K_V1")
    state = _read_state_file(Path(weights_path)) if weights_path else _torchvision_state()
    try:
        # widths come from the file, so a narrow VGG-16-shaped network loads too
        layers = vgg_layers([state[f"{i}.weight"].shape[0] for i in conv_indices()])
        layers.load_state_dict({k: state[k] for k in layers.state_dict()})
    except (KeyError, RuntimeError) as e:
        raise VGGWeightsError(f"{source}: not a VGG-16 features state dict ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''})") from None
    return VGGFeatures(layers)


def _read_state_file(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise VGGWeightsError(f"{path}: VGG weights file not found")
    try:
        return {k: v.float() for k, v in load_file(str(path)).items()}
    except (SafetensorError, OSError, ValueError) as e:
        raise VGGWeightsError(f"{path}: not a readable safetensors file ({e})") from e


def torchvision_vgg_file() -> bytes:
    """torchvision's ImageNet VGG-16 features (VGG16_Weights.IMAGENET1K_V1, downloaded once) as the
    bytes of a safetensors file in the vgg16().features layout: the file `load_vgg` reads offline.
    Bytes, so the caller writes them atomically (style_app.files)."""
    from safetensors.torch import save

    state = {k: v.contiguous() for k, v in _torchvision_state().items()}
    return save(state, metadata={"layout": "torchvision.models.vgg16().features state_dict",
                                 "origin": "torchvision VGG16_Weights.IMAGENET1K_V1"})


def _torchvision_state() -> dict[str, torch.Tensor]:
    from torchvision.models import VGG16_Weights, vgg16

    try:
        return vgg16(weights=VGG16_Weights.IMAGENET1K_V1).features.state_dict()
    except Exception as e:  # no network, proxy errors, corrupt cache: all mean "no weights here"
        detail = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise VGGWeightsError(
            "no VGG-16 weights: pass --vgg-weights PATH (or set STYLE_APP_VGG_WEIGHTS) to a "
            "vgg16().features safetensors file (`style-app vgg-weights --out PATH` writes one), "
            "or go online so torchvision can download "
            f"VGG16_Weights.IMAGENET1K_V1 ({type(e).__name__}: {detail})") from e
