"""Training survives what laptops and users do to it: SIGKILL at any moment, Ctrl-C, a full disk,
and a loss or weights that turn NaN/Inf. Every case keeps a loadable checkpoint, and resuming
gives bit-for-bit the weights of a run that was never interrupted."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import corpus
from helpers import FULL_DISK, logged_losses, tiny_config
from style_app.cli import main as cli_main
from style_app.errors import Interrupted, TrainingError
from style_app.images import list_images
from style_app.training.losses import PerceptualLoss
from style_app.training.train import TrainConfig, train

REPO = Path(__file__).resolve().parent.parent
STEPS = 5


def config(folder: Path, photo_dir, style_file, tiny_vgg_file, **overrides) -> TrainConfig:
    """The tests' tiny run at one photo a step, checkpointing every step unless told otherwise."""
    settings = {"steps": STEPS, "batch_size": 1, "checkpoint_every": 1, **overrides}
    return tiny_config(folder, photo_dir, style_file, tiny_vgg_file, **settings)


def command(cfg: TrainConfig, *extra: str) -> list[str]:
    """`python -m style_app train` with every setting of `cfg` spelled out."""
    args = [sys.executable, "-m", "style_app", "train", "--quiet", "--device", "cpu", *extra]
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if f.name == "fast":
            args += [] if value else ["--no-fast"]
        elif f.name == "every_style":
            args += ["--every-style"] if value else []
        elif isinstance(value, (list, tuple)):
            args += ["--" + f.name.replace("_", "-"), *map(str, value)]
        elif f.name not in ("resume", "device") and value is not None:
            args += ["--" + f.name.replace("_", "-"), str(value)]
    return args


