"""Mixed (learned) 2D rotary position embeddings: every block and head rotates by its own
frequencies, learned as parameters over both axes together.

Paper: `Rotary Position Embedding for Vision Transformer` - https://arxiv.org/abs/2403.13298
(RoPE-Mixed). The state-dict key (``freqs``) and the numerics are timm's, so the Naver RoPE-ViT
checkpoints behave the same.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["RotaryEmbeddingMixed", "mixed_grid"]


def mixed_grid(
    shape: list[int], grid_indexing: str = "xy", device: torch.device | None = None
) -> torch.Tensor:
    """``(2, H * W)`` patch indices, row-major: ``(x, y)`` = (column, row) for ``'xy'``, (row,
    column) for ``'ij'``."""
    if grid_indexing != "ij" and grid_indexing != "xy":
        raise ValueError("grid_indexing must be 'ij' or 'xy', got '" + grid_indexing + "'")
    rows = torch.arange(shape[0], device=device, dtype=torch.int64).to(torch.float32)
    cols = torch.arange(shape[1], device=device, dtype=torch.int64).to(torch.float32)
    r, c = torch.meshgrid([rows, cols], indexing="ij")
    if grid_indexing == "xy":
        return torch.stack([c.flatten(), r.flatten()])
    return torch.stack([r.flatten(), c.flatten()])


torch.fx.wrap("mixed_grid")  # one graph node under FX: the grid follows the input's size


class RotaryEmbeddingMixed(nn.Module):
    """Learned 2D RoPE: ``freqs`` ``(2, depth, num_heads, head_dim // 2)`` give each block and
    head the angle ``x * fx + y * fy`` per channel pair; :meth:`get_embed` returns
    ``cat([sin, cos], -1)`` of shape ``(depth, num_heads, H * W, 2 * head_dim)`` in the interleaved
    layout (index it by block).

    Args:
        dim: model width (``dim // num_heads`` must divide by 4).
        depth, num_heads: blocks and heads, one frequency set each.
        temperature: base of the initial frequency magnitudes.
        grid_indexing: ``'xy'`` (x is the column) or ``'ij'``.
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        temperature: float = 10.0,
        grid_indexing: str = "xy",
    ) -> None:
        super().__init__()
        head_dim = dim // num_heads
        if head_dim % 4:
            raise ValueError(f"RotaryEmbeddingMixed head dim must be divisible by 4, got {head_dim}")
        self.dim = dim
        self.depth = depth
        self.num_heads = num_heads
        self.temperature = temperature
        self.grid_indexing = grid_indexing
        self.freqs = nn.Parameter(torch.empty(2, depth, num_heads, head_dim // 2))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Axial magnitudes ``temperature ** (-4 i / head_dim)`` turned by a random angle per block
        and head (RoPE-Mixed's init); the y frequencies are the x ones a quarter turn on."""
        if self.freqs.is_meta:
            return
        head_dim = self.dim // self.num_heads
        mag = 1.0 / self.temperature ** (torch.arange(0, head_dim, 4, dtype=torch.float32) / head_dim)
        angles = torch.rand(self.depth, self.num_heads, 1) * 2 * math.pi
        fx = torch.cat([mag * torch.cos(angles), mag * torch.cos(angles + math.pi / 2)], dim=-1)
        fy = torch.cat([mag * torch.sin(angles), mag * torch.sin(angles + math.pi / 2)], dim=-1)
        with torch.no_grad():
            self.freqs.copy_(torch.stack([fx, fy]))

    def get_embed(self, shape: list[int], dtype: torch.dtype | None = None) -> torch.Tensor:
        """``(depth, num_heads, H * W, 2 * head_dim)`` for an ``(H, W)`` grid (float32 angles)."""
        t = mixed_grid(shape, self.grid_indexing, device=self.freqs.device)
        freqs = self.freqs.float()
        angles = t[0].unsqueeze(-1) * freqs[0].unsqueeze(-2) + t[1].unsqueeze(-1) * freqs[1].unsqueeze(-2)
        emb = torch.cat([angles.sin().repeat_interleave(2, -1), angles.cos().repeat_interleave(2, -1)], -1)
        return emb.to(self.freqs.dtype if dtype is None else dtype)

    def no_weight_decay(self) -> set[str]:
        return {"freqs"}
