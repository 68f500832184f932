"""Global pooling beyond average and max: log-sum-exp (LSE+) and SimPool.

LSE+ computes ``max + log(mean(exp(r * (x - max)))) / r``: ``r`` interpolates between average
pooling (small ``r``) and max pooling (large ``r``), and is learnable by default.

SimPool (`Keep It SimPool: Who Said Supervised Transformers Suffer from Attention Deficit?` -
https://arxiv.org/abs/2309.06891) lets the mean token, projected, attend over the normalised
tokens once; the values are the normalised tokens themselves (no value projection), optionally
power-normalised by ``gamma``. Arguments, state-dict keys and numerics are timm's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from .activations import LayerType
from .attention import _attend

__all__ = ["LsePlus1d", "LsePlus2d", "SimPool1d", "SimPool2d"]


def _lse_r(module: nn.Module, r: float, r_learnable: bool, dd: dict[str, Any]) -> None:
    """``r`` as a parameter when learnable, else a (persistent) buffer: the key is ``r`` either way."""
    value = torch.tensor(r, **dd)
    if r_learnable:
        module.r = nn.Parameter(value)
    else:
        module.register_buffer("r", value)


class LsePlus2d(nn.Module):
    """LSE+ pooling of an NCHW map to ``(B, C)`` (``(B, C, 1, 1)`` with ``flatten=False``)."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        r: torch.Tensor  # a parameter or a buffer (see _lse_r)

    def __init__(
        self,
        r: float = 10.0,
        r_learnable: bool = True,
        flatten: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _lse_r(self, r, r_learnable, {"device": device, "dtype": dtype})
        self.flatten = flatten

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_max = F.adaptive_max_pool2d(x, 1)
        # subtracting the max keeps exp() finite for any r
        out = x_max + torch.log(torch.exp(self.r * (x - x_max)).mean(dim=(2, 3), keepdim=True)) / self.r
        return out.flatten(1) if self.flatten else out


class LsePlus1d(nn.Module):
    """LSE+ pooling of ``(B, N, C)`` tokens to ``(B, C)``."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        r: torch.Tensor  # a parameter or a buffer (see _lse_r)

    def __init__(
        self,
        r: float = 10.0,
        r_learnable: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _lse_r(self, r, r_learnable, {"device": device, "dtype": dtype})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_max = x.amax(dim=1, keepdim=True)
        out = x_max + torch.log(torch.exp(self.r * (x - x_max)).mean(dim=1, keepdim=True)) / self.r
        return out.squeeze(1)


class _SimPool(nn.Module):
    """SimPool over ``(B, N, C)`` tokens (state-dict keys ``norm``, ``q``, ``k``, ``q_norm``, ``k_norm``).

    Args:
        dim: token width (split into ``num_heads`` heads).
        qkv_bias: biases on the ``q`` / ``k`` projections.
        qk_norm: normalise queries and keys per head with ``norm_layer``.
        gamma: pool ``v ** gamma`` and take the ``gamma``-th root (None: plain attention pooling).
        norm_layer: the token norm (default ``nn.LayerNorm``).
        fused_attn: use ``F.scaled_dot_product_attention``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 1,
        qkv_bias: bool = False,
        qk_norm: bool = False,
        gamma: float | None = None,
        norm_layer: LayerType | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.gamma = gamma
        self.fused_attn = fused_attn
        norm = norm_layer or nn.LayerNorm
        self.norm = norm(dim, **dd)  # type: ignore[operator]
        self.q = nn.Linear(dim, dim, bias=qkv_bias, **dd)
        self.k = nn.Linear(dim, dim, bias=qkv_bias, **dd)
        self.q_norm = norm(self.head_dim, **dd) if qk_norm else nn.Identity()  # type: ignore[operator]
        self.k_norm = norm(self.head_dim, **dd) if qk_norm else nn.Identity()  # type: ignore[operator]

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q = x.mean(dim=1, keepdim=True)  # the mean token is the query, before the norm
        x = self.norm(x)
        q = self.q_norm(self.q(q).reshape(b, 1, self.num_heads, self.head_dim).transpose(1, 2))
        k = self.k_norm(self.k(x).reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2))
        v = x.reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)
        gamma = self.gamma
        if gamma is not None:
            # power normalisation: shift the values positive, pool v**gamma, take the gamma-th root
            v = v - v.amin(dim=-2, keepdim=True) + 1e-6
            out = _attend(q, k, v.pow(gamma), self.scale, self.fused_attn).pow(1.0 / gamma)
        else:
            out = _attend(q, k, v, self.scale, self.fused_attn)
        return out.transpose(1, 2).reshape(b, c)


class SimPool2d(_SimPool):
    """SimPool of an NCHW map to ``(B, C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._pool(x.flatten(2).transpose(1, 2))


class SimPool1d(_SimPool):
    """SimPool of ``(B, N, C)`` tokens to ``(B, C)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._pool(x)
