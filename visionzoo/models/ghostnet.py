"""GhostNet V1 / V2 / V3: MobileNetV3-like bottlenecks whose 1x1 convs make half their channels
and derive the other half with a cheap depthwise conv ("ghost" features).

Papers:
* `GhostNet: More Features from Cheap Operations` - https://arxiv.org/abs/1911.11907
* `GhostNetV2: Enhance Cheap Operation with Long-Range Attention` - https://arxiv.org/abs/2211.12905
* `GhostNetV3: Exploring the Training Strategies for Compact Models` - https://arxiv.org/abs/2404.11202

V2 gates the expanding ghost module with a decoupled fully-connected (DFC) attention map computed
at half resolution; V3 trains each conv as three parallel conv + norm branches plus a 1x1 (and,
for the cheap conv, an identity norm) branch, which :func:`visionzoo.reparameterize` (timm's
``reparameterize()`` / ``switch_to_deploy()``) and :func:`visionzoo.optimize_for_inference`
fuse into one conv. Weights: Huawei Noah's (Apache-2.0); module names follow timm's ``GhostNet``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import make_divisible
from ..layers.branch_fusion import branch_kernel_bias, conv_like
from ..model import ConvHeadModel, Trunk, check_num_classes
from ..pretrained import NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from ._efficientnet_blocks import ConvBnAct, SqueezeExcite

__all__ = [
    "GhostBottleneck",
    "GhostBottleneckV3",
    "GhostModule",
    "GhostModuleV2",
    "GhostModuleV3",
    "GhostNet",
    "checkpoint_filter_fn",
    "default_cfgs",
]

# V2 / V3 gate with attention maps pooled 2x2: the last stage's map needs a side of 2 (timm's fails
# further on; ours refuses the input by name)
MIN_INPUT_SIZE_GATED = 33
_SE_LAYER = partial(SqueezeExcite, gate_layer="hard_sigmoid", rd_round_fn=partial(make_divisible, divisor=4))


def _conv_bn(in_chs: int, out_chs: int, kernel_size: int | tuple[int, int], **kwargs: Any) -> list[nn.Module]:
    padding: int | tuple[int, int] = (
        (kernel_size // 2) if isinstance(kernel_size, int) else (kernel_size[0] // 2, kernel_size[1] // 2)
    )
    conv = nn.Conv2d(in_chs, out_chs, kernel_size, padding=padding, bias=False, **kwargs)
    return [conv, nn.BatchNorm2d(out_chs)]


def _dfc_attention(in_chs: int, out_chs: int, kernel_size: int, stride: int) -> nn.Sequential:
    """V2's decoupled fully-connected attention: a conv, then depthwise 1x5 and 5x1 convs."""
    return nn.Sequential(
        *_conv_bn(in_chs, out_chs, kernel_size, stride=stride),
        *_conv_bn(out_chs, out_chs, (1, 5), groups=out_chs),
        *_conv_bn(out_chs, out_chs, (5, 1), groups=out_chs),
    )


