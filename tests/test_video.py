"""Video: `style-app stylize clip.mp4` keeps timing and audio; bad clips get one line and exit 2
with nothing left behind; the flicker measure and both stabilizations do what they claim."""
from __future__ import annotations

from pathlib import Path

import av
import gradio
import numpy as np
import pytest
import torch

from clips import empty_clip, make_clip, moving_frames, patch_header
from test_cli import run
from style_app.flicker import FlickerMeter, motion, warp_error
from style_app.models.transformer import TransformerNet
from style_app.temporal import Stabilizer, smoothed_statistics

GRADIO_CLIPS = Path(gradio.__file__).parent / "media_assets" / "videos"


def stylize(capsys, src: Path, out: Path, *flags: str):
    return run(capsys, "stylize", str(src), "--style", "starry_night", "--norm", "instance", "-o", str(out),
               "--device", "cpu", *flags)


def timestamps(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.pts * f.time_base) for f in c.decode(video=0)]


def audio_packets(path: Path) -> list[tuple[int, bytes]]:
    with av.open(str(path)) as c:
        return [(p.pts, bytes(p)) for p in c.demux(audio=0) if p.size]


def test_gradio_sample_clip_keeps_frame_rate_audio_and_length(shipped, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    code, _, err = stylize(capsys, GRADIO_CLIPS / "b.mp4", out, "--max-size", "64")
    assert code == 0, err
    with av.open(str(GRADIO_CLIPS / "b.mp4")) as src, av.open(str(out)) as dst:
        assert dst.streams.video[0].average_rate == src.streams.video[0].average_rate == 30
        assert dst.streams.video[0].frames == src.streams.video[0].frames == 150
        assert (dst.streams.video[0].codec_context.width, dst.streams.video[0].codec_context.height) == (64, 36)
        assert dst.streams.audio and dst.streams.audio[0].codec_context.name == "aac"
        assert dst.streams[0].type == "video"  # stream 0, where players look first
    assert audio_packets(out) == audio_packets(GRADIO_CLIPS / "b.mp4")  # the track copied whole
    assert "150 frames in" in err and "temporal error" in err


def test_sine_tone_survives(shipped, tmp_path, capsys):
    src = make_clip(tmp_path / "tone.mp4", moving_frames(10, (48, 32)), tone=True)
    code, _, err = stylize(capsys, src, tmp_path / "out.mp4")
    assert code == 0, err
    with av.open(str(tmp_path / "out.mp4")) as c:
        sound = np.concatenate([f.to_ndarray().ravel() for f in c.decode(audio=0)])
    spectrum = np.abs(np.fft.rfft(sound[:8192]))
    assert abs(np.argmax(spectrum) * 16000 / 8192 - 440) < 5  # still the 440 Hz tone


def test_variable_frame_rate_keeps_each_timestamp(shipped, tmp_path, capsys):
    pts = [0, 10, 15, 40, 45, 50, 90, 100, 110, 115, 120, 160]
    src = make_clip(tmp_path / "vfr.mp4", moving_frames(12, (48, 32)), pts=pts)
    code, _, err = stylize(capsys, src, tmp_path / "out.mp4")
    assert code == 0, err
    assert timestamps(tmp_path / "out.mp4") == pytest.approx([p / 100 for p in pts], abs=1e-3)


def test_odd_sizes_are_cropped_to_even(shipped, tmp_path, capsys):
    src = make_clip(tmp_path / "odd.mp4", moving_frames(4, (33, 25)))
    code, _, err = stylize(capsys, src, tmp_path / "out.mp4")
    assert code == 0, err
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert (c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height) == (32, 24)
        assert c.streams.video[0].frames == 4


def _truncated(path: Path) -> Path:
    make_clip(path, moving_frames(30, (64, 48)), faststart=True)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) * 3 // 4])
    return path


BAD_CLIPS = {
    "not a video": (lambda p: (p.write_text("this is not a video"), p)[1], "not a video file"),
    "no frames": (lambda p: empty_clip(p.with_suffix(".mkv")), "no frames"),
    "tiny frames": (lambda p: make_clip(p, moving_frames(3, (8, 8))), "at least 16 px"),
    "0-fps header": (lambda p: patch_header(make_clip(p, moving_frames(6, (32, 32))), zero_rate=True), "0-fps"),
    "10-hour header": (lambda p: patch_header(make_clip(p, moving_frames(6, (32, 32))), seconds=36000),
                       "10.0 h long; the limit is 1.0 h"),
    "truncated": (_truncated, "corrupt"),
}


