import pytest
import torch

from style_app.models.vgg import VGGFeatures, vgg_layers
from style_app.training.config import JOHNSON_TERMS
from style_app.training.losses import PerceptualLoss, gram, relative_mse



def johnson(**changed) -> dict:
    """Johnson et al.'s loss (every later term off) with `changed` terms."""
    return {**JOHNSON_TERMS, **changed}


def test_gram_is_normalized_channel_correlation():
    f = torch.ones(1, 2, 3, 4)
    torch.testing.assert_close(gram(f), torch.full((1, 2, 2), 1 / 2))


def test_relative_mse_is_zero_for_equal_and_scale_free():
    x, t = torch.rand(2, 5), torch.rand(2, 5)
    assert relative_mse(t, t).abs().max() == 0
    torch.testing.assert_close(relative_mse(x * 7, t * 7), relative_mse(x, t))


def test_loss_terms_do_not_depend_on_the_vgg_activation_scale():
    """A VGG whose activations are 10x larger (like the Caffe weights) gives the same losses."""
    torch.manual_seed(0)
    layers = vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16))
    for m in layers:
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.zeros_(m.bias)  # bias-free ReLU nets are positively homogeneous
    style, content, stylized = torch.rand(1, 3, 32, 32), torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    small = PerceptualLoss(VGGFeatures(layers), style, johnson())(stylized, content)
    with torch.no_grad():
        layers[0].weight.mul_(10)
    large = PerceptualLoss(VGGFeatures(layers), style, johnson())(stylized, content)
    for term in ("content", "style", "tv", "total"):
        torch.testing.assert_close(small[term], large[term], rtol=1e-4, atol=1e-6)


def test_style_loss_is_zero_for_the_style_image_itself():
    torch.manual_seed(0)
    vgg = VGGFeatures(vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16)))
    style = torch.rand(1, 3, 32, 32)
    loss = PerceptualLoss(vgg, style, johnson())
    assert loss.style_loss(vgg(style)).item() < 1e-6
    assert loss.style_loss(vgg(torch.rand(1, 3, 32, 32))).item() > 1e-3


def _flat(value: float) -> torch.Tensor:
    return torch.full((1, 3, 32, 32), value)


def test_sliced_loss_matches_each_picture_and_sliced_batch_the_batch_pooled():
    """A painting half dark, half light, against a batch of one dark and one light picture: each
    picture alone lacks half the painting's colours (sliced sees that); pooled, the batch holds
    them all (sliced-batch does not ask every photo to paint the whole palette)."""
    torch.manual_seed(0)
    vgg = VGGFeatures(vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16)))
    painting = torch.cat([_flat(0.1), _flat(0.9)], dim=-1)          # 32 x 64: dark left, light right
    batch = torch.cat([_flat(0.1), _flat(0.9)])
    per_picture = PerceptualLoss(vgg, painting, johnson(style_loss="sliced")).style_loss(vgg(batch))
    pooled = PerceptualLoss(vgg, painting, johnson(style_loss="sliced-batch")).style_loss(vgg(batch))
    assert per_picture.shape == pooled.shape == (2,)
    assert pooled.max() < 0.1 * per_picture.min()
    # a batch of two dark pictures holds no light colours: pooled, that is seen too
    dark = PerceptualLoss(vgg, painting,
        johnson(style_loss="sliced-batch")).style_loss(vgg(torch.cat([_flat(0.1)] * 2)))
    assert dark.min() > 5 * pooled.max()


def test_sliced_losses_are_zero_for_the_style_image_itself():
    torch.manual_seed(0)
    vgg = VGGFeatures(vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16)))
    style = torch.rand(1, 3, 32, 32)
    for kind in ("sliced", "sliced-batch"):
        loss = PerceptualLoss(vgg, style, johnson(style_loss=kind))
        assert loss.style_loss(vgg(style)).item() < 1e-6
        assert loss.style_loss(vgg(torch.rand(1, 3, 32, 32))).item() > 1e-3


