"""The table of weight sources, and everything derived from it.

Sources are one table, :data:`SOURCES`, in priority order: an in-memory ``state_dict``, a local
``file`` (or a saved folder, ``local-dir:PATH``), the Hugging Face Hub (``hf_hub_id``,
``hf-hub:org/repo``), then a plain ``url``. Which config fields hold weights (:func:`has_weights`),
which model-name prefixes select a source, how a config overlay replaces a source and what to do
offline all derive from that table.

The top layer of :mod:`visionzoo.hub`: it fetches through :mod:`.download` and reads through
:mod:`.formats`, which know nothing of it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..pretrained import PretrainedCfg
from ..save import CONFIG_NAME
from .download import (
    WeightsUnavailable,
    advice_from,
    download_url,
    hf_download,
    hf_weights_file,
    read_config,
)
from .formats import WeightsError, clean_state_dict, load_checkpoint_file, load_state_dict

__all__ = [
    "SOURCES",
    "WeightSource",
    "has_weights",
    "load_state_dict_for_cfg",
    "name_source",
    "offline_advice",
    "overlay_cfg",
    "selected_source",
    "source_fields",
    "sources_markdown",
    "split_source_prefix",
]


@dataclass(frozen=True)
class WeightSource:
    """One place weights come from.

    Attributes:
        name: what the config's ``source`` says and error messages call it.
        cfg_field: the :class:`PretrainedCfg` field that selects it (set = weights available).
        fetch: ``fetch(value, cfg, cache_dir=..., progress=..., mmap=...)`` -> state dict.
        extra_fields: further config fields that belong to this source (reset with it).
        prefixes: model-name prefixes that select it (``hf-hub:org/repo``); the location after
            the prefix holds a ``config.json``.
        config_of: where a prefixed name's ``config.json`` is: ``config_of(location, cache_dir)``.
        offline_example: set for a source that needs no network: the value shown in the offline
            advice, ``pretrained_cfg_overlay=dict(<cfg_field>=<offline_example>)``.
        about: how it fetches, for the docs.
    """

    name: str
    cfg_field: str
    fetch: Callable[..., dict[str, torch.Tensor]]
    about: str = ""
    extra_fields: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    config_of: Callable[[str, Any], Path] | None = None
    offline_example: str | None = None


def _fetch_state_dict(value: Mapping[str, Any], cfg: PretrainedCfg, **_: Any) -> dict[str, torch.Tensor]:
    # copied: the model must not alias the caller's tensors
    return {k: v.clone() for k, v in clean_state_dict(value).items()}


def _fetch_file(value: str, cfg: PretrainedCfg, *, mmap: bool = False, **_: Any) -> dict[str, torch.Tensor]:
    return load_state_dict(value, mmap=mmap)


def _fetch_hf(
    value: str, cfg: PretrainedCfg, *, cache_dir: Any = None, mmap: bool = False, **_: Any
) -> dict[str, torch.Tensor]:
    with _with_table_advice():
        path = hf_weights_file(value, cfg.hf_hub_filename, cache_dir)
    return load_checkpoint_file(path, mmap=mmap)


def _fetch_url(
    value: str,
    cfg: PretrainedCfg,
    *,
    cache_dir: Any = None,
    progress: bool = True,
    mmap: bool = False,
    **_: Any,
) -> dict[str, torch.Tensor]:
    with _with_table_advice():
        path = download_url(value, cache_dir, progress=progress)
    return load_checkpoint_file(path, mmap=mmap)


def _folder_config(location: str, cache_dir: Any) -> Path:
    folder = Path(location).expanduser()
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "not found"
        raise WeightsError(
            f"local-dir:{location}: {what}; pass a folder holding config.json and model.safetensors "
            "(written by save_pretrained or `visionzoo train`)"
        )
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise WeightsError(f"{folder} has no {CONFIG_NAME}; save it with visionzoo.save_pretrained")
    return path


def _hub_config(location: str, cache_dir: Any) -> Path:
    with _with_table_advice():
        return hf_download(location, CONFIG_NAME, cache_dir)


SOURCES: tuple[WeightSource, ...] = (
    WeightSource(
        name="state_dict",
        cfg_field="state_dict",
        fetch=_fetch_state_dict,
        about="a state dict in memory (copied)",
    ),
    WeightSource(
        name="file",
        cfg_field="file",
        fetch=_fetch_file,
        prefixes=("local-dir:",),
        config_of=_folder_config,
        offline_example="'path/to/weights'",
        about="a local weights file, or a folder saved by `save_pretrained` (`config.json` + weights)",
    ),
    WeightSource(
        name="hf-hub",
        cfg_field="hf_hub_id",
        fetch=_fetch_hf,
        extra_fields=("hf_hub_filename",),
        prefixes=("hf-hub:", "hf_hub:"),
        config_of=_hub_config,
        about="a Hugging Face Hub repo `org/repo[@revision]`, cached by `huggingface_hub`",
    ),
    WeightSource(
        name="url",
        cfg_field="url",
        fetch=_fetch_url,
        about="downloaded once into `$VISIONZOO_CACHE`, else torch hub's `checkpoints/` folder "
        "(shared with timm and torchvision); checked before it is cached",
    ),
)
"""Weight sources in priority order: the first one a config sets is the one loaded."""


def sources_markdown() -> str:
    """The table of sources as docs/usage.md shows it (a test keeps the two equal)."""
    rows = ["| source | config field | model name | what it is |", "|---|---|---|---|"]
    for s in SOURCES:
        names = ", ".join(f"`{p}...`" for p in s.prefixes) or "-"
        rows.append(f"| {s.name} | `{s.cfg_field}` | {names} | {s.about} |")
    return "\n".join(rows)


def source_fields() -> frozenset[str]:
    """Config fields that say where weights come from (not what they are), ``source`` included."""
    return frozenset({"source", *(f for s in SOURCES for f in (s.cfg_field, *s.extra_fields))})


def _is_set(value: Any) -> bool:
    return value is not None and value != ""


def selected_source(cfg: PretrainedCfg) -> WeightSource | None:
    """The source ``cfg`` loads from (the first in :data:`SOURCES` it sets), or ``None``."""
    return next((s for s in SOURCES if _is_set(getattr(cfg, s.cfg_field))), None)


def has_weights(cfg: PretrainedCfg) -> bool:
    """True when ``cfg`` sets a weight source (:data:`SOURCES`), so ``pretrained=True`` has
    something to load. It lives with the table, not on the config, so that configs never look
    up to the sources."""
    return selected_source(cfg) is not None


def overlay_cfg(cfg: PretrainedCfg, overlay: Mapping[str, Any] | None) -> PretrainedCfg:
    """``cfg`` with ``overlay``'s fields; an overlay that names a source replaces the config's
    sources (so it is the one used, whatever the priority order)."""
    changes = dict(overlay or {})
    if not changes:
        return cfg
    if any(_is_set(changes.get(s.cfg_field)) for s in SOURCES):
        for s in SOURCES:
            for field in (s.cfg_field, *s.extra_fields):
                changes.setdefault(field, None)
    return cfg.replace(**changes)


def offline_advice(*, place_at: Path | None = None, fill_cache: bool = False) -> str:
    """How to provide weights without the network, from the sources that need none."""
    local = [s for s in SOURCES if s.offline_example]
    ways = ["run once with network access to fill the cache"] if fill_cache else []
    ways += [
        f"create_model(..., pretrained=True, pretrained_cfg_overlay=dict({s.cfg_field}={s.offline_example}))"
        for s in local
    ]
    if place_at is not None:
        ways.append(f"place it at {place_at}")
    ways += [f"load a saved folder with create_model('{p}PATH')" for s in local for p in s.prefixes]
    return advice_from(ways)


@contextlib.contextmanager
def _with_table_advice() -> Iterator[None]:
    """Around a download: a download knows where its file would go, not which sources need no
    network; its :class:`WeightsUnavailable` leaves with the whole advice."""
    try:
        yield
    except WeightsUnavailable as e:
        raise WeightsUnavailable(
            e.reason,
            advice=offline_advice(place_at=e.place_at, fill_cache=e.fill_cache),
            place_at=e.place_at,
            fill_cache=e.fill_cache,
        ) from e


def _prefixed(model_name: str) -> tuple[WeightSource, str, str] | None:
    """``(source, prefix, location)`` for a name that starts with a source's prefix, compared
    case-insensitively as timm does (``HF-HUB:org/repo``); ``None`` otherwise."""
    scheme, sep, location = model_name.partition(":")
    if not sep:
        return None
    for source in SOURCES:
        for prefix in source.prefixes:
            if prefix == f"{scheme.lower()}:":
                return source, prefix, location
    return None


def name_source(
    model_name: str, cache_dir: str | os.PathLike[str] | None = None
) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """For a name a source's prefix selects (``hf-hub:org/repo``, ``local-dir:PATH``):
    ``(architecture, pretrained cfg fields, model_args)`` from its ``config.json``; ``None`` for
    a plain model name."""
    if not isinstance(model_name, str) or not model_name:
        raise TypeError(f"model_name must be a non-empty string, got {model_name!r}")
    found = _prefixed(model_name)
    if found is None:
        return None
    source, prefix, location = found
    config_of = source.config_of
    if config_of is None:
        return None
    if config_of is _folder_config:
        location = str(Path(location).expanduser())
    path = config_of(location, cache_dir)
    return _from_config(read_config(path), path, source, prefix, location)


def split_source_prefix(model_name: str) -> tuple[str | None, str]:
    """``"hf_hub:org/repo"`` -> ``("hf-hub", "org/repo")`` (prefixes compared case-insensitively);
    a plain name has source ``None``."""
    found = _prefixed(model_name)
    if found is None:
        return None, model_name
    _, prefix, location = found
    return prefix[:-1].replace("_", "-"), location


def _from_config(
    config: dict[str, Any], path: Path, source: WeightSource, prefix: str, location: str
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    if "pretrained_cfg" in config:
        if not isinstance(config["pretrained_cfg"], dict):
            kind = type(config["pretrained_cfg"]).__name__
            raise WeightsError(f"{path}: 'pretrained_cfg' is a {kind}, not an object")
        cfg_fields = dict(config["pretrained_cfg"])
    else:  # older single-dict layout
        cfg_fields = {k: v for k, v in config.items() if k not in ("architecture", "num_features")}
        if "labels" in cfg_fields:
            cfg_fields["label_names"] = cfg_fields.pop("labels")
    arch = config.get("architecture")
    if not isinstance(arch, str) or not arch:
        raise WeightsError(f"{path} names no 'architecture' (got {arch!r})")
    for key in ("num_classes", "label_names", "label_descriptions"):
        if key in config:
            cfg_fields[key] = config[key]
    known = set(PretrainedCfg.__dataclass_fields__)
    cfg_fields = {k: v for k, v in cfg_fields.items() if k in known}
    for s in SOURCES:  # this source only
        for field in (s.cfg_field, *s.extra_fields):
            cfg_fields[field] = None
    # timm's spelling of the source: "hf-hub" / "local-dir"
    cfg_fields.update({source.cfg_field: location, "source": prefix[:-1].replace("_", "-")})
    model_args = config.get("model_args") or {}
    if not isinstance(model_args, dict):
        raise WeightsError(f"{path}: 'model_args' is a {type(model_args).__name__}, not an object")
    model_args = dict(model_args)
    if model_args.get("in_chans") is not None:
        size = tuple(cfg_fields.get("input_size") or (3, 224, 224))
        cfg_fields["input_size"] = (model_args["in_chans"], *size[1:])
    return arch, cfg_fields, model_args


def load_state_dict_for_cfg(
    cfg: PretrainedCfg,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    progress: bool = True,
    mmap: bool = False,
) -> dict[str, torch.Tensor]:
    """Fetch the weights a config points at, from the first source it sets.

    ``mmap=True`` maps local files instead of reading them (see :func:`load_checkpoint_file`)."""
    source = selected_source(cfg)
    if source is None:
        raise WeightsError(
            f"{cfg.name or 'this model'} has no pretrained weights (no file, Hub id or URL); "
            "use pretrained=False, pick a tag from list_pretrained(), or pass "
            "pretrained_cfg_overlay=dict(file='path/to/weights')"
        )
    value = getattr(cfg, source.cfg_field)
    return source.fetch(value, cfg, cache_dir=cache_dir, progress=progress, mmap=mmap)
