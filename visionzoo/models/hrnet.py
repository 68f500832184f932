"""HRNet: high-resolution networks for classification.

Papers:
* `Deep High-Resolution Representation Learning for Visual Recognition` - https://arxiv.org/abs/1908.07919
* `Beyond Self-Supervision: A Simple Yet Effective Network Distillation Alternative to Improve
  Backbones` (the ``_ssld`` weights) - https://arxiv.org/abs/2103.05959

Weights: ``ms_in1k`` are Microsoft's (MIT), ``gluon_in1k`` GluonCV's and ``paddle_in1k``
PaddleClas's SSLD-distilled ones; each tag's ``license`` field is timm's. Module names follow
timm's ``HighResolutionNet``, so its checkpoints (and those of its ``features_only`` class) load
unchanged.

The trunk is not a sequence: after a ResNet stem and stage, each stage runs parallel branches at
strides 4, 8, 16 and 32 and ends every module by fusing all of them into each. The classification
head widens each branch (``incre_modules``), then folds them from high to low resolution
(``downsamp_modules``) into one map (``final_layer``). Feature level 0 is the stem's first conv,
levels 1-4 the branches after the head's widening (``feature_location='incre'``, the default) or
as the last stage gives them (``feature_location=''``). As in timm, ``feature_info`` names the
levels ``stem`` and ``stage1``..``stage4``: labels, not modules, so the levels come from
``forward_intermediates`` (and ``features_only`` from this family's own backbone class).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple, cast

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..features import FeatureInfo, normalize_out_indices
from ..model import VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from .resnet.model import BasicBlock, Bottleneck

__all__ = [
    "HRStage",
    "HighResolutionModule",
    "HighResolutionNet",
    "HighResolutionNetFeatures",
    "default_cfgs",
]

BLOCK_TYPES: dict[str, type[nn.Module]] = {"BASIC": BasicBlock, "BOTTLENECK": Bottleneck}
HEAD_CHANNELS = (32, 64, 128, 256)  # the head's bottleneck widths per branch (x4 out)
HEAD_FEATURES = 2048  # width of the aggregated map the classifier pools
FEATURE_LOCATIONS = ("incre", "")
_TRUNK: tuple[str, ...] = ("conv2", "bn2", "act2", "layer1", "transition1", "stage2", "transition2", "stage3")
_TRUNK += ("transition3", "stage4")


class HRStage(NamedTuple):
    """One stage, in timm's config keys: ``num_modules`` fused modules of ``num_branches``
    branches, each a run of ``num_blocks[i]`` blocks of width ``num_channels[i]``."""

    num_modules: int
    num_branches: int
    block_type: str
    num_blocks: tuple[int, ...]
    num_channels: tuple[int, ...]
    fuse_method: str = "SUM"


def _as_stage(cfg: HRStage | Mapping[str, Any]) -> HRStage:
    stage = cfg if isinstance(cfg, HRStage) else HRStage(**cfg)
    if stage.block_type not in BLOCK_TYPES:
        raise ValueError(f"block_type must be one of {sorted(BLOCK_TYPES)}, got {stage.block_type!r}")
    if not len(stage.num_blocks) == len(stage.num_channels) == stage.num_branches:
        raise ValueError(
            f"num_branches={stage.num_branches} needs as many num_blocks and num_channels: {stage}"
        )
    return stage


def _conv_bn(in_chs: int, out_chs: int, kernel_size: int, stride: int = 1, *, act: bool) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(in_chs, out_chs, kernel_size, stride, kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_chs),
    ]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _blocks(block: type[nn.Module], in_chs: int, planes: int, depth: int) -> nn.Sequential:
    """``depth`` residual blocks; the first projects its shortcut where the width changes."""
    out_chs = planes * block.expansion  # type: ignore[attr-defined]
    down = None if in_chs == out_chs else _conv_bn(in_chs, out_chs, 1, act=False)
    layers = [block(in_chs, planes, 1, down)]
    layers += [block(out_chs, planes) for _ in range(depth - 1)]
    return nn.Sequential(*layers)


def _stages(
    width: int,
    *,
    stage1: tuple[int, int] = (4, 64),
    depth: int = 4,
    modules: tuple[int, int, int] = (1, 4, 3),
) -> dict[str, HRStage]:
    """Branch widths ``width * 2**i``; ``stage1`` the ResNet stage's (blocks, width); ``depth``
    blocks per branch; ``modules`` fused modules in stages 2-4."""
    stages = {"stage1": HRStage(1, 1, "BOTTLENECK", (stage1[0],), (stage1[1],))}
    for n in range(3):
        widths = tuple(width * 2**i for i in range(n + 2))
        stages[f"stage{n + 2}"] = HRStage(modules[n], n + 2, "BASIC", (depth,) * (n + 2), widths)
    return stages


_STAGE_OPTS = ("stage1", "depth", "modules")
_W18 = _stages(18)


# --- blocks ---------------------------------------------------------------------------------------
class HighResolutionModule(nn.Module):
    """Parallel branches, then each output is the ReLU'd sum of every branch brought to its
    resolution: upsampled by a 1x1 conv + nearest upsampling from lower resolutions, downsampled
    by strided 3x3 convs from higher ones."""

    def __init__(self, stage: HRStage, in_chs: Sequence[int]) -> None:
        super().__init__()
        block = BLOCK_TYPES[stage.block_type]
        if stage.fuse_method != "SUM":
            raise ValueError(f"fuse_method must be 'SUM', got {stage.fuse_method!r}")
        out_chs = [c * block.expansion for c in stage.num_channels]  # type: ignore[attr-defined]
        self.branches = nn.ModuleList(
            _blocks(block, c_in, c, n) for c_in, c, n in zip(in_chs, stage.num_channels, stage.num_blocks)
        )
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(self._fuse(out_chs, src, dst) for src in range(len(out_chs)))
            for dst in range(len(out_chs))
        )
        self.fuse_act = nn.ReLU(False)
        self.out_chs = out_chs

    @staticmethod
    def _fuse(chs: Sequence[int], src: int, dst: int) -> nn.Module:
        if src == dst:
            return nn.Identity()
        if src > dst:  # lower resolution: match the width, then upsample
            return nn.Sequential(
                nn.Conv2d(chs[src], chs[dst], 1, bias=False),
                nn.BatchNorm2d(chs[dst]),
                nn.Upsample(scale_factor=2 ** (src - dst), mode="nearest"),
            )
        steps = dst - src  # higher resolution: halve it step by step, the last step sets the width
        return nn.Sequential(
            *(
                _conv_bn(chs[src], chs[dst] if k == steps - 1 else chs[src], 3, 2, act=k < steps - 1)
                for k in range(steps)
            )
        )

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        x = [branch(t) for branch, t in zip(self.branches, x)]
        out = []
        for fuse in cast(Sequence[nn.ModuleList], self.fuse_layers):
            y = fuse[0](x[0])
            for j in range(1, len(x)):
                y = y + fuse[j](x[j])
            out.append(self.fuse_act(y))
        return out


def _transition(in_chs: Sequence[int], out_chs: Sequence[int]) -> nn.ModuleList:
    """Into the next stage: existing branches change width where needed; each new branch comes
    from the lowest-resolution one by strided 3x3 convs."""
    layers: list[nn.Module] = []
    for i, c in enumerate(out_chs):
        if i < len(in_chs):
            layers.append(nn.Identity() if c == in_chs[i] else _conv_bn(in_chs[i], c, 3, act=True))
        else:
            steps = i + 1 - len(in_chs)
            src = in_chs[-1]
            layers.append(
                nn.Sequential(
                    *(_conv_bn(src, c if k == steps - 1 else src, 3, 2, act=True) for k in range(steps))
                )
            )
    return nn.ModuleList(layers)


# --- the trunk walk, shared by the model and its backbone class -----------------------------------
def _run(module: nn.Module, x: Any, ckpt: bool) -> Any:
    return checkpoint(module, x, use_reentrant=False) if ckpt else module(x)


def _stem(m: Any, x: torch.Tensor) -> torch.Tensor:
    return m.act1(m.bn1(m.conv1(x)))


def _branches(m: Any, x: torch.Tensor, ckpt: bool) -> list[torch.Tensor]:
    """Stem's second conv to the last stage: the four branch outputs."""
    x = m.act2(m.bn2(m.conv2(x)))
    for block in m.layer1:
        x = _run(block, x, ckpt)
    xl = [t(x) for t in m.transition1]
    for transition, stage in ((None, m.stage2), (m.transition2, m.stage3), (m.transition3, m.stage4)):
        if transition is not None:
            # NOTE: as timm: a branch with a transition takes the lowest-resolution output
            xl = [xl[i] if isinstance(t, nn.Identity) else t(xl[-1]) for i, t in enumerate(transition)]
        for module in stage:
            xl = _run(module, xl, ckpt)
    return xl


