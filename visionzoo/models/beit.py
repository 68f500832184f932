"""BEiT and BEiT v2: ViTs with a learned relative position bias in every attention layer.

Papers:
* `BEiT: BERT Pre-Training of Image Transformers` - https://arxiv.org/abs/2106.08254
* `BEiT v2: Masked Image Modeling with Vector-Quantized Visual Tokenizers` - https://arxiv.org/abs/2208.06366

Weights: Microsoft's fine-tuned classifiers (unilm), apache-2.0 as timm lists them. Module names
follow timm's ``beit``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import (
    DropPath,
    LayerNorm,
    Mlp,
    PatchEmbed,
    SwiGLU,
    calculate_drop_path_rates,
    resample_abs_pos_embed,
    resample_patch_embed,
    to_2tuple,
    trunc_normal_,
)
from ..layers.pos_embed_rel import gen_relative_position_index, resize_rel_pos_bias_table
from ..model import TokenModel
from ..model_input import update_model_input_size
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["VARIANTS", "WEIGHTS", "Attention", "Beit", "Block", "checkpoint_filter_fn", "default_cfgs"]

LayerFn = Callable[..., nn.Module]


class Attention(nn.Module):
    """Self-attention with separate q / v biases (k has none) and, given a ``window_size``, a
    learned bias per head for each pair of tokens (class token included), added to the logits."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        k_bias: torch.Tensor | None  # non-persistent buffers
        relative_position_index: torch.Tensor | None

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = False,
        qkv_bias_separate: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        window_size: tuple[int, int] | None = None,
        attn_head_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        head_dim = attn_head_dim or dim // num_heads
        all_head_dim = head_dim * num_heads
        self.scale = head_dim**-0.5
        self.fused_attn = True
        self.qkv_bias_separate = qkv_bias_separate
        self.qkv = nn.Linear(dim, all_head_dim * 3, bias=False)
        self.q_bias: nn.Parameter | None = nn.Parameter(torch.zeros(all_head_dim)) if qkv_bias else None
        self.v_bias: nn.Parameter | None = nn.Parameter(torch.zeros(all_head_dim)) if qkv_bias else None
        self.register_buffer("k_bias", torch.zeros(all_head_dim) if qkv_bias else None, persistent=False)
        self.window_size: tuple[int, int] | None = tuple(window_size) if window_size else None  # type: ignore[assignment]
        if self.window_size is not None:
            wh, ww = self.window_size
            self.relative_position_bias_table: nn.Parameter | None = nn.Parameter(
                torch.zeros((2 * wh - 1) * (2 * ww - 1) + 3, num_heads)
            )
            index = gen_relative_position_index(self.window_size, class_token=True)
        else:
            self.relative_position_bias_table = None
            index = None
        self.register_buffer("relative_position_index", index, persistent=False)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(all_head_dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def init_non_persistent_buffers(self) -> None:
        if self.k_bias is not None:
            self.k_bias.zero_()
        if self.window_size is not None and self.relative_position_index is not None:
            self.relative_position_index.copy_(
                gen_relative_position_index(
                    self.window_size, class_token=True, device=self.relative_position_index.device
                )
            )

    def _rel_pos_bias(self) -> torch.Tensor:
        table, index = self.relative_position_bias_table, self.relative_position_index
        assert table is not None and index is not None
        n = index.shape[0]
        return table[index.view(-1)].view(n, n, -1).permute(2, 0, 1).unsqueeze(0)

    def set_window_size(self, window_size: int | tuple[int, int]) -> None:
        """Resample the bias table for a new token grid (and rebuild its index)."""
        if self.window_size is None or self.relative_position_bias_table is None:
            return
        new = to_2tuple(window_size)
        if new == tuple(self.window_size):
            return
        table = self.relative_position_bias_table
        with torch.no_grad():
            resized = resize_rel_pos_bias_table(
                table,
                new_window_size=new,
                new_bias_shape=((2 * new[0] - 1) * (2 * new[1] - 1) + 3, self.num_heads),
                old_window_size=self.window_size,
            )
        self.relative_position_bias_table = nn.Parameter(resized, requires_grad=table.requires_grad)
        self.window_size = new
        self.relative_position_index = gen_relative_position_index(new, class_token=True, device=table.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        if self.q_bias is None or self.v_bias is None or self.k_bias is None:
            qkv = self.qkv(x)
        else:
            bias = torch.cat((self.q_bias, self.k_bias, self.v_bias))
            qkv = self.qkv(x) + bias if self.qkv_bias_separate else F.linear(x, self.qkv.weight, bias)
        q, k, v = qkv.reshape(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        mask = self._rel_pos_bias() if self.relative_position_bias_table is not None else None
        if self.fused_attn:
            x = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=self.attn_drop.p if self.training else 0.0
            )
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)
            if mask is not None:
                attn = attn + mask
            x = self.attn_drop(attn.softmax(dim=-1)) @ v
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(b, n, -1)))


