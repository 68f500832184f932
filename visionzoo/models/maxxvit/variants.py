"""MaxxVit variant table: timm 1.0.31's configs. A published size (``_224``, ``_384``...) is the
architecture's ``img_size`` default, set by its weights' ``input_size`` (fixed-size models)."""

from __future__ import annotations

from typing import Any

from ...variants import model_args_type
from .model import MaxxVit, MaxxVitConvCfg, MaxxVitTransformerCfg

__all__ = ["VARIANTS", "MaxxVitArgs"]

MaxxVitArgs = model_args_type(MaxxVit)
_COAT = ("C", "C", "T", "T")


def _args(
    embed_dim: tuple[int, ...], depths: tuple[int, ...], block_type: tuple[Any, ...] = _COAT, **kwargs: Any
) -> Any:
    """A record from the stage widths, depths and block letters (CoAtNet's by default)."""
    return MaxxVitArgs(embed_dim=embed_dim, depths=depths, block_type=block_type, **kwargs)


def _rw_coat(
    *,
    stride_mode: str = "pool",
    pool_type: str = "avg2",
    conv_attn_early: bool = False,
    conv_attn_act_layer: str = "relu",
    transformer_shortcut_bias: bool = True,
    transformer_norm_layer: str = "layernorm2d",
    init_values: float | None = None,
    rel_pos_type: str = "bias",
    rel_pos_dim: int = 512,
) -> dict[str, Any]:
    """timm's own CoAtNets (trained before the official MaxViT code): pre-norm with an activation,
    MBConv expansion from the input width, no bias on the MBConv output and shortcut, SiLU, and
    the attention widening in its output projection."""
    return dict(
        conv_cfg=MaxxVitConvCfg(
            stride_mode=stride_mode,
            pool_type=pool_type,
            pre_norm_act=True,
            expand_output=False,
            output_bias=False,
            attn_early=conv_attn_early,
            attn_act_layer=conv_attn_act_layer,
            act_layer="silu",
        ),
        transformer_cfg=MaxxVitTransformerCfg(
            expand_first=False,
            shortcut_bias=transformer_shortcut_bias,
            pool_type=pool_type,
            init_values=init_values,
            norm_layer=transformer_norm_layer,
            rel_pos_type=rel_pos_type,
            rel_pos_dim=rel_pos_dim,
        ),
    )


def _rw_max(
    *,
    stride_mode: str = "dw",
    conv_output_bias: bool = False,
    conv_attn_ratio: float = 1 / 16,
    init_values: float | None = None,
    rel_pos_type: str = "bias",
    rel_pos_dim: int = 512,
) -> dict[str, Any]:
    """timm's own MaxViTs: MBConv expansion from the input width, SiLU, the attention widening
    in its output projection."""
    return dict(
        conv_cfg=MaxxVitConvCfg(
            stride_mode=stride_mode,
            expand_output=False,
            output_bias=conv_output_bias,
            attn_ratio=conv_attn_ratio,
            act_layer="silu",
        ),
        transformer_cfg=MaxxVitTransformerCfg(
            expand_first=False, init_values=init_values, rel_pos_type=rel_pos_type, rel_pos_dim=rel_pos_dim
        ),
    )


def _next(
    *,
    no_block_attn: bool = False,
    init_values: tuple[float | None, float | None] = (1e-6, 1e-6),
    rel_pos_type: str = "mlp",
) -> dict[str, Any]:
    """MaxxViT: ConvNeXt conv blocks, layer scale in both kinds of block, MLP relative positions."""
    return dict(
        conv_cfg=MaxxVitConvCfg(block_type="convnext", expand_output=False, init_values=init_values[0]),
        transformer_cfg=MaxxVitTransformerCfg(
            expand_first=False,
            no_block_attn=no_block_attn,
            init_values=init_values[1],
            rel_pos_type=rel_pos_type,
        ),
    )