def _levels(m: Any, xl: list[torch.Tensor], count: int, ckpt: bool) -> list[torch.Tensor]:
    """Feature levels 1..``count``: the branches, widened by the head's incre modules if read there."""
    if m.feature_location == "":
        return xl[:count]
    return [_run(m.incre_modules[i], xl[i], ckpt) for i in range(count)]


# --- model ----------------------------------------------------------------------------------------
class HighResolutionNet(VisionModel):
    """HRNet classifier.

    Args:
        stem_width: width of the stem's first conv.
        stage1: the ResNet stage after the stem (one branch).
        stage2, stage3, stage4: the multi-branch stages (:class:`HRStage`, or dicts of timm's keys).
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        drop_rate: dropout before the classifier.
        head_conv_bias: bias in the head's downsampling and final convs (PaddleClas's have none).
        feature_location: where levels 1-4 are read: ``'incre'`` after the head's widening
            bottlenecks, ``''`` the branches as the last stage gives them.
    """

    # a classifier head runs the branches through incre_modules, downsamp_modules and final_layer
    head_names: ClassVar[tuple[str, ...]] = (
        "incre_modules",
        "downsamp_modules",
        "final_layer",
        "global_pool",
        "classifier",
    )
    classifier_name = "classifier"
    # NOTE: each fusion upsamples a branch by 2**k to the size of a higher-resolution one: the
    # sides must halve evenly down to stride 32 (as in timm, whose HRNet fails the same way)
    input_multiple: ClassVar[int] = 32
    feature_modules = False  # feature_info's module names are timm's labels (see the docstring)

    def __init__(
        self,
        stem_width: int = 64,
        stage1: HRStage | Mapping[str, Any] = _W18["stage1"],
        stage2: HRStage | Mapping[str, Any] = _W18["stage2"],
        stage3: HRStage | Mapping[str, Any] = _W18["stage3"],
        stage4: HRStage | Mapping[str, Any] = _W18["stage4"],
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        drop_rate: float = 0.0,
        head_conv_bias: bool = True,
        feature_location: str = "incre",
    ) -> None:
        super().__init__()
        if feature_location not in FEATURE_LOCATIONS:
            raise ValueError(f"feature_location must be 'incre' or '', got {feature_location!r}")
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.feature_location = feature_location
        self.conv1 = nn.Conv2d(in_chans, stem_width, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(stem_width, 64, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.act2 = nn.ReLU(inplace=True)

        first = _as_stage(stage1)
        block = BLOCK_TYPES[first.block_type]
        self.layer1 = _blocks(block, 64, first.num_channels[0], first.num_blocks[0])
        chs = [first.num_channels[0] * block.expansion]  # type: ignore[attr-defined]
        for i, cfg in enumerate((stage2, stage3, stage4)):
            stage = _as_stage(cfg)
            expansion = BLOCK_TYPES[stage.block_type].expansion  # type: ignore[attr-defined]
            out_chs = [c * expansion for c in stage.num_channels]
            self.add_module(f"transition{i + 1}", _transition(chs, out_chs))
            modules = []
            chs = out_chs
            for _ in range(stage.num_modules):
                modules.append(HighResolutionModule(stage, chs))
                chs = modules[-1].out_chs
            self.add_module(f"stage{i + 2}", nn.Sequential(*modules))
        if len(chs) != len(HEAD_CHANNELS):
            raise ValueError(f"the head needs {len(HEAD_CHANNELS)} branches in stage4, got {len(chs)}")

        # the classification head: widen each branch, fold them high to low resolution, widen
        self.incre_modules: nn.ModuleList | None = nn.ModuleList(
            _blocks(Bottleneck, c, w, 1) for c, w in zip(chs, HEAD_CHANNELS)
        )
        head_chs = [w * Bottleneck.expansion for w in HEAD_CHANNELS]
        self.downsamp_modules: nn.Module = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=head_conv_bias),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            )
            for c_in, c_out in itertools.pairwise(head_chs)
        )
        self.final_layer: nn.Module = nn.Sequential(
            nn.Conv2d(head_chs[-1], HEAD_FEATURES, 1, bias=head_conv_bias),
            nn.BatchNorm2d(HEAD_FEATURES),
            nn.ReLU(inplace=True),
        )
        level_chs = head_chs if feature_location == "incre" else chs
        self.feature_info = [dict(num_chs=64, reduction=2, module="stem")]
        self.feature_info += [
            dict(num_chs=c, reduction=2 ** (i + 2), module=f"stage{i + 1}") for i, c in enumerate(level_chs)
        ]
        # the level forward_features ends at once the head is pruned away (prune_intermediate_layers)
        self.last_level = len(self.feature_info) - 1
        self._init_head(HEAD_FEATURES, num_classes, global_pool)
        self._initialize()

    def init_weights(self) -> None:
        """He-normal (fan-out) convs, unit norms."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        after_stage = (99999,)  # a transition joins the stage before it
        return dict(
            stem=r"^conv[12]|bn[12]",
            blocks=r"^(?:layer|stage|transition)(\d+)"
            if coarse
            else [
                (r"^layer(\d+)\.(\d+)", None),
                (r"^stage(\d+)\.(\d+)", None),
                (r"^transition(\d+)", after_stage),
            ],
        )

    # --- the walk: a stem, then four branches computed together -----------------------------------
    def _has_head(self) -> bool:
        return not isinstance(self.final_layer, nn.Identity)

    def _aggregate(self, levels: list[torch.Tensor]) -> torch.Tensor:
        y = levels[0]
        for down, level in zip(cast(nn.ModuleList, self.downsamp_modules), levels[1:]):
            y = level + down(y)
        return self.final_layer(y)

    def _walk(
        self, x: torch.Tensor, last: int, *, aggregate: bool
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(output, [levels 0..last])``: the aggregated head's map, else level ``last``."""
        ckpt = self._checkpointing()
        x = _stem(self, x)
        if last == 0:
            return x, [x]
        levels = _levels(self, _branches(self, x, ckpt), last, ckpt)
        if aggregate and last == len(self.feature_info) - 1 and self._has_head():
            if self.feature_location == "":  # levels were read before the head's widening
                levels_in = [self.incre_modules[i](t) for i, t in enumerate(levels)]  # type: ignore[index]
                return self._aggregate(levels_in), [x, *levels]
            return self._aggregate(levels), [x, *levels]
        return levels[-1], [x, *levels]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The aggregated ``(B, 2048, H/32, W/32)`` map; after pruning, the last kept level."""
        return self._walk(x, self.last_level, aggregate=True)[0]

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The branches come out of the last stage together: an early stop saves only the head."""
        last = min(max(take), self.last_level) if stop_early else self.last_level
        if max(take) > self.last_level:
            raise ValueError(
                f"feature level {max(take)} was pruned away; this model keeps 0..{self.last_level}"
            )
        final, levels = self._walk(x, last, aggregate=True)
        return final, [levels[i] for i in sorted(take)]

    def _prune_trunk(self, max_index: int) -> None:
        """The branch levels need the whole trunk: only a cut at the stem removes it."""
        if max_index == 0:
            for name in _TRUNK:
                setattr(self, name, nn.Identity())
        if isinstance(self.incre_modules, nn.ModuleList):
            kept = max_index if self.feature_location == "incre" else 0
            self.incre_modules = self.incre_modules[:kept]
        self.last_level = max_index

    def _prune_head(self) -> None:
        """The aggregation (downsampling and final convs) feeds only the classifier: it goes too."""
        self.downsamp_modules = nn.Identity()
        self.final_layer = nn.Identity()
        if self.num_features == HEAD_FEATURES:  # the whole trunk kept: features end at level 4
            self.num_features = self.head_hidden_size = self.feature_info[self.last_level]["num_chs"]
        super()._prune_head()