class Block(nn.Module):
    """Pre-norm block; layer scale as the bare ``gamma_1`` / ``gamma_2`` vectors of BEiT's
    checkpoints."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool = False,
        mlp_ratio: float = 4.0,
        scale_mlp: bool = False,
        swiglu_mlp: bool = False,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        init_values: float | None = None,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm,
        window_size: tuple[int, int] | None = None,
        attn_head_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(
            dim,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=proj_drop,
            window_size=window_size,
            attn_head_dim=attn_head_dim,
        )
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        hidden = int(dim * mlp_ratio)
        mlp_norm = norm_layer if scale_mlp else None
        self.mlp: nn.Module = (
            SwiGLU(in_features=dim, hidden_features=hidden, norm_layer=mlp_norm, drop=proj_drop)
            if swiglu_mlp
            else Mlp(
                in_features=dim,
                hidden_features=hidden,
                act_layer=act_layer,
                norm_layer=mlp_norm,
                drop=proj_drop,
            )
        )
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.init_values = init_values
        self.gamma_1: nn.Parameter | None = (
            nn.Parameter(torch.full((dim,), init_values)) if init_values else None
        )
        self.gamma_2: nn.Parameter | None = (
            nn.Parameter(torch.full((dim,), init_values)) if init_values else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gamma_1 is None or self.gamma_2 is None:
            x = x + self.drop_path1(self.attn(self.norm1(x)))
            return x + self.drop_path2(self.mlp(self.norm2(x)))
        x = x + self.drop_path1(self.gamma_1 * self.attn(self.norm1(x)))
        return x + self.drop_path2(self.gamma_2 * self.mlp(self.norm2(x)))


class Beit(TokenModel):
    """BEiT: a class token, an optional absolute position embedding, blocks whose attention adds a
    relative position bias over the token grid (``use_rel_pos_bias``), average pooling with the
    norm after the pool (``use_fc_norm``, default for ``global_pool='avg'``).

    ``set_input_size`` resamples the position embedding and every bias table to the new grid.
    A bias shared by all blocks (BEiT pre-training's ``use_shared_rel_pos_bias``) is not built:
    no published classifier uses it.
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int | tuple[int, int] = 16,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        qkv_bias: bool = True,
        mlp_ratio: float = 4.0,
        swiglu_mlp: bool = False,
        scale_mlp: bool = False,
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: LayerFn = LayerNorm,
        init_values: float | None = None,
        use_abs_pos_emb: bool = True,
        use_rel_pos_bias: bool = False,
        head_init_scale: float = 0.001,
        use_fc_norm: bool | None = None,
    ) -> None:
        super().__init__()
        if global_pool not in ("", "avg", "token"):
            raise ValueError(f"global_pool={global_pool!r}; valid: '', 'avg', 'token'")
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.num_prefix_tokens = 1
        self.has_class_token = True
        self.pool_include_prefix = False
        self.drop_rate = drop_rate
        self.head_init_scale = head_init_scale

        self.patch_embed = PatchEmbed(
            img_size=img_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim
        )
        grid = self.patch_embed.grid_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed: nn.Parameter | None = (
            nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, embed_dim))
            if use_abs_pos_emb
            else None
        )
        self.pos_drop = nn.Dropout(p=pos_drop_rate)
        dpr = cast(list[float], calculate_drop_path_rates(drop_path_rate, depth))
        self.blocks = nn.Sequential(
            *[
                Block(
                    dim=embed_dim,
                    num_heads=num_heads,
                    qkv_bias=qkv_bias,
                    mlp_ratio=mlp_ratio,
                    scale_mlp=scale_mlp,
                    swiglu_mlp=swiglu_mlp,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=dpr[i],
                    norm_layer=norm_layer,
                    init_values=init_values,
                    window_size=grid if use_rel_pos_bias else None,
                )
                for i in range(depth)
            ]
        )
        reduction = self.patch_embed.feat_ratio()
        self.feature_info = [
            dict(module=f"blocks.{i}", num_chs=embed_dim, reduction=reduction) for i in range(depth)
        ]
        fc_norm = global_pool == "avg" if use_fc_norm is None else use_fc_norm
        self.norm: nn.Module = nn.Identity() if fc_norm else norm_layer(embed_dim)
        self.attn_pool = None
        self.fc_norm: nn.Module = norm_layer(embed_dim) if fc_norm else nn.Identity()
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal linears and embeddings, block output projections scaled down by depth,
        a head scaled by ``head_init_scale`` (BEiT's recipe)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if self.pos_embed is not None:
            trunc_normal_(self.pos_embed, std=0.02)
        trunc_normal_(self.cls_token, std=0.02)
        block: Any
        with torch.no_grad():
            for i, block in enumerate(self.blocks):
                block.attn.proj.weight.div_(math.sqrt(2.0 * (i + 1)))
                block.mlp.fc2.weight.div_(math.sqrt(2.0 * (i + 1)))
            if self.head_init_scale and isinstance(self.head, nn.Linear):
                self.head.weight.mul_(self.head_init_scale)
                self.head.bias.mul_(self.head_init_scale)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^cls_token|pos_embed|patch_embed|rel_pos_bias",
            blocks=[(r"^blocks\.(\d+)", None), (r"^norm", (99999,))],
        )

    def no_weight_decay(self) -> set[str]:
        """Embeddings, the class token and every bias table."""
        return {"pos_embed", "cls_token"} | {
            n for n, _ in self.named_parameters() if "relative_position_bias_table" in n
        }

    def set_input_size(
        self,
        img_size: int | tuple[int, int] | None = None,
        patch_size: int | tuple[int, int] | None = None,
    ) -> None:
        """Rebuild for another input / patch size: position embedding and bias tables resampled."""
        prev = self.patch_embed.grid_size
        self.patch_embed.set_input_size(img_size=img_size, patch_size=patch_size)
        grid = self.patch_embed.grid_size
        if self.pos_embed is not None and grid != prev:
            with torch.no_grad():
                resampled = resample_abs_pos_embed(
                    self.pos_embed, list(grid), list(prev), num_prefix_tokens=1
                )
            self.pos_embed = nn.Parameter(resampled, requires_grad=self.pos_embed.requires_grad)
        block: Any
        for block in self.blocks:
            block.attn.set_window_size(grid)
        self.feature_info = [dict(fi, reduction=self.patch_embed.feat_ratio()) for fi in self.feature_info]
        update_model_input_size(self, self.patch_embed.img_size, patch_size=patch_size)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        if self.pos_embed is not None:
            x = x + self.pos_embed
        return self.pos_drop(x)