def test_laplacian_loss_ignores_a_colour_shift_and_sees_a_blob_on_a_smooth_gradient():
    """The photo's light may be re-coloured (an offset costs nothing), but a new contour on a
    smooth area, the shape of a blob, is what the Laplacian term charges for."""
    from style_app.training.losses import laplacian

    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    photo = (0.2 + 0.5 * xx).expand(1, 3, 64, 64).clone()
    photo[..., :, 40:44] = 0.9                                   # one real edge: a post in the picture
    shifted = photo + torch.tensor([0.2, -0.1, 0.05]).view(1, 3, 1, 1)
    blob = photo + 0.3 * torch.exp(-((xx - 0.3) ** 2 + (yy - 0.5) ** 2) / 0.005)
    loss = PerceptualLoss(VGGFeatures(vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16))), photo,
        johnson(laplacian_weight=1.0))
    assert loss(shifted, photo)["laplacian"].item() < 1e-8
    assert loss(blob, photo)["laplacian"].item() > 0.01  # 3% of the post's own contour energy
    assert laplacian(photo).shape == (1, 3, 14, 14)  # pooled by 4, then a valid 3x3


def test_coarser_laplacian_pools_see_a_large_soft_patch_the_finest_misses():
    """A soft patch as wide as a lake (the colour patches of docs/quality.md) bends the light too
    gently for the Laplacian of 4x-pooled pixels; pooled by 8 and 16 it is a contour."""
    yy, xx = torch.meshgrid(torch.arange(128.0), torch.arange(128.0), indexing="ij")
    photo = (0.3 + 0.4 * xx / 128).expand(1, 3, 128, 128).clone()
    photo[..., :, 100:] += 0.2                                   # the photo's own edge
    patch = photo + 0.3 * torch.exp(-((xx - 48) ** 2 + (yy - 64) ** 2) / (2 * 12.0 ** 2))
    vgg = VGGFeatures(vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16)))
    fine = PerceptualLoss(vgg, photo, johnson(laplacian_weight=1.0))(patch, photo)["laplacian"].item()
    coarse = PerceptualLoss(vgg, photo, johnson(laplacian_weight=1.0, laplacian_pools=(4, 8, 16)))(patch, photo)
    assert fine < 0.05 and coarse["laplacian"].item() > 10 * fine
    assert PerceptualLoss(vgg, photo, johnson(laplacian_weight=1.0, laplacian_pools=(4, 8, 16)))(photo, photo)[
        "laplacian"].item() < 1e-8


def test_tiles_cut_each_picture_into_regions_row_by_row():
    from style_app.training.losses import tiles

    features = torch.arange(2 * 4 * 4.0).view(2, 1, 4, 4)
    regions = tiles(features, 2)
    assert regions.shape == (8, 1, 2, 2)
    torch.testing.assert_close(regions[1, 0], torch.tensor([[2.0, 3.0], [6.0, 7.0]]))  # top right
    torch.testing.assert_close(regions[4, 0], torch.tensor([[16.0, 17.0], [20.0, 21.0]]))  # next picture


def _colour_passing_vgg() -> VGGFeatures:
    """A loss network that passes the pixels through: its features are colours."""
    layers = vgg_layers((3,) * 10)
    with torch.no_grad():
        for m in layers:
            if isinstance(m, torch.nn.Conv2d):
                m.bias.zero_()
                m.weight.zero_()[:, :, 1, 1] = torch.eye(3)
    return VGGFeatures(layers)


def test_sliced_tiles_asks_every_region_for_the_whole_palette():
    """The painting's own pixels, shuffled (every region holds every colour) or sorted dark to
    light (each region one part of the palette, as a glow holds one of its colours): sliced-tiles
    charges the sorted picture far more than the shuffled one, and more than the per-picture loss
    does, since the picture as a whole still holds the painting's colours."""
    torch.manual_seed(0)
    vgg = _colour_passing_vgg()
    painting = torch.rand(1, 3, 64, 64)
    pixels = painting.flatten(2)
    shuffled = pixels[..., torch.randperm(64 * 64)].view(1, 3, 64, 64)
    sorted_ = pixels[..., pixels.sum(1)[0].argsort()].view(1, 3, 64, 64)
    regional = PerceptualLoss(vgg, painting, johnson(style_loss="sliced-tiles"))
    whole = PerceptualLoss(vgg, painting, johnson(style_loss="sliced"))
    assert regional.style_loss(vgg(sorted_)).item() > 10 * regional.style_loss(vgg(shuffled)).item()
    assert regional.style_loss(vgg(sorted_)).item() > 3 * whole.style_loss(vgg(sorted_)).item()


