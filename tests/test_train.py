import json
import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from helpers import logged_losses, tiny_config
from style_app.errors import TrainingError
from style_app.training.config import JOHNSON_TERMS, terms_off
from style_app.training.losses import LOSS_SETTINGS, PerceptualLoss
from style_app.training.checkpoints import RESUME_MUST_MATCH
from style_app.training.train import TrainConfig, lr_factor, train
from style_app.weights import load_model, read_metadata

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("norm", ["instance", "batch", "layer", "group", "none"])
def test_each_norm_trains_and_its_loss_decreases(norm, tmp_path, photo_dir, style_file, tiny_vgg_file):
    # the Gram loss: deterministic, so 40 steps make a clean curve (a sliced loss draws new directions each
    # step); beside it the default terms (contrast, mean colour, tone), at train's own learning rate
    cfg = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, norm=norm, steps=40, batch_size=2, lr=1e-3,
                      style_loss="gram", style_weight=3.0, laplacian_weight=0.0)
    train(cfg, progress=False)
    curve = logged_losses(cfg)
    assert len(curve) == 40
    assert sum(curve[-10:]) / 10 < 0.95 * sum(curve[:10]) / 10  # a real decrease, not noise


def test_output_metadata_round_trip(tmp_path, photo_dir, style_file, tiny_vgg_file):
    cfg = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, norm="group", val_dir=str(photo_dir))
    path = train(cfg, progress=False)
    meta = read_metadata(path)
    assert meta["style"] == "test_painting" and meta["norm"] == "group" and meta["arch"] == "johnson"
    assert meta["steps"] == "8"
    assert meta["arch_config"] == {"channels": [32, 64, 128], "res_blocks": 5, "edge_kernel": 9}
    assert meta["train_config"]["batch_size"] == 2 and meta["train_config"]["image_size"] == 32
    assert set(meta["final_losses"]) >= {"content", "style", "tv", "total", "val_style"}
    assert meta["loss_curve"][0][0] == 1 and len(meta["loss_curve"]) == 8
    # what it was trained from, by file name: the trainer's folders are nobody else's business
    config = meta["train_config"]
    assert config["style_image"] == [Path(style_file).name] and config["content_dir"] == Path(photo_dir).name
    assert config["val_dir"] == Path(photo_dir).name and config["vgg_weights"] == Path(tiny_vgg_file).name
    assert str(tmp_path) not in json.dumps(meta)
    assert all(v.dtype == torch.float16 for v in load_file(str(path)).values() if v.is_floating_point())
    model, _ = load_model(path)
    assert model.norm == "group" and not model.training


@pytest.mark.parametrize("fast", [True, False])
def test_resume_continues_exactly(fast, tmp_path, photo_dir, style_file, tiny_vgg_file):
    """With a sliced loss, whose random directions and painting samples come from the global RNG:
    a painting large enough to be subsampled (160 px), and nothing else may draw from that RNG
    once a resumed run has restored it (the data loader draws a seed when it starts)."""
    run = dict(norm="batch", fast=fast, style_loss="sliced-texture", style_size=160)
    whole = tiny_config(tmp_path / "whole", photo_dir, style_file, tiny_vgg_file, steps=10, **run)
    train(whole, progress=False)
    first = tiny_config(tmp_path / "split", photo_dir, style_file, tiny_vgg_file, steps=6, **run)
    train(first, progress=False)
    rest = tiny_config(tmp_path / "split", photo_dir, style_file, tiny_vgg_file, steps=10, resume="auto", **run)
    train(rest, progress=False)
    a, b = load_file(whole.out), load_file(rest.out)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert logged_losses(whole) == logged_losses(rest)  # the log was continued, not duplicated


def test_decay_steps_lower_the_rates_along_a_half_cosine_and_resume_exactly(tmp_path, photo_dir, style_file,
                                                                              tiny_vgg_file):
    assert [lr_factor(step, 4) for step in (0, 2, 4, 9)] == pytest.approx([1.0, 0.55, 0.1, 0.1])
    assert lr_factor(9, 0) == 1.0
    run = dict(decay_steps=4, lr=1e-2, style_lr=3e-2)
    whole = tiny_config(tmp_path / "whole", photo_dir, style_file, tiny_vgg_file, steps=6, **run)
    train(whole, progress=False)
    groups = torch.load(whole.checkpoint_path, weights_only=False)["optimizer"]["param_groups"]
    assert [g["lr"] for g in groups] == pytest.approx([1e-3, 3e-3])  # the floor, a tenth, from step 4
    first = tiny_config(tmp_path / "split", photo_dir, style_file, tiny_vgg_file, steps=3, **run)
    train(first, progress=False)
    rest = tiny_config(tmp_path / "split", photo_dir, style_file, tiny_vgg_file, steps=6, resume="auto", **run)
    train(rest, progress=False)
    a, b = load_file(whole.out), load_file(rest.out)
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(TrainingError, match=r"decay_steps \(4 vs 8\)"):
        train(tiny_config(tmp_path / "split", photo_dir, style_file, tiny_vgg_file, steps=8, resume="auto",
                          **{**run, "decay_steps": 8}), progress=False)


