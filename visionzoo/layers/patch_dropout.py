"""Patch dropout: train on a random subset of patch tokens (prefix tokens always kept).

Papers: `FLIP` - https://arxiv.org/abs/2212.00794; `PatchDropout` - https://arxiv.org/abs/2208.07220
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PatchDropout"]


class PatchDropout(nn.Module):
    """Keep ``1 - prob`` of the patch tokens of ``(B, N, C)`` in training (identity in eval)."""

    def __init__(self, prob: float = 0.5, num_prefix_tokens: int = 1, ordered: bool = False) -> None:
        super().__init__()
        if not 0.0 <= prob < 1.0:
            raise ValueError(f"patch dropout prob must be in [0, 1), got {prob}")
        self.prob = prob
        self.num_prefix_tokens = num_prefix_tokens
        self.ordered = ordered

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.prob == 0.0:
            return x
        prefix, x = x[:, : self.num_prefix_tokens], x[:, self.num_prefix_tokens :]
        b, n = x.shape[:2]
        keep = max(1, int(n * (1.0 - self.prob)))
        idx = torch.argsort(torch.randn(b, n, device=x.device), dim=-1)[:, :keep]
        if self.ordered:
            idx = idx.sort(dim=-1).values
        x = x.gather(1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        return torch.cat([prefix, x], dim=1) if self.num_prefix_tokens else x
