import pytest
import torch

from style_app.models.norms import NORM_KINDS, group_count, make_norm, with_batch_statistics
from style_app.models.transformer import TransformerNet


def seed_tensor() -> torch.Tensor:
    """The seed notebook's batch of two 3x2x2 images."""
    img1 = torch.tensor([[[0, 1], [0, 1]], [[2, 3], [2, 3]], [[0, 0], [0, 0]]], dtype=torch.float32)
    img2 = torch.tensor([[[10, 11], [10, 11]], [[12, 13], [12, 13]], [[10, 10], [10, 10]]], dtype=torch.float32)
    return torch.stack([img1, img2])


def test_batch_norm_matches_seed_notebook():
    out = make_norm("batch", 3).train()(seed_tensor())
    torch.testing.assert_close(out[0, 0], torch.tensor([[-1.0945, -0.8955], [-1.0945, -0.8955]]), atol=1e-4, rtol=0)
    torch.testing.assert_close(out[1, 0], torch.tensor([[0.8955, 1.0945], [0.8955, 1.0945]]), atol=1e-4, rtol=0)


def test_layer_norm_matches_seed_notebook_and_torch_layernorm():
    x = seed_tensor()
    out = make_norm("layer", 3)(x)
    expected = torch.tensor([[-0.8660, 0.0], [-0.8660, 0.0]])
    torch.testing.assert_close(out[0, 0], expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(out[1, 0], expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(out, torch.nn.LayerNorm([3, 2, 2])(x), atol=1e-5, rtol=0)


def test_instance_norm_matches_seed_notebook():
    out = make_norm("instance", 3)(seed_tensor())
    for image in range(2):
        torch.testing.assert_close(out[image, 0], torch.tensor([[-1.0, 1.0], [-1.0, 1.0]]), atol=1e-4, rtol=0)


def test_batch_norm_on_batch_of_one_equals_instance_norm():
    x = torch.randn(1, 8, 5, 7)
    torch.testing.assert_close(make_norm("batch", 8).train()(x), make_norm("instance", 8)(x), atol=1e-5, rtol=0)


def test_instance_norm_uses_per_image_statistics_in_eval_mode():
    norm = make_norm("instance", 4)
    norm(torch.randn(3, 4, 6, 6) * 5 + 3)  # a training pass must not leave running stats behind
    x = torch.randn(2, 4, 6, 6) * 3 + 7
    out = norm.eval()(x)
    torch.testing.assert_close(out.mean((2, 3)), torch.zeros(2, 4), atol=1e-5, rtol=0)


def test_batch_norm_uses_running_statistics_in_eval_mode():
    norm = make_norm("batch", 4)
    for _ in range(50):
        norm(torch.randn(8, 4, 5, 5) * 2 + 5)
    out = norm.eval()(torch.full((1, 4, 3, 3), 5.0))
    assert out.abs().max() < 0.3  # 5 is the running mean, so it maps close to 0


def test_layer_norm_works_for_any_spatial_size():
    norm = make_norm("layer", 16)
    for h, w in [(3, 5), (17, 9)]:
        out = norm(torch.randn(2, 16, h, w) * 4 + 1)
        torch.testing.assert_close(out.mean((1, 2, 3)), torch.zeros(2), atol=1e-5, rtol=0)
    assert norm.weight.shape == (16,)  # per-channel affine


@pytest.mark.parametrize("channels", [16, 32, 64, 128])
def test_group_norm_is_a_real_middle_ground(channels):
    norm = make_norm("group", channels)
    assert 1 < norm.num_groups < channels
    assert norm.num_groups == group_count(channels)


def test_group_count_override():
    assert make_norm("group", 32, num_groups=2).num_groups == 2


def test_none_is_identity():
    x = torch.randn(2, 3, 4, 4)
    assert torch.equal(make_norm("none", 3)(x), x)


def test_unknown_kind_lists_valid_kinds():
    with pytest.raises(ValueError) as info:
        make_norm("weight", 8)
    for kind in NORM_KINDS:
        assert kind in str(info.value)


def test_with_batch_statistics_leaves_the_shared_model_alone():
    torch.manual_seed(0)
    model = TransformerNet("batch", "slim").eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    private = with_batch_statistics(model)
    x = torch.rand(2, 3, 16, 16)
    # batch statistics: an image's output depends on its batch companion, even in eval mode
    assert (private(x[:1]) - private(x)[:1]).abs().mean() > 1e-4
    assert private is not model and not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.enc1[1].running_mean is not None and private.enc1[1].running_mean is None
