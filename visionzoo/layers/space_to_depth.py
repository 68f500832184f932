"""Space-to-depth and depth-to-space: lossless reshapes between spatial blocks and channels.

TResNet's stem folds each 4x4 pixel block into channels (a stride-4 downsample that keeps every
value) before its first conv.
"""

import torch
from torch import nn

__all__ = ["DepthToSpace", "SpaceToDepth"]


class SpaceToDepth(nn.Module):
    """``(N, C, H, W)`` -> ``(N, C * bs * bs, H / bs, W / bs)``: output channel
    ``(i * bs + j) * C + c`` at ``(h, w)`` holds input ``(c, h * bs + i, w * bs + j)``.

    Only ``block_size=4`` (TResNet's, and timm's only one).
    """

    bs: torch.jit.Final[int]

    def __init__(self, block_size: int = 4) -> None:
        super().__init__()
        if block_size != 4:
            raise ValueError(f"SpaceToDepth supports only block_size=4, got {block_size}")
        self.bs = block_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.size()
        x = x.view(n, c, h // self.bs, self.bs, w // self.bs, self.bs)
        x = x.permute(0, 3, 5, 1, 2, 4).contiguous()  # (n, i, j, c, h', w')
        return x.view(n, c * self.bs * self.bs, h // self.bs, w // self.bs)


class DepthToSpace(nn.Module):
    """The inverse of :class:`SpaceToDepth` (of any ``block_size``)."""

    def __init__(self, block_size: int) -> None:
        super().__init__()
        self.bs = block_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.size()
        x = x.view(n, self.bs, self.bs, c // (self.bs**2), h, w)
        x = x.permute(0, 3, 4, 1, 5, 2).contiguous()  # (n, c', h, i, w, j)
        return x.view(n, c // (self.bs**2), h * self.bs, w * self.bs)
