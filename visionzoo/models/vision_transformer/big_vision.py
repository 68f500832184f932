"""big_vision / AugReg ``.npz`` checkpoints (JAX/Flax layout) -> ViT state dict.

The arrays are read by :func:`visionzoo.hub.load_checkpoint_file` with
``numpy.load(allow_pickle=False)`` (no code execution) under their Flax paths
(``Transformer/encoderblock_0/MultiHeadDotProductAttention_1/query/kernel``...); this module maps
those paths and layouts (HWIO kernels, per-head q/k/v) onto the ViT's keys. Position embedding and
patch kernel sizes are then fitted by the ViT checkpoint filter like any other checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["big_vision_prefix", "convert_big_vision"]

_PREFIXES = ("", "opt/target/", "params/", "params/img/")


def big_vision_prefix(state_dict: Mapping[str, object]) -> str | None:
    """The path prefix of a big_vision checkpoint, or None if it is not one."""
    return next((p for p in _PREFIXES if f"{p}embedding/kernel" in state_dict), None)


def _t(w: torch.Tensor, transpose: bool = True) -> torch.Tensor:
    """Flax -> PyTorch layout: HWIO -> OIHW kernels, (in, out) -> (out, in) dense kernels."""
    if w.ndim == 4 and w.shape[0] == w.shape[1] == w.shape[2] == 1:
        w = w.flatten()
    if transpose:
        if w.ndim == 4:
            w = w.permute(3, 2, 0, 1)
        elif w.ndim == 3:
            w = w.permute(2, 0, 1)
        elif w.ndim == 2:
            w = w.t()
    return w.contiguous()


def _attention(
    get: Mapping[str, torch.Tensor], p: str, names: tuple[str, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    weight = torch.cat([_t(get[f"{p}{n}/kernel"], False).flatten(1).t() for n in names])
    bias = torch.cat([_t(get[f"{p}{n}/bias"], False).reshape(-1) for n in names])
    return weight, bias


def convert_big_vision(state_dict: Mapping[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Map a big_vision / AugReg checkpoint (Flax paths as keys) to the ViT's keys.

    Raises:
        KeyError: naming the first Flax path the model needs and the checkpoint lacks.
    """
    prefix = big_vision_prefix(state_dict)
    if prefix is None:
        raise KeyError("not a big_vision checkpoint: no 'embedding/kernel' array")
    w = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
    big_vision = (
        prefix.startswith("params/")
        or "pos_embedding" in w
        or "Transformer/encoderblock/LayerNorm_0/scale" in w
    )

    def get(key: str, idx: int | None = None, transpose: bool = True) -> torch.Tensor:
        if key not in w:
            raise KeyError(f"big_vision checkpoint has no {prefix}{key!r}, which this model needs")
        value = w[key] if idx is None else w[key][idx]
        return _t(value, transpose)

    out: dict[str, torch.Tensor] = {
        "patch_embed.proj.weight": get("embedding/kernel"),
        "patch_embed.proj.bias": get("embedding/bias"),
    }
    if getattr(model, "cls_token", None) is not None:
        out["cls_token"] = get("cls", transpose=False)
    if getattr(model, "pos_embed", None) is not None:
        pos_key = "pos_embedding" if big_vision else "Transformer/posembed_input/pos_embedding"
        out["pos_embed"] = get(pos_key, transpose=False)
    if hasattr(model.norm, "weight"):
        out["norm.weight"], out["norm.bias"] = (
            get("Transformer/encoder_norm/scale"),
            get("Transformer/encoder_norm/bias"),
        )
    head = getattr(model, "head", None)
    if isinstance(head, nn.Linear) and "head/bias" in w and w["head/bias"].shape[-1] == head.out_features:
        out["head.weight"], out["head.bias"] = get("head/kernel"), get("head/bias")
    if getattr(model, "attn_pool", None) is not None:
        p = "MAPHead_0/"
        mha = p + "MultiHeadDotProductAttention_0/"
        view = {k: w[k] for k in w if k.startswith(mha)}
        out["attn_pool.latent"] = get(p + "probe", transpose=False)
        out["attn_pool.kv.weight"], out["attn_pool.kv.bias"] = _attention(view, mha, ("key", "value"))
        out["attn_pool.q.weight"], out["attn_pool.q.bias"] = _attention(view, mha, ("query",))
        out["attn_pool.proj.weight"], out["attn_pool.proj.bias"] = (
            get(mha + "out/kernel").flatten(1),
            get(mha + "out/bias"),
        )
        out["attn_pool.norm.weight"], out["attn_pool.norm.bias"] = (
            get(p + "LayerNorm_0/scale"),
            get(p + "LayerNorm_0/bias"),
        )
        for r in range(2):
            out[f"attn_pool.mlp.fc{r + 1}.weight"] = get(f"{p}MlpBlock_0/Dense_{r}/kernel")
            out[f"attn_pool.mlp.fc{r + 1}.bias"] = get(f"{p}MlpBlock_0/Dense_{r}/bias")
    mha_sub, mlp_sub, ln2_sub = (0, 0, 1) if big_vision else (1, 3, 2)
    scanned = "Transformer/encoderblock/LayerNorm_0/scale" in w  # blocks stacked along axis 0
    blocks: Any = model.blocks
    for i in range(len(blocks)):
        p = "Transformer/encoderblock/" if scanned else f"Transformer/encoderblock_{i}/"
        idx = i if scanned else None
        mha = f"{p}MultiHeadDotProductAttention_{mha_sub}/"
        b = f"blocks.{i}."
        out[b + "norm1.weight"], out[b + "norm1.bias"] = (
            get(p + "LayerNorm_0/scale", idx),
            get(p + "LayerNorm_0/bias", idx),
        )
        qkv = {
            f"{mha}{n}/{t}": get(f"{mha}{n}/{t}", idx, False)
            for n in ("query", "key", "value")
            for t in ("kernel", "bias")
        }
        out[b + "attn.qkv.weight"], out[b + "attn.qkv.bias"] = _attention(qkv, mha, ("query", "key", "value"))
        out[b + "attn.proj.weight"] = get(mha + "out/kernel", idx).flatten(1)
        out[b + "attn.proj.bias"] = get(mha + "out/bias", idx)
        out[b + "norm2.weight"] = get(f"{p}LayerNorm_{ln2_sub}/scale", idx)
        out[b + "norm2.bias"] = get(f"{p}LayerNorm_{ln2_sub}/bias", idx)
        for r in range(2):
            out[f"{b}mlp.fc{r + 1}.weight"] = get(f"{p}MlpBlock_{mlp_sub}/Dense_{r}/kernel", idx)
            out[f"{b}mlp.fc{r + 1}.bias"] = get(f"{p}MlpBlock_{mlp_sub}/Dense_{r}/bias", idx)
    return out
