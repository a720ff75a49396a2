"""Perceptual losses (Johnson et al. 2016), normalized so one set of weights fits any VGG.

VGG activations differ in scale by orders of magnitude between weight releases (the Caffe
weights in ../shared give far larger activations than torchvision's). Each term is therefore
relative: the content loss is ||F(y) - F(x)||^2 / ||F(x)||^2 and the style loss of a layer is
||G(y) - G(s)||^2 / ||G(s)||^2, averaged over the style layers. Both are scale-free, so the
same content/style/tv weights work whatever weights the loss network has, and a style loss of
1.0 means "as far from the painting's statistics as the painting's statistics are from zero".
"""
from __future__ import annotations

import torch
from torch import nn

from models.vgg import VGGFeatures

STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
CONTENT_LAYERS = ("relu2_2", "relu3_3")


def gram(features: torch.Tensor) -> torch.Tensor:
    """Channel correlations (N, C, C), normalized by C*H*W, computed in fp32."""
    n, c, h, w = features.shape
    f = features.float().reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def relative_mse(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample ||x - target||^2 / ||target||^2 (shape (N,))."""
    dims = tuple(range(1, x.dim()))
    err = (x.float() - target.float()).pow(2).sum(dims)
    return err / target.float().pow(2).sum(dims).clamp_min(torch.finfo(torch.float32).tiny)


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels, per sample."""
    dx = (images[..., :, 1:] - images[..., :, :-1]).float().pow(2).mean((1, 2, 3))
    dy = (images[..., 1:, :] - images[..., :-1, :]).float().pow(2).mean((1, 2, 3))
    return dx + dy


class PerceptualLoss(nn.Module):
    """Content + style + total-variation loss against one style image."""

    def __init__(self, vgg: VGGFeatures, style_image: torch.Tensor, content_layer: str = "relu2_2",
                 content_weight: float = 1.0, style_weight: float = 3.0, tv_weight: float = 10.0):
        super().__init__()
        if content_layer not in CONTENT_LAYERS:
            raise ValueError(f"content layer must be one of {', '.join(CONTENT_LAYERS)}")
        self.vgg, self.content_layer = vgg, content_layer
        self.weights = {"content": content_weight, "style": style_weight, "tv": tv_weight}
        with torch.no_grad():
            feats = vgg(style_image.float())
            for name in STYLE_LAYERS:
                self.register_buffer(f"target_{name}", gram(feats[name]))

    def style_loss(self, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-sample style loss of VGG features against the style image's Grams."""
        terms = [relative_mse(gram(feats[name]), getattr(self, f"target_{name}").expand(
            feats[name].shape[0], -1, -1)) for name in STYLE_LAYERS]
        return torch.stack(terms).mean(0)

    def content_loss(self, feats: dict[str, torch.Tensor], content_feats: dict[str, torch.Tensor]) -> torch.Tensor:
        return relative_mse(feats[self.content_layer], content_feats[self.content_layer])

    def forward(self, stylized: torch.Tensor, content: torch.Tensor) -> dict[str, torch.Tensor]:
        """Batch-mean loss terms and their weighted total."""
        feats = self.vgg(stylized)
        with torch.no_grad():
            content_feats = self.vgg(content, last=self.content_layer)
        terms = {"content": self.content_loss(feats, content_feats).mean(),
                 "style": self.style_loss(feats).mean(),
                 "tv": total_variation(stylized).mean()}
        terms["total"] = sum(self.weights[k] * v for k, v in terms.items())
        return terms
