"""ConViT: vision transformers with gated positional self-attention (a soft convolutional bias).

Paper: `ConViT: Improving Vision Transformers with Soft Convolutional Inductive Biases`
- https://arxiv.org/abs/2103.10697

The first ``local_up_to_layer`` blocks use GPSA: each head blends content attention with an
attention over relative patch offsets, by a learned gate; the class token joins after them and
the remaining blocks are plain self-attention. Weights: Apache-2.0 (Facebook Research's
ConViT). Keys as timm's ``convit``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..features import feature_take_indices
from ..layers import (
    DropPath,
    HybridEmbed,
    LayerNorm,
    Mlp,
    PatchEmbed,
    calculate_drop_path_rates,
    trunc_normal_,
)
from ..layers.classifier import check_pool
from ..model import TokenModel
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["GPSA", "MHSA", "Block", "ConVit", "default_cfgs", "gpsa_rel_indices"]

LayerFn = Callable[..., nn.Module]


def gpsa_rel_indices(num_patches: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``(1, N, N, 3)`` offsets between the patches of a square grid: ``(dx, dy, dx^2 + dy^2)``
    for query ``n`` and key ``m`` in row-major order (``dx`` along the width)."""
    side = int(num_patches**0.5)
    pos = torch.arange(side, device=device, dtype=dtype)
    ys, xs = torch.meshgrid(pos, pos, indexing="ij")
    xs, ys = xs.reshape(-1), ys.reshape(-1)
    dx = xs.view(1, -1) - xs.view(-1, 1)  # key minus query
    dy = ys.view(1, -1) - ys.view(-1, 1)
    return torch.stack((dx, dy, dx * dx + dy * dy), dim=-1).unsqueeze(0)


# One graph node under FX: the grid side is computed from the token count of a call.
torch.fx.wrap("gpsa_rel_indices")