class HighResolutionNetFeatures(nn.Module):
    """HRNet backbone (``features_only=True``): the trunk and, with ``feature_location='incre'``,
    the head's widening bottlenecks; returns the levels at ``out_indices``. Its modules and
    state-dict keys are those of timm's class of this name."""

    output_fmt = "NCHW"  # the levels' layout, as every backbone says

    def __init__(self, model: HighResolutionNet, out_indices: Any = (0, 1, 2, 3, 4)) -> None:
        super().__init__()
        indices = normalize_out_indices(out_indices, len(model.feature_info))
        self.feature_info = FeatureInfo(model.feature_info, indices)
        self.feature_location = model.feature_location
        self.in_chans = model.in_chans
        self.grad_checkpointing = False
        for name in ("conv1", "bn1", "act1", *_TRUNK):
            self.add_module(name, getattr(model, name))
        self.incre_modules = model.incre_modules if model.feature_location == "incre" else None
        self._out = sorted(indices)  # returned in forward order, as timm's

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        ckpt = self.grad_checkpointing and self.training and torch.is_grad_enabled()
        x = _stem(self, x)
        levels = [x]
        if max(self._out) > 0:
            levels += _levels(self, _branches(self, x, ckpt), max(self._out), ckpt)
        return [levels[i] for i in self._out]


