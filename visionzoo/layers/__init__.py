"""Shared building blocks, one concept per file."""

from .activations import GELUTanh, LayerType, QuickGELU, create_act_layer, get_act_layer
from .attention import Attention, set_fused_attn
from .attention_pool import AttentionPoolLatent
from .blur_pool import BlurPool2d, create_aa
from .classifier import ClassifierHead, create_classifier
from .conv_bn_act import Conv2dSame, ConvNormAct, create_conv2d
from .create_attn import create_attn, get_attn, register_attn
from .diff_attention import DiffAttention
from .drop import DropBlock2d, DropPath, drop_path
from .eca import EcaModule
from .evo_norm import EvoNorm2dS0
from .filter_response_norm import FilterResponseNormTlu2d
from .helpers import get_padding, make_divisible, to_2tuple
from .hybrid_embed import HybridEmbed
from .inplace_abn import InPlaceABN2d, inplace_abn_kernel
from .layer_scale import LayerScale
from .mlp import GluMlp, Mlp, SwiGLU, SwiGLUPacked
from .norm import GroupNorm, GroupNorm1, LayerNorm, RmsNorm, get_norm_layer
from .norm_act import BatchNormAct2d, GroupNormAct, get_norm_act_layer, register_norm_act
from .patch_dropout import PatchDropout
from .patch_embed import PatchEmbed, resample_patch_embed
from .pool import AvgPool2dSame, MaxPool2dSame, SelectAdaptivePool2d, adaptive_pool_feat_mult
from .pos_embed import resample_abs_pos_embed
from .squeeze_excite import SEModule
from .std_conv import StdConv2d, StdConv2dSame
from .token_pool import TOKEN_POOL_TYPES, global_pool_nlc

__all__ = [
    "TOKEN_POOL_TYPES",
    "Attention",
    "AttentionPoolLatent",
    "AvgPool2dSame",
    "BatchNormAct2d",
    "BlurPool2d",
    "ClassifierHead",
    "Conv2dSame",
    "ConvNormAct",
    "DiffAttention",
    "DropBlock2d",
    "DropPath",
    "EcaModule",
    "EvoNorm2dS0",
    "FilterResponseNormTlu2d",
    "GELUTanh",
    "GluMlp",
    "GroupNorm",
    "GroupNorm1",
    "GroupNormAct",
    "HybridEmbed",
    "InPlaceABN2d",
    "LayerNorm",
    "LayerScale",
    "LayerType",
    "MaxPool2dSame",
    "Mlp",
    "PatchDropout",
    "PatchEmbed",
    "QuickGELU",
    "RmsNorm",
    "SEModule",
    "SelectAdaptivePool2d",
    "StdConv2d",
    "StdConv2dSame",
    "SwiGLU",
    "SwiGLUPacked",
    "adaptive_pool_feat_mult",
    "create_aa",
    "create_act_layer",
    "create_attn",
    "create_classifier",
    "create_conv2d",
    "drop_path",
    "get_act_layer",
    "get_attn",
    "get_norm_act_layer",
    "get_norm_layer",
    "get_padding",
    "global_pool_nlc",
    "inplace_abn_kernel",
    "make_divisible",
    "register_attn",
    "register_norm_act",
    "resample_abs_pos_embed",
    "resample_patch_embed",
    "set_fused_attn",
    "to_2tuple",
]
