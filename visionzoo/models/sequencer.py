"""Sequencer: an MLP-Mixer-like channels-last network whose token mixing is a pair of
bidirectional LSTMs, one along each image column and one along each row, their outputs
concatenated and projected back to the width: long-range mixing at a cost linear in the side.

Paper: `Sequencer: Deep LSTM for Image Classification` - https://arxiv.org/abs/2205.01972

Weights: the authors' ImageNet-1k models (Apache-2.0); module names follow timm's ``Sequencer2d``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from functools import partial
from itertools import accumulate
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from ..layers import DropPath, Mlp, PatchEmbed, lecun_normal_
from ..layers.activations import LayerType
from ..layers.classifier import ClassifierHead
from ..layers.create_act import get_act_layer
from ..model import Trunk, VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "LSTM2d",
    "Sequencer2d",
    "Sequencer2dBlock",
    "Sequencer2dStage",
    "checkpoint_filter_fn",
    "default_cfgs",
]

_UNIONS = ("cat", "add", "vertical", "horizontal")
_LAYER_NORM = partial(nn.LayerNorm, eps=1e-6)


class LSTM2d(nn.Module):
    """Token mixing over a ``(B, H, W, C)`` map: an LSTM along every column (``rnn_v``) and one
    along every row (``rnn_h``), bidirectional by default, merged by ``union`` (``cat``: side by
    side, ``add``: summed, ``vertical`` / ``horizontal``: that one alone), then ``fc`` back to
    ``input_size`` channels (``with_fc``; without it the merged width must already be that)."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        fc: nn.Linear | None
        rnn_v: nn.LSTM | None
        rnn_h: nn.LSTM | None

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        bidirectional: bool = True,
        union: str = "cat",
        with_fc: bool = True,
    ) -> None:
        super().__init__()
        if union not in _UNIONS:
            raise ValueError(f"union={union!r}; valid: {', '.join(map(repr, _UNIONS))}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = 2 * hidden_size if bidirectional else hidden_size
        self.union = union
        merged = 2 * self.output_size if union == "cat" else self.output_size
        if not with_fc and merged != input_size:
            raise ValueError(
                f"without with_fc the merged LSTM width ({merged}, union={union!r}) must equal "
                f"input_size ({input_size})"
            )

        def lstm() -> nn.LSTM:
            return nn.LSTM(
                input_size, hidden_size, num_layers, bias=bias, batch_first=True, bidirectional=bidirectional
            )

        # NOTE: fc registered first, as timm's (the parameter order of optimizer groups)
        self.fc = nn.Linear(merged, input_size) if with_fc else None
        self.rnn_v = lstm() if union != "horizontal" else None
        self.rnn_h = lstm() if union != "vertical" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        v: torch.Tensor | None = None
        if self.rnn_v is not None:  # each column a sequence of H tokens
            v = self.rnn_v(x.permute(0, 2, 1, 3).reshape(-1, h, c))[0]
            v = v.reshape(b, w, h, -1).permute(0, 2, 1, 3)
        hz: torch.Tensor | None = None
        if self.rnn_h is not None:  # each row a sequence of W tokens
            hz = self.rnn_h(x.reshape(-1, w, c))[0].reshape(b, h, w, -1)
        if v is not None and hz is not None:
            x = torch.cat([v, hz], dim=-1) if self.union == "cat" else v + hz
        elif v is not None:
            x = v
        elif hz is not None:
            x = hz
        if self.fc is not None:
            x = self.fc(x)
        return x


class Sequencer2dBlock(nn.Module):
    """Pre-norm residual block: ``x + LSTM2d(norm1(x))``, then ``x + Mlp(norm2(x))``."""

    def __init__(
        self,
        dim: int,
        hidden_size: int,
        *,
        mlp_ratio: float = 3.0,
        norm_layer: Callable[..., nn.Module] = _LAYER_NORM,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        num_layers: int = 1,
        bidirectional: bool = True,
        union: str = "cat",
        with_fc: bool = True,
        drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.rnn_tokens = LSTM2d(
            dim, hidden_size, num_layers=num_layers, bidirectional=bidirectional, union=union, with_fc=with_fc
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp_channels = Mlp(dim, int(mlp_ratio * dim), act_layer=act_layer, drop=drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.rnn_tokens(self.norm1(x)))
        return x + self.drop_path(self.mlp_channels(self.norm2(x)))


class Downsample2d(nn.Module):
    """A ``patch_size`` strided conv on a channels-last map (1: a per-token projection)."""

    def __init__(self, input_dim: int, output_dim: int, patch_size: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(input_dim, output_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class Sequencer2dStage(nn.Module):
    """An optional :class:`Downsample2d` then ``depth`` :class:`Sequencer2dBlock`."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        depth: int,
        patch_size: int,
        *,
        downsample: bool,
        drop_path: float,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if not downsample and dim != dim_out:
            raise ValueError(f"a stage without downsampling keeps its width: {dim} != {dim_out}")
        self.downsample = Downsample2d(dim, dim_out, patch_size) if downsample else nn.Identity()
        self.blocks = nn.Sequential(
            *[Sequencer2dBlock(dim_out, drop_path=drop_path, **kwargs) for _ in range(depth)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class Sequencer2d(VisionModel):
    """A patch-embedding stem, then stages of Sequencer blocks (each after the first behind a
    strided-conv downsample), all channels-last; a final norm, pooling and a linear classifier.

    Args:
        layers: blocks per stage.
        patch_sizes: the stem's patch size, then each later stage's downsampling stride.
        embed_dims: width per stage.
        hidden_sizes: LSTM hidden width per stage (per direction).
        mlp_ratios: channel-MLP expansion per stage.
        img_size: accepted for timm's signature; the model takes any size (the LSTMs run along
            whatever sides the map has).
        num_rnn_layers, bidirectional, union, with_fc: the :class:`LSTM2d` options.
        proj_drop_rate: dropout inside the channel MLPs.
        drop_path_rate: stochastic depth, the same rate in every block (as timm).
        nlhb: initialise the classifier bias to ``-log(num_classes)``.
        stem_norm: a norm after the patch embedding.
    """

    trunk = Trunk(stem=("stem",), stages=("stages.*",), post=("norm",), norm_last=True)
    classifier_name = "head.fc"
    output_fmt: ClassVar[str] = "NHWC"  # of forward_features and the features_only levels
    drop_path_schedule: ClassVar[str] = "uniform"

    def __init__(
        self,
        num_classes: int = 1000,
        img_size: int | None = 224,
        in_chans: int = 3,
        global_pool: str = "avg",
        layers: Sequence[int] = (4, 3, 8, 3),
        patch_sizes: Sequence[int] = (7, 2, 2, 1),
        embed_dims: Sequence[int] = (192, 384, 384, 384),
        hidden_sizes: Sequence[int] = (48, 96, 96, 96),
        mlp_ratios: Sequence[float] = (3.0, 3.0, 3.0, 3.0),
        *,
        act_layer: LayerType = nn.GELU,
        norm_eps: float = 1e-6,
        num_rnn_layers: int = 1,
        bidirectional: bool = True,
        union: str = "cat",
        with_fc: bool = True,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        nlhb: bool = False,
        stem_norm: bool = False,
    ) -> None:
        super().__init__()
        if not len(layers) == len(patch_sizes) == len(embed_dims) == len(hidden_sizes) == len(mlp_ratios):
            raise ValueError(
                "layers, patch_sizes, embed_dims, hidden_sizes and mlp_ratios need one entry per stage, "
                f"got lengths {[len(a) for a in (layers, patch_sizes, embed_dims, hidden_sizes, mlp_ratios)]}"
            )
        act = get_act_layer(act_layer)
        if act is None:
            raise ValueError(f"Sequencer2d needs an act_layer, got {act_layer!r}")
        norm = partial(nn.LayerNorm, eps=norm_eps)
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.nlhb = nlhb
        self.stem = PatchEmbed(
            img_size=None,
            patch_size=patch_sizes[0],
            in_chans=in_chans,
            embed_dim=embed_dims[0],
            norm_layer=norm if stem_norm else None,
            output_fmt="NHWC",
        )
        stages = []
        self.feature_info = []
        prev = embed_dims[0]
        for i, reduction in enumerate(accumulate(patch_sizes, lambda a, b: a * b)):
            stages.append(
                Sequencer2dStage(
                    prev,
                    embed_dims[i],
                    layers[i],
                    patch_sizes[i],
                    downsample=i > 0,
                    drop_path=drop_path_rate,
                    hidden_size=hidden_sizes[i],
                    mlp_ratio=mlp_ratios[i],
                    norm_layer=norm,
                    act_layer=act,
                    num_layers=num_rnn_layers,
                    bidirectional=bidirectional,
                    union=union,
                    with_fc=with_fc,
                    drop=proj_drop_rate,
                )
            )
            prev = embed_dims[i]
            self.feature_info.append(dict(num_chs=prev, reduction=reduction, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.norm = norm(prev)
        self.num_features = prev
        self.num_classes = num_classes
        self.head = ClassifierHead(
            prev, num_classes, pool_type=global_pool, drop_rate=drop_rate, input_fmt="NHWC"
        )
        self.head_hidden_size = self.head.num_features
        self._initialize()

    def init_weights(self) -> None:
        """The reference init: a zero classifier (bias ``-log(num_classes)`` with ``nlhb``),
        Xavier-uniform linears (MLP biases ~N(0, 1e-6)), LeCun-normal convs, LSTM weights
        uniform in +-1/sqrt(hidden)."""
        head_bias = -math.log(self.num_classes) if self.nlhb and self.num_classes else 0.0
        for name, m in self.named_modules():
            if isinstance(m, nn.Linear):
                if name.startswith("head"):
                    nn.init.zeros_(m.weight)
                    nn.init.constant_(m.bias, head_bias)
                else:
                    nn.init.xavier_uniform_(m.weight)
                    if m.bias is not None:
                        if "mlp" in name:
                            nn.init.normal_(m.bias, std=1e-6)
                        else:
                            nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv2d):
                lecun_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LSTM):
                bound = 1.0 / math.sqrt(m.hidden_size)
                for p in m.parameters():
                    nn.init.uniform_(p, -bound, bound)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=[(r"^stages\.(\d+)", None), (r"^norm", (99999,))]
            if coarse
            else [
                (r"^stages\.(\d+)\.blocks\.(\d+)", None),
                (r"^stages\.(\d+)\.downsample", (0,)),
                (r"^norm", (99999,)),
            ],
        )

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The levels as ``(B, C, H, W)`` maps (the final output stays channels-last)."""
        x, levels = super()._intermediates(x, take, stop_early=stop_early, norm=norm)
        return x, [t.permute(0, 3, 1, 2).contiguous() for t in levels]


_ORIGINAL_RENAMES = (
    # the original nests every stage's blocks under ``blocks.i``, each stage ending with the
    # next one's downsample
    (re.compile(r"^blocks\.(\d+)\.\d+\.down\."), lambda m: f"stages.{int(m.group(1)) + 1}.downsample.down."),
    (re.compile(r"^blocks\.(\d+)\.(\d+)\."), lambda m: f"stages.{m.group(1)}.blocks.{m.group(2)}."),
    (re.compile(r"^head\."), lambda m: "head.fc."),
)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """The authors' checkpoints: weights under ``model``, stages as ``blocks.i.j`` (the
    downsample of stage ``i + 1`` the last item of ``blocks.i``), the classifier as ``head``."""
    if "stages.0.blocks.0.norm1.weight" in state_dict:
        return state_dict
    state_dict = state_dict.get("model", state_dict)
    out = {}
    for key, value in state_dict.items():
        for pattern, repl in _ORIGINAL_RENAMES:
            key = pattern.sub(repl, key)
        out[key] = value
    return out


Sequencer2dArgs = model_args_type(Sequencer2d)


def _sequencer(layers: tuple[int, int, int, int]) -> Any:
    return Sequencer2dArgs(
        layers=layers,
        patch_sizes=(7, 2, 1, 1),
        embed_dims=(192, 384, 384, 384),
        hidden_sizes=(48, 96, 96, 96),
        mlp_ratios=(3.0, 3.0, 3.0, 3.0),
    )


VARIANTS = {
    "sequencer2d_s": _sequencer((4, 3, 8, 3)),
    "sequencer2d_m": _sequencer((4, 3, 14, 3)),
    "sequencer2d_l": _sequencer((8, 8, 16, 4)),
}

WEIGHTS: dict[str, dict[str, Any]] = {f"sequencer2d_{s}.in1k": weight(default=True) for s in ("s", "m", "l")}

default_cfgs = register_family(
    __name__,
    model_cls=Sequencer2d,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        fixed_input_size=True, first_conv="stem.proj", classifier="head.fc", license="apache-2.0"
    ),
    feature_cfg=dict(out_indices=(0, 1, 2), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. sequencer2d_s
    return family_entrypoint(__name__, name)
