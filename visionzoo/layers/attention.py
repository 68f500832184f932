"""Multi-head self-attention over tokens ``(B, N, C)``.

Computed with ``F.scaled_dot_product_attention`` (fused kernels) by default; ``fused_attn=False``
(per module, or :func:`set_fused_attn` over a model) switches to the explicit
``softmax(q k^T * scale) v`` form, for export paths without SDPA and for looking at attention maps.
Both give the same outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Attention", "set_fused_attn"]


class Attention(nn.Module):
    """Self-attention with a fused ``qkv`` projection (state-dict keys ``qkv``, ``proj``,
    optional ``q_norm`` / ``k_norm`` per head and ``norm`` before the projection).

    Args:
        dim: token width.
        num_heads: attention heads (``dim`` must divide by it unless ``attn_head_dim`` is given).
        attn_head_dim: width per head (default ``dim // num_heads``).
        dim_out: output width (default ``dim``).
        qkv_bias: bias on the ``qkv`` projection.
        qk_norm: normalise queries and keys per head with ``norm_layer``.
        scale_norm: normalise the attention output before ``proj``.
        proj_bias: bias on the output projection.
        gated: multiply the attention output by ``sigmoid(gate(x))`` (a ``gate`` projection).
        attn_drop, proj_drop: dropout on attention weights / the output.
        norm_layer: norm for ``qk_norm`` / ``scale_norm``.
        fused_attn: use ``F.scaled_dot_product_attention``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        attn_head_dim: int | None = None,
        dim_out: int | None = None,
        qkv_bias: bool = False,
        qk_norm: bool = False,
        scale_norm: bool = False,
        proj_bias: bool = True,
        gated: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        norm_layer: Callable[..., nn.Module] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        if attn_head_dim is None and dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        if (qk_norm or scale_norm) and norm_layer is None:
            raise ValueError("qk_norm / scale_norm need a norm_layer")
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        # NOTE: device/dtype reach the norm only when set, so norm factories without them work
        norm_dd = dd if device is not None or dtype is not None else {}
        self.num_heads = num_heads
        self.head_dim = attn_head_dim or dim // num_heads
        self.attn_dim = num_heads * self.head_dim
        self.scale = self.head_dim**-0.5
        self.fused_attn = fused_attn
        self.qkv = nn.Linear(dim, self.attn_dim * 3, bias=qkv_bias, **dd)
        self.q_norm = norm_layer(self.head_dim, **norm_dd) if qk_norm and norm_layer else nn.Identity()
        self.k_norm = norm_layer(self.head_dim, **norm_dd) if qk_norm and norm_layer else nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        self.norm = norm_layer(self.attn_dim, **norm_dd) if scale_norm and norm_layer else nn.Identity()
        self.gate = nn.Linear(dim, self.attn_dim, bias=qkv_bias, **dd) if gated else None
        self.proj = nn.Linear(self.attn_dim, dim_out or dim, bias=proj_bias, **dd)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        gate = self.gate(x).sigmoid() if self.gate is not None else None
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        if self.fused_attn:
            x = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)
            x = self.attn_drop(attn.softmax(dim=-1)) @ v
        x = self.norm(x.transpose(1, 2).reshape(b, n, self.attn_dim))
        if gate is not None:
            x = x * gate
        return self.proj_drop(self.proj(x))


def _attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    scale: float,
    fused: bool,
    attn_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``softmax(q k^T * scale + mask) v``, fused or written out (a boolean mask keeps the True
    positions, as ``F.scaled_dot_product_attention`` does)."""
    if fused:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
    return _add_mask((q * scale) @ k.transpose(-2, -1), attn_mask).softmax(dim=-1) @ v


def _add_mask(attn: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
    """Attention logits with ``attn_mask`` applied as ``F.scaled_dot_product_attention`` applies
    it: a boolean mask keeps the True positions, any other is added."""
    if attn_mask is None:
        return attn
    if attn_mask.dtype == torch.bool:
        return attn.masked_fill(~attn_mask, float("-inf"))
    return attn + attn_mask


def set_fused_attn(model: nn.Module, enable: bool = True) -> None:
    """Switch every attention module of ``model`` between the fused and the explicit form."""
    for module in model.modules():
        if hasattr(module, "fused_attn"):
            setattr(module, "fused_attn", enable)  # noqa: B010