def test_resume_refuses_a_different_run(tmp_path, photo_dir, style_file, tiny_vgg_file):
    train(tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, steps=2), progress=False)
    with pytest.raises(TrainingError, match="norm"):
        train(tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, steps=4, norm="layer", resume="auto"),
              progress=False)


def test_a_checkpoint_older_than_a_term_resumes_with_the_term_off(tmp_path, photo_dir, style_file, tiny_vgg_file):
    """A checkpoint that records no setting for a term predates it: it trained with the term off, not
    with today's default."""
    off = terms_off()
    cfg = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, steps=2, **off)
    train(cfg, progress=False)
    ckpt = torch.load(cfg.checkpoint_path, weights_only=False)
    ckpt["config"] = {k: v for k, v in ckpt["config"].items() if k not in off}
    torch.save(ckpt, cfg.checkpoint_path)
    with pytest.raises(TrainingError, match="contrast_weight"):
        train(tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, steps=4, resume="auto"), progress=False)
    train(tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, steps=4, resume="auto", **off), progress=False)
    assert max(json.loads(line)["step"] for line in cfg.log_path.read_text().splitlines()) == 4


def test_resume_refuses_other_paintings(tmp_path, photo_dir, style_file, tiny_vgg_file):
    train(tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, steps=2), progress=False)
    both = [str(style_file), str(style_file.with_name("other.jpg"))]
    with pytest.raises(TrainingError, match="trained on the paintings test_painting, not test_painting, other"):
        train(tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, steps=4, style_image=both, resume="auto"),
              progress=False)


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, photo_dir, style_file, tiny_vgg_file):
    with pytest.raises(TrainingError, match="no checkpoint"):
        train(tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, resume="auto"), progress=False)


def test_empty_content_dir_is_a_clear_error(tmp_path, style_file, tiny_vgg_file):
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrainingError, match="no training images"):
        train(tiny_config(tmp_path, tmp_path / "empty", style_file, tiny_vgg_file), progress=False)


