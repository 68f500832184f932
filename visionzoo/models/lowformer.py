"""LowFormer: a convolutional transformer designed for measured speed (GPU throughput and
latency) rather than MACs: (fused) MBConv stages, then stages whose blocks attend over a strided
depthwise projection of the map (few tokens), add a 1x1-conv MLP and a local MBConv.

Papers: `LowFormer: Hardware Efficient Design for Convolutional Transformer Backbones` (WACV 2025)
- https://arxiv.org/abs/2409.03460; the E1-E3 edge-GPU variants: `Beyond MACs: Hardware
Efficient Architecture Design for Vision Backbones` (IJCV 2026) - https://arxiv.org/abs/2603.26551

Weights: the authors' ImageNet-1k models (Apache-2.0); module names follow timm's ``LowFormer``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import GroupNorm1, calculate_drop_path_rates
from ..layers.activations import LayerType
from ..layers.classifier import check_num_classes
from ..layers.create_act import get_act_layer
from ..layers.mbconv_mit import ConvLayer, FusedMBConv, MBConv, ResidualBlock
from ..layers.norm import get_norm_layer
from ..layers.pool import SelectAdaptivePool2d
from ..layers.strided_conv_attn import ConvAttention
from ..layers.weight_init import trunc_normal_
from ..model import Trunk, VisionModel
from ..pretrained import NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["LowFormer", "LowFormerBlock", "checkpoint_filter_fn", "default_cfgs"]

Layer = Callable[..., nn.Module]


def _local_body(
    in_chs: int,
    out_chs: int,
    stride: int,
    expand_ratio: float,
    *,
    fused: bool,
    expand_groups: int,
    bias: bool,
    norm: Layer,
    act: Layer,
) -> nn.Module:
    """A fused (full conv, then 1x1) or unfused (1x1, depthwise, 1x1) inverted residual body: the
    expansion convs carry ``bias`` and the activation, only the projection (and, fused, the
    spatial conv) a norm; unfused, the projection is grouped as the expansion."""
    if fused:
        return FusedMBConv(
            in_chs,
            out_chs,
            3,
            stride,
            expand_ratio,
            expand_groups,
            use_bias=(bias, False),
            norm_layer=(norm, norm),
            act_layer=(act, None),
        )
    return MBConv(
        in_chs,
        out_chs,
        3,
        stride,
        expand_ratio,
        expand_groups,
        use_bias=(bias, bias, False),
        norm_layer=(None, None, norm),
        act_layer=(act, act, None),
        project_groups=expand_groups,
    )


class LowFormerBlock(nn.Module):
    """Up to three residual branches in turn: attention (group-normed first where the MLP is
    kept), a pre-norm 1x1-conv MLP, and a local (fused below 256 channels) MBConv.

    Args:
        att_stride: the attention's downsampling (its projection kernel is 5 when strided, else 3).
        fused_conv: fused local body, and the attention's output projection folded into its
            upsampling.
        attn: keep the attention branch (LowFormer-E1 / E2 drop it).
        attn_mlp: keep the MLP branch (and the attention's group norm).
    """

    def __init__(
        self,
        in_channels: int,
        expand_ratio: float = 4,
        norm_layer: Layer = nn.BatchNorm2d,
        act_layer: Layer = nn.Hardswish,
        *,
        fused_conv: bool = False,
        expand_groups: int = 1,
        attn: bool = True,
        attn_mlp: bool = True,
        attn_mlp_ratio: int = 4,
        att_stride: int = 1,
        proj_drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.attn: nn.Module = nn.Identity()
        if attn:
            attention: nn.Module = ConvAttention(
                in_channels,
                head_dim_mul=0.5,
                att_stride=att_stride,
                att_kernel=5 if att_stride > 1 else 3,
                fuse_out_proj=fused_conv,
            )
            if attn_mlp:
                attention = nn.Sequential(GroupNorm1(in_channels), attention)
            self.attn = ResidualBlock(attention, nn.Identity(), drop_path)
        self.mlp: nn.Module = nn.Identity()
        if attn_mlp:
            hidden = in_channels * attn_mlp_ratio
            mlp = nn.Sequential(
                GroupNorm1(in_channels),
                nn.Conv2d(in_channels, hidden, 1),
                nn.GELU(),
                nn.Conv2d(hidden, in_channels, 1),
                nn.Dropout(proj_drop),
            )
            self.mlp = ResidualBlock(mlp, nn.Identity(), drop_path)
        local = _local_body(
            in_channels,
            in_channels,
            1,
            expand_ratio,
            fused=fused_conv and in_channels < 256,
            expand_groups=expand_groups,
            bias=True,
            norm=norm_layer,
            act=act_layer,
        )
        self.local = ResidualBlock(local, nn.Identity(), drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.local(self.mlp(self.attn(x)))


class LowFormer(VisionModel):
    """A stride-2 conv stem with optional residual bodies at its width, two conv stages (the first
    block downsamples, without a shortcut), two attention stages (a stride-2 body, then
    :class:`LowFormerBlock`; the first attends at stride 2), and the head: a 1x1 conv + norm +
    act on the map (``in_conv``), global pool, linear + LayerNorm + act (``pre_classifier``),
    dropout, ``classifier``.

    Args:
        width_list: widths of the stem and the four stages.
        depth_list: bodies in the stem, blocks in the stages (an attention stage's downsampling
            body is not counted).
        head_widths: the head's conv and hidden widths.
        drop_rate: dropout before the classifier.
        proj_drop_rate: dropout at the end of the attention blocks' MLPs.
        drop_path_rate: stochastic depth, rising linearly over the counted blocks (the
            downsampling bodies have no shortcut and drop nothing).
        expand_ratio: the (fused) MBConv expansion.
        fused_conv: FusedMBConv everywhere but the attention blocks' wide (256+) local bodies,
            and the attention's output projection folded into its upsampling.
        attn: the attention branch of the blocks (off in LowFormer-E1 / E2).
        attn_mlp: the MLP branch of the blocks (off in LowFormer-E1 / E2 / E3).
        attn_mlp_ratio: the blocks' MLP expansion.
        stem_expand_ratio: the stem bodies' expansion.
        downsample_expand_ratios: the four stride-2 bodies' expansions (None: ``expand_ratio``).
        expand_groups: groups of the expansion convs.
        global_pool: ``'avg'``, ``'max'``, ``'avgmax'``, or ``''`` (no pooling: the head's linear
            layers then run per position and the model returns a map).
    """

    trunk = Trunk(stem=("stem",), stages=("stages.*",))
    classifier_name = "classifier"
    # NOTE: timm's top-level head modules (state-dict keys ``in_conv.*``, ``pre_classifier.*``)
    head_names = ("global_pool", "flatten", "in_conv", "pre_classifier", "classifier")

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        global_pool: SelectAdaptivePool2d
        in_conv: nn.Module
        pre_classifier: nn.Module
        classifier: nn.Module

    def __init__(
        self,
        width_list: Sequence[int] = (16, 32, 64, 128, 256),
        depth_list: Sequence[int] = (0, 1, 1, 3, 4),
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        *,
        head_widths: tuple[int, int] = (1536, 1600),
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        expand_ratio: float = 4,
        norm_layer: LayerType = nn.BatchNorm2d,
        act_layer: LayerType = nn.Hardswish,
        fused_conv: bool = True,
        attn: bool = True,
        attn_mlp: bool = True,
        attn_mlp_ratio: int = 4,
        stem_expand_ratio: float = 2,
        downsample_expand_ratios: Sequence[float] | None = None,
        expand_groups: int = 1,
    ) -> None:
        super().__init__()
        check_num_classes(num_classes)
        if len(width_list) != 5 or len(depth_list) != 5:
            raise ValueError(
                f"width_list and depth_list need 5 entries (stem + 4 stages), got {width_list}, {depth_list}"
            )
        down_ratios = tuple(downsample_expand_ratios or (expand_ratio,) * 4)
        if len(down_ratios) != 4:
            raise ValueError(f"downsample_expand_ratios needs 4 entries, got {down_ratios}")
        norm, act = get_norm_layer(norm_layer), get_act_layer(act_layer)
        if norm is None or act is None:
            raise ValueError(
                f"LowFormer needs a norm_layer and an act_layer, got {norm_layer!r}, {act_layer!r}"
            )
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        body = partial(
            _local_body, fused=fused_conv, expand_groups=expand_groups, bias=False, norm=norm, act=act
        )

        dpr = cast("list[float]", calculate_drop_path_rates(drop_path_rate, sum(depth_list)))
        chs = width_list[0]
        stem: list[nn.Module] = [ConvLayer(in_chans, chs, 3, 2, norm_layer=norm, act_layer=act)]
        for i in range(depth_list[0]):
            stem.append(ResidualBlock(body(chs, chs, 1, stem_expand_ratio), nn.Identity(), dpr[i]))
        self.stem = nn.Sequential(*stem)

        stages: list[nn.Module] = []
        self.feature_info = []
        reduction, cur = 2, depth_list[0]
        for s, (width, depth) in enumerate(zip(width_list[1:], depth_list[1:]), start=1):
            rates = dpr[cur : cur + depth]
            cur += depth
            blocks: list[nn.Module] = []
            if s >= 3:  # attention stages: a downsampling body, then the blocks
                blocks.append(ResidualBlock(body(chs, width, 2, down_ratios[s - 1])))
                chs = width
                blocks += [
                    LowFormerBlock(
                        chs,
                        expand_ratio,
                        norm,
                        act,
                        fused_conv=fused_conv,
                        expand_groups=expand_groups,
                        attn=attn,
                        attn_mlp=attn_mlp,
                        attn_mlp_ratio=attn_mlp_ratio,
                        att_stride=2 if s == 3 else 1,
                        proj_drop=proj_drop_rate,
                        drop_path=rates[i],
                    )
                    for i in range(depth)
                ]
            else:  # conv stages: the first body downsamples (and has no shortcut)
                for i in range(depth):
                    stride = 2 if i == 0 else 1
                    ratio = down_ratios[s - 1] if stride == 2 else expand_ratio
                    main = body(chs, width, stride, ratio)
                    blocks.append(ResidualBlock(main, nn.Identity() if stride == 1 else None, rates[i]))
                    chs = width
            stages.append(nn.Sequential(*blocks))
            reduction *= 2 if blocks else 1  # an empty conv stage keeps the resolution
            self.feature_info.append(dict(num_chs=chs, reduction=reduction, module=f"stages.{s - 1}"))
        self.stages = nn.Sequential(*stages)

        self.num_features = width_list[-1]
        self.num_classes = num_classes
        self.head_hidden_size = head_widths[-1]
        self.global_pool = self._head_pool(global_pool)
        self.flatten: nn.Module = nn.Flatten(1) if global_pool else nn.Identity()
        self.in_conv = ConvLayer(width_list[-1], head_widths[0], 1, norm_layer=norm, act_layer=act)
        self.pre_classifier = nn.Sequential(
            nn.Linear(head_widths[0], head_widths[1], bias=False), nn.LayerNorm(head_widths[1]), act()
        )
        self.classifier = nn.Linear(head_widths[1], num_classes) if num_classes > 0 else nn.Identity()
        self._initialize()

    @staticmethod
    def _head_pool(pool_type: str) -> SelectAdaptivePool2d:
        pool = SelectAdaptivePool2d(pool_type=pool_type)
        if pool.feat_mult() != 1:
            raise ValueError(
                f"LowFormer's head takes the pooled width: global_pool={pool_type!r} changes it; "
                "use 'avg', 'max', 'avgmax' or ''"
            )
        return pool

    def init_weights(self) -> None:
        """The linear layers as timm's (truncated normal, std 0.02; zero bias); the convs and
        norms keep PyTorch's defaults."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^stem\.\d+", blocks=r"^stages\.(\d+)" if coarse else r"^stages\.(\d+)\.(\d+)")

    def reset_classifier(
        self, num_classes: int, global_pool: str | None = None, reset_other: bool = False
    ) -> None:
        """New classifier of ``num_classes`` outputs (0 removes it), on the model's device and
        dtype; ``reset_other`` also drops the head's conv and MLP (pool -> classifier remains)."""
        check_num_classes(num_classes)
        if global_pool is not None:
            self.global_pool = self._head_pool(global_pool).train(self.training)
            self.flatten = (nn.Flatten(1) if global_pool else nn.Identity()).train(self.training)
        if reset_other:
            self.in_conv = nn.Identity()
            self.pre_classifier = nn.Identity()
            self.head_hidden_size = self.num_features
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else torch.device("cpu")
        with torch.device(device):
            fc = nn.Linear(self.head_hidden_size, num_classes) if num_classes > 0 else nn.Identity()
        if ref is not None:
            fc.to(dtype=ref.dtype)
        self.classifier = fc.train(self.training)
        self.num_classes = num_classes

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.flatten(self.global_pool(self.in_conv(x)))
        unpooled = self.global_pool.is_identity()
        if unpooled:  # the linear layers' weights apply per position
            x = x.permute(0, 2, 3, 1)
        x = self.pre_classifier(x)
        if self.drop_rate > 0.0:
            x = F.dropout(x, p=float(self.drop_rate), training=self.training)
        if not pre_logits:
            x = self.classifier(x)
        if unpooled:
            x = x.permute(0, 3, 1, 2).contiguous()
        return x

    def _prune_head(self) -> None:
        """The head's conv and MLP go too (the pooling stays, as timm's): they were sized for the
        final features."""
        self.reset_classifier(0, reset_other=True)


# --- checkpoint remap -----------------------------------------------------------------------------
_ORIGINAL_RENAMES = (
    # the original nests the trunk in ``backbone``, every sequence in ``op_list``, the block's
    # branches in ``total`` (``((attention, mlp), local)``) and wraps two convs in sequences
    ("backbone.input_stem.", "stem."),
    ("backbone.stages.", "stages."),
    ("head.opseq.", "head."),  # the TorchScript-exported head
    ("head.op_list.0.", "in_conv."),
    ("head.op_list.2.linear.", "pre_classifier.0."),
    ("head.op_list.2.norm.", "pre_classifier.1."),
    ("head.op_list.3.linear.", "classifier."),
    (".op_list.", "."),
    (".total.0.0.", ".attn."),
    (".total.0.1.", ".mlp."),
    (".total.0.", ".attn."),  # a block without an MLP branch has no inner pair
    (".total.1.", ".local."),
    (".conv_proj.0.", ".conv_proj.conv."),
    (".conv_proj.1.", ".conv_proj.norm."),
    (".pwise.0.", ".pwise."),
)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """The authors' checkpoints (``backbone.input_stem`` / ``backbone.stages``, ``op_list``
    sequences, ``total`` branch pairs, a ``head.op_list`` head), bare or under ``state_dict``,
    in our keys; our own pass through."""
    if "stem.0.conv.weight" in state_dict:
        return state_dict
    state_dict = state_dict.get("state_dict", state_dict)
    out = {}
    for key, value in state_dict.items():
        for old, new in _ORIGINAL_RENAMES:
            key = key.replace(old, new)
        out[key] = value
    return out


LowFormerArgs = model_args_type(LowFormer)

_BIG = dict(downsample_expand_ratios=(6, 6, 6, 6))  # the original's ``bigit``
_WIDE_HEAD = (2304, 2560)
_NO_MLP = dict(attn_mlp=False)

VARIANTS = {
    "lowformer_b0": LowFormerArgs(width_list=(16, 32, 64, 128, 256), depth_list=(0, 1, 1, 3, 4)),
    "lowformer_b1": LowFormerArgs(width_list=(16, 32, 64, 128, 256), depth_list=(0, 1, 1, 5, 5), **_BIG),
    "lowformer_b15": LowFormerArgs(
        width_list=(20, 40, 80, 160, 320), depth_list=(0, 1, 1, 6, 6), head_widths=_WIDE_HEAD, **_BIG
    ),
    "lowformer_b2": LowFormerArgs(
        width_list=(24, 48, 96, 192, 384), depth_list=(0, 1, 1, 6, 6), head_widths=_WIDE_HEAD, **_BIG
    ),
    "lowformer_b3": LowFormerArgs(
        width_list=(32, 64, 128, 256, 512), depth_list=(1, 2, 3, 6, 6), stem_expand_ratio=4, **_BIG
    ),
    "lowformer_e1": LowFormerArgs(
        width_list=(20, 40, 80, 160, 320),
        depth_list=(0, 1, 1, 4, 4),
        head_widths=_WIDE_HEAD,
        attn=False,
        **_NO_MLP,
        **_BIG,
    ),
    "lowformer_e2": LowFormerArgs(
        width_list=(32, 64, 128, 256, 512),
        depth_list=(1, 2, 3, 4, 4),
        attn=False,
        stem_expand_ratio=4,
        **_NO_MLP,
        **_BIG,
    ),
    "lowformer_e3": LowFormerArgs(
        width_list=(32, 64, 128, 256, 512),
        depth_list=(1, 2, 3, 6, 6),
        stem_expand_ratio=4,
        **_NO_MLP,
        **_BIG,
    ),
}

WEIGHTS: dict[str, dict[str, Any]] = {
    "lowformer_b0.in1k": weight(default=True),
    "lowformer_b1.in1k": weight(default=True),
    "lowformer_b15.in1k": weight(default=True),
    "lowformer_b2.untrained": weight(NO_WEIGHTS, default=True),
    "lowformer_b3.in1k": weight(default=True),
    "lowformer_e1.in1k": weight(default=True),
    "lowformer_e2.in1k": weight(default=True),
    "lowformer_e3.in1k": weight(default=True),
}

default_cfgs = register_family(
    __name__,
    model_cls=LowFormer,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=0.95,
        first_conv="stem.0.conv",
        classifier="classifier",
        origin_url="https://github.com/altair199797/LowFormer",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. lowformer_b0
    return family_entrypoint(__name__, name)
