"""Global pooling of a token sequence ``(B, N, C)`` -> ``(B, C)`` (the ViT head's pooling)."""

from __future__ import annotations

import torch

__all__ = ["TOKEN_POOL_TYPES", "global_pool_nlc"]

TOKEN_POOL_TYPES = ("", "token", "avg", "avgmax", "max", "map")


def global_pool_nlc(
    x: torch.Tensor,
    pool_type: str = "token",
    num_prefix_tokens: int = 1,
    reduce_include_prefix: bool = False,
) -> torch.Tensor:
    """Pool tokens: ``'token'`` takes the first (class) token, ``'avg'`` / ``'max'`` / ``'avgmax'``
    reduce over the patch tokens (prefix tokens too with ``reduce_include_prefix``), ``''`` keeps all."""
    if not pool_type:
        return x
    if pool_type == "token":
        return x[:, 0]
    if not reduce_include_prefix:
        x = x[:, num_prefix_tokens:]
    if pool_type == "avg":
        return x.mean(dim=1)
    if pool_type == "max":
        return x.amax(dim=1)
    if pool_type == "avgmax":
        return 0.5 * (x.amax(dim=1) + x.mean(dim=1))
    # NOTE: TorchScript reads no globals and no !r here: TOKEN_POOL_TYPES, written out
    raise ValueError(
        f"unknown token pool type '{pool_type}'; valid: ('', 'token', 'avg', 'avgmax', 'max', 'map')"
    )
