"""Pretrained configs: one frozen record per ``arch.tag`` weight.

A :class:`PretrainedCfg` says where a weight file lives (URL, Hub repo, local file) and how the
model that uses it expects its input (size, crop, interpolation, mean/std) and is wired (first conv,
classifier). It reads both as a dataclass (``cfg.mean``) and as a read-only mapping
(``cfg["mean"]``, ``dict(cfg)``), because timm code and the seed documents index it like a dict.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from importlib import resources
from types import MappingProxyType
from typing import Any

__all__ = [
    "FIELD_NAMES",
    "HUGGINGFACE_RELEASES",
    "IMAGENET_DEFAULT_MEAN",
    "IMAGENET_DEFAULT_STD",
    "IMAGENET_INCEPTION_MEAN",
    "IMAGENET_INCEPTION_STD",
    "NO_WEIGHTS",
    "OPENAI_CLIP_MEAN",
    "OPENAI_CLIP_STD",
    "RWIGHTMAN_RELEASES",
    "SOURCE_KEYS",
    "WEIGHT_CFG_BASE",
    "PretrainedCfg",
    "as_pretrained_cfg",
    "cfg_as_built",
    "channel_stats",
    "published_results",
    "weight",
]

IMAGENET_DEFAULT_MEAN = (0.485, 0.456, 0.406)
IMAGENET_DEFAULT_STD = (0.229, 0.224, 0.225)
IMAGENET_INCEPTION_MEAN = (0.5, 0.5, 0.5)
IMAGENET_INCEPTION_STD = (0.5, 0.5, 0.5)
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# What every registered weight config starts from (a family's cfg_defaults and each entry go over
# it): weights on the Hub at "timm/arch.tag", no direct URL, as timm's configs say.
WEIGHT_CFG_BASE: dict[str, Any] = dict(url="", hf_hub_id="timm/")

# A weight-table profile for a name with no published weights (timm's ``untrained`` tags): no Hub
# copy, so ``pretrained=True`` has nothing to load. Read-only, as every table shares it.
NO_WEIGHTS: Mapping[str, Any] = MappingProxyType({"hf_hub_id": None})

# Release-asset roots of timm's GitHub repository, old home and new, that many weight URLs start
# with (``RWIGHTMAN_RELEASES + "v0.1-weights/file.pth"``).
RWIGHTMAN_RELEASES = "https://github.com/rwightman/pytorch-image-models/releases/download/"
HUGGINGFACE_RELEASES = "https://github.com/huggingface/pytorch-image-models/releases/download/"

# Keys a mapping view always shows, even when None (timm shows these too).
_KEEP_NULL = frozenset({"pool_size", "first_conv", "classifier"})


# Fields that say where weights come from, not what they are (timm's ``remove_source`` set, plus
# ``state_dict``): a saved config drops them. hub.SOURCES chooses among them; a test keeps the two
# in step, so this module never looks up to the sources.
SOURCE_KEYS = frozenset({"source", "state_dict", "file", "hf_hub_id", "hf_hub_filename", "url"})


@dataclass(frozen=True, kw_only=True)
class PretrainedCfg(Mapping):
    """Where one set of weights lives and how its model expects input.

    Field names and meanings follow timm's ``PretrainedCfg`` so that configs round-trip through
    timm-style ``config.json`` files; ``top1``, ``top5`` and ``param_count`` add the published
    ImageNet results where there are any.
    """

    # weight sources (SOURCE_KEYS), by priority (hub.SOURCES): state_dict > file > hf_hub_id > url
    url: str | None = None
    file: str | None = None
    state_dict: dict[str, Any] | None = None
    hf_hub_id: str | None = None
    hf_hub_filename: str | None = None
    source: str | None = None
    architecture: str | None = None
    tag: str | None = None
    custom_load: bool = False
    # input / data config
    input_size: tuple[int, int, int] = (3, 224, 224)
    test_input_size: tuple[int, int, int] | None = None
    min_input_size: tuple[int, int, int] | None = None
    fixed_input_size: bool = False
    interpolation: str = "bicubic"
    crop_pct: float = 0.875
    test_crop_pct: float | None = None
    crop_mode: str = "center"
    mean: tuple[float, ...] = IMAGENET_DEFAULT_MEAN
    std: tuple[float, ...] = IMAGENET_DEFAULT_STD
    # head / classifier
    num_classes: int = 1000
    label_offset: int | None = None
    label_names: tuple[str, ...] | None = None
    label_descriptions: dict[str, str] | None = None
    pool_size: tuple[int, ...] | None = None
    test_pool_size: tuple[int, ...] | None = None
    first_conv: str | tuple[str, ...] | None = None
    classifier: str | tuple[str, ...] | None = None
    # provenance
    license: str | None = None
    description: str | None = None
    origin_url: str | None = None
    paper_name: str | None = None
    paper_ids: str | tuple[str, ...] | None = None
    notes: tuple[str, ...] | None = None
    # published ImageNet-1k results (visionzoo addition)
    top1: float | None = None
    top5: float | None = None
    param_count: float | None = None

    @property
    def name(self) -> str:
        """``arch.tag`` (or just ``arch`` for an untagged config)."""
        arch = self.architecture or ""
        return f"{arch}.{self.tag}" if self.tag else arch

    def replace(self, **changes: Any) -> PretrainedCfg:
        """A copy with ``changes``; an unknown field raises ``TypeError`` naming it."""
        _check_fields(changes, "pretrained cfg overlay")
        return dataclasses.replace(self, **changes)

    def to_dict(self, *, remove_source: bool = False, remove_null: bool = True) -> dict[str, Any]:
        """A plain dict in timm's layout (None values dropped but for a few keys timm keeps)."""
        skip = SOURCE_KEYS if remove_source else frozenset()
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in skip:
                continue
            if remove_null and value is None and f.name not in _KEEP_NULL:
                continue
            out[f.name] = value
        return out

    # Mapping protocol: the same keys as to_dict(), as timm's ``model.pretrained_cfg`` dict has,
    # so cfg["url"] and dict(cfg) work, and an unset field is absent there too (cfg.get(k) and
    # cfg.k give None for it, as in timm).
    def __getitem__(self, key: str) -> Any:
        if key in self._visible_keys():
            return getattr(self, key)
        if key in _FIELD_NAMES:
            raise KeyError(f"{key!r} is not set in this pretrained cfg; cfg.get({key!r}) gives None")
        raise KeyError(f"{key!r} is not a pretrained cfg field; valid: {', '.join(FIELD_NAMES)}")

    def __iter__(self) -> Iterator[str]:
        return iter(self._visible_keys())

    def __len__(self) -> int:
        return len(self._visible_keys())

    def _visible_keys(self) -> tuple[str, ...]:
        return tuple(
            f.name for f in fields(self) if getattr(self, f.name) is not None or f.name in _KEEP_NULL
        )

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "state_dict")
        return f"PretrainedCfg({body})"

    __hash__ = None  # type: ignore[assignment]  # holds dicts; equality is by value


