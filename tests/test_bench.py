import json

import pytest
import torch

from helpers import TINY_VGG_WIDTHS
from style_app.models.transformer import TransformerNet
from style_app.tools import bench
from style_app.cli import main


def test_bench_measures_fast_path_beside_the_baseline():
    inference, train = bench.run_bench(torch.device("cpu"), ["slim"], ["group"], [48], repeats=1,
                                       train_size=32, train_batch=2, vgg_widths=TINY_VGG_WIDTHS)
    assert (inference.task, inference.size, train.task, train.batch) == ("inference", 48, "train", 2)
    assert inference.psnr_db >= 35 and inference.baseline_s > 0 and train.fast_s > 0 and train.gflop > 0
    table = bench.format_table([inference, train]).splitlines()
    assert len(table) == 4
    for column in ("fp32 baseline", "speed-up", "GFLOP/s", "images/s", "PSNR vs fp32"):
        assert column in table[0]


def test_bench_command_prints_the_machine_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--device", "cpu", "--arch", "slim", "--norm", "instance", "--sizes", "40",
                 "--repeats", "1", "--no-train", "--rss", "64", "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("machine: ") and lines[1].startswith("| task |") and lines[2].startswith("|---")
    assert lines[3].startswith("| inference | slim | instance | 40² |")
    assert len(lines) == 5 and lines[4].startswith("stylize 64x64")  # each row once, under the one header
    report = json.loads(out.read_text())
    assert "threads" in report["machine"] and report["results"][0]["speedup"] > 0
    assert report["stylize_peak_rss"]["side"] == 64 and 0.05 < report["stylize_peak_rss"]["peak_rss_gb"] < 3


def test_conv_flops_of_the_johnson_network():
    # 1024x1024: ~322 GFLOP (16.3 + 9.7 + 9.7 + 10 x 19.3 + 38.7 + 38.7 + 16.3)
    gflop = bench.conv_gflop(TransformerNet("instance"), torch.rand(1, 3, 64, 64)) * 256
    assert gflop == pytest.approx(322, rel=0.01)