def checkpoint_filter_fn(
    state_dict: dict[str, Any], model: nn.Module, interpolation: str = "bicubic", antialias: bool = True
) -> dict[str, torch.Tensor]:
    """Microsoft's checkpoints (under ``model`` / ``module``) to this model: index buffers dropped,
    the patch kernel, position embedding and bias tables resampled to the model's sizes."""
    state_dict = state_dict.get("model", state_dict)
    state_dict = state_dict.get("module", state_dict)
    m: Any = model
    out: dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        if "relative_position_index" in k:
            continue
        if "patch_embed.proj.weight" in k:
            h, w = m.patch_embed.proj.weight.shape[-2:]
            if v.shape[-2:] != (h, w):
                v = resample_patch_embed(v, [h, w], interpolation=interpolation, antialias=antialias)
        elif k == "pos_embed" and v.shape[1] != m.pos_embed.shape[1]:
            v = resample_abs_pos_embed(
                v,
                list(m.patch_embed.grid_size),
                num_prefix_tokens=1,
                interpolation=interpolation,
                antialias=antialias,
            )
        elif k.endswith("relative_position_bias_table"):
            attn = m.get_submodule(k[: -len(".relative_position_bias_table")])
            target = attn.relative_position_bias_table.shape
            if v.shape != target or attn.window_size[0] != attn.window_size[1]:
                v = resize_rel_pos_bias_table(v, new_window_size=attn.window_size, new_bias_shape=target)
        out[k] = v
    return out


