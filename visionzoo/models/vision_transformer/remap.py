"""Checkpoint remaps for the ViT: other layouts of the same weights, and grid / kernel resampling.

:func:`checkpoint_filter_fn` is applied to every checkpoint loaded into a ViT. It recognises the
original layouts that are published (big_vision / AugReg ``.npz``, OpenAI CLIP, OpenCLIP with a
timm trunk, DINOv2, DeiT / MAE training checkpoints, I-JEPA), converts each with one function, then
fits the result to the
model being built: the patch kernel is resampled to the model's patch size (FlexiViT) and the
position embedding to its token grid (``img_size=`` other than the checkpoint's).
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from ...layers import resample_abs_pos_embed, resample_patch_embed
from .big_vision import big_vision_prefix, convert_big_vision

__all__ = [
    "checkpoint_filter_fn",
    "convert_dinov2",
    "convert_openai_clip",
    "convert_training_checkpoint",
    "pretrained_grid_size",
]

_CLIP_RENAMES = (
    ("conv1", "patch_embed.proj"),
    ("positional_embedding", "pos_embed"),
    ("transformer.resblocks.", "blocks."),
    ("ln_pre", "norm_pre"),
    ("ln_post", "norm"),
    ("ln_", "norm"),
    ("in_proj_", "qkv."),
    ("out_proj", "proj"),
    ("mlp.c_fc", "mlp.fc1"),
    ("mlp.c_proj", "mlp.fc2"),
)


def convert_openai_clip(
    state_dict: dict[str, torch.Tensor], prefix: str = "visual."
) -> dict[str, torch.Tensor]:
    """OpenAI CLIP image tower (``visual.*``) -> ViT keys; the image projection becomes a
    bias-free ``head``."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if not key.startswith(prefix):
            continue
        key = key[len(prefix) :]
        for old, new in _CLIP_RENAMES:
            key = key.replace(old, new)
        if key == "proj":  # (width, embed) image projection, applied as x @ proj
            out["head.weight"] = value.t()
            out["head.bias"] = value.new_zeros(value.shape[1])
            continue
        if key == "class_embedding":
            key, value = "cls_token", value.reshape(1, 1, -1)
        elif key == "pos_embed":
            value = value.unsqueeze(0)
        out[key] = value
    return out