def start(cfg: TrainConfig, *extra: str) -> subprocess.Popen:
    """A training process in its own process group (as a terminal runs it), with our thread
    count, so its arithmetic matches this process's bit for bit."""
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    return subprocess.Popen(command(cfg, *extra), cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_until(condition: Callable[[], bool], proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"training ended early ({proc.returncode}): {proc.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, "training made no progress"
        time.sleep(0.02)


def logged_steps(cfg: TrainConfig) -> int:
    return len(cfg.log_path.read_text().splitlines()) if cfg.log_path.exists() else 0


def checkpoint(cfg: TrainConfig) -> dict:
    """The checkpoint, loaded the safe way (no pickled code)."""
    return torch.load(cfg.checkpoint_path, weights_only=True)


def assert_same_as(reference: TrainConfig, cfg: TrainConfig) -> None:
    a, b = load_file(reference.out), load_file(cfg.out)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert logged_losses(reference) == logged_losses(cfg)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, photo_dir, style_file, tiny_vgg_file) -> TrainConfig:
    """The run nobody interrupted."""
    cfg = config(tmp_path_factory.mktemp("reference"), photo_dir, style_file, tiny_vgg_file)
    train(cfg, progress=False)
    return cfg


def test_sigkill_at_any_moment_then_resume_matches_uninterrupted(reference, tmp_path, photo_dir, style_file,
                                                                 tiny_vgg_file):
    cfg = config(tmp_path, photo_dir, style_file, tiny_vgg_file)
    # moment 1: the instant the first checkpoint is on disk
    proc = start(cfg)
    wait_until(cfg.checkpoint_path.exists, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    first = checkpoint(cfg)["step"]
    assert 1 <= first < STEPS
    # moment 2: a resumed run, killed as it logs a step, i.e. while it writes that step's checkpoint
    proc = start(cfg, "--resume")
    wait_until(lambda: logged_steps(cfg) >= first + 2, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    second = checkpoint(cfg)["step"]
    assert first < second < STEPS and not Path(cfg.out).exists()
    train(TrainConfig(**{**vars(cfg), "resume": "auto"}), progress=False)
    assert_same_as(reference, cfg)


def interrupt(cfg: TrainConfig, signum: int) -> int:
    """Start a run with a DataLoader worker, send `signum` to its whole process group (as a
    terminal's Ctrl-C or a systemd stop does) after its first step; check that it stopped in
    one line with exit code 130 and a loadable checkpoint, and return the checkpoint's step."""
    proc = start(cfg)
    wait_until(lambda: logged_steps(cfg) >= 1, proc)
    os.killpg(proc.pid, signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    step = checkpoint(cfg)["step"]  # saved by the interrupt, as checkpoint_every never came round
    assert 1 <= step < STEPS
    assert err.splitlines() == [f"style-app: error: interrupted at step {step}; checkpoint saved to "
                                f"{cfg.checkpoint_path}; continue with --resume"]
    return step


def test_ctrl_c_saves_checkpoint_exits_130_and_resumes_exactly(reference, tmp_path, photo_dir, style_file,
                                                               tiny_vgg_file):
    cfg = config(tmp_path, photo_dir, style_file, tiny_vgg_file, checkpoint_every=STEPS, workers=1)
    interrupt(cfg, signal.SIGINT)
    train(TrainConfig(**{**vars(cfg), "resume": "auto"}), progress=False)
    assert_same_as(reference, cfg)


def test_sigterm_to_the_process_group_stops_as_cleanly(tmp_path, photo_dir, style_file, tiny_vgg_file):
    """Workers must neither die with a traceback in the main process nor hang its exit."""
    interrupt(config(tmp_path, photo_dir, style_file, tiny_vgg_file, checkpoint_every=STEPS, workers=1),
              signal.SIGTERM)


class NanGradient(torch.autograd.Function):
    """Identity forward, NaN backward: a finite loss that still poisons the weights."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad * float("nan")


POISONS = {
    "inf_loss": (lambda total: total * float("inf"), r"loss became inf at step 3; stopped, last good checkpoint: "),
    "nan_gradient": (NanGradient.apply, r"weights became non-finite by step 3; stopped, last good checkpoint: "),
}


@pytest.mark.parametrize("poison", POISONS)
def test_non_finite_training_stops_and_keeps_last_good_checkpoint(poison, tmp_path, photo_dir, style_file,
                                                                  tiny_vgg_file, monkeypatch):
    cfg = config(tmp_path, photo_dir, style_file, tiny_vgg_file)
    apply, message = POISONS[poison]
    real_forward, calls, saved = PerceptualLoss.forward, [], {}

    def forward(self, stylized, content, targets=None):
        result = real_forward(self, stylized, content, targets)
        calls.append(1)
        if len(calls) == 3:  # step 3: remember the checkpoint as it was before the poison
            saved["bytes"] = cfg.checkpoint_path.read_bytes()
            result["total"] = apply(result["total"])
        return result

    monkeypatch.setattr(PerceptualLoss, "forward", forward)
    with pytest.raises(TrainingError, match=message + f"{cfg.checkpoint_path} \\(step 2\\)$"):
        train(cfg, progress=False)
    assert cfg.checkpoint_path.read_bytes() == saved["bytes"]
    state = checkpoint(cfg)
    assert state["step"] == 2 and all(torch.isfinite(v).all() for v in state["model"].values())
    assert not Path(cfg.out).exists()


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_real_full_disk_while_checkpointing_keeps_previous_checkpoint(small_disk, photo_dir, style_file,
                                                                      tiny_vgg_file):
    """A real full disk (helpers.SmallDisk), not a faked OSError: torch's writer, given the file,
    turned it into a RuntimeError traceback ("unexpected pos") for a checkpoint of this size."""
    disk = small_disk(96 * 2**20)  # the johnson network's checkpoint (with Adam's state) is ~20 MB
    cfg = config(disk.folder, photo_dir, style_file, tiny_vgg_file, steps=2)
    train(cfg, progress=False)
    saved = cfg.checkpoint_path.read_bytes()
    used = sum(p.stat().st_size for p in disk.folder.iterdir())
    disk.resize(used + len(saved) // 2 if disk.mounted else len(saved) // 2)  # no room for another checkpoint
    longer = TrainConfig(**{**vars(cfg), "steps": 4})
    result = disk.run(command(longer, "--resume"))
    assert result.returncode == 2, result.stderr[-2000:]
    assert re.fullmatch(rf"style-app: error: {re.escape(str(cfg.checkpoint_path))}: cannot write checkpoint at "
                        rf"step 3 {FULL_DISK}; the previous one is intact\n", result.stderr), result.stderr[-2000:]
    assert cfg.checkpoint_path.read_bytes() == saved and temp_files(disk.folder) == []
    disk.resize(96 * 2**20)  # space freed: the run continues from step 2
    train(TrainConfig(**{**vars(longer), "resume": "auto"}), progress=False)
    assert [json.loads(line)["step"] for line in cfg.log_path.read_text().splitlines()] == [1, 2, 3, 4]
    assert checkpoint(cfg)["step"] == 4


def test_second_ctrl_c_while_writing_a_checkpoint_leaves_no_temp_file(tmp_path, photo_dir, style_file, tiny_vgg_file,
                                                                     monkeypatch):
    cfg = config(tmp_path, photo_dir, style_file, tiny_vgg_file, steps=3)
    real_fsync, calls = os.fsync, []

    def fsync(fd: int) -> None:
        calls.append(1)
        if len(calls) == 2:  # the second checkpoint, written and about to be renamed into place
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(Interrupted, match=r"interrupted twice at step 2, not saved; last checkpoint: .*\(step 1\)"):
        train(cfg, progress=False)
    assert checkpoint(cfg)["step"] == 1 and temp_files(tmp_path) == []


def test_resume_removes_stale_temp_files(tmp_path, photo_dir, style_file, tiny_vgg_file):
    cfg = config(tmp_path, photo_dir, style_file, tiny_vgg_file, steps=2)
    train(cfg, progress=False)
    stale = [cfg.checkpoint_path.with_name(cfg.checkpoint_path.name + ".tmp"),  # the older writer's name
             tmp_path / f".{cfg.checkpoint_path.name}.k1ll3d.tmp", tmp_path / ".model.safetensors.x.tmp"]
    for path in stale:
        path.write_bytes(b"\x80half a pickle")
    train(TrainConfig(**{**vars(cfg), "steps": 3, "resume": "auto"}), progress=False)
    assert temp_files(tmp_path) == []


@pytest.fixture
def read_only_folder(tmp_path) -> Path:
    """A folder nobody can write into: a read-only tmpfs as root (root ignores permissions)."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)]).returncode:
        folder.chmod(0o555)
    yield folder
    if subprocess.run(["umount", str(folder)], capture_output=True).returncode:
        folder.chmod(0o755)


def test_output_that_cannot_be_written_is_refused_before_training(tmp_path, read_only_folder, photo_dir,
                                                                  style_file):
    """Refused before anything else: the loss network file does not even exist."""
    for out, reason in ((tmp_path, "is a folder"), (read_only_folder / "model.safetensors",
                                                    r"cannot write \((Read-only file system|Permission denied)\)")):
        cfg = config(tmp_path, photo_dir, style_file, str(tmp_path / "no_vgg.safetensors"), out=str(out))
        with pytest.raises(TrainingError, match=f"^{re.escape(str(out))}: {reason}.*; training not started$"):
            train(cfg, progress=False)


def test_resume_after_a_torn_log_line_drops_it(tmp_path, photo_dir, style_file, tiny_vgg_file):
    cfg = config(tmp_path, photo_dir, style_file, tiny_vgg_file, steps=2)
    train(cfg, progress=False)
    with open(cfg.log_path, "a") as f:
        f.write('{"step": 3, "content": 0.41, "sty')  # what a kill in mid-write leaves
    train(TrainConfig(**{**vars(cfg), "steps": 3, "resume": "auto"}), progress=False)
    assert [json.loads(line)["step"] for line in cfg.log_path.read_text().splitlines()] == [1, 2, 3]


@pytest.mark.parametrize("content", ["random_bytes", "pickle"])
def test_checkpoint_of_random_bytes_or_a_pickle_is_one_line(content, tmp_path, photo_dir, style_file, tiny_vgg_file,
                                                            capsys):
    cfg = config(tmp_path, photo_dir, style_file, tiny_vgg_file)
    marker = tmp_path / "MARKER"
    data = os.urandom(4096) if content == "random_bytes" else corpus.pickle_bytes(marker)
    cfg.checkpoint_path.write_bytes(data)
    code = cli_main(command(cfg, "--resume")[3:])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"style-app: error: {cfg.checkpoint_path}: unreadable checkpoint (")
    assert err.count("\n") == 1 and not marker.exists()


def test_ctrl_c_while_starting_up_exits_130_quietly():
    """Ctrl-C while torch is still being imported (seconds, on a slow machine): no traceback."""
    stop_at_torch = ("import sys, runpy\n"
                     "class CtrlC:\n"
                     "    def find_spec(self, name, path=None, target=None):\n"
                     "        if name == 'torch':\n"
                     "            raise KeyboardInterrupt\n"
                     "sys.meta_path.insert(0, CtrlC())\n"
                     "sys.argv = ['style-app', 'stylize', '--help']\n"  # its flags need torch (list does not)
                     "runpy.run_module('style_app', run_name='__main__')\n")
    result = subprocess.run([sys.executable, "-c", stop_at_torch], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert (result.returncode, result.stderr) == (130, "style-app: interrupted\n")


def test_unreadable_training_photo_is_one_line_from_a_worker(tmp_path, photo_dir, style_file, tiny_vgg_file):
    """The error happens in a DataLoader worker; torch pastes the worker's traceback into it."""
    photos = tmp_path / "photos"
    shutil.copytree(photo_dir, photos)
    bad = corpus.write_bad(photos, "truncated.jpg")
    cfg = config(tmp_path, photos, style_file, tiny_vgg_file, batch_size=len(list_images(photos)), workers=1)
    with pytest.raises(TrainingError) as error:
        train(cfg, progress=False)
    assert str(error.value).startswith(f"training image unusable: {bad}: corrupt or truncated image (")
    assert "\n" not in str(error.value)
