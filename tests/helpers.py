"""Test helpers: weights files and a loopback HTTP server the tests start themselves; norms with
trained-looking statistics for the re-parameterisation tests."""

from __future__ import annotations

import hashlib
import http.server
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors.torch import save_file


def has_classifier(name: str) -> bool:
    """Whether ``name``'s model class has a classifier, read from the class without building it:
    False for a headless feature encoder (``VisionModel.has_classifier``, MobileNet-V5's Gemma
    encoder), which refuses a ``num_classes`` other than 0; a bare entrypoint is taken to have one."""
    import visionzoo

    recipe = visionzoo.registry.get_recipe(name)
    return bool(getattr(getattr(recipe, "model_cls", None), "has_classifier", True))


def classes_kwargs(name: str, num_classes: int) -> dict[str, int]:
    """``{"num_classes": num_classes}``, or nothing for a model without a classifier."""
    return {"num_classes": num_classes} if has_classifier(name) else {}


def min_input_side(model: torch.nn.Module) -> int:
    """The smallest input side ``model`` takes (0: any).

    Read from the pretrained cfg's ``min_input_size`` where it has one, else from the model's own
    ``min_input_size`` attribute: a model with unpadded ("valid") convs, such as Inception-v3,
    states its minimum there because its cfg must equal timm's field by field and timm's has none.
    """
    cfg = getattr(model, "pretrained_cfg", None)
    sides = [cfg.min_input_size[-1]] if cfg is not None and cfg.min_input_size else []
    declared = getattr(model, "min_input_size", None)
    if declared:
        sides.append(declared[-1])
    return max(sides, default=0)


def token_output(model: torch.nn.Module) -> bool:
    """Whether ``forward_features`` gives tokens ``(B, N, C)``: a token model, or a model whose
    trunk runs on tokens (``output_fmt='NLC'``: LeViT's linear layout)."""
    from visionzoo.model import TokenModel

    return isinstance(model, TokenModel) or getattr(model, "output_fmt", "NCHW") == "NLC"


def features_close(a: object, b: object, **tol: float) -> bool:
    """``torch.allclose`` over ``forward_features`` outputs: one tensor, or the list a model with
    ``features_are_list`` returns (EfficientViM), element by element."""
    if isinstance(b, (list, tuple)):
        return (
            isinstance(a, (list, tuple))
            and len(a) == len(b)
            and all(torch.allclose(x, y, **tol) for x, y in zip(a, b))
        )
    return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.allclose(a, b, **tol)


def list_features_width(feats: Sequence[torch.Tensor], token: bool) -> int:
    """The pooled width of the list a model with ``features_are_list`` returns: the sum of its
    items' widths where the head concatenates them (EfficientViM's ``(B, C_i, L_i)``), their one
    width where it fuses items of equal width (CoaT's scale tokens, ``(B, N_i, C)`` with ``token``)."""
    widths = [t.shape[-1] if token else t.shape[1] for t in feats]
    return widths[0] if token and len(set(widths)) == 1 else sum(widths)


def features_sum(out: object) -> torch.Tensor:
    """A scalar over a forward's output (one tensor or a list of them), for a backward pass."""
    if isinstance(out, (list, tuple)):
        return sum((t.square().sum() for t in out), torch.zeros(()))
    assert isinstance(out, torch.Tensor), type(out)
    return out.square().sum()


