"""style_app.degrid: the decoder's period-2/4 grid removed, everything else kept."""
import torch

from style_app.models.transformer import TransformerNet
from style_app.degrid import remove_grid
from style_app.stylizer import Stylizer
from style_app.tools.quality import grid_ratio


def painted(h: int = 96, w: int = 128, seed: int = 0) -> torch.Tensor:
    """A smooth picture with random strokes of every size: no grid of its own."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack([0.3 + 0.4 * xx, 0.4 + 0.3 * yy, 0.6 - 0.3 * xx * yy])
    strokes = torch.nn.functional.avg_pool2d(torch.rand(1, 3, h + 2, w + 2, generator=g), 3, 1)[0]
    return (0.7 * base + 0.3 * strokes)[None]


def with_grid(picture: torch.Tensor, amplitude: float = 0.03, seed: int = 1) -> torch.Tensor:
    """The picture plus a fixed bias for each of the 4 x 4 pixel positions modulo 4, per channel."""
    bias = (torch.rand(3, 4, 4, generator=torch.Generator().manual_seed(seed)) - 0.5) * 2 * amplitude
    h, w = picture.shape[-2:]
    return (picture + bias.repeat(1, h // 4 + 1, w // 4 + 1)[:, :h, :w]).clamp(0, 1)


def test_a_grid_is_removed_and_the_picture_kept():
    clean = painted(192, 256)
    gridded = with_grid(clean)
    out = remove_grid(gridded)
    assert grid_ratio(gridded[0]) > 100 * grid_ratio(out[0])   # the photos of docs/quality.md score 1.1
    assert grid_ratio(out[0]) < 5
    assert (out - clean).abs().mean() < 0.2 * (gridded - clean).abs().mean()


def test_a_picture_without_a_grid_is_left_almost_unchanged():
    clean = painted(192, 256, seed=3)
    assert (remove_grid(clean) - clean).abs().mean() < 0.003


def test_any_size_and_batch_keeps_its_shape_and_range():
    for shape in ((1, 3, 5, 3), (2, 3, 37, 23), (1, 3, 1, 9)):
        x = torch.rand(*shape)
        out = remove_grid(x)
        assert out.shape == x.shape and out.dtype == x.dtype and 0 <= out.min() and out.max() <= 1
    pair = torch.cat([with_grid(painted(seed=4)), painted(seed=5)])
    torch.testing.assert_close(remove_grid(pair)[1:], remove_grid(pair[1:]))  # pictures do not mix


def test_the_stylizer_serves_pictures_without_the_networks_grid():
    stylizer = Stylizer(TransformerNet("instance", "slim-noise"), {"style": "x"}, "cpu", fast=False)
    network = stylizer.net
    stylizer.net = lambda batch: with_grid(network(batch), seed=7)  # a decoder that draws a grid
    photo = painted(192, 256, seed=6)
    assert grid_ratio(stylizer.net(photo)[0]) > 30
    assert grid_ratio(stylizer.run(photo)[0]) < 5