# Every field a config has, set or not, in declaration order: timm's names, then top1/top5/params.
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(PretrainedCfg))
_FIELD_NAMES = frozenset(FIELD_NAMES)
_TUPLE_FIELDS = frozenset(
    {"input_size", "test_input_size", "min_input_size", "mean", "std", "pool_size", "test_pool_size"}
)


def _check_fields(values: Mapping[str, Any], what: str) -> None:
    unknown = sorted(set(values) - _FIELD_NAMES)
    if unknown:
        raise TypeError(
            f"{what}: unknown field(s) {', '.join(map(repr, unknown))}; "
            f"valid fields are {', '.join(sorted(_FIELD_NAMES))}"
        )


def weight(
    *profiles: Mapping[str, Any],
    default: bool = False,
    size: int | None = None,
    test: int | None = None,
    crop: float | None = None,
    pool_reduction: int | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """One entry of a family's weight table (``{"arch.tag": weight(...)}``).

    Every family writes its table with this, so entries read alike and a misspelt field fails
    where the table is written, not at registration.

    Args:
        profiles: shared field sets (a training recipe, :data:`NO_WEIGHTS`), merged left to right.
        default: mark this tag as its architecture's default (required where it has several).
        size: square input side: sets ``input_size``, and ``pool_size`` when ``pool_reduction``
            is given (a family passes that once, e.g. ``functools.partial(weight,
            pool_reduction=32)``, so the final feature map follows the input).
        test: square test input side (``test_input_size``).
        crop: ``crop_pct``.
        fields: :class:`PretrainedCfg` fields, over the profiles.

    Returns:
        The fields as a dict, with ``default=True`` when marked (``register_family`` reads it).
    """
    derived: dict[str, Any] = {}
    if size is not None:
        derived["input_size"] = (3, size, size)
        if pool_reduction is not None:
            derived["pool_size"] = (math.ceil(size / pool_reduction),) * 2
    if test is not None:
        derived["test_input_size"] = (3, test, test)
    if crop is not None:
        derived["crop_pct"] = crop
    clash = sorted(derived.keys() & fields.keys())
    if clash:
        raise TypeError(
            f"weight entry: {', '.join(clash)} given both as a field and through size=/test=/crop=; "
            "give each once"
        )
    entry: dict[str, Any] = {}
    for part in (*profiles, fields):
        _check_fields(part, "weight entry")
        entry.update(part)
    entry.update(derived)
    if default:
        entry["default"] = True
    return entry


def as_pretrained_cfg(value: PretrainedCfg | Mapping[str, Any]) -> PretrainedCfg:
    """Coerce a mapping (e.g. from ``config.json``) to a record; lists become tuples."""
    if isinstance(value, PretrainedCfg):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"pretrained_cfg must be a PretrainedCfg, dict or tag string, got {value!r}")
    _check_fields(value, "pretrained_cfg")
    clean: dict[str, Any] = {
        k: (tuple(v) if k in _TUPLE_FIELDS and isinstance(v, list) else v) for k, v in value.items()
    }
    for k in ("first_conv", "classifier", "paper_ids", "notes", "label_names"):
        if isinstance(clean.get(k), list):
            clean[k] = tuple(clean[k])
    return PretrainedCfg(**clean)


