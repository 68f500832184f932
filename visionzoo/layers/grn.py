"""Global Response Normalization (ConvNeXt-V2).

Paper: `ConvNeXt V2: Co-designing and Scaling ConvNets with Masked Autoencoders`
- https://arxiv.org/abs/2301.00808
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GlobalResponseNorm"]


class GlobalResponseNorm(nn.Module):
    """Scale each channel by its spatial L2 norm relative to the mean over channels, with a
    learned residual gain (``weight``) and offset (``bias``), both zero at init (identity).

    Args:
        dim: channels.
        eps: added to the channel mean of the norms.
        channels_last: input is ``(B, H, W, C)`` (else ``(B, C, H, W)``).
    """

    def __init__(self, dim: int, eps: float = 1e-6, *, channels_last: bool = True) -> None:
        super().__init__()
        self.eps = eps
        self.channels_last = channels_last
        self.weight = nn.Parameter(torch.zeros(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            g = x.norm(p=2, dim=(1, 2), keepdim=True)
            n = g / (g.mean(dim=-1, keepdim=True) + self.eps)
            w, b = self.weight.reshape(1, 1, 1, -1), self.bias.reshape(1, 1, 1, -1)
        else:
            g = x.norm(p=2, dim=(2, 3), keepdim=True)
            n = g / (g.mean(dim=1, keepdim=True) + self.eps)
            w, b = self.weight.reshape(1, -1, 1, 1), self.bias.reshape(1, -1, 1, 1)
        return x + torch.addcmul(b, w, x * n)