def test_sliced_texture_wants_the_paintings_colour_masses_with_its_brushwork():
    """A painting of two colour masses (left warm, right cool), each with a grain finer than a
    region. A fresh draw of it costs little; the same masses without grain (smooth patches of one
    colour: glows) and its pixels shuffled (every region holding both colours) cost far more.
    The pooled loss (sliced-batch) barely sees the missing grain; sliced-tiles, which asks each region
    for the whole palette, prefers the shuffled pixels to the painting's own layout."""
    torch.manual_seed(0)
    vgg = _colour_passing_vgg()
    masses = torch.zeros(1, 3, 128, 128)
    masses[..., :64] = torch.tensor([0.9, 0.8, 0.7])[:, None, None]  # above the ImageNet mean, so
    masses[..., 64:] = torch.tensor([0.7, 0.8, 0.95])[:, None, None]  # the ReLUs pass the grain
    def draw() -> torch.Tensor:
        return masses + 0.2 * (torch.rand(1, 1, 128, 128) - 0.5)
    painting, fresh = draw(), draw()
    shuffled = painting.flatten(2)[..., torch.randperm(128 * 128)].view(1, 3, 128, 128)
    texture, tiles, pooled = (PerceptualLoss(vgg, painting, johnson(style_loss=k))
                              for k in ("sliced-texture", "sliced-tiles", "sliced-batch"))
    cost = {name: texture.style_loss(vgg(x)).item() for name, x in
            (("fresh", fresh), ("smooth", masses), ("shuffled", shuffled))}
    assert cost["smooth"] > 10 * cost["fresh"] and cost["shuffled"] > 10 * cost["fresh"]
    assert cost["smooth"] > 10 * pooled.style_loss(vgg(masses)).item()  # the pooled loss barely sees it
    assert tiles.style_loss(vgg(shuffled)).item() < tiles.style_loss(vgg(fresh)).item()


def test_texture_weight_scales_the_texture_term():
    vgg = _colour_passing_vgg()
    painting, picture = torch.rand(1, 3, 128, 128), torch.rand(1, 3, 128, 128)
    cost = {}
    for weight in (0.0, 1.0, 2.0):
        loss = PerceptualLoss(vgg, painting, johnson(style_loss="sliced-texture", texture_weight=weight))
        torch.manual_seed(1)  # the same random directions each time
        cost[weight] = loss.style_loss(vgg(picture)).item()
    assert cost[1.0] > 2 * cost[0.0]
    assert abs((cost[2.0] - cost[0.0]) - 2 * (cost[1.0] - cost[0.0])) < 1e-4 * cost[2.0]


def test_gram_weight_adds_each_pictures_gram_loss_beside_a_sliced_loss():
    """sliced-batch pools the batch, so one picture may miss the painting's look; the Gram term
    holds each picture to the painting's channel correlations (what evaluate's Gram ratio measures)."""
    vgg = VGGFeatures(vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16)))
    painting, photo = torch.rand(1, 3, 32, 32), torch.rand(2, 3, 32, 32)
    loss = PerceptualLoss(vgg, painting, johnson(style_loss="sliced-batch", gram_weight=2.0))
    near, far = painting.expand(2, -1, -1, -1), photo
    assert loss(near, photo)["gram"].item() < 1e-6 < loss(far, photo)["gram"].item()
    terms = loss(far, photo)
    expected = PerceptualLoss(vgg, painting, johnson(style_loss="gram")).style_loss(vgg(far)).mean()
    torch.testing.assert_close(terms["gram"], expected)
    weighted = terms["content"] + 3 * terms["style"] + 10 * terms["tv"] + 2 * terms["gram"]
    torch.testing.assert_close(terms["total"], weighted)
    assert "gram" not in PerceptualLoss(vgg, painting, johnson(style_loss="sliced-batch"))(far, photo)
    with pytest.raises(ValueError, match="beside a sliced style loss"):
        PerceptualLoss(vgg, painting, johnson(style_loss="gram", gram_weight=1.0))


