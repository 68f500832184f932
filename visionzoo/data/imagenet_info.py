"""timm's ImageNet label-set API (``ImageNetInfo``, ``infer_imagenet_subset``) over our label table.

Libraries that use timm through the alias (Hugging Face transformers' ``TimmWrapperConfig``) name
a classifier's outputs with these. The synsets and lemmas come from :mod:`visionzoo.data.labels`;
the shipped table holds no WordNet definitions, so ``detailed=True`` descriptions are unavailable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, overload

from .labels import imagenet_label_names, imagenet_lemmas, imagenet_subset_for

__all__ = ["ImageNetInfo", "infer_imagenet_subset"]

# timm also names two label sets whose synset lists we do not ship; the class count still
# identifies them, so inference reports them as timm does (ImageNetInfo then raises KeyError).
_UNSHIPPED_SUBSETS = {11221: "imagenet-21k-miil", 21842: "imagenet-22k-ms"}


def infer_imagenet_subset(model_or_cfg: Any) -> str | None:
    """The ImageNet subset a model (or a config dict) classifies into, guessed from its class count.

    Reads ``num_classes`` from the dict, else the model attribute, else its ``pretrained_cfg``.
    Returns ``None`` when the count names no ImageNet label set.
    """
    if isinstance(model_or_cfg, Mapping):
        num_classes = model_or_cfg.get("num_classes")
    else:
        num_classes = getattr(model_or_cfg, "num_classes", None)
        if not num_classes:
            cfg = getattr(model_or_cfg, "pretrained_cfg", None) or {}
            num_classes = (
                cfg.get("num_classes") if isinstance(cfg, Mapping) else getattr(cfg, "num_classes", None)
            )
    if not num_classes:
        return None
    return imagenet_subset_for(int(num_classes)) or _UNSHIPPED_SUBSETS.get(int(num_classes))


class ImageNetInfo:
    """Synsets (class names) and lemma descriptions of one ImageNet label set, index by index.

    Args:
        subset: ``imagenet-1k`` (default), ``imagenet-12k``, ``imagenet-22k`` or
            ``imagenet-21k-goog``; case, ``-``, ``_`` and spaces are ignored as in timm.
    """

    def __init__(self, subset: str = "imagenet-1k") -> None:
        self._synsets = list(imagenet_label_names(subset))  # KeyError naming valid subsets
        self._lemmas = imagenet_lemmas()

    def num_classes(self) -> int:
        return len(self._synsets)

    def label_names(self) -> list[str]:
        """The WordNet synset ids (``n01440764``, ...) in class-index order."""
        return self._synsets

    def label_indices(self) -> tuple[int, ...]:
        return tuple(range(self.num_classes()))

    def has_label(self, index: int) -> bool:
        return 0 <= int(index) < self.num_classes()

    @overload
    def label_descriptions(self, detailed: bool = ..., as_dict: Literal[False] = ...) -> list[str]: ...
    @overload
    def label_descriptions(self, detailed: bool = ..., *, as_dict: Literal[True]) -> dict[str, str]: ...
    def label_descriptions(self, detailed: bool = False, as_dict: bool = False) -> list[str] | dict[str, str]:
        """Each class's lemma ("tench, Tinca tinca"), as a list or a ``{synset: lemma}`` dict."""
        if as_dict:
            return {s: self.label_name_to_description(s, detailed=detailed) for s in self._synsets}
        return [self.label_name_to_description(s, detailed=detailed) for s in self._synsets]

    def index_to_label_name(self, index: int) -> str:
        if not 0 <= index < len(self._synsets):
            raise IndexError(f"index {index} out of range for a label set of {len(self._synsets)} classes")
        return self._synsets[index]

    def index_to_description(self, index: int, detailed: bool = False) -> str:
        return self.label_name_to_description(self.index_to_label_name(index), detailed=detailed)

    def label_name_to_description(self, label: str, detailed: bool = False) -> str:
        if detailed:
            raise NotImplementedError(
                "detailed=True needs WordNet definitions, which visionzoo does not ship; use detailed=False"
            )
        if label not in self._lemmas:
            raise KeyError(f"unknown synset {label!r}")
        return self._lemmas[label]
