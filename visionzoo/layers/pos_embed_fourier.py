"""Fourier position encoding of a patch grid (XCiT, EdgeNeXt): sine / cosine features of each
patch's row and column, mixed to the model width by a 1x1 conv.

Paper: `XCiT: Cross-Covariance Image Transformers` - https://arxiv.org/abs/2106.09681
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["PositionalEncodingFourier", "fourier_grid"]


def _fourier_features(n: int, freq: torch.Tensor) -> torch.Tensor:
    """``(n, len(freq))``: positions ``1..n`` scaled to ``a = 2 pi p / (n + 1e-6)``, then
    ``sin(a / f)`` at the even and ``cos(a / f)`` at the odd features."""
    pos = torch.arange(1, n + 1, device=freq.device, dtype=torch.float32) / (n + 1e-6) * (2 * math.pi)
    angles = pos[:, None] / freq
    return torch.stack((angles[:, 0::2].sin(), angles[:, 1::2].cos()), dim=-1).flatten(1)


def fourier_grid(
    height: int, width: int, hidden_dim: int, temperature: float, device: torch.device
) -> torch.Tensor:
    """``(1, 2 * hidden_dim, height, width)``: per patch, ``hidden_dim`` features of its row, then
    of its column, at frequencies ``f_j = T ** (2 floor(j / 2) / hidden_dim)`` (paired: feature
    ``2i`` is a sine, ``2i + 1`` the cosine at the same frequency)."""
    j = torch.arange(hidden_dim, device=device, dtype=torch.float32)
    freq = temperature ** (2 * torch.div(j, 2, rounding_mode="floor") / hidden_dim)
    rows = _fourier_features(height, freq)[:, None, :].expand(height, width, hidden_dim)
    cols = _fourier_features(width, freq)[None, :, :].expand(height, width, hidden_dim)
    return torch.cat((rows, cols), dim=-1).permute(2, 0, 1).unsqueeze(0)


# NOTE: the grid comes from the input's shape: one graph node under FX
torch.fx.wrap("fourier_grid")


class PositionalEncodingFourier(nn.Module):
    """:func:`fourier_grid` features of each patch's row and column (``hidden_dim`` each), mixed
    to ``dim`` channels by a 1x1 conv (``token_projection``). Computed per call, so any grid
    size works."""

    def __init__(
        self,
        hidden_dim: int = 32,
        dim: int = 768,
        temperature: float = 10000.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.token_projection = nn.Conv2d(hidden_dim * 2, dim, kernel_size=1, device=device, dtype=dtype)
        self.temperature = temperature
        self.hidden_dim = hidden_dim
        self.dim = dim

    def forward(self, batch: int, height: int, width: int) -> torch.Tensor:
        """``(batch, dim, height, width)`` encodings (one computation, expanded over the batch)."""
        weight = self.token_projection.weight
        pos = fourier_grid(height, width, self.hidden_dim, self.temperature, weight.device)
        return self.token_projection(pos.to(weight.dtype)).expand(batch, -1, -1, -1)
