"""Weight sources and formats: where weights come from and how their files are read.

Three layers, imports pointing one way: :mod:`.formats` (reading and verifying safetensors and
PyTorch files under one pickle allow-list) <- :mod:`.download` (URLs and Hugging Face Hub files
into their caches, offline-first) <- :mod:`.sources` (the table of weight sources, :data:`SOURCES`,
and what derives from it: which configs have weights, name prefixes, overlays, offline advice).
This package re-exports their public names, so ``visionzoo.hub.X`` is where users find them.

Writing a folder that ``local-dir:PATH`` reads back is :mod:`visionzoo.save`'s job (its
``save_pretrained`` and the saved-folder file names are re-exported here too).
"""

from __future__ import annotations

from ..save import CONFIG_NAME, SAFE_WEIGHTS_NAME, save_pretrained
from .download import (
    DEADLINE_ENV,
    WeightsUnavailable,
    download_url,
    hf_download,
    hf_split,
    is_offline,
    load_config_json,
    load_state_dict_from_hf,
    weights_cache_dir,
)
from .formats import (
    TORCH_WEIGHTS_NAME,
    WeightsError,
    WeightsNotFoundError,
    clean_state_dict,
    load_checkpoint_file,
    load_state_dict,
    load_state_dict_from_path,
    read_checkpoint,
    read_torch_checkpoint,
    verify_weights_file,
)
from .sources import (
    SOURCES,
    WeightSource,
    has_weights,
    load_state_dict_for_cfg,
    name_source,
    offline_advice,
    overlay_cfg,
    selected_source,
    source_fields,
    sources_markdown,
    split_source_prefix,
)

__all__ = [
    "CONFIG_NAME",
    "DEADLINE_ENV",
    "SAFE_WEIGHTS_NAME",
    "SOURCES",
    "TORCH_WEIGHTS_NAME",
    "WeightSource",
    "WeightsError",
    "WeightsNotFoundError",
    "WeightsUnavailable",
    "clean_state_dict",
    "download_url",
    "has_weights",
    "hf_download",
    "hf_split",
    "is_offline",
    "load_checkpoint_file",
    "load_config_json",
    "load_state_dict",
    "load_state_dict_for_cfg",
    "load_state_dict_from_hf",
    "load_state_dict_from_path",
    "name_source",
    "offline_advice",
    "overlay_cfg",
    "read_checkpoint",
    "read_torch_checkpoint",
    "save_pretrained",
    "selected_source",
    "source_fields",
    "sources_markdown",
    "split_source_prefix",
    "verify_weights_file",
    "weights_cache_dir",
]