class GPSA(nn.Module):
    """Gated positional self-attention: per head ``(1 - g) * softmax(q k^T) + g * softmax(pos)``,
    renormalised, with ``g = sigmoid(gating_param)`` and ``pos`` a linear map (``pos_proj``) of
    the relative offsets. The offsets follow the token count of each call (a square grid)."""

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        locality_strength: float = 1.0,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.dim = dim
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.locality_strength = locality_strength
        self.qk = nn.Linear(dim, dim * 2, bias=qkv_bias)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.pos_proj = nn.Linear(3, num_heads)
        self.proj_drop = nn.Dropout(proj_drop)
        self.gating_param = nn.Parameter(torch.ones(num_heads))

    def get_attention(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k = self.qk(x).reshape(b, n, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        rel = gpsa_rel_indices(n, x.device, x.dtype)
        pos_score = self.pos_proj(rel).permute(0, 3, 1, 2).softmax(dim=-1)  # (1, heads, N, N)
        patch_score = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        gate = torch.sigmoid(self.gating_param.view(1, -1, 1, 1))
        attn = (1.0 - gate) * patch_score + gate * pos_score
        attn = attn / attn.sum(dim=-1, keepdim=True)
        return self.attn_drop(attn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        attn = self.get_attention(x)
        v = self.v(x).reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)
        return self.proj_drop(self.proj((attn @ v).transpose(1, 2).reshape(b, n, c)))

    def local_init(self) -> None:
        """Start as a convolution: identity values, each head's positional attention peaked at
        one offset of a ``sqrt(heads)`` square kernel (scaled by ``locality_strength``)."""
        with torch.no_grad():
            self.v.weight.copy_(torch.eye(self.dim))
            kernel = int(self.num_heads**0.5)
            center = (kernel - 1) / 2 if kernel % 2 == 0 else kernel // 2
            w = self.pos_proj.weight
            for h1 in range(kernel):
                for h2 in range(kernel):
                    head = h1 + kernel * h2
                    w[head, 2] = -1
                    w[head, 1] = 2 * (h1 - center)
                    w[head, 0] = 2 * (h2 - center)
            w.mul_(self.locality_strength)


class MHSA(nn.Module):
    """Plain multi-head self-attention (ConViT's later blocks; keys ``qkv`` / ``proj``)."""

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        attn = self.attn_drop(((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1))
        return self.proj_drop(self.proj((attn @ v).transpose(1, 2).reshape(b, n, c)))


class Block(nn.Module):
    """Pre-norm block with GPSA (``use_gpsa``) or plain self-attention."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm,
        use_gpsa: bool = True,
        locality_strength: float = 1.0,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.use_gpsa = use_gpsa
        self.attn: nn.Module = (
            GPSA(
                dim,
                num_heads=num_heads,
                qkv_bias=qkv_bias,
                attn_drop=attn_drop,
                proj_drop=proj_drop,
                locality_strength=locality_strength,
            )
            if use_gpsa
            else MHSA(dim, num_heads=num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop)
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(
            in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class ConVit(TokenModel):
    """ConViT: GPSA blocks over the patch tokens, then the class token joins for the plain blocks.

    ``embed_dim`` is per head (the width is ``embed_dim * num_heads``, as timm). Intermediates
    are patch tokens only (the class token is dropped after it joins). Gradient checkpointing
    works here (timm refuses it). ``global_pool``: ``'token'``, ``'avg'`` or ``''``.
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "token",
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        hybrid_backbone: nn.Module | None = None,
        norm_layer: LayerFn = LayerNorm,
        local_up_to_layer: int = 3,
        locality_strength: float = 1.0,
        use_pos_embed: bool = True,
    ) -> None:
        super().__init__()
        check_pool(global_pool, ("", "token", "avg"), model="ConVit")
        embed_dim *= num_heads
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool
        self.local_up_to_layer = local_up_to_layer
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.locality_strength = locality_strength
        self.use_pos_embed = use_pos_embed
        self.pool_include_prefix = False
        self.has_class_token = True
        self.drop_rate = drop_rate
        if hybrid_backbone is not None:
            self.patch_embed: Any = HybridEmbed(
                hybrid_backbone, img_size=img_size, in_chans=in_chans, embed_dim=embed_dim
            )
        else:
            self.patch_embed = PatchEmbed(
                img_size=img_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim
            )
        self.num_patches = self.patch_embed.num_patches
        self.cls_token: nn.Parameter | None = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.num_prefix_tokens = 1
        self.pos_drop = nn.Dropout(p=pos_drop_rate)
        self.pos_embed: nn.Parameter | None = (
            nn.Parameter(torch.zeros(1, self.num_patches, embed_dim)) if use_pos_embed else None
        )
        dpr = cast(list[float], calculate_drop_path_rates(drop_path_rate, depth))
        self.blocks = nn.Sequential(
            *[
                Block(
                    dim=embed_dim,
                    num_heads=num_heads,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=dpr[i],
                    norm_layer=norm_layer,
                    use_gpsa=i < local_up_to_layer,
                    locality_strength=locality_strength,
                )
                for i in range(depth)
            ]
        )
        self.norm = norm_layer(embed_dim)
        reduction = self.patch_embed.feat_ratio()
        self.feature_info = [
            dict(num_chs=embed_dim, reduction=reduction, module=f"blocks.{i}") for i in range(depth)
        ]
        self.attn_pool = None
        self.fc_norm = nn.Identity()
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal (0.02) embeddings, token and linears, zero biases, unit norms; then
        the GPSA blocks' convolution-like start (:meth:`GPSA.local_init`)."""
        if self.pos_embed is not None:
            trunc_normal_(self.pos_embed, std=0.02)
        if self.cls_token is not None:
            trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, GPSA):
                m.local_init()

    def no_weight_decay(self) -> set[str]:
        return {"pos_embed", "cls_token"}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^cls_token|pos_embed|patch_embed", blocks=[(r"^blocks\.(\d+)", None), (r"^norm", (99999,))]
        )

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool is not None:
            check_pool(global_pool, ("", "token", "avg"), model="ConVit")
            if global_pool == "token" and not self.num_prefix_tokens:
                raise ValueError("global_pool='token' needs the class token, which was pruned")
        super().reset_classifier(num_classes, global_pool)

    # --- forward -------------------------------------------------------------------------------
    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        if self.pos_embed is not None:
            x = x + self.pos_embed
        return self.pos_drop(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self._embed(x)
        for i, blk in enumerate(self.blocks):
            if i == self.local_up_to_layer and self.cls_token is not None:
                x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
            if not torch.jit.is_scripting() and self._checkpointing():  # static under TorchScript
                x = checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
        return self.norm(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == "avg":
            x = x[:, self.num_prefix_tokens :].mean(dim=1)
        elif self.global_pool:
            x = x[:, 0]
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward_intermediates(  # type: ignore[override]
        self,
        x: torch.Tensor,
        indices: int | list[int] | tuple[int, ...] | None = None,
        *,
        return_prefix_tokens: bool = False,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> Any:
        """Block outputs at ``indices`` as patch tokens (``NCHW`` maps or ``NLC``); with
        ``return_prefix_tokens`` each is ``(patches, class token)`` once the class token joined
        (an empty ``(B, 0, C)`` before)."""
        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW' or 'NLC'")
        take, max_index = feature_take_indices(len(self.blocks), indices)
        height, width = x.shape[-2:]
        x = self._embed(x)
        blocks = self.blocks[: max_index + 1] if stop_early or intermediates_only else self.blocks
        found, prefix = [], []
        for i, blk in enumerate(blocks):
            if i == self.local_up_to_layer and self.cls_token is not None:
                x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
            x = checkpoint(blk, x, use_reentrant=False) if self._checkpointing() else blk(x)
            if i in take:
                y = self.norm(x) if norm else x
                joined = 1 if i >= self.local_up_to_layer and self.cls_token is not None else 0
                found.append(y[:, joined:])
                prefix.append(y[:, :joined])
        if output_fmt == "NCHW":
            h, w = self.patch_embed.dynamic_feat_size((height, width))
            found = [y.reshape(y.shape[0], h, w, -1).permute(0, 3, 1, 2).contiguous() for y in found]
        out: list[Any] = list(zip(found, prefix)) if return_prefix_tokens else found
        return out if intermediates_only else (self.norm(x), out)

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Keep the blocks up to the last of ``indices``; a cut before the class token joins
        drops it, and a token-pooled head with it (as timm)."""
        take, max_index = feature_take_indices(len(self.blocks), indices)
        self.blocks = self.blocks[: max_index + 1]
        if max_index < self.local_up_to_layer:
            self.cls_token = None
            self.num_prefix_tokens = 0
            prune_head = prune_head or self.global_pool == "token"
        if prune_norm:
            self.norm = nn.Identity()
        if prune_head:
            self.reset_classifier(0, "")
        return take


ConVitArgs = model_args_type(ConVit)
VARIANTS: dict[str, Any] = {
    f"convit_{size}": ConVitArgs(local_up_to_layer=10, locality_strength=1.0, embed_dim=48, num_heads=heads)
    for size, heads in (("tiny", 4), ("small", 9), ("base", 16))
}
WEIGHTS: dict[str, dict[str, Any]] = {
    "convit_tiny.fb_in1k": weight(),
    "convit_small.fb_in1k": weight(),
    "convit_base.fb_in1k": weight(),
}

default_cfgs = register_family(
    __name__,
    model_cls=ConVit,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 224, 224),
        pool_size=None,
        mean=IMAGENET_DEFAULT_MEAN,
        std=IMAGENET_DEFAULT_STD,
        fixed_input_size=True,
        first_conv="patch_embed.proj",
        classifier="head",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=3, feature_cls="getter"),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. convit_tiny
    return family_entrypoint(__name__, name)
