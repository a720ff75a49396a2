"""Conditional normalization: one network, several styles (Dumoulin et al. 2017)."""
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from style_app.models.norms import StyleConditional, make_norm, with_batch_statistics
from style_app.models.transformer import TransformerNet
from style_app.cli import main
from style_app.degrid import remove_grid
from style_app.errors import StyleAppError, WeightsError
from style_app.tools.evaluate import evaluate
from style_app.stylizer import Stylizer
from style_app.training.train import TrainConfig, train
from style_app.weights import WEIGHTS_ENV, available_models, find_model, read_metadata, save_model
from helpers import random_photo


@pytest.mark.parametrize("kind", ["instance", "batch", "layer", "group"])
def test_conditional_norm_is_the_plain_norm_with_the_selected_styles_affine(kind):
    torch.manual_seed(0)
    conditional = make_norm(kind, 16, num_styles=3).eval()
    plain = make_norm(kind, 16).eval()
    with torch.no_grad():
        conditional.weight.normal_()
        conditional.bias.normal_()
    conditional.mix.copy_(torch.tensor([0.0, 0.0, 1.0]))
    plain.weight.data.copy_(conditional.weight[2])
    plain.bias.data.copy_(conditional.bias[2])
    x = torch.randn(2, 16, 7, 9)
    torch.testing.assert_close(conditional(x), plain(x))


def test_set_style_selects_blends_and_checks():
    torch.manual_seed(0)
    net = TransformerNet("instance", "slim", num_styles=2).eval()
    for m in net.modules():
        if isinstance(m, StyleConditional):
            torch.nn.init.normal_(m.bias)
    x = torch.rand(1, 3, 24, 24)
    outputs = []
    for style in (0, 1, torch.tensor([0.5, 0.5])):
        net.set_style(style)
        outputs.append(net(x))
    assert (outputs[0] - outputs[1]).abs().mean() > 1e-3  # the styles differ
    assert not torch.allclose(outputs[2], outputs[0]) and not torch.allclose(outputs[2], outputs[1])
    with pytest.raises(ValueError, match="out of range"):
        net.set_style(2)
    with pytest.raises(ValueError, match="summing to 1"):
        net.set_style(torch.tensor([1.0, 1.0]))


def test_train_conditional_network_and_use_each_style(tmp_path, photo_dir, style_file, tiny_vgg_file,
                                                      monkeypatch, capsys):
    second = tmp_path / "second_painting.png"
    random_photo(7, (64, 64)).transpose(Image.Transpose.ROTATE_90).save(second)
    folder = tmp_path / "weights"
    cfg = TrainConfig(style_image=[str(style_file), str(second)], content_dir=str(photo_dir),
                      out=str(folder / "both.safetensors"), steps=6, batch_size=2, image_size=32,
                      style_size=64, vgg_weights=tiny_vgg_file, checkpoint_every=3, log_every=2,
                      workers=0, lr=1e-2, arch="slim")
    train(cfg, progress=False)
    meta = read_metadata(cfg.out)
    assert meta["styles"] == ["test_painting", "second_painting"]
    assert [(p["style"], p["title"]) for p in meta["paintings"]] == [("test_painting", "Test Painting"),
                                                                      ("second_painting", "Second Painting")]
    infos = available_models(folder)
    assert sorted((i.style, i.norm) for i in infos) == [("second_painting", "instance"), ("test_painting", "instance")]
    assert all(i.describe()["conditional"] for i in infos)
    assert {i.describe()["title"] for i in infos} == {"Test Painting", "Second Painting"}

    photo = random_photo(3, (40, 32))
    first = Stylizer.from_file(cfg.out, "cpu", style="test_painting")
    other = Stylizer.from_file(find_model("second_painting", "instance", "slim", folder).path, "cpu",
                               style="second_painting")
    assert (first.style, other.style) == ("test_painting", "second_painting")
    a, b = (torch.tensor(np.asarray(s.stylize(photo)), dtype=torch.float) for s in (first, other))
    assert (a - b).abs().mean() > 0.5  # each style's own scale and shift were trained apart
    with pytest.raises(WeightsError, match="no style 'starry_night'"):
        Stylizer.from_file(cfg.out, "cpu", style="starry_night")

    # the CLI picks the style inside the file by name
    monkeypatch.setenv(WEIGHTS_ENV, str(folder))
    photo.save(tmp_path / "in.png")
    assert main(["stylize", str(tmp_path / "in.png"), "--style", "second_painting", "--arch", "slim",
                 "-o", str(tmp_path / "out.png"), "--device", "cpu"]) == 0, capsys.readouterr().err
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), np.asarray(other.stylize(photo)))
    # evaluate scores each style against its own painting
    shutil.copy(style_file, tmp_path)
    scores = evaluate(photo_dir, tmp_path, vgg_weights=tiny_vgg_file, limit=2, shorter_side=32)
    assert sorted(s.style for s in scores) == ["second_painting", "test_painting"]
    assert len({round(s.baseline_style_loss, 6) for s in scores}) == 2


