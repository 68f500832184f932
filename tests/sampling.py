"""Which architectures the expensive per-architecture tests run on.

Cheap structural checks (meta device, no arithmetic) run on every registered name. Tests that do
real forward/backward passes or numeric parity run, in CI, on a per-family sample; with
``VISIONZOO_FULL=1`` (``make test-all``) on every name, and the numeric parity sweep with
``VISIONZOO_PARITY=all`` (``make parity``).

The sample rule, per family module (``visionzoo.list_models(module=m)``):

1. build every name of the module on the meta device (no memory, no init) and describe it by its
   *parts*: the classes of its modules (block types, attention layers, anti-aliasing, norms,
   activations) and its state-dict key templates with the numbers masked (stem types, downsample
   layouts, attention placement: ``layer#.#.se.fc#.weight``);
2. order the names by parameter count, then by name;
3. take the smallest, then walk on in that order and take every name that adds a part no name
   taken so far has, up to ``MAX_SAMPLE_PER_FAMILY`` names and leaving out models of more than
   ``MAX_SAMPLE_PARAMS`` parameters (CI's time on 2 cores; ``VISIONZOO_FULL=1`` runs them all).

So the sample holds the smallest model of each family and, for every block type and structural
option the family has, the smallest model that has it. It is a pure function of the registry: the
same names on every run and machine, and a new family is sampled without edits here.

CI takes a cut of the sample so that its time grows with the families only through cheap checks:
the first :func:`ci_names_per_family` names of each sample (down to the smallest model alone as the
families grow), and for the per-family tests (``@pytest.mark.family_sampled``) the families of
:func:`ci_families`. ``VISIONZOO_SAMPLE=family`` (``make test-sample``) takes the whole samples.

Tests marked ``@pytest.mark.sampled`` parametrize over names (``visionzoo.list_models()``); after
``-k`` / ``-m`` have selected, conftest.py deselects the names outside CI's cut of the sample
(:func:`deselect_unsampled`), ranking only the families still selected. The ranking is done once
per run: xdist workers share it through a folder conftest.py makes for the run.

A family's own test file is ``tests/test_<module>.py`` (one per family module). What the shared
suites need of a family that no model fact says -- a kwarg that keeps its code at a fraction of
the cost where a suite compiles or exports it -- is a module-level ``SHARED_KWARGS`` dict there,
read by :func:`family_kwargs`; so a new family needs no edit outside its module and its test file.

Likewise ``SAMPLED_KWARGS``: the kwargs the sampled tests (and the per-family property test) build
the family's names with, in CI and ``make test-sample`` (:func:`sampled_kwargs`, :func:`create`),
so that a family's CI cost does not follow its smallest published size: ``{"img_size": 64}`` for
a fixed-size token model, fewer blocks for a deep one. They must keep every block type of the
family; where every name runs (``VISIONZOO_FULL=1``, and ``make parity`` for the parity tests)
they are not applied.

And ``SAMPLE_FIRST``: the name the sample starts from instead of the smallest, where the smallest
by parameters is not the cheapest to run (ByobNet-attention's HaloNet-H1 runs five times as long
as HaloNet-26t at the size both take). CI's cut takes the sample's first names, so this is the
family's model in CI; the smallest joins the sample after it only if it adds a part.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

import visionzoo

__all__ = [
    "by_size",
    "ci_families",
    "ci_names_per_family",
    "cost_properties",
    "create",
    "deselect_unsampled",
    "family_kwargs",
    "family_of",
    "family_sample",
    "family_test_file",
    "full",
    "parity_all",
    "sampled",
    "sampled_kwargs",
    "whole_sample",
]

_DIGITS = re.compile(r"\d+")


def full() -> bool:
    """``VISIONZOO_FULL=1``: run the per-architecture forward/backward tests on every name."""
    return os.environ.get("VISIONZOO_FULL", "") not in ("", "0")


def parity_all() -> bool:
    """``VISIONZOO_PARITY=all`` (or ``VISIONZOO_FULL=1``): numeric parity on every name."""
    return os.environ.get("VISIONZOO_PARITY", "") == "all" or full()


@functools.cache
def _module_index() -> dict[str, str]:
    return {name: m for m in visionzoo.list_modules() for name in visionzoo.list_models(module=m)}


def family_of(name: str) -> str:
    """The family module that registers ``name``."""
    return _module_index()[name.partition(".")[0]]


def family_test_file(module: str) -> ModuleType:
    """The family's own test file, ``tests/test_<module>.py`` (imported by its module name, as
    pytest imports it, so both are one module)."""
    return importlib.import_module(f"test_{module}")


def family_kwargs(module: str) -> dict[str, Any]:
    """``create_model`` kwargs for the shared suites that compile or export one model of each
    family: the family test file's ``SHARED_KWARGS`` (e.g. DenseNet at 2-2-2-2 layers), else none."""
    return dict(getattr(family_test_file(module), "SHARED_KWARGS", {}))