HighResolutionNetArgs = model_args_type(HighResolutionNet)


def _hrnet(width: int, **kwargs: Any) -> Any:
    return HighResolutionNetArgs(
        **_stages(width, **{k: kwargs.pop(k) for k in _STAGE_OPTS if k in kwargs}), **kwargs
    )


VARIANTS: dict[str, Any] = {
    "hrnet_w18_small": _hrnet(16, stage1=(1, 32), depth=2, modules=(1, 1, 1)),
    "hrnet_w18_small_v2": _hrnet(18, stage1=(2, 64), depth=2, modules=(1, 3, 2)),
    "hrnet_w18": _hrnet(18),
    "hrnet_w30": _hrnet(30),
    "hrnet_w32": _hrnet(32),
    "hrnet_w40": _hrnet(40),
    "hrnet_w44": _hrnet(44),
    "hrnet_w48": _hrnet(48),
    "hrnet_w64": _hrnet(64),
    # PaddleClas's SSLD-distilled weights: the head's convs have no bias
    "hrnet_w18_ssld": _hrnet(18, head_conv_bias=False),
    "hrnet_w48_ssld": _hrnet(48, head_conv_bias=False),
}

# --- weights --------------------------------------------------------------------------------------
_GLUON = dict(interpolation="bicubic", license="apache-2.0")
_SSLD_RECIPE = dict(crop_pct=0.95, test_crop_pct=1.0, test_input_size=(3, 288, 288))

