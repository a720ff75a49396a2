"""Batch norm's running statistics, measured again once training ends ("precise BN": Wu and
Johnson 2021, "Rethinking 'Batch' in BatchNorm").

During training a batch-norm network normalizes with the statistics of each batch (4 crops of
256 px) and keeps, for inference, an exponential average of them taken while the weights were
still moving. People stylize whole photos at 512 px and more, whose activations have other
statistics than those of small crops, so in eval mode every layer is off by a little and the
errors add up: the shipped BN network drew cyan and white blobs on snow and skin that the same
weights do not draw with statistics measured again on whole photos at the output size. So after
training, each style's running statistics become the mean, over batches of whole photos at that
size, of the batch statistics the network normalizes with in training, with its final weights.
"""
from __future__ import annotations

import os
from collections.abc import Iterable

import torch
from torch import nn

from style_app.errors import TrainingError
from style_app.images import list_images
from style_app.models.norms import PerStyleBatchNorm
from style_app.training.data import ContentImages
from style_app.weights import is_added_style, load_model, read_metadata, save_model

SIZE = 512  # the UI's default output size, and evaluate's
PHOTOS = 64  # 16 batches of 4: the averages move by well under 1% beyond this
BATCH = 4  # photos per batch, as in training: the statistics training normalized with


def batch_norm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The model's batch-norm layers that keep running statistics."""
    return [m for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None]


def calibration_photos(content_dir: str | os.PathLike, size: int = SIZE, count: int = PHOTOS) -> torch.Tensor:
    """`count` photos spread over the folder, each its centre square at `size` px (N, 3, size, size)."""
    paths = list_images(content_dir)
    return ContentImages(paths[::max(len(paths) // count, 1)][:count], size).centre_crops()


@torch.no_grad()
def recalibrate(model: nn.Module, photos: torch.Tensor, styles: Iterable[int] | None = None,
                batch_size: int = BATCH) -> int:
    """Set the running statistics of every batch norm of `model` (for a conditional network: of
    each style in `styles`, default all; the others keep theirs) to the mean of the batch
    statistics over `photos` in batches of `batch_size`. Returns the number of layers set."""
    layers = batch_norm_layers(model)
    if not layers:
        return 0
    sums: dict[nn.Module, list[torch.Tensor]] = {}

    def record(layer: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        var, mean = torch.var_mean(inputs[0].float(), dim=(0, 2, 3))  # unbiased, as running_var
        total = sums.setdefault(layer, [torch.zeros_like(mean), torch.zeros_like(var)])
        total[0] += mean
        total[1] += var

    conditional = getattr(model, "num_styles", 1) > 1
    styles = list(range(model.num_styles) if styles is None else styles) if conditional else [None]
    device = next(model.parameters()).device
    handles = [layer.register_forward_pre_hook(record) for layer in layers]
    was_training, counts = model.training, [layer.num_batches_tracked.clone() for layer in layers]
    model.train()  # batch statistics, as in training
    try:
        for style in styles:
            sums.clear()
            if style is not None:
                model.set_style(style)
            batches = photos.split(batch_size)
            for batch in batches:
                model(batch.to(device))
            for layer in layers:
                row = style if isinstance(layer, PerStyleBatchNorm) else slice(None)
                layer.running_mean[row] = sums[layer][0] / len(batches)
                layer.running_var[row] = sums[layer][1] / len(batches)
    finally:
        for handle in handles:
            handle.remove()
        for layer, count in zip(layers, counts):
            layer.num_batches_tracked.copy_(count)
        model.train(was_training)
    return len(layers)


def header(photos: torch.Tensor) -> dict:
    """What a network file records of its recalibration: `{"size": 512, "photos": 64}`."""
    return {"size": photos.shape[-1], "photos": photos.shape[0]}


def recalibrate_file(network: str | os.PathLike, content_dir: str | os.PathLike, out: str | os.PathLike,
                     size: int = SIZE, count: int = PHOTOS) -> None:
    """Write `network` to `out` with every style's batch-norm statistics measured again on
    `count` photos of `content_dir` at `size` px. A new file: the recalibrated network has other
    weights' hash, so styles added to the old one stay with the old one. Raises StyleAppError."""
    if is_added_style(read_metadata(network)):
        raise TrainingError(f"{network}: an added style; recalibrate the network it was added to, then add it again")
    model, meta = load_model(network)
    if not batch_norm_layers(model):
        raise TrainingError(f"{network}: {meta['norm']} norm keeps no running statistics; only batch norm does")
    photos = calibration_photos(content_dir, size, count)
    recalibrate(model, photos)
    save_model(model.eval(), out, {**meta, "bn_statistics": header(photos)})
