"""Decomposed relative position embeddings (MViTv2, ViTDet, SAM): a learned vector per
height offset and per width offset, each dotted with the query and added to the attention
logits of every key in that row / column.

For a query at ``(i, j)`` of a ``q_h x q_w`` grid and a key at ``(m, n)`` of a ``k_h x k_w`` grid
the bias is ``q . R_h[d_h(i, m)] + q . R_w[d_w(j, n)]``, where an offset is measured on the finer
of the two grids (``d(i, m) = i * max(k / q, 1) - m * max(q / k, 1) + (k - 1) * max(q / k, 1)``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._fx import register_notrace_function

__all__ = ["add_decomposed_rel_pos", "decomposed_rel_pos_bias", "rel_pos_offsets", "resize_rel_pos_table"]


def rel_pos_offsets(q_len: int, k_len: int, device: torch.device | None = None) -> torch.Tensor:
    """``(q_len, k_len)`` indices into a table of ``2 * max(q_len, k_len) - 1`` offsets."""
    q_ratio = max(k_len / q_len, 1.0)
    k_ratio = max(q_len / k_len, 1.0)
    q_pos = torch.arange(q_len, device=device, dtype=torch.long).unsqueeze(-1) * q_ratio
    k_pos = torch.arange(k_len, device=device, dtype=torch.long).unsqueeze(0) * k_ratio
    return (q_pos - k_pos + (k_len - 1) * k_ratio).long()


@register_notrace_function
def add_decomposed_rel_pos(
    attn: torch.Tensor,
    q: torch.Tensor,
    q_size: list[int],
    k_size: list[int],
    rel_pos_h: torch.Tensor,
    rel_pos_w: torch.Tensor,
    num_prefix_tokens: int = 0,
) -> torch.Tensor:
    """Add the decomposed relative position bias to the logits between grid tokens.

    Args:
        attn: logits ``(B, heads, prefix + q_h * q_w, prefix + k_h * k_w)``, changed in place.
        q: queries ``(B, heads, prefix + q_h * q_w, dim)``.
        q_size, k_size: ``[h, w]`` of the query and key grids.
        rel_pos_h, rel_pos_w: tables ``(2 * max(q, k) - 1, dim)`` per offset along height / width.
        num_prefix_tokens: leading tokens (a class token) with no position: no bias.

    Returns:
        ``attn``.
    """
    p = num_prefix_tokens
    q_h, q_w = q_size[0], q_size[1]
    k_h, k_w = k_size[0], k_size[1]
    table_h = rel_pos_h[rel_pos_offsets(q_h, k_h, q.device)]  # (q_h, k_h, dim)
    table_w = rel_pos_w[rel_pos_offsets(q_w, k_w, q.device)]  # (q_w, k_w, dim)
    b, heads, _, dim = q.shape
    grid_q = q[:, :, p:].reshape(b, heads, q_h, q_w, dim)
    bias_h = torch.einsum("byhwc,hkc->byhwk", grid_q, table_h)
    bias_w = torch.einsum("byhwc,wkc->byhwk", grid_q, table_w)
    logits = attn[:, :, p:, p:].view(b, -1, q_h, q_w, k_h, k_w)
    attn[:, :, p:, p:] = (logits + bias_h.unsqueeze(-1) + bias_w.unsqueeze(-2)).view(
        b, -1, q_h * q_w, k_h * k_w
    )
    return attn


def resize_rel_pos_table(rel_pos: torch.Tensor, length: int) -> torch.Tensor:
    """A ``(L, dim)`` offset table linearly resampled to ``length`` rows (itself when it has them):
    a table learned for one grid serves a larger or smaller one (SAM's global blocks at another
    input size)."""
    if rel_pos.shape[0] == length:
        return rel_pos
    table = F.interpolate(
        rel_pos.reshape(1, rel_pos.shape[0], -1).permute(0, 2, 1), size=length, mode="linear"
    )
    return table.reshape(-1, length).permute(1, 0)


@register_notrace_function
def decomposed_rel_pos_bias(
    q: torch.Tensor,
    q_size: list[int],
    k_size: list[int],
    rel_pos_h: torch.Tensor,
    rel_pos_w: torch.Tensor,
) -> torch.Tensor:
    """The decomposed bias as its own tensor, for an ``attn_mask`` of fused attention (no prefix
    tokens); tables of another length than ``2 * max(q, k) - 1`` are resampled to it.

    Args:
        q: queries ``(B, q_h * q_w, dim)`` (heads folded into ``B``).
        q_size, k_size: ``[h, w]`` of the query and key grids.
        rel_pos_h, rel_pos_w: tables ``(L, dim)`` per offset along height / width.

    Returns:
        ``(B, q_h * q_w, k_h * k_w)``.
    """
    q_h, q_w = q_size[0], q_size[1]
    k_h, k_w = k_size[0], k_size[1]
    table_h = resize_rel_pos_table(rel_pos_h, 2 * max(q_h, k_h) - 1)[rel_pos_offsets(q_h, k_h, q.device)]
    table_w = resize_rel_pos_table(rel_pos_w, 2 * max(q_w, k_w) - 1)[rel_pos_offsets(q_w, k_w, q.device)]
    b, dim = q.shape[0], q.shape[-1]
    grid_q = q.reshape(b, q_h, q_w, dim)
    bias_h = torch.einsum("bhwc,hkc->bhwk", grid_q, table_h)
    bias_w = torch.einsum("bhwc,wkc->bhwk", grid_q, table_w)
    return (bias_h.unsqueeze(-1) + bias_w.unsqueeze(-2)).reshape(b, q_h * q_w, k_h * k_w)
