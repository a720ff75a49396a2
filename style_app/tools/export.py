"""`style-app export --format onnx`: a style network as an ONNX graph with dynamic batch, height
and width, checked against PyTorch with onnxruntime. Needs the optional extra
`pip install style_app[onnx]` (onnx, onnxscript, onnxruntime)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from style_app.models.transformer import TransformerNet
from style_app.errors import StyleAppError
from style_app.files import atomic_output

#: Smallest height/width the exported graph accepts (PyTorch pads smaller images; ONNX does not).
MIN_SIDE = 16
CHECK_SHAPES = ((1, 3, 64, 80), (2, 3, 37, 50))  # odd sizes and a batch, unlike the export example
TOLERANCE = 1e-3  # largest absolute difference (images in [0, 1]) accepted against PyTorch


def export_onnx(model: TransformerNet, path: str | os.PathLike) -> Path:
    """Write `model` (fp32) as one ONNX file with dynamic batch, height and width (at least MIN_SIDE);
    the weights sit inside it (a few MB), not in a .data file beside it. Written atomically
    (style_app.files): a failed export leaves no partial file."""
    try:
        import onnx  # noqa: F401  (the exporter needs it; fail with an install hint instead)
        import onnxscript  # noqa: F401
    except ImportError:
        raise StyleAppError("ONNX export needs the onnx extra: pip install 'style_app[onnx]'") from None
    batch = torch.export.Dim("batch", min=1, max=1024)
    height = torch.export.Dim("height", min=MIN_SIDE, max=16384)
    width = torch.export.Dim("width", min=MIN_SIDE, max=16384)
    with torch.no_grad(), atomic_output(path) as tmp:
        torch.onnx.export(model.float().eval(), (torch.rand(2, 3, 64, 64),), str(tmp), input_names=["image"],
                          output_names=["stylized"], dynamic_shapes={"x": {0: batch, 2: height, 3: width}},
                          dynamo=True, external_data=False, verbose=False)
    return Path(path)


def check_onnx(path: str | os.PathLike, model: TransformerNet) -> float:
    """Largest absolute difference between onnxruntime and PyTorch outputs on CHECK_SHAPES;
    raises StyleAppError above TOLERANCE."""
    try:
        import onnxruntime
    except ImportError:
        raise StyleAppError("checking the export needs onnxruntime: pip install 'style_app[onnx]'") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for shape in CHECK_SHAPES:
        x = torch.rand(*shape)
        with torch.no_grad():
            expected = model.float().eval()(x).numpy()
        (got,) = session.run(None, {"image": x.numpy()})
        if got.shape != expected.shape:
            raise StyleAppError(f"{path}: ONNX output shape {got.shape} for input {shape}, expected {expected.shape}")
        worst = max(worst, float(np.abs(got - expected).max()))
    if worst > TOLERANCE:
        raise StyleAppError(f"{path}: ONNX output differs from PyTorch by up to {worst:.2g}")
    return worst
