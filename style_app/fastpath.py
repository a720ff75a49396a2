"""The inference fast path: the precision and memory layout a network runs in, chosen per device
by measurement (`style-app bench`, docs/performance.md).

- CPU with native bf16 (AVX512-BF16 / AMX): convolution weights and activations in bf16 and
  channels_last; norm parameters stay fp32 (the group/batch-norm kernels take bf16 input with
  fp32 parameters and accumulate in fp32). bf16 *autocast* is slower here: it re-casts every
  weight on every call and leaves activations in a layout that costs copies.
- CUDA: autocast (bf16 where supported, else fp16) with channels_last.
- anything else (CPUs without native bf16, MPS): plain fp32, which is faster there.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from style_app.runtime import autocast, autocast_dtype


class InferenceNet:
    """`model` ready to run fast on `device`; called with fp32 NCHW images in [0, 1], returns fp32.

    The model is converted in place (moved, and on bf16 CPUs its convolutions cast), so one copy
    of the weights exists. `fast=False` runs the plain fp32 network (the reference the fast path
    is checked against)."""

    def __init__(self, model: nn.Module, device: torch.device, fast: bool = True):
        self.device = device
        self.dtype = autocast_dtype(device) if fast else None
        self.memory_format = torch.contiguous_format if self.dtype is None else torch.channels_last
        self.model = model.eval().to(device, memory_format=self.memory_format)
        if self.dtype is not None and device.type == "cpu":
            for module in self.model.modules():
                if isinstance(module, nn.Conv2d):
                    module.to(self.dtype)

    def with_model(self, model: nn.Module) -> "InferenceNet":
        """Runs `model`, a variant of this one's (e.g. `models.norms.with_batch_statistics`), at
        the same precision and memory layout."""
        other = copy.copy(self)
        other.model = model
        return other

    @property
    def mode(self) -> str:
        """Short description for tables and logs, e.g. 'bf16 weights, channels_last'."""
        if self.dtype is None:
            return "fp32"
        kind = "weights" if self.device.type == "cpu" else "autocast"
        return f"{str(self.dtype).removeprefix('torch.').replace('bfloat16', 'bf16')} {kind}, channels_last"

    @torch.inference_mode()
    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.to(self.device).contiguous(memory_format=self.memory_format)
        if self.dtype is not None and self.device.type == "cpu":
            return self.model(x.to(self.dtype)).float()
        with autocast(self.device, self.dtype):
            return self.model(x).float()
