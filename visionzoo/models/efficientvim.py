"""EfficientViM: a mobile Vision Mamba whose token mixer is the hidden-state-mixer form of state
space duality (HSM-SSD), in plain convs, softmax and matmuls.

Paper: `EfficientViM: Efficient Vision Mamba with Hidden State Mixer based State Space Duality`
(CVPR 2025) - https://arxiv.org/abs/2411.15241 (original code: https://github.com/mlvlab/EfficientViM)

Weights: the authors' ImageNet-1k models (MIT), some with a distillation head. Module names follow
timm's ``efficientvim``, so timm checkpoints load unchanged. The head fuses four classifiers under
learned softmax weights: one per stage on the pooled hidden state of its last block, one on the
pooled final map; ``forward_features`` therefore returns that list of ``(B, C, L)`` tensors, as
timm's does. :func:`visionzoo.reparameterize` folds the conv + batch norm pairs and the (gated)
depthwise residual branches.
"""

from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torch.utils.checkpoint import checkpoint

from ..layers import DropPath, LayerNorm, LayerNorm2d, SqueezeExcite, trunc_normal_
from ..layers.drop import calculate_drop_path_rates
from ..model import DistilledHeads, Trunk, VisionModel, feature_take_indices
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "HSMSSD",
    "ConvLayer1d",
    "ConvLayer2d",
    "EfficientViM",
    "EfficientViMBlock",
    "EfficientViMDistilled",
    "EfficientViMStage",
    "EfficientViMStem",
    "PatchMerging",
    "checkpoint_filter_fn",
    "default_cfgs",
]

_EPS = 1e-5


