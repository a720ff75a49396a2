"""Two ways to keep a stylized clip steady from frame to frame.

`smoothed_statistics` acts inside the network: instance, layer and group norm compute their mean
and variance afresh on every frame, so a moving object or a change of light shifts every
channel and the whole frame's colours jump. Carried from frame to frame as an exponential moving
average, the statistics change slowly instead. (Batch norm at inference uses fixed running
statistics and is unaffected.) It reuses the norms' recorded-statistics slot
(models.norms.WholeImageStats), which is why it exists only because we own the norm layers.

`Stabilizer` acts on the output: each stylized frame is blended with the previous result warped
along the input's optical flow, where the flow says the pixel was visible (in the spirit of
Lai et al. 2018's blind video temporal consistency, without their network).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from style_app.flicker import Motion, warp
from style_app.models.norms import GroupNorm, InstanceNorm, WholeImageStats


def _groups(layer: nn.Module) -> int:
    return layer.num_features if isinstance(layer, InstanceNorm) else layer.num_groups


@contextlib.contextmanager
def smoothed_statistics(model: nn.Module, carry: float) -> Iterator[None]:
    """Within the block, each call of `model` (one frame at a time) normalizes every instance,
    layer and group norm with `carry` x the statistics used on the previous frame + (1 - carry) x
    this frame's own. `carry` 0 is plain per-frame statistics; the first frame is always its own."""
    if not 0.0 <= carry < 1.0:
        raise ValueError(f"carry must be in [0, 1), got {carry}")
    layers = [m for m in model.modules() if isinstance(m, (InstanceNorm, GroupNorm))]
    hooks = [layer.register_forward_pre_hook(_smoothing_hook(carry)) for layer in layers]
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()
        for layer in layers:
            layer._recorded, layer._recording = None, False


def _smoothing_hook(carry: float):
    state: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(layer: WholeImageStats, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0]
        var, mean = torch.var_mean(x.float().reshape(x.shape[0], _groups(layer), -1), dim=2, unbiased=False)
        if "stats" in state and state["stats"][0].shape == mean.shape:
            old_mean, old_var = state["stats"]
            new_mean = carry * old_mean + (1 - carry) * mean
            # the variance about the new mean of the two mixed distributions (not a mean of variances)
            var = (carry * (old_var + (old_mean - new_mean) ** 2)
                   + (1 - carry) * (var + (mean - new_mean) ** 2))
            mean = new_mean
        state["stats"] = (mean, var)
        layer._recorded, layer._recording = (mean, var), False

    return hook


class Stabilizer:
    """Blends each output frame with the previous *result* warped along the flow: where visible,
    result = (1 - strength) x frame + strength x warped previous result; elsewhere the frame.
    The visibility mask is feathered so no hard edge of the blend shows."""

    def __init__(self, strength: float):
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"strength must be in [0, 1), got {strength}")
        self.strength = strength
        self._previous: np.ndarray | None = None

    def __call__(self, frame: np.ndarray, move: Motion | None) -> np.ndarray:
        """`frame` RGB uint8; `move` the input's motion from the last frame (None: a new start)."""
        if self._previous is None or move is None or self.strength == 0 \
                or self._previous.shape != frame.shape:
            self._previous = frame
            return frame
        import cv2

        h, w = frame.shape[:2]
        move = move.resized(w, h)
        warped = warp(self._previous.astype(np.float32), move.flow)
        mask = cv2.GaussianBlur(move.visible.astype(np.float32), (0, 0), 2.0)[..., None] * self.strength
        result = frame.astype(np.float32) * (1 - mask) + warped * mask
        self._previous = np.clip(result + 0.5, 0, 255).astype(np.uint8)
        return self._previous