# the official (TensorFlow) MaxViT weights: tanh-GELU, TF 'same' padding, interleaved qkv heads
_TF = dict(
    conv_cfg=MaxxVitConvCfg(norm_eps=1e-3, act_layer="gelu_tanh", padding="same"),
    transformer_cfg=MaxxVitTransformerCfg(
        norm_eps=1e-5, act_layer="gelu_tanh", head_first=False, rel_pos_type="bias_tf"
    ),
)

_W64 = (64, 128, 256, 512)
_W96 = (96, 192, 384, 768)
_W128 = (128, 256, 512, 1024)
_W192 = (192, 384, 768, 1536)
_M = ("M",) * 4

_coatnet_rw_0 = _args(
    _W96, (2, 3, 7, 2), stem_width=(32, 64), **_rw_coat(conv_attn_early=True, transformer_shortcut_bias=False)
)
_coatnet_rw_2 = _args(
    _W128, (2, 6, 14, 2), stem_width=(64, 128), **_rw_coat(stride_mode="dw", conv_attn_act_layer="silu")
)
_coatnet_rmlp_2 = _args(
    _W128,
    (2, 6, 14, 2),
    stem_width=(64, 128),
    **_rw_coat(stride_mode="dw", conv_attn_act_layer="silu", init_values=1e-6, rel_pos_type="mlp"),
)
_maxvit_tiny_rw = _args(_W64, (2, 2, 5, 2), _M, stem_width=(32, 64), **_rw_max())
_maxvit_rmlp_tiny_rw = _args(_W64, (2, 2, 5, 2), _M, stem_width=(32, 64), **_rw_max(rel_pos_type="mlp"))
_maxvit_rmlp_small_rw = _args(
    _W96, (2, 2, 5, 2), _M, stem_width=(32, 64), **_rw_max(rel_pos_type="mlp", init_values=1e-6)
)
_maxvit_rmlp_base_rw = _args(
    _W96, (2, 6, 14, 2), _M, stem_width=(32, 64), head_hidden_size=768, **_rw_max(rel_pos_type="mlp")
)
_maxxvitv2_rmlp_base = _args(_W128, (2, 6, 12, 2), _M, stem_width=(64, 128), **_next(no_block_attn=True))


def _tf(widths: tuple[int, ...], depths: tuple[int, ...], stem: int) -> Any:
    return _args(widths, depths, _M, stem_width=stem, stem_bias=True, head_hidden_size=widths[-1], **_TF)


_maxvit_tiny_tf = _tf(_W64, (2, 2, 5, 2), 64)
_maxvit_small_tf = _tf(_W96, (2, 2, 5, 2), 64)
_maxvit_base_tf = _tf(_W96, (2, 6, 14, 2), 64)
_maxvit_large_tf = _tf(_W128, (2, 6, 14, 2), 128)
_maxvit_xlarge_tf = _tf(_W192, (2, 6, 14, 2), 192)

