"""PP-LCNetV2: a CPU-oriented convnet of depthwise-separable blocks, whose later stages train the
depthwise conv as parallel multi-scale conv + norm branches (5x5, 3x3, 1x1) that fold into one
conv for inference; SE and shortcuts only where they pay on CPU.

Reference: PaddleClas, https://github.com/PaddlePaddle/PaddleClas (PP-LCNetV2); the SSLD weights:
`Beyond Self-Supervision: A Simple Yet Effective Network Distillation Alternative to Improve
Backbones` - https://arxiv.org/abs/2103.05959

:func:`visionzoo.reparameterize` (timm's ``reparameterize()``) and
:func:`visionzoo.optimize_for_inference` fold the branches. Weights: Baidu's Paddle models
(Apache-2.0); module names follow timm's ``LCNetV2``.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from ..layers import ConvNormAct, SqueezeExcite, create_conv2d, make_divisible
from ..layers.activations import LayerType, act_or_identity
from ..layers.branch_fusion import branch_kernel_bias, conv_like
from ..model import ConvHeadModel, Trunk
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["LCNetV2", "RepDepthwiseSeparable", "default_cfgs"]


class RepDepthwiseSeparable(nn.Module):
    """Depthwise conv (+ norm, act), optional SE, pointwise conv(s) (+ norm, act), optional
    shortcut. With ``use_rep`` the depthwise conv trains as a sum of conv + norm branches of
    kernels ``dw_kernel_size, dw_kernel_size - 2, ... 1`` (no 1x1 when strided, as the original:
    it would read other pixels than the centred kernels), then one activation;
    :meth:`reparameterize` folds them into one biased conv (``dw_conv``).

    Args:
        split_pw: two pointwise convs, through ``pw_ratio * out_chs`` channels.
        use_shortcut: a residual, where the shapes agree.
        inference_mode: build the folded form directly.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 1,
        dw_kernel_size: int = 3,
        *,
        split_pw: bool = False,
        use_rep: bool = False,
        use_se: bool = False,
        use_shortcut: bool = False,
        pw_ratio: float = 0.5,
        se_ratio: float = 0.25,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        inference_mode: bool = False,
    ) -> None:
        super().__init__()
        self.in_chs, self.out_chs, self.stride, self.dw_kernel_size = in_chs, out_chs, stride, dw_kernel_size
        self.use_shortcut = use_shortcut and stride == 1 and in_chs == out_chs
        dw = dict(stride=stride, groups=in_chs, norm_layer=norm_layer)
        self.dw_conv: nn.Module | None = None
        self.dw_conv_list: nn.ModuleList | None = None
        if not use_rep:
            self.dw_conv = ConvNormAct(in_chs, in_chs, dw_kernel_size, act_layer=act_layer, **dw)  # type: ignore[arg-type]
        elif inference_mode:
            self.dw_conv = create_conv2d(
                in_chs, in_chs, dw_kernel_size, stride=stride, groups=in_chs, bias=True
            )
        else:
            kernels = [k for k in range(dw_kernel_size, 0, -2) if k > 1 or stride == 1]
            self.dw_conv_list = nn.ModuleList(
                [ConvNormAct(in_chs, in_chs, k, apply_act=False, **dw) for k in kernels]  # type: ignore[arg-type]
            )
        # the branches' sum is activated once (the plain conv has its own act)
        self.dw_act = act_or_identity(act_layer, inplace=True) if use_rep else nn.Identity()
        self.se = (
            SqueezeExcite(
                in_chs, rd_channels=int(in_chs * se_ratio), act_layer=act_layer, gate_layer="sigmoid"
            )
            if use_se
            else nn.Identity()
        )
        pw = dict(act_layer=act_layer, norm_layer=norm_layer)
        if split_pw:
            mid_chs = int(out_chs * pw_ratio)
            self.pw_conv: nn.Module = nn.Sequential(
                ConvNormAct(in_chs, mid_chs, 1, **pw),  # type: ignore[arg-type]
                ConvNormAct(mid_chs, out_chs, 1, **pw),  # type: ignore[arg-type]
            )
        else:
            self.pw_conv = ConvNormAct(in_chs, out_chs, 1, **pw)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        if self.dw_conv is not None:
            y = self.dw_conv(x)
        else:
            assert self.dw_conv_list is not None
            y = self.dw_conv_list[0](x)
            for i, branch in enumerate(self.dw_conv_list):
                if i > 0:
                    y = y + branch(x)
        x = self.pw_conv(self.se(self.dw_act(y)))
        return x + shortcut if self.use_shortcut else x

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold the branches (exact for the norms' eval statistics) into ``dw_conv``; the
        branches go, so the state dict is then timm's deploy one."""
        if self.dw_conv_list is None:
            return
        branches = [cast(ConvNormAct, b) for b in self.dw_conv_list]
        ref = cast(nn.Conv2d, branches[0].conv)
        kernel = torch.zeros_like(ref.weight, dtype=torch.float64)
        bias = torch.zeros(self.in_chs, dtype=torch.float64, device=ref.weight.device)
        for branch in branches:
            k, b = branch_kernel_bias(branch.conv, branch.bn, ref.weight)
            kernel, bias = kernel + k, bias + b
        self.dw_conv = conv_like(ref, kernel, bias)
        self.dw_conv_list = None

    def fuse_for_inference(self) -> None:
        """The hook :func:`visionzoo.optimize_for_inference` calls."""
        self.reparameterize()


# per stage: width (before the 2x and the scale), depthwise kernel, split_pw, use_rep, use_se,
# use_shortcut
_STAGES = (
    (64, 3, False, False, False, False),
    (128, 3, False, False, False, False),
    (256, 5, True, True, True, False),
    (512, 5, False, True, False, True),
)


class LCNetV2(ConvHeadModel):
    """A stride-2 conv and a depthwise-separable block as the stem, four stages (stride 4 to
    32), each opening with a strided block, then MobileNet's efficient head (pool, bias-free 1x1
    conv to ``head_hidden_size``, act).

    Args:
        scale: channel multiplier (widths rounded to multiples of 8).
        depths: blocks per stage.
        head_hidden_size: head conv width; None: no head conv.
        inference_mode: build the re-parameterisable blocks folded.
    """

    trunk = Trunk(stem=("stem",), stages=("stages.*",), checkpoint="block")

    def __init__(
        self,
        scale: float = 1.0,
        depths: tuple[int, ...] = (2, 2, 6, 2),
        *,
        head_hidden_size: int | None = 1280,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        drop_rate: float = 0.0,
        inference_mode: bool = False,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        if len(depths) != len(_STAGES):
            raise ValueError(f"LCNetV2 has {len(_STAGES)} stages: depths must have as many, got {depths}")
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        layers = dict(act_layer=act_layer, norm_layer=norm_layer, inference_mode=inference_mode)
        stem_chs, prev_chs = make_divisible(32 * scale), make_divisible(64 * scale)
        self.stem = nn.Sequential(
            ConvNormAct(in_chans, stem_chs, 3, stride=2, act_layer=act_layer, norm_layer=norm_layer),
            RepDepthwiseSeparable(stem_chs, prev_chs, 1, 3, **layers),  # type: ignore[arg-type]
        )
        stages = []
        self.feature_info = []
        for i, ((chs, kernel, split_pw, use_rep, use_se, use_shortcut), depth) in enumerate(
            zip(_STAGES, depths)
        ):
            out_chs = make_divisible(chs * 2 * scale)
            blocks = []
            for j in range(depth):
                blocks.append(
                    RepDepthwiseSeparable(
                        prev_chs,
                        out_chs,
                        2 if j == 0 else 1,
                        kernel,
                        split_pw=split_pw,
                        use_rep=use_rep,
                        use_se=use_se,
                        use_shortcut=use_shortcut,
                        **layers,  # type: ignore[arg-type]
                    )
                )
                prev_chs = out_chs
            stages.append(nn.Sequential(*blocks))
            self.feature_info.append(dict(num_chs=out_chs, reduction=2 ** (i + 2), module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self._init_conv_head(
            prev_chs,
            num_classes,
            global_pool,
            hidden_size=head_hidden_size or None,
            conv_layer=create_conv2d,
            act=act_or_identity(act_layer, inplace=True),
        )
        self._initialize()

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^stem", blocks=r"^stages\.(\d+)" if coarse else r"^stages\.(\d+)\.(\d+)")


LCNetV2Args = model_args_type(LCNetV2)

VARIANTS = {
    "lcnetv2_small": LCNetV2Args(scale=0.75, depths=(2, 2, 4, 2)),
    "lcnetv2_base": LCNetV2Args(scale=1.0, depths=(2, 2, 6, 2)),
    "lcnetv2_large": LCNetV2Args(scale=1.25, depths=(2, 2, 8, 2)),
}

WEIGHTS = {
    "lcnetv2_small.paddle_in1k": weight(default=True),
    "lcnetv2_base.ssld_in1k": weight(default=True),
    "lcnetv2_base.paddle_in1k": weight(),
    "lcnetv2_large.paddle_in1k": weight(default=True),
}

default_cfgs = register_family(
    __name__,
    model_cls=LCNetV2,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=0.875,
        interpolation="bicubic",
        first_conv="stem.0.conv",
        classifier="classifier",
        origin_url="https://github.com/PaddlePaddle/PaddleClas",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. lcnetv2_base
    return family_entrypoint(__name__, name)
