"""Issue 48, class 4: an add-style run with its own --name, stopped like SIGTERM does (between
steps, a checkpoint, "continue with --resume"), resumes and ends bit for bit where an
uninterrupted run ends. It used to say "checkpoint was trained on the paintings good, not mystyle"."""
from __future__ import annotations

import threading

import pytest
import torch
from safetensors.torch import load_file

from helpers import random_photo, save_conditional_network
from style_app.cli import main
from style_app.errors import Interrupted
from style_app.training.add_style import add_style_config, train_style


def test_a_named_added_style_resumes_after_a_stop_exactly(tmp_path, photo_dir, tiny_vgg_file, capsys, monkeypatch):
    monkeypatch.setenv("STYLE_APP_WEIGHTS", str(tmp_path / "mine"))
    (tmp_path / "nets").mkdir()
    base = save_conditional_network(tmp_path / "nets", "instance")
    painting = tmp_path / "good.png"
    random_photo(5, (64, 64)).save(painting)
    settings = {"steps": 6, "checkpoint_every": 2, "log_every": 1, "workers": 0, "vgg_weights": tiny_vgg_file}

    whole = train_style(add_style_config(painting, base, "mystyle", tmp_path / "whole.safetensors", photo_dir, **settings),
                  progress=False)

    stop = threading.Event()
    cfg = add_style_config(painting, base, "mystyle", tmp_path / "split.safetensors", photo_dir, **settings)
    with pytest.raises(Interrupted, match="continue with --resume"):
        train_style(cfg, progress=False, stop=stop, on_step=lambda step, _: step == 3 and stop.set())
    assert cfg.checkpoint_path.is_file() and not (tmp_path / "split.safetensors").exists()

    code = main(["add-style", str(painting), "--base", str(base), "--name", "mystyle", "--out",
                 str(tmp_path / "split.safetensors"), "--content-dir", str(photo_dir), "--vgg-weights", tiny_vgg_file,
                 "--steps", "6", "--checkpoint-every", "2", "--log-every", "1", "--workers", "0", "--resume",
                 "--quiet"])
    assert code == 0, capsys.readouterr().err
    a, b = load_file(str(whole)), load_file(str(tmp_path / "split.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
