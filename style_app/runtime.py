"""Where and at which precision the networks run: device choice and the mixed-precision fast path."""
from __future__ import annotations

import contextlib

import torch

from style_app.errors import StyleAppError

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple MPS, then CPU; an explicit device must exist."""
    if name not in DEVICES:
        raise StyleAppError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise StyleAppError("--device cuda: no CUDA GPU is available")
    if name == "mps" and not torch.backends.mps.is_available():
        raise StyleAppError("--device mps: Apple MPS is not available")
    return torch.device(name)


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with native bf16 matrix instructions (AVX512-BF16 / AMX), where bf16 autocast
    is a real speed-up; elsewhere it is emulated and slower than fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The reduced precision worth using on `device`, or None for plain fp32."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_fast_bf16():
        return torch.bfloat16
    return None


def memory_format_for(dtype: torch.dtype | None) -> torch.memory_format:
    """The memory layout for a network run at `dtype`: channels_last with reduced precision (bf16
    CPU kernels, CUDA AMP), where it is the fast layout; plain NCHW in fp32, where channels_last is
    slower on CPUs without native bf16 (docs/performance.md)."""
    return torch.contiguous_format if dtype is None else torch.channels_last


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Mixed precision on `device` when `dtype` is set, otherwise a no-op."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