def test_torchrun_two_cpu_processes(tmp_path, photo_dir, style_file, tiny_vgg_file):
    out = tmp_path / "ddp.safetensors"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "style_app", "train", "--style-image", str(style_file), "--content-dir", str(photo_dir),
           "--out", str(out), "--steps", "4", "--batch-size", "1", "--image-size", "32", "--style-size", "64",
           "--vgg-weights", tiny_vgg_file, "--workers", "0", "--log-every", "1", "--device", "cpu", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=REPO, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    meta = read_metadata(out)
    assert meta["steps"] == "4"
    log = [json.loads(line) for line in out.with_suffix(".losses.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4]  # one writer: rank 0


def test_warm_start_continues_from_the_given_network(tmp_path, photo_dir, style_file, tiny_vgg_file):
    first = train(tiny_config(tmp_path / "a", photo_dir, style_file, tiny_vgg_file, norm="group"), progress=False)
    # lr 0: the warm-started run must end with exactly the weights it started from (not fresh ones)
    again = tiny_config(tmp_path / "b", photo_dir, style_file, tiny_vgg_file, norm="group", steps=2, lr=0.0,
                        warm_start=str(first))
    second = train(again, progress=False)
    a, b = load_file(str(first)), load_file(str(second))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # resuming takes the weights from the checkpoint: the warm-start file is not needed any more
    first.unlink()
    train(tiny_config(tmp_path / "b", photo_dir, style_file, tiny_vgg_file, norm="group", steps=4, lr=0.0,
                      warm_start=str(first), resume="auto"), progress=False)


@pytest.mark.parametrize("change", [{"norm": "layer"}, {"style_image": "two"}])
def test_warm_start_refuses_another_network(change, tmp_path, photo_dir, style_file, tiny_vgg_file):
    first = train(tiny_config(tmp_path / "a", photo_dir, style_file, tiny_vgg_file, norm="group"), progress=False)
    if change.get("style_image") == "two":
        change = {"style_image": [str(style_file), str(style_file.with_name("other.jpg"))]}
    cfg = tiny_config(tmp_path / "b", photo_dir, style_file, tiny_vgg_file, **{"norm": "group", **change},
                      warm_start=str(first))
    with pytest.raises(TrainingError, match="--warm-start model.safetensors is a group johnson network of "
                                            "test_painting; this run trains"):
        train(cfg, progress=False)
    assert not Path(cfg.out).exists()


def test_laplacian_weight_adds_a_logged_term_and_is_recorded(tmp_path, photo_dir, style_file, tiny_vgg_file):
    cfg = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, laplacian_weight=5.0, style_weight=3.0,
                      **terms_off())
    path = train(cfg, progress=False)
    records = [json.loads(line) for line in cfg.log_path.read_text().splitlines() if "split" not in line]
    assert all(r["laplacian"] >= 0 for r in records)
    r = records[0]
    assert abs(r["total"] - (r["content"] + 3 * r["style"] + 10 * r["tv"] + 5 * r["laplacian"])) < 1e-3 * r["total"]
    assert read_metadata(path)["train_config"]["laplacian_weight"] == 5.0
    assert read_metadata(path)["final_losses"]["laplacian"] >= 0  # the total's terms are all listed
    # the default scales are 4 8 16, those a crop holds: a 32 px crop pooled by 16 is too small
    assert read_metadata(path)["train_config"]["laplacian_pools"] == [4, 8]


def test_defaults_are_the_zoos_recipe(tmp_path, photo_dir, style_file, tiny_vgg_file):
    """A painting trained with no loss flags gets what the zoo was trained with (README, Model zoo)."""
    cfg = TrainConfig(style_image=[str(style_file)], content_dir=str(photo_dir), out=str(tmp_path / "m.safetensors"))
    assert (cfg.style_loss, cfg.style_weight, cfg.texture_weight) == ("sliced-texture", 20.0, 0.5)
    assert (cfg.laplacian_weight, cfg.laplacian_pools) == (2.0, (4, 8, 16))
    assert (cfg.gram_weight, cfg.gram_layers) == (3.0, ("relu3_3", "relu4_3"))
    assert (cfg.contrast_weight, cfg.contrast_window, cfg.mean_colour_weight, cfg.tone_weight) == (0.5, 0, 10.0, 2.0)
    assert (cfg.steps, cfg.image_size, cfg.batch_size, cfg.style_lr, cfg.every_style) == (350, 256, 4, 1e-2, True)


def test_the_gram_loss_alone_gets_no_gram_term_by_default(tmp_path, photo_dir, style_file):
    cfg = TrainConfig(style_image=[str(style_file)], content_dir=str(photo_dir), out=str(tmp_path / "m.safetensors"),
                      style_loss="gram")
    assert cfg.gram_weight == 0.0


def test_every_loss_setting_is_a_config_field_that_reaches_the_loss_and_must_match_on_resume():
    """LOSS_SETTINGS is the one list of the loss's settings: a new PerceptualLoss setting left out of it
    would be dropped by training, not recorded, and ignored by --resume and add-style."""
    assert set(JOHNSON_TERMS) == set(LOSS_SETTINGS)
    with pytest.raises(ValueError, match="tone_weight"):  # the loss has no defaults of its own
        PerceptualLoss(None, torch.rand(1, 3, 8, 8), {k: v for k, v in JOHNSON_TERMS.items() if k != "tone_weight"})
    assert set(LOSS_SETTINGS) <= {f.name for f in fields(TrainConfig)}
    assert set(LOSS_SETTINGS) <= set(RESUME_MUST_MATCH)


def test_sliced_texture_trains_and_records_its_texture_weight(tmp_path, photo_dir, style_file, tiny_vgg_file):
    cfg = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, style_loss="sliced-texture", texture_weight=0.25)
    path = train(cfg, progress=False)
    assert read_metadata(path)["train_config"]["texture_weight"] == 0.25
    resumed = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, style_loss="sliced-texture",
                          texture_weight=1.0, steps=cfg.steps + 2, resume="auto")
    with pytest.raises(TrainingError, match=r"texture_weight \(0.25 vs 1.0\)"):
        train(resumed, progress=False)


def test_gram_weight_is_checked_logged_recorded_and_must_match_on_resume(tmp_path, photo_dir, style_file,
                                                                          tiny_vgg_file):
    with pytest.raises(TrainingError, match="--gram-weight adds a Gram term beside a sliced --style-loss"):
        tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, style_loss="gram", gram_weight=1.0)
    cfg = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, style_loss="sliced-batch", gram_weight=2.0)
    path = train(cfg, progress=False)
    assert read_metadata(path)["train_config"]["gram_weight"] == 2.0
    assert read_metadata(path)["final_losses"]["gram"] > 0
    resumed = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, style_loss="sliced-batch",
                          steps=cfg.steps + 2, resume="auto")
    with pytest.raises(TrainingError, match=r"gram_weight \(2.0 vs 3.0\)"):  # the default beside a sliced loss
        train(resumed, progress=False)
    resumed = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, style_loss="sliced-batch", gram_weight=2.0,
                          gram_layers=["relu4_3"], steps=cfg.steps + 2, resume="auto")
    with pytest.raises(TrainingError, match=r"gram_layers"):
        train(resumed, progress=False)
    with pytest.raises(TrainingError, match="--gram-layers: choose among relu1_2"):
        tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, style_loss="sliced-batch", gram_layers=["pool5"])