class _ConvLayer(nn.Module):
    """Bias-free conv, optional batch norm, optional activation; :meth:`fuse` folds the norm into
    the conv in place (the module stays, its ``norm`` becomes None)."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read string annotations
        conv: nn.Conv1d | nn.Conv2d
        norm: nn.Module | None
        act: nn.Module | None

    conv_cls: type[nn.Module] = nn.Conv2d
    norm_cls: type[nn.Module] = nn.BatchNorm2d

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        *,
        norm: bool = True,
        act: bool = True,
        bn_weight_init: float = 1.0,
    ) -> None:
        super().__init__()
        conv = self.conv_cls(
            in_dim, out_dim, kernel_size, stride=stride, padding=padding, groups=groups, bias=False
        )
        self.conv = cast("nn.Conv1d | nn.Conv2d", conv)
        if norm:
            bn = cast(nn.BatchNorm2d, self.norm_cls(out_dim))
            nn.init.constant_(bn.weight, bn_weight_init)
            nn.init.zeros_(bn.bias)
            self.norm = bn
        else:
            self.norm = None
        self.act = nn.ReLU() if act else None

    @torch.no_grad()
    def fuse(self) -> nn.Module:
        if isinstance(self.norm, nn.modules.batchnorm._BatchNorm):
            self.conv = fuse_conv_bn_eval(self.conv, self.norm)  # type: ignore[arg-type]
            self.norm = None
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.act is not None:
            x = self.act(x)
        return x


class ConvLayer2d(_ConvLayer):
    """2-D :class:`_ConvLayer` (conv, batch norm, ReLU)."""


class ConvLayer1d(_ConvLayer):
    """1-D :class:`_ConvLayer`, over flattened tokens ``(B, C, L)``."""

    conv_cls = nn.Conv1d
    norm_cls = nn.BatchNorm1d


@torch.no_grad()
def _fold_depthwise_residual(conv: nn.Conv2d, gate: torch.Tensor | None = None) -> None:
    """``x + g * (conv(x) - x)`` (``g`` None: ``x + conv(x)``) as one depthwise conv, in place."""
    kh, kw = conv.kernel_size
    if gate is None:
        conv.weight[:, 0, kh // 2, kw // 2] += 1.0
        return
    gate = gate.reshape(-1)
    conv.weight.mul_(gate.view(-1, 1, 1, 1))
    if conv.bias is not None:
        conv.bias.mul_(gate)
    conv.weight[:, 0, kh // 2, kw // 2] += 1.0 - gate


class PatchMerging(nn.Module):
    """Stride-2 MBConv with SE (1x1 expand, 3x3 depthwise, SE, 1x1 project), between two residual
    depthwise 3x3 convs; :meth:`fuse` folds the residuals into those convs."""

    def __init__(self, in_dim: int, out_dim: int, ratio: float = 4.0) -> None:
        super().__init__()
        self.fused = False
        hidden = int(out_dim * ratio)
        self.conv = nn.Sequential(
            ConvLayer2d(in_dim, hidden, 1),
            ConvLayer2d(hidden, hidden, 3, 2, 1, groups=hidden),
            SqueezeExcite(hidden, 0.25),
            ConvLayer2d(hidden, out_dim, 1, act=False),
        )
        self.dwconv1 = ConvLayer2d(in_dim, in_dim, 3, padding=1, groups=in_dim, act=False)
        self.dwconv2 = ConvLayer2d(out_dim, out_dim, 3, padding=1, groups=out_dim, act=False)

    @torch.no_grad()
    def fuse(self) -> nn.Module:
        if not self.fused:
            self.dwconv1.fuse()
            self.dwconv2.fuse()
            _fold_depthwise_residual(cast(nn.Conv2d, self.dwconv1.conv))
            _fold_depthwise_residual(cast(nn.Conv2d, self.dwconv2.conv))
            self.fused = True
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dwconv1(x) if self.fused else x + self.dwconv1(x)
        x = self.conv(x)
        return self.dwconv2(x) if self.fused else x + self.dwconv2(x)


class HSMSSD(nn.Module):
    """Hidden-state-mixer SSD over the ``N = H * W`` tokens of ``(B, C, H, W)``.

    ``B, C, dt`` (each ``state_dim`` wide) come from a 1x1 then a depthwise 3x3 conv; ``a =
    softmax_N(dt + A)``; the hidden state ``h = x (a * B)^T`` is ``(B, C, state_dim)``; it is
    mixed there (``z``-gated SiLU plus a ``D`` skip, then a projection) and read out as ``y = h C``.
    Returns ``(y as (B, C, H, W), h)``.
    """

    def __init__(
        self,
        dim: int,
        ssd_expand: float = 1.0,
        state_dim: int = 64,
        a_init_range: tuple[float, float] = (1.0, 16.0),
    ) -> None:
        super().__init__()
        self.ssd_expand = ssd_expand
        self.d_inner = int(ssd_expand * dim)
        self.state_dim = state_dim
        self.BCdt_proj = ConvLayer1d(dim, 3 * state_dim, 1, norm=False, act=False)
        self.dw = ConvLayer2d(
            3 * state_dim, 3 * state_dim, 3, 1, 1, groups=3 * state_dim, norm=False, act=False
        )
        self.hz_proj = ConvLayer1d(dim, 2 * self.d_inner, 1, norm=False, act=False)
        self.out_proj = ConvLayer1d(self.d_inner, dim, 1, norm=False, act=False)
        self.a_init_range = a_init_range
        self.A = nn.Parameter(torch.empty(state_dim))
        self.act = nn.SiLU()
        self.D = nn.Parameter(torch.ones(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.A, *self.a_init_range)
        nn.init.ones_(self.D)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, _, height, width = x.shape
        x = x.flatten(2)
        bcdt = self.dw(self.BCdt_proj(x).reshape(batch, -1, height, width)).flatten(2)
        b, c, dt = torch.split(bcdt, [self.state_dim, self.state_dim, self.state_dim], dim=1)
        a = (dt + self.A.view(1, -1, 1)).softmax(-1)
        h = x @ (a * b).transpose(-2, -1)
        h, z = torch.split(self.hz_proj(h), [self.d_inner, self.d_inner], dim=1)
        h = self.out_proj(h * self.act(z) + h * self.D)
        y = (h @ c).reshape(batch, -1, height, width).contiguous()
        return y, h


class _FFN(nn.Module):
    """1x1 conv + BN + ReLU, 1x1 conv + BN (zero-initialised scale)."""

    def __init__(self, in_dim: int, dim: int) -> None:
        super().__init__()
        self.fc1 = ConvLayer2d(in_dim, dim, 1)
        self.fc2 = ConvLayer2d(dim, in_dim, 1, act=False, bn_weight_init=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(x))


class EfficientViMBlock(nn.Module):
    """Depthwise conv, HSM-SSD, depthwise conv, FFN: each a residual branch gated by a
    per-channel ``sigmoid(alpha)`` (``x + g * (f(x) - x)``). Returns ``(x, hidden state)``."""

    def __init__(
        self,
        dim: int,
        mlp_ratio: float = 4.0,
        ssd_expand: float = 1.0,
        state_dim: int = 64,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.fused = False
        self.mixer = HSMSSD(dim, ssd_expand=ssd_expand, state_dim=state_dim)
        self.norm = LayerNorm2d(dim, eps=_EPS)
        self.dwconv1 = ConvLayer2d(dim, dim, 3, padding=1, groups=dim, act=False, bn_weight_init=0.0)
        self.dwconv2 = ConvLayer2d(dim, dim, 3, padding=1, groups=dim, act=False, bn_weight_init=0.0)
        self.ffn = _FFN(dim, int(dim * mlp_ratio))
        self.alpha = nn.Parameter(torch.full((4, dim), 1e-4))
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def reset_parameters(self) -> None:
        nn.init.constant_(self.alpha, 1e-4)

    @torch.no_grad()
    def fuse(self) -> nn.Module:
        if not self.fused:
            gate = self.alpha.detach().sigmoid()
            self.dwconv1.fuse()
            self.dwconv2.fuse()
            _fold_depthwise_residual(cast(nn.Conv2d, self.dwconv1.conv), gate[0])
            _fold_depthwise_residual(cast(nn.Conv2d, self.dwconv2.conv), gate[2])
            self.fused = True
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        gate = torch.sigmoid(self.alpha).view(4, -1, 1, 1)
        x = self.dwconv1(x) if self.fused else x + self.drop_path(gate[0] * (self.dwconv1(x) - x))
        y, h = self.mixer(self.norm(x))
        x = x + self.drop_path(gate[1] * (y - x))
        x = self.dwconv2(x) if self.fused else x + self.drop_path(gate[2] * (self.dwconv2(x) - x))
        x = x + self.drop_path(gate[3] * (self.ffn(x) - x))
        return x, h


class EfficientViMStage(nn.Module):
    """Blocks, then (except in the last stage) a :class:`PatchMerging` downsample. Returns
    ``(this stage's map, the next stage's input, the last block's hidden state)``."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        depth: int,
        *,
        mlp_ratio: float = 4.0,
        downsample: bool = False,
        ssd_expand: float = 1.0,
        state_dim: int = 64,
        drop_path: list[float] | None = None,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"an EfficientViM stage needs at least one block, got depth={depth}")
        rates = drop_path or [0.0] * depth
        self.blocks = nn.ModuleList(
            [EfficientViMBlock(in_dim, mlp_ratio, ssd_expand, state_dim, rates[i]) for i in range(depth)]
        )
        self.downsample = PatchMerging(in_dim, out_dim) if downsample else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = x
        for block in self.blocks:
            x, h = block(x)
        x_out = x
        if self.downsample is not None:
            x = self.downsample(x)
        return x_out, x, h


