"""Human-readable class names: ImageNet label sets shipped with the package, and a model's own.

The ImageNet synsets (WordNet ids such as ``n01440764``) and their lemmas ("tench, Tinca tinca")
live in one gzipped table, ``visionzoo/_data/imagenet_labels.tsv.gz``: one row per synset, sorted,
``synset <TAB> membership bits <TAB> lemma``. Every published subset is a sorted list of synsets,
so a subset is the rows whose bit is set, in file order: bit 1 ImageNet-1k, 2 ImageNet-12k (timm's
11,821-class subset of fall11), 4 ImageNet-22k (fall11, 21,841 classes), 8 ImageNet-21k as Google
released it (21,843 classes). Source: pytorch-image-models ``timm/data/_info`` (Apache-2.0).
"""

from __future__ import annotations

import functools
import gzip
from importlib import resources

from torch import nn

__all__ = [
    "IMAGENET_SUBSETS",
    "imagenet_label_names",
    "imagenet_lemmas",
    "imagenet_subset_for",
    "model_label_names",
]

IMAGENET_SUBSETS: dict[str, int] = {
    "imagenet-1k": 1,
    "imagenet-12k": 2,
    "imagenet-22k": 4,
    "imagenet-21k-goog": 8,
}
# class count -> subset; the counts are distinct, so the count identifies the label set
_NUM_CLASSES_TO_SUBSET = {
    1000: "imagenet-1k",
    11821: "imagenet-12k",
    21841: "imagenet-22k",
    21843: "imagenet-21k-goog",
}
_ALIASES = {
    "imagenet1k": "imagenet-1k",
    "in1k": "imagenet-1k",
    "imagenet12k": "imagenet-12k",
    "in12k": "imagenet-12k",
    "imagenet22k": "imagenet-22k",
    "in22k": "imagenet-22k",
    "imagenet21kgoog": "imagenet-21k-goog",
    "imagenet21k": "imagenet-21k-goog",
    "in21k": "imagenet-21k-goog",
}


@functools.cache
def _table() -> tuple[tuple[str, int, str], ...]:
    raw = resources.files("visionzoo._data").joinpath("imagenet_labels.tsv.gz").read_bytes()
    rows = []
    for line in gzip.decompress(raw).decode("utf-8").splitlines():
        synset, bits, lemma = line.split("\t", 2)
        rows.append((synset, int(bits), lemma))
    return tuple(rows)


def _subset_name(subset: str) -> str:
    key = "".join(c for c in str(subset).lower() if c.isalnum())
    if key not in _ALIASES:
        raise KeyError(f"unknown ImageNet subset {subset!r}; valid: {', '.join(IMAGENET_SUBSETS)}")
    return _ALIASES[key]


@functools.cache
def imagenet_label_names(subset: str = "imagenet-1k") -> tuple[str, ...]:
    """The synset ids of ``subset`` in class-index order (``imagenet-1k``, ``imagenet-12k``,
    ``imagenet-22k``, ``imagenet-21k-goog``; ``in1k``-style short names work too)."""
    bit = IMAGENET_SUBSETS[_subset_name(subset)]
    return tuple(s for s, bits, _ in _table() if bits & bit)


@functools.cache
def imagenet_lemmas() -> dict[str, str]:
    """``{synset: lemma}`` for every synset in the shipped table."""
    return {s: lemma for s, _, lemma in _table()}


def imagenet_subset_for(num_classes: int) -> str | None:
    """The ImageNet label set a classifier of ``num_classes`` outputs was trained on, if any."""
    return _NUM_CLASSES_TO_SUBSET.get(int(num_classes))


def model_label_names(model: nn.Module, *, readable: bool = True) -> list[str] | None:
    """Class names for a model's outputs, index by index, or ``None`` when unknown.

    Uses the names saved in the model's config (a fine-tuned model saved with its class names),
    else the ImageNet subset its class count identifies (with ``label_offset`` handled, e.g. 1001
    outputs with a background class first). With ``readable`` synset ids become their lemmas.
    """
    cfg = getattr(model, "pretrained_cfg", None)
    num_classes = int(getattr(model, "num_classes", 0) or 0)
    if not num_classes:
        return None
    names: list[str] | None = None
    if cfg is not None and cfg.label_names and len(cfg.label_names) == num_classes:
        names = list(cfg.label_names)
    else:
        offset = (cfg.label_offset or 0) if cfg is not None else 0
        subset = imagenet_subset_for(num_classes - offset)
        if subset is None:
            return None
        names = ["background"] * offset + list(imagenet_label_names(subset))
    if readable:
        lemmas = imagenet_lemmas()
        names = [lemmas.get(n, n) for n in names]
    return names
