"""The inference fast path: the precision and memory layout a network runs in, chosen per device
by measurement (`style-app bench`, docs/performance.md).

- CPU with native bf16 (AVX512-BF16 / AMX): convolution weights and activations in bf16 and
  channels_last; norm parameters stay fp32 (the group/batch-norm kernels take bf16 input with
  fp32 parameters and accumulate in fp32). bf16 *autocast* is slower here: it re-casts every
  weight on every call and leaves activations in a layout that costs copies.
- anything else: plain fp32, which is faster there. On CUDA that means cuDNN's TF32 convolutions:
  on an H200, bf16 autocast + channels_last ran at 0.71-0.97x of plain fp32 for every norm at
  512-2048 px; on CPUs without native bf16 (and MPS) emulated bf16 is slower.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from style_app.runtime import cpu_has_fast_bf16, memory_format_for


def fast_dtype(device: torch.device) -> torch.dtype | None:
    """The precision the fast path runs on `device`: bf16 on CPUs with native bf16, else None
    (plain fp32: faster on CUDA and on other CPUs, by measurement)."""
    return torch.bfloat16 if device.type == "cpu" and cpu_has_fast_bf16() else None


class InferenceNet:
    """`model` ready to run fast on `device`; called with fp32 NCHW images in [0, 1], returns fp32.

    The model is converted in place (moved, and on bf16 CPUs its convolutions cast), so one copy
    of the weights exists. `fast=False` runs the plain fp32 network (the reference the fast path
    is checked against)."""

    def __init__(self, model: nn.Module, device: torch.device, fast: bool = True):
        self.device = device
        self.dtype = fast_dtype(device) if fast else None
        self.memory_format = memory_format_for(self.dtype)
        self.model = model.eval().to(device, memory_format=self.memory_format)
        if self.dtype is not None:
            for module in self.model.modules():
                if isinstance(module, nn.Conv2d):
                    module.to(self.dtype)

    def with_model(self, model: nn.Module) -> "InferenceNet":
        """Runs `model`, a variant of this one's (e.g. `style_app.models.norms.with_batch_statistics`), at
        the same precision and memory layout."""
        other = copy.copy(self)
        other.model = model
        return other

    @property
    def mode(self) -> str:
        """Short description for tables and logs, e.g. 'bf16 weights, channels_last'."""
        if self.dtype is None:
            return "fp32"
        return "bf16 weights, channels_last"

    @torch.inference_mode()
    def __call__(self, batch: torch.Tensor, origin: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """`origin`: the batch's top-left pixel in a larger picture (tiles; see TransformerNet)."""
        x = batch.to(self.device).contiguous(memory_format=self.memory_format)
        if self.dtype is not None:
            x = x.to(self.dtype)
        return self.model(x, origin).float()
