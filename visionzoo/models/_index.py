"""Which built-in family module defines each model name and deprecated alias.

Generated from the families themselves; regenerate after adding or renaming names with
``python -m visionzoo.models._index`` (a test checks it equals what the families register).
The registry reads it to import only the family a name needs.
"""

from __future__ import annotations

__all__ = ["MODULE_OF"]

# fmt: off
_NAMES: dict[str, tuple[str, ...]] = {
    'cspnet': (
        'cs3darknet_focus_l',
        'cs3darknet_focus_m',
        'cs3darknet_focus_s',
        'cs3darknet_focus_x',
        'cs3darknet_l',
        'cs3darknet_m',
        'cs3darknet_s',
        'cs3darknet_x',
        'cs3edgenet_x',
        'cs3se_edgenet_x',
        'cs3sedarknet_l',
        'cs3sedarknet_x',
        'cs3sedarknet_xdw',
        'cspdarknet53',
        'cspdarknet53_iabn',
        'cspresnet50',
        'cspresnet50d',
        'cspresnet50w',
        'cspresnext50',
        'cspresnext50_iabn',
        'darknet17',
        'darknet21',
        'darknet53',
        'darknetaa53',
        'sedarknet21',
    ),
    'densenet': (
        'densenet121',
        'densenet121d',
        'densenet161',
        'densenet169',
        'densenet201',
        'densenet264',
        'densenet264d',
        'densenetblur121d',
        'tv_densenet121',
    ),
    'inception_v3': (
        'adv_inception_v3',
        'gluon_inception_v3',
        'inception_v3',
        'tf_inception_v3',
    ),
    'resnet': (
        'ecaresnet101d',
        'ecaresnet101d_pruned',
        'ecaresnet200d',
        'ecaresnet269d',
        'ecaresnet26t',
        'ecaresnet50d',
        'ecaresnet50d_pruned',
        'ecaresnet50t',
        'ecaresnetlight',
        'ecaresnext26t_32x4d',
        'ecaresnext50t_32x4d',
        'gluon_resnet101_v1b',
        'gluon_resnet101_v1c',
        'gluon_resnet101_v1d',
        'gluon_resnet101_v1s',
        'gluon_resnet152_v1b',
        'gluon_resnet152_v1c',
        'gluon_resnet152_v1d',
        'gluon_resnet152_v1s',
        'gluon_resnet18_v1b',
        'gluon_resnet34_v1b',
        'gluon_resnet50_v1b',
        'gluon_resnet50_v1c',
        'gluon_resnet50_v1d',
        'gluon_resnet50_v1s',
        'gluon_resnext101_32x4d',
        'gluon_resnext101_64x4d',
        'gluon_resnext50_32x4d',
        'gluon_senet154',
        'gluon_seresnext101_32x4d',
        'gluon_seresnext101_64x4d',
        'gluon_seresnext50_32x4d',
        'ig_resnext101_32x16d',
        'ig_resnext101_32x32d',
        'ig_resnext101_32x48d',
        'ig_resnext101_32x8d',
        'resnet101',
        'resnet101c',
        'resnet101d',
        'resnet101s',
        'resnet10t',
        'resnet14t',
        'resnet152',
        'resnet152c',
        'resnet152d',
        'resnet152s',
        'resnet18',
        'resnet18d',
        'resnet200',
        'resnet200d',
        'resnet26',
        'resnet26d',
        'resnet26t',
        'resnet34',
        'resnet34d',
        'resnet50',
        'resnet50_gn',
        'resnet50c',
        'resnet50d',
        'resnet50s',
        'resnet50t',
        'resnetaa101d',
        'resnetaa34d',
        'resnetaa50',
        'resnetaa50d',
        'resnetblur101d',
        'resnetblur18',
        'resnetblur50',
        'resnetblur50d',
        'resnetrs101',
        'resnetrs152',
        'resnetrs200',
        'resnetrs270',
        'resnetrs350',
        'resnetrs420',
        'resnetrs50',
        'resnext101_32x16d',
        'resnext101_32x32d',
        'resnext101_32x4d',
        'resnext101_32x8d',
        'resnext101_64x4d',
        'resnext50_32x4d',
        'resnext50d_32x4d',
        'senet154',
        'seresnet101',
        'seresnet152',
        'seresnet152d',
        'seresnet18',
        'seresnet200d',
        'seresnet269d',
        'seresnet34',
        'seresnet50',
        'seresnet50t',
        'seresnetaa50d',
        'seresnext101_32x4d',
        'seresnext101_32x8d',
        'seresnext101_64x4d',
        'seresnext101d_32x8d',
        'seresnext26d_32x4d',
        'seresnext26t_32x4d',
        'seresnext26tn_32x4d',
        'seresnext50_32x4d',
        'seresnextaa101d_32x8d',
        'seresnextaa201d_32x8d',
        'ssl_resnet18',
        'ssl_resnet50',
        'ssl_resnext101_32x16d',
        'ssl_resnext101_32x4d',
        'ssl_resnext101_32x8d',
        'ssl_resnext50_32x4d',
        'swsl_resnet18',
        'swsl_resnet50',
        'swsl_resnext101_32x16d',
        'swsl_resnext101_32x4d',
        'swsl_resnext101_32x8d',
        'swsl_resnext50_32x4d',
        'test_resnet',
        'tv_resnet101',
        'tv_resnet152',
        'tv_resnet34',
        'tv_resnet50',
        'tv_resnext50_32x4d',
        'wide_resnet101_2',
        'wide_resnet50_2',
    ),
    'resnetv2': (
        'resnetv2_101',
        'resnetv2_101d',
        'resnetv2_101x1_bit',
        'resnetv2_101x1_bitm',
        'resnetv2_101x1_bitm_in21k',
        'resnetv2_101x3_bit',
        'resnetv2_101x3_bitm',
        'resnetv2_101x3_bitm_in21k',
        'resnetv2_152',
        'resnetv2_152d',
        'resnetv2_152x2_bit',
        'resnetv2_152x2_bit_teacher',
        'resnetv2_152x2_bit_teacher_384',
        'resnetv2_152x2_bitm',
        'resnetv2_152x2_bitm_in21k',
        'resnetv2_152x4_bit',
        'resnetv2_152x4_bitm',
        'resnetv2_152x4_bitm_in21k',
        'resnetv2_18',
        'resnetv2_18d',
        'resnetv2_34',
        'resnetv2_34d',
        'resnetv2_50',
        'resnetv2_50d',
        'resnetv2_50d_evos',
        'resnetv2_50d_frn',
        'resnetv2_50d_gn',
        'resnetv2_50t',
        'resnetv2_50x1_bit',
        'resnetv2_50x1_bit_distilled',
        'resnetv2_50x1_bitm',
        'resnetv2_50x1_bitm_in21k',
        'resnetv2_50x3_bit',
        'resnetv2_50x3_bitm',
        'resnetv2_50x3_bitm_in21k',
    ),
    'vision_transformer_hybrid': (
        'vit_base_mci_224',
        'vit_base_r26_s32_224',
        'vit_base_r50_s16_224',
        'vit_base_r50_s16_224_in21k',
        'vit_base_r50_s16_384',
        'vit_base_resnet26d_224',
        'vit_base_resnet50_224_in21k',
        'vit_base_resnet50_384',
        'vit_base_resnet50d_224',
        'vit_large_r50_s32_224',
        'vit_large_r50_s32_224_in21k',
        'vit_large_r50_s32_384',
        'vit_small_r26_s32_224',
        'vit_small_r26_s32_224_in21k',
        'vit_small_r26_s32_384',
        'vit_small_resnet26d_224',
        'vit_small_resnet50d_s16_224',
        'vit_tiny_r_s16_p8_224',
        'vit_tiny_r_s16_p8_224_in21k',
        'vit_tiny_r_s16_p8_384',
    ),
    'xception_aligned': (
        'xception41',
        'xception41p',
        'xception65',
        'xception65p',
        'xception71',
    ),
}
# fmt: on

MODULE_OF: dict[str, str] = {name: module for module, names in _NAMES.items() for name in names}


def _render() -> str:
    """This file's text, with the names the families register now."""
    import importlib
    import inspect
    import sys

    from visionzoo import registry
    from visionzoo.models import FAMILIES

    for module in FAMILIES:
        importlib.import_module(f"visionzoo.models.{module}")
    table = {
        m: tuple(
            sorted(registry._module_to_archs.get(m, set()) | set(registry._module_to_deprecated.get(m, {})))
        )
        for m in FAMILIES
    }
    lines = ["_NAMES: dict[str, tuple[str, ...]] = {"]
    for module, names in table.items():
        lines.append(f"    {module!r}: (")
        lines.extend(f"        {n!r}," for n in names)
        lines.append("    ),")
    lines.append("}")
    text = inspect.getsource(sys.modules[__name__])
    start = text.index("_NAMES: dict")
    end = text.index("# fmt: on")
    return text[:start] + "\n".join(lines) + "\n" + text[end:]


if __name__ == "__main__":
    from pathlib import Path

    Path(__file__).write_text(_render())
    print(f"wrote {__file__}")