def convert_dinov2(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Meta's DINOv2 layout -> ViT keys. With registers, the class token's position embedding is
    folded into the token itself (the model embeds positions of patch tokens only)."""
    sd = {k: v for k, v in state_dict.items() if k != "mask_token"}
    out: dict[str, torch.Tensor] = {}
    if "register_tokens" in sd:
        out["reg_token"] = sd.pop("register_tokens")
        pos_embed = sd.pop("pos_embed")
        out["cls_token"] = sd.pop("cls_token") + pos_embed[:, 0]
        out["pos_embed"] = pos_embed[:, 1:]
    for key, value in sd.items():
        key = re.sub(r"^(blocks\.\d+\.mlp)\.w12\.", r"\1.fc1.", key)
        key = re.sub(r"^(blocks\.\d+\.mlp)\.w3\.", r"\1.fc2.", key)
        out[key] = value
    return out


def convert_training_checkpoint(state_dict: dict[str, Any]) -> dict[str, torch.Tensor]:
    """DeiT / MAE / I-JEPA training checkpoints: unwrap ``model`` / ``state_dict`` / ``encoder``
    (dropping a DDP ``module.`` prefix) and the MAE decoder."""
    for wrapper in ("model", "state_dict"):
        inner = state_dict.get(wrapper)
        if isinstance(inner, dict):
            state_dict = inner
    if isinstance(state_dict.get("encoder"), dict):  # I-JEPA
        state_dict = state_dict["encoder"]
    if state_dict and all(k.startswith("module.") for k in state_dict):
        state_dict = {k[len("module.") :]: v for k, v in state_dict.items()}
    return {k: v for k, v in state_dict.items() if not k.startswith("decoder")}


def pretrained_grid_size(
    model: nn.Module, patch_weight: torch.Tensor | None, num_tokens: int
) -> tuple[int, int] | None:
    """The checkpoint's token grid: its config's input size over its patch kernel, when that
    accounts for every token (else None: a square grid is assumed)."""
    cfg = getattr(model, "pretrained_cfg", None)
    if patch_weight is None or patch_weight.ndim != 4 or cfg is None:
        return None
    height, width = cfg.input_size[-2:]
    grid = (height // patch_weight.shape[-2], width // patch_weight.shape[-1])
    return grid if grid[0] * grid[1] == num_tokens else None


# RADIO releases whose own code resizes the position embedding with align_corners=True (the C-RADIOv3
# base and huge checkpoints; the others use False), as timm loads them
_RADIO_ALIGN_CORNERS = ("vit_base_patch16_radio_v3", "vit_huge_patch16_radio_v3")


def _resampling(model: nn.Module) -> dict[str, Any]:
    arch = getattr(getattr(model, "pretrained_cfg", None), "architecture", None) or ""
    if "flexi" in arch or "radio" in arch:  # these were trained / are used with bilinear resizes
        return dict(interpolation="bilinear", antialias=False)
    return dict(interpolation="bicubic", antialias=True)


def _pos_embed_align_corners(model: nn.Module) -> bool:
    arch = getattr(getattr(model, "pretrained_cfg", None), "architecture", None) or ""
    return arch in _RADIO_ALIGN_CORNERS


def checkpoint_filter_fn(
    state_dict: dict[str, Any], model: nn.Module, *, adapt_layer_scale: bool = False
) -> dict[str, torch.Tensor]:
    """Convert a checkpoint in any known ViT layout to this model's keys and shapes.

    Args:
        state_dict: the loaded checkpoint.
        model: the model being loaded (possibly on the meta device; only shapes are read).
        adapt_layer_scale: rename DeiT III's ``gamma_1`` / ``gamma_2`` to ``ls1.gamma`` / ``ls2.gamma``.
    """
    state_dict = convert_training_checkpoint(state_dict)
    if big_vision_prefix(state_dict) is not None:
        state_dict = convert_big_vision(state_dict, model)
    elif "visual.class_embedding" in state_dict:
        state_dict = convert_openai_clip(state_dict)
    elif "module.visual.class_embedding" in state_dict:
        state_dict = convert_openai_clip(state_dict, prefix="module.visual.")
    elif "mask_token" in state_dict:
        state_dict = convert_dinov2(state_dict)
    else:
        prefix = next(
            (
                p
                for p in ("visual.trunk.", "module.visual.trunk.")
                if f"{p}pos_embed" in state_dict or f"{p}blocks.0.norm1.weight" in state_dict
            ),
            "",
        )
        if prefix:  # OpenCLIP with a timm trunk; a linear projection after it becomes the head
            proj = state_dict.get("visual.head.proj.weight")
            trunk = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
            if proj is not None and isinstance(getattr(model, "head", None), nn.Linear):
                trunk["head.weight"] = proj
                trunk["head.bias"] = proj.new_zeros(proj.shape[0])
            state_dict = trunk

    resample = _resampling(model)
    patch_embed: Any = getattr(model, "patch_embed", None)
    model_pos_embed: Any = getattr(model, "pos_embed", None)
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key == "patch_embed.proj.weight" and patch_embed is not None:
            out_chs, _, height, width = patch_embed.proj.weight.shape
            if value.ndim < 4:  # linear patch projection of old checkpoints
                value = value.reshape(out_chs, -1, height, width)
            if value.shape[-2:] != (height, width):
                value = resample_patch_embed(value, (height, width), **resample)
        elif key == "pos_embed" and model_pos_embed is not None and patch_embed is not None:
            prefix_tokens = (
                0 if getattr(model, "no_embed_class", False) else int(getattr(model, "num_prefix_tokens", 1))
            )
            old = pretrained_grid_size(
                model, state_dict.get("patch_embed.proj.weight"), value.shape[1] - prefix_tokens
            )
            if value.shape[1] != model_pos_embed.shape[1] or (
                old is not None and old != patch_embed.grid_size
            ):
                value = resample_abs_pos_embed(
                    value,
                    list(patch_embed.grid_size),
                    None if old is None else list(old),
                    num_prefix_tokens=prefix_tokens,
                    align_corners=_pos_embed_align_corners(model),
                    **resample,
                )
        elif adapt_layer_scale and "gamma_" in key:
            key = re.sub(r"gamma_([0-9])", r"ls\1.gamma", key)
        elif "pre_logits" in key:  # the 21k representation layer, unused by these heads
            continue
        elif key.startswith("attn_pool.") and getattr(model, "attn_pool", None) is None:
            continue  # a SigLIP tower built with another global_pool: its attention pool is unused
        out[key] = value
    return out
