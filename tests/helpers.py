"""Test helpers: weights files and a loopback HTTP server the tests start themselves."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors.torch import save_file

# Architectures with unpadded ("valid") convs, and the smallest input side each accepts. Their
# feature maps are a few pixels smaller than ceil(size / reduction), so a level's reduction r is
# checked by how its width grows instead: 32 more input pixels give 32 / r more.
UNPADDED_MIN_SIZE = {"inception_v3": 75}


def input_side(name: str, size: int) -> int:
    """``size`` raised to the smallest input side ``name`` accepts."""
    return max(size, UNPADDED_MIN_SIZE.get(name.partition(".")[0], 0))


def assert_feature_widths(
    widths: Sequence[int],
    reductions: Sequence[int],
    name: str,
    size: int,
    widths_at: Callable[[int], list[int]],
) -> None:
    """Feature-map ``widths`` at input side ``size`` fit the levels' ``reductions``;
    ``widths_at(side)`` gives the widths at another input side."""
    widths = list(widths)
    assert len(widths) == len(reductions), (widths, reductions)
    if name.partition(".")[0] in UNPADDED_MIN_SIZE:
        grown = widths_at(size + 32)
        assert [g - w for g, w in zip(grown, widths)] == [32 // r for r in reductions], (widths, grown)
    else:  # padded convs give ceil(size / r), flooring pools (DenseNet's transitions) floor(size / r)
        assert all(w in (size // r, -(-size // r)) for w, r in zip(widths, reductions)), (widths, reductions)


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
