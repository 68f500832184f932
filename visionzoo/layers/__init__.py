"""Shared building blocks, one concept per file.

The public names follow ``timm.layers`` for the layers visionzoo has, so code written against
timm imports them from here unchanged.
"""

from ._fx import (
    create_feature_extractor,
    get_graph_node_names,
    get_notrace_functions,
    get_notrace_modules,
    is_notrace_function,
    is_notrace_module,
    register_notrace_function,
    register_notrace_module,
)
from .activations import (
    GELU,
    GELUTanh,
    HardMish,
    HardSigmoid,
    HardSwish,
    LayerType,
    Mish,
    PReLU,
    QuickGELU,
    Sigmoid,
    Swish,
    Tanh,
    act_or_identity,
    create_act_layer,
    gelu,
    get_act_fn,
    get_act_layer,
    hard_mish,
    hard_sigmoid,
    hard_swish,
    mish,
    sigmoid,
    swish,
    tanh,
)
from .attention import Attention, set_fused_attn
from .attention2d import Attention2d, MultiQueryAttention2d, MultiQueryAttentionV2
from .attention_pool import AttentionPoolLatent, AttentionPoolPrr
from .attention_pool2d import AttentionPool2d, RotAttentionPool2d
from .blur_pool import BlurPool2d, create_aa
from .bottleneck_attn import BottleneckAttn
from .classifier import ClassifierHead, create_classifier
from .config import (
    is_exportable,
    is_no_jit,
    is_scriptable,
    set_exportable,
    set_layer_config,
    set_no_jit,
    set_scriptable,
)
from .conv_bn_act import Conv2dSame, ConvBnAct, ConvNormAct, create_conv2d
from .create_attn import create_attn, get_attn, register_attn
from .diff_attention import DiffAttention
from .drop import DropBlock2d, DropPath, calculate_drop_path_rates, drop_block_2d, drop_path
from .eca import EcaModule, EfficientChannelAttn
from .evo_norm import EvoNorm2dS0, EvoNorm2dS0a
from .fast_norm import fast_group_norm, fast_layer_norm, is_fast_norm, set_fast_norm
from .filter_response_norm import FilterResponseNormTlu2d
from .format import Format, get_channel_dim, get_spatial_dim, nchw_to, nhwc_to
from .grn import GlobalResponseNorm
from .halo_attn import HaloAttn
from .helpers import (
    extend_tuple,
    get_device_dtype,
    get_padding,
    get_same_padding,
    make_divisible,
    to_2tuple,
    to_3tuple,
    to_4tuple,
    to_ntuple,
)
from .hybrid_embed import HybridEmbed
from .inplace_abn import InPlaceABN2d, inplace_abn_kernel
from .lambda_layer import LambdaLayer
from .layer_norm import LayerNorm, LayerNorm2d
from .layer_scale import LayerScale, LayerScale2d
from .mlp import GatedMlp, GlobalResponseNormMlp, GluMlp, Mlp, SwiGLU, SwiGLUPacked
from .non_local_attn import BatNonLocalAttn, BilinearAttnTransform
from .norm import GroupNorm, GroupNorm1, get_norm_layer
from .norm_act import BatchNormAct2d, GroupNormAct, get_norm_act_layer, register_norm_act
from .norm_mlp_head import ClNormMlpClassifierHead, NormMlpClassifierHead
from .other_pool import LsePlus1d, LsePlus2d, SimPool1d, SimPool2d
from .padding import pad_same
from .partial_conv import PartialConv2d
from .patch_dropout import PatchDropout
from .patch_embed import PatchEmbed, PatchEmbedInterpolator, resample_patch_embed
from .pool import (
    AdaptiveAvgMaxPool2d,
    AdaptiveCatAvgMaxPool2d,
    AvgPool2dSame,
    MaxPool2dSame,
    SelectAdaptivePool2d,
    adaptive_avgmax_pool2d,
    adaptive_catavgmax_pool2d,
    adaptive_pool_feat_mult,
    create_pool2d,
    select_adaptive_pool2d,
)
from .pos_embed import resample_abs_pos_embed
from .pos_embed_rel import (
    RelPosBias,
    RelPosMlp,
    gen_relative_log_coords,
    gen_relative_position_index,
    resize_rel_pos_bias_table,
)
from .rel_pos_decomposed import (
    add_decomposed_rel_pos,
    decomposed_rel_pos_bias,
    rel_pos_offsets,
    resize_rel_pos_table,
)
from .rms_norm import RmsNorm, RmsNorm2d, SimpleNorm, SimpleNorm2d
from .selective_kernel import SelectiveKernel
from .separable_conv import SeparableConv2d, SeparableConvBnAct, SeparableConvNormAct
from .space_to_depth import DepthToSpace, SpaceToDepth
from .split_attn import SplitAttn
from .squeeze_excite import EffectiveSEModule, EffectiveSqueezeExcite, SEModule, SqueezeExcite
from .std_conv import ScaledStdConv2d, ScaledStdConv2dSame, StdConv2d, StdConv2dSame
from .token_pool import TOKEN_POOL_TYPES, global_pool_nlc
from .weight_init import (
    init_weight_jax,
    init_weight_vit,
    lecun_normal_,
    trunc_normal_,
    trunc_normal_tf_,
    variance_scaling_,
)
from .window import pad_to_windows, window_partition, window_unpartition