def _gate(x: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
    """``x`` times the sigmoid of the half-resolution attention map, upsampled to ``x``."""
    return x * F.interpolate(attn.sigmoid(), size=(x.shape[-2], x.shape[-1]), mode="nearest")


class GhostModule(nn.Module):
    """A conv making ``ceil(out / ratio)`` channels, a depthwise conv deriving the rest from them."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 1,
        ratio: int = 2,
        dw_size: int = 3,
        stride: int = 1,
        act_layer: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__()
        self.out_chs = out_chs
        init_chs = math.ceil(out_chs / ratio)
        new_chs = init_chs * (ratio - 1)
        self.primary_conv = nn.Sequential(
            *_conv_bn(in_chs, init_chs, kernel_size, stride=stride), act_layer(inplace=True)
        )
        self.cheap_operation = nn.Sequential(
            *_conv_bn(init_chs, new_chs, dw_size, groups=init_chs), act_layer(inplace=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.primary_conv(x)
        return torch.cat([x1, self.cheap_operation(x1)], dim=1)[:, : self.out_chs]


class GhostModuleV2(GhostModule):
    """The ghost module gated by DFC attention computed at half resolution (``short_conv``)."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 1,
        ratio: int = 2,
        dw_size: int = 3,
        stride: int = 1,
        act_layer: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__(in_chs, out_chs, kernel_size, ratio, dw_size, stride, act_layer)
        self.gate_fn = nn.Sigmoid()
        self.short_conv = _dfc_attention(in_chs, out_chs, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.primary_conv(x)  # (the ghost module's forward: TorchScript has no super() calls)
        out = torch.cat([x1, self.cheap_operation(x1)], dim=1)[:, : self.out_chs]
        return _gate(out, self.short_conv(F.avg_pool2d(x, kernel_size=2, stride=2)))


@torch.no_grad()
def _fuse_branches(branches: list[nn.Module]) -> nn.Conv2d:
    """One biased conv computing the sum of ``branches`` (ConvBnActs or identity norms; the first
    a ConvBnAct, whose geometry the conv takes)."""
    ref = cast(nn.Conv2d, branches[0].conv)
    kernel = torch.zeros_like(ref.weight, dtype=torch.float64)
    bias = torch.zeros(ref.out_channels, dtype=torch.float64, device=ref.weight.device)
    for branch in branches:
        pair: tuple[nn.Module | None, nn.Module] = (
            (branch.conv, branch.bn1) if isinstance(branch, ConvBnAct) else (None, branch)
        )
        k, b = branch_kernel_bias(*pair, ref.weight)
        kernel, bias = kernel + k, bias + b
    return conv_like(ref, kernel, bias)


class GhostModuleV3(nn.Module):
    """The ghost module with re-parameterisable convs: three conv + norm branches for the primary
    conv; three depthwise branches, a 1x1 and an identity norm for the cheap one. ``mode=
    "shortcut"`` adds V2's DFC attention gate. :meth:`reparameterize` leaves ``primary_conv`` and
    ``cheap_operation`` (conv + activation) as timm's deploy modules."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 1,
        ratio: int = 2,
        dw_size: int = 3,
        stride: int = 1,
        act_layer: type[nn.Module] = nn.ReLU,
        mode: str = "original",
    ) -> None:
        super().__init__()
        self.gate_fn = nn.Sigmoid()
        self.out_chs = out_chs
        init_chs = math.ceil(out_chs / ratio)
        new_chs = init_chs * (ratio - 1)
        self.mode = mode
        self.num_conv_branches = 3
        self.infer_mode = False
        self.primary_conv: nn.Module = nn.Identity()
        self.cheap_operation: nn.Module = nn.Identity()
        # NOTE: ConvBnAct takes act_layer=None (no activation) and an int pad_type at runtime, which
        # its annotations (LayerType, str) leave out
        branch: Callable[..., ConvBnAct] = partial(ConvBnAct, act_layer=None)  # type: ignore[arg-type]
        self.primary_rpr_conv: nn.ModuleList | None = nn.ModuleList(
            branch(in_chs, init_chs, kernel_size, stride, pad_type=kernel_size // 2)
            for _ in range(self.num_conv_branches)
        )
        self.primary_activation = act_layer(inplace=True)
        self.cheap_rpr_skip: nn.Module | None = nn.BatchNorm2d(init_chs)
        self.cheap_rpr_conv: nn.ModuleList | None = nn.ModuleList(
            branch(init_chs, new_chs, dw_size, 1, pad_type=dw_size // 2, group_size=1)
            for _ in range(self.num_conv_branches)
        )
        self.cheap_rpr_scale: nn.Module | None = branch(init_chs, new_chs, 1, 1, pad_type=0, group_size=1)
        self.cheap_activation = act_layer(inplace=True)
        self.short_conv = (
            _dfc_attention(in_chs, out_chs, kernel_size, stride) if mode == "shortcut" else nn.Identity()
        )
        self.in_channels = init_chs
        self.groups = init_chs
        self.kernel_size = dw_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.infer_mode or self.primary_rpr_conv is None or self.cheap_rpr_conv is None:
            x1 = self.primary_conv(x)
            x2 = self.cheap_operation(x1)
        else:
            x1 = self.primary_rpr_conv[0](x)
            for i, conv in enumerate(self.primary_rpr_conv):
                if i > 0:
                    x1 = x1 + conv(x)
            x1 = self.primary_activation(x1)
            assert self.cheap_rpr_scale is not None and self.cheap_rpr_skip is not None
            x2 = self.cheap_rpr_scale(x1) + self.cheap_rpr_skip(x1)
            for conv in self.cheap_rpr_conv:
                x2 = x2 + conv(x1)
            x2 = self.cheap_activation(x2)
        out = torch.cat([x1, x2], dim=1)
        if self.mode != "shortcut":
            return out
        return _gate(out[:, : self.out_chs], self.short_conv(F.avg_pool2d(x, kernel_size=2, stride=2)))

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Fuse each conv's branches (exact for the eval statistics); the branches go, so the
        state dict is then timm's deploy one."""
        if self.infer_mode or self.primary_rpr_conv is None or self.cheap_rpr_conv is None:
            return
        assert self.cheap_rpr_scale is not None and self.cheap_rpr_skip is not None
        primary = _fuse_branches(list(self.primary_rpr_conv))
        cheap = _fuse_branches([*self.cheap_rpr_conv, self.cheap_rpr_scale, self.cheap_rpr_skip])
        self.primary_conv = nn.Sequential(primary, self.primary_activation)
        self.cheap_operation = nn.Sequential(cheap, self.cheap_activation)
        self.primary_rpr_conv = self.cheap_rpr_conv = None
        self.cheap_rpr_scale = self.cheap_rpr_skip = None
        self.infer_mode = True

    def reparameterize(self) -> None:
        """timm's other name for :meth:`switch_to_deploy`."""
        self.switch_to_deploy()

    def fuse_for_inference(self) -> None:
        """The hook :func:`visionzoo.optimize_for_inference` calls."""
        self.switch_to_deploy()


def _dw_shortcut(in_chs: int, out_chs: int, kernel_size: int, stride: int) -> nn.Module:
    """Identity where shapes agree, else a strided depthwise conv + norm and a 1x1 conv + norm."""
    if in_chs == out_chs and stride == 1:
        return nn.Identity()
    return nn.Sequential(
        *_conv_bn(in_chs, in_chs, kernel_size, stride=stride, groups=in_chs), *_conv_bn(in_chs, out_chs, 1)
    )


class GhostBottleneck(nn.Module):
    """Ghost expansion (V2: gated), a strided depthwise conv + norm where strided, optional SE,
    linear ghost projection, residual."""

    def __init__(
        self,
        in_chs: int,
        mid_chs: int,
        out_chs: int,
        dw_kernel_size: int = 3,
        stride: int = 1,
        act_layer: type[nn.Module] = nn.ReLU,
        se_ratio: float = 0.0,
        mode: str = "original",
    ) -> None:
        super().__init__()
        self.stride = stride
        ghost = GhostModule if mode == "original" else GhostModuleV2
        self.ghost1 = ghost(in_chs, mid_chs, act_layer=act_layer)
        self.conv_dw: nn.Module | None = None
        self.bn_dw: nn.Module | None = None
        if stride > 1:
            self.conv_dw, self.bn_dw = _conv_bn(
                mid_chs, mid_chs, dw_kernel_size, stride=stride, groups=mid_chs
            )
        self.se = _SE_LAYER(mid_chs, rd_ratio=se_ratio) if se_ratio else None
        self.ghost2 = GhostModule(mid_chs, out_chs, act_layer=nn.Identity)
        shortcut = _dw_shortcut(in_chs, out_chs, dw_kernel_size, stride)
        self.shortcut = nn.Sequential() if isinstance(shortcut, nn.Identity) else shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.ghost1(x)
        if self.conv_dw is not None and self.bn_dw is not None:
            x = self.bn_dw(self.conv_dw(x))
        if self.se is not None:
            x = self.se(x)
        return self.ghost2(x) + self.shortcut(shortcut)


class GhostBottleneckV3(nn.Module):
    """The V3 bottleneck: re-parameterisable ghost modules and, where strided, a depthwise conv
    trained as three conv + norm branches and a strided 1x1 branch; fused by
    :meth:`reparameterize` into ``conv_dw`` (``bn_dw`` then an identity), timm's deploy form."""

    def __init__(
        self,
        in_chs: int,
        mid_chs: int,
        out_chs: int,
        dw_kernel_size: int = 3,
        stride: int = 1,
        act_layer: type[nn.Module] = nn.ReLU,
        se_ratio: float = 0.0,
        mode: str = "original",
    ) -> None:
        super().__init__()
        self.stride = stride
        self.num_conv_branches = 3
        self.infer_mode = False
        self.conv_dw: nn.Module = nn.Identity()
        self.bn_dw: nn.Module = nn.Identity()
        self.ghost1 = GhostModuleV3(in_chs, mid_chs, act_layer=act_layer, mode=mode)
        self.dw_rpr_conv: nn.ModuleList | None = nn.ModuleList()
        self.dw_rpr_scale: nn.Module | None = nn.Identity()
        if stride > 1:
            # NOTE: act_layer=None and an int pad_type, as in GhostModuleV3
            branch: Callable[..., ConvBnAct] = partial(ConvBnAct, act_layer=None, group_size=1)  # type: ignore[arg-type]
            pad = (dw_kernel_size - 1) // 2
            self.dw_rpr_conv = nn.ModuleList(
                branch(mid_chs, mid_chs, dw_kernel_size, stride, pad_type=pad)
                for _ in range(self.num_conv_branches)
            )
            self.dw_rpr_scale = branch(mid_chs, mid_chs, 1, 2, pad_type=0)
            self.kernel_size = dw_kernel_size
            self.in_channels = mid_chs
        self.se = _SE_LAYER(mid_chs, rd_ratio=se_ratio) if se_ratio else nn.Identity()
        self.ghost2 = GhostModuleV3(mid_chs, out_chs, act_layer=nn.Identity, mode="original")
        self.shortcut = _dw_shortcut(in_chs, out_chs, dw_kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.ghost1(x)
        if self.stride > 1:
            if self.infer_mode or self.dw_rpr_conv is None or self.dw_rpr_scale is None:
                x = self.bn_dw(self.conv_dw(x))
            else:
                y = self.dw_rpr_scale(x)
                for conv in self.dw_rpr_conv:
                    y = y + conv(x)
                x = y
        return self.ghost2(self.se(x)) + self.shortcut(shortcut)

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Fuse the strided depthwise branches into ``conv_dw`` (unstrided blocks have none)."""
        if self.infer_mode or self.stride == 1 or self.dw_rpr_conv is None or self.dw_rpr_scale is None:
            return
        self.conv_dw = _fuse_branches([*self.dw_rpr_conv, self.dw_rpr_scale])
        self.bn_dw = nn.Identity()
        self.dw_rpr_conv = self.dw_rpr_scale = None
        self.infer_mode = True

    def reparameterize(self) -> None:
        """timm's other name for :meth:`switch_to_deploy`."""
        self.switch_to_deploy()

    def fuse_for_inference(self) -> None:
        """The hook :func:`visionzoo.optimize_for_inference` calls."""
        self.switch_to_deploy()


# per block: kernel, expansion width, output width, SE ratio, stride; one list per stage
_BLOCKS: tuple[tuple[tuple[int, int, int, float, int], ...], ...] = (
    ((3, 16, 16, 0, 1),),
    ((3, 48, 24, 0, 2),),
    ((3, 72, 24, 0, 1),),
    ((5, 72, 40, 0.25, 2),),
    ((5, 120, 40, 0.25, 1),),
    ((3, 240, 80, 0, 2),),
    (
        (3, 200, 80, 0, 1),
        (3, 184, 80, 0, 1),
        (3, 184, 80, 0, 1),
        (3, 480, 112, 0.25, 1),
        (3, 672, 112, 0.25, 1),
    ),
    ((5, 672, 160, 0.25, 2),),
    ((5, 960, 160, 0, 1), (5, 960, 160, 0.25, 1), (5, 960, 160, 0, 1), (5, 960, 160, 0.25, 1)),
)


class GhostNet(ConvHeadModel):
    """Stem conv, ghost bottleneck stages, a 1x1 ConvBnAct, then a MobileNetV3-style head (pool,
    1x1 conv to 1280, ReLU, classifier). Levels are read at the first stage of each stride; the
    stages after the last level and the final ConvBnAct go with ``prune_norm`` / ``prune_head``,
    as timm's."""

    trunk = Trunk(
        stem=("conv_stem", "bn1", "act1"),
        stages=("blocks.*",),
        post=("blocks.8", "blocks.9"),
        checkpoint="block",
        prune_post=("norm", "head"),
    )

    def __init__(
        self,
        cfgs: tuple[tuple[tuple[int, int, int, float, int], ...], ...] = _BLOCKS,
        num_classes: int = 1000,
        width: float = 1.0,
        in_chans: int = 3,
        output_stride: int = 32,
        global_pool: str = "avg",
        drop_rate: float = 0.2,
        version: str = "v1",
    ) -> None:
        super().__init__()
        bottleneck = GhostBottleneckV3 if version == "v3" else GhostBottleneck
        gate = {"v2": "attn", "v3": "shortcut"}.get(version, "original")

        def block(
            in_chs: int, mid_chs: int, out_chs: int, k: int, s: int, se_ratio: float, idx: int
        ) -> nn.Module:
            # V2 gates (V3: shortcut-gates) the expansion of every block from the third on
            return bottleneck(
                in_chs, mid_chs, out_chs, k, s, se_ratio=se_ratio, mode=gate if idx > 1 else "original"
            )

        self._build(cfgs, block, num_classes, width, in_chans, output_stride, global_pool, drop_rate, 1)
        self.version = version
        if version != "v1":
            self.min_input_size = (3, MIN_INPUT_SIZE_GATED, MIN_INPUT_SIZE_GATED)  # type: ignore[misc]

    def _build(
        self,
        cfgs: tuple[tuple[tuple[int, int, int, float, int], ...], ...],
        block: Callable[[int, int, int, int, int, float, int], nn.Module],
        num_classes: int,
        width: float,
        in_chans: int,
        output_stride: int,
        global_pool: str,
        drop_rate: float,
        final_mult: int,
    ) -> None:
        """Stem, the block table's stages, the final 1x1 ConvBnAct (``final_mult`` times the last
        expansion width) and the head: shared with RepGhostNet."""
        if output_stride != 32:
            raise ValueError(
                f"GhostNet has no dilated variant: output_stride must be 32, got {output_stride}"
            )
        check_num_classes(num_classes)
        self.cfgs = cfgs
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.version = "v1"

        stem_chs = make_divisible(16 * width, 4)
        self.conv_stem = nn.Conv2d(in_chans, stem_chs, 3, 2, 1, bias=False)
        self.feature_info = [dict(num_chs=stem_chs, reduction=2, module="conv_stem")]
        self.bn1 = nn.BatchNorm2d(stem_chs)
        self.act1 = nn.ReLU(inplace=True)
        prev_chs, net_stride, layer_idx = stem_chs, 2, 0
        stages: list[nn.Module] = []
        exp_size = 0
        for stage_idx, cfg in enumerate(cfgs):
            layers = []
            for k, exp_size, c, se_ratio, s in cfg:
                out_chs = make_divisible(c * width, 4)
                mid_chs = make_divisible(exp_size * width, 4)
                layers.append(block(prev_chs, mid_chs, out_chs, k, s, se_ratio, layer_idx))
                prev_chs = out_chs
                layer_idx += 1
            if cfg[-1][-1] > 1:
                net_stride *= 2
                self.feature_info.append(
                    dict(num_chs=prev_chs, reduction=net_stride, module=f"blocks.{stage_idx}")
                )
            stages.append(nn.Sequential(*layers))
        out_chs = make_divisible(exp_size * width * final_mult, 4)
        stages.append(nn.Sequential(ConvBnAct(prev_chs, out_chs, 1)))
        self.blocks = nn.Sequential(*stages)
        self.num_features = self.pool_dim = out_chs

        self._init_conv_head(
            out_chs, num_classes, global_pool, hidden_size=1280, bias=True, act=nn.ReLU(inplace=True)
        )

    def _check_input(self, x: torch.Tensor) -> None:
        if self.version == "v1" or isinstance(x, torch.fx.Proxy):  # a symbolic trace has no shape
            return
        if x.ndim != 4 or min(x.shape[-2:]) < MIN_INPUT_SIZE_GATED:
            raise ValueError(
                f"GhostNet {self.version} takes (B, C, H, W) inputs with H, W >= {MIN_INPUT_SIZE_GATED} "
                f"(its attention gates pool the last stage's map 2x2), got shape {tuple(x.shape)}"
            )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():  # NOTE: TorchScript has no super() calls: the base's scripted walk
            for name, module in self.named_children():
                if name not in self.head_names:
                    x = module(x)
            return x
        else:
            self._check_input(x)
            return super().forward_features(x)

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        self._check_input(x)
        return super()._intermediates(x, take, stop_early=stop_early, norm=norm)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^conv_stem|bn1",
            blocks=[
                (r"^blocks\.(\d+)" if coarse else r"^blocks\.(\d+)\.(\d+)", None),
                (r"conv_head", (99999,)),
            ],
        )

    def no_weight_decay(self) -> set[str]:
        return set()

    def convert_to_deploy(self) -> None:
        """timm's name: fuse the V3 blocks' branches in place."""
        from ..optimize.reparam import reparameterize

        reparameterize(self, inplace=True)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """The original V3 checkpoints: their branch norms are ``bn`` (timm's ``bn1``); FLOP counters go."""
    state_dict = state_dict.get("state_dict", state_dict)
    out = {}
    for k, v in state_dict.items():
        if "bn." in k and (".ghost" in k or ".dw_rpr_" in k):
            k = k.replace("bn.", "bn1.")
        if "total" in k:
            continue
        out[k] = v
    return out


GhostNetArgs = model_args_type(GhostNet)

VARIANTS = {
    "ghostnet_050": GhostNetArgs(width=0.5),
    "ghostnet_100": GhostNetArgs(width=1.0),
    "ghostnet_130": GhostNetArgs(width=1.3),
    "ghostnetv2_100": GhostNetArgs(width=1.0, version="v2"),
    "ghostnetv2_130": GhostNetArgs(width=1.3, version="v2"),
    "ghostnetv2_160": GhostNetArgs(width=1.6, version="v2"),
    "ghostnetv3_050": GhostNetArgs(width=0.5, version="v3"),
    "ghostnetv3_100": GhostNetArgs(width=1.0, version="v3"),
    "ghostnetv3_130": GhostNetArgs(width=1.3, version="v3"),
    "ghostnetv3_160": GhostNetArgs(width=1.6, version="v3"),
}

WEIGHTS: dict[str, dict[str, Any]] = {
    "ghostnet_050.untrained": weight(NO_WEIGHTS),
    "ghostnet_100.in1k": weight(default=True),
    "ghostnet_130.untrained": weight(NO_WEIGHTS),
    "ghostnetv2_100.in1k": weight(default=True),
    "ghostnetv2_130.in1k": weight(default=True),
    "ghostnetv2_160.in1k": weight(default=True),
    "ghostnetv3_050.untrained": weight(NO_WEIGHTS),
    "ghostnetv3_100.in1k": weight(default=True),
    "ghostnetv3_130.untrained": weight(NO_WEIGHTS),
    "ghostnetv3_160.untrained": weight(NO_WEIGHTS),
}

default_cfgs = register_family(
    __name__,
    model_cls=GhostNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=0.875,
        interpolation="bicubic",
        first_conv="conv_stem",
        classifier="classifier",
        license="apache-2.0",
    ),
    feature_cfg=dict(flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. ghostnet_100
    return family_entrypoint(__name__, name)
