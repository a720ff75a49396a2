"""Batch norm's running statistics measured again after training (precise BN): eval mode then
normalizes as training did, on the photos and at the size measured."""
from __future__ import annotations

import torch
from safetensors.torch import load_file

from helpers import random_photo, save_conditional_network, tiny_config
from style_app.cli import main
from style_app.models.transformer import ArchConfig, TransformerNet
from style_app.style_files import load_network
from style_app.training.add_style import add_style_config, train_style
from style_app.training.bn_statistics import batch_norm_layers, calibration_photos, recalibrate
from style_app.training.train import train
from style_app.weights import load_model, read_metadata

TINY = ArchConfig(channels=(4, 8, 8), res_blocks=1, edge_kernel=3)


def tiny_batch_norm_network(num_styles: int) -> TransformerNet:
    torch.manual_seed(0)
    return TransformerNet("batch", TINY, num_styles).eval()


def test_eval_mode_then_normalizes_as_training_did():
    """Measured on one batch, eval mode gives that batch what training mode (its own batch
    statistics) gives it; with the statistics a network starts with (mean 0, variance 1) it does not."""
    model, photos = tiny_batch_norm_network(2), torch.rand(4, 3, 32, 32)
    model.set_style(1)
    with torch.no_grad():
        as_trained = model.train()(photos)
        model.eval()
        assert (model(photos) - as_trained).abs().max() > 0.1
        recalibrate(model, photos, styles=[1])
        assert (model(photos) - as_trained).abs().max() < 1e-2  # running_var is unbiased, as in torch


def test_only_the_given_styles_change_and_the_model_is_left_as_it_was():
    model = tiny_batch_norm_network(3)
    model.set_style(2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    recalibrate(model, torch.rand(8, 3, 32, 32), styles=[0, 1])
    after = model.state_dict()
    for name, tensor in before.items():
        if name.endswith(("running_mean", "running_var")):
            assert not torch.equal(after[name][:2], tensor[:2]), name
            assert torch.equal(after[name][2], tensor[2]), name
        else:
            assert torch.equal(after[name], tensor), name  # weights, step counters, the style mix
    assert not model.training


def test_statistics_are_the_mean_over_batches():
    """Two batches: each layer's statistics are the mean of what one batch alone gives."""
    photos = torch.rand(8, 3, 32, 32)
    halves = []
    for half in photos.split(4):
        model = tiny_batch_norm_network(1)
        recalibrate(model, half)
        halves.append(model.state_dict())
    model = tiny_batch_norm_network(1)
    assert recalibrate(model, photos) == len(batch_norm_layers(model)) > 0
    for name, tensor in model.state_dict().items():
        if name.endswith("running_mean"):  # the first layer's input is the photo: the mean is exact
            torch.testing.assert_close(tensor, (halves[0][name] + halves[1][name]) / 2)


def test_training_a_batch_norm_network_ends_with_statistics_at_the_output_size(
        tmp_path, photo_dir, style_file, tiny_vgg_file):
    cfg = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, norm="batch", bn_stats_size=48)
    model, meta = load_model(train(cfg, progress=False))
    assert meta["bn_statistics"] == {"size": 48, "photos": 6}
    expected = load_model(cfg.out)[0]
    recalibrate(expected, calibration_photos(photo_dir, 48))
    for name, tensor in expected.state_dict().items():
        if name.endswith("running_var"):
            torch.testing.assert_close(model.state_dict()[name], tensor, rtol=2e-3, atol=1e-4)

    kept = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, norm="batch", bn_stats_size=0,
                       out=str(tmp_path / "kept.safetensors"))
    kept_model, kept_meta = load_model(train(kept, progress=False))
    assert "bn_statistics" not in kept_meta
    assert not torch.allclose(kept_model.state_dict()["enc1.1.running_var"], model.state_dict()["enc1.1.running_var"])


def test_an_added_style_gets_statistics_at_the_output_size(tmp_path, photo_dir, tiny_vgg_file):
    base = save_conditional_network(tmp_path, "batch")
    painting = tmp_path / "udnie.jpg"
    random_photo(7, (64, 64)).save(painting)
    cfg = add_style_config(painting, base, content_dir=photo_dir, out=tmp_path / "udnie.safetensors", steps=2,
                           workers=0, vgg_weights=tiny_vgg_file, bn_stats_size=40)
    net, _ = load_network(train_style(cfg, progress=False))
    assert read_metadata(cfg.out)["bn_statistics"] == {"size": 40, "photos": 6}
    expected = load_network(cfg.out)[0]
    recalibrate(expected, calibration_photos(photo_dir, 40), styles=[2])
    shipped = load_model(base)[0].state_dict()
    for name, tensor in expected.state_dict().items():
        if name.endswith("running_var"):
            torch.testing.assert_close(net.state_dict()[name], tensor, rtol=2e-3, atol=1e-4)
            assert torch.equal(net.state_dict()[name][:2], shipped[name])  # the network's own styles untouched


def test_recalibrate_command_writes_a_new_network(tmp_path, photo_dir, capsys):
    network = save_conditional_network(tmp_path, "batch")
    original = network.read_bytes()
    out = tmp_path / "recalibrated.safetensors"
    assert main(["recalibrate", str(network), "--content-dir", str(photo_dir), "--out", str(out),
                 "--size", "40", "--photos", "4"]) == 0
    assert network.read_bytes() == original
    assert read_metadata(out)["bn_statistics"] == {"size": 40, "photos": 4}
    assert read_metadata(out)["styles"] == read_metadata(network)["styles"]
    old, new = load_file(str(network)), load_file(str(out))
    assert all(torch.equal(old[k], new[k]) for k in old if not k.endswith(("running_mean", "running_var")))
    assert not torch.equal(old["enc1.1.norm.running_var"], new["enc1.1.norm.running_var"])


def test_recalibrate_command_refuses_what_it_cannot_do(tmp_path, photo_dir, capsys):
    network = save_conditional_network(tmp_path, "instance")
    batch = save_conditional_network(tmp_path, "batch")
    for argv, message in (
            ([str(network), "--out", str(tmp_path / "x.safetensors")], "instance norm keeps no running statistics"),
            ([str(batch), "--out", str(batch)], "is NETWORK; write the recalibrated network to a new file"),
            ([str(tmp_path / "missing.safetensors"), "--out", str(tmp_path / "y.safetensors")], "missing")):
        capsys.readouterr()
        assert main(["recalibrate", *argv, "--content-dir", str(photo_dir)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x.safetensors").exists()
