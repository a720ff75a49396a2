"""Data parallelism under `torchrun` (gloo on CPU, nccl on GPU); one process without it."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def set_up(device: torch.device) -> tuple[torch.device, int, int]:
    """(device, rank, world size) from torchrun's environment, else (device, 0, 1). Under torchrun
    each CUDA process takes the GPU of its LOCAL_RANK."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world == 1:
        rank = 0
    else:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank = dist.get_rank()
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device, rank, world


def wrap(model: nn.Module, world: int) -> nn.Module:
    """The model as the training step calls it: averaged gradients across processes when world > 1."""
    return DistributedDataParallel(model) if world > 1 else model


def finish(world: int) -> None:
    """Leave the process group, once this process's part of the run is done."""
    if world > 1:
        dist.destroy_process_group()
