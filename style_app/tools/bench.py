"""`style-app bench`: inference latency and training throughput, each fast path beside a baseline
measured in the same run: the same network in plain fp32, contiguous memory, no compile (the
way pytorch/examples runs it). Ratios within one run stay meaningful on a busy machine, where
absolute times do not. Networks are randomly initialised: speed does not depend on the weights.
"""
from __future__ import annotations

import contextlib
import copy
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from style_app.models.norms import COMPARED_NORMS
from style_app.models.transformer import ARCHS, ZOO_ARCH, TransformerNet
from style_app.models.vgg import VGG16_WIDTHS, VGGFeatures, vgg_layers
from style_app.errors import StyleAppError
from style_app.fastpath import InferenceNet
from style_app.training.config import JOHNSON_TERMS
from style_app.training.losses import PerceptualLoss
from style_app.runtime import autocast, autocast_dtype, cpu_has_fast_bf16, memory_format_for

SIZES = (512, 1024, 2048)
ARCH_NAMES = tuple(ARCHS)


@dataclass
class Result:
    """One measurement: the fast path's median time beside the fp32 baseline's."""

    task: str  # "inference" (seconds per image) or "train" (seconds per step)
    arch: str
    norm: str
    size: int
    batch: int
    device: str
    mode: str
    baseline_s: float
    fast_s: float
    gflop: float  # convolution work of one call (forward; forward + backward for training)
    psnr_db: float | None = None  # fast output against the baseline's (inference)
    compile_s: float | None = None

    @property
    def speedup(self) -> float:
        return self.baseline_s / self.fast_s

    def to_dict(self) -> dict:
        return {**asdict(self), "speedup": round(self.speedup, 3),
                "gflop_per_s": round(self.gflop / self.fast_s, 1),
                "images_per_s": round(self.batch / self.fast_s, 3)}


def paired_median_times(baseline: Callable[[], object], fast: Callable[[], object], repeats: int,
                        device: torch.device) -> tuple[float, float]:
    """Median wall times of two callables over `repeats` calls each, after a warm-up call each.
    Calls alternate (baseline, fast, baseline, ...) so that load changes on a shared machine hit
    both alike and their ratio stays meaningful."""
    baseline(), fast()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, bucket in zip((baseline, fast), times):
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            bucket.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def conv_gflop(model: nn.Module, *args) -> float:
    """Multiply-adds x 2 of every convolution in one forward of `model(*args)`."""
    total = 0.0

    def count(module: nn.Conv2d, inputs, output) -> None:
        nonlocal total
        total += 2.0 * output.numel() * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.inference_mode():
            model(*args)
    finally:
        for hook in hooks:
            hook.remove()
    return total / 1e9


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a.float() - b.float()).pow(2).mean().clamp_min(1e-12)
    return (10 * torch.log10(1 / mse)).item()


def bench_inference(arch: str, norm: str, size: int, device: torch.device, repeats: int = 3,
                    compile: bool = False) -> Result:
    """Latency of one size x size image: fp32 baseline vs the Stylizer's fast path (or, with
    `compile`, the fast path under torch.compile, its compile time reported separately)."""
    torch.manual_seed(0)
    model = TransformerNet(norm, arch).eval()
    x = torch.rand(1, 3, size, size)
    baseline, fast = InferenceNet(copy.deepcopy(model), device, fast=False), InferenceNet(model, device)
    gflop = conv_gflop(baseline.model, x.to(device))
    reference = baseline(x)
    mode, compile_s = fast.mode, None
    if compile:
        fast.model = torch.compile(fast.model)
        start = time.perf_counter()
        fast(x)
        compile_s, mode = time.perf_counter() - start, fast.mode + ", torch.compile"
    quality = psnr(fast(x).cpu(), reference.cpu())
    base_s, fast_s = paired_median_times(lambda: baseline(x), lambda: fast(x), repeats, device)
    return Result("inference", arch, norm, size, 1, device.type, mode, base_s, fast_s, gflop, quality, compile_s)


