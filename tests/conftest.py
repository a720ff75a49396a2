"""Fixtures that make everything the tests need, so they run without ../shared or a network."""
from __future__ import annotations

import os
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny workloads: extra threads only spin (and subprocesses inherit)
# The tests serve their own untrained models (fixture `shipped`, env STYLE_APP_WEIGHTS), so leave
# the shipped zoo out everywhere, subprocesses too; tests of the zoo name its folder or unset this.
os.environ["STYLE_APP_SHIPPED"] = "0"
# Added styles default to the per-user data folder (platformdirs honours XDG_DATA_HOME): a fresh
# one for the session, subprocesses too, so no test reads or writes the real user's styles.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="style_app_test_data_")

import pytest
import torch
from safetensors.torch import save_file

from helpers import TINY_VGG_WIDTHS, SmallDisk, app_process, random_photo
from style_app.models.transformer import ZOO_ARCH, TransformerNet
from style_app.models.vgg import vgg_layers
from style_app.weights import save_model

torch.set_num_threads(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The load test's size (tests/test_load.py); the defaults keep it short."""
    group = parser.getgroup("load", "concurrent /stylize load on the web UI (tests/test_load.py)")
    group.addoption("--load-clients", type=int, default=4, help="concurrent gradio_client clients")
    group.addoption("--load-calls", type=int, default=2, help="calls per client")
    group.addoption("--load-size", type=int, default=384, help="longer side of the test photo, px")
    group.addoption("--load-rounds", type=int, default=1, help="repeat the load (memory growth per round)")


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
    """Untrained models for two styles x four norms, the layout of the shipped weights/ folder. The
    registry looks models up by the header's `arch`, so they are labelled ZOO_ARCH; the networks keep
    the Johnson width (their architecture is read from `arch_config`), which the pixel-level
    expectations of the tests that use them were written for."""
    folder = tmp_path_factory.mktemp("weights")
    for style in ("starry_night", "great_wave"):
        for norm in ("instance", "batch", "layer", "group"):
            torch.manual_seed(len(style) + len(norm))
            save_model(TransformerNet(norm), folder / f"{style}_{norm}.safetensors",
                       {"style": style, "arch": ZOO_ARCH, "steps": 0})
    return folder


@pytest.fixture(scope="module")
def server(request, weights_folder):
    """The app serving the test models, one per test module: (process, URL); the module's
    APP_MAX_SIDE, if it sets one, is the app's --max-side."""
    with app_process(weights_folder, max_side=getattr(request.module, "APP_MAX_SIDE", 96)) as (proc, url):
        yield proc, url


@pytest.fixture(scope="module")
def client(server):
    """A gradio_client Client of the module's `server`."""
    from gradio_client import Client

    return Client(server[1], verbose=False)


@pytest.fixture
def shipped(weights_folder, monkeypatch):
    """Point the user's weights folder at the test models (the shipped zoo is left out)."""
    from style_app.stylizer import cached_stylizer

    monkeypatch.setenv("STYLE_APP_WEIGHTS", str(weights_folder))
    cached_stylizer.cache_clear()
    yield weights_folder
    cached_stylizer.cache_clear()


@pytest.fixture
def small_disk(tmp_path):
    """`small_disk(size)`: a SmallDisk under tmp_path (helpers.SmallDisk), unmounted afterwards."""
    disks = []

    def make(size: int, name: str = "disk") -> SmallDisk:
        disks.append(SmallDisk.make(tmp_path / name, size))
        return disks[-1]

    yield make
    for disk in disks:
        disk.release()


@pytest.fixture
def served_folder(tmp_path, monkeypatch, photo_dir, tiny_vgg_file):
    """The handlers set up as a server's (in this process; conftest's `server` is a subprocess):
    the weights folder, holding tiny conditional IN and BN networks, and the training settings."""
    from helpers import save_conditional_network
    from style_app.stylizer import cached_stylizer
    from style_app.training.add_style import CONTENT_DIR_ENV
    from style_app.web import handlers
    from style_app.weights import WEIGHTS_ENV

    folder = tmp_path / "weights"
    folder.mkdir()
    for norm in ("instance", "batch"):
        save_conditional_network(folder, norm)
    monkeypatch.setenv(WEIGHTS_ENV, str(folder))
    monkeypatch.setenv(CONTENT_DIR_ENV, str(photo_dir))
    monkeypatch.setenv("STYLE_APP_VGG_WEIGHTS", tiny_vgg_file)
    cached_stylizer.cache_clear()
    yield folder
    handlers.TRAINER.cancel()
    handlers.TRAINER.wait(60)
    cached_stylizer.cache_clear()


@pytest.fixture
def painting(tmp_path):
    path = tmp_path / "udnie.png"
    random_photo(21, (64, 64)).save(path)
    return path
