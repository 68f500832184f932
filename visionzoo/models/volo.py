"""VOLO: vision outlookers.

Paper: `VOLO: Vision Outlooker for Visual Recognition` - https://arxiv.org/abs/2106.13112

A conv stem, then a first stage of outlooker blocks (outlook attention: local windows whose mixing
weights each location predicts from itself) at 1/8 resolution, a patch merge to 1/16, stages of
plain self-attention blocks, and two class-attention blocks that build the class token. The head
adds half the best per-token score of an auxiliary classifier over the patch tokens (token
labelling). The blocks run channels-last ``(B, H, W, C)``.
Weights: Apache-2.0 (Sea AI Lab's VOLO release). Keys as timm's ``volo``.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..features import feature_take_indices
from ..layers import DropPath, Mlp, to_2tuple, to_ntuple, trunc_normal_
from ..layers.class_attn import ClassAttn
from ..layers.classifier import check_pool
from ..layers.outlook_attn import OutlookAttention
from ..model import TokenModel
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from .vision_transformer.model import Block

__all__ = [
    "VOLO",
    "ClassBlock",
    "Downsample",
    "Outlooker",
    "PatchEmbed",
    "Transformer",
    "default_cfgs",
]

LayerFn = Any  # a norm layer class (or partial) taking the width


class Outlooker(nn.Module):
    """``x + outlook_attn(norm1(x))``, then ``x + mlp(norm2(x))``, on ``(B, H, W, C)``."""

    def __init__(
        self,
        dim: int,
        kernel_size: int,
        padding: int,
        stride: int = 1,
        num_heads: int = 1,
        mlp_ratio: float = 3.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = nn.LayerNorm,
        qkv_bias: bool = False,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = OutlookAttention(
            dim,
            num_heads,
            kernel_size=kernel_size,
            padding=padding,
            stride=stride,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
        )
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=act_layer)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.attn(self.norm1(x)))
        return x + self.drop_path2(self.mlp(self.norm2(x)))


class Transformer(Block):
    """The ViT block (self-attention over all locations, no layer scale) on ``(B, H, W, C)``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = nn.LayerNorm,
    ) -> None:
        super().__init__(
            dim,
            num_heads,
            mlp_ratio=mlp_ratio,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            drop_path=drop_path,
            act_layer=act_layer,
            norm_layer=norm_layer,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        t = x.reshape(b, h * w, c)
        t = t + self.drop_path1(self.ls1(self.attn(self.norm1(t))))
        t = t + self.drop_path2(self.ls2(self.mlp(self.norm2(t))))
        return t.reshape(b, h, w, c)


class ClassBlock(nn.Module):
    """Updates the class token (token 0) by class attention over all tokens, then its MLP; the
    patch tokens pass through unchanged."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        head_dim: int | None = None,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = nn.LayerNorm,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = ClassAttn(
            dim,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=drop,
            fused_attn=False,
            head_dim=head_dim,
            fused_kv=True,
        )
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=act_layer, drop=drop)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cls = x[:, :1] + self.drop_path1(self.attn(self.norm1(x)))
        cls = cls + self.drop_path2(self.mlp(self.norm2(cls)))
        return torch.cat([cls, x[:, 1:]], dim=1)


class PatchEmbed(nn.Module):
    """Three conv-BN-ReLU layers (the first at ``stem_stride``), then a non-overlapping
    projection to ``patch_size`` patches: ``(B, C, H, W)`` -> ``(B, embed_dim, H / p, W / p)``."""

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        stem_conv: bool = False,
        stem_stride: int = 1,
        patch_size: int = 8,
        in_chans: int = 3,
        hidden_dim: int = 64,
        embed_dim: int = 384,
    ) -> None:
        super().__init__()
        if patch_size not in (4, 8, 16):
            raise ValueError(f"patch_size={patch_size}; VOLO's stem takes 4, 8 or 16")
        self.img_size = to_2tuple(img_size)
        self.patch_size = to_2tuple(patch_size)
        self.conv: nn.Module | None = None
        if stem_conv:
            layers: list[nn.Module] = []
            for i in range(3):
                layers += [
                    nn.Conv2d(
                        in_chans if i == 0 else hidden_dim,
                        hidden_dim,
                        kernel_size=7 if i == 0 else 3,
                        stride=stem_stride if i == 0 else 1,
                        padding=3 if i == 0 else 1,
                        bias=False,
                    ),
                    nn.BatchNorm2d(hidden_dim),
                    nn.ReLU(inplace=True),
                ]
            self.conv = nn.Sequential(*layers)
        step = patch_size // stem_stride
        self.proj = nn.Conv2d(hidden_dim, embed_dim, kernel_size=step, stride=step)
        self.num_patches = (self.img_size[0] // patch_size) * (self.img_size[1] // patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv is not None:
            x = self.conv(x)
        return self.proj(x)


class Downsample(nn.Module):
    """Merge ``patch_size`` x ``patch_size`` patches with a strided conv, channels-last in and out."""

    def __init__(self, in_embed_dim: int, out_embed_dim: int, patch_size: int = 2) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_embed_dim, out_embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class VOLO(TokenModel):
    """VOLO: ``layers[i]`` blocks per stage (outlookers where ``outlook_attention[i]``, else
    self-attention), a patch merge after each stage marked in ``downsamples``, the position
    embedding added after the first stage and its merge, then the class-attention ``post_layers``.

    ``forward_features`` gives the normed ``[class, patches]`` tokens; the intermediates are the
    stages' outputs as ``(B, C, H, W)`` maps. ``global_pool``: ``'token'``, ``'avg'`` (over all
    tokens, as the reference) or ``''``. With ``use_aux_head`` (and a classifier) the logits add
    half the per-class maximum of ``aux_head`` over the patch tokens.
    """

    def __init__(
        self,
        layers: tuple[int, ...] = (4, 4, 8, 2),
        img_size: int | tuple[int, int] = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "token",
        patch_size: int = 8,
        stem_hidden_dim: int = 64,
        embed_dims: tuple[int, ...] = (192, 384, 384, 384),
        num_heads: tuple[int, ...] = (6, 12, 12, 12),
        downsamples: tuple[bool, ...] = (True, False, False, False),
        outlook_attention: tuple[bool, ...] = (True, False, False, False),
        mlp_ratio: float | tuple[float, ...] = 3.0,
        qkv_bias: bool = False,
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: LayerFn = nn.LayerNorm,
        post_layers: tuple[str, ...] | None = ("ca", "ca"),
        use_aux_head: bool = True,
        pooling_scale: int = 2,
    ) -> None:
        super().__init__()
        check_pool(global_pool, ("", "avg", "token"), model="VOLO")
        if post_layers is not None and any(p != "ca" for p in post_layers):
            raise ValueError(f"post_layers={post_layers!r}: VOLO's post layers are class attention, 'ca'")
        n_stages = len(layers)
        ratios = to_ntuple(n_stages)(mlp_ratio)
        img_size = to_2tuple(img_size)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool
        self.pooling_scale = pooling_scale
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dims[-1]
        self.pool_include_prefix = True
        self.drop_rate = drop_rate

        self.patch_embed = cast(
            Any,
            PatchEmbed(
                img_size=img_size,
                stem_conv=True,
                stem_stride=2,
                patch_size=patch_size,
                in_chans=in_chans,
                hidden_dim=stem_hidden_dim,
                embed_dim=embed_dims[0],
            ),
        )
        # added after the first stage and its merge, so on a grid ``pooling_scale`` times coarser
        grid = (img_size[0] // patch_size // pooling_scale, img_size[1] // patch_size // pooling_scale)
        self.pos_embed: nn.Parameter | None = nn.Parameter(torch.zeros(1, grid[0], grid[1], embed_dims[-1]))
        self.pos_drop = nn.Dropout(p=pos_drop_rate)

        total = sum(layers)
        self.stage_ends: list[int] = []
        self.feature_info = []
        network: list[nn.Module] = []
        reduction, done = patch_size, 0
        for i, depth in enumerate(layers):
            blocks: list[nn.Module] = []
            for j in range(depth):
                if outlook_attention[i]:  # NOTE: no drop path in the outlookers, as the reference
                    blocks.append(
                        Outlooker(
                            embed_dims[i],
                            kernel_size=3,
                            padding=1,
                            stride=2,
                            num_heads=num_heads[i],
                            mlp_ratio=ratios[i],
                            qkv_bias=qkv_bias,
                            attn_drop=attn_drop_rate,
                            norm_layer=norm_layer,
                        )
                    )
                else:
                    blocks.append(
                        Transformer(
                            embed_dims[i],
                            num_heads[i],
                            mlp_ratio=ratios[i],
                            qkv_bias=qkv_bias,
                            attn_drop=attn_drop_rate,
                            drop_path=drop_path_rate * (done + j) / (total - 1) if total > 1 else 0.0,
                            norm_layer=norm_layer,
                        )
                    )
            done += depth
            network.append(nn.Sequential(*blocks))
            self.stage_ends.append(len(network) - 1)
            self.feature_info.append(
                dict(num_chs=embed_dims[i], reduction=reduction, module=f"network.{len(network) - 1}")
            )
            if downsamples[i]:
                network.append(Downsample(embed_dims[i], embed_dims[i + 1], 2))
                reduction *= 2
        self.network = nn.ModuleList(network)

        self.post_network: nn.ModuleList | None = None
        self.cls_token: nn.Parameter | None = None
        if post_layers is not None:
            self.post_network = nn.ModuleList(
                [
                    ClassBlock(
                        dim=embed_dims[-1],
                        num_heads=num_heads[-1],
                        mlp_ratio=ratios[-1],
                        qkv_bias=qkv_bias,
                        attn_drop=attn_drop_rate,
                        norm_layer=norm_layer,
                    )
                    for _ in post_layers
                ]
            )
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims[-1]))
        self.num_prefix_tokens = 1 if self.cls_token is not None else 0

        # NOTE: the norm is registered before the heads so that the classifiers end the parameters
        self.norm = norm_layer(self.num_features)
        self.use_aux_head = use_aux_head
        self.aux_head: nn.Module | None = (
            nn.Linear(self.num_features, num_classes) if use_aux_head and num_classes > 0 else None
        )
        self.attn_pool = None
        self.fc_norm = nn.Identity()
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal (0.02) position embedding, class token and linears, zero biases;
        torch's defaults elsewhere (as the reference)."""
        if self.pos_embed is not None:
            trunc_normal_(self.pos_embed, std=0.02)
        if self.cls_token is not None:
            trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        return {"pos_embed", "cls_token"}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """The stem and embeddings, each stage's blocks (a merge joins the first group), then the
        class token and class-attention blocks, the final norm last (timm's grouping)."""
        return dict(
            stem=r"^cls_token|pos_embed|patch_embed",
            blocks=[(r"^network\.(\d+)\.(\d+)", None), (r"^network\.(\d+)", (0,))],
            blocks2=[(r"^cls_token", (0,)), (r"^post_network\.(\d+)", None), (r"^norm", (99999,))],
        )

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool is not None:
            check_pool(global_pool, ("", "avg", "token"), model="VOLO")
            if global_pool == "token" and self.cls_token is None:
                raise ValueError("global_pool='token' needs the class token, which was pruned")
        super().reset_classifier(num_classes, None)
        if global_pool is not None:
            self.global_pool = global_pool
        ref = self.head.weight if isinstance(self.head, nn.Linear) else None
        self.aux_head = (
            nn.Linear(self.num_features, num_classes, device=ref.device, dtype=ref.dtype)
            if self.use_aux_head and ref is not None
            else None
        )
        if self.aux_head is not None:
            self.aux_head.train(self.training)

    # --- forward -------------------------------------------------------------------------------
    def forward_cls(self, x: torch.Tensor) -> torch.Tensor:
        """Prepend the class token to ``(B, N, C)`` patch tokens and run the class attention."""
        if self.cls_token is None or self.post_network is None:
            return x
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        for block in self.post_network:
            if not torch.jit.is_scripting() and self._checkpointing():
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> normed ``[class, patches]`` tokens ``(B, 1 + N, num_features)``."""
        x = self.patch_embed(x).permute(0, 2, 3, 1)
        for idx, block in enumerate(self.network):
            if idx == 2 and self.pos_embed is not None:  # after the first stage and its merge
                x = self.pos_drop(x + self.pos_embed)
            if not torch.jit.is_scripting() and self._checkpointing():
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        x = self.forward_cls(x.flatten(1, 2))
        return self.norm(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == "avg":
            out = x.mean(dim=1)
        elif self.global_pool == "token":
            out = x[:, 0]
        else:
            out = x
        out = self.head_drop(out)
        if pre_logits:
            return out
        out = self.head(out)
        if self.aux_head is not None and self.global_pool:
            # token labelling: half the best patch score per class joins the pooled logits
            out = out + 0.5 * self.aux_head(self.head_drop(x)[:, 1:]).max(1)[0]
        return out

    def forward_intermediates(  # type: ignore[override]
        self,
        x: torch.Tensor,
        indices: int | list[int] | tuple[int, ...] | None = None,
        *,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> Any:
        """The stages' outputs as ``(B, C, H, W)`` maps at ``indices`` (``norm``: the final norm
        on those after the first stage, which share its width). The final output, once every
        block ran, is ``forward_features``' tokens."""
        if output_fmt != "NCHW":
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW'")
        take, max_index = feature_take_indices(len(self.stage_ends), indices)
        take = [self.stage_ends[i] for i in take]
        last = self.stage_ends[max_index]
        network = list(self.network)
        if stop_early or intermediates_only:
            network = network[: last + 1]
        x = self.patch_embed(x).permute(0, 2, 3, 1)
        found = []
        for idx, block in enumerate(network):
            if idx == 2 and self.pos_embed is not None:
                x = self.pos_drop(x + self.pos_embed)
            x = checkpoint(block, x, use_reentrant=False) if self._checkpointing() else block(x)
            if idx in take:
                found.append((self.norm(x) if norm and idx >= 2 else x).permute(0, 3, 1, 2))
        if intermediates_only:
            return found
        if len(network) == len(self.network):
            x = self.norm(self.forward_cls(x.flatten(1, 2)))
        return x, found

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Keep the stages up to the last of ``indices``. Before the position embedding is
        added (the first stage alone) it and the final norm go too; the head takes the class
        token, the class-attention blocks and the auxiliary head with it, as does a cut."""
        take, max_index = feature_take_indices(len(self.stage_ends), indices)
        num_chs = self.feature_info[max_index]["num_chs"]
        last = self.stage_ends[max_index]
        cut = last < len(self.network) - 1
        self.network = self.network[: last + 1]
        if last < 2:
            self.pos_embed = None
            prune_norm = True
        if prune_norm:
            self.norm = nn.Identity()
        if cut:
            self.num_features = self.head_hidden_size = self.embed_dim = num_chs
        if prune_head or cut:
            self.post_network = None
            self.cls_token = None
            self.num_prefix_tokens = 0
            self.use_aux_head = False
            self.reset_classifier(0, "")
        return take


VoloArgs = model_args_type(VOLO)

_D1 = dict(layers=(4, 4, 8, 2), embed_dims=(192, 384, 384, 384), num_heads=(6, 12, 12, 12))
_D2 = dict(layers=(6, 4, 10, 4), embed_dims=(256, 512, 512, 512), num_heads=(8, 16, 16, 16))
_D3 = dict(layers=(8, 8, 16, 4), embed_dims=(256, 512, 512, 512), num_heads=(8, 16, 16, 16))
_D4 = dict(layers=(8, 8, 16, 4), embed_dims=(384, 768, 768, 768), num_heads=(12, 16, 16, 16))
_D5 = dict(
    layers=(12, 12, 20, 4),
    embed_dims=(384, 768, 768, 768),
    num_heads=(12, 16, 16, 16),
    mlp_ratio=4.0,
    stem_hidden_dim=128,
)
VARIANTS: dict[str, Any] = {
    "volo_d1_224": VoloArgs(**_D1),
    "volo_d1_384": VoloArgs(**_D1),
    "volo_d2_224": VoloArgs(**_D2),
    "volo_d2_384": VoloArgs(**_D2),
    "volo_d3_224": VoloArgs(**_D3),
    "volo_d3_448": VoloArgs(**_D3),
    "volo_d4_224": VoloArgs(**_D4),
    "volo_d4_448": VoloArgs(**_D4),
    "volo_d5_224": VoloArgs(**_D5),
    "volo_d5_448": VoloArgs(**_D5),
    "volo_d5_512": VoloArgs(**_D5),
}

_SAIL = "https://github.com/sail-sg/volo/releases/download/volo_1/"
_HI = dict(crop_pct=1.15)
WEIGHTS: dict[str, dict[str, Any]] = {
    "volo_d1_224.sail_in1k": weight(url=_SAIL + "d1_224_84.2.pth.tar"),
    "volo_d1_384.sail_in1k": weight(url=_SAIL + "d1_384_85.2.pth.tar", crop=1.0, size=384),
    "volo_d2_224.sail_in1k": weight(url=_SAIL + "d2_224_85.2.pth.tar"),
    "volo_d2_384.sail_in1k": weight(url=_SAIL + "d2_384_86.0.pth.tar", crop=1.0, size=384),
    "volo_d3_224.sail_in1k": weight(url=_SAIL + "d3_224_85.4.pth.tar"),
    "volo_d3_448.sail_in1k": weight(url=_SAIL + "d3_448_86.3.pth.tar", crop=1.0, size=448),
    "volo_d4_224.sail_in1k": weight(url=_SAIL + "d4_224_85.7.pth.tar"),
    "volo_d4_448.sail_in1k": weight(_HI, url=_SAIL + "d4_448_86.79.pth.tar", size=448),
    "volo_d5_224.sail_in1k": weight(url=_SAIL + "d5_224_86.10.pth.tar"),
    "volo_d5_448.sail_in1k": weight(_HI, url=_SAIL + "d5_448_87.0.pth.tar", size=448),
    "volo_d5_512.sail_in1k": weight(_HI, url=_SAIL + "d5_512_87.07.pth.tar", size=512),
}

default_cfgs = register_family(
    __name__,
    model_cls=VOLO,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 224, 224),
        pool_size=None,
        crop_pct=0.96,
        interpolation="bicubic",
        fixed_input_size=True,
        mean=IMAGENET_DEFAULT_MEAN,
        std=IMAGENET_DEFAULT_STD,
        first_conv="patch_embed.conv.0",
        classifier=("head", "aux_head"),
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=3, feature_cls="getter"),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. volo_d1_224
    return family_entrypoint(__name__, name)
