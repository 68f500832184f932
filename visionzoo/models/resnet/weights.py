"""ResNet weight tags (``default=True`` marks an architecture's default when it has several) and
the deprecated names that map onto them. Values equal timm 1.0.31's configs."""

from __future__ import annotations

import math
from typing import Any

from ...pretrained import HUGGINGFACE_RELEASES, NO_WEIGHTS, RWIGHTMAN_RELEASES, weight
from ...variants import Pruned
from .variants import VARIANTS

__all__ = ["CFG_DEFAULTS", "DEPRECATED", "WEIGHTS"]

_TIMM_REPO = "https://github.com/huggingface/pytorch-image-models"
_RSB_PAPER = "arXiv:2110.00476"
_TV_REPO = "https://github.com/pytorch/vision"
_FB_SSL_REPO = "https://github.com/facebookresearch/semi-supervised-ImageNet1K-models"
# What every ResNet weight config shares; profiles below hold what a training recipe changes.
CFG_DEFAULTS = dict(interpolation="bilinear", classifier="fc", license="apache-2.0")
_BICUBIC = dict(interpolation="bicubic")
_MIIL = dict(interpolation="bicubic", test_input_size=(3, 288, 288), test_crop_pct=0.95)
_TIMM = dict(_MIIL, origin_url=_TIMM_REPO)  # trained in timm
_RSB = dict(  # "ResNet strikes back" recipes
    interpolation="bicubic",
    crop_pct=0.95,
    test_input_size=(3, 288, 288),
    test_crop_pct=1.0,
    origin_url=_TIMM_REPO,
    paper_ids=_RSB_PAPER,
)
_RSB160 = dict(_RSB, input_size=(3, 160, 160), test_input_size=(3, 224, 224), test_crop_pct=0.95)
_GLUON = dict(interpolation="bicubic", origin_url="https://cv.gluon.ai/model_zoo/classification.html")
_GLUON_RELEASE = "https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/"
_TV = dict(license="bsd-3-clause", origin_url=_TV_REPO)
_TV2 = dict(_TV, input_size=(3, 176, 176), test_input_size=(3, 224, 224), test_crop_pct=0.965)
_FB_SSL = dict(license="cc-by-nc-4.0", origin_url=_FB_SSL_REPO)
_FB_WSL = dict(license="cc-by-nc-4.0", origin_url="https://github.com/facebookresearch/WSL-Images")