def training_step(arch: str, norm: str, size: int, batch: int, device: torch.device, fast: bool,
                  vgg_widths: Sequence[int]) -> Callable[[], None]:
    """One optimisation step of style_app.training.train's loop (perceptual loss through VGG-16 up to
    relu4_3, Adam), as a closure; `fast` adds train's bf16 autocast / AMP and channels_last where
    the device has them."""
    torch.manual_seed(0)
    dtype = autocast_dtype(device) if fast else None
    memory_format = memory_format_for(dtype)
    model = TransformerNet(norm, arch).to(device, memory_format=memory_format).train()
    vgg = VGGFeatures(vgg_layers(vgg_widths)).to(device, memory_format=memory_format)
    loss_fn = PerceptualLoss(vgg, torch.rand(1, 3, size, size, device=device), JOHNSON_TERMS)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 3, size, size, device=device).contiguous(memory_format=memory_format)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    def step() -> None:
        with autocast(device, dtype):
            loss = loss_fn(model(x), x)["total"]
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return step


def bench_training(arch: str, norm: str, device: torch.device, size: int = 256, batch: int = 4,
                   repeats: int = 3, vgg_widths: Sequence[int] = VGG16_WIDTHS) -> Result:
    """Seconds per training step (and images/s): fp32 baseline vs train's fast path."""
    base_s, fast_s = paired_median_times(training_step(arch, norm, size, batch, device, False, vgg_widths),
                                         training_step(arch, norm, size, batch, device, True, vgg_widths),
                                         repeats, device)
    x = torch.rand(batch, 3, size, size, device=device)
    vgg = VGGFeatures(vgg_layers(vgg_widths)).to(device)
    # forward + backward: 3x the forward's convolution work for the trained network, 2x for VGG
    # on its output (frozen: input gradients only), plus VGG's content pass up to relu2_2
    gflop = (3 * conv_gflop(TransformerNet(norm, arch).to(device), x) + 2 * conv_gflop(vgg, x)
             + conv_gflop(vgg, x, "relu2_2"))
    dtype = autocast_dtype(device)
    mode = f"{str(dtype).removeprefix('torch.').replace('bfloat16', 'bf16')} autocast, channels_last" if dtype else "fp32"
    return Result("train", arch, norm, size, batch, device.type, mode, base_s, fast_s, gflop)


#: Run in a fresh interpreter, so ru_maxrss is the peak of one stylization (and its imports).
_RSS_SCRIPT = """
import json, resource, sys, time
import torch
from PIL import Image
from style_app.models.norms import COMPARED_NORMS
from style_app.models.transformer import TransformerNet
from style_app.stylizer import Stylizer
size, arch, norm = int(sys.argv[1]), sys.argv[2], sys.argv[3]
stylizer = Stylizer(TransformerNet(norm, arch), {}, "cpu")
photo = Image.effect_noise((size, size), 64).convert("RGB")
start = time.perf_counter()
stylizer.stylize(photo)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def stylize_peak_rss(size: int, arch: str = ZOO_ARCH, norm: str = "instance") -> dict:
    """Seconds and peak resident memory (GiB) of `Stylizer.stylize` on a size x size photo on the
    CPU, measured in a subprocess: {"seconds": ..., "peak_rss_gb": ...}. A failed subprocess is one
    line (StyleAppError) with its last line of output, never the script."""
    done = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(size), arch, norm], capture_output=True,
                          text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise StyleAppError(f"--rss {size}: the measuring process failed ({last[:300]})")
    return json.loads(done.stdout.strip().splitlines()[-1])


#: Activations of the full-resolution layers alive at once in an inference (input, output, norm
#: temporaries), each `channels` x 4 bytes a pixel: 3.5 fits the measured 7 GB peak of johnson at 4096 px.
LIVE_ACTIVATIONS = 3.5


def inference_bytes(arch: str, size: int) -> int:
    """About how much memory one size x size inference of `arch` needs at its peak (fp32)."""
    c = ARCHS[arch].channels
    per_pixel = max(c[0], c[1] / 4, c[2] / 16) * 4 * LIVE_ACTIVATIONS
    return int(per_pixel * size * size)


def available_bytes(device: torch.device) -> int | None:
    """Memory a measurement may use: the GPU's free memory, or on the CPU the least of what the
    system has available, the cgroup's limit and the process's address-space limit (None: unknown)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type != "cpu":
        return None
    limits = []
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/meminfo") as f:
            limits.append(int(next(line for line in f if line.startswith("MemAvailable:")).split()[1]) * 1024)
    with contextlib.suppress(OSError, ValueError):
        with open("/sys/fs/cgroup/memory.max") as f, open("/sys/fs/cgroup/memory.current") as g:
            limits.append(int(f.read()) - int(g.read()))  # "max" (no limit) is a ValueError
    for kind in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
        soft = resource.getrlimit(kind)[0]
        if soft != resource.RLIM_INFINITY:
            limits.append(soft - _address_space())
    return max(0, min(limits)) if limits else None


