import pytest
import torch

from style_app.models.transformer import TransformerNet
from style_app.cli import main
from style_app.weights import save_model

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
pytest.importorskip("onnxruntime")


def test_export_onnx_with_dynamic_size_matches_pytorch(tmp_path, capsys):
    torch.manual_seed(0)
    weights = save_model(TransformerNet("instance", "slim"), tmp_path / "m.safetensors", {"style": "m", "arch": "slim"})
    out = tmp_path / "m.onnx"
    assert main(["export", "--format", "onnx", "--weights", str(weights), "-o", str(out)]) == 0
    assert out.is_file() and "largest difference from PyTorch" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.safetensors"]  # one file, no .data

    import onnxruntime

    from style_app.weights import load_model
    model, _ = load_model(weights)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = torch.rand(1, 3, 100, 33)
    (got,) = session.run(None, {"image": x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(got), model(x), atol=1e-4, rtol=0)
