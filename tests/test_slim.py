import torch

from style_app.models.transformer import TransformerNet
from style_app.weights import load_model, save_model


def test_slim_network_is_small_keeps_the_size_and_round_trips(tmp_path):
    slim, johnson = TransformerNet("instance", "slim"), TransformerNet("instance")
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert count(slim) < 200_000 and count(johnson) > 10 * count(slim)
    with torch.no_grad():
        assert slim.eval()(torch.rand(1, 3, 37, 50)).shape == (1, 3, 37, 50)
    path = save_model(slim, tmp_path / "x_instance_slim.safetensors", {"style": "x", "arch": "slim"})
    loaded, meta = load_model(path)
    assert loaded.arch == slim.arch and meta["arch"] == "slim"