VARIANTS = {
    # timm's CoAtNets
    "coatnet_pico_rw_224": _args(
        _W64, (2, 3, 5, 2), stem_width=(32, 64), **_rw_max(conv_output_bias=True, conv_attn_ratio=0.25)
    ),
    "coatnet_nano_rw_224": _args(
        _W64,
        (3, 4, 6, 3),
        stem_width=(32, 64),
        **_rw_max(stride_mode="pool", conv_output_bias=True, conv_attn_ratio=0.25),
    ),
    "coatnet_0_rw_224": _coatnet_rw_0,
    "coatnet_1_rw_224": _args(
        _W96,
        (2, 6, 14, 2),
        stem_width=(32, 64),
        **_rw_coat(stride_mode="dw", conv_attn_early=True, transformer_shortcut_bias=False),
    ),
    "coatnet_2_rw_224": _coatnet_rw_2,
    "coatnet_3_rw_224": _args(
        _W192,
        (2, 6, 14, 2),
        stem_width=(96, 192),
        **_rw_coat(stride_mode="dw", conv_attn_act_layer="silu", init_values=1e-6),
    ),
    "coatnet_bn_0_rw_224": _args(
        _W96,
        (2, 3, 7, 2),
        stem_width=(32, 64),
        **_rw_coat(
            stride_mode="dw",
            conv_attn_early=True,
            transformer_shortcut_bias=False,
            transformer_norm_layer="batchnorm2d",
        ),
    ),
    "coatnet_rmlp_nano_rw_224": _args(
        _W64,
        (3, 4, 6, 3),
        stem_width=(32, 64),
        **_rw_max(conv_output_bias=True, conv_attn_ratio=0.25, rel_pos_type="mlp", rel_pos_dim=384),
    ),
    "coatnet_rmlp_0_rw_224": _args(
        _W96, (2, 3, 7, 2), stem_width=(32, 64), **_rw_coat(stride_mode="dw", rel_pos_type="mlp")
    ),
    "coatnet_rmlp_1_rw_224": _args(
        _W96,
        (2, 6, 14, 2),
        stem_width=(32, 64),
        # NOTE: rel_pos_dim 384 (timm meant 512; the weights have 384)
        **_rw_coat(
            pool_type="max",
            conv_attn_early=True,
            transformer_shortcut_bias=False,
            rel_pos_type="mlp",
            rel_pos_dim=384,
        ),
    ),
    "coatnet_rmlp_1_rw2_224": _args(
        _W96, (2, 6, 14, 2), stem_width=(32, 64), **_rw_coat(stride_mode="dw", rel_pos_type="mlp")
    ),
    "coatnet_rmlp_2_rw_224": _coatnet_rmlp_2,
    "coatnet_rmlp_2_rw_384": _coatnet_rmlp_2,
    "coatnet_rmlp_3_rw_224": _args(
        _W192,
        (2, 6, 14, 2),
        stem_width=(96, 192),
        **_rw_coat(stride_mode="dw", conv_attn_act_layer="silu", init_values=1e-6, rel_pos_type="mlp"),
    ),
    "coatnet_nano_cc_224": _args(
        _W64, (3, 4, 6, 3), ("C", "C", ("C", "T"), ("C", "T")), stem_width=(32, 64), **_rw_coat()
    ),
    "coatnext_nano_rw_224": _args(
        _W64,
        (3, 4, 6, 3),
        stem_width=(32, 64),
        weight_init="normal",
        **_next(init_values=(1e-5, None), rel_pos_type="bias"),
    ),
    # the CoAtNet paper's sizes
    "coatnet_0_224": _args(_W96, (2, 3, 5, 2), stem_width=64, head_hidden_size=768),
    "coatnet_1_224": _args(_W96, (2, 6, 14, 2), stem_width=64, head_hidden_size=768),
    "coatnet_2_224": _args(_W128, (2, 6, 14, 2), stem_width=128, head_hidden_size=1024),
    "coatnet_3_224": _args(_W192, (2, 6, 14, 2), stem_width=192, head_hidden_size=1536),
    "coatnet_4_224": _args(_W192, (2, 12, 28, 2), stem_width=192, head_hidden_size=1536),
    "coatnet_5_224": _args((256, 512, 1280, 2048), (2, 12, 28, 2), stem_width=192, head_hidden_size=2048),
    # timm's MaxViTs
    "maxvit_pico_rw_256": _args((32, 64, 128, 256), (2, 2, 5, 2), _M, stem_width=(24, 32), **_rw_max()),
    "maxvit_nano_rw_256": _args(_W64, (1, 2, 3, 1), _M, stem_width=(32, 64), **_rw_max()),
    "maxvit_tiny_rw_224": _maxvit_tiny_rw,
    "maxvit_tiny_rw_256": _maxvit_tiny_rw,
    "maxvit_rmlp_pico_rw_256": _args(
        (32, 64, 128, 256), (2, 2, 5, 2), _M, stem_width=(24, 32), **_rw_max(rel_pos_type="mlp")
    ),
    "maxvit_rmlp_nano_rw_256": _args(
        _W64, (1, 2, 3, 1), _M, stem_width=(32, 64), **_rw_max(rel_pos_type="mlp")
    ),
    "maxvit_rmlp_tiny_rw_256": _maxvit_rmlp_tiny_rw,
    "maxvit_rmlp_small_rw_224": _maxvit_rmlp_small_rw,
    "maxvit_rmlp_small_rw_256": _maxvit_rmlp_small_rw,
    "maxvit_rmlp_base_rw_224": _maxvit_rmlp_base_rw,
    "maxvit_rmlp_base_rw_384": _maxvit_rmlp_base_rw,
    "maxvit_tiny_pm_256": _args(_W64, (2, 2, 5, 2), ("PM",) * 4, stem_width=(32, 64), **_rw_max()),
    # MaxxViT: ConvNeXt conv blocks
    "maxxvit_rmlp_nano_rw_256": _args(
        _W64, (1, 2, 3, 1), _M, stem_width=(32, 64), weight_init="normal", **_next()
    ),
    "maxxvit_rmlp_tiny_rw_256": _args(_W64, (2, 2, 5, 2), _M, stem_width=(32, 64), **_next()),
    "maxxvit_rmlp_small_rw_256": _args(_W96, (2, 2, 5, 2), _M, stem_width=(48, 96), **_next()),
    # MaxxViT-V2: wider, grid attention only
    "maxxvitv2_nano_rw_256": _args(
        _W96,
        (1, 2, 3, 1),
        _M,
        stem_width=(48, 96),
        weight_init="normal",
        **_next(no_block_attn=True, rel_pos_type="bias"),
    ),
    "maxxvitv2_rmlp_base_rw_224": _maxxvitv2_rmlp_base,
    "maxxvitv2_rmlp_base_rw_384": _maxxvitv2_rmlp_base,
    "maxxvitv2_rmlp_large_rw_224": _args(
        (160, 320, 640, 1280),
        (2, 6, 16, 2),
        _M,
        stem_width=(80, 160),
        head_hidden_size=1280,
        **_next(no_block_attn=True),
    ),
    # the MaxViT paper's models (official TensorFlow weights)
    "maxvit_tiny_tf_224": _maxvit_tiny_tf,
    "maxvit_tiny_tf_384": _maxvit_tiny_tf,
    "maxvit_tiny_tf_512": _maxvit_tiny_tf,
    "maxvit_small_tf_224": _maxvit_small_tf,
    "maxvit_small_tf_384": _maxvit_small_tf,
    "maxvit_small_tf_512": _maxvit_small_tf,
    "maxvit_base_tf_224": _maxvit_base_tf,
    "maxvit_base_tf_384": _maxvit_base_tf,
    "maxvit_base_tf_512": _maxvit_base_tf,
    "maxvit_large_tf_224": _maxvit_large_tf,
    "maxvit_large_tf_384": _maxvit_large_tf,
    "maxvit_large_tf_512": _maxvit_large_tf,
    "maxvit_xlarge_tf_224": _maxvit_xlarge_tf,
    "maxvit_xlarge_tf_384": _maxvit_xlarge_tf,
    "maxvit_xlarge_tf_512": _maxvit_xlarge_tf,
    # tiny test models
    "test_maxvit": _args((32, 64, 96, 128), (1, 1, 1, 1), _M, stem_width=(16, 32), **_rw_max()),
    "test_coatnet": _args(
        (32, 64, 96, 128),
        (1, 1, 2, 1),
        stem_width=(16, 32),
        **_rw_max(stride_mode="pool", conv_output_bias=True, conv_attn_ratio=0.25),
    ),
}