BeitArgs = model_args_type(Beit)

_B = dict(embed_dim=768, depth=12, num_heads=12)
_L = dict(embed_dim=1024, depth=24, num_heads=16)
_REL = dict(patch_size=16, use_abs_pos_emb=False, use_rel_pos_bias=True)
VARIANTS: dict[str, Any] = {
    "beit_base_patch16_224": BeitArgs(**_B, **_REL, init_values=0.1),
    "beit_base_patch16_384": BeitArgs(img_size=384, **_B, **_REL, init_values=0.1),
    "beit_large_patch16_224": BeitArgs(**_L, **_REL, init_values=1e-5),
    "beit_large_patch16_384": BeitArgs(img_size=384, **_L, **_REL, init_values=1e-5),
    "beit_large_patch16_512": BeitArgs(img_size=512, **_L, **_REL, init_values=1e-5),
    "beitv2_base_patch16_224": BeitArgs(**_B, **_REL, init_values=1e-5),
    "beitv2_large_patch16_224": BeitArgs(**_L, **_REL, init_values=1e-5),
}

_IN22K = dict(num_classes=21841)
_V2 = dict(mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD)
WEIGHTS: dict[str, dict[str, Any]] = {
    "beit_base_patch16_224.in22k_ft_in22k_in1k": weight(default=True),
    "beit_base_patch16_384.in22k_ft_in22k_in1k": weight(default=True, size=384, crop=1.0),
    "beit_base_patch16_224.in22k_ft_in22k": weight(_IN22K),
    "beit_large_patch16_224.in22k_ft_in22k_in1k": weight(default=True),
    "beit_large_patch16_384.in22k_ft_in22k_in1k": weight(default=True, size=384, crop=1.0),
    "beit_large_patch16_512.in22k_ft_in22k_in1k": weight(default=True, size=512, crop=1.0),
    "beit_large_patch16_224.in22k_ft_in22k": weight(_IN22K),
    "beitv2_base_patch16_224.in1k_ft_in22k_in1k": weight(_V2, default=True),
    "beitv2_base_patch16_224.in1k_ft_in1k": weight(_V2),
    "beitv2_base_patch16_224.in1k_ft_in22k": weight(_V2, _IN22K),
    "beitv2_large_patch16_224.in1k_ft_in22k_in1k": weight(_V2, default=True, crop=0.95),
    "beitv2_large_patch16_224.in1k_ft_in1k": weight(_V2, crop=0.95),
    "beitv2_large_patch16_224.in1k_ft_in22k": weight(_V2, _IN22K),  # timm: 0.9 here, 0.95 beside
}

default_cfgs = register_family(
    __name__,
    model_cls=Beit,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 224, 224),
        pool_size=None,
        crop_pct=0.9,
        interpolation="bicubic",
        fixed_input_size=True,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        first_conv="patch_embed.proj",
        classifier="head",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=3, feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