@pytest.mark.parametrize("case", list(BAD_CLIPS))
def test_bad_clip_is_one_line_exit_2_and_nothing_written(case, shipped, tmp_path, capsys):
    make, message = BAD_CLIPS[case]
    src = make(tmp_path / "in.mp4")
    out_dir = tmp_path / "out"
    code, _, err = stylize(capsys, src, out_dir / "out.mp4")
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("style-app: error:") and message in lines[0], err
    assert "Traceback" not in err
    assert not out_dir.exists() or list(out_dir.iterdir()) == []  # no partial file, no temporary file


def test_folder_run_stylizes_videos_beside_photos(shipped, tmp_path, capsys):
    from helpers import random_photo

    folder = tmp_path / "in"
    folder.mkdir()
    random_photo(1, (40, 30)).save(folder / "photo.png")
    make_clip(folder / "clip.mp4", moving_frames(4, (48, 32)))
    code, out, err = run(capsys, "stylize", str(folder), "--style", "starry_night", "--out-dir",
                         str(tmp_path / "out"), "--device", "cpu")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip.mp4", "photo.png"]
    assert "2 written, 0 failed" in out


def test_flow_explains_a_pan_and_marks_the_overlap_visible():
    a, b = moving_frames(2, (96, 64), step=3)
    move = motion(a, b)
    moved = float(np.abs(a.astype(float) - b).mean()) / 255
    assert warp_error(a, b, move) < 0.25 * moved  # warping along the flow explains the motion
    assert move.visible[:, 10:80].mean() > 0.9


def test_meter_is_1_for_a_steady_filter_and_high_for_flicker():
    frames = moving_frames(6, (64, 48), step=2)
    steady, flicker = FlickerMeter(), FlickerMeter()
    previous = None
    for i, frame in enumerate(frames):
        move = None if previous is None else motion(previous, frame)
        steady.add(frame, 255 - frame, move)  # a pixelwise filter: as steady as its input
        jump = np.clip(frame.astype(int) + (40 if i % 2 else -40), 0, 255).astype(np.uint8)
        flicker.add(frame, jump, move)
        previous = frame
    assert steady.report().relative_error == pytest.approx(1.0, rel=0.05)
    assert flicker.report().relative_error > 5


def test_stabilize_cuts_flicker_without_moving_steady_content():
    frames = moving_frames(8, (64, 48), step=2)
    rng = np.random.default_rng(0)
    noisy = [np.clip(f + rng.normal(0, 20, f.shape), 0, 255).astype(np.uint8) for f in frames]
    plain, steadied, stabilizer = FlickerMeter(), FlickerMeter(), Stabilizer(0.8)
    outputs, previous = [], None
    for frame, out in zip(frames, noisy):
        move = None if previous is None else motion(previous, frame)
        plain.add(frame, out, move)
        outputs.append(stabilizer(out, move))
        steadied.add(frame, outputs[-1], move)
        previous = frame
    assert steadied.report().error < 0.5 * plain.report().error
    # no ghost: the stabilized frame stays close to the clean one (the pan is followed, not smeared)
    assert np.abs(outputs[-1].astype(float) - frames[-1]).mean() < np.abs(noisy[-1].astype(float) - frames[-1]).mean()


def test_smoothed_statistics_carry_the_moving_average():
    torch.manual_seed(0)
    net = TransformerNet("instance").eval()
    layer = net.enc1[1]
    own, used = [], []

    def spy(module, inputs, output):
        own.append(inputs[0].mean(dim=(2, 3)))
        used.append(None if module._recorded is None else module._recorded[0].clone())

    layer.register_forward_hook(spy)
    dark, bright = torch.rand(1, 3, 32, 32) * 0.3, torch.rand(1, 3, 32, 32) * 0.3 + 0.7
    with torch.no_grad():
        plain = net(bright)
        with smoothed_statistics(net, 0.9):
            net(dark)
            smoothed = net(bright)
        after = net(bright)
    assert used[0] is None and used[3] is None  # plain per-frame statistics outside the block
    assert torch.allclose(used[1], own[1])  # the first frame normalizes with its own
    assert torch.allclose(used[2], 0.9 * own[1] + 0.1 * own[2], atol=1e-5)  # then the moving average
    assert not torch.allclose(own[1], own[2], atol=1e-2)
    assert (smoothed - plain).abs().mean() > 1e-3 and torch.equal(after, plain)


