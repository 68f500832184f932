"""The model contract: what every visionzoo model offers, implemented once.

A family subclasses :class:`VisionModel`, builds its trunk and head in ``__init__`` and declares
the trunk as data (:class:`~visionzoo.features.Trunk`: stem, stages, post modules). The walk over
it (``forward_features``, ``forward_intermediates``, checkpointing, pruning), head handling and
config access come from here, with the module helpers
families (and code written for timm) call: ``checkpoint_seq``, ``named_apply``, ``named_modules``,
``model_parameters``.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .features import Trunk, feature_take_indices, prune_post, prune_trunk, walk_trunk
from .layers.classifier import ClassifierHead, check_num_classes, create_classifier
from .layers.norm_mlp_head import ClNormMlpClassifierHead, NormMlpClassifierHead
from .layers.pool import SelectAdaptivePool2d
from .layers.token_pool import TOKEN_POOL_TYPES, global_pool_nlc
from .pretrained import PretrainedCfg

__all__ = [
    "ConvHeadModel",
    "DistilledHeads",
    "NormHeadModel",
    "TokenModel",
    "Trunk",
    "VisionModel",
    "checkpoint_seq",
    "model_in_chans",
    "model_input_size",
    "model_parameters",
    "named_apply",
    "named_modules",
]


def _built_input_size(model: nn.Module) -> tuple[int, ...] | None:
    cfg = getattr(model, "pretrained_cfg", None)
    size = cfg.get("input_size") if isinstance(cfg, Mapping) else None
    return tuple(int(v) for v in size) if size else None


def model_in_chans(model: nn.Module) -> int:
    """Input channels of a model: the contract's ``in_chans`` (a fact the model states; the
    builder writes the same into its config), else its config's (a feature wrapper, a timm
    model), else its first convolution's (any ``nn.Module``), else 3. The model's own attribute
    comes first because a config assigned by hand (``model.default_cfg = ...``) may describe
    the weights rather than the model."""
    chans = getattr(model, "in_chans", None)
    if isinstance(chans, int):
        return chans
    size = _built_input_size(model)
    if size:
        return size[0]
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return first.in_channels if first is not None else 3


def model_input_size(model: nn.Module) -> tuple[int, int, int]:
    """``(C, H, W)`` a model takes: its config's input size (as built: a token model's own
    ``img_size``, also behind a feature wrapper); for a model not built by ``create_model``, the
    size of its patch embedding, else 224 px."""
    size = _built_input_size(model)
    if size:
        return (model_in_chans(model), size[1], size[2])
    embed = next((m for m in model.modules() if hasattr(m, "patch_size") and hasattr(m, "img_size")), None)
    img_size = getattr(embed, "img_size", None)
    hw = tuple(img_size) if img_size is not None else (224, 224)
    return (model_in_chans(model), int(hw[0]), int(hw[1]))


def checkpoint_seq(
    functions: Iterable[Any],
    x: torch.Tensor,
    every: int = 1,
    flatten: bool = False,
    skip_last: bool = False,
    preserve_rng_state: bool = True,
    *,
    use_reentrant: bool | None = None,
) -> torch.Tensor:
    """Run ``functions`` in order, recomputing the activations inside each run of ``every`` of them
    in backward instead of keeping them (timm's call; eager only).

    Args:
        functions: the modules (or tensor functions) to run, e.g. an ``nn.Sequential``.
        x: their input.
        every: how many functions one checkpoint spans.
        flatten: ``functions`` holds sequences (stages of blocks): run their items instead, so
            each block is a recompute unit.
        skip_last: run the last function normally (its activations are needed right away).
        preserve_rng_state: replay the RNG state in recomputation, so dropout / drop-path draw
            the same masks as in the forward pass.
        use_reentrant: torch's reentrant checkpoint variant (default: the non-reentrant one).

    Returns:
        The output of the last function.

    Raises:
        ValueError: ``every`` is not a positive int.
        TypeError: with ``flatten``, an item that is not a sequence of functions.
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be an int >= 1, got {every!r}")
    fns: list[Callable[[torch.Tensor], torch.Tensor]] = []
    for item in functions:
        if not flatten:
            fns.append(item)
        elif isinstance(item, Iterable):
            fns.extend(item)
        else:
            raise TypeError(
                f"checkpoint_seq(flatten=True) needs sequences of functions (e.g. stages as "
                f"nn.Sequential), got a {type(item).__name__}"
            )

    def run_span(start: int, end: int) -> Callable[[torch.Tensor], torch.Tensor]:
        def forward(t: torch.Tensor) -> torch.Tensor:
            for fn in fns[start:end]:
                t = fn(t)
            return t

        return forward

    last = len(fns) - 1 if skip_last and fns else len(fns)
    for start in range(0, last, every):
        end = min(start + every, last)
        x = checkpoint(
            run_span(start, end),
            x,
            use_reentrant=bool(use_reentrant),
            preserve_rng_state=preserve_rng_state,
        )
    return run_span(last, len(fns))(x)


def named_apply(
    fn: Callable[..., Any],
    module: nn.Module,
    name: str = "",
    depth_first: bool = True,
    include_root: bool = False,
) -> nn.Module:
    """Call ``fn(module=m, name=dotted_name)`` on every submodule of ``module`` (timm's helper, used
    for per-module weight init). Children come before their parent with ``depth_first``, after
    it otherwise; ``include_root`` adds ``module`` itself.

    Returns:
        ``module``.
    """
    for child_name, child in named_modules(module, name, depth_first=depth_first, include_root=include_root):
        fn(module=child, name=child_name)
    return module


def named_modules(
    module: nn.Module, name: str = "", depth_first: bool = True, include_root: bool = False
) -> Iterator[tuple[str, nn.Module]]:
    """``(dotted name, submodule)`` pairs in :func:`named_apply`'s order."""
    if not depth_first and include_root:
        yield name, module
    for child_name, child in module.named_children():
        dotted = f"{name}.{child_name}" if name else child_name
        yield from named_modules(child, dotted, depth_first=depth_first, include_root=True)
    if depth_first and include_root:
        yield name, module


def model_parameters(model: nn.Module, exclude_head: bool = False) -> Iterator[nn.Parameter]:
    """``model``'s parameters; ``exclude_head`` leaves out the last two (the classifier's weight and
    bias, as timm counts them)."""
    params = list(model.parameters())
    return iter(params[:-2] if exclude_head else params)


class VisionModel(nn.Module):
    """Base class of every visionzoo model.

    Attributes set by subclasses:
        in_chans: input channels (the builder keeps ``pretrained_cfg.input_size`` equal to it).
        num_classes: classifier outputs (0: no classifier, ``forward`` returns pooled features).
        num_features: channels out of ``forward_features``.
        head_hidden_size: width of the pre-logits features (``forward_head(pre_logits=True)``).
        feature_info: one dict per feature level (``num_chs``, ``reduction``, ``module``).
        drop_rate: dropout before the classifier.

    Class attributes:
        trunk: the trunk as data (see :class:`~visionzoo.features.Trunk`); the default walks the
            top-level children that are not in ``head_names``, in order.
        classifier_name: attribute path of the classifier (``"fc"``, ``"head.fc"``...).
        head_names: top-level children that belong to the head, not the trunk.
    """

    trunk: ClassVar[Trunk] = Trunk()
    # NOTE: TorchScript reads ``head_names`` in the scripted ``forward_features``
    __constants__ = ["head_names"]
    classifier_name: ClassVar[str] = "fc"
    # whether feature_info's ``module`` names are modules whose outputs are the levels (what the
    # list, hook and FX backbones tap); False where they are labels (timm's HRNet names its levels
    # "stem", "stage1".."stage4"), and only forward_intermediates gives the levels
    feature_modules: ClassVar[bool] = True
    # False for a headless feature encoder (timm builds MobileNet-V5's Gemma encoder so): no
    # classifier, ``forward`` returns ``forward_features``, a ``num_classes`` other than 0 is refused
    has_classifier: ClassVar[bool] = True
    # whether ``forward_features`` returns a list of tensors, which ``forward_head`` takes, as
    # timm's does for models that fuse several branches or stages in the head (EfficientViM's
    # per-stage classifiers): kept so code written for timm runs unchanged; such a model's
    # ``forward_intermediates`` gives that list as its final output. A family where it follows the
    # variant sets it per instance (CoaT: lists for the models with parallel blocks)
    features_are_list: ClassVar[bool] = False
    # constructor options that a features_only backbone cannot honour (the builder refuses them)
    features_only_excludes: ClassVar[tuple[str, ...]] = ()
    head_names: ClassVar[tuple[str, ...]] = ("global_pool", "fc", "head", "head_drop", "classifier")
    # the smallest (C, H, W) input the trunk takes, stated where unpadded convs set one that the
    # pretrained cfg (timm's, field by field) does not: smaller inputs are refused by name
    min_input_size: ClassVar[tuple[int, int, int] | None] = None
    # layout of forward_features' output and of the features_only levels: "NHWC" for a family that
    # runs channels-last (MambaOut, as timm's ``output_fmt``); forward_intermediates gives NCHW
    output_fmt: ClassVar[str] = "NCHW"
    # how ``drop_path_rate`` spreads over the blocks: rising linearly to it (``"linear"``), or the
    # full rate in every block (``"uniform"``, where timm does so: MLP-Mixer, CaiT)
    drop_path_schedule: ClassVar[str] = "linear"
    # NOTE: Python-side config access; TorchScript must not compile it
    __jit_unused_properties__: ClassVar[list[str]] = ["default_cfg"]
    # NOTE: the trunk is never walked, nor the input size checked, under TorchScript; a family
    # whose trunk or minimum size follows its constructor arguments sets them per instance (ReXNet,
    # GhostNet V2 / V3), which TorchScript must not type
    __jit_ignored_attributes__: ClassVar[list[str]] = ["trunk", "min_input_size", "features_are_list"]

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        in_chans: int
        num_classes: int
        num_features: int
        head_hidden_size: int
        feature_info: list[dict[str, Any]]

    def __init__(self) -> None:
        super().__init__()
        self.pretrained_cfg: PretrainedCfg | None = None
        self.grad_checkpointing = False
        self.drop_rate = 0.0

    # --- configs -------------------------------------------------------------------------------
    @property
    def default_cfg(self) -> PretrainedCfg | None:
        """Alias of ``pretrained_cfg`` (timm's older name)."""
        return self.pretrained_cfg

    @default_cfg.setter
    def default_cfg(self, value: PretrainedCfg | dict[str, Any] | None) -> None:
        from .pretrained import as_pretrained_cfg

        self.pretrained_cfg = None if value is None else as_pretrained_cfg(value)

    # --- head ----------------------------------------------------------------------------------
    def _init_head(self, num_features: int, num_classes: int, global_pool: str) -> None:
        """Flat head: ``global_pool`` then the classifier at ``classifier_name``."""
        self.num_features = num_features
        self.num_classes = num_classes
        self.global_pool, fc = create_classifier(num_features, num_classes, pool_type=global_pool)
        setattr(self, self.classifier_name, fc)
        self.head_hidden_size = num_features * self.global_pool.feat_mult()

    def get_classifier(self, name_only: bool = False) -> nn.Module | str:
        """The final classifier module (or its attribute path with ``name_only``)."""
        return self.classifier_name if name_only else self._classifier()

    def _classifier(self) -> nn.Module:
        return self.get_submodule(self.classifier_name)

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Replace the classifier with a fresh one of ``num_classes`` outputs (0 removes it).

        Args:
            num_classes: new number of classes.
            global_pool: new pooling type (``avg``, ``max``, ``avgmax``, ``catavgmax``, ``''``);
                kept when None.
        """
        check_num_classes(num_classes)
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else None
        with torch.device(device or "cpu"):
            head = getattr(self, "head", None)
            if isinstance(head, ClassifierHead):
                head.reset(num_classes, global_pool)
                self.head_hidden_size = head.num_features
            else:
                pool = self.global_pool.pool_type if global_pool is None else global_pool
                self.global_pool, fc = create_classifier(self.num_features, num_classes, pool)
                setattr(self, self.classifier_name, fc)
                self.head_hidden_size = self.num_features * self.global_pool.feat_mult()
        if ref is not None:
            self._classifier().to(dtype=ref.dtype)
        self.num_classes = num_classes
        self._classifier().train(self.training)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool, dropout and classify ``(B, num_features, H, W)`` -> ``(B, num_classes)``.

        With ``pre_logits`` return the pooled ``(B, head_hidden_size)`` features instead.
        """
        if torch.jit.is_scripting():
            # NOTE: TorchScript cannot do isinstance on a module class nor a lookup by name; it
            # resolves hasattr at compile time. A ``head`` is a ClassifierHead
            if hasattr(self, "head"):
                return self.head(x, pre_logits=pre_logits)  # type: ignore[operator]
        else:
            head = getattr(self, "head", None)
            if isinstance(head, ClassifierHead):
                return head(x, pre_logits=pre_logits)
        x = self.global_pool(x)
        if self.drop_rate:
            x = F.dropout(x, p=float(self.drop_rate), training=self.training)
        if pre_logits:
            return x
        if torch.jit.is_scripting():  # flat heads name their classifier one of timm's names
            if hasattr(self, "fc"):
                return self.fc(x)  # type: ignore[operator]
            if hasattr(self, "last_linear"):
                return self.last_linear(x)  # type: ignore[operator]
            if hasattr(self, "classif"):
                return self.classif(x)  # type: ignore[operator]
            return self.classifier(x)  # type: ignore[operator]
        return self._classifier()(x)

    # --- trunk ---------------------------------------------------------------------------------
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_chans, H, W)`` -> ``(B, num_features, H / r, W / r)`` (unpooled): the trunk."""
        if torch.jit.is_scripting():
            # NOTE: TorchScript cannot walk modules by computed names; it unrolls this loop over
            # the children, which are registered in trunk order (the head's come last)
            for name, module in self.named_children():
                if name not in self.head_names:
                    x = module(x)
            return x
        else:
            self._check_input_size(x)
            return walk_trunk(self, self.trunk, x, checkpointing=self._checkpointing())[0]

    def _check_input_size(self, x: torch.Tensor) -> None:
        """Refuse an input smaller than ``min_input_size`` (a clear error, not a conv's)."""
        least = self.min_input_size
        if least is None or isinstance(x, torch.fx.Proxy):  # NOTE: a symbolic trace has no shape
            return
        if x.ndim != 4 or x.shape[-2] < least[-2] or x.shape[-1] < least[-1]:
            raise ValueError(
                f"{type(self).__name__} takes (B, C, H, W) inputs with H >= {least[-2]} and W >= "
                f"{least[-1]}, got shape {tuple(x.shape)}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | list[int] | tuple[int, ...] | None = None,
        *,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """Forward the trunk and return the feature maps at ``indices``.

        Args:
            x: input ``(B, C, H, W)``.
            indices: feature levels (see ``feature_info``): None for all, an int ``n`` for the last
                ``n``, or a sequence (negative counts from the end).
            norm: apply the final norm to the last stage's map, where the trunk has one that
                belongs to that stage (``Trunk.norm_last``, as in timm).
            stop_early: stop after the last requested level (the final output is then partial).
            output_fmt: only ``"NCHW"``.
            intermediates_only: return just the list of feature maps.

        Returns:
            ``(final features, [feature maps])``, or only the list.
        """
        if output_fmt != "NCHW":
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW'")
        take, _ = feature_take_indices(len(self.feature_info), indices)
        x, intermediates = self._intermediates(
            x, take, stop_early=stop_early or intermediates_only, norm=norm
        )
        return intermediates if intermediates_only else (x, intermediates)

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Walk the trunk, collecting the feature levels ``take`` (in forward order). A family
        whose trunk is not a sequence overrides this step."""
        self._check_input_size(x)
        taps = [self.feature_info[i] for i in sorted(take)]
        return walk_trunk(
            self, self.trunk, x, taps, stop_early=stop_early, checkpointing=self._checkpointing(), norm=norm
        )

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Drop the trunk after the last of ``indices`` (and the head), for a lean backbone.

        The post modules go with a cut, and with ``prune_norm`` / ``prune_head`` as the trunk
        says; with ``prune_head``, or after a cut, the classifier goes too and the model
        returns the last kept feature map.

        Returns:
            The absolute feature indices kept, for ``forward_intermediates``.
        """
        take, max_index = feature_take_indices(len(self.feature_info), indices)
        truncated = max_index < len(self.feature_info) - 1
        self._prune_trunk(max_index)
        narrowed = prune_post(
            self, self.trunk, truncated=truncated, prune_norm=prune_norm, prune_head=prune_head
        )
        num_chs = self.feature_info[max_index]["num_chs"]
        narrowed = truncated or (narrowed and self.num_features != num_chs)
        if narrowed:  # features now end at that level: a head sized for the wider output goes
            self.num_features = self.head_hidden_size = num_chs
            head = getattr(self, "head", None)
            if isinstance(head, ClassifierHead):
                head.in_features = num_chs
        if prune_head or narrowed:
            self._prune_head()
        return take

    def _prune_trunk(self, max_index: int) -> None:
        """Cut the trunk's units after the one holding feature level ``max_index``."""
        prune_trunk(self, self.trunk, self.feature_info[max_index]["module"])

    def _prune_head(self) -> None:
        """Remove the classifier (a family with more head modules overrides this step)."""
        self.reset_classifier(0, "")

    # --- training helpers ----------------------------------------------------------------------
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute activations in backward to save memory."""
        self.grad_checkpointing = enable

    def _checkpointing(self) -> bool:
        """Whether this forward pass recomputes activations in backward: checkpointing is on,
        the model trains and gradients are being recorded (never under TorchScript)."""
        if torch.jit.is_scripting():
            return False
        return self.grad_checkpointing and self.training and torch.is_grad_enabled()

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Regexes grouping parameter names into stem / blocks (for layer-wise LR decay)."""
        raise NotImplementedError(f"{type(self).__name__} has no group_matcher")

    def no_weight_decay(self) -> set[str]:
        """Parameter names to exclude from weight decay (none for these CNNs)."""
        return set()

    def init_weights(self) -> None:
        """Family initialisation (called through :meth:`_initialize` at the end of ``__init__``)."""

    def _initialize(self, **kwargs: Any) -> None:
        """``init_weights(**kwargs)``, skipped on the meta device: there are no values to set
        there, and a pretrained build assigns the checkpoint's tensors instead."""
        ref = next(self.parameters(), None)
        if ref is None or not ref.is_meta:
            self.init_weights(**kwargs)


class ConvHeadModel(VisionModel):
    """The model contract with MobileNetV3's efficient head: ``global_pool`` -> ``conv_head`` (a
    1x1 conv widening the pooled features, so it runs on one pixel) -> ``norm_head`` -> ``act2``
    -> ``flatten`` -> dropout -> ``classifier``, all top-level modules (timm's state-dict keys).

    A family builds it with :meth:`_init_conv_head`; ``reset_classifier`` and pruning know that
    the head conv is sized for the pooled width and belongs to the head.

    Class attributes:
        conv_head_takes_wide_pool: whether a pooling that widens the pooled features
            (``catavgmax``) is taken: the head conv is then built for that width, and a reset to
            another width drops it (MobileNetV3). Otherwise such a pooling is refused (timm
            asserts), as is its only use.
    """

    classifier_name: ClassVar[str] = "classifier"
    head_names: ClassVar[tuple[str, ...]] = (
        "global_pool", "conv_head", "norm_head", "act2", "flatten", "classifier",
    )  # fmt: skip
    conv_head_takes_wide_pool: ClassVar[bool] = False

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        global_pool: SelectAdaptivePool2d
        conv_head: nn.Module
        norm_head: nn.Module
        act2: nn.Module
        flatten: nn.Module
        classifier: nn.Module

    def _head_pool(self, pool_type: str) -> SelectAdaptivePool2d:
        pool = SelectAdaptivePool2d(pool_type=pool_type)
        if pool.feat_mult() != 1 and not self.conv_head_takes_wide_pool:
            raise ValueError(
                f"{type(self).__name__}'s head conv takes the pooled width: pool {pool_type!r} "
                f"changes it; use 'avg', 'max', 'avgmax' or ''"
            )
        return pool

    def _init_conv_head(
        self,
        num_features: int,
        num_classes: int,
        global_pool: str,
        *,
        hidden_size: int | None,
        bias: bool = False,
        conv_layer: Callable[..., nn.Module] = nn.Conv2d,
        norm: nn.Module | None = None,
        act: nn.Module | None = None,
    ) -> None:
        """Build the head after the trunk (registration order is the head's order).

        Args:
            num_features: channels out of the trunk.
            num_classes: classifier outputs (0: none).
            global_pool: pooling type.
            hidden_size: the head conv's width (``head_hidden_size``); None: no head conv, the
                pooled features go to the classifier (nor are ``norm`` / ``act`` used).
            bias: the head conv's bias.
            conv_layer: builds the head conv as ``conv_layer(in, out, 1, bias=bias)``.
            norm: the module after the head conv (``norm_head``), e.g. a norm+act.
            act: the activation after it (``act2``).
        """
        check_num_classes(num_classes)
        self.num_features = num_features
        self.num_classes = num_classes
        self.global_pool = self._head_pool(global_pool)
        pooled = num_features * self.global_pool.feat_mult()
        if hidden_size is None:
            self.conv_head, self.norm_head, self.act2 = nn.Identity(), nn.Identity(), nn.Identity()
        else:
            self.conv_head = conv_layer(pooled, hidden_size, 1, bias=bias)
            self.norm_head = norm if norm is not None else nn.Identity()
            self.act2 = act if act is not None else nn.Identity()
        self.head_hidden_size = pooled if hidden_size is None else hidden_size
        self.flatten = nn.Flatten(1) if global_pool else nn.Identity()
        self.classifier = nn.Linear(self.head_hidden_size, num_classes) if num_classes > 0 else nn.Identity()

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh classifier of ``num_classes`` outputs (0 removes it). The head conv stays
        while the pooled width does; a pooling that changes it drops the head conv where
        ``conv_head_takes_wide_pool``, and is refused otherwise."""
        check_num_classes(num_classes)
        pool_type = self.global_pool.pool_type if global_pool is None else global_pool
        pool = self._head_pool(pool_type)
        pooled = self.num_features * pool.feat_mult()
        if not isinstance(self.conv_head, nn.Identity) and self.conv_head.in_channels != pooled:
            self.conv_head, self.norm_head, self.act2 = nn.Identity(), nn.Identity(), nn.Identity()
        if isinstance(self.conv_head, nn.Identity):
            self.head_hidden_size = pooled
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else None
        with torch.device(device or "cpu"):
            fc = nn.Linear(self.head_hidden_size, num_classes) if num_classes > 0 else nn.Identity()
        if ref is not None:
            fc.to(dtype=ref.dtype)
        self.global_pool = pool.train(self.training)
        self.flatten = (nn.Flatten(1) if pool_type else nn.Identity()).train(self.training)
        self.classifier = fc.train(self.training)
        self.num_classes = num_classes

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool, widen with the head conv, dropout and classify -> ``(B, num_classes)``; with
        ``pre_logits`` the ``(B, head_hidden_size)`` features."""
        x = self.global_pool(x)
        x = self.flatten(self.act2(self.norm_head(self.conv_head(x))))
        if self.drop_rate > 0.0:
            x = F.dropout(x, p=float(self.drop_rate), training=self.training)
        return x if pre_logits else self.classifier(x)

    def _prune_head(self) -> None:
        """The head conv (and its norm, act) belongs to the head and goes with it."""
        self.conv_head, self.norm_head, self.act2 = nn.Identity(), nn.Identity(), nn.Identity()
        super()._prune_head()


class NormHeadModel(VisionModel):
    """The model contract with one head module, ``self.head``: ConvNeXt's ``pool -> norm ->
    [fc -> act] -> fc`` (:class:`~visionzoo.layers.NormMlpClassifierHead` or its channels-last
    twin) or, with the norm before pooling, a plain ``ClassifierHead`` (ConvNeXt, DaViT,
    EdgeNeXt, FocalNet, RDNet, MambaOut, TinyViT, MaxxViT: timm's ``head.*`` keys).

    ``reset_classifier(reset_other=True)`` also drops the head's norm and hidden layer (timm's
    API), which pruning does: they were sized for the final features.
    """

    classifier_name: ClassVar[str] = "head.fc"

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        head: ClassifierHead | NormMlpClassifierHead | ClNormMlpClassifierHead

    def _init_norm_head(
        self,
        num_classes: int,
        *,
        global_pool: str,
        drop_rate: float,
        norm_layer: Callable[..., nn.Module],
        norm_first: bool,
        hidden_size: int | None = None,
        act_layer: str = "tanh",
        **dd: Any,
    ) -> None:
        """``norm_pre`` and ``head`` over ``num_features``: with ``norm_first`` the norm runs on
        the map (``norm_pre``) before a plain pool -> fc head; otherwise ``norm_pre`` is an
        identity (kept for the keys) and the head pools, then norms."""
        if norm_first:
            if hidden_size:
                raise ValueError("a hidden head layer needs the pool -> norm head (head_norm_first=False)")
            self.norm_pre: nn.Module = norm_layer(self.num_features, **dd)
            self.head = ClassifierHead(self.num_features, num_classes, global_pool, drop_rate, **dd)
        else:
            self.norm_pre = nn.Identity()
            self.head = NormMlpClassifierHead(
                self.num_features,
                num_classes,
                hidden_size,
                global_pool,
                drop_rate,
                norm_layer=norm_layer,
                act_layer=act_layer,
                **dd,
            )
        self.head_hidden_size = int(self.head.num_features)

    def reset_classifier(
        self, num_classes: int, global_pool: str | None = None, reset_other: bool = False
    ) -> None:
        """New classifier of ``num_classes`` outputs (0 removes it), on the model's device and
        dtype; ``reset_other`` also drops the head's norm and hidden layer, leaving pool -> fc."""
        check_num_classes(num_classes)
        ref = next(self.parameters(), None)
        dd: dict[str, Any] = {
            "device": ref.device if ref is not None and ref.device.type != "meta" else torch.device("cpu"),
            "dtype": ref.dtype if ref is not None else None,
        }
        head = self.head
        if isinstance(head, ClassifierHead):
            head.reset(num_classes, global_pool, **dd)
        else:
            head.reset(num_classes, global_pool, reset_other=reset_other, in_features=self.num_features, **dd)
        self.num_classes = num_classes
        self.head_hidden_size = int(head.num_features)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def _prune_head(self) -> None:
        """The head's norm and hidden layer go too: they were sized for the final features."""
        self.reset_classifier(0, "", reset_other=True)


class DistilledHeads:
    """Mixin for models with a second classifier, ``head_dist``, trained to match a teacher
    (DeiT, LeViT, EfficientFormer V1 / V2, SwiftFormer): in eval, and in training unless
    :meth:`set_distilled_training`, the output is the mean of both heads; with distilled training
    on, a training ``forward`` returns ``(class logits, distillation logits)`` for the loss.

    The family builds ``head`` and ``head_dist`` (``None`` where a variant has none) and sets
    ``distilled_training = False``; its ``forward_head`` ends in :meth:`_distilled_logits`.
    """

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        head: nn.Module
        head_dist: nn.Module | None
        distilled_training: bool
        training: bool
        num_classes: int

        def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def set_distilled_training(self, enable: bool = True) -> None:
        """Return both heads' logits in training (for a distillation loss)."""
        self.distilled_training = enable

    def _replace_heads(self, num_classes: int, new_head: Callable[[int], nn.Module]) -> None:
        """``head`` and ``head_dist`` (where the model has one) rebuilt by ``new_head`` for
        ``num_classes`` on the model's device and dtype, in its train / eval mode."""
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else torch.device("cpu")
        with torch.device(device):
            self.head = new_head(num_classes)
            if self.head_dist is not None:
                self.head_dist = new_head(num_classes)
        for head in (self.head, self.head_dist):
            if head is not None:
                if ref is not None:
                    head.to(dtype=ref.dtype)
                head.train(self.training)
        self.num_classes = num_classes

    # NOTE: annotated Tensor for TorchScript, which always gets the mean; eager distilled training
    # returns the (logits, dist logits) pair
    def _distilled_logits(self, x: torch.Tensor, x_dist: torch.Tensor) -> torch.Tensor:
        if self.distilled_training and self.training and not torch.jit.is_scripting():
            return cast(torch.Tensor, (x, x_dist))
        return (x + x_dist) / 2


class TokenModel(VisionModel):
    """The model contract for token (transformer) models: ``(B, N, C)`` sequences, optional prefix
    tokens (class, register, distillation) before the patch tokens, a pooling head.

    A family builds ``patch_embed`` (with ``dynamic_feat_size``), ``blocks`` (an ``nn.Sequential``),
    ``norm``, ``fc_norm``, ``head_drop``, ``head`` and ``attn_pool`` (or None), sets
    ``global_pool`` (a pool type of :data:`~visionzoo.layers.token_pool.TOKEN_POOL_TYPES`),
    ``num_prefix_tokens``, ``pool_include_prefix`` and ``embed_dim``, and implements
    :meth:`_embed` (image -> tokens before the blocks). The rest is here.
    """

    classifier_name: ClassVar[str] = "head"
    head_names: ClassVar[tuple[str, ...]] = ("attn_pool", "fc_norm", "head_drop", "head")

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        global_pool: str  # type: ignore[assignment]  # a pool type, not a pooling module
        num_prefix_tokens: int
        pool_include_prefix: bool
        embed_dim: int
        patch_embed: Any  # a PatchEmbed-like module (grid_size, dynamic_feat_size)
        blocks: nn.Sequential
        norm: nn.Module
        fc_norm: nn.Module
        head_drop: nn.Module
        head: nn.Module
        attn_pool: nn.Module | None

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> tokens ``(B, prefix + L, embed_dim)`` ready for the blocks."""
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> normalised tokens ``(B, N, embed_dim)``, prefix tokens first."""
        x = self._embed(x)
        if not torch.jit.is_scripting() and self._checkpointing():  # static under TorchScript
            x = checkpoint_seq(self.blocks, x)
        else:
            x = self.blocks(x)
        return self.norm(x)

    # --- head ----------------------------------------------------------------------------------
    def pool(self, x: torch.Tensor, pool_type: str | None = None) -> torch.Tensor:
        """Tokens ``(B, N, C)`` -> ``(B, C)`` with the model's (or the given) pool type."""
        if self.attn_pool is not None:
            return self.attn_pool(x if self.pool_include_prefix else x[:, self.num_prefix_tokens :])
        return global_pool_nlc(
            x,
            self.global_pool if pool_type is None else pool_type,
            num_prefix_tokens=self.num_prefix_tokens,
            reduce_include_prefix=self.pool_include_prefix,
        )

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool, ``fc_norm``, dropout and classify tokens -> ``(B, num_classes)``; with
        ``pre_logits`` the ``(B, head_hidden_size)`` features before the classifier."""
        x = self.head_drop(self.fc_norm(self.pool(x)))
        return x if pre_logits else self.head(x)

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh ``num_classes`` classifier (0 removes it); ``global_pool`` switches the pooling
        among ``''``, ``token``, ``avg``, ``avgmax``, ``max`` (and keeps ``map`` if built with it)."""
        check_num_classes(num_classes)
        if global_pool is not None:
            if global_pool not in TOKEN_POOL_TYPES:
                raise ValueError(
                    f"global_pool={global_pool!r}; valid: {', '.join(map(repr, TOKEN_POOL_TYPES))}"
                )
            if global_pool == "token" and not getattr(self, "has_class_token", True):
                raise ValueError("global_pool='token' needs a class token; this model has none")
            if global_pool == "map" and self.attn_pool is None:
                raise ValueError("global_pool='map' needs the attention pool the model was built with")
            if global_pool != "map":
                self.attn_pool = None
            self.global_pool = global_pool
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else None
        dtype = ref.dtype if ref is not None else None
        self.head = (
            nn.Linear(self.embed_dim, num_classes, device=device, dtype=dtype)
            if num_classes
            else nn.Identity()
        )
        self.head.train(self.training)
        self.num_classes = num_classes

    # --- intermediates -------------------------------------------------------------------------
    def forward_intermediates(  # type: ignore[override]
        self,
        x: torch.Tensor,
        indices: int | list[int] | tuple[int, ...] | None = None,
        *,
        return_prefix_tokens: bool = False,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> Any:
        """Run the blocks and return the tokens after the blocks at ``indices``.

        Args:
            x: input ``(B, C, H, W)``.
            indices: blocks to take: None for all, an int ``n`` for the last ``n``, or a sequence
                (negative counts from the end).
            return_prefix_tokens: give ``(patch tokens, prefix tokens (B, P, C))`` per block.
            norm: apply the final norm to each intermediate.
            stop_early: stop after the last requested block (the final output is then partial).
            output_fmt: ``'NCHW'`` (patch tokens as a ``(B, C, H/p, W/p)`` map) or ``'NLC'``.
            intermediates_only: return just the list.

        Returns:
            ``(normed final tokens, [intermediates])``, or only the list.
        """
        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW' or 'NLC'")
        take, max_index = feature_take_indices(len(self.blocks), indices)
        height, width = x.shape[-2:]
        state = self._begin_blocks(x)
        blocks = self.blocks[: max_index + 1] if stop_early or intermediates_only else self.blocks
        found = []
        for i, block in enumerate(blocks):
            state = self._run_block(block, state)
            if i in take:
                tokens = self._state_tokens(state)
                found.append(self.norm(tokens) if norm else tokens)
        prefix = [y[:, : self.num_prefix_tokens] for y in found]
        found = [y[:, self.num_prefix_tokens :] for y in found]
        if output_fmt == "NCHW":
            h, w = self._token_grid((height, width))
            found = [y.reshape(y.shape[0], h, w, -1).permute(0, 3, 1, 2).contiguous() for y in found]
        out: list[Any] = (
            list(zip(found, prefix)) if return_prefix_tokens and self.num_prefix_tokens else found
        )
        return out if intermediates_only else (self.norm(self._state_tokens(state)), out)

    # What the blocks carry between them: the tokens, unless a family's blocks pass more along
    # (TNT's pixel tokens, a shared position bias); such a family overrides these three steps.
    def _begin_blocks(self, x: torch.Tensor) -> Any:
        """Image -> the state the first block takes."""
        return self._embed(x)

    def _run_block(self, block: nn.Module, state: Any) -> Any:
        """One block on the state (checkpointed when gradient checkpointing is on)."""
        return self._call_block(block, state)

    def _state_tokens(self, state: Any) -> torch.Tensor:
        """The ``(B, prefix + L, C)`` tokens in a state."""
        return state

    def _call_block(self, block: nn.Module, *args: Any, **kwargs: Any) -> Any:
        if self._checkpointing():
            return checkpoint(block, *args, use_reentrant=False, **kwargs)
        return block(*args, **kwargs)

    def _token_grid(self, img_size: tuple[int, int]) -> tuple[int, int]:
        """The patch-token grid ``(h, w)`` for an input of ``img_size``."""
        return self.patch_embed.dynamic_feat_size(img_size)

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Keep the blocks up to the last of ``indices``; drop the final norm (``prune_norm``)
        and the head (``prune_head``). Returns the absolute block indices kept."""
        take, max_index = feature_take_indices(len(self.blocks), indices)
        self.blocks = self.blocks[: max_index + 1]
        if prune_norm:
            self.norm = nn.Identity()
        if prune_head:
            self.fc_norm = nn.Identity()
            self.reset_classifier(0, "")
        return take

    def no_weight_decay(self) -> set[str]:
        """Embeddings and prefix tokens are not decayed."""
        return {"pos_embed", "cls_token", "reg_token", "dist_token"}