def as_nchw(t: torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
    """A map of ``model``'s own layout (``output_fmt``: channels-last for MambaOut) as NCHW."""
    return t.permute(0, 3, 1, 2) if getattr(model, "output_fmt", "NCHW") == "NHWC" else t


def placed_levels(model: torch.nn.Module) -> list[int]:
    """Indices of the feature levels that name their module. timm lists a level without one
    (``module=''``: TResNet's stem level, stated at reduction 2 where its map is at 4), which we
    keep as timm's: ``forward_intermediates`` returns it, ``features_only`` cannot tap it, and its
    reduction is not the map's; so the size and tap checks read the placed levels."""
    return [i for i, info in enumerate(model.feature_info) if info["module"]]


def input_multiple(model: torch.nn.Module) -> int:
    """What an input side must be a multiple of (1: anything). A model whose stem folds pixel
    blocks into channels (TResNet's space-to-depth), or whose branches meet again after a
    different number of halvings (HRNet's fusions, DLA's aggregation nodes), states it in its own
    ``input_multiple`` attribute, as timm's configs have no field for it."""
    return int(getattr(model, "input_multiple", 1))


def bn_eval(x: torch.Tensor, bn: torch.nn.Module) -> torch.Tensor:
    """Eval-mode batch norm of ``(B, C, H, W)`` written out, for direct computations of a block."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return (x - bn.running_mean[:, None, None]) * scale[:, None, None] + bn.bias[:, None, None]


def input_side(model: torch.nn.Module, size: int) -> int:
    """``size`` raised to the smallest input side ``model`` accepts (its cfg's input size where the
    model takes that size only), then to a multiple of its :func:`input_multiple`."""
    cfg = getattr(model, "pretrained_cfg", None)
    if cfg is not None and cfg.fixed_input_size:
        return cfg.input_size[-1]
    step = input_multiple(model)
    return -(-max(size, min_input_side(model)) // step) * step


def assert_feature_widths(
    widths: Sequence[int],
    reductions: Sequence[int],
    model: torch.nn.Module,
    size: int,
    widths_at: Callable[[int], list[int]],
) -> None:
    """Feature-map ``widths`` at input side ``size`` fit the levels' ``reductions``;
    ``widths_at(side)`` gives the widths at another input side.

    A model that pads its convs has maps ceil(size / r) wide (floor(size / r) after flooring
    pools, as DenseNet's transitions). One with a minimum input size may have unpadded convs and
    maps a few pixels smaller: then a level's reduction r is checked by how its width grows
    instead, 32 more input pixels giving 32 / r more. (A padded model with a minimum for another
    reason, such as attention over fixed maps or blocks, may take no other size.)
    """
    widths = list(widths)
    assert len(widths) == len(reductions), (widths, reductions)
    padded = all(w in (size // r, -(-size // r)) for w, r in zip(widths, reductions))
    cfg = getattr(model, "pretrained_cfg", None)
    if min_input_side(model) and not padded:
        grown = widths_at(size + 32)
        assert [g - w for g, w in zip(grown, widths)] == [32 // r for r in reductions], (widths, grown)
    elif cfg is not None and cfg.fixed_input_size and not padded:
        # a fixed-size model with an unpadded patch embedding (PiT: 16 px patches at stride 8)
        # has maps a pixel short of size / r, and takes no other size to grow them at
        fits = all(size // r - 1 <= w <= -(-size // r) for w, r in zip(widths, reductions))
        assert fits, (widths, reductions)
    else:
        assert padded, (widths, reductions)


def random_state_dict(name: str, **kwargs) -> dict[str, torch.Tensor]:
    """Random weights for ``name`` (built by visionzoo on meta, filled with random values)."""
    from timm_oracle import materialize_random

    import visionzoo

    model = visionzoo.create_model(name, device="meta", **kwargs)
    return {k: v.clone() for k, v in materialize_random(model).state_dict().items()}


def write_safetensors(state_dict: dict[str, torch.Tensor], path: Path) -> Path:
    save_file({k: v.contiguous() for k, v in state_dict.items()}, str(path))
    return path


def hashed_name(path: Path, stem: str, suffix: str = ".pth") -> str:
    """torch.hub style name carrying the sha256 prefix of the file's bytes."""
    return f"{stem}-{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}{suffix}"


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[bytes, str]] = {}
    hits: list[str] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body, mode = self.routes.get(self.path, (b"", "missing"))
        if mode == "missing":
            self.send_error(404)
            return
        self.send_response(200)
        if mode in ("nolength", "nolength-cut", "drip"):  # length unknown: the body ends at close
            self.end_headers()
            if mode == "drip":  # a slow server: one byte every 50 ms, for up to 20 s
                for i in range(400):
                    try:
                        self.wfile.write(body[i : i + 1] or b"\0")
                        self.wfile.flush()
                    except OSError:  # the client gave up
                        break
                    time.sleep(0.05)
            else:
                self.wfile.write(body if mode == "nolength" else body[: len(body) // 2])
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "cut":  # promise the whole file, send half, hang up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def http_server() -> Iterator[tuple[str, dict[str, tuple[bytes, str]], list[str]]]:
    """A loopback server: yields (base URL, routes {path: (bytes, mode)}, hit log).

    Modes: 'ok'; 'cut' (Content-Length promised, half sent); 'nolength' (no Content-Length, all
    sent); 'nolength-cut' (no Content-Length, half sent, closed); 'drip' (a byte every 50 ms)."""
    handler = type("Handler", (_Handler,), {"routes": {}, "hits": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", handler.routes, handler.hits
    finally:
        server.shutdown()
        server.server_close()


def lay_out_hub_cache(cache_dir: Path, repo_id: str, files: dict[str, bytes]) -> Path:
    """Write a Hugging Face cache entry for ``repo_id`` the way huggingface_hub stores it."""
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    repo = cache_dir / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for name, data in files.items():
        (snapshot / name).write_bytes(data)
    return snapshot


MATCH_PREV_GROUP = 99999  # a matcher suffix that folds the match into the group before it (timm's value)


def _ordinals(matcher: dict | Callable[[str], object]) -> Callable[[str], tuple[float, ...]]:
    """name -> its group ordinal under ``matcher``; ``(inf,)`` where nothing matches."""
    if callable(matcher):  # timm's Inception-v3 gives a function: name -> ordinal

        def by_function(name: str) -> tuple[float, ...]:
            found = matcher(name)
            return tuple(float(v) for v in found) if isinstance(found, (tuple, list)) else (float(found),)

        return by_function
    compiled = []
    for index, spec in enumerate(matcher.values()):
        if spec is None:
            continue
        for pattern, suffix in [(spec, None)] if isinstance(spec, str) else spec:
            compiled.append((re.compile(pattern), index, suffix))

    def by_regex(name: str) -> tuple[float, ...]:
        for pattern, index, suffix in compiled:
            found = pattern.match(name)
            if found:
                numbers = [g for g in found.groups() if g is not None]
                return tuple(float(v) for v in (index, *numbers, *(suffix or ())))
        return (math.inf,)

    return by_regex


def parameter_groups(model: torch.nn.Module, matcher: dict | Callable[[str], object]) -> list[list[str]]:
    """Parameter names grouped by ``model.group_matcher()``, in group order.

    The semantics of timm's ``group_parameters`` (layer-wise LR decay): the matcher's keys are
    ordered groups, each a regex or a list of ``(regex, suffix)``; a name's ordinal is (key index,
    the regex's captured numbers, suffix); a suffix ending in ``MATCH_PREV_GROUP`` joins the group
    before it; a name no regex matches gets the last ordinal (the head).
    """
    ordinal = _ordinals(matcher)
    by_ordinal: dict[tuple[float, ...], list[str]] = {}
    for name, _ in model.named_parameters():
        by_ordinal.setdefault(ordinal(name), []).append(name)
    groups: list[list[str]] = []
    for key in sorted(by_ordinal):
        if groups and key[-1] == MATCH_PREV_GROUP:
            groups[-1].extend(by_ordinal[key])
        else:
            groups.append(list(by_ordinal[key]))
    return groups


def unmatched_parameters(model: torch.nn.Module, matcher: dict | Callable[[str], object]) -> list[str]:
    """Parameter names the matcher leaves out (timm puts them in the head's group)."""
    ordinal = _ordinals(matcher)
    return [n for n, _ in model.named_parameters() if ordinal(n) == (math.inf,)]


def with_trained_norms(block: torch.nn.Module, sample: Callable[[int], torch.Tensor]) -> torch.nn.Module:
    """``block`` in eval mode with random norm affines and running statistics moved away from
    their init by a few train-mode passes (momentum 0.5) on ``sample(seed)`` for seeds 0..2, so
    that a fusion folding them is actually exercised."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in block.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.weight is not None:
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen))
                m.momentum = 0.5
        block.train()
        for seed in range(3):
            block(sample(seed))
    return block.eval()