class EfficientViMStem(nn.Module):
    """Four stride-2 3x3 conv + BN layers (ReLU between them) widening to ``dim``: stride 16."""

    def __init__(self, in_chs: int, dim: int) -> None:
        super().__init__()
        chs = [in_chs, dim // 8, dim // 4, dim // 2, dim]
        self.conv = nn.Sequential(*[ConvLayer2d(chs[i], chs[i + 1], 3, 2, 1, act=i < 3) for i in range(4)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class EfficientViM(DistilledHeads, VisionModel):
    """Stem (four stride-2 convs: stride 16), three EfficientViM stages (strides 16, 32, 64), and
    a head fusing four classifiers under learned softmax weights: one per stage on the pooled
    (LayerNorm-ed) hidden state of its last block, one on the pooled, normalised final map.

    ``forward_features`` returns those four inputs, ``(B, C_i, L_i)`` each; ``forward_head``
    pools them (``pre_logits``: concatenated, ``(B, num_features)``). ``distillation`` adds a second
    set of heads and weights, averaged in at inference.

    Args:
        in_chans, num_classes: input channels, classes (0: no classifier).
        embed_dim, depths, state_dim: per-stage widths, blocks and HSM-SSD state sizes.
        mlp_ratio, ssd_expand: FFN expansion, HSM-SSD inner width over the stage width.
        global_pool: ``'avg'``, or ``''`` (only without classes: the head then returns its inputs).
        drop_rate, drop_path_rate: head dropout, stochastic depth (linear over all blocks).
        distillation: the distillation head.
    """

    trunk = Trunk(stem=("patch_embed",), stages=("stages.*",))
    features_are_list = True
    # NOTE: a stage returns (level map, downsampled map, hidden state): its output is no level
    feature_modules = False
    classifier_name = "heads.0"
    head_names = ("norm", "head_drop", "heads", "heads_dist")

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: tuple[int, ...] = (128, 256, 512),
        depths: tuple[int, ...] = (2, 2, 2),
        mlp_ratio: float = 4.0,
        ssd_expand: float = 1.0,
        state_dim: tuple[int, ...] = (49, 25, 9),
        global_pool: str = "avg",
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        *,
        distillation: bool = False,
    ) -> None:
        super().__init__()
        _check_head(global_pool, num_classes)
        if not len(depths) == len(embed_dim) == len(state_dim):
            raise ValueError(
                "embed_dim, depths, state_dim need one entry per stage; got "
                f"{embed_dim}, {depths}, {state_dim}"
            )
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.global_pool = global_pool  # type: ignore[assignment]  # NOTE: a pool type, not a module
        self.num_layers = len(depths)
        self.embed_dim = tuple(embed_dim)
        self.distillation = distillation
        self.distilled_training = False
        self.drop_rate = drop_rate

        self.patch_embed = EfficientViMStem(in_chans, embed_dim[0])
        dpr = cast("list[float]", calculate_drop_path_rates(drop_path_rate, sum(depths)))
        stages, start, reduction = [], 0, 16
        self.feature_info = []
        for i, depth in enumerate(depths):
            last = i == self.num_layers - 1
            stages.append(
                EfficientViMStage(
                    embed_dim[i],
                    0 if last else embed_dim[i + 1],
                    depth,
                    mlp_ratio=mlp_ratio,
                    downsample=not last,
                    ssd_expand=ssd_expand,
                    state_dim=state_dim[i],
                    drop_path=dpr[start : start + depth],
                )
            )
            start += depth
            self.feature_info.append(dict(num_chs=embed_dim[i], reduction=reduction, module=f"stages.{i}"))
            reduction *= 1 if last else 2
        self.stages = nn.ModuleList(stages)

        self.num_features = self.head_hidden_size = sum(embed_dim) + embed_dim[-1]
        self.norm = nn.ModuleList(
            [*[LayerNorm(dim, eps=_EPS) for dim in embed_dim], LayerNorm2d(embed_dim[-1], eps=_EPS)]
        )
        self.head_drop = nn.Dropout(drop_rate)
        self.weights = nn.Parameter(torch.ones(self.num_layers + 1), requires_grad=num_classes > 0)
        self.heads = self._heads(num_classes)
        # NOTE: empty without distillation (no keys), so TorchScript compiles the distilled branch
        self.weights_dist = (
            nn.Parameter(torch.ones(self.num_layers + 1), requires_grad=num_classes > 0)
            if distillation
            else None
        )
        self.heads_dist = self._heads(num_classes) if distillation else nn.ModuleList()
        self._initialize()

    def _heads(self, num_classes: int) -> nn.ModuleList:
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else None
        dtype = ref.dtype if ref is not None else None
        return nn.ModuleList(
            [
                nn.Linear(dim, num_classes, device=device, dtype=dtype) if num_classes > 0 else nn.Identity()
                for dim in (*self.embed_dim, self.embed_dim[-1])
            ]
        )

    def init_weights(self, needs_reset: bool = False) -> None:
        """Truncated-normal (std 0.02) linears with zero biases, fresh norms, head weights 1."""
        nn.init.ones_(self.weights)
        if self.weights_dist is not None:
            nn.init.ones_(self.weights_dist)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.LayerNorm, nn.BatchNorm2d, nn.BatchNorm1d)):
                m.reset_parameters()
            elif needs_reset and m is not self and hasattr(m, "reset_parameters"):
                getattr(m, "reset_parameters")()  # noqa: B009

    def no_weight_decay(self) -> set[str]:
        return {name for name, _ in self.named_parameters() if name.endswith(".D")}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^patch_embed",
            blocks=[(r"^stages\.(\d+)", None), (r"^weights", (99999,))]
            if coarse
            else [
                (r"^stages\.(\d+)\.blocks\.(\d+)", None),
                (r"^stages\.(\d+)\.downsample", (99999,)),
                (r"^norm", (99999,)),
                # NOTE: the head's fusion weights are registered first (a top-level parameter);
                # grouped with the last block, so that the classifiers alone are left for the head
                (r"^weights", (99999,)),
            ],
        )

    # --- head ----------------------------------------------------------------------------------
    def _classifier(self) -> nn.Module:
        """The first of the fused classifiers (timm's ``get_classifier`` returns them all;
        ``heads`` / ``heads_dist`` hold them)."""
        return self.heads[0]

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Fresh heads of ``num_classes`` outputs (0 removes them; then ``global_pool=''`` may
        return the unpooled head inputs)."""
        pool = cast(str, self.global_pool) if global_pool is None else global_pool
        _check_head(pool, num_classes)
        self.global_pool = pool  # type: ignore[assignment]
        self.num_classes = num_classes
        self.heads = self._heads(num_classes).train(self.training)
        self.weights.requires_grad_(num_classes > 0)
        if self.weights_dist is not None:
            self.heads_dist = self._heads(num_classes).train(self.training)
            self.weights_dist.requires_grad_(num_classes > 0)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:  # type: ignore[override]
        """Normalised hidden states of each stage's last block and the final map, ``(B, C, L)``."""
        x = self.patch_embed(x)
        features: list[torch.Tensor] = []
        ckpt = self._checkpointing()
        for stage, norm in zip(self.stages, self.norm):
            if ckpt and not torch.jit.is_scripting():
                _, x, h = checkpoint(stage, x, use_reentrant=False)
            else:
                _, x, h = stage(x)
            features.append(norm(h.transpose(1, 2)).transpose(1, 2))
        features.append(self.norm[-1](x).flatten(2))
        return features

    def forward_head(self, x: list[torch.Tensor], pre_logits: bool = False) -> Any:  # type: ignore[override]
        if not self.global_pool:
            return x
        pooled = [self.head_drop(t.mean(-1)) for t in x]
        if pre_logits or self.num_classes == 0:
            return torch.cat(pooled, dim=1)
        w = self.weights.softmax(-1)
        z = torch.stack([w[i] * head(pooled[i]) for i, head in enumerate(self.heads)]).sum(0)
        if self.weights_dist is None:
            return z
        w_dist = self.weights_dist.softmax(-1)
        z_dist = torch.stack([w_dist[i] * head(pooled[i]) for i, head in enumerate(self.heads_dist)]).sum(0)
        return self._distilled_logits(z, z_dist)

    # NOTE: the return is Any (logits, the unpooled list, or the distilled pair); annotations
    # stay real objects in this module (no postponed annotations) for FX's generated code
    def forward(self, x: torch.Tensor) -> Any:
        return self.forward_head(self.forward_features(x))

    # --- intermediates -------------------------------------------------------------------------
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
        """Each stage's map (before its downsample), NCHW; ``norm``: through the stage's norm.
        Not ``intermediates_only``: ``(forward_features' list, maps)``."""
        if output_fmt != "NCHW":
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW'")
        take, max_index = feature_take_indices(len(self.stages), indices)
        x = self.patch_embed(x)
        stop = max_index + 1 if stop_early or intermediates_only else len(self.stages)
        intermediates, features = [], []
        x_out = x
        for i, (stage, stage_norm) in enumerate(zip(self.stages, self.norm)):
            if i >= stop:
                break
            if self._checkpointing() and not torch.jit.is_scripting():
                x_out, x, h = checkpoint(stage, x, use_reentrant=False)
            else:
                x_out, x, h = stage(x)
            if i in take:
                intermediates.append(
                    stage_norm(x_out.permute(0, 2, 3, 1)).permute(0, 3, 1, 2) if norm else x_out
                )
            if not intermediates_only:
                features.append(stage_norm(h.transpose(1, 2)).transpose(1, 2))
        if intermediates_only:
            return intermediates
        x = self.norm[-1](x) if stop == len(self.stages) else x_out
        features.append(x.flatten(2))
        return features, intermediates

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Drop the stages after the last of ``indices`` (the fused head needs every stage, so a
        cut needs ``prune_head``); with ``prune_head`` the norms no kept level uses go too."""
        take, max_index = feature_take_indices(len(self.stages), indices)
        keep = max_index + 1
        if keep < self.num_layers:
            if not prune_head:
                raise ValueError(
                    "EfficientViM's fused head reads every stage: cutting stages needs prune_head=True"
                )
            self.stages = self.stages[:keep]
            self.feature_info = self.feature_info[:keep]
            cast(EfficientViMStage, self.stages[-1]).downsample = None
            self.norm = nn.ModuleList([*self.norm[:keep], nn.Identity()])
            self.weights = nn.Parameter(torch.cat([self.weights[:keep], self.weights[-1:]]).detach())
            if self.weights_dist is not None:
                kept = torch.cat([self.weights_dist[:keep], self.weights_dist[-1:]])
                self.weights_dist = nn.Parameter(kept.detach())
            self.embed_dim = self.embed_dim[:keep]
            self.num_layers = keep
            self.num_features = self.head_hidden_size = sum(self.embed_dim) + self.embed_dim[-1]
        if prune_norm:
            self.norm = nn.ModuleList([nn.Identity() for _ in self.norm])
        elif prune_head:
            self.norm = nn.ModuleList([n if i in take else nn.Identity() for i, n in enumerate(self.norm)])
        if prune_head:
            self.reset_classifier(0)
        return take


def _check_head(global_pool: str, num_classes: int) -> None:
    if global_pool not in ("avg", ""):
        raise ValueError(f"EfficientViM pools by mean: global_pool must be 'avg' or '', got {global_pool!r}")
    if not global_pool and num_classes:
        raise ValueError("global_pool='' returns the head's unpooled inputs: it needs num_classes=0")


# --- checkpoint remap -----------------------------------------------------------------------------
def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """The original release (weights under ``model_ema`` / ``model`` / ``state_dict``; the EMA
    ones preferred, as they give the paper's accuracy) -> our keys: the same names, LayerNorm
    affines flattened from their broadcast shapes, distillation tensors dropped for a model
    without that head."""
    if "patch_embed.conv.0.conv.weight" not in state_dict:
        for wrapper in ("model_ema", "model", "state_dict"):
            if isinstance(state_dict.get(wrapper), dict):
                state_dict = state_dict[wrapper]
                break
    if not getattr(model, "distillation", False):
        state_dict = {
            k: v for k, v in state_dict.items() if not (k.startswith("heads_dist.") or k == "weights_dist")
        }
    out = dict(state_dict)
    for name, module in model.named_modules():
        if isinstance(module, nn.LayerNorm):
            for leaf in ("weight", "bias"):
                key = f"{name}.{leaf}"
                if key in out:
                    out[key] = out[key].reshape(module.normalized_shape)
    return out


# --- variants -------------------------------------------------------------------------------------
class EfficientViMDistilled(EfficientViM):
    """EfficientViM with its distillation heads: ``distillation`` defaults to True (timm's class
    name for the ``_dist`` models)."""

    def __init__(self, *args: Any, distillation: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, distillation=distillation, **kwargs)


EfficientViMArgs = model_args_type(EfficientViM)

_M1 = dict(embed_dim=(128, 192, 320), depths=(2, 2, 2), state_dim=(49, 25, 9))
_M2 = dict(embed_dim=(128, 256, 512), depths=(2, 2, 2), state_dim=(49, 25, 9))
_M3 = dict(embed_dim=(224, 320, 512), depths=(2, 2, 2), state_dim=(49, 25, 9))
_M4 = dict(embed_dim=(224, 320, 512), depths=(3, 4, 2), state_dim=(64, 32, 16))
_SIZES = {"m1": _M1, "m2": _M2, "m3": _M3, "m4": _M4}

VARIANTS = {
    **{f"efficientvim_{s}": EfficientViMArgs(**args) for s, args in _SIZES.items()},
    **{f"efficientvim_{s}_dist": EfficientViMArgs(**args, distillation=True) for s, args in _SIZES.items()},
}

# --- weights --------------------------------------------------------------------------------------
_HEADS = ("heads.0", "heads.1", "heads.2", "heads.3")
_DIST = dict(classifier=(*_HEADS, "heads_dist.0", "heads_dist.1", "heads_dist.2", "heads_dist.3"))


def _size(s: str) -> dict[str, Any]:
    return dict(input_size=(3, 256, 256)) if s == "m4" else {}


WEIGHTS: dict[str, dict[str, Any]] = {}
for _s in _SIZES:
    WEIGHTS[f"efficientvim_{_s}.e300_in1k"] = weight(_size(_s), default=True)
    WEIGHTS[f"efficientvim_{_s}.e450_in1k"] = weight(_size(_s))
    WEIGHTS[f"efficientvim_{_s}_dist.in1k"] = weight(_size(_s), _DIST)

default_cfgs = register_family(
    __name__,
    model_cls=EfficientViM,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        crop_pct=0.875,
        interpolation="bicubic",
        first_conv="patch_embed.conv.0.conv",
        classifier=_HEADS,
        paper_ids="arXiv:2411.15241",
        origin_url="https://github.com/mlvlab/EfficientViM",
        license="mit",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2), feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. efficientvim_m1
    return family_entrypoint(__name__, name)
