import pytest
import torch

from style_app.models.transformer import TransformerNet
from helpers import TINY_VGG_WIDTHS
from style_app.models.vgg import LAYERS, VGGWeightsError, load_vgg, vgg_layers


@pytest.mark.parametrize("norm", ["instance", "batch", "layer", "group", "none"])
@pytest.mark.parametrize("size", [(33, 47), (64, 64), (1, 1), (5, 130)])
def test_output_has_input_size_and_range(norm, size):
    torch.manual_seed(0)
    net = TransformerNet(norm).eval()
    with torch.no_grad():
        out = net(torch.rand(1, 3, *size) * 1.0)
    assert out.shape == (1, 3, *size)
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_unknown_arch_is_a_clear_error():
    with pytest.raises(ValueError, match="johnson"):
        TransformerNet("instance", "huge")


def test_every_norm_layer_comes_from_the_factory():
    net = TransformerNet("group")
    assert sum(isinstance(m, torch.nn.GroupNorm) for m in net.modules()) == 2 + 1 + 10 + 2


def test_vgg_loads_from_file_and_returns_loss_layers(tiny_vgg_file):
    vgg = load_vgg(tiny_vgg_file)
    feats = vgg(torch.rand(2, 3, 32, 32))
    assert set(feats) == set(LAYERS)
    assert feats["relu4_3"].shape == (2, 16, 4, 4)
    assert not any(p.requires_grad for p in vgg.parameters())
    assert set(vgg(torch.rand(1, 3, 32, 32), last="relu2_2")) == {"relu1_2", "relu2_2"}


def test_vgg_file_from_env(tiny_vgg_file, monkeypatch):
    monkeypatch.setenv("STYLE_APP_VGG_WEIGHTS", tiny_vgg_file)
    assert load_vgg().layers[0].out_channels == 4


def test_vgg_missing_or_bad_file(tmp_path):
    with pytest.raises(VGGWeightsError, match="not found"):
        load_vgg(tmp_path / "nope.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not safetensors at all")
    with pytest.raises(VGGWeightsError, match="bad.safetensors"):
        load_vgg(bad)


def test_offline_without_file_names_both_sources(monkeypatch):
    import torchvision.models

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.delenv("STYLE_APP_VGG_WEIGHTS", raising=False)
    monkeypatch.setattr(torchvision.models, "vgg16", offline)
    with pytest.raises(VGGWeightsError) as info:
        load_vgg()
    assert "--vgg-weights" in str(info.value) and "IMAGENET1K_V1" in str(info.value)


def test_vgg_weights_command_writes_the_file_load_vgg_reads(tmp_path, monkeypatch, capsys):
    """`style-app vgg-weights` saves torchvision's VGG-16 features (here a narrow stand-in for the
    download) in the layout --vgg-weights reads."""
    import torchvision.models

    from style_app.cli import main

    class Downloaded:
        def __init__(self, weights):
            assert weights == torchvision.models.VGG16_Weights.IMAGENET1K_V1
            torch.manual_seed(0)
            self.features = vgg_layers(TINY_VGG_WIDTHS)

    monkeypatch.setattr(torchvision.models, "vgg16", Downloaded)
    out = tmp_path / "sub" / "vgg16.safetensors"
    assert main(["vgg-weights", "--out", str(out)]) == 0
    assert f"--vgg-weights {out}" in capsys.readouterr().out
    expected = Downloaded(torchvision.models.VGG16_Weights.IMAGENET1K_V1).features.state_dict()
    loaded = load_vgg(out).layers.state_dict()
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[k], expected[k]) for k in loaded)


def test_vgg_weights_command_that_cannot_write_is_one_line_and_leaves_no_temp_file(tmp_path, monkeypatch, capsys):
    """The file goes through the atomic writer (style_app.files): here --out is a folder."""
    import torchvision.models

    from style_app.cli import main

    downloaded = type("VGG", (), {"features": vgg_layers(TINY_VGG_WIDTHS)})
    monkeypatch.setattr(torchvision.models, "vgg16", lambda weights: downloaded)
    (tmp_path / "taken").mkdir()
    assert main(["vgg-weights", "--out", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"style-app: error: {tmp_path / 'taken'}: cannot write (") and err.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["taken"] and not any((tmp_path / "taken").iterdir())


def test_vgg_weights_command_offline_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    import torchvision.models

    from style_app.cli import main

    def offline(*args, **kwargs):
        raise OSError("network is unreachable\nsecond line of a long report")

    monkeypatch.setattr(torchvision.models, "vgg16", offline)
    assert main(["vgg-weights", "--out", str(tmp_path / "vgg.safetensors")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "network is unreachable" in err and "IMAGENET1K_V1" in err
    assert not (tmp_path / "vgg.safetensors").exists()