def sampled_kwargs(name: str, *, parity: bool = False) -> dict[str, Any]:
    """``create_model`` kwargs the sampled tests build ``name`` with: its family test file's
    ``SAMPLED_KWARGS``, except where every name runs (``VISIONZOO_FULL=1``; ``VISIONZOO_PARITY=all``
    for the ``parity`` tests), where the names are built as published."""
    if full() or (parity and parity_all()):
        return {}
    return dict(getattr(family_test_file(family_of(name)), "SAMPLED_KWARGS", {}))


def create(name: str, /, *, parity: bool = False, **kwargs: Any) -> torch.nn.Module:
    """``visionzoo.create_model(name, **kwargs)`` over the family's :func:`sampled_kwargs`."""
    return visionzoo.create_model(name, **{**sampled_kwargs(name, parity=parity), **kwargs})


def _parts(model: torch.nn.Module) -> set[str]:
    kinds = {f"{type(m).__module__}.{type(m).__qualname__}" for m in model.modules()}
    keys = {_DIGITS.sub("#", k) for k in model.state_dict()}
    return kinds | keys


Described = tuple[tuple[int, str, frozenset[str]], ...]

# set by conftest.py for one pytest run: the xdist workers share each family's description there
# (the first worker to need a family builds it, the other reads it), as a run in one process would
SHARED_DIR_ENV = "VISIONZOO_SAMPLE_DIR"


def _describe(module: str) -> Described:
    described = []
    for name in visionzoo.list_models(module=module):
        model = visionzoo.create_model(name, device="meta")
        described.append((sum(p.numel() for p in model.parameters()), name, frozenset(_parts(model))))
        del model
    return tuple(sorted(described, key=lambda d: (d[0], d[1])))


@functools.cache
def _described(module: str) -> Described:
    """(parameter count, name, parts) of every name of ``module``, smallest first."""
    folder = os.environ.get(SHARED_DIR_ENV)
    if not folder:
        return _describe(module)
    from filelock import FileLock

    path = Path(folder) / f"{module}.json"
    with FileLock(f"{path}.lock"):
        if path.is_file():
            return tuple((p, n, frozenset(parts)) for p, n, parts in json.loads(path.read_text()))
        described = _describe(module)
        tmp = path.with_suffix(".partial")
        tmp.write_text(json.dumps([(p, n, sorted(parts)) for p, n, parts in described]))
        tmp.replace(path)
    return described


def by_size(module: str) -> tuple[str, ...]:
    """The names of ``module`` by parameter count (then name), smallest first."""
    return tuple(name for _, name, _ in _described(module))


# CI's cost bound: past this size a model is left to VISIONZOO_FULL=1 (the smallest of a family
# is always taken), and a family gives at most this many names, in the order the rule finds them
MAX_SAMPLE_PARAMS = 60_000_000
MAX_SAMPLE_PER_FAMILY = 8


