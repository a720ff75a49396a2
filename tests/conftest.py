"""Fixtures that make everything the tests need, so they run without ../shared or a network."""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny workloads: extra threads only spin (and subprocesses inherit)

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from models.transformer import TransformerNet
from models.vgg import vgg_layers
from style_app.weights import save_model

TINY_VGG_WIDTHS = (4, 4, 8, 8, 8, 8, 8, 16, 16, 16)
torch.set_num_threads(1)


def random_photo(seed: int, size: tuple[int, int] = (48, 40)) -> Image.Image:
    """A smooth random picture (gradients plus blobs), more photo-like than white noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    channels = [np.sin(xx * rng.uniform(2, 9) + rng.uniform(0, 6)) * np.cos(yy * rng.uniform(2, 9))
                for _ in range(3)]
    array = (np.stack(channels, -1) * 0.5 + 0.5) * 255
    return Image.fromarray(array.clip(0, 255).astype(np.uint8), "RGB")


@pytest.fixture(scope="session")
def tiny_vgg_file(tmp_path_factory) -> str:
    """A narrow, randomly initialised VGG-16-shaped network in the vgg16().features layout."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vgg") / "tiny_vgg.safetensors"
    save_file({k: v.contiguous() for k, v in vgg_layers(TINY_VGG_WIDTHS).state_dict().items()}, str(path))
    return str(path)


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    (folder / "nested").mkdir()
    for i in range(6):
        target = folder / "nested" if i % 2 else folder
        random_photo(i, (48 + i, 40 + 2 * i)).save(target / f"photo{i}.{'png' if i % 3 else 'jpg'}")
    return folder


@pytest.fixture(scope="session")
def style_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("style") / "test_painting.jpg"
    random_photo(99, (64, 64)).save(path)
    return path


@pytest.fixture(scope="session")
def weights_folder(tmp_path_factory):
    """Untrained models for two styles x four norms, the layout of the shipped weights/ folder."""
    folder = tmp_path_factory.mktemp("weights")
    for style in ("starry_night", "great_wave"):
        for norm in ("instance", "batch", "layer", "group"):
            torch.manual_seed(len(style) + len(norm))
            save_model(TransformerNet(norm), folder / f"{style}_{norm}.safetensors",
                       {"style": style, "arch": "johnson", "steps": 0})
    return folder


@pytest.fixture
def shipped(weights_folder, monkeypatch):
    """Point the app's weights folder at the test models."""
    from style_app.stylizer import cached_stylizer

    monkeypatch.setenv("STYLE_APP_WEIGHTS", str(weights_folder))
    cached_stylizer.cache_clear()
    yield weights_folder
    cached_stylizer.cache_clear()
