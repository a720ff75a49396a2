"""A model file's header, read and checked without torch: what a safetensors file says about the
network it holds (format, norm, architecture, styles), refused in one line when it is not sane.
The header is untrusted input: nothing is built before these checks pass."""
from __future__ import annotations

import json
import os
from pathlib import Path

from style_app.errors import WeightsError
from style_app.models.names import NORM_KINDS

FORMAT = "style_app.transformer/1"
#: A style added to a conditional network: its norm parameters only (style_app.style_files).
STYLE_FORMAT = "style_app.style/1"
#: Metadata values that are JSON documents rather than plain strings.
JSON_KEYS = ("arch_config", "train_config", "final_losses", "loss_curve", "styles", "paintings", "base",
             "bn_statistics")
#: Bounds on what a header may ask us to build, checked before anything is built: far above any
#: real network (johnson: channels 32/64/128, 5 blocks, kernel 9), far below what hurts.
MAX_CHANNELS, MAX_RES_BLOCKS, MAX_EDGE_KERNEL, MAX_STYLES = 1024, 64, 15, 1024
MAX_NOISE_CHANNELS = 8
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit on a header


def is_added_style(metadata: dict) -> bool:
    """Whether a header is a style file's (one style for a base network), not a network's."""
    return metadata.get("format") == STYLE_FORMAT


def read_metadata(path: str | os.PathLike) -> dict:
    """The header of a model file, JSON fields decoded and checked. Raises WeightsError naming the
    file: the header is untrusted input."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    try:
        raw = header_metadata(path)
        meta = {k: json.loads(v) if k in JSON_KEYS else v for k, v in raw.items()}
    except (OSError, ValueError) as e:
        raise WeightsError(f"{path}: not a readable safetensors file ({e})") from None
    except RecursionError:
        raise WeightsError(f"{path}: not a readable safetensors file (metadata nested too deeply)") from None
    if meta.get("format") not in (FORMAT, STYLE_FORMAT) or "norm" not in meta or "arch_config" not in meta:
        raise WeightsError(f"{path}: not a style_app model (no style_app metadata)")
    problem = _metadata_problem(meta)
    if problem:
        raise WeightsError(f"{path}: invalid style_app metadata ({problem})")
    return meta


def header_metadata(path: Path) -> dict[str, str]:
    """A safetensors file's `__metadata__` strings, read without torch: the 8-byte little-endian
    header length, then that many bytes of JSON, then the tensors' bytes, which must fill the rest
    of the file exactly (a truncated file is refused, as safetensors itself does). Raises
    ValueError (or OSError) for anything that is not such a file."""
    with open(path, "rb") as f:
        start = f.read(8)
        size = os.fstat(f.fileno()).st_size
        if len(start) < 8:
            raise ValueError("file too short for a safetensors header")
        length = int.from_bytes(start, "little")
        if length > min(MAX_HEADER_BYTES, size - 8):
            raise ValueError(f"header length {length} is larger than the file or {MAX_HEADER_BYTES} bytes")
        header = json.loads(f.read(length))
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    try:
        ends = [int(entry["data_offsets"][1]) for name, entry in header.items() if name != "__metadata__"]
    except (TypeError, KeyError, IndexError, ValueError):
        raise ValueError("a tensor entry lacks its data offsets") from None
    if max(ends, default=0) != size - 8 - length:
        raise ValueError(f"the tensors need {max(ends, default=0)} bytes after the header, the file holds "
                         f"{size - 8 - length} (truncated or padded)")
    metadata = header.get("__metadata__")
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError("__metadata__ must map names to strings")
    return metadata


def _metadata_problem(meta: dict) -> str:
    """What is wrong with a decoded header, in words; '' when it is sane."""
    if meta["norm"] not in NORM_KINDS:
        return f"unknown norm {str(meta['norm'])[:40]!r}"
    problem = _arch_problem(meta["arch_config"])
    styles = meta.get("styles")
    if not problem and styles is not None and not (
            isinstance(styles, list) and 0 < len(styles) <= MAX_STYLES
            and all(isinstance(s, str) and s for s in styles) and len(set(styles)) == len(styles)):
        problem = f"styles must be a list of 1 to {MAX_STYLES} distinct names"
    try:
        steps = int(meta.get("steps", 0))
    except (TypeError, ValueError):
        steps = -1
    if not problem and steps < 0:
        problem = "steps must be a whole number"
    expected = {"paintings": list, "train_config": dict, "final_losses": dict, "loss_curve": list}
    wrong = [k for k, kind in expected.items() if k in meta and not isinstance(meta[k], kind)]
    if not problem and (wrong or not all(isinstance(p, dict) for p in meta.get("paintings", []))):
        problem = f"{(wrong or ['paintings'])[0]} has the wrong type"
    return problem or (_style_file_problem(meta) if is_added_style(meta) else "")


def _style_file_problem(meta: dict) -> str:
    """A style file must name its style and the network it was learned for; '' when it does."""
    base = meta.get("base")
    if not (isinstance(meta.get("style"), str) and meta["style"]):
        return "a style file must name its style"
    if not (isinstance(base, dict) and all(isinstance(base.get(k), str) for k in ("name", "sha256"))):
        return "base must hold the network's file name and weights hash"
    return ""


def _arch_problem(arch: object) -> str:
    """Bounds on the architecture a header asks for; '' when it is within them."""
    required, optional = {"channels", "res_blocks", "edge_kernel"}, {"noise_channels"}
    if not isinstance(arch, dict) or not required <= set(arch) <= required | optional:
        return "arch_config must hold channels, res_blocks, edge_kernel and optionally noise_channels"
    channels, blocks, kernel = arch["channels"], arch["res_blocks"], arch["edge_kernel"]
    if not (isinstance(channels, list) and len(channels) == 3 and all(_whole(c, 1, MAX_CHANNELS) for c in channels)):
        return f"channels must be 3 whole numbers from 1 to {MAX_CHANNELS}"
    if not _whole(blocks, 0, MAX_RES_BLOCKS):
        return f"res_blocks must be a whole number from 0 to {MAX_RES_BLOCKS}"
    if not (_whole(kernel, 1, MAX_EDGE_KERNEL) and kernel % 2):
        return f"edge_kernel must be an odd number from 1 to {MAX_EDGE_KERNEL}"
    if not _whole(arch.get("noise_channels", 0), 0, MAX_NOISE_CHANNELS):
        return f"noise_channels must be a whole number from 0 to {MAX_NOISE_CHANNELS}"
    return ""


def _whole(value: object, low: int, high: int) -> bool:
    """An int (not a bool, float or string) from low to high."""
    return type(value) is int and low <= value <= high
