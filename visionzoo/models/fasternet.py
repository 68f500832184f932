"""FasterNet: a four-stage convnet whose blocks mix space with a partial convolution (a 3x3 conv
over a quarter of the channels) followed by a pointwise MLP, for high FLOPS on real hardware.

Paper: `Run, Don't Walk: Chasing Higher FLOPS for Faster Neural Networks` -
https://arxiv.org/abs/2303.03667

Weights: the authors' ImageNet-1k models, as timm publishes them (Apache-2.0); module names
follow timm's ``FasterNet``.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from ..layers import DropPath, PartialConv2d, calculate_drop_path_rates, trunc_normal_
from ..layers.activations import LayerType, act_or_identity
from ..layers.norm import get_norm_layer
from ..model import ConvHeadModel, Trunk
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["FasterNet", "FasterNetBlock", "FasterNetStage", "PatchEmbed", "PatchMerging", "default_cfgs"]


class PatchEmbed(nn.Module):
    """The stem: a bias-free ``patch_size`` strided conv (``proj``) and a norm."""

    def __init__(self, in_chs: int, out_chs: int, patch_size: int, norm: nn.Module) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chs, out_chs, patch_size, patch_size, bias=False)
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class PatchMerging(nn.Module):
    """Between stages: a bias-free strided conv doubling the width (``reduction``) and a norm."""

    def __init__(self, dim: int, merge_size: int, norm: nn.Module) -> None:
        super().__init__()
        self.reduction = nn.Conv2d(dim, 2 * dim, merge_size, merge_size, bias=False)
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.reduction(x))


class FasterNetBlock(nn.Module):
    """Partial conv, then ``x + drop_path(scale * mlp(pconv(x)))`` with a 1x1-conv MLP
    (conv, norm, act, conv); the shortcut is the block input."""

    def __init__(
        self,
        dim: int,
        *,
        n_div: int,
        mlp_ratio: float,
        drop_path: float = 0.0,
        layer_scale_init_value: float = 0.0,
        act_layer: LayerType = "relu",
        norm_layer: LayerType = nn.BatchNorm2d,
        pconv_fw_type: str = "split_cat",
    ) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        norm = cast("type[nn.Module]", get_norm_layer(norm_layer))
        self.mlp = nn.Sequential(
            nn.Conv2d(dim, hidden, 1, bias=False),
            norm(hidden),
            act_or_identity(act_layer, inplace=True),
            nn.Conv2d(hidden, dim, 1, bias=False),
        )
        self.spatial_mixing = PartialConv2d(dim, n_div, mode=pconv_fw_type)
        self.layer_scale: nn.Parameter | None = (
            nn.Parameter(torch.full((dim,), float(layer_scale_init_value)))
            if layer_scale_init_value > 0
            else None
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.mlp(self.spatial_mixing(x))
        if self.layer_scale is not None:
            x = self.layer_scale.view(1, -1, 1, 1) * x
        return shortcut + self.drop_path(x)


class FasterNetStage(nn.Module):
    """A patch merging (stride ``merge_size``, doubling the width; none in the first stage),
    then the blocks (timm's ``Block``)."""

    def __init__(
        self,
        dim: int,
        depth: int,
        *,
        drop_path: list[float],
        merge_size: int,
        use_merge: bool,
        norm_layer: LayerType,
        **block_kwargs: Any,
    ) -> None:
        super().__init__()
        norm = cast("type[nn.Module]", get_norm_layer(norm_layer))
        # NOTE: the blocks are registered before the merging that runs first, as in timm (the
        # state dict's order, and with it the layer-decay groups)
        self.blocks = nn.Sequential(
            *[
                FasterNetBlock(dim, drop_path=drop_path[i], norm_layer=norm_layer, **block_kwargs)
                for i in range(depth)
            ]
        )
        self.downsample = PatchMerging(dim // 2, merge_size, norm(dim)) if use_merge else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class FasterNet(ConvHeadModel):
    """A ``patch_size`` patch embedding, four stages at ``embed_dim * 2**i`` channels (stride 4
    to 32), then MobileNet's efficient head (pool, bias-free 1x1 conv to ``feature_dim``, act).

    Args:
        embed_dim: width of the first stage.
        depths: blocks per stage.
        mlp_ratio: MLP hidden width over the block width.
        n_div: the partial conv convolves ``1 / n_div`` of the channels.
        patch_size: stem stride; ``merge_size``: the stride of each stage's merging.
        patch_norm: a norm after the stem conv.
        feature_dim: head conv width (``head_hidden_size``).
        layer_scale_init_value: per-channel residual scale (0: none).
        pconv_fw_type: the partial conv's mode (``'split_cat'`` or ``'slicing'``, inference only).
    """

    trunk = Trunk(
        stem=("patch_embed",), stages=("stages.*",), blocks=("downsample", "blocks.*"), checkpoint="block"
    )

    def __init__(
        self,
        embed_dim: int = 96,
        depths: tuple[int, ...] = (1, 2, 8, 2),
        *,
        mlp_ratio: float = 2.0,
        n_div: int = 4,
        patch_size: int = 4,
        merge_size: int = 2,
        patch_norm: bool = True,
        feature_dim: int = 1280,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        layer_scale_init_value: float = 0.0,
        act_layer: LayerType = "relu",
        norm_layer: LayerType = nn.BatchNorm2d,
        pconv_fw_type: str = "split_cat",
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        norm = cast("type[nn.Module]", get_norm_layer(norm_layer))
        self.patch_embed = PatchEmbed(
            in_chans, embed_dim, patch_size, norm(embed_dim) if patch_norm else nn.Identity()
        )
        dpr = cast(
            "list[list[float]]", calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        )
        stages = []
        self.feature_info = []
        for i, depth in enumerate(depths):
            dim = embed_dim * 2**i
            stages.append(
                FasterNetStage(
                    dim,
                    depth,
                    drop_path=dpr[i],
                    merge_size=merge_size,
                    use_merge=i > 0,
                    norm_layer=norm_layer,
                    n_div=n_div,
                    mlp_ratio=mlp_ratio,
                    layer_scale_init_value=layer_scale_init_value,
                    act_layer=act_layer,
                    pconv_fw_type=pconv_fw_type,
                )
            )
            self.feature_info.append(
                dict(num_chs=dim, reduction=patch_size * merge_size**i, module=f"stages.{i}")
            )
        self.stages = nn.Sequential(*stages)
        self._init_conv_head(
            embed_dim * 2 ** (len(depths) - 1),
            num_classes,
            global_pool,
            hidden_size=feature_dim,
            act=act_or_identity(act_layer, inplace=True),
        )
        self._initialize()

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^patch_embed",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [
                (r"^stages\.(\d+).downsample", (0,)),
                (r"^stages\.(\d+)\.blocks\.(\d+)", None),
                (r"^conv_head", (99999,)),
            ],
        )


FasterNetArgs = model_args_type(FasterNet)

VARIANTS = {
    "fasternet_t0": FasterNetArgs(embed_dim=40, depths=(1, 2, 8, 2), drop_path_rate=0.0, act_layer=nn.GELU),
    "fasternet_t1": FasterNetArgs(embed_dim=64, depths=(1, 2, 8, 2), drop_path_rate=0.02, act_layer=nn.GELU),
    "fasternet_t2": FasterNetArgs(embed_dim=96, depths=(1, 2, 8, 2), drop_path_rate=0.05),
    "fasternet_s": FasterNetArgs(embed_dim=128, depths=(1, 2, 13, 2), drop_path_rate=0.1),
    "fasternet_m": FasterNetArgs(embed_dim=144, depths=(3, 4, 18, 3), drop_path_rate=0.2),
    "fasternet_l": FasterNetArgs(embed_dim=192, depths=(3, 4, 18, 3), drop_path_rate=0.3),
}

WEIGHTS = {f"{name}.in1k": weight(default=True) for name in VARIANTS}

default_cfgs = register_family(
    __name__,
    model_cls=FasterNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=1.0,
        test_crop_pct=0.9,
        interpolation="bicubic",
        first_conv="patch_embed.proj",
        classifier="classifier",
        paper_ids="arXiv:2303.03667",
        paper_name="Run, Don't Walk: Chasing Higher FLOPS for Faster Neural Networks",
        origin_url="https://github.com/JierunChen/FasterNet",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. fasternet_t0
    return family_entrypoint(__name__, name)
