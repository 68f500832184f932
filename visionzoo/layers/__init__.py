"""Shared building blocks, one concept per file."""

from .activations import GELUTanh, LayerType, create_act_layer, get_act_layer
from .blur_pool import BlurPool2d, create_aa
from .classifier import ClassifierHead, create_classifier
from .conv_bn_act import Conv2dSame, ConvNormAct, create_conv2d
from .create_attn import create_attn, get_attn, register_attn
from .drop import DropBlock2d, DropPath, drop_path
from .eca import EcaModule
from .grn import GlobalResponseNorm
from .helpers import get_padding, make_divisible, to_2tuple
from .inplace_abn import InPlaceABN2d, inplace_abn_kernel
from .layer_norm import LayerNorm, LayerNorm2d
from .mlp import GlobalResponseNormMlp, Mlp
from .norm import GroupNorm, GroupNorm1, get_norm_layer
from .norm_act import BatchNormAct2d, GroupNormAct, get_norm_act_layer, register_norm_act
from .norm_mlp_head import NormMlpClassifierHead
from .pool import AvgPool2dSame, SelectAdaptivePool2d, adaptive_pool_feat_mult
from .rms_norm import RmsNorm, RmsNorm2d, SimpleNorm, SimpleNorm2d
from .squeeze_excite import SEModule

__all__ = [
    "AvgPool2dSame",
    "BatchNormAct2d",
    "BlurPool2d",
    "ClassifierHead",
    "Conv2dSame",
    "ConvNormAct",
    "DropBlock2d",
    "DropPath",
    "EcaModule",
    "GELUTanh",
    "GlobalResponseNorm",
    "GlobalResponseNormMlp",
    "GroupNorm",
    "GroupNorm1",
    "GroupNormAct",
    "InPlaceABN2d",
    "LayerNorm",
    "LayerNorm2d",
    "LayerType",
    "Mlp",
    "NormMlpClassifierHead",
    "RmsNorm",
    "RmsNorm2d",
    "SEModule",
    "SelectAdaptivePool2d",
    "SimpleNorm",
    "SimpleNorm2d",
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
    "inplace_abn_kernel",
    "make_divisible",
    "register_attn",
    "register_norm_act",
    "to_2tuple",
]
