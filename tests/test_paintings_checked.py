"""Issue 48, class 3: a painting the networks cannot learn from (too small, too thin, flat) is
refused before any work, with one plain line that says what to fix, the same in the CLI
(add-style, train, evaluate) and on the web page (style_app.paintings.check_painting)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from helpers import random_photo, save_conditional_network
from style_app.cli import main
from style_app.errors import StyleAppError
from style_app.stylizer import cached_stylizer
from style_app.training.add_style import CONTENT_DIR_ENV
from style_app.weights import WEIGHTS_ENV, save_model


def noise(w: int, h: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(w * h).integers(0, 256, (h, w, 3), dtype=np.uint8))


#: name -> (the painting, what the one line must say)
BAD = {
    "1x1": (lambda: noise(1, 1), "the painting is 1x1 px; each side must be at least 32 px"),
    "20000x20": (lambda: noise(20000, 20), "the painting is 20000x20 px; each side must be at least 32 px"),
    "15x15": (lambda: noise(15, 15), "the painting is 15x15 px; each side must be at least 32 px"),
    "31x2000": (lambda: noise(31, 2000), "each side must be at least 32 px"),
    "40x400": (lambda: noise(40, 400), "more than 8 times longer than wide; crop it closer to a square"),
    "black": (lambda: Image.new("RGB", (64, 64)), "one flat colour, with nothing to learn"),
    "zero16": (lambda: Image.new("I;16", (64, 64)), "one flat colour, with nothing to learn"),
}


def run(capsys, *argv) -> tuple[int, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as usage_error:
        code = usage_error.code
    return code, capsys.readouterr().err


@pytest.fixture
def network(tmp_path):
    (tmp_path / "nets").mkdir()
    return save_conditional_network(tmp_path / "nets", "instance")


@pytest.mark.parametrize("case", BAD)
def test_add_style_refuses_an_unlearnable_painting_in_one_line(case, network, photo_dir, tiny_vgg_file, tmp_path,
                                                              capsys):
    make, expected = BAD[case]
    painting = tmp_path / f"{case}.png"
    make().save(painting)
    out = tmp_path / "out.safetensors"
    code, err = run(capsys, "add-style", painting, "--base", network, "--content-dir", photo_dir, "--vgg-weights",
                    tiny_vgg_file, "--out", out, "--steps", "3", "--workers", "0")
    assert code == 2, err
    assert err.startswith(f"style-app: error: {case}.png: ") and err.count("\n") == 1, err
    assert expected in err and "loss became" not in err
    assert not out.exists() and not out.with_suffix(".ckpt").exists()


@pytest.mark.parametrize("case", ["15x15", "black"])
def test_train_refuses_an_unlearnable_painting_before_training(case, photo_dir, tiny_vgg_file, tmp_path, capsys):
    make, expected = BAD[case]
    painting = tmp_path / f"{case}.png"
    make().save(painting)
    out = tmp_path / "model.safetensors"
    code, err = run(capsys, "train", "--style-image", painting, "--content-dir", photo_dir, "--vgg-weights",
                    tiny_vgg_file, "--out", out, "--steps", "3", "--image-size", "32", "--style-size", "64",
                    "--workers", "0", "--arch", "johnson")
    assert code == 2 and expected in err and err.count("\n") == 1, err
    assert not out.exists() and not out.with_suffix(".ckpt").exists()


def test_a_painting_that_the_style_size_shrinks_too_far_is_refused(photo_dir, tiny_vgg_file, tmp_path, capsys):
    painting = tmp_path / "wide.png"
    noise(256, 40).save(painting)  # fine as a file; at --style-size 64 it would be 10 px high
    code, err = run(capsys, "train", "--style-image", painting, "--content-dir", photo_dir, "--vgg-weights",
                    tiny_vgg_file, "--out", tmp_path / "m.safetensors", "--steps", "3", "--image-size", "32",
                    "--style-size", "64", "--workers", "0", "--arch", "johnson")
    assert code == 2 and "shrunk to the style size 64 px the painting is 10 px across" in err, err


def test_evaluate_refuses_a_one_pixel_painting(shipped, photo_dir, tiny_vgg_file, tmp_path, capsys):
    styles = tmp_path / "styles"
    styles.mkdir()
    noise(1, 1).save(styles / "starry_night.png")
    code, err = run(capsys, "evaluate", "--content-dir", photo_dir, "--style-dir", styles, "--vgg-weights",
                    tiny_vgg_file, "--weights", shipped / "starry_night_instance.safetensors", "--limit", "1",
                    "--size", "32")
    assert code == 2 and err.count("\n") == 1, err
    assert "starry_night.png: the painting is 1x1 px; each side must be at least 32 px" in err


def test_the_web_page_shows_the_same_sentence_before_training(tmp_path, monkeypatch, photo_dir, tiny_vgg_file,
                                                              network, capsys):
    """An all-black painting on the Add-a-painting tab: refused before the trainer starts, with the
    CLI's sentence and no server path (it used to train into a NaN)."""
    from style_app.web import handlers

    monkeypatch.setenv(WEIGHTS_ENV, str(network.parent))
    monkeypatch.setenv(CONTENT_DIR_ENV, str(photo_dir))
    monkeypatch.setenv("STYLE_APP_VGG_WEIGHTS", tiny_vgg_file)
    cached_stylizer.cache_clear()
    painting = tmp_path / "black.png"
    BAD["black"][0]().save(painting)
    with pytest.raises(StyleAppError) as refused:
        handlers.start_adding(painting, "", ["instance"], 5, random_photo(1))
    assert not handlers.TRAINER.progress().running
    assert str(refused.value) == f"black.png: the painting is one flat colour, with nothing to learn; use a picture " \
                                 f"with some variation"
    assert str(tmp_path) not in str(refused.value)
    cached_stylizer.cache_clear()