@functools.cache
def family_sample(module: str) -> tuple[str, ...]:
    """The sample of ``module`` by the rule in this file's docstring, within the cost bound."""
    seen: set[str] = set()
    taken: list[str] = []
    described = _described(module)
    first = getattr(family_test_file(module), "SAMPLE_FIRST", None)
    if first is not None:  # the family's cheaper name to lead (see the module docstring)
        lead = [d for d in described if d[1] == first]
        if not lead:
            raise ValueError(f"test_{module}.SAMPLE_FIRST={first!r} is not a name of {module}")
        described = (*lead, *(d for d in described if d[1] != first))
    for params, name, parts in described:
        if len(taken) == MAX_SAMPLE_PER_FAMILY:
            break
        if not taken or (parts - seen and params <= MAX_SAMPLE_PARAMS):
            taken.append(name)
            seen |= parts
    return tuple(taken)


# CI's budget as the families grow (docs/testing.md): the sampled tests take the first k names of
# each family's sample, k = MAX_CI_SAMPLED_NAMES // families (at least 1: the family's smallest
# model), and the per-family tests (export to every engine, compile for training) at most
# MAX_CI_FAMILIES families (ci_families). VISIONZOO_SAMPLE=family (make test-sample) takes every
# family's whole sample and every family; VISIONZOO_FULL=1 every name.
MAX_CI_SAMPLED_NAMES = 50
MAX_CI_FAMILIES = 10  # > 8: the one-graph-per-compiled-model test needs more than dynamo allows


def whole_sample() -> bool:
    """``VISIONZOO_SAMPLE=family`` (or ``VISIONZOO_FULL=1``): no CI cut of the sample or families."""
    return os.environ.get("VISIONZOO_SAMPLE", "") == "family" or full()