def _derive(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """Fill what follows from the architecture: the first conv and the final pool size."""
    args = VARIANTS[name.partition(".")[0]]
    args = args.args if isinstance(args, Pruned) else args
    size = cfg.get("input_size", (3, 224, 224))
    return {
        "first_conv": "conv1.0" if args.stem_type else "conv1",
        "pool_size": tuple(math.ceil(s / 32) for s in size[1:]),
        **cfg,
    }


# "arch.tag": what differs from CFG_DEFAULTS (first conv and pool size derived below)
_WEIGHTS = {
    "resnet10t.c3_in1k": weight(
        _TIMM,
        url=RWIGHTMAN_RELEASES + "v0.1-rsb-weights/resnet10t_176_c3-f3215ab1.pth",
        input_size=(3, 176, 176),
        test_input_size=(3, 224, 224),
    ),
    "resnet14t.c3_in1k": weight(
        _TIMM,
        url=RWIGHTMAN_RELEASES + "v0.1-rsb-weights/resnet14t_176_c3-c4ed2c37.pth",
        input_size=(3, 176, 176),
        test_input_size=(3, 224, 224),
    ),
    "resnet18.a1_in1k": weight(
        _RSB, default=True, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet18_a1_0-d63eafa0.pth"
    ),
    "resnet18.a2_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet18_a2_0-b61bd467.pth"
    ),
    "resnet18.a3_in1k": weight(
        _RSB160, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet18_a3_0-40c531c8.pth"
    ),
    "resnet18.tv_in1k": weight(_TV, url="https://download.pytorch.org/models/resnet18-f37072fd.pth"),
    "resnet18.fb_ssl_yfcc100m_ft_in1k": weight(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnet18-d92f0530.pth",
    ),
    "resnet18.fb_swsl_ig1b_ft_in1k": weight(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnet18-118f1556.pth",
    ),
    "resnet18.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnet18_v1b-0757602b.pth",
    ),
    "resnet18d.ra2_in1k": weight(
        _TIMM, default=True, url=RWIGHTMAN_RELEASES + "v0.1-weights/resnet18d_ra2-48a79e06.pth"
    ),
    "resnet18d.ra4_e3600_r224_in1k": weight(_RSB, crop_pct=0.9, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
    "resnet34.a1_in1k": weight(
        _RSB, default=True, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet34_a1_0-46f8f793.pth"
    ),
    "resnet34.a2_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet34_a2_0-82d47d71.pth"
    ),
    "resnet34.a3_in1k": weight(
        _RSB160, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet34_a3_0-a20cabb6.pth"
    ),
    "resnet34.bt_in1k": weight(_TIMM, url=RWIGHTMAN_RELEASES + "v0.1-weights/resnet34-43635321.pth"),
    "resnet34.ra4_e3600_r224_in1k": weight(_RSB, crop_pct=0.9, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
    "resnet34.tv_in1k": weight(_TV, url="https://download.pytorch.org/models/resnet34-b627a593.pth"),
    "resnet34.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnet34_v1b-c6d82d59.pth",
    ),
    "resnet34d.ra2_in1k": weight(_TIMM, url=RWIGHTMAN_RELEASES + "v0.1-weights/resnet34d_ra2-f8dcfcaf.pth"),
    "resnet26.bt_in1k": weight(_TIMM, url=RWIGHTMAN_RELEASES + "v0.1-weights/resnet26-9aa10e23.pth"),
    "resnet26t.ra2_in1k": weight(
        _TIMM,
        url=RWIGHTMAN_RELEASES + "v0.1-attn-weights/resnet26t_256_ra2-6f6fa748.pth",
        input_size=(3, 256, 256),
        crop_pct=0.94,
        test_input_size=(3, 320, 320),
        test_crop_pct=1.0,
    ),
    "resnet26d.bt_in1k": weight(_TIMM, url=RWIGHTMAN_RELEASES + "v0.1-weights/resnet26d-69e92c46.pth"),
    "resnet50.a1_in1k": weight(
        _RSB, default=True, url=RWIGHTMAN_RELEASES + "v0.1-rsb-weights/resnet50_a1_0-14fe96d1.pth"
    ),
    "resnet50.a1h_in1k": weight(
        _RSB,
        url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet50_a1h2_176-001a1197.pth",
        input_size=(3, 176, 176),
        crop_pct=0.9,
        test_input_size=(3, 224, 224),
    ),
    "resnet50.a2_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet50_a2_0-a2746f79.pth"
    ),
    "resnet50.a3_in1k": weight(
        _RSB160, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet50_a3_0-59cae1ef.pth"
    ),
    "resnet50.b1k_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet50_b1k-532a802a.pth"
    ),
    "resnet50.b2k_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet50_b2k-1ba180c1.pth"
    ),
    "resnet50.c1_in1k": weight(_RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet50_c1-5ba5e060.pth"),
    "resnet50.c2_in1k": weight(_RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet50_c2-d01e05b2.pth"),
    "resnet50.d_in1k": weight(_RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet50_d-f39db8af.pth"),
    "resnet50.ram_in1k": weight(_TIMM, url=HUGGINGFACE_RELEASES + "v0.1-weights/resnet50_ram-a26f946b.pth"),
    "resnet50.am_in1k": weight(_BICUBIC, url=HUGGINGFACE_RELEASES + "v0.1-weights/resnet50_am-6c502b37.pth"),
    "resnet50.ra_in1k": weight(_TIMM, url=HUGGINGFACE_RELEASES + "v0.1-weights/resnet50_ra-85ebb6e5.pth"),
    "resnet50.bt_in1k": weight(_TIMM, url=HUGGINGFACE_RELEASES + "v0.1-weights/rw_resnet50-86acaeed.pth"),
    "resnet50.tv_in1k": weight(_TV, url="https://download.pytorch.org/models/resnet50-0676ba61.pth"),
    "resnet50.tv2_in1k": weight(_TV2, url="https://download.pytorch.org/models/resnet50-11ad3fa6.pth"),
    "resnet50.bamboo": weight(
        _BICUBIC,
        num_classes=0,
        crop_pct=1.0,
        license=None,
        origin_url="https://github.com/ZhangYuanhan-AI/Bamboo",
        paper_ids="arXiv:2203.07845",
    ),
    "resnet50.fb_ssl_yfcc100m_ft_in1k": weight(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnet50-08389792.pth",
    ),
    "resnet50.fb_swsl_ig1b_ft_in1k": weight(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnet50-16a12f1b.pth",
    ),
    "resnet50.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnet50_v1b-0ebe02e2.pth",
    ),
    "resnet50c.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnet50_v1c-48092f55.pth",
    ),
    "resnet50d.ra2_in1k": weight(
        _TIMM, default=True, url=RWIGHTMAN_RELEASES + "v0.1-weights/resnet50d_ra2-464e36ba.pth"
    ),
    "resnet50d.ra4_e3600_r224_in1k": weight(_RSB, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
    "resnet50d.a1_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet50d_a1_0-e20cff14.pth"
    ),
    "resnet50d.a2_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet50d_a2_0-a3adc64d.pth"
    ),
    "resnet50d.a3_in1k": weight(
        _RSB160, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet50d_a3_0-403fdfad.pth"
    ),
    "resnet50d.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnet50_v1d-818a1b1b.pth",
    ),
    "resnet50s.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnet50_v1s-1762acc0.pth",
    ),
    "resnet50t.untrained": weight(_TIMM, NO_WEIGHTS),
    "resnet101.a1h_in1k": weight(
        _RSB, default=True, url=RWIGHTMAN_RELEASES + "v0.1-rsb-weights/resnet101_a1h-36d3f2aa.pth"
    ),
    "resnet101.a1_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet101_a1_0-cdcb52a9.pth"
    ),
    "resnet101.a2_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet101_a2_0-6edb36c7.pth"
    ),
    "resnet101.a3_in1k": weight(
        _RSB160, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet101_a3_0-1db14157.pth"
    ),
    "resnet101.tv_in1k": weight(_TV, url="https://download.pytorch.org/models/resnet101-63fe2227.pth"),
    "resnet101.tv2_in1k": weight(_TV2, url="https://download.pytorch.org/models/resnet101-cd907fc2.pth"),
    "resnet101.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnet101_v1b-3b017079.pth",
    ),
    "resnet101c.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnet101_v1c-1f26822a.pth",
    ),
    "resnet101d.ra2_in1k": weight(
        _RSB,
        default=True,
        url=RWIGHTMAN_RELEASES + "v0.1-weights/resnet101d_ra2-2803ffab.pth",
        input_size=(3, 256, 256),
        test_input_size=(3, 320, 320),
        paper_ids=None,
    ),
    "resnet101d.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnet101_v1d-0f9c8644.pth",
    ),
    "resnet101s.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnet101_v1s-60fe0cc1.pth",
    ),
    "resnet152.a1h_in1k": weight(
        _RSB, default=True, url=RWIGHTMAN_RELEASES + "v0.1-rsb-weights/resnet152_a1h-dc400468.pth"
    ),
    "resnet152.a1_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet152_a1_0-2eee8a7a.pth"
    ),
    "resnet152.a2_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet152_a2_0-b4c6978f.pth"
    ),
    "resnet152.a3_in1k": weight(
        _RSB160, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnet152_a3_0-134d4688.pth"
    ),
    "resnet152.tv_in1k": weight(_TV, url="https://download.pytorch.org/models/resnet152-394f9c45.pth"),
    "resnet152.tv2_in1k": weight(_TV2, url="https://download.pytorch.org/models/resnet152-f82ba261.pth"),
    "resnet152.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnet152_v1b-c1edb0dd.pth",
    ),
    "resnet152c.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnet152_v1c-a3bb0b98.pth",
    ),
    "resnet152d.ra2_in1k": weight(
        _RSB,
        default=True,
        url=RWIGHTMAN_RELEASES + "v0.1-weights/resnet152d_ra2-5cac0439.pth",
        input_size=(3, 256, 256),
        test_input_size=(3, 320, 320),
        paper_ids=None,
    ),
    "resnet152d.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnet152_v1d-bd354e12.pth",
    ),
    "resnet152s.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnet152_v1s-dcc41b81.pth",
    ),
    "resnet200.untrained": weight(_TIMM, NO_WEIGHTS),
    "resnet200d.ra2_in1k": weight(
        _RSB,
        url=RWIGHTMAN_RELEASES + "v0.1-weights/resnet200d_ra2-bdba9bf9.pth",
        input_size=(3, 256, 256),
        test_input_size=(3, 320, 320),
        paper_ids=None,
    ),
    "wide_resnet50_2.racm_in1k": weight(
        _TIMM, default=True, url=RWIGHTMAN_RELEASES + "v0.1-weights/wide_resnet50_racm-8234f177.pth"
    ),
    "wide_resnet50_2.tv_in1k": weight(
        _TV, url="https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth"
    ),
    "wide_resnet50_2.tv2_in1k": weight(
        _TV2, url="https://download.pytorch.org/models/wide_resnet50_2-9ba9bcbe.pth"
    ),
    "wide_resnet101_2.tv_in1k": weight(
        _TV, default=True, url="https://download.pytorch.org/models/wide_resnet101_2-32ee1156.pth"
    ),
    "wide_resnet101_2.tv2_in1k": weight(
        _TV2, url="https://download.pytorch.org/models/wide_resnet101_2-d733dc28.pth"
    ),
    "resnet50_gn.a1h_in1k": weight(
        _TIMM, url=RWIGHTMAN_RELEASES + "v0.1-rsb-weights/resnet50_gn_a1h2-8fe6c4d0.pth", crop_pct=0.94
    ),
    "resnext50_32x4d.a1h_in1k": weight(
        _RSB, default=True, url=RWIGHTMAN_RELEASES + "v0.1-rsb-weights/resnext50_32x4d_a1h-0146ab0a.pth"
    ),
    "resnext50_32x4d.a1_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnext50_32x4d_a1_0-b5a91a1d.pth"
    ),
    "resnext50_32x4d.a2_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnext50_32x4d_a2_0-efc76add.pth"
    ),
    "resnext50_32x4d.a3_in1k": weight(
        _RSB160, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/resnext50_32x4d_a3_0-3e450271.pth"
    ),
    "resnext50_32x4d.ra_in1k": weight(
        _TIMM, url=HUGGINGFACE_RELEASES + "v0.1-weights/resnext50_32x4d_ra-d733960d.pth"
    ),
    "resnext50_32x4d.tv_in1k": weight(
        _TV, url="https://download.pytorch.org/models/resnext50_32x4d-7cdf4587.pth"
    ),
    "resnext50_32x4d.tv2_in1k": weight(
        _TV2, url="https://download.pytorch.org/models/resnext50_32x4d-1a0047aa.pth"
    ),
    "resnext50_32x4d.fb_ssl_yfcc100m_ft_in1k": weight(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnext50_32x4-ddb3e555.pth",
    ),
    "resnext50_32x4d.fb_swsl_ig1b_ft_in1k": weight(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnext50_32x4-72679e44.pth",
    ),
    "resnext50_32x4d.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnext50_32x4d-e6a097c1.pth",
    ),
    "resnext50d_32x4d.bt_in1k": weight(
        _TIMM, url=RWIGHTMAN_RELEASES + "v0.1-weights/resnext50d_32x4d-103e99f8.pth"
    ),
    "resnext101_32x4d.fb_ssl_yfcc100m_ft_in1k": weight(
        _FB_SSL,
        default=True,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnext101_32x4-dc43570a.pth",
    ),
    "resnext101_32x4d.untrained": weight(_TIMM, NO_WEIGHTS),
    "resnext101_32x4d.fb_swsl_ig1b_ft_in1k": weight(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnext101_32x4-3f87e46b.pth",
    ),
    "resnext101_32x4d.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnext101_32x4d-b253c8c4.pth",
    ),
    "resnext101_32x8d.tv_in1k": weight(
        _TV, default=True, url="https://download.pytorch.org/models/resnext101_32x8d-8ba56ff5.pth"
    ),
    "resnext101_32x8d.tv2_in1k": weight(
        _TV2, url="https://download.pytorch.org/models/resnext101_32x8d-110c445d.pth"
    ),
    "resnext101_32x8d.fb_wsl_ig1b_ft_in1k": weight(
        _FB_WSL, url="https://download.pytorch.org/models/ig_resnext101_32x8-c38310e5.pth"
    ),
    "resnext101_32x8d.fb_ssl_yfcc100m_ft_in1k": weight(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnext101_32x8-2cfe2f8b.pth",
    ),
    "resnext101_32x8d.fb_swsl_ig1b_ft_in1k": weight(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnext101_32x8-b4712904.pth",
    ),
    "resnext101_32x16d.fb_wsl_ig1b_ft_in1k": weight(
        _FB_WSL, default=True, url="https://download.pytorch.org/models/ig_resnext101_32x16-c6f796b0.pth"
    ),
    "resnext101_32x16d.fb_ssl_yfcc100m_ft_in1k": weight(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnext101_32x16-15fffa57.pth",
    ),
    "resnext101_32x16d.fb_swsl_ig1b_ft_in1k": weight(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnext101_32x16-f3559a9c.pth",
    ),
    "resnext101_32x32d.fb_wsl_ig1b_ft_in1k": weight(
        _FB_WSL, url="https://download.pytorch.org/models/ig_resnext101_32x32-e4b90b00.pth"
    ),
    "resnext101_64x4d.c1_in1k": weight(
        _RSB, default=True, url=RWIGHTMAN_RELEASES + "v0.1-tpu-weights/resnext101_64x4d_c-0d0e0cc0.pth"
    ),
    "resnext101_64x4d.tv_in1k": weight(
        _TV, url="https://download.pytorch.org/models/resnext101_64x4d-173b62eb.pth"
    ),
    "resnext101_64x4d.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_resnext101_64x4d-f9a8e184.pth",
    ),
    "ecaresnet26t.ra2_in1k": weight(
        _TIMM,
        url=RWIGHTMAN_RELEASES + "v0.1-weights/ecaresnet26t_ra2-46609757.pth",
        input_size=(3, 256, 256),
        test_input_size=(3, 320, 320),
    ),
    "ecaresnet50d.miil_in1k": weight(
        _MIIL, url=RWIGHTMAN_RELEASES + "v0.1-tresnet/ecaresnet50d-93c81e3b.pth"
    ),
    "ecaresnet50d_pruned.miil_in1k": weight(
        _MIIL, url=RWIGHTMAN_RELEASES + "v0.1-tresnet/ecaresnet50d_p-e4fa23c2.pth"
    ),
    "ecaresnet50t.ra2_in1k": weight(
        _MIIL,
        default=True,
        url=RWIGHTMAN_RELEASES + "v0.1-weights/ecaresnet50t_ra2-f7ac63c4.pth",
        input_size=(3, 256, 256),
        test_input_size=(3, 320, 320),
    ),
    "ecaresnet50t.a1_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/ecaresnet50t_a1_0-99bd76a8.pth"
    ),
    "ecaresnet50t.a2_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/ecaresnet50t_a2_0-b1c7b745.pth"
    ),
    "ecaresnet50t.a3_in1k": weight(
        _RSB160, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/ecaresnet50t_a3_0-8cc311f1.pth"
    ),
    "ecaresnetlight.miil_in1k": weight(
        _MIIL, url=RWIGHTMAN_RELEASES + "v0.1-tresnet/ecaresnetlight-75a9c627.pth"
    ),
    "ecaresnet101d.miil_in1k": weight(
        _MIIL, url=RWIGHTMAN_RELEASES + "v0.1-tresnet/ecaresnet101d-153dad65.pth"
    ),
    "ecaresnet101d_pruned.miil_in1k": weight(
        _MIIL, url=RWIGHTMAN_RELEASES + "v0.1-tresnet/ecaresnet101d_p-9e74cb91.pth"
    ),
    "ecaresnet200d.untrained": weight(_TIMM, NO_WEIGHTS, input_size=(3, 256, 256), crop_pct=0.95),
    "ecaresnet269d.ra2_in1k": weight(
        _RSB,
        url=RWIGHTMAN_RELEASES + "v0.1-weights/ecaresnet269d_320_ra2-7baa55cb.pth",
        input_size=(3, 320, 320),
        test_input_size=(3, 352, 352),
        paper_ids=None,
    ),
    "ecaresnext26t_32x4d.untrained": weight(_BICUBIC, NO_WEIGHTS),
    "ecaresnext50t_32x4d.untrained": weight(_BICUBIC, NO_WEIGHTS),
    "seresnet18.untrained": weight(_TIMM, NO_WEIGHTS),
    "seresnet34.untrained": weight(_TIMM, NO_WEIGHTS),
    "seresnet50.a1_in1k": weight(
        _RSB, default=True, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/seresnet50_a1_0-ffa00869.pth"
    ),
    "seresnet50.a2_in1k": weight(
        _RSB, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/seresnet50_a2_0-850de0d9.pth"
    ),
    "seresnet50.a3_in1k": weight(
        _RSB160, url=HUGGINGFACE_RELEASES + "v0.1-rsb-weights/seresnet50_a3_0-317ecd56.pth"
    ),
    "seresnet50.ra2_in1k": weight(
        _TIMM, url=RWIGHTMAN_RELEASES + "v0.1-weights/seresnet50_ra_224-8efdb4bb.pth"
    ),
    "seresnet50t.untrained": weight(_TIMM, NO_WEIGHTS),
    "seresnet101.untrained": weight(_TIMM, NO_WEIGHTS),
    "seresnet152.untrained": weight(_TIMM, NO_WEIGHTS),
    "seresnet152d.ra2_in1k": weight(
        _RSB,
        url=RWIGHTMAN_RELEASES + "v0.1-weights/seresnet152d_ra2-04464dd2.pth",
        input_size=(3, 256, 256),
        test_input_size=(3, 320, 320),
        paper_ids=None,
    ),
    "seresnet200d.untrained": weight(_TIMM, NO_WEIGHTS, input_size=(3, 256, 256)),
    "seresnet269d.untrained": weight(_TIMM, NO_WEIGHTS, input_size=(3, 256, 256)),
    "seresnext26d_32x4d.bt_in1k": weight(
        _TIMM, url=RWIGHTMAN_RELEASES + "v0.1-weights/seresnext26d_32x4d-80fa48a3.pth"
    ),
    "seresnext26t_32x4d.bt_in1k": weight(
        _TIMM, url=RWIGHTMAN_RELEASES + "v0.1-weights/seresnext26tn_32x4d-569cb627.pth"
    ),
    "seresnext50_32x4d.racm_in1k": weight(
        _TIMM, default=True, url=RWIGHTMAN_RELEASES + "v0.1-weights/seresnext50_32x4d_racm-a304a460.pth"
    ),
    "seresnext50_32x4d.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_seresnext50_32x4d-90cf2d6e.pth",
    ),
    "seresnext101_32x4d.gluon_in1k": weight(
        _GLUON,
        default=True,
        url=_GLUON_RELEASE + "gluon_seresnext101_32x4d-cf52900d.pth",
    ),
    "seresnext101_32x4d.untrained": weight(_TIMM, NO_WEIGHTS),
    "seresnext101_32x8d.ah_in1k": weight(
        _RSB, url=RWIGHTMAN_RELEASES + "v0.1-tpu-weights/seresnext101_32x8d_ah-e6bc4c0a.pth"
    ),
    "seresnext101d_32x8d.ah_in1k": weight(
        _RSB, url=RWIGHTMAN_RELEASES + "v0.1-tpu-weights/seresnext101d_32x8d_ah-191d7b94.pth"
    ),
    "seresnext101_64x4d.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_seresnext101_64x4d-f9926f93.pth",
    ),
    "senet154.gluon_in1k": weight(
        _GLUON,
        url=_GLUON_RELEASE + "gluon_senet154-70a1a3c0.pth",
    ),
    "resnetblur18.untrained": weight(_TIMM, NO_WEIGHTS),
    "resnetblur50.bt_in1k": weight(_TIMM, url=RWIGHTMAN_RELEASES + "v0.1-weights/resnetblur50-84f4748f.pth"),
    "resnetblur50d.untrained": weight(_TIMM, NO_WEIGHTS),
    "resnetblur101d.untrained": weight(_TIMM, NO_WEIGHTS),
    "resnetaa34d.untrained": weight(_TIMM, NO_WEIGHTS),
    "resnetaa50.a1h_in1k": weight(
        _RSB, url=RWIGHTMAN_RELEASES + "v0.1-rsb-weights/resnetaa50_a1h-4cf422b3.pth"
    ),
    "resnetaa50d.sw_in12k_ft_in1k": weight(_RSB, default=True, paper_ids=None),
    "resnetaa50d.sw_in12k": weight(_RSB, num_classes=11821, paper_ids=None),
    "resnetaa50d.d_in12k": weight(_RSB, num_classes=11821, paper_ids=None),
    "resnetaa101d.sw_in12k_ft_in1k": weight(_RSB, default=True, paper_ids=None),
    "resnetaa101d.sw_in12k": weight(_RSB, num_classes=11821, paper_ids=None),
    "seresnetaa50d.untrained": weight(_TIMM, NO_WEIGHTS),
    "seresnextaa101d_32x8d.sw_in12k_ft_in1k_288": weight(
        _RSB, default=True, input_size=(3, 288, 288), test_input_size=(3, 320, 320), paper_ids=None
    ),
    "seresnextaa101d_32x8d.sw_in12k_ft_in1k": weight(_TIMM, test_crop_pct=1.0),
    "seresnextaa101d_32x8d.sw_in12k": weight(_RSB, num_classes=11821, paper_ids=None),
    "seresnextaa101d_32x8d.ah_in1k": weight(
        _RSB, url=RWIGHTMAN_RELEASES + "v0.1-tpu-weights/seresnextaa101d_32x8d_ah-83c8ae12.pth"
    ),
    "seresnextaa201d_32x8d.sw_in12k_ft_in1k_384": weight(
        _BICUBIC, default=True, input_size=(3, 384, 384), crop_pct=1.0
    ),
    "seresnextaa201d_32x8d.sw_in12k": weight(
        _BICUBIC,
        num_classes=11821,
        input_size=(3, 320, 320),
        crop_pct=0.95,
        test_input_size=(3, 384, 384),
        test_crop_pct=1.0,
    ),
    "resnetrs50.tf_in1k": weight(
        _BICUBIC,
        url=RWIGHTMAN_RELEASES + "v0.1-rs-weights/resnetrs50_ema-6b53758b.pth",
        input_size=(3, 160, 160),
        crop_pct=0.91,
        test_input_size=(3, 224, 224),
    ),
    "resnetrs101.tf_in1k": weight(
        _BICUBIC,
        url=RWIGHTMAN_RELEASES + "v0.1-rs-weights/resnetrs101_i192_ema-1509bbf6.pth",
        input_size=(3, 192, 192),
        crop_pct=0.94,
        test_input_size=(3, 288, 288),
    ),
    "resnetrs152.tf_in1k": weight(
        _BICUBIC,
        url=RWIGHTMAN_RELEASES + "v0.1-rs-weights/resnetrs152_i256_ema-a9aff7f9.pth",
        input_size=(3, 256, 256),
        crop_pct=1.0,
        test_input_size=(3, 320, 320),
    ),
    "resnetrs200.tf_in1k": weight(
        _BICUBIC,
        url=RWIGHTMAN_RELEASES + "v0.1-tpu-weights/resnetrs200_c-6b698b88.pth",
        input_size=(3, 256, 256),
        crop_pct=1.0,
        test_input_size=(3, 320, 320),
    ),
    "resnetrs270.tf_in1k": weight(
        _BICUBIC,
        url=RWIGHTMAN_RELEASES + "v0.1-rs-weights/resnetrs270_ema-b40e674c.pth",
        input_size=(3, 256, 256),
        crop_pct=1.0,
        test_input_size=(3, 352, 352),
    ),
    "resnetrs350.tf_in1k": weight(
        _BICUBIC,
        url=RWIGHTMAN_RELEASES + "v0.1-rs-weights/resnetrs350_i256_ema-5a1aa8f1.pth",
        input_size=(3, 288, 288),
        crop_pct=1.0,
        test_input_size=(3, 384, 384),
    ),
    "resnetrs420.tf_in1k": weight(
        _BICUBIC,
        url=RWIGHTMAN_RELEASES + "v0.1-rs-weights/resnetrs420_ema-972dee69.pth",
        input_size=(3, 320, 320),
        crop_pct=1.0,
        test_input_size=(3, 416, 416),
    ),
    "test_resnet.r160_in1k": weight(
        input_size=(3, 160, 160), crop_pct=0.95, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)
    ),
}
WEIGHTS = {name: _derive(name, cfg) for name, cfg in _WEIGHTS.items()}