def test_gram_layers_restrict_the_gram_term_to_the_layers_chosen():
    """The deep layers alone ask each picture for the painting's texture, not its colours."""
    from style_app.training.losses import STYLE_LAYERS, gram, gram_loss
    vgg = VGGFeatures(vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16)))
    painting, photo = torch.rand(1, 3, 32, 32), torch.rand(2, 3, 32, 32)
    deep = PerceptualLoss(vgg, painting,
        johnson(style_loss="sliced-batch", gram_weight=1.0, gram_layers=("relu4_3", "relu3_3")))
    feats, target = vgg(photo), vgg(painting)
    expected = torch.stack([gram_loss(feats[k], gram(target[k])) for k in ("relu3_3", "relu4_3")]).mean()
    torch.testing.assert_close(deep(photo, photo)["gram"], expected)
    every = PerceptualLoss(vgg, painting, johnson(style_loss="sliced-batch", gram_weight=1.0))
    assert every.gram_layers == STYLE_LAYERS
    assert abs(every(photo, photo)["gram"].item() - expected.item()) > 1e-4
    with pytest.raises(ValueError, match="Gram layers must be among"):
        PerceptualLoss(vgg, painting, johnson(style_loss="sliced-batch", gram_weight=1.0, gram_layers=("relu5_3",)))


def test_texture_takes_each_regions_mean_away():
    from style_app.training.losses import texture

    features = torch.arange(2 * 4 * 4.0).view(2, 1, 4, 4)
    squares = texture(features, 2)
    assert squares.shape == (8, 1, 2, 2)
    torch.testing.assert_close(squares[1, 0], torch.tensor([[-2.5, -1.5], [1.5, 2.5]]))


def test_photo_targets_given_once_give_the_same_losses():
    """A step that trains several paintings computes the photo's targets once and passes them."""
    vgg = VGGFeatures(vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16)))
    photo, stylized = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    loss = PerceptualLoss(vgg, torch.rand(1, 3, 32, 32), johnson(laplacian_weight=1.0, laplacian_pools=(2, 4)))
    targets = loss.photo_targets(photo)
    assert set(targets) == {"content", "laplacian_2", "laplacian_4"}
    given, computed = loss(stylized, photo, targets), loss(stylized, photo)
    for term in ("content", "laplacian", "total"):
        torch.testing.assert_close(given[term], computed[term])


def test_contrast_term_charges_only_pictures_paler_than_their_photo():
    """(1 - output luminance std / photo's)^2 where the output is paler; a tone curve that keeps or
    raises the photo's contrast costs nothing, and the gradient pulls a washed-out picture apart."""
    from style_app.tools.quality import contrast_ratio
    torch.manual_seed(0)
    vgg = VGGFeatures(vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16)))
    painting, photo = torch.rand(1, 3, 32, 32), torch.rand(2, 3, 32, 32)
    loss = PerceptualLoss(vgg, painting, johnson(style_loss="sliced-batch", contrast_weight=4.0))
    pale = (0.5 + 0.4 * (photo - 0.5)).requires_grad_()  # 0.4 of the photo's contrast
    terms = loss(pale, photo)
    ratios = [contrast_ratio(p, q) for p, q in zip(pale.detach(), photo)]
    torch.testing.assert_close(terms["contrast"].item(), sum((1 - r) ** 2 for r in ratios) / 2, rtol=1e-4, atol=0)
    assert abs(terms["contrast"].item() - 0.36) < 1e-3
    weighted = terms["content"] + 3 * terms["style"] + 10 * terms["tv"] + 4 * terms["contrast"]
    torch.testing.assert_close(terms["total"], weighted)
    terms["contrast"].backward()
    assert (pale.grad * (pale.detach() - 0.5)).sum() < 0  # descending the gradient moves pixels away from grey
    stronger = (0.5 + 1.5 * (photo - 0.5)).clamp(0, 1)
    assert loss(stronger, photo)["contrast"].item() == 0
    assert loss(photo, photo)["contrast"].item() == 0
    assert "contrast" not in PerceptualLoss(vgg, painting, johnson(style_loss="sliced-batch"))(pale, photo)