def test_conditional_batch_norm_keeps_running_statistics_per_style():
    torch.manual_seed(0)
    conditional, plain = make_norm("batch", 4, num_styles=3), make_norm("batch", 4, affine=False)
    conditional.mix.copy_(torch.tensor([0.0, 1.0, 0.0]))
    for _ in range(3):
        x = torch.randn(2, 4, 5, 5) * 3 + 2
        conditional(x), plain(x)
    running = conditional.norm.running_mean
    assert torch.equal(running[0], torch.zeros(4)) and torch.equal(running[2], torch.zeros(4))
    torch.testing.assert_close(running[1], plain.running_mean)
    conditional.eval(), plain.eval()
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(conditional(x), plain(x))  # style 1 runs on style 1's statistics
    conditional.mix.copy_(torch.tensor([0.0, 0.0, 1.0]))
    torch.testing.assert_close(conditional(x), x / (1 + 1e-5) ** 0.5)  # style 2's are untouched


def test_stylizer_switches_and_blends_styles_of_a_conditional_model(tmp_path):
    torch.manual_seed(0)
    net = TransformerNet("instance", "slim", num_styles=2)
    for m in net.modules():
        if isinstance(m, StyleConditional):
            torch.nn.init.normal_(m.bias)
    path = save_model(net, tmp_path / "two.safetensors", {"styles": ["a", "b"], "arch": "slim"})
    x = torch.rand(1, 3, 20, 20)
    stylizer = Stylizer.from_file(path, "cpu")
    first = stylizer.run(x)
    stylizer.set_style("b")
    second = stylizer.run(x)
    stylizer.set_style({"a": 1, "b": 1})
    assert stylizer.style == "a 50% + b 50%"
    assert "style" not in stylizer.metadata  # the file's description is not a display label
    net.eval().set_style(torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(stylizer.run(x), remove_grid(net(x)), atol=0.02, rtol=0)  # bf16 fast path vs fp32
    assert (first - second).abs().mean() > 1e-3
    with pytest.raises(WeightsError, match="no style 'c'"):
        stylizer.set_style({"a": 0.5, "c": 0.5})
    with pytest.raises(StyleAppError, match="non-negative"):
        stylizer.set_style({"a": -1, "b": 2})
    single = Stylizer(TransformerNet("instance", "slim"), {"style": "a"}, "cpu")
    with pytest.raises(StyleAppError, match="need a conditional model"):
        single.set_style("a")


def test_lab_batch_statistics_variant_works_on_conditional_batch_norm():
    torch.manual_seed(0)
    net = TransformerNet("batch", "slim", num_styles=2).eval()
    net.set_style(1)
    batch_stats = with_batch_statistics(net).eval()
    x = torch.rand(2, 3, 24, 24)
    # with batch statistics an image's output depends on its batch companion; with running ones not
    alone, paired = batch_stats(x[:1]), batch_stats(x)[:1]
    assert (alone - paired).abs().mean() > 1e-3
    torch.testing.assert_close(net(x[:1]), net(x)[:1])
    assert net.enc1[1].norm.running_mean is not None  # the shared model is untouched


@pytest.mark.parametrize("every_style", [False, True])
def test_every_style_trains_all_paintings_at_each_step(every_style, tmp_path, photo_dir, style_file, tiny_vgg_file):
    """In turn, one step moves only the first painting's scale and shift (Adam leaves a zero
    gradient alone); with every_style, one step moves both rows."""
    second = tmp_path / "second_painting.png"
    random_photo(7, (64, 64)).save(second)
    cfg = TrainConfig(style_image=[str(style_file), str(second)], content_dir=str(photo_dir),
                      out=str(tmp_path / "both.safetensors"), steps=1, batch_size=2, image_size=32, style_size=64,
                      vgg_weights=tiny_vgg_file, workers=0, lr=1e-2, arch="slim", every_style=every_style,
                      fast=False)
    torch.manual_seed(cfg.seed)
    before = TransformerNet("instance", "slim", num_styles=2).state_dict()
    train(cfg, progress=False)
    after = Stylizer.from_file(cfg.out, "cpu").model.state_dict()
    rows = [k for k in before if k.endswith(".weight") and before[k].dim() == 2 and before[k].shape[0] == 2]
    assert rows
    moved = {i: any(not torch.allclose(after[k][i].float(), before[k][i], atol=1e-3) for k in rows) for i in (0, 1)}
    assert moved == {0: True, 1: every_style}
    assert read_metadata(cfg.out)["train_config"]["every_style"] is every_style
