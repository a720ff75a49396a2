import copy

import pytest
import torch

from helpers import random_photo
from style_app.models.transformer import TransformerNet
from style_app import stylizer as stylizer_module
from style_app.tools.bench import psnr
from style_app.fastpath import InferenceNet, fast_dtype
from style_app.images import to_tensor
from style_app.runtime import autocast_dtype, memory_format_for
from style_app.stylizer import Stylizer


@pytest.mark.parametrize("norm", ["instance", "batch", "layer", "group", "none"])
def test_fast_path_output_is_within_35_db_of_fp32(norm):
    torch.manual_seed(1)
    model = TransformerNet(norm).eval()
    photo = to_tensor(random_photo(5, (160, 120)))
    plain = InferenceNet(copy.deepcopy(model), torch.device("cpu"), fast=False)
    fast = InferenceNet(model, torch.device("cpu"))
    assert fast.dtype == autocast_dtype(torch.device("cpu")) and plain.dtype is None
    out = fast(photo)
    assert out.dtype == torch.float32 and out.shape == photo.shape
    assert psnr(out, plain(photo)) >= 35
    assert fast.model is model  # converted in place: one copy of the weights


def test_cuda_and_mps_run_plain_fp32_where_bf16_autocast_was_slower(monkeypatch):
    """docs/performance.md: on an H200, bf16 autocast + channels_last ran at 0.71-0.97x of fp32."""
    monkeypatch.setattr("style_app.fastpath.cpu_has_fast_bf16", lambda: True)
    assert fast_dtype(torch.device("cpu")) == torch.bfloat16
    assert fast_dtype(torch.device("cuda")) is None and fast_dtype(torch.device("mps")) is None
    monkeypatch.setattr("style_app.fastpath.cpu_has_fast_bf16", lambda: False)
    assert fast_dtype(torch.device("cpu")) is None


@pytest.mark.parametrize("native_bf16, layout", [(True, torch.channels_last), (False, torch.contiguous_format)])
def test_channels_last_only_with_reduced_precision(native_bf16, layout, monkeypatch):
    """In fp32 on a CPU without native bf16, channels_last is slower than NCHW (docs/performance.md);
    inference and training (memory_format_for) both run NCHW there."""
    monkeypatch.setattr("style_app.fastpath.cpu_has_fast_bf16", lambda: native_bf16)
    monkeypatch.setattr("style_app.runtime.cpu_has_fast_bf16", lambda: native_bf16)
    net = InferenceNet(TransformerNet("instance", "slim"), torch.device("cpu"))
    conv = next(m for m in net.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert net.memory_format == layout and conv.weight.is_contiguous(memory_format=layout)
    assert memory_format_for(autocast_dtype(torch.device("cpu"))) == layout


def test_stylizer_holds_one_model():
    stylizer = Stylizer(TransformerNet("instance", "slim"), {"style": "x"}, "cpu")
    assert stylizer.model is stylizer.net.model
    params = {id(p) for m in (stylizer.model, stylizer.net.model) for p in m.parameters()}
    assert len(params) == len(list(stylizer.model.parameters()))


def test_stylizer_can_be_forced_to_fp32_and_tiles_big_images(monkeypatch):
    torch.manual_seed(2)
    model = TransformerNet("instance")
    plain = Stylizer(model, {"style": "x"}, "cpu", fast=False)
    assert plain.net.mode == "fp32"
    photo = to_tensor(random_photo(6, (300, 200)))
    whole = plain.run(photo)
    monkeypatch.setattr(stylizer_module, "TILE_ABOVE_PIXELS", 100 * 100)
    tiled = plain.run(photo)  # one tile, but normalized with statistics of the whole picture
    assert tiled.shape == photo.shape and psnr(tiled, whole) > 60
