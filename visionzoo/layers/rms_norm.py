"""Scale-only norms: RMSNorm (``x / rms(x)``) and SimpleNorm (``x / std(x)``), each in a
channels-last form (``RmsNorm``, ``SimpleNorm``: last dim) and a ``(B, C, H, W)`` form (``...2d``:
dim 1). A learned per-channel ``weight``, no bias and no mean subtraction in the output.

Papers: `Root Mean Square Layer Normalization` - https://arxiv.org/abs/1910.07467
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["RmsNorm", "RmsNorm2d", "SimpleNorm", "SimpleNorm2d"]


class _ScaleNorm(nn.Module):
    """Shared state of the four norms: ``weight`` (ones) when ``affine``, else no parameters."""

    def __init__(
        self,
        channels: int,
        eps: float = 1e-6,
        affine: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.num_channels = channels
        self.eps = eps
        if affine:
            self.weight: nn.Parameter | None = nn.Parameter(torch.ones(channels, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            nn.init.ones_(self.weight)

    def _scale(self, x: torch.Tensor, dim: int) -> torch.Tensor:
        if self.weight is None:
            return x
        return x * (self.weight if dim == -1 else self.weight.reshape(1, -1, 1, 1))

    def extra_repr(self) -> str:
        return f"{self.num_channels}, eps={self.eps}, affine={self.weight is not None}"


class RmsNorm(_ScaleNorm):
    """``x * rsqrt(mean(x^2) + eps) * weight`` over the last dim."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._scale(x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps), -1)


class RmsNorm2d(_ScaleNorm):
    """RmsNorm over the channels (dim 1) of ``(B, C, H, W)`` maps, reduced in place (no permute)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._scale(x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + self.eps), 1)


class SimpleNorm(_ScaleNorm):
    """``x * rsqrt(var(x) + eps) * weight`` over the last dim (unbiased variance, as trained)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._scale(x * torch.rsqrt(torch.var(x, dim=-1, keepdim=True) + self.eps), -1)


class SimpleNorm2d(_ScaleNorm):
    """SimpleNorm over the channels (dim 1) of ``(B, C, H, W)`` maps."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._scale(x * torch.rsqrt(torch.var(x, dim=1, keepdim=True) + self.eps), 1)