@pytest.mark.parametrize("setting, term", [("contrast_weight", "contrast"), ("mean_colour_weight", "mean_colour"),
                                           ("tone_weight", "tone"), ("palette_weight", "palette")])
def test_term_weight_is_logged_recorded_and_must_match_on_resume(tmp_path, photo_dir, style_file, tiny_vgg_file,
                                                                 setting, term):
    cfg = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, **{setting: 5.0})
    path = train(cfg, progress=False)
    assert read_metadata(path)["train_config"][setting] == 5.0
    assert term in read_metadata(path)["final_losses"]
    resumed = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, steps=cfg.steps + 2, resume="auto",
                          **{setting: 1.0})
    with pytest.raises(TrainingError, match=rf"{setting} \(5.0 vs 1.0\)"):
        train(resumed, progress=False)


def test_contrast_window_is_checked_recorded_and_must_match_on_resume(tmp_path, photo_dir, style_file, tiny_vgg_file):
    with pytest.raises(TrainingError, match="--contrast-window 64: larger than the 32 px crops"):
        tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, contrast_weight=1.0, contrast_window=64)
    cfg = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, contrast_weight=1.0, contrast_window=8)
    assert read_metadata(train(cfg, progress=False))["train_config"]["contrast_window"] == 8
    resumed = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, contrast_weight=1.0, steps=cfg.steps + 2,
                          resume="auto")
    with pytest.raises(TrainingError, match=r"contrast_window \(8 vs 0\)"):
        train(resumed, progress=False)


def test_laplacian_mode_is_checked_recorded_and_must_match_on_resume(tmp_path, photo_dir, style_file, tiny_vgg_file):
    with pytest.raises(TrainingError, match="--laplacian-mode weaker: choose among both, stronger"):
        tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, laplacian_mode="weaker")
    cfg = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, laplacian_weight=1.0, laplacian_mode="both")
    assert read_metadata(train(cfg, progress=False))["train_config"]["laplacian_mode"] == "both"
    resumed = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, laplacian_weight=1.0, steps=cfg.steps + 2,
                          resume="auto")
    with pytest.raises(TrainingError, match=r"laplacian_mode \(both vs stronger\)"):
        train(resumed, progress=False)


def test_laplacian_pools_are_checked_recorded_and_must_match_on_resume(tmp_path, photo_dir, style_file,
                                                                        tiny_vgg_file):
    with pytest.raises(TrainingError, match="--laplacian-pools 16: a 32 px crop .* use at most 10"):
        tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, laplacian_weight=1.0, laplacian_pools=[4, 16])
    cfg = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, laplacian_weight=1.0, laplacian_pools=[2, 8],
                      steps=4)
    path = train(cfg, progress=False)
    assert read_metadata(path)["train_config"]["laplacian_pools"] == [2, 8]
    other = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, laplacian_weight=1.0, laplacian_pools=[2],
                        steps=6, resume="auto")
    with pytest.raises(TrainingError, match=r"laplacian_pools \(\(2, 8\) vs \(2,\)\)"):
        train(other, progress=False)


def test_style_lr_gives_the_per_style_norm_parameters_their_own_rate(tmp_path, photo_dir, style_file, tiny_vgg_file):
    from style_app.models.norms import StyleConditional
    from style_app.models.transformer import TransformerNet
    from style_app.training.train import _parameter_groups

    other = tmp_path / "other.jpg"
    other.write_bytes(style_file.read_bytes())
    two = [str(style_file), str(other)]
    net = TransformerNet("instance", "johnson", 2)
    per_style = {id(p) for m in net.modules() if isinstance(m, StyleConditional) for p in (m.weight, m.bias)}
    assert len(per_style) == 2 * sum(isinstance(m, StyleConditional) for m in net.modules()) > 0
    plain = _parameter_groups(net, tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, style_image=two,
                                               style_lr=None))
    assert len(plain) == 1 and len(plain[0]["params"]) == len(list(net.parameters()))
    shared, styles = _parameter_groups(net, tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file,
                                                        style_image=two, style_lr=0.05))
    assert {id(p) for p in styles["params"]} == per_style and styles["lr"] == 0.05
    assert "lr" not in shared and len(shared["params"]) == len(list(net.parameters())) - len(per_style)

    cfg = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, style_image=two, style_lr=0.05, steps=4)
    assert read_metadata(train(cfg, progress=False))["train_config"]["style_lr"] == 0.05
    resumed = tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, style_image=two, steps=6, resume="auto")
    with pytest.raises(TrainingError, match=r"style_lr \(0.05 vs 0.01\)"):
        train(resumed, progress=False)