def _address_space() -> int:
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status") as f:
            return int(next(line for line in f if line.startswith("VmSize:")).split()[1]) * 1024
    return 0


def check_sizes_fit(archs: Sequence[str], sizes: Sequence[int], device: torch.device) -> None:
    """Refuse, before any measurement, an inference size whose estimated memory cannot fit."""
    free = available_bytes(device)
    if free is None:
        return
    for size in sorted(sizes, reverse=True):
        for arch in archs:
            need = inference_bytes(arch, size)
            if need > free:
                raise StyleAppError(f"--sizes {size}: a {size}x{size} {arch} inference needs about "
                                    f"{need / 2**30:.1f} GiB, and {free / 2**30:.1f} GiB of memory is available "
                                    f"on {device.type}; choose a smaller size")


def machine() -> str:
    """CPU model, threads, bf16 support, torch version (and the GPU when there is one)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    text = (f"{cpu}, {torch.get_num_threads()} threads, native bf16: {'yes' if cpu_has_fast_bf16() else 'no'}, "
            f"torch {torch.__version__}")
    if torch.cuda.is_available():
        text += f", GPU: {torch.cuda.get_device_name()}"
    return text


def format_table(results: Sequence[Result]) -> str:
    """Markdown table: one row per measurement, ratios and achieved GFLOP/s."""
    lines = ["| task | arch | norm | size | device | fast path | fp32 baseline | fast | speed-up | GFLOP/s | "
             "images/s | PSNR vs fp32 | compile |",
             "|" + "---|" * 13]
    for r in results:
        psnr_text = f"{r.psnr_db:.1f} dB" if r.psnr_db is not None else ""
        compile_text = f"{r.compile_s:.0f} s" if r.compile_s is not None else ""
        size = f"{r.size}² x{r.batch}" if r.task == "train" else f"{r.size}²"
        lines.append(f"| {r.task} | {r.arch} | {r.norm} | {size} | {r.device} | {r.mode} | {r.baseline_s:.3f} s | "
                     f"{r.fast_s:.3f} s | {r.speedup:.2f}x | {r.gflop / r.fast_s:.0f} | {r.batch / r.fast_s:.2f} | "
                     f"{psnr_text} | {compile_text} |")
    return "\n".join(lines)


def run_bench(device: torch.device, archs: Sequence[str] = ARCH_NAMES, norms: Sequence[str] = COMPARED_NORMS,
              sizes: Sequence[int] = SIZES, repeats: int = 3, train: bool = True, compile: bool = False,
              train_size: int = 256, train_batch: int = 4,
              vgg_widths: Sequence[int] = VGG16_WIDTHS) -> Iterator[Result]:
    """Every measurement the options ask for, yielded as it completes."""
    for arch in archs:
        for norm in norms:
            for size in sizes:
                yield bench_inference(arch, norm, size, device, repeats)
                if compile:
                    yield bench_inference(arch, norm, size, device, repeats, compile=True)
            if train:
                yield bench_training(arch, norm, device, train_size, train_batch, repeats, vgg_widths)