def test_windowed_contrast_term_does_not_pay_for_a_smooth_bright_field():
    """A picture whose strokes are paler than the photo's but which lifts its spread with one smooth
    bright field (a glow) satisfies the whole-picture term; measured in 8 px squares it pays about
    (1 - 0.3)^2 where the strokes are pale, and descending it draws the strokes apart again."""
    torch.manual_seed(0)
    vgg = VGGFeatures(vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16)))
    painting = torch.rand(1, 3, 32, 32)
    strokes = (torch.rand(2, 1, 8, 8) - 0.5).repeat_interleave(4, 2).repeat_interleave(4, 3).expand(-1, 3, -1, -1)
    photo = 0.5 + 0.3 * strokes
    glow = torch.zeros(1, 1, 32, 32)
    glow[..., 8:24, 8:24] = 0.4  # aligned with the squares: the field adds nothing inside any of them
    pale_with_glow = (0.3 + 0.3 * 0.3 * strokes + glow).requires_grad_()
    whole = PerceptualLoss(vgg, painting, johnson(style_loss="sliced-batch", contrast_weight=1.0))
    squares = PerceptualLoss(vgg, painting, johnson(style_loss="sliced-batch", contrast_weight=1.0, contrast_window=8))
    assert whole(pale_with_glow, photo)["contrast"].item() == 0
    term = squares(pale_with_glow, photo)["contrast"]
    assert abs(term.item() - 0.49) < 0.01
    term.backward()
    centred = pale_with_glow.detach() - torch.nn.functional.avg_pool2d(pale_with_glow.detach(), 8).repeat_interleave(
        8, 2).repeat_interleave(8, 3)
    assert (pale_with_glow.grad * centred).sum() < 0  # descending pulls each square's pixels apart
    bolder = 0.5 + 0.5 * strokes
    assert squares(bolder, photo)["contrast"].item() == 0


def test_tone_term_pays_for_the_photos_tones_weakened_not_for_a_field_the_photo_lacks():
    """A picture keeping the photo's coarse lights and darks at half strength pays (1 - 0.5)^2 = 0.25,
    and still 0.25 with a bright middle framed by dark added (C28's field: uncorrelated with the
    photo's dark-left, light-right), which the whole-picture contrast term takes as contrast enough;
    descending the tone term draws the photo's own lights and darks stronger."""
    torch.manual_seed(0)
    vgg = VGGFeatures(vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16)))
    painting = torch.rand(1, 3, 32, 32)
    photo = torch.full((2, 3, 32, 32), 0.3)
    photo[..., 16:] = 0.7
    field = torch.full((1, 1, 32, 32), -0.2)
    field[..., 8:24, 8:24] = 0.4
    weak = 0.5 + 0.5 * (photo - 0.5)
    weak_with_field = (weak + field).requires_grad_()
    tone = PerceptualLoss(vgg, painting, johnson(style_loss="sliced-batch", tone_weight=1.0))
    contrast = PerceptualLoss(vgg, painting, johnson(style_loss="sliced-batch", contrast_weight=1.0))
    assert tone(photo, photo)["tone"].item() == pytest.approx(0, abs=1e-6)
    assert tone(weak, photo)["tone"].item() == pytest.approx(0.25, abs=1e-4)
    assert contrast(weak_with_field, photo)["contrast"].item() == 0
    term = tone(weak_with_field, photo)["tone"]
    assert term.item() == pytest.approx(0.25, abs=1e-4)
    term.backward()
    assert (weak_with_field.grad * (photo - 0.5)).sum() < 0  # descending: darker left, lighter right
    assert "tone" not in contrast(weak, photo)


