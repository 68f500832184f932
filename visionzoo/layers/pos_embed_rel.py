"""Relative position logits for local 2-D attention (Bottleneck and Halo attention).

A query at ``(y, x)`` of a ``block`` of queries scores a key at ``(y', x')`` of a ``window`` of
keys with ``q . (height_rel[y' - y + win_h - 1] + width_rel[x' - x + win_w - 1])``: one learned
vector per relative row and per relative column offset (the decomposed embedding of
`Attention Augmented Convolutional Networks` - https://arxiv.org/abs/1904.09925). Bottleneck
attention scores its whole map against itself (block = window = the map); Halo attention a
block against the block plus its halo. Module names follow timm's, so its checkpoints load.
"""

from __future__ import annotations

import torch
from torch import nn

from .helpers import to_2tuple

__all__ = ["PosEmbedRel", "rel_logits_1d"]


def rel_logits_1d(q: torch.Tensor, rel_k: torch.Tensor, length: int, win_size: int) -> torch.Tensor:
    """Logits of ``length`` queries along one axis against ``win_size`` keys.

    Args:
        q: ``(..., length, dim)`` queries.
        rel_k: ``(2 * win_size - 1, dim)`` embeddings, one per offset from ``-(win_size - 1)``.
        length: queries along the axis. win_size: keys along the axis.

    Returns:
        ``(..., length, win_size)``: entry ``(i, j)`` is ``q[i] . rel_k[j - i + win_size - 1]``.
    """
    offsets = (
        torch.arange(win_size, device=q.device)[None, :] - torch.arange(length, device=q.device)[:, None]
    )
    rel = rel_k[offsets + (win_size - 1)]  # (length, win_size, dim): the embedding each pair uses
    return (q.unsqueeze(-2) @ rel.transpose(-1, -2)).squeeze(-2)


class PosEmbedRel(nn.Module):
    """Relative position logits of a ``block_size`` grid of queries against a ``win_size`` grid
    of keys: ``(N, bh * bw, dim)`` queries in, ``(N, bh * bw, wh * ww)`` logits out.

    Args:
        block_size: the query grid (int or (h, w)).
        win_size: the key grid (default: the query grid).
        dim_head: query width.
        scale: init std of the embeddings.
    """

    def __init__(
        self,
        block_size: int | tuple[int, int],
        dim_head: int,
        scale: float,
        win_size: int | tuple[int, int] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.block_size = to_2tuple(block_size)
        self.win_size = to_2tuple(win_size if win_size is not None else block_size)
        self.dim_head = dim_head
        self.scale = scale
        self.height_rel = nn.Parameter(
            torch.empty(self.win_size[0] * 2 - 1, dim_head, device=device, dtype=dtype)
        )
        self.width_rel = nn.Parameter(
            torch.empty(self.win_size[1] * 2 - 1, dim_head, device=device, dtype=dtype)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.height_rel, std=self.scale)
        nn.init.normal_(self.width_rel, std=self.scale)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        (bh, bw), (wh, ww) = self.block_size, self.win_size
        q = q.reshape(-1, bh, bw, self.dim_head)
        by_col = rel_logits_1d(q, self.width_rel, bw, ww)  # (N, bh, bw, ww)
        by_row = rel_logits_1d(q.transpose(1, 2), self.height_rel, bh, wh).transpose(1, 2)  # (N, bh, bw, wh)
        return (by_row.unsqueeze(-1) + by_col.unsqueeze(-2)).reshape(-1, bh * bw, wh * ww)
