"""Every public name ``visionzoo.layers`` shares with ``timm.layers`` takes timm's arguments.

Code written for timm calls these layers positionally and by keyword, so a renamed, reordered or
re-defaulted parameter breaks it silently or late. timm's signatures are stored as data
(``tests/data/timm_layer_signatures.json``) so the check runs where timm is absent; where timm is
installed, the stored file must match it. Regenerate it with ``python tests/test_layer_signatures.py``.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import pytest

import visionzoo.layers

DATA = Path(__file__).parent / "data" / "timm_layer_signatures.json"

# A parameter as (name, kind, default): kind is inspect's name for it, default a stable repr or
# None when required.
Param = tuple[str, str, str | None]


def _default(value: Any) -> str | None:
    if value is inspect.Parameter.empty:
        return None
    if inspect.isclass(value) or inspect.isfunction(value):
        return f"{value.__module__}.{value.__qualname__}"
    return repr(value)


def describe(obj: Any) -> list[Param] | None:
    """The parameters of a callable, or None where it has no signature (constants, aliases)."""
    if not callable(obj):
        return None
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [(p.name, p.kind.name, _default(p.default)) for p in sig.parameters.values()]


def timm_signatures() -> dict[str, Any]:
    """Read every public name of the installed ``timm.layers`` (the data file's content)."""
    timm = importlib.import_module("timm")
    layers = importlib.import_module("timm.layers")
    # submodules are left out: which of them are attributes depends on what was imported before
    names = sorted(
        n for n in dir(layers) if not n.startswith("_") and not inspect.ismodule(getattr(layers, n))
    )
    sigs = {n: describe(getattr(layers, n)) for n in names}
    return {"timm_version": timm.__version__, "signatures": sigs}


def _stored() -> dict[str, Any]:
    data = json.loads(DATA.read_text())
    sigs = {n: None if s is None else [tuple(p) for p in s] for n, s in data["signatures"].items()}
    return {"timm_version": data["timm_version"], "signatures": sigs}


def _as_ours(default: str | None) -> str | None:
    if default is not None and default.startswith("timm."):
        return "visionzoo." + default.removeprefix("timm.")
    return default


_POSITIONAL = ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD")


def differences(ours: list[Param], theirs: list[Param]) -> set[str]:
    """How ``ours`` fails a caller written for ``theirs``, one short phrase per problem.

    One deliberate rule (STYLE.md: keyword-only after the first few): a parameter timm takes
    positionally may be keyword-only here, as long as the positional ones we keep are timm's
    leading ones in timm's order; an addition of ours must be keyword-only.
    """
    found: set[str] = set()
    # a default that is one of timm's own classes counts as ours of the same module path
    mine = {name: (kind, _as_ours(default)) for name, kind, default in ours}
    theirs = [(name, kind, _as_ours(default)) for name, kind, default in theirs]
    for name, kind, default in theirs:
        if kind in ("VAR_POSITIONAL", "VAR_KEYWORD"):
            if not any(k == kind for k, _ in mine.values()):
                found.add(f"no {'*args' if kind == 'VAR_POSITIONAL' else '**kwargs'}")
        elif name not in mine:
            found.add(f"missing {name}")
        elif mine[name][1] != default:
            found.add(f"{name} default {mine[name][1]} != {default}")
    their_positional = [n for n, k, _ in theirs if k in _POSITIONAL]
    our_positional = [n for n, k, _ in ours if k in _POSITIONAL]
    if our_positional != their_positional[: len(our_positional)]:
        found.add(f"positional order {our_positional} != {their_positional}")
    return found


# Deliberate differences, each with why. The test fails when an entry no longer differs, so the
# list cannot outlive its reason.
DELIBERATE: dict[str, tuple[set[str], str]] = {
    # a registration helper ours uses as a decorator; timm's also takes a name (string) form
    "register_notrace_function": (
        {"missing name_or_fn", "positional order ['func'] != ['name_or_fn']"},
        "decorator-only: a name string cannot be traced here, so ours takes only the function",
    ),
    "set_fused_attn": (
        {"missing experimental", "positional order ['model', 'enable'] != ['enable', 'experimental']"},
        "ours switches one model's modules, timm flips a process-wide flag; a global switch goes "
        "through a context manager here (STYLE.md: no hidden global state)",
    ),
    "get_same_padding": (
        {"dilation default 1 != None"},
        "ours defaults dilation to 1 where timm requires it: every timm call still works",
    ),
    "create_conv2d": (
        {"no **kwargs"},
        "typed keyword-only arguments (STYLE.md) instead of **kwargs, so a misspelt one raises "
        "TypeError naming it: timm's own ones and nn.Conv2d's (padding_mode, device, dtype); "
        "timm's kernel-list (MixedConv2d) and num_experts (CondConv2d) forms are not ported",
    ),
    "LayerType": (
        {"callable in only one"},
        "a typing alias: timm's typing.Union happens to be callable, ours (a `|` union) is not",
    ),
}


def _shared_names() -> list[str]:
    if not DATA.exists():  # test_data_file_is_committed says so; the script below writes it
        return []
    return sorted(set(visionzoo.layers.__all__) & set(_stored()["signatures"]))


def test_data_file_is_committed() -> None:
    assert DATA.exists(), f"missing {DATA}: run `python tests/test_layer_signatures.py`"
    assert len(_shared_names()) > 100  # the shared names themselves, not a truncated file


def test_stored_signatures_match_installed_timm() -> None:
    pytest.importorskip("timm")
    current = json.loads(json.dumps(timm_signatures()))
    assert current == json.loads(DATA.read_text()), (
        f"{DATA.name} is stale for timm {current['timm_version']}: "
        "run `python tests/test_layer_signatures.py`"
    )


@pytest.mark.parametrize("name", _shared_names())
def test_layer_signature_matches_timm(name: str) -> None:
    theirs = _stored()["signatures"][name]
    ours = describe(getattr(visionzoo.layers, name))
    if theirs is None or ours is None:
        found = set() if theirs is ours else {"callable in only one"}
    else:
        found = differences(ours, theirs)
    expected = DELIBERATE[name][0] if name in DELIBERATE else set()
    assert found == expected, f"{name}: differs from timm by {sorted(found)}"


def test_differences_rule_catches_each_kind() -> None:
    # the checker itself: each way a caller breaks is reported, the deliberate rule is not
    base: list[Param] = [("a", "POSITIONAL_OR_KEYWORD", None), ("b", "POSITIONAL_OR_KEYWORD", "1")]
    assert differences(base, base) == set()
    kw_b: list[Param] = [base[0], ("b", "KEYWORD_ONLY", "1"), ("c", "KEYWORD_ONLY", "2")]
    assert differences(kw_b, base) == set()
    assert differences([base[0]], base) == {"missing b"}
    assert differences([base[0], ("b", "POSITIONAL_OR_KEYWORD", "2")], base) == {"b default 2 != 1"}
    swapped = [base[1], base[0]]
    assert differences(swapped, base) == {"positional order ['b', 'a'] != ['a', 'b']"}
    assert differences(base, [*base, ("kw", "VAR_KEYWORD", None)]) == {"no **kwargs"}


if __name__ == "__main__":
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_text(json.dumps(timm_signatures(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {DATA}")