def test_smoothed_statistics_leave_batch_norm_alone():
    torch.manual_seed(0)
    net = TransformerNet("batch").eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        plain = net(x)
        with smoothed_statistics(net, 0.9):
            net(torch.rand(1, 3, 32, 32))
            assert torch.equal(net(x), plain)


def test_evaluate_video_prints_the_flicker_table(shipped, tmp_path, capsys):
    src = make_clip(tmp_path / "clip.mp4", moving_frames(5, (48, 32)))
    code, out, err = run(capsys, "evaluate", "--video", str(src), "--style", "starry_night", "--norm", "instance",
                         "batch", "--frames", "5", "--max-size", "48")
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("| clip.mp4")]
    assert len(rows) == 2 and "Instance norm (IN)" in rows[0] and "Batch norm (BN)" in rows[1]
    numbers = [float(x) for x in rows[0].strip("|").split("|")[2:6]]
    assert all(n > 0 for n in numbers)


def test_evaluate_video_refuses_the_photo_outputs_it_would_not_write(shipped, tmp_path, capsys):
    """--json and --grid score photos; with --video they used to be accepted and silently ignored."""
    src = make_clip(tmp_path / "clip.mp4", moving_frames(3, (48, 32)))
    for flag, value in (("--json", tmp_path / "t.json"), ("--grid", tmp_path / "grids")):
        code, out, err = run(capsys, "evaluate", "--video", str(src), "--frames", "3", flag, str(value))
        assert code == 2 and "with --video evaluate prints the flicker table" in err and out == "", err
        assert not value.exists()


def test_ui_compare_renders_the_four_norms_side_by_side_with_their_flicker(shipped, tmp_path):
    from style_app.web.video_tab import compare_upload

    src = make_clip(tmp_path / "clip.mp4", moving_frames(6, (64, 48)), tone=True)
    path, table = compare_upload(str(src), "starry_night", ["smooth statistics", "flow stabilization"])
    with av.open(path) as c:
        video = c.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (4 * 64, 48) and video.frames == 6
        assert c.streams.audio
    assert list(table.iloc[:, 0]) == ["Instance norm (IN)", "Batch norm (BN)", "Layer norm (LN)", "Group norm (GN)"]
    assert np.isfinite(table.iloc[:, 1]).all() and table.iloc[0, 1] > 0  # (untrained BN may come out flat: 0)


def test_ui_refuses_a_clip_over_its_limit_in_one_line(shipped):
    from style_app.errors import StyleAppError
    from style_app.web.video_tab import stylize_upload

    with pytest.raises(StyleAppError, match=r"world.mp4: 31 s long; the limit is 20 s$"):
        stylize_upload(str(GRADIO_CLIPS / "world.mp4"), "starry_night", "instance", [], 64)


def test_full_disk_while_writing_a_clip_is_one_line_and_keeps_the_old_file(small_disk, weights_folder, tmp_path):
    import re
    import sys

    from helpers import FULL_DISK

    disk = small_disk(16 * 1024)
    src = make_clip(tmp_path / "clip.mp4", moving_frames(20, (256, 192)), tone=True)
    out = disk.folder / "out.mp4"
    out.write_bytes(b"the previous file")
    result = disk.run([sys.executable, "-m", "style_app", "stylize", str(src), "--style", "starry_night", "-o",
                       str(out), "--device", "cpu"], STYLE_APP_WEIGHTS=str(weights_folder))
    assert result.returncode == 2, result.stderr
    assert re.fullmatch(rf"style-app: error: {re.escape(str(out))}: cannot write {FULL_DISK}; nothing was "
                        rf"written\n", result.stderr), result.stderr
    assert out.read_bytes() == b"the previous file" and sorted(p.name for p in disk.folder.iterdir()) == ["out.mp4"]


def test_strength_0_gives_back_the_clip(shipped, tmp_path, capsys):
    src = make_clip(tmp_path / "clip.mp4", moving_frames(3, (48, 32)))

    def distance(strength: str) -> float:
        out = tmp_path / f"out{strength}.mp4"
        code, _, err = stylize(capsys, src, out, "--strength", strength, "--stabilize", "0")
        assert code == 0, err
        with av.open(str(out)) as c, av.open(str(src)) as s:
            pairs = zip(c.decode(video=0), s.decode(video=0))
            return max(np.abs(a.to_ndarray(format="rgb24").astype(int) - b.to_ndarray(format="rgb24")).mean()
                       for a, b in pairs)

    photo, stylized = distance("0"), distance("1")
    assert photo < 10 and photo < stylized / 4  # the clip itself, up to H.264's 4:2:0 colour loss
