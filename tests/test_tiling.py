import pytest
import torch

from helpers import random_photo
from style_app.models.norms import make_norm
from style_app.models.transformer import TransformerNet
from style_app.tools.bench import psnr
from style_app.fastpath import InferenceNet
from style_app.images import to_tensor
from style_app.tiling import stylize_tiled, tile_starts, whole_image_stats

TILE, OVERLAP = 256, 64


def seam_ratio(out: torch.Tensor, starts: list[int]) -> float:
    """Mean horizontal pixel step at tile borders over the median step elsewhere (1 = invisible)."""
    steps = (out[..., :, 1:] - out[..., :, :-1]).abs().mean((0, 1, 2))
    borders = [s - 1 for s in starts[1:]] + [s + TILE - 1 for s in starts[:-1]]
    return (steps[borders].mean() / steps.median()).item()


@pytest.fixture(scope="module")
def photo_and_net():
    torch.manual_seed(0)
    return to_tensor(random_photo(3, (1024, 1024))), InferenceNet(TransformerNet("instance", "slim"), torch.device("cpu"))


def test_tiled_output_matches_untiled_without_seams(photo_and_net):
    photo, net = photo_and_net
    starts = tile_starts(1024, TILE, OVERLAP)
    assert len(starts) >= 4  # several tiles in each direction
    whole = net(photo)
    tiled = stylize_tiled(net.model, net, photo, TILE, OVERLAP, stats_side=512)
    assert psnr(tiled, whole) >= 30
    assert seam_ratio(tiled, starts) < 1.5
    # the same tiles with their own statistics and no blending differ, and show seams
    naive = torch.cat([torch.cat([net(photo[..., t:t + TILE, s:s + TILE]) for s in range(0, 1024, TILE)], -1)
                       for t in range(0, 1024, TILE)], -2)
    assert psnr(naive, whole) < psnr(tiled, whole) - 3
    assert seam_ratio(naive, list(range(0, 1024, TILE))) > 2


@pytest.mark.parametrize("kind", ["instance", "layer", "group"])
def test_fixed_statistics_of_the_same_input_change_nothing(kind):
    norm = make_norm(kind, 16)
    with torch.no_grad():
        norm.weight.normal_(), norm.bias.normal_()
    x = torch.randn(2, 16, 9, 11) * 3 + 1
    part = x[..., :5, :6]
    with whole_image_stats(norm, norm, x, stats_side=64):
        fixed = norm(part)
    torch.testing.assert_close(fixed, norm(x)[..., :5, :6], atol=1e-5, rtol=0)
    # after the block the part is normalized by its own statistics again
    assert (norm(part) - fixed).abs().mean() > 1e-2


def test_tiles_cover_the_image_with_the_overlap():
    for length in (100, 256, 257, 1000, 4096):
        starts = tile_starts(length, TILE, OVERLAP)
        assert starts[0] == 0 and min(starts[-1] + TILE, length) == length
        assert all(b - a <= TILE - OVERLAP for a, b in zip(starts, starts[1:]))