__all__ = [
    "GELU",
    "TOKEN_POOL_TYPES",
    "AdaptiveAvgMaxPool2d",
    "AdaptiveCatAvgMaxPool2d",
    "Attention",
    "Attention2d",
    "AttentionPool2d",
    "AttentionPoolLatent",
    "AttentionPoolPrr",
    "AvgPool2dSame",
    "BatNonLocalAttn",
    "BatchNormAct2d",
    "BilinearAttnTransform",
    "BlurPool2d",
    "BottleneckAttn",
    "ClNormMlpClassifierHead",
    "ClassifierHead",
    "Conv2dSame",
    "ConvBnAct",
    "ConvNormAct",
    "DepthToSpace",
    "DiffAttention",
    "DropBlock2d",
    "DropPath",
    "EcaModule",
    "EffectiveSEModule",
    "EffectiveSqueezeExcite",
    "EfficientChannelAttn",
    "EvoNorm2dS0",
    "EvoNorm2dS0a",
    "FilterResponseNormTlu2d",
    "Format",
    "GELUTanh",
    "GatedMlp",
    "GlobalResponseNorm",
    "GlobalResponseNormMlp",
    "GluMlp",
    "GroupNorm",
    "GroupNorm1",
    "GroupNormAct",
    "HaloAttn",
    "HardMish",
    "HardSigmoid",
    "HardSwish",
    "HybridEmbed",
    "InPlaceABN2d",
    "LambdaLayer",
    "LayerNorm",
    "LayerNorm2d",
    "LayerScale",
    "LayerScale2d",
    "LayerType",
    "LsePlus1d",
    "LsePlus2d",
    "MaxPool2dSame",
    "Mish",
    "Mlp",
    "MultiQueryAttention2d",
    "MultiQueryAttentionV2",
    "NormMlpClassifierHead",
    "PReLU",
    "PartialConv2d",
    "PatchDropout",
    "PatchEmbed",
    "PatchEmbedInterpolator",
    "QuickGELU",
    "RelPosBias",
    "RelPosMlp",
    "RmsNorm",
    "RmsNorm2d",
    "RotAttentionPool2d",
    "SEModule",
    "ScaledStdConv2d",
    "ScaledStdConv2dSame",
    "SelectAdaptivePool2d",
    "SelectiveKernel",
    "SeparableConv2d",
    "SeparableConvBnAct",
    "SeparableConvNormAct",
    "Sigmoid",
    "SimPool1d",
    "SimPool2d",
    "SimpleNorm",
    "SimpleNorm2d",
    "SpaceToDepth",
    "SplitAttn",
    "SqueezeExcite",
    "StdConv2d",
    "StdConv2dSame",
    "SwiGLU",
    "SwiGLUPacked",
    "Swish",
    "Tanh",
    "act_or_identity",
    "adaptive_avgmax_pool2d",
    "adaptive_catavgmax_pool2d",
    "adaptive_pool_feat_mult",
    "add_decomposed_rel_pos",
    "calculate_drop_path_rates",
    "create_aa",
    "create_act_layer",
    "create_attn",
    "create_classifier",
    "create_conv2d",
    "create_feature_extractor",
    "create_pool2d",
    "decomposed_rel_pos_bias",
    "drop_block_2d",
    "drop_path",
    "extend_tuple",
    "fast_group_norm",
    "fast_layer_norm",
    "gelu",
    "gen_relative_log_coords",
    "gen_relative_position_index",
    "get_act_fn",
    "get_act_layer",
    "get_attn",
    "get_channel_dim",
    "get_device_dtype",
    "get_graph_node_names",
    "get_norm_act_layer",
    "get_norm_layer",
    "get_notrace_functions",
    "get_notrace_modules",
    "get_padding",
    "get_same_padding",
    "get_spatial_dim",
    "global_pool_nlc",
    "hard_mish",
    "hard_sigmoid",
    "hard_swish",
    "init_weight_jax",
    "init_weight_vit",
    "inplace_abn_kernel",
    "is_exportable",
    "is_fast_norm",
    "is_no_jit",
    "is_notrace_function",
    "is_notrace_module",
    "is_scriptable",
    "lecun_normal_",
    "make_divisible",
    "mish",
    "nchw_to",
    "nhwc_to",
    "pad_same",
    "pad_to_windows",
    "register_attn",
    "register_norm_act",
    "register_notrace_function",
    "register_notrace_module",
    "rel_pos_offsets",
    "resample_abs_pos_embed",
    "resample_patch_embed",
    "resize_rel_pos_bias_table",
    "resize_rel_pos_table",
    "select_adaptive_pool2d",
    "set_exportable",
    "set_fast_norm",
    "set_fused_attn",
    "set_layer_config",
    "set_no_jit",
    "set_scriptable",
    "sigmoid",
    "swish",
    "tanh",
    "to_2tuple",
    "to_3tuple",
    "to_4tuple",
    "to_ntuple",
    "trunc_normal_",
    "trunc_normal_tf_",
    "variance_scaling_",
    "window_partition",
    "window_unpartition",
]
