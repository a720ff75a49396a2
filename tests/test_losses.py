import torch

from models.vgg import VGGFeatures, vgg_layers
from style_app.training.losses import PerceptualLoss, gram, relative_mse


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
    small = PerceptualLoss(VGGFeatures(layers), style)(stylized, content)
    with torch.no_grad():
        layers[0].weight.mul_(10)
    large = PerceptualLoss(VGGFeatures(layers), style)(stylized, content)
    for term in ("content", "style", "tv", "total"):
        torch.testing.assert_close(small[term], large[term], rtol=1e-4, atol=1e-6)


def test_style_loss_is_zero_for_the_style_image_itself():
    torch.manual_seed(0)
    vgg = VGGFeatures(vgg_layers((4, 4, 8, 8, 8, 8, 8, 16, 16, 16)))
    style = torch.rand(1, 3, 32, 32)
    loss = PerceptualLoss(vgg, style)
    assert loss.style_loss(vgg(style)).item() < 1e-6
    assert loss.style_loss(vgg(torch.rand(1, 3, 32, 32))).item() > 1e-3
