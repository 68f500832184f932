"""EVA's checkpoint remap: original layouts (BAAI, OpenCLIP, Meta's PE / DINOv3 / Sapiens2) to
timm's ``eva`` keys."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ...layers import resample_abs_pos_embed, resample_patch_embed
from ...model_input import get_pretrained_grid_size

__all__ = ["checkpoint_filter_fn"]

_PE_RENAMES = (  # Meta's Perception Encoder (open_clip style) names -> ours, applied in order
    ("conv1", "patch_embed.proj"),
    ("positional_embedding", "pos_embed"),
    ("transformer.resblocks.", "blocks."),
    ("ln_pre", "norm_pre"),
    ("ln_post", "norm"),
    ("ln_", "norm"),
    ("ls_1.gamma", "gamma_1"),
    ("ls_2.gamma", "gamma_2"),
    ("in_proj_", "qkv."),
    ("out_proj", "proj"),
    ("mlp.c_fc", "mlp.fc1"),
    ("mlp.c_proj", "mlp.fc2"),
)
_SAPIENS2_RENAMES = (
    ("storage_tokens", "reg_token"),
    ("patch_embed.projection.", "patch_embed.proj."),
    ("attn.wq.", "attn.q_proj."),
    ("attn.wk.", "attn.k_proj."),
    ("attn.wv.", "attn.v_proj."),
    ("attn.gamma.weight", "gamma_1"),  # its layer scale sits inside the attention, attention only
    (".ffn.", ".mlp."),
    (".ln1.", ".norm1."),
    (".ln2.", ".norm2."),
)
_MLP_RENAMES = (  # EVA's original MLP / norm names
    ("mlp.ffn_ln", "mlp.norm"),
    ("attn.inner_attn_ln", "attn.norm"),
    ("mlp.w12", "mlp.fc1"),
    ("mlp.w1", "mlp.fc1_g"),
    ("mlp.w2", "mlp.fc1_x"),
    ("mlp.w3", "mlp.fc2"),
)


def _rename(key: str, renames: tuple[tuple[str, str], ...]) -> str:
    for old, new in renames:
        key = key.replace(old, new)
    return key


def _remap_pe(state_dict: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Meta's Perception Encoder layout: open_clip names, a split attention-pool projection, the
    output projection as the classifier."""
    out: dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        k = k.replace("module.", "")
        if prefix:
            if not k.startswith(prefix):
                continue
            k = k[len(prefix) :]
        k = _rename(k, _PE_RENAMES)
        if k.startswith("attn_pool"):
            k = k.replace("attn_pool.attn", "attn_pool").replace("attn_pool.layernorm", "attn_pool.norm")
            k = k.replace("attn_pool.probe", "attn_pool.latent")
            if k.startswith("attn_pool.qkv"):  # packed q, k, v -> q and kv
                dim = v.shape[0] // 3
                kind = "weight" if k.endswith("weight") else "bias"
                out[f"attn_pool.q.{kind}"], out[f"attn_pool.kv.{kind}"] = v[:dim], v[dim:]
                continue
        elif k == "proj":
            k, v = "head.weight", v.t()
            out["head.bias"] = torch.zeros(v.shape[0])
        elif k == "class_embedding":
            k, v = "cls_token", v.reshape(1, 1, -1)
        elif k == "pos_embed":
            v = v.unsqueeze(0)
        out[k] = v
    return out


def checkpoint_filter_fn(
    state_dict: dict[str, Any], model: nn.Module, interpolation: str = "bicubic", antialias: bool = True
) -> dict[str, torch.Tensor]:
    """Original checkpoints to this model: BAAI's EVA / EVA-02 (``w12`` / ``ffn_ln`` MLP names,
    MIM heads), OpenCLIP towers (``visual.trunk.``), Meta's Perception Encoder, DINOv3
    (``storage_tokens``, a packed qkv bias) and Sapiens2 (``wq`` / ``ffn`` names); the patch kernel
    and the position embedding resampled to the model's sizes."""
    for wrapper in ("model_ema", "model", "module", "state_dict"):
        state_dict = state_dict.get(wrapper, state_dict)
    m: Any = model
    if "visual.conv1.weight" in state_dict:
        return _remap_pe(state_dict, "visual.")
    if "conv1.weight" in state_dict:
        return _remap_pe(state_dict, "")
    prefix = ""
    if "visual.trunk.pos_embed" in state_dict:
        prefix = "visual.trunk."
    elif "visual.pos_embed" in state_dict:
        prefix = "visual."
    sapiens2 = "blocks.0.attn.wq.weight" in state_dict and "blocks.0.ffn.w12.weight" in state_dict
    dinov3 = "storage_tokens" in state_dict and not sapiens2
    mim = not dinov3 and prefix + "mask_token" in state_dict
    separate_qkv = prefix + "blocks.0.attn.q_proj.weight" in state_dict
    params = dict(m.named_parameters())
    out: dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        if prefix:
            if not k.startswith(prefix):
                continue
            k = k[len(prefix) :]
        if "rope" in k and k != "rope.freqs":  # computed tables
            continue
        if sapiens2:
            if k == "mask_token":
                continue
            k = _rename(k, _SAPIENS2_RENAMES)
            if k.startswith("ln1."):  # the final norm
                k = "norm." + k[len("ln1.") :]
        elif dinov3:
            if k.endswith((".periods", ".bias_mask", "mask_token")) or k.startswith(
                ("projectors.", "local_cls_norm")
            ):
                continue  # pretraining-only or computed
            if k.endswith("qkv.bias"):  # (q, k, v) packed: q and v kept, k is zero by design
                q_key = k.replace("qkv.bias", "q_bias")
                if q_key in params:
                    q, _, vb = v.chunk(3, dim=-1)
                    out[q_key], out[k.replace("qkv.bias", "v_bias")] = q, vb
                continue  # a model without q/v biases (the distilled all-zero ones) drops it
            k = k.replace("ls1.gamma", "gamma_1").replace("ls2.gamma", "gamma_2")
            k = k.replace("storage_tokens", "reg_token")
        elif mim and k in ("mask_token", "lm_head.weight", "lm_head.bias", "norm.weight", "norm.bias"):
            if not k.startswith("norm."):
                continue  # pretraining mask token and head
            k = "fc_" + k  # the MIM final norm starts the fine-tune's fc_norm
        if "patch_embed.proj.weight" in k:
            h, w = m.patch_embed.proj.weight.shape[-2:]
            if v.shape[-2:] != (h, w):
                v = resample_patch_embed(v, [h, w], interpolation=interpolation, antialias=antialias)
        elif k == "pos_embed" and m.pos_embed is not None:
            num_prefix = 0 if m.no_embed_class else m.num_prefix_tokens
            kernel = state_dict.get(prefix + "patch_embed.proj.weight")
            old = get_pretrained_grid_size(m, kernel, v.shape[1] - num_prefix)
            grid = m.patch_embed.grid_size
            if v.shape[1] != m.pos_embed.shape[1] or (old is not None and old != tuple(grid)):
                v = resample_abs_pos_embed(
                    v,
                    list(grid),
                    None if old is None else list(old),
                    num_prefix_tokens=num_prefix,
                    interpolation=interpolation,
                    antialias=antialias,
                )
        k = _rename(k, _MLP_RENAMES)
        if separate_qkv:
            k = k.replace("q_bias", "q_proj.bias").replace("v_bias", "v_proj.bias")
        out[k] = v
    return out
