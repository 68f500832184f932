"""Differential attention: the difference of two softmax attention maps cancels common-mode
noise (attention sinks) and sharpens the pattern.

Paper: `Differential Transformer` - https://arxiv.org/abs/2410.05258
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from .norm import RmsNorm

__all__ = ["DiffAttention", "DiffLambda", "diff_attend", "diff_lambda", "diff_lambda_init"]


def diff_lambda_init(depth: int) -> float:
    """The paper's depth-dependent initial lambda (``depth`` is the block index)."""
    return 0.8 - 0.6 * math.exp(-0.3 * depth)


def _lambda_params(module: Any, head_dim: int, dual_lambda: bool) -> None:
    if dual_lambda:
        module.lambda_a = nn.Parameter(torch.zeros((), dtype=torch.float32))
        module.lambda_b = nn.Parameter(torch.zeros((), dtype=torch.float32))
        module.lambda_q1 = module.lambda_k1 = module.lambda_q2 = module.lambda_k2 = None
    else:
        module.lambda_a = module.lambda_b = None
        for name in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
            setattr(module, name, nn.Parameter(torch.zeros(head_dim, dtype=torch.float32)))


def _reset_lambda(module: Any) -> None:
    for name in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
        p = getattr(module, name)
        if p is not None and not p.is_meta:
            nn.init.normal_(p, mean=0.0, std=0.1)


def diff_lambda(
    lambda_a: torch.Tensor | None,
    lambda_b: torch.Tensor | None,
    lambda_q1: torch.Tensor | None,
    lambda_k1: torch.Tensor | None,
    lambda_q2: torch.Tensor | None,
    lambda_k2: torch.Tensor | None,
    lambda_init: float,
) -> torch.Tensor:
    """``exp(a) - exp(b) + lambda_init`` with the two scalars, else ``exp(q1 . k1) - exp(q2 . k2)
    + lambda_init`` (tensors, not the module: TorchScript takes no module arguments)."""
    if lambda_a is not None and lambda_b is not None:
        return torch.exp(lambda_a) - torch.exp(lambda_b) + lambda_init
    if lambda_q1 is None or lambda_k1 is None or lambda_q2 is None or lambda_k2 is None:
        raise RuntimeError("differential attention needs lambda_a/b or lambda_q1/k1/q2/k2")
    lambda_1 = torch.exp(torch.sum(lambda_q1 * lambda_k1, dim=-1).float())
    lambda_2 = torch.exp(torch.sum(lambda_q2 * lambda_k2, dim=-1).float())
    return lambda_1 - lambda_2 + lambda_init


def diff_attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    lam: torch.Tensor,
    num_heads: int,
    scale: float,
    dropout_p: float,
    fused: bool,
) -> torch.Tensor:
    """Differential attention of ``q``, ``k`` ``(B, 2 * heads, N, d)`` over ``v`` ``(B, heads, N, 2d)``:
    ``(B, heads, N, 2d)``, before the per-head sub-norm. ``dropout_p`` applies to both maps."""
    b, _, n, d = q.shape
    lam = lam.type_as(q)
    if fused:
        q1, q2 = q.reshape(b, num_heads, 2, n, d).unbind(2)
        k1, k2 = k.reshape(b, num_heads, 2, n, d).unbind(2)
        x1 = F.scaled_dot_product_attention(q1, k1, v, dropout_p=dropout_p)
        return x1 - lam * F.scaled_dot_product_attention(q2, k2, v, dropout_p=dropout_p)
    attn = ((q * scale) @ k.transpose(-2, -1)).softmax(dim=-1)
    attn = F.dropout(attn, p=dropout_p, training=dropout_p > 0.0).view(b, num_heads, 2, n, n)
    return (attn[:, :, 0] - lam * attn[:, :, 1]) @ v


class DiffLambda:
    """The differential-attention parameters as attributes of the layer that owns them (timm's keys:
    ``lambda_*`` and ``sub_norm`` sit on the attention module or block, not in a submodule)."""

    if TYPE_CHECKING:  # for mypy only: TorchScript rejects these annotations on a module class
        lambda_init: float
        scale: float
        num_heads: int
        fused_attn: bool
        training: bool
        attn_drop: nn.Dropout
        sub_norm: nn.Module
        lambda_a: torch.Tensor | None
        lambda_b: torch.Tensor | None
        lambda_q1: torch.Tensor | None
        lambda_k1: torch.Tensor | None
        lambda_q2: torch.Tensor | None
        lambda_k2: torch.Tensor | None

    def _diff_attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        lam = diff_lambda(
            self.lambda_a,
            self.lambda_b,
            self.lambda_q1,
            self.lambda_k1,
            self.lambda_q2,
            self.lambda_k2,
            self.lambda_init,
        )
        p = self.attn_drop.p if self.training else 0.0
        x = diff_attend(q, k, v, lam, self.num_heads, self.scale, p, self.fused_attn)
        return self.sub_norm(x) * (1 - self.lambda_init)


class DiffAttention(DiffLambda, nn.Module):
    """Multi-head differential self-attention (keys ``qkv``, ``proj``, ``sub_norm``, ``lambda_*``).

    Args:
        dim, num_heads: width and heads; each head has two query/key halves of ``dim / heads / 2``.
        depth: block index (sets the initial lambda).
        dual_lambda: two scalar lambdas instead of the paper's four vectors.
        Other arguments as :class:`~visionzoo.layers.Attention`.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = False,
        qk_norm: bool = False,
        scale_norm: bool = False,
        proj_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        norm_layer: Callable[..., nn.Module] | None = None,
        depth: int = 0,
        dual_lambda: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        norm_layer = norm_layer or RmsNorm
        self.num_heads = num_heads
        self.head_dim = dim // num_heads // 2
        self.scale = self.head_dim**-0.5
        self.fused_attn = fused_attn
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.q_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        self.norm = norm_layer(dim) if scale_norm else nn.Identity()
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.proj_drop = nn.Dropout(proj_drop)
        self.dual_lambda = dual_lambda
        _lambda_params(self, self.head_dim, dual_lambda)
        self.sub_norm = RmsNorm(2 * self.head_dim, eps=1e-5)
        self.lambda_init = diff_lambda_init(depth)
        self.reset_parameters()
        if device is not None or dtype is not None:  # built on the default device, then moved
            self.to(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        _reset_lambda(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=2)
        q = self.q_norm(q.reshape(b, n, 2 * self.num_heads, self.head_dim).transpose(1, 2))
        k = self.k_norm(k.reshape(b, n, 2 * self.num_heads, self.head_dim).transpose(1, 2))
        v = v.reshape(b, n, self.num_heads, 2 * self.head_dim).transpose(1, 2)
        x = self._diff_attend(q, k, v).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(self.norm(x)))