# "arch.tag": what differs from the family's cfg defaults; default=True marks an arch's default tag
WEIGHTS: dict[str, dict[str, Any]] = {
    "hrnet_w18_small.gluon_in1k": weight(_GLUON, default=True),
    "hrnet_w18_small.ms_in1k": weight(),
    "hrnet_w18_small_v2.gluon_in1k": weight(_GLUON, default=True),
    "hrnet_w18_small_v2.ms_in1k": weight(),
    "hrnet_w18.ms_aug_in1k": weight(default=True, crop=0.95),
    "hrnet_w18.ms_in1k": weight(),
    "hrnet_w30.ms_in1k": weight(),
    "hrnet_w32.ms_in1k": weight(),
    "hrnet_w40.ms_in1k": weight(),
    "hrnet_w44.ms_in1k": weight(),
    "hrnet_w48.ms_in1k": weight(),
    "hrnet_w64.ms_in1k": weight(),
    "hrnet_w18_ssld.paddle_in1k": weight(_SSLD_RECIPE),
    "hrnet_w48_ssld.paddle_in1k": weight(_SSLD_RECIPE),
}

default_cfgs = register_family(
    __name__,
    model_cls=HighResolutionNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        interpolation="bilinear", pool_size=(7, 7), first_conv="conv1", classifier="classifier", license="mit"
    ),
    feature_cfg=dict(feature_cls=HighResolutionNetFeatures),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. hrnet_w18
    return family_entrypoint(__name__, name)
