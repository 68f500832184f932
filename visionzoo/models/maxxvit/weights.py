"""MaxxVit weight tags, in timm 1.0.31's order and with its values. The models take one input
size (the partition windows follow it): ``fixed_input_size``; the final map is the input / 32."""

from __future__ import annotations

from functools import partial

from ...pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, NO_WEIGHTS, RWIGHTMAN_RELEASES, weight

__all__ = ["CFG_DEFAULTS", "WEIGHTS"]

CFG_DEFAULTS = dict(
    input_size=(3, 224, 224),
    pool_size=(7, 7),
    crop_pct=0.95,
    interpolation="bicubic",
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    first_conv="stem.conv1",
    classifier="head.fc",
    fixed_input_size=True,
    license="apache-2.0",
)
_w = partial(weight, pool_reduction=32)
_MAXX = RWIGHTMAN_RELEASES + "v0.1-weights-maxx/"
_IN = dict(mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD)
_FT = dict(crop_pct=1.0, crop_mode="squash")  # fine-tuned at 384 / 512
_IN12K = dict(num_classes=11821)
_IN21K = dict(num_classes=21843)

WEIGHTS = {
    # timm's CoAtNets, ImageNet-1k
    "coatnet_pico_rw_224.untrained": _w(NO_WEIGHTS),
    "coatnet_nano_rw_224.sw_in1k": _w(url=_MAXX + "coatnet_nano_rw_224_sw-f53093b4.pth", crop=0.9),
    "coatnet_0_rw_224.sw_in1k": _w(url=_MAXX + "coatnet_0_rw_224_sw-a6439706.pth"),
    "coatnet_1_rw_224.sw_in1k": _w(url=_MAXX + "coatnet_1_rw_224_sw-5cae1ea8.pth"),
    # ImageNet-12k pretrain, 1k fine-tune
    "coatnet_2_rw_224.sw_in12k_ft_in1k": _w(default=True),
    "coatnet_rmlp_1_rw2_224.sw_in12k_ft_in1k": _w(default=True),
    "coatnet_rmlp_2_rw_224.sw_in12k_ft_in1k": _w(default=True),
    "coatnet_rmlp_2_rw_384.sw_in12k_ft_in1k": _w(_FT, size=384),
    # ImageNet-1k, other norms and MLP relative positions
    "coatnet_bn_0_rw_224.sw_in1k": _w(_IN, url=_MAXX + "coatnet_bn_0_rw_224_sw-c228e218.pth"),
    "coatnet_rmlp_nano_rw_224.sw_in1k": _w(url=_MAXX + "coatnet_rmlp_nano_rw_224_sw-bd1d51b3.pth", crop=0.9),
    "coatnet_rmlp_0_rw_224.untrained": _w(NO_WEIGHTS),
    "coatnet_rmlp_1_rw_224.sw_in1k": _w(url=_MAXX + "coatnet_rmlp_1_rw_224_sw-9051e6c3.pth"),
    "coatnet_rmlp_2_rw_224.sw_in1k": _w(url=_MAXX + "coatnet_rmlp_2_rw_224_sw-5ccfac55.pth"),
    "coatnet_rmlp_3_rw_224.untrained": _w(NO_WEIGHTS),
    "coatnet_nano_cc_224.untrained": _w(NO_WEIGHTS),
    "coatnext_nano_rw_224.sw_in1k": _w(url=_MAXX + "coatnext_nano_rw_224_ad-22cb71c2.pth", crop=0.9),
    # ImageNet-12k
    "coatnet_2_rw_224.sw_in12k": _w(_IN12K),
    "coatnet_3_rw_224.sw_in12k": _w(_IN12K),
    "coatnet_rmlp_1_rw2_224.sw_in12k": _w(_IN12K),
    "coatnet_rmlp_2_rw_224.sw_in12k": _w(_IN12K),
    # the CoAtNet paper's sizes
    "coatnet_0_224.untrained": _w(NO_WEIGHTS),
    "coatnet_1_224.untrained": _w(NO_WEIGHTS),
    "coatnet_2_224.untrained": _w(NO_WEIGHTS),
    "coatnet_3_224.untrained": _w(NO_WEIGHTS),
    "coatnet_4_224.untrained": _w(NO_WEIGHTS),
    "coatnet_5_224.untrained": _w(NO_WEIGHTS),
    # timm's MaxViTs
    "maxvit_pico_rw_256.untrained": _w(NO_WEIGHTS, size=256),
    "maxvit_nano_rw_256.sw_in1k": _w(url=_MAXX + "maxvit_nano_rw_256_sw-fb127241.pth", size=256),
    "maxvit_tiny_rw_224.sw_in1k": _w(url=_MAXX + "maxvit_tiny_rw_224_sw-7d0dffeb.pth"),
    "maxvit_tiny_rw_256.untrained": _w(NO_WEIGHTS, size=256),
    "maxvit_tiny_pm_256.untrained": _w(NO_WEIGHTS, size=256),
    "maxvit_rmlp_pico_rw_256.sw_in1k": _w(url=_MAXX + "maxvit_rmlp_pico_rw_256_sw-8d82f2c6.pth", size=256),
    "maxvit_rmlp_nano_rw_256.sw_in1k": _w(url=_MAXX + "maxvit_rmlp_nano_rw_256_sw-c17bb0d6.pth", size=256),
    "maxvit_rmlp_tiny_rw_256.sw_in1k": _w(url=_MAXX + "maxvit_rmlp_tiny_rw_256_sw-bbef0ff5.pth", size=256),
    "maxvit_rmlp_small_rw_224.sw_in1k": _w(url=_MAXX + "maxvit_rmlp_small_rw_224_sw-6ef0ae4f.pth", crop=0.9),
    "maxvit_rmlp_small_rw_256.untrained": _w(NO_WEIGHTS, size=256),
    "maxvit_rmlp_base_rw_224.sw_in12k_ft_in1k": _w(default=True),
    "maxvit_rmlp_base_rw_384.sw_in12k_ft_in1k": _w(_FT, size=384),
    "maxvit_rmlp_base_rw_224.sw_in12k": _w(_IN12K),
    # MaxxViT
    "maxxvit_rmlp_nano_rw_256.sw_in1k": _w(url=_MAXX + "maxxvit_rmlp_nano_rw_256_sw-0325d459.pth", size=256),
    "maxxvit_rmlp_tiny_rw_256.untrained": _w(NO_WEIGHTS, size=256),
    "maxxvit_rmlp_small_rw_256.sw_in1k": _w(
        url=_MAXX + "maxxvit_rmlp_small_rw_256_sw-37e217ff.pth", size=256
    ),
    # MaxxViT-V2
    "maxxvitv2_nano_rw_256.sw_in1k": _w(size=256),
    "maxxvitv2_rmlp_base_rw_224.sw_in12k_ft_in1k": _w(default=True),
    "maxxvitv2_rmlp_base_rw_384.sw_in12k_ft_in1k": _w(_FT, size=384),
    "maxxvitv2_rmlp_large_rw_224.untrained": _w(NO_WEIGHTS),
    "maxxvitv2_rmlp_base_rw_224.sw_in12k": _w(_IN12K),
    # the official TensorFlow MaxViT weights
    "maxvit_tiny_tf_224.in1k": _w(_IN),
    "maxvit_tiny_tf_384.in1k": _w(_FT, size=384, default=True),
    "maxvit_tiny_tf_512.in1k": _w(_FT, size=512),
    "maxvit_small_tf_224.in1k": _w(_IN),
    "maxvit_small_tf_384.in1k": _w(_FT, size=384, default=True),
    "maxvit_small_tf_512.in1k": _w(_FT, size=512),
    "maxvit_base_tf_224.in1k": _w(_IN, default=True),
    "maxvit_base_tf_384.in1k": _w(_FT, size=384, default=True),
    "maxvit_base_tf_512.in1k": _w(_FT, size=512, default=True),
    "maxvit_large_tf_224.in1k": _w(_IN, default=True),
    "maxvit_large_tf_384.in1k": _w(_FT, size=384, default=True),
    "maxvit_large_tf_512.in1k": _w(_FT, size=512, default=True),
    "maxvit_base_tf_224.in21k": _w(_IN21K),
    "maxvit_base_tf_384.in21k_ft_in1k": _w(_FT, size=384),
    "maxvit_base_tf_512.in21k_ft_in1k": _w(_FT, size=512),
    "maxvit_large_tf_224.in21k": _w(_IN21K),
    "maxvit_large_tf_384.in21k_ft_in1k": _w(_FT, size=384),
    # NOTE: timm leaves this one's pool_size at the 224 px default
    "maxvit_large_tf_512.in21k_ft_in1k": weight(_FT, input_size=(3, 512, 512)),
    "maxvit_xlarge_tf_224.in21k": _w(_IN21K),
    "maxvit_xlarge_tf_384.in21k_ft_in1k": _w(_FT, size=384),
    "maxvit_xlarge_tf_512.in21k_ft_in1k": _w(_FT, size=512),
    "test_maxvit.untrained": _w(NO_WEIGHTS, size=160),
    "test_coatnet.untrained": _w(NO_WEIGHTS, size=160),
}