def channel_stats(values: Sequence[float], in_chans: int) -> tuple[float, ...]:
    """A config's per-channel ``mean`` or ``std`` (three RGB values, or one) for ``in_chans``
    channels: the one rule, used by the builder, the data config and saving.

    It is timm's: values of another length than ``in_chans`` become their average, repeated
    (``timm.data.loader.adapt_to_chs``, how timm's data pipeline normalises an ``in_chans`` model
    whose config has RGB statistics), so a model trained or evaluated with timm at ``in_chans``
    channels sees the same normalisation here. timm keeps the 3-channel config on the model;
    visionzoo writes the fitted values into it.

    Raises:
        ValueError: ``in_chans`` < 1 or no values.
    """
    stats = tuple(float(v) for v in values)
    if isinstance(in_chans, bool) or not isinstance(in_chans, int) or in_chans < 1:
        raise ValueError(f"in_chans must be an int >= 1, got {in_chans!r}")
    if not stats:
        raise ValueError("mean/std needs at least one value, got none")
    if len(stats) == in_chans:
        return stats
    return (sum(stats) / len(stats),) * in_chans


def cfg_as_built(
    cfg: PretrainedCfg, *, in_chans: int, img_size: tuple[int, int] | None = None
) -> PretrainedCfg:
    """``cfg`` describing a model built for ``in_chans`` channels (and, for a token model, the
    ``img_size`` it was built at): the builder writes this once into ``model.pretrained_cfg``, and
    the data config, saving and ``model_input_size`` read it.

    The sizes say ``in_chans``; mean/std follow :func:`channel_stats`; ``img_size`` becomes the
    input size, marked fixed (``fixed_input_size``: the position embedding is laid out for it, so
    a saved config rebuilds at that size, in timm too), and a test size the model cannot take is
    dropped (``test_input_size=None``: the data config then uses the input size). A config that
    already says all this is returned as is.
    """

    def chans(size: tuple[int, ...] | None) -> tuple[int, int, int] | None:
        return None if size is None else (in_chans, int(size[1]), int(size[2]))

    hw = tuple(cfg.input_size[1:]) if img_size is None else (int(img_size[0]), int(img_size[1]))
    test = chans(cfg.test_input_size)
    if img_size is not None and test is not None and tuple(test[1:]) != hw:
        test = None
    changes: dict[str, Any] = dict(
        input_size=(in_chans, hw[0], hw[1]),
        test_input_size=test,
        min_input_size=chans(cfg.min_input_size),
        mean=channel_stats(cfg.mean, in_chans),
        std=channel_stats(cfg.std, in_chans),
    )
    if img_size is not None:
        changes["fixed_input_size"] = True
    if all(getattr(cfg, k) == v for k, v in changes.items()):
        return cfg
    return dataclasses.replace(cfg, **changes)


@functools.cache
def published_results() -> dict[str, dict[int, tuple[float, float, float]]]:
    """Published ImageNet-1k results: ``{"arch.tag": {img_size: (top1, top5, params_M)}}``.

    Read once, on first use, from the results table shipped with the package (timm's
    ``results-imagenet.csv``).
    """
    table: dict[str, dict[int, tuple[float, float, float]]] = {}
    text = resources.files("visionzoo._data").joinpath("results-imagenet.csv").read_text()
    for row in csv.DictReader(text.splitlines()):
        params = float(row["param_count"].replace(",", ""))
        table.setdefault(row["model"], {})[int(row["img_size"])] = (
            float(row["top1"]),
            float(row["top5"]),
            params,
        )
    return table


def with_results(cfg: PretrainedCfg) -> PretrainedCfg:
    """Attach published top-1/top-5/params, measured at ``test_input_size`` if given, else
    ``input_size`` (the resolution the weights are recommended at)."""
    if cfg.top1 is not None:
        return cfg
    rows = published_results().get(cfg.name)
    if not rows:
        return cfg
    size = (cfg.test_input_size or cfg.input_size)[-1]
    top1, top5, params = rows.get(size) or rows[max(rows)]
    return dataclasses.replace(cfg, top1=top1, top5=top5, param_count=params)
