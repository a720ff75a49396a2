"""The package as a user gets it: the wheel, installed into a fresh virtualenv outside the checkout,
used from an unrelated folder that has a `models/` package of its own (common in ML work).

The fresh virtualenv borrows this one's dependencies through a .pth file written after the wheel is
installed (no second multi-GB torch download), so it can only find the app in the wheel itself."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from PIL import Image

from helpers import random_photo

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
NOT_SOURCE = (".git", ".venv", "venv", "data", "runs", "build", "dist", "*.egg-info", "__pycache__",
              ".pytest_cache", ".gradio")
SHIPPED_FILES = {"zoo4_instance.safetensors", "zoo4_batch.safetensors", "zoo4_layer.safetensors",
                 "zoo4_group.safetensors"}


def run(argv: list, cwd: Path) -> subprocess.CompletedProcess:
    """Run as a user would: none of the test session's environment that points at the checkout."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "STYLE_APP_WEIGHTS", "STYLE_APP_SHIPPED", "VIRTUAL_ENV")}
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (argv, done.stdout[-2000:], done.stderr[-2000:])
    return done


@pytest.fixture(scope="module")
def user(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(the fresh virtualenv's bin/, its site-packages, a user's folder with its own models/)."""
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(REPO, work / "source", ignore=shutil.ignore_patterns(*NOT_SOURCE))
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", work / "dist",
         work / "source"], work)
    run([sys.executable, "-m", "venv", "--without-pip", work / "venv"], work)
    python = work / "venv" / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         *(work / "dist").glob("style_app-*.whl")], work)
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], work).stdout.strip())
    deps = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site / "test_dependencies.pth").write_text("\n".join(deps) + "\n")
    folder = work / "user"
    (folder / "models").mkdir(parents=True)
    (folder / "models" / "__init__.py").write_text("raise ImportError('the user models package was imported')\n")
    random_photo(3, (40, 32)).save(folder / "photo.png")
    return python.parent, site, folder


def test_wheel_installs_no_top_level_models_and_imports_from_a_folder_with_its_own(user):
    bin_dir, site, folder = user
    assert not (site / "models").exists() and (site / "style_app" / "models" / "norms.py").is_file()
    done = run([bin_dir / "python", "-c", "import style_app, style_app.models.norms as n; "
                "print(style_app.__file__); print(n.__file__)"], folder)
    assert all(Path(line).is_relative_to(site) for line in done.stdout.split()), done.stdout


def test_installed_cli_lists_the_shipped_zoo_from_the_package(user):
    bin_dir, site, folder = user
    models = json.loads(run([bin_dir / "style-app", "list", "--json"], folder).stdout)
    assert {Path(m["path"]).name for m in models} == SHIPPED_FILES
    assert all(Path(m["path"]).parent == site / "style_app" / "zoo" for m in models)
    assert {m["style"] for m in models} == {"starry_night", "great_wave", "the_scream", "composition_vii"}


def test_installed_cli_stylizes_a_photo(user):
    bin_dir, _, folder = user
    run([bin_dir / "style-app", "stylize", "photo.png", "--style", "great_wave", "--norm", "group",
         "-o", "out.png"], folder)
    assert Image.open(folder / "out.png").size == (40, 32)


def test_installed_style_app_serve_starts_the_ui(user):
    """`style-app serve` from the wheel: the page answers and lists the shipped paintings."""
    import urllib.request

    from helpers import _wait_for_url, free_port

    bin_dir, _, folder = user
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "STYLE_APP_WEIGHTS", "STYLE_APP_SHIPPED", "VIRTUAL_ENV")}
    proc = subprocess.Popen([str(bin_dir / "style-app"), "serve", "--port", str(free_port()), "--max-side", "96"],
                            cwd=folder, env={**env, "PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = _wait_for_url(proc)
        with urllib.request.urlopen(url + "config", timeout=60) as response:
            config = response.read().decode()
        assert "The Starry Night" in config and "Composition VII" in config
    finally:
        proc.terminate()
        proc.wait(timeout=30)