def ci_names_per_family() -> int:
    """How many names of each family's sample the sampled tests take (the sample's own order)."""
    if whole_sample():
        return MAX_SAMPLE_PER_FAMILY
    return max(1, MAX_CI_SAMPLED_NAMES // len(visionzoo.list_modules()))


def sampled(name: str) -> bool:
    """Whether ``name`` is among the first :func:`ci_names_per_family` names of its family's sample."""
    return name.partition(".")[0] in family_sample(family_of(name))[: ci_names_per_family()]


def _shared_kinds(parts: frozenset[str]) -> frozenset[str]:
    """The layer classes a family's model shares with others (torch's, visionzoo.layers'): what an
    exporter or compiler meets that is not the family's own code."""
    return frozenset(p for p in parts if p.startswith(("torch.", "visionzoo.layers.")))


@functools.cache
def ci_families() -> tuple[str, ...]:
    """The families the per-family tests take: every family up to ``MAX_CI_FAMILIES``; past it, the
    sample rule over families (smallest model first, each family whose smallest model has a shared
    layer class none taken so far has), then the smallest others, up to the cap."""
    modules = visionzoo.list_modules()
    if whole_sample() or len(modules) <= MAX_CI_FAMILIES:
        return tuple(modules)
    smallest = sorted((_described(m)[0][0], m, _shared_kinds(_described(m)[0][2])) for m in modules)
    taken: list[str] = []
    seen: set[str] = set()
    for _, module, kinds in smallest:
        if kinds - seen and len(taken) < MAX_CI_FAMILIES:
            taken.append(module)
            seen |= kinds
    rest = [m for _, m, _ in smallest if m not in taken]
    return tuple(sorted(taken + rest[: MAX_CI_FAMILIES - len(taken)]))


def family_param(item: pytest.Item) -> str | None:
    """The family module a per-family test case is for: its ``module`` parameter, or the module of
    a ``"module-rank"`` parameter; None for other tests."""
    modules = set(visionzoo.list_modules())
    for value in getattr(getattr(item, "callspec", None), "params", {}).values():
        if not isinstance(value, str):
            continue
        module = value if value in modules else value.rpartition("-")[0]
        if module in modules:
            return module
    return None


def _everything(mark: pytest.Mark) -> bool:
    """Whether a ``sampled`` test runs on every name: ``VISIONZOO_FULL=1``, or for
    ``sampled(parity=True)`` tests ``VISIONZOO_PARITY=all``."""
    return full() or (mark.kwargs.get("parity", False) and parity_all())


def deselect_unsampled(items: list[pytest.Item], config: pytest.Config) -> None:
    """Drop the items of ``@pytest.mark.sampled`` tests whose ``name`` parameter is not sampled.

    The families are ranked in this worker's own order (the second xdist worker from the last
    family back), so that two workers build different families and read each other's from the
    shared folder (see ``_described``). A run where every marked test takes every name ranks
    nothing."""
    per_family = [item for item in items if item.get_closest_marker("family_sampled")]
    if per_family and not whole_sample():
        dropped_families = {id(item) for item in per_family if family_param(item) not in ci_families()}
        if dropped_families:
            config.hook.pytest_deselected(items=[item for item in items if id(item) in dropped_families])
            items[:] = [item for item in items if id(item) not in dropped_families]
    restricted = [
        item for item in items if (mark := item.get_closest_marker("sampled")) and not _everything(mark)
    ]
    if not restricted:
        return
    families = sorted({family_of(item.callspec.params["name"]) for item in restricted})
    if os.environ.get("PYTEST_XDIST_WORKER", "gw0") not in ("gw0", "master"):
        families.reverse()
    for module in families:
        family_sample(module)
    dropped = {id(item) for item in restricted if not sampled(item.callspec.params["name"])}
    if dropped:
        config.hook.pytest_deselected(items=[item for item in items if id(item) in dropped])
        items[:] = [item for item in items if id(item) not in dropped]


# what a test's cost grows with, for tests/suite_cost.py's projection to more families
EVERY_NAME, SAMPLED, SAMPLED_PARITY, CI_FAMILIES, PER_FAMILY, FAMILY_FILE, FIXED = (
    "every-name",  # parametrized over every registered name: grows with the architectures
    "sampled",  # over each family's sample in CI (every name with VISIONZOO_FULL=1)
    "sampled-parity",  # the same, every name timm has with VISIONZOO_PARITY=all
    "ci-families",  # one case per family (family_sampled): CI takes ci_families() only
    "per-family",  # one case per family module (its smallest model)
    "family-file",  # a family's own test file, tests/test_<module>.py
    "fixed",  # independent of the number of families
)


def cost_properties(item: pytest.Item) -> list[tuple[str, str]]:
    """``[("cost_kind", kind), ("cost_family", module), ("cost_unit", name or module)]`` for
    ``item`` (only the kind for fixed tests), and a sampled name's ``cost_rank`` in its family's
    sample: recorded in its report, so that a ``--junitxml`` file says what each test's time grows
    with."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    modules = set(visionzoo.list_modules())
    stem = Path(str(item.fspath)).stem
    if stem.startswith("test_") and stem[len("test_") :] in modules:  # its own, whatever its parameters
        module = stem[len("test_") :]
        return [("cost_kind", FAMILY_FILE), ("cost_family", module), ("cost_unit", module)]
    name = params.get("name")
    if isinstance(name, str) and name.partition(".")[0] in _module_index():
        mark = item.get_closest_marker("sampled")
        kind = EVERY_NAME if mark is None else SAMPLED_PARITY if mark.kwargs.get("parity") else SAMPLED
        props = [("cost_kind", kind), ("cost_family", family_of(name)), ("cost_unit", name)]
        if mark is not None and not full():  # its place in the family sample (0: the smallest model)
            sample = family_sample(family_of(name))
            props.append(("cost_rank", str(sample.index(name) if name in sample else len(sample))))
        return props
    if (module := family_param(item)) is not None:
        kind = CI_FAMILIES if item.get_closest_marker("family_sampled") else PER_FAMILY
        return [("cost_kind", kind), ("cost_family", module), ("cost_unit", module)]
    return [("cost_kind", FIXED)]