DEPRECATED = {
    "tv_resnet34": "resnet34.tv_in1k",
    "tv_resnet50": "resnet50.tv_in1k",
    "tv_resnet101": "resnet101.tv_in1k",
    "tv_resnet152": "resnet152.tv_in1k",
    "tv_resnext50_32x4d": "resnext50_32x4d.tv_in1k",
    "ig_resnext101_32x8d": "resnext101_32x8d.fb_wsl_ig1b_ft_in1k",
    "ig_resnext101_32x16d": "resnext101_32x8d.fb_wsl_ig1b_ft_in1k",
    "ig_resnext101_32x32d": "resnext101_32x8d.fb_wsl_ig1b_ft_in1k",
    "ig_resnext101_32x48d": "resnext101_32x8d.fb_wsl_ig1b_ft_in1k",
    "ssl_resnet18": "resnet18.fb_ssl_yfcc100m_ft_in1k",
    "ssl_resnet50": "resnet50.fb_ssl_yfcc100m_ft_in1k",
    "ssl_resnext50_32x4d": "resnext50_32x4d.fb_ssl_yfcc100m_ft_in1k",
    "ssl_resnext101_32x4d": "resnext101_32x4d.fb_ssl_yfcc100m_ft_in1k",
    "ssl_resnext101_32x8d": "resnext101_32x8d.fb_ssl_yfcc100m_ft_in1k",
    "ssl_resnext101_32x16d": "resnext101_32x16d.fb_ssl_yfcc100m_ft_in1k",
    "swsl_resnet18": "resnet18.fb_swsl_ig1b_ft_in1k",
    "swsl_resnet50": "resnet50.fb_swsl_ig1b_ft_in1k",
    "swsl_resnext50_32x4d": "resnext50_32x4d.fb_swsl_ig1b_ft_in1k",
    "swsl_resnext101_32x4d": "resnext101_32x4d.fb_swsl_ig1b_ft_in1k",
    "swsl_resnext101_32x8d": "resnext101_32x8d.fb_swsl_ig1b_ft_in1k",
    "swsl_resnext101_32x16d": "resnext101_32x16d.fb_swsl_ig1b_ft_in1k",
    "gluon_resnet18_v1b": "resnet18.gluon_in1k",
    "gluon_resnet34_v1b": "resnet34.gluon_in1k",
    "gluon_resnet50_v1b": "resnet50.gluon_in1k",
    "gluon_resnet101_v1b": "resnet101.gluon_in1k",
    "gluon_resnet152_v1b": "resnet152.gluon_in1k",
    "gluon_resnet50_v1c": "resnet50c.gluon_in1k",
    "gluon_resnet101_v1c": "resnet101c.gluon_in1k",
    "gluon_resnet152_v1c": "resnet152c.gluon_in1k",
    "gluon_resnet50_v1d": "resnet50d.gluon_in1k",
    "gluon_resnet101_v1d": "resnet101d.gluon_in1k",
    "gluon_resnet152_v1d": "resnet152d.gluon_in1k",
    "gluon_resnet50_v1s": "resnet50s.gluon_in1k",
    "gluon_resnet101_v1s": "resnet101s.gluon_in1k",
    "gluon_resnet152_v1s": "resnet152s.gluon_in1k",
    "gluon_resnext50_32x4d": "resnext50_32x4d.gluon_in1k",
    "gluon_resnext101_32x4d": "resnext101_32x4d.gluon_in1k",
    "gluon_resnext101_64x4d": "resnext101_64x4d.gluon_in1k",
    "gluon_seresnext50_32x4d": "seresnext50_32x4d.gluon_in1k",
    "gluon_seresnext101_32x4d": "seresnext101_32x4d.gluon_in1k",
    "gluon_seresnext101_64x4d": "seresnext101_64x4d.gluon_in1k",
    "gluon_senet154": "senet154.gluon_in1k",
    "seresnext26tn_32x4d": "seresnext26t_32x4d",
}