def test_mean_colour_term_pulls_the_batch_mean_to_the_paintings():
    """||batch mean RGB - painting's||^2 / ||painting's||^2, pooled over the batch: a light picture
    beside a dark one costs nothing when together they hold the painting's mean, and a batch that
    is too light as a whole is pulled darker."""
    torch.manual_seed(0)
    vgg = VGGFeatures(vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16)))
    painting = torch.full((1, 3, 32, 32), 0.3)
    painting[:, 0] = 0.5
    loss = PerceptualLoss(vgg, painting, johnson(style_loss="sliced-batch", mean_colour_weight=5.0))
    photo = torch.rand(2, 3, 32, 32)
    light = (painting.expand(2, -1, -1, -1) + 0.1).requires_grad_()
    terms = loss(light, photo)
    expected = 3 * 0.1 ** 2 / (0.5 ** 2 + 2 * 0.3 ** 2)
    torch.testing.assert_close(terms["mean_colour"].item(), expected, rtol=1e-4, atol=0)
    weighted = terms["content"] + 3 * terms["style"] + 10 * terms["tv"] + 5 * terms["mean_colour"]
    torch.testing.assert_close(terms["total"], weighted)
    terms["mean_colour"].backward()
    assert (light.grad > 0).all()  # descending the gradient darkens every pixel
    balanced = painting.expand(2, -1, -1, -1) + torch.tensor([0.1, -0.1]).view(2, 1, 1, 1)
    assert loss(balanced, photo)["mean_colour"].item() < 1e-10
    assert "mean_colour" not in PerceptualLoss(vgg, painting, johnson(style_loss="sliced-batch"))(light, photo)


def test_stronger_laplacian_mode_charges_new_contours_not_softened_ones():
    """A dark post on a light field, its field darkened so the edge is half as strong (what a painting
    does to a figure on a light field), costs nothing in mode "stronger" and something in "both"
    (which pays the network to redraw the edge with a pale band: a halo); a blob where the photo is
    smooth costs in both."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    photo = torch.full((1, 3, 64, 64), 0.8)
    photo[..., :, 28:36] = 0.1                                   # the dark post
    softened = 0.45 + 0.5 * (photo - 0.45)                       # the field darkened toward the post
    blob = photo + 0.3 * torch.exp(-((xx - 0.2) ** 2 + (yy - 0.5) ** 2) / 0.005)
    vgg = VGGFeatures(vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16)))
    both = PerceptualLoss(vgg, photo, johnson(laplacian_weight=1.0))
    stronger = PerceptualLoss(vgg, photo, johnson(laplacian_weight=1.0, laplacian_mode="stronger"))
    assert both(softened, photo)["laplacian"].item() > 0.1
    assert stronger(softened, photo)["laplacian"].item() == 0
    assert stronger(blob, photo)["laplacian"].item() > 0.01
    assert stronger(blob, photo)["laplacian"].item() <= both(blob, photo)["laplacian"].item()
    with pytest.raises(ValueError, match="Laplacian mode"):
        PerceptualLoss(vgg, photo, johnson(laplacian_weight=1.0, laplacian_mode="weaker"))


def test_palette_term_pulls_the_batchs_colours_to_the_paintings_pooled():
    """The batch's RGB pixels, pooled, against the painting's: a painting half blue, half cream is
    matched by one blue picture beside one cream one (no photo must hold every colour), not by two
    cream ones; descending the term moves a cream batch's pixels toward the blue."""
    torch.manual_seed(0)
    vgg = VGGFeatures(vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16)))
    blue, cream = torch.tensor([0.1, 0.2, 0.5]), torch.tensor([0.9, 0.85, 0.7])
    painting = torch.cat([blue.view(1, 3, 1, 1).expand(1, 3, 32, 16), cream.view(1, 3, 1, 1).expand(1, 3, 32, 16)], -1)
    loss = PerceptualLoss(vgg, painting, johnson(style_loss="sliced-batch", palette_weight=1.0))
    photo = torch.rand(2, 3, 32, 32)
    pair = torch.stack([blue.view(3, 1, 1).expand(3, 32, 32), cream.view(3, 1, 1).expand(3, 32, 32)])
    creams = torch.stack([cream.view(3, 1, 1).expand(3, 32, 32)] * 2).clone().requires_grad_()
    assert loss(pair, photo)["palette"].item() < 1e-3
    term = loss(creams, photo)["palette"]
    assert term.item() > 0.1
    term.backward()
    assert (creams.grad[:, 0] > 0).any() and (creams.grad[:, 2] < 0).any()  # some pixels pulled bluer
    assert "palette" not in PerceptualLoss(vgg, painting, johnson(style_loss="sliced-batch"))(creams, photo)
