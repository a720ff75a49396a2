import numpy as np
import pytest
from PIL import Image

from helpers import random_photo
from style_app import Stylizer
from style_app.errors import StyleAppError, WeightsError


def test_from_pretrained_finds_the_model(shipped):
    stylizer = Stylizer.from_pretrained("great_wave", "layer", device="cpu")
    assert (stylizer.style, stylizer.norm) == ("great_wave", "layer")


def test_unknown_style_and_norm_list_what_exists(shipped):
    with pytest.raises(WeightsError, match="great_wave, starry_night"):
        Stylizer.from_pretrained("mona_lisa", "instance")
    with pytest.raises(WeightsError, match="batch, group, instance, layer"):
        Stylizer.from_pretrained("great_wave", "weight")


@pytest.mark.parametrize("size", [(57, 31), (64, 64), (1, 1)])
def test_output_keeps_the_input_size(shipped, size):
    out = Stylizer.from_pretrained("starry_night", "instance", device="cpu").stylize(random_photo(1, size))
    assert out.size == size and out.mode == "RGB"


def test_max_size_shrinks_the_longer_side(shipped):
    out = Stylizer.from_pretrained("starry_night", "group", device="cpu").stylize(random_photo(1, (80, 40)), max_size=40)
    assert out.size == (40, 20)


def test_strength_zero_returns_the_photo_and_one_the_stylized(shipped):
    stylizer = Stylizer.from_pretrained("starry_night", "instance", device="cpu")
    photo = random_photo(3, (40, 30))
    assert np.array_equal(np.asarray(stylizer.stylize(photo, strength=0.0)), np.asarray(photo))
    full = np.asarray(stylizer.stylize(photo), dtype=float)
    half = np.asarray(stylizer.stylize(photo, strength=0.5), dtype=float)
    np.testing.assert_allclose(half, (full + np.asarray(photo, dtype=float)) / 2, atol=1.01)


def test_preserve_color_keeps_the_photo_chroma(shipped):
    stylizer = Stylizer.from_pretrained("starry_night", "instance", device="cpu")
    photo = random_photo(4, (40, 30))
    kept = stylizer.stylize(photo, preserve_color=True).convert("YCbCr")
    chroma = np.asarray(kept, dtype=float)[..., 1:]
    photo_chroma = np.asarray(photo.convert("YCbCr"), dtype=float)[..., 1:]
    assert np.abs(chroma - photo_chroma).mean() < 2.0
    plain_chroma = np.asarray(stylizer.stylize(photo).convert("YCbCr"), dtype=float)[..., 1:]
    assert np.abs(plain_chroma - photo_chroma).mean() > np.abs(chroma - photo_chroma).mean()


def test_accepts_any_pil_mode(shipped):
    stylizer = Stylizer.from_pretrained("starry_night", "instance", device="cpu")
    for image in (Image.new("L", (9, 7), 128), Image.new("RGBA", (9, 7), (10, 20, 30, 0)),
                  Image.new("CMYK", (9, 7)), random_photo(2, (9, 7)).convert("P")):
        assert stylizer.stylize(image).size == (9, 7)


@pytest.mark.parametrize("kwargs", [{"strength": 1.5}, {"strength": -0.1}, {"max_size": 0}])
def test_bad_arguments_are_clear_errors(shipped, kwargs):
    with pytest.raises(StyleAppError):
        Stylizer.from_pretrained("starry_night", "instance", device="cpu").stylize(random_photo(1), **kwargs)


def test_from_file(shipped):
    stylizer = Stylizer.from_file(shipped / "great_wave_batch.safetensors", device="cpu")
    assert stylizer.norm == "batch" and not stylizer.model.training


@pytest.mark.parametrize("arguments", [
    {"max_size": float("nan")}, {"max_size": float("inf")}, {"max_size": "12"}, {"max_size": True},
    {"max_size": 0.5}, {"strength": "1"}, {"strength": float("nan")}, {"strength": None},
])
def test_bad_arguments_are_our_error_not_a_python_one(shipped, arguments):
    stylizer = Stylizer.from_pretrained("starry_night", "instance", device="cpu")
    with pytest.raises(StyleAppError, match=f"^{next(iter(arguments))} must be"):
        stylizer.stylize(random_photo(1, (20, 16)), **arguments)


@pytest.mark.parametrize("blend", [{}, {"starry_night": float("nan")}, {"starry_night": float("inf")},
                                   {"starry_night": "1"}, {"starry_night": 0.0}])
def test_bad_blends_are_our_error(conditional_stylizer, blend):
    with pytest.raises(StyleAppError, match="style weights must be finite, non-negative and not all zero"):
        conditional_stylizer.set_style(blend)


@pytest.fixture
def conditional_stylizer(tmp_path) -> Stylizer:
    import torch

    from style_app.models.transformer import TransformerNet
    from style_app.weights import save_model

    torch.manual_seed(0)
    path = save_model(TransformerNet("instance", "slim", num_styles=2), tmp_path / "two.safetensors",
                      {"styles": ["starry_night", "great_wave"], "arch": "slim"})
    return Stylizer.from_file(path, device="cpu")


def test_premultiplied_grey_alpha_la_mode_becomes_rgb_on_white(shipped):
    la = Image.merge("La", (Image.new("L", (8, 4), 0), Image.new("L", (8, 4), 0)))  # fully transparent
    out = Stylizer.from_pretrained("starry_night", "instance", device="cpu").stylize(la, strength=0.0)
    assert out.mode == "RGB" and out.getpixel((3, 2)) == (255, 255, 255)
