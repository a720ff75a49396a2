"""The noise planes of the slim-noise network: fixed when serving, fresh in training, the same
field across tiles, exported to ONNX."""
import pytest
import torch

from style_app.models.noise import coordinate_noise
from style_app.models.transformer import TransformerNet
from style_app.fastpath import InferenceNet
from style_app.tiling import stylize_tiled
from style_app.training.train import train
from style_app.weights import load_model, save_model
from helpers import tiny_config


def test_coordinate_noise_is_uniform_white_noise_fixed_by_position():
    field = coordinate_noise(1, 2, 256, 256)
    assert field.shape == (1, 2, 256, 256) and 0 <= field.min() and field.max() < 1
    assert abs(field.mean() - 0.5) < 0.01 and abs(field.std() - 12 ** -0.5) < 0.01
    x = field[0, 0]
    for a, b in ((x[:, :-1], x[:, 1:]), (x[:-1], x[1:]), (field[0, 0], field[0, 1])):
        assert abs(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1]) < 0.02  # neighbours, planes
    torch.testing.assert_close(coordinate_noise(3, 2, 40, 70, origin=(100, 37)), field[..., 100:140, 37:107].expand(3, -1, -1, -1))


def test_serving_is_deterministic_and_training_draws_fresh_noise():
    torch.manual_seed(0)
    net, photo = TransformerNet("instance", "slim-noise"), torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        train_a, train_b = net.train()(photo), net(photo)
        serve_a, serve_b = net.eval()(photo), net(photo)
    assert not torch.equal(train_a, train_b)
    assert torch.equal(serve_a, serve_b)
    assert not torch.equal(serve_a, net(photo, origin=(5, 0)))  # another part of the noise field


def test_noise_network_round_trips_and_plain_headers_stay_as_they_were(tmp_path):
    torch.manual_seed(0)
    net = TransformerNet("instance", "slim-noise", num_styles=2).eval()
    path = save_model(net, tmp_path / "n.safetensors", {"styles": ["a", "b"], "arch": "slim-noise"})
    loaded, meta = load_model(path)
    assert meta["arch_config"]["noise_channels"] == 1 and loaded.enc1[0].in_channels == 4
    photo = torch.rand(1, 3, 40, 50)
    with torch.no_grad():
        torch.testing.assert_close(loaded(photo), net(photo), atol=2e-3, rtol=0)  # weights stored in fp16
    assert "noise_channels" not in TransformerNet("instance", "slim").arch.to_dict()


def test_tiles_read_one_noise_field():
    torch.manual_seed(0)
    net = InferenceNet(TransformerNet("instance", "slim-noise"), torch.device("cpu"), fast=False)
    photo = torch.rand(1, 3, 300, 420)
    whole = net(photo)
    tiled = stylize_tiled(net.model, net, photo, tile=200, overlap=64, stats_side=512)
    origin_blind = stylize_tiled(net.model, lambda x, origin=(0, 0): net(x), photo, tile=200, overlap=64, stats_side=512)
    error, blind_error = (tiled - whole).abs().mean(), (origin_blind - whole).abs().mean()
    assert error < blind_error / 2


def test_noise_network_exports_to_onnx(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from style_app.tools.export import check_onnx, export_onnx
    torch.manual_seed(0)
    net = TransformerNet("instance", "slim-noise").eval()
    assert check_onnx(export_onnx(net, tmp_path / "n.onnx"), net) < 1e-3


def test_training_with_noise_resumes_exactly(tmp_path, photo_dir, style_file, tiny_vgg_file):
    """The noise is drawn from the RNG a checkpoint saves and restores."""
    whole = tiny_config(tmp_path / "whole", photo_dir, style_file, tiny_vgg_file, arch="slim-noise", steps=6)
    train(whole, progress=False)
    train(tiny_config(tmp_path / "split", photo_dir, style_file, tiny_vgg_file, arch="slim-noise", steps=3), progress=False)
    rest = tiny_config(tmp_path / "split", photo_dir, style_file, tiny_vgg_file, arch="slim-noise", steps=6, resume="auto")
    train(rest, progress=False)
    a, b = load_model(whole.out)[0].state_dict(), load_model(rest.out)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
