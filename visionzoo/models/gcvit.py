"""GC ViT: window attention whose every other block takes its queries from a global context
map (the stage's features pooled down to one window by fused-MBConv blocks), so local windows
attend with image-wide queries; fixed input size (the context map must match the windows).

Paper: `Global Context Vision Transformers` - https://arxiv.org/abs/2206.09959

Weights: timm's ports of NVIDIA's GCViT weights (NVlabs/GCVit, whose weights are CC-BY-NC-SA-4.0;
the ``license`` field is timm's). Module names follow timm's GlobalContextVit, so its
checkpoints load unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import (
    ClassifierHead,
    DropPath,
    LayerScale,
    Mlp,
    SEModule,
    calculate_drop_path_rates,
    get_act_layer,
    get_norm_layer,
    to_2tuple,
    window_partition,
    window_unpartition,
)
from ..layers.classifier import check_num_classes
from ..layers.pos_embed_rel import RelPosBias
from ..model import Trunk, VisionModel
from ..pretrained import RWIGHTMAN_RELEASES, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["GlobalContextVit", "GlobalContextVitBlock", "GlobalContextVitStage", "WindowAttentionGlobal"]

NormFactory = Callable[[int], nn.Module]


class MbConvBlock(nn.Module):
    """Residual depthwise 3x3 conv -> act -> squeeze-excite -> 1x1 conv, no norm, no biases."""

    def __init__(self, dim: int, act_layer: Callable[..., nn.Module]) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, 3, padding=1, groups=dim, bias=False)
        self.act = act_layer()
        self.se = SEModule(dim, rd_ratio=0.25, bias=False, act_layer=act_layer)
        self.conv_pw = nn.Conv2d(dim, dim, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_pw(self.se(self.act(self.conv_dw(x))))


class Downsample2d(nn.Module):
    """Norm -> MBConv -> 3x3 stride-2 conv (to ``dim_out``) -> norm, on NCHW maps."""

    def __init__(
        self, dim: int, dim_out: int, *, act_layer: Callable[..., nn.Module], norm_layer: NormFactory
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.conv_block = MbConvBlock(dim, act_layer)
        self.reduction = nn.Conv2d(dim, dim_out, 3, stride=2, padding=1, bias=False)
        self.norm2 = norm_layer(dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm2(self.reduction(self.conv_block(self.norm1(x))))


class FeatureBlock(nn.Module):
    """The global-context generator: ``levels`` MBConv blocks (at least one), each followed by a
    3x3 stride-2 max pool while ``levels`` halvings remain, pooling the map to the window size."""

    def __init__(self, dim: int, levels: int, act_layer: Callable[..., nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.Sequential()
        for i in range(max(1, levels)):
            self.blocks.add_module(f"conv{i + 1}", MbConvBlock(dim, act_layer))
            if i < levels:
                self.blocks.add_module(f"pool{i + 1}", nn.MaxPool2d(3, stride=2, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class Stem(nn.Module):
    """3x3 stride-2 conv, then a stride-2 :class:`Downsample2d` of the same width: stride 4."""

    def __init__(
        self, in_chs: int, out_chs: int, *, act_layer: Callable[..., nn.Module], norm_layer: NormFactory
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chs, out_chs, 3, stride=2, padding=1)
        self.down = Downsample2d(out_chs, out_chs, act_layer=act_layer, norm_layer=norm_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(self.conv1(x))


class WindowAttentionGlobal(nn.Module):
    """Window self-attention with a relative position bias; with ``use_global`` the queries are
    the global context's tokens (one window's worth per image, shared by all its windows) and
    ``qkv`` projects only keys and values (``2 * dim``)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: tuple[int, int],
        *,
        use_global: bool = True,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        self.window_size = window_size
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.use_global = use_global
        self.fused_attn = fused_attn
        self.rel_pos = RelPosBias(window_size, num_heads)
        self.qkv = nn.Linear(dim, dim * (2 if use_global else 3), bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, q_global: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``(B * windows, N, C)``; ``q_global`` ``(B, wh, ww, C)``."""
        b, n, c = x.shape
        if self.use_global and q_global is not None:
            k, v = (
                self.qkv(x).reshape(b, n, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
            )
            # windows are image-major: each image's global query serves all of its windows
            q = q_global.repeat_interleave(b // q_global.shape[0], dim=0)
            q = q.reshape(b, n, self.num_heads, self.head_dim).permute(0, 2, 1, 3)
        else:
            q, k, v = (
                self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
            )
        if self.fused_attn:
            x = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=self.rel_pos.get_bias().to(q.dtype),
                dropout_p=self.attn_drop.p if self.training else 0.0,
            )
        else:
            attn = self.rel_pos((q * self.scale) @ k.transpose(-2, -1))
            x = self.attn_drop(attn.softmax(dim=-1)) @ v
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(b, n, c)))


class GlobalContextVitBlock(nn.Module):
    """Channels-last block: norm -> window attention (global queries or not) -> layer scale ->
    residual, norm -> MLP -> layer scale -> residual."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        window_size: tuple[int, int],
        mlp_ratio: float,
        use_global: bool,
        qkv_bias: bool,
        layer_scale: float | None,
        proj_drop: float,
        attn_drop: float,
        drop_path: float,
        act_layer: Callable[..., nn.Module],
        norm_layer: NormFactory,
    ) -> None:
        super().__init__()
        self.window_size = window_size
        self.norm1 = norm_layer(dim)
        self.attn = WindowAttentionGlobal(
            dim,
            num_heads,
            window_size,
            use_global=use_global,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=proj_drop,
        )
        self.ls1: nn.Module = LayerScale(dim, layer_scale) if layer_scale is not None else nn.Identity()
        self.drop_path1: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop)
        self.ls2: nn.Module = LayerScale(dim, layer_scale) if layer_scale is not None else nn.Identity()
        self.drop_path2: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def _window_attn(self, x: torch.Tensor, q_global: torch.Tensor | None) -> torch.Tensor:
        _, h, w, c = x.shape
        wh, ww = self.window_size
        windows = self.attn(window_partition(x, self.window_size).reshape(-1, wh * ww, c), q_global)
        return window_unpartition(windows.reshape(-1, wh, ww, c), self.window_size, (h, w))

    def forward(self, x: torch.Tensor, q_global: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``(B, H, W, C)``, ``H`` and ``W`` multiples of the window."""
        x = x + self.drop_path1(self.ls1(self._window_attn(self.norm1(x), q_global)))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class GlobalContextVitStage(nn.Module):
    """Downsample (not in the first stage), the global-context map, then the blocks (every
    second one with global queries) channels-last; NCHW in and out."""

    def __init__(
        self,
        dim: int,
        *,
        depth: int,
        num_heads: int,
        feat_size: tuple[int, int],
        window_size: tuple[int, int],
        downsample: bool,
        global_norm: bool,
        stage_norm: bool,
        drop_path_rates: Sequence[float],
        act_layer: Callable[..., nn.Module],
        norm_layer: NormFactory,
        norm_layer_cl: NormFactory,
        **block_kwargs: Any,
    ) -> None:
        super().__init__()
        self.downsample: nn.Module = nn.Identity()
        if downsample:
            self.downsample = Downsample2d(dim, dim * 2, act_layer=act_layer, norm_layer=norm_layer)
            dim *= 2
            feat_size = (feat_size[0] // 2, feat_size[1] // 2)
        self.dim = dim
        self.feat_size = feat_size
        # halvings from the stage's map down to the window
        levels = int(math.log2(min(feat_size) / min(window_size)))
        self.global_block = FeatureBlock(dim, levels, act_layer)
        self.global_norm: nn.Module = norm_layer_cl(dim) if global_norm else nn.Identity()
        self.blocks = nn.ModuleList(
            GlobalContextVitBlock(
                dim,
                num_heads,
                window_size=window_size,
                use_global=i % 2 != 0,
                drop_path=drop_path_rates[i],
                act_layer=act_layer,
                norm_layer=norm_layer_cl,
                **block_kwargs,
            )
            for i in range(depth)
        )
        self.norm: nn.Module = norm_layer_cl(dim) if stage_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        q_global = self.global_norm(self.global_block(x).permute(0, 2, 3, 1))
        x = x.permute(0, 2, 3, 1)
        for block in self.blocks:
            x = block(x, q_global)
        return self.norm(x).permute(0, 3, 1, 2).contiguous()


class GlobalContextVit(VisionModel):
    """GC ViT: a stride-4 conv stem, then four stages of (global-context) window attention.

    Args:
        depths: blocks per stage.
        num_heads: attention heads per stage.
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        global_pool: pooling in the head.
        img_size: the (fixed) input size.
        window_ratio: per stage, the input side over the window side (when ``window_size`` is
            not given).
        window_size: window side(s), one or one per stage.
        embed_dim: first stage's width (doubled per stage after the second).
        mlp_ratio: MLP hidden width over the block width.
        qkv_bias: bias on the attention projections.
        layer_scale: layer-scale init (None: no layer scale).
        drop_rate: dropout before the classifier.
        proj_drop_rate, attn_drop_rate: dropout after projections / on attention weights.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
        weight_init: ``''`` (PyTorch's defaults, as timm), ``'vit'`` (Xavier-uniform linears)
            or any other value (normal std 0.02 linears).
        act_layer, norm_layer, norm_layer_cl, norm_eps: activation, channels-first norm (stem,
            downsamples), channels-last norm (blocks), their epsilon.
    """

    trunk = Trunk(stem=("stem",), stages=("stages.*",))
    classifier_name = "head.fc"

    def __init__(
        self,
        depths: Sequence[int] = (3, 4, 19, 5),
        num_heads: Sequence[int] = (2, 4, 8, 16),
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        img_size: int | tuple[int, int] = 224,
        window_ratio: Sequence[int] = (32, 32, 16, 32),
        window_size: int | Sequence[int] | None = None,
        embed_dim: int = 64,
        mlp_ratio: float = 3.0,
        qkv_bias: bool = True,
        layer_scale: float | None = None,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        weight_init: str = "",
        act_layer: str = "gelu",
        norm_layer: str = "layernorm2d",
        norm_layer_cl: str = "layernorm",
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        n = len(depths)
        if len(num_heads) != n:
            raise ValueError(f"depths and num_heads need one entry per stage, got {depths!r}, {num_heads!r}")
        check_num_classes(num_classes)
        act = get_act_layer(act_layer)
        norm_cls, norm_cl_cls = get_norm_layer(norm_layer), get_norm_layer(norm_layer_cl)
        if act is None or norm_cls is None or norm_cl_cls is None:
            raise ValueError(
                f"GlobalContextVit needs an activation and norms, got {act_layer!r}, {norm_layer!r}"
            )
        norm: NormFactory = partial(norm_cls, eps=norm_eps)
        norm_cl: NormFactory = partial(norm_cl_cls, eps=norm_eps)
        img = to_2tuple(img_size)
        self.img_size = img
        self.weight_init = weight_init
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        if window_size is not None:
            sides = [window_size] * n if isinstance(window_size, int) else list(window_size)
            windows = [to_2tuple(s) for s in sides]
        else:
            ratios = [window_ratio] * n if isinstance(window_ratio, int) else list(window_ratio)
            windows = [(img[0] // r, img[1] // r) for r in ratios]
        if len(windows) != n:
            raise ValueError(f"one window per stage ({n}) needed, got {windows!r}")
        feat_size = (img[0] // 4, img[1] // 4)  # after the stride-4 stem

        self.stem = Stem(in_chans, embed_dim, act_layer=act, norm_layer=norm)
        rates = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        stages = []
        self.feature_info = []
        for i in range(n):
            scale = 2 ** max(i - 1, 0)  # the stage's input width / embed_dim
            stage = GlobalContextVitStage(
                embed_dim * scale,
                depth=depths[i],
                num_heads=num_heads[i],
                feat_size=(feat_size[0] // scale, feat_size[1] // scale),
                window_size=windows[i],
                downsample=i != 0,
                global_norm=False,
                stage_norm=i == n - 1,
                drop_path_rates=rates[i],  # type: ignore[arg-type]
                act_layer=act,
                norm_layer=norm,
                norm_layer_cl=norm_cl,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                layer_scale=layer_scale,
                proj_drop=proj_drop_rate,
                attn_drop=attn_drop_rate,
            )
            stages.append(stage)
            self.feature_info.append(dict(num_chs=stage.dim, reduction=2 ** (i + 2), module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.num_features = embed_dim * 2 ** (n - 1)
        self.head = ClassifierHead(self.num_features, num_classes, global_pool, drop_rate)
        self.head_hidden_size = int(self.head.num_features)
        self._initialize()

    def init_weights(self) -> None:
        """Linears only (convs keep PyTorch's init): none with ``weight_init=''``."""
        if not self.weight_init:
            return
        for name, m in self.named_modules():
            if not isinstance(m, nn.Linear):
                continue
            if self.weight_init == "vit":
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    if "mlp" in name:
                        nn.init.normal_(m.bias, std=1e-6)
                    else:
                        nn.init.zeros_(m.bias)
            else:
                nn.init.normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        return {k for k, _ in self.named_parameters() if "relative_position_bias_table" in k}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^stem", blocks=r"^stages\.(\d+)")

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)


# --- variants -------------------------------------------------------------------------------------
GlobalContextVitArgs = model_args_type(GlobalContextVit)
_LARGER = dict(depths=(3, 4, 19, 5), mlp_ratio=2, layer_scale=1e-5)

VARIANTS: dict[str, Any] = {
    "gcvit_xxtiny": GlobalContextVitArgs(depths=(2, 2, 6, 2), num_heads=(2, 4, 8, 16)),
    "gcvit_xtiny": GlobalContextVitArgs(depths=(3, 4, 6, 5), num_heads=(2, 4, 8, 16)),
    "gcvit_tiny": GlobalContextVitArgs(depths=(3, 4, 19, 5), num_heads=(2, 4, 8, 16)),
    "gcvit_small": GlobalContextVitArgs(num_heads=(3, 6, 12, 24), embed_dim=96, **_LARGER),
    "gcvit_base": GlobalContextVitArgs(num_heads=(4, 8, 16, 32), embed_dim=128, **_LARGER),
}


# --- weights --------------------------------------------------------------------------------------
def _nvidia(file: str) -> dict[str, Any]:
    """timm's GitHub release of a converted NVIDIA checkpoint (no Hub copy)."""
    return weight(url=f"{RWIGHTMAN_RELEASES}v0.1-weights-morevit/{file}", hf_hub_id=None)


WEIGHTS: dict[str, dict[str, Any]] = {
    "gcvit_xxtiny.in1k": _nvidia("gcvit_xxtiny_224_nvidia-d1d86009.pth"),
    "gcvit_xtiny.in1k": _nvidia("gcvit_xtiny_224_nvidia-274b92b7.pth"),
    "gcvit_tiny.in1k": _nvidia("gcvit_tiny_224_nvidia-ac783954.pth"),
    "gcvit_small.in1k": _nvidia("gcvit_small_224_nvidia-4e98afa2.pth"),
    "gcvit_base.in1k": _nvidia("gcvit_base_224_nvidia-f009139b.pth"),
}

default_cfgs = register_family(
    __name__,
    model_cls=GlobalContextVit,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=0.875,
        interpolation="bicubic",
        first_conv="stem.conv1",
        classifier="head.fc",
        fixed_input_size=True,
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. gcvit_tiny
    return family_entrypoint(__name__, name)
