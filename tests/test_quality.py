"""The picture measures of style_app.tools.quality: each responds to what it claims to measure."""
import torch

from style_app.tools import quality


def smooth_photo(h: int = 128, w: int = 160) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([0.2 + 0.6 * xx, 0.3 + 0.4 * yy, 0.5 - 0.3 * xx * yy])


def test_palette_ratio_is_one_for_the_photo_and_zero_for_the_painting():
    photo, painting = smooth_photo(), torch.rand(3, 90, 70)
    assert abs(quality.palette_ratio(photo, photo, painting) - 1.0) < 1e-6
    assert quality.palette_ratio(painting, photo, painting) < 1e-6


def test_palette_ratio_falls_as_the_colours_move_towards_the_painting():
    photo = smooth_photo()
    painting = torch.stack([torch.full((64, 64), 0.1), torch.full((64, 64), 0.2), torch.rand(64, 64)])
    ratios = [quality.palette_ratio((1 - t) * photo + t * painting.mean((1, 2), keepdim=True), photo, painting)
              for t in (0.0, 0.3, 0.6)]
    assert ratios[0] > ratios[1] > ratios[2]


def test_contrast_ratio_measures_a_pale_grade():
    photo = smooth_photo()
    pale = 0.5 + 0.5 * (photo - 0.5)   # half the contrast, a pale colour grade
    assert abs(quality.contrast_ratio(pale, photo) - 0.5) < 1e-4
    assert abs(quality.contrast_ratio(photo, photo) - 1.0) < 1e-6


def test_blobs_are_counted_in_flat_areas_only():
    photo = smooth_photo()
    graded = 0.3 + 0.5 * photo.flip(0)          # any colour mapping of the photo: no blob
    assert quality.blob_count(graded, photo) == 0
    blotched = graded.clone()
    blotched[:, 32:64, 48:96] = torch.tensor([0.95, 0.9, 0.3])[:, None, None]  # a yellow blob, 2x3 patches
    assert quality.blob_count(blotched, photo) == 6


def test_texture_in_the_photo_is_not_a_blob():
    photo = smooth_photo()
    photo[:, 32:64, 48:96] += 0.3 * torch.rand(1, 32, 48)   # a textured area
    blotched = photo.clone()
    blotched[:, 32:64, 48:96] = torch.tensor([0.95, 0.9, 0.3])[:, None, None]
    assert quality.blob_count(blotched, photo) == 0


def test_painted_texture_over_flat_areas_is_not_a_blob_but_a_dark_droplet_is():
    photo = smooth_photo(256, 320)
    graded = 0.3 + 0.5 * photo.flip(0)
    textured = graded.clone()
    stripes = (torch.arange(48) % 4 < 2).float() * 0.6   # brush strokes: bright on average, not smooth
    textured[:, 32:64, 48:96] = 0.35 + stripes[None, None, :]
    assert quality.blob_count(textured, photo) == 0
    dark = graded.clone()
    dark[:, 32:64, 48:96] = 0.02                          # a dark smooth droplet, 2x3 patches
    assert quality.blob_count(dark, photo) == 6


def test_grid_ratio_sees_a_faint_period_two_and_four_grid_and_not_texture():
    torch.manual_seed(0)
    g = torch.exp(-torch.arange(-4, 5).float() ** 2 / 4.5)      # Gaussian, sigma 1.5: smooth random strokes
    kernel = (g[:, None] * g[None]) / g.sum() ** 2
    texture = torch.nn.functional.conv2d(torch.rand(3, 1, 136, 168), kernel[None, None])[:, 0]
    picture = 0.5 * smooth_photo() + 0.5 * texture
    yy, xx = torch.meshgrid(torch.arange(128), torch.arange(160), indexing="ij")
    checker = ((yy + xx) % 2).float() - 0.5                      # period 2 in both directions
    lines = ((xx // 2) % 2).float() - 0.5                        # vertical lines every 4 pixels
    clean = quality.grid_ratio(picture)
    assert clean < 3
    assert quality.grid_ratio(picture + 0.02 * checker) > 10 * clean   # 2% of the range: faint at 1x
    assert quality.grid_ratio(picture + 0.02 * lines) > 10 * clean
    assert quality.grid_ratio(picture + 0.02 * torch.rand(128, 160)) < 3   # fine noise is not a grid
