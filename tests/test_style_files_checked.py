"""Issue 48, class 5: a style file's identity and norm come from its network and rows, or are
checked against them; a contradiction is refused in one line, and `list` says on stderr which
style files it skipped and why."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from safetensors.torch import load_file

from helpers import REPO, random_photo, save_conditional_network
from style_app.cli import main
from style_app.errors import WeightsError
from style_app.stylizer import Stylizer, cached_stylizer
from style_app.training.add_style import add_style_config, train_style
from style_app.weights import WEIGHTS_ENV, read_metadata, write_weights


@pytest.fixture
def added(tmp_path, monkeypatch, photo_dir, tiny_vgg_file):
    """A weights folder with tiny conditional IN and BN networks and a style `mine` added to the IN one."""
    folder = tmp_path / "weights"
    folder.mkdir()
    nets = {norm: save_conditional_network(folder, norm) for norm in ("instance", "batch")}
    monkeypatch.setenv(WEIGHTS_ENV, str(folder))
    cached_stylizer.cache_clear()
    painting = tmp_path / "mine.png"
    random_photo(3, (64, 64)).save(painting)
    cfg = add_style_config(painting, nets["instance"], content_dir=photo_dir, steps=2, workers=0,
                           vgg_weights=tiny_vgg_file)
    path = train_style(cfg, progress=False)
    yield folder, nets, path
    cached_stylizer.cache_clear()


def edited(path, folder, name, **changes):
    """A copy of the style file at `path` whose header says `changes`."""
    header = {k: v for k, v in read_metadata(path).items()}
    header.update(changes)
    return write_weights(load_file(str(path)), folder / name, header)


def listed(capsys, caplog) -> tuple[list[tuple[str, str]], str]:
    """`style-app list --json`: the (style, norm) pairs, and its warnings (stderr in the CLI)."""
    assert main(["list", "--json"]) == 0
    out, _ = capsys.readouterr()
    return [(m["style"], m["norm"]) for m in json.loads(out)], caplog.text


def test_a_style_file_that_claims_a_shipped_name_is_refused_not_silently_replaced(added, capsys, caplog):
    folder, nets, path = added
    fake = edited(path, folder, "fake_tiny_instance.safetensors", style="starry_night")
    with pytest.raises(WeightsError, match="names the style 'starry_night', which its network already holds"):
        Stylizer.from_file(fake, "cpu")
    styles, err = listed(capsys, caplog)
    assert styles.count(("starry_night", "instance")) == 1
    assert f"skipped {fake}: its header names the style 'starry_night'" in err


def test_a_style_file_that_claims_another_norm_is_refused(added, capsys, caplog):
    folder, nets, path = added
    fake = edited(path, folder, "claims_bn.safetensors", style="claims_bn", norm="batch")
    with pytest.raises(WeightsError, match="its header says norm 'batch', but its network is a instance-norm"):
        Stylizer.from_file(fake, "cpu")
    styles, err = listed(capsys, caplog)
    assert ("claims_bn", "batch") not in styles and ("mine", "instance") in styles
    assert f"skipped {fake}: its header says norm 'batch'" in err
    code = main(["stylize", str(nets["instance"]), "--weights", str(fake), "-o", str(folder.parent / "x.png")])
    assert code == 2 and "its header says norm 'batch'" in capsys.readouterr().err


def test_list_says_which_style_files_it_skipped_because_their_network_is_gone(added, capsys):
    folder, nets, path = added
    nets["instance"].unlink()
    done = subprocess.run([sys.executable, "-m", "style_app", "list"], capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    assert done.returncode == 0 and "mine" not in done.stdout, done.stdout
    assert f"style-app: warning: skipped {path}: its network tiny_instance.safetensors" in done.stderr
    assert "is not in the weights folders" in done.stderr
