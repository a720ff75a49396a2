"""The normalization lab: small experiments that show what each norm averages over and what follows.

Three lessons, each computed with the real layers and the shipped networks, never hard-coded:

- the seed tensor, a 2x3x2x2 batch small enough to check by hand, through `make_norm`;
- contrast/brightness sweeps: instance norm divides out a per-channel gain and offset of the photo,
  so its output should barely move; here it is measured, not assumed;
- batch norm with batch statistics: the same photo comes out differently depending on which other
  photos share its batch, which is why feed-forward style transfer prefers instance norm;
- a painting is its norm parameters: in a conditional network each style's per-channel scale and
  shift are all that differ between paintings (Dumoulin et al. 2017).
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from PIL import Image, ImageEnhance

from style_app.degrid import remove_grid
from style_app.models.norms import NORM_KINDS, StyleConditional, make_norm, norm_label, with_batch_statistics
from style_app.models.transformer import TransformerNet
from style_app.errors import StyleAppError
from style_app.style_files import conditional_network, load_network, per_style_keys
from style_app.tools.compare import NormResult, compare_norms
from style_app.images import fit_within, to_image, to_tensor
from style_app.stylizer import cached_stylizer

ADJUSTMENTS = ("contrast", "brightness")


def seed_tensor() -> torch.Tensor:
    """The seed tensor: a batch of two 3-channel 2x2 images; image 2 is image 1 plus 10."""
    img1 = torch.tensor([[[0, 1], [0, 1]], [[2, 3], [2, 3]], [[0, 0], [0, 0]]], dtype=torch.float32)
    return torch.stack([img1, img1 + 10])


@torch.no_grad()
def normalize_seed(kind: str) -> torch.Tensor:
    """The seed tensor through a fresh `make_norm(kind, 3)`; batch norm in training mode, so it
    uses the statistics of this batch."""
    if kind not in NORM_KINDS:
        raise ValueError(f"unknown norm {kind!r}; valid kinds: {', '.join(NORM_KINDS)}")
    return make_norm(kind, 3).train()(seed_tensor())


def stylize_batch(photos: Sequence[Image.Image], style: str, norm: str = "batch",
                  batch_statistics: bool = True, max_size: int | None = None,
                  device: str = "auto") -> list[Image.Image]:
    """Stylize `photos` as one batch (all resized to the first photo's size after `max_size`).

    With `batch_statistics`, batch-norm layers average over this batch instead of using their
    running averages, so each output depends on the other photos. Both ways run the same network
    at the same precision, so any difference between them comes from the statistics alone."""
    if not photos:
        raise ValueError("stylize_batch needs at least one photo")
    stylizer = cached_stylizer(style, norm, device=device)
    first = fit_within(photos[0], max_size)
    batch = torch.cat([to_tensor(p.resize(first.size, Image.Resampling.LANCZOS)) for p in photos])
    net = stylizer.net.with_model(with_batch_statistics(stylizer.model)) if batch_statistics else stylizer.net
    return [to_image(t) for t in remove_grid(net(batch).cpu())]  # as Stylizer.run serves them


def compare_with_batch_statistics(image: Image.Image, style: str, max_size: int | None = None,
                                  device: str = "auto") -> list[NormResult]:
    """`compare_norms`, with the batch-norm model run on batch statistics of this photo alone."""
    results = compare_norms(image, style, device=device, max_size=max_size)
    for i, result in enumerate(results):
        if result.norm == "batch":
            start = time.perf_counter()
            out = stylize_batch([image], style, "batch", True, max_size, device)[0]
            results[i] = NormResult("batch", out, time.perf_counter() - start)
    return results


def adjust(image: Image.Image, contrast: float = 1.0, brightness: float = 1.0) -> Image.Image:
    """The photo with its contrast (around its mean grey) and brightness (a gain) rescaled."""
    image = ImageEnhance.Contrast(image).enhance(contrast)
    return ImageEnhance.Brightness(image).enhance(brightness)


def output_change(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two same-sized pictures, in 0-255 grey levels."""
    return float((to_tensor(a) - to_tensor(b)).abs().mean() * 255)


def sensitivity(image: Image.Image, style: str, adjustment: str, factors: Sequence[float],
                max_size: int | None = 256, device: str = "auto") -> list[dict]:
    """How far each norm's output moves when the photo's `adjustment` is scaled by each factor:
    rows of {norm, factor, change} with change measured against the unadjusted photo's output."""
    if adjustment not in ADJUSTMENTS:
        raise ValueError(f"unknown adjustment {adjustment!r}; choose one of {', '.join(ADJUSTMENTS)}")
    photo = fit_within(image, max_size)
    reference = {r.norm: r.image for r in compare_norms(photo, style, device=device)}
    rows = []
    for factor in factors:
        for r in compare_norms(adjust(photo, **{adjustment: factor}), style, device=device):
            rows.append({"norm": norm_label(r.norm), "factor": float(factor),
                         "change": output_change(r.image, reference[r.norm])})
    return rows


def norm_layers(model: TransformerNet) -> dict[str, int]:
    """Each conditional norm layer's name and channel count, in network order."""
    return {name: m.weight.shape[1] for name, m in model.named_modules() if isinstance(m, StyleConditional)}


def style_network(norm: str) -> tuple[TransformerNet, dict]:
    """The conditional `norm` network with every style added to it, or a StyleAppError."""
    path = conditional_network(norm)
    if path is None:
        raise StyleAppError(f"no conditional {norm_label(norm)} network here: its styles share no network")
    return load_network(path)


def style_parameters(model: TransformerNet, styles: list[str], layer: str) -> list[dict]:
    """Rows of {style, channel, scale, shift}: each style's norm parameters in `layer`."""
    module = model.get_submodule(layer)
    if not isinstance(module, StyleConditional):
        raise StyleAppError(f"{layer!r} is not a conditional norm layer; choose one of {', '.join(norm_layers(model))}")
    scales, shifts = module.weight.detach().tolist(), module.bias.detach().tolist()
    return [{"style": style, "channel": c, "scale": scale, "shift": shift}
            for style, row_scales, row_shifts in zip(styles, scales, shifts)
            for c, (scale, shift) in enumerate(zip(row_scales, row_shifts))]


def style_share(model: TransformerNet) -> tuple[int, int]:
    """(numbers that belong to one style, numbers all styles share): a painting's whole footprint."""
    per_style = sum(model.state_dict()[key].shape[1] for key in per_style_keys(model)
                    if not key.endswith(("running_mean", "running_var")))
    return per_style, sum(p.numel() for p in model.parameters()) - per_style * model.num_styles
