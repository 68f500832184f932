"""Anti-aliased downsampling: blur then subsample.

Paper: `Making Convolutional Networks Shift-Invariant Again` - https://arxiv.org/abs/1904.11486
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from math import comb

import torch
import torch.nn.functional as F
from torch import nn

from .helpers import get_padding

__all__ = ["BlurPool2d", "create_aa"]


class BlurPool2d(nn.Module):
    """Depthwise binomial blur with stride.

    The filter is a non-persistent buffer (not in state dicts), recomputed by
    ``reset_parameters``.
    """

    def __init__(
        self,
        channels: int | None = None,
        filt_size: int = 3,
        stride: int = 2,
        pad_mode: str = "reflect",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if filt_size < 2:
            raise ValueError(f"filt_size must be >= 2, got {filt_size}")
        self.channels = channels
        self.filt_size = filt_size
        self.stride = stride
        self.pad_mode = pad_mode
        self.padding = [get_padding(filt_size, stride)] * 4
        self.filt: torch.Tensor
        filt = torch.empty(channels or 1, 1, filt_size, filt_size, device=device, dtype=dtype)
        self.register_buffer("filt", filt, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        coeffs = torch.tensor(
            [comb(self.filt_size - 1, k) for k in range(self.filt_size)], dtype=torch.float32, device="cpu"
        ) / 2 ** (self.filt_size - 1)
        filt = (coeffs[:, None] * coeffs[None, :])[None, None]
        if self.filt.device.type != "meta":
            self.filt.copy_(filt.expand_as(self.filt))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, self.padding, mode=self.pad_mode)
        if self.channels is None:  # one filter for any channel count
            channels = x.shape[1]
            weight = self.filt.expand(channels, -1, -1, -1)
        else:
            channels = self.channels
            weight = self.filt
        return F.conv2d(x, weight.to(x.dtype), stride=self.stride, groups=channels)


def _resolve_aa(aa_layer: str | Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    if not isinstance(aa_layer, str):
        return aa_layer
    key = aa_layer.lower().replace("_", "").replace("-", "")
    layers: dict[str, Callable[..., nn.Module]] = {
        "avg": nn.AvgPool2d,
        "avgpool": nn.AvgPool2d,
        "blur": BlurPool2d,
        "blurpool": BlurPool2d,
        "blurpc": partial(BlurPool2d, pad_mode="constant"),
    }
    try:
        return layers[key]
    except KeyError:
        raise ValueError(f"unknown anti-aliasing layer {aa_layer!r}; valid: avg, blur, blurpc") from None


def create_aa(
    aa_layer: str | Callable[..., nn.Module] | None,
    channels: int | None = None,
    stride: int = 2,
    *,
    enable: bool = True,
    noop: type[nn.Module] | None = nn.Identity,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module | None:
    """An anti-aliased stride-``stride`` downsample, or ``noop()`` when disabled.

    ``device``/``dtype`` reach a BlurPool2d (its filter buffer) unless a partial already sets them.
    """
    if not aa_layer or not enable:
        return noop() if noop is not None else None
    layer = _resolve_aa(aa_layer)
    base = layer.func if isinstance(layer, partial) else layer
    if isinstance(base, type) and issubclass(base, nn.AvgPool2d):
        return layer(stride)  # kernel = stride, as the avg-pool anti-alias variants use
    kwargs: dict[str, object] = {"channels": channels, "stride": stride}
    if isinstance(base, type) and issubclass(base, BlurPool2d):
        preset = layer.keywords if isinstance(layer, partial) else {}
        for key, value in (("device", device), ("dtype", dtype)):
            if value is not None and key not in preset:
                kwargs[key] = value
    return layer(**kwargs)
