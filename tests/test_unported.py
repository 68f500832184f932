"""A timm model name of a family visionzoo has not ported gets an error naming timm's family.

The stored list (``visionzoo/_data/timm_api.json``, written from timm 1.0.31) is the source: timm is
not imported here. A typo of a ported name still gets close-name suggestions, and the list is
read only on the error path, never by a successful look-up.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import visionzoo
from visionzoo import _timm_paths
from visionzoo.registry import UnknownModelError

pytestmark = pytest.mark.contract

_LOOKUPS = {
    "create_model": visionzoo.create_model,
    "get_pretrained_cfg": visionzoo.get_pretrained_cfg,
    "model_entrypoint": visionzoo.model_entrypoint,
}


def _unported_names() -> list[tuple[str, str]]:
    """One timm model name per unported family (first by name), from the stored list."""
    api = _timm_paths.timm_api()
    ported = set(visionzoo.list_modules())
    first: dict[str, str] = {}
    for name, family in sorted(api["family_of"].items()):
        if name == name.lower() and family not in ported:
            first.setdefault(family, name)
    return sorted((name, family) for family, name in first.items())


# the first name of an unported family (picked from the list: families get ported over time),
# with a tag, and a tagged transformer
_NAME, _FAMILY = _unported_names()[0]
_EXAMPLES = {
    _NAME: _FAMILY,
    f"{_NAME}.in1k": _FAMILY,
    "naflexvit_base_patch16_gap.e300_s576_in1k": "naflexvit",
}


def test_the_stored_list_knows_unported_families() -> None:
    assert _timm_paths.timm_api()["family_of"]["dla34"] == "dla"  # a fact of timm 1.0.31
    families = set(_timm_paths.timm_api()["families"])
    assert len(families) > 80  # timm 1.0.31 has ~90 model modules
    # every timm family is either ported or named by an unported example (the list shrinks as
    # families land, to nothing when the catalog is complete)
    assert {family for _, family in _unported_names()} == families - set(visionzoo.list_modules())


@pytest.mark.parametrize("lookup", sorted(_LOOKUPS))
@pytest.mark.parametrize("name", sorted(_EXAMPLES))
def test_unported_timm_name_names_its_family(lookup: str, name: str) -> None:
    family = _EXAMPLES[name]
    with pytest.raises(UnknownModelError) as info:
        _LOOKUPS[lookup](name)
    message = str(info.value)
    assert f"unknown model {name!r}: it is a model of timm's {family!r} family" in message
    assert "not ported to visionzoo yet" in message
    assert "did you mean" not in message  # a real timm name, not a typo


@pytest.mark.parametrize(("name", "family"), _unported_names())
def test_every_unported_family_is_named(name: str, family: str) -> None:
    assert not visionzoo.is_model(name)  # False, no error
    with pytest.raises(UnknownModelError, match=rf"timm's '{family}' family, which is not ported"):
        visionzoo.create_model(name)


def test_a_typo_of_a_ported_name_still_gets_suggestions() -> None:
    with pytest.raises(UnknownModelError, match=r"unknown model 'resnet5'; did you mean 'resnet50'") as info:
        visionzoo.create_model("resnet5")
    assert "not ported" not in str(info.value)


def test_a_timm_class_name_is_not_taken_for_a_model() -> None:
    # the list maps timm's model classes to families too; a class is no model name
    assert _timm_paths.timm_api()["family_of"]["DLA"] == "dla"
    with pytest.raises(UnknownModelError) as info:
        visionzoo.create_model("DLA")
    assert "family" not in str(info.value)


def test_the_list_is_read_only_on_the_error_path() -> None:
    code = (
        "import sys, visionzoo\n"
        "from visionzoo._timm_paths import timm_api\n"
        "visionzoo.create_model('resnet18')\n"
        f"assert visionzoo.is_model('resnet18') and not visionzoo.is_model({_NAME!r})\n"
        "visionzoo.get_pretrained_cfg('resnet18')\n"
        "assert timm_api.cache_info().currsize == 0, 'read on a successful look-up'\n"
        "try:\n"
        f"    visionzoo.create_model({_NAME!r})\n"
        "except visionzoo.registry.UnknownModelError:\n"
        "    pass\n"
        "assert timm_api.cache_info().currsize == 1\n"
        "assert 'timm' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
