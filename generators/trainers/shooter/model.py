"""The dual-stream shooter model: track encoder, cross-attention into video tokens, per-player pooling.

Data flow for a batch (``seeds/000_f9af72576160b65f.txt``)::

    heatmaps [B, T, H, W, 18] -> TrackEncoder -> track [B, T*H*W, d]                (queries)
    tokens   [B, t*H*W, D]    -> LayerNorm, Linear D->d (+ position on K) -> K, V     (video)
    fused = track + CrossAttention(Q=track, K, V)                                   [B, T*H*W, d]
    pooled[b, p] = mean of fused over the (frame, patch) cells where heatmaps[..., p] (O1-O5) is set
    logits[b, p] = MLP(pooled[b, p]); -inf where slot p's mask is empty              [B, 5]

Decisions the seed leaves open, and why:

- Track encoder: a per-patch linear stem of the 18 channels plus learned factorised positions
  (time, row, column), then ``depth`` ConvNeXt-style blocks (depthwise 3x3x3 convolution over
  (T, H, W), LayerNorm, a 2-layer MLP, residual). Convolutions keep it cheap enough for a CPU
  at 3,136 cells; the distance channel already gives every cell global context.
- Alignment of the two grids: with a tubelet of 2, VideoMAE gives ``t = T/2`` token frames.
  Tokens are never repeated and track features never pooled: attention logits get a learned
  locality term per head that favours the token at the query's own patch and the token frame
  covering the query's frame (see :class:`CrossAttention`), so the streams start aligned and
  the model learns how far to look. In ``attention="clip"`` (the seed's, the default) every
  query may attend to all ``t*H*W`` tokens; ``attention="frame"`` restricts the queries of
  frames ``s*k .. s*k+s-1`` (``s = T/t``) to the tokens of token frame ``k``, t times cheaper
  (the choice for a CPU at full size). Heatmaps and tokens must share H and W.
- The classifier MLP is shared by the five slots, so the scores do not depend on slot order.
- Player masks are ``heatmaps[..., 0:5] > 0.5``; a slot whose mask is empty over the whole clip
  gets a logit of -inf: a player not seen in the window cannot be predicted the shooter.
"""

from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import nn

from artifacts.errors import UsageError
from generators.models.weights import load_weights, restore, save_weights
from generators.trainers.shooter.config import CHANNELS, PLAYERS, DualStreamConfig, StreamSizes

__all__ = ["CHANNELS", "FORMAT", "PLAYERS", "CrossAttention", "DualStream", "DualStreamConfig", "StreamSizes", "TrackEncoder", "masked_pool", "player_masks"]

FORMAT = "dual-stream-shooter/1"


def _positions(frames: int, rows: int, cols: int, dim: int) -> tuple[nn.Parameter, nn.Parameter, nn.Parameter]:
    return (nn.Parameter(torch.randn(frames, dim) * 0.02), nn.Parameter(torch.randn(rows, dim) * 0.02), nn.Parameter(torch.randn(cols, dim) * 0.02))


def _grid_sum(t: torch.Tensor, r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """[T, d], [H, d], [W, d] -> [T*H*W, d], the factorised position of every cell."""
    return (t[:, None, None, :] + r[None, :, None, :] + c[None, None, :, :]).reshape(-1, t.shape[1])


class _Block(nn.Module):
    """Depthwise 3x3x3 convolution over (T, H, W), LayerNorm, MLP, residual (channels last)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(dim, dim, 3, padding=1, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, H, W, d]
        y = self.conv(x.permute(0, 4, 1, 2, 3)).permute(0, 2, 3, 4, 1)
        out: torch.Tensor = x + self.mlp(self.norm(y))
        return out


class TrackEncoder(nn.Module):
    """Heatmaps [B, T, H, W, C] to track features [B, T*H*W, d], cell order (t, i, j)."""

    def __init__(self, config: DualStreamConfig) -> None:
        super().__init__()
        d = config.d_track
        self.stem = nn.Linear(config.channels, d)
        self.pos_t, self.pos_h, self.pos_w = _positions(config.frames, config.grid, config.grid, d)
        self.blocks = nn.ModuleList(_Block(d) for _ in range(config.depth))
        self.norm = nn.LayerNorm(d)

    def forward(self, heatmaps: torch.Tensor) -> torch.Tensor:
        b, t, h, w, _ = heatmaps.shape
        x = self.stem(heatmaps) + _grid_sum(self.pos_t, self.pos_h, self.pos_w).reshape(t, h, w, -1)
        for block in self.blocks:
            x = block(x)
        out: torch.Tensor = self.norm(x).reshape(b, t * h * w, -1)
        return out


class CrossAttention(nn.Module):
    """Q = track features, K = V = video tokens projected from D to d; returns [B, T*H*W, d].

    Attention logits get a learned locality term per head,
    ``-alpha * ((i - i')**2 + (j - j')**2) - beta * (tau - k)**2``, between a query cell (frame
    f, row i, column j) and a token (token frame k, row i', column j'), where ``tau`` is the
    centre of frame f in token-frame units (``(f - (s - 1) / 2) / s``, ``s = T/t``): this is how
    the two grids are aligned in time. The term is a dot product of four extra query and key
    coordinates appended to every head, so attention stays one fused kernel call and no
    [T*H*W, t*H*W] bias is ever materialised. ``alpha`` and ``beta`` start so that a cell
    looks mostly at its own patch and train freely (zero recovers plain attention).
    """

    q_coords: torch.Tensor  # buffers, see __init__
    k_coords: torch.Tensor

    def __init__(self, config: DualStreamConfig) -> None:
        super().__init__()
        d = config.d_track
        self.heads = config.heads
        self.groups = config.token_frames if config.attention == "frame" else 1  # queries of one group see one token frame
        self.norm_q = nn.LayerNorm(d)
        self.norm_kv = nn.LayerNorm(config.token_dim)
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(config.token_dim, d)
        self.v = nn.Linear(config.token_dim, d)
        self.out = nn.Linear(d, d)
        self.pos_t, self.pos_h, self.pos_w = _positions(config.token_frames, config.grid, config.grid, d)
        self.alpha = nn.Parameter(torch.full((config.heads,), _softplus_inverse(2.0)))
        self.beta = nn.Parameter(torch.full((config.heads,), _softplus_inverse(1.0)))
        s = config.frames // config.token_frames
        frame_time = (torch.arange(config.frames, dtype=torch.float32) - (s - 1) / 2) / s
        # coordinates (time, row, column) of every query cell and every token, in patch units; not weights
        self.register_buffer("q_coords", _coords(frame_time, config.grid), persistent=False)
        self.register_buffer("k_coords", _coords(torch.arange(config.token_frames, dtype=torch.float32), config.grid), persistent=False)

    def _extras(self, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-head extra query [Nq, heads, 4] and key [Nk, heads, 4] coordinates (see the class doc)."""
        alpha = F.softplus(self.alpha)[None, :]  # [1, heads]
        beta = F.softplus(self.beta)[None, :]
        qc = self.q_coords[:, None, :]  # [Nq, 1, 3]
        kc = self.k_coords[:, None, :]
        q_extra = torch.stack([2 * beta * qc[..., 0], 2 * alpha * qc[..., 1], 2 * alpha * qc[..., 2], torch.ones_like(alpha * qc[..., 0])], dim=-1)
        k_extra = torch.stack([kc[..., 0].expand(-1, self.heads), kc[..., 1].expand(-1, self.heads), kc[..., 2].expand(-1, self.heads),
                               -(beta * kc[..., 0] ** 2 + alpha * (kc[..., 1] ** 2 + kc[..., 2] ** 2))], dim=-1)
        return q_extra / scale, k_extra  # the kernel multiplies every dot product by scale

    def _qkv(self, track: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
        """q, k [B', heads, n, dh + 4], v [B', heads, n, dh] (B' = B * groups) and the logit scale."""
        b, nq, d = track.shape
        dh = d // self.heads
        scale = 1.0 / math.sqrt(dh)
        kv = self.norm_kv(tokens.to(track.dtype))
        q = self.q(self.norm_q(track)).reshape(b, nq, self.heads, dh)
        k = (self.k(kv) + _grid_sum(self.pos_t, self.pos_h, self.pos_w)).reshape(b, -1, self.heads, dh)
        v = self.v(kv).reshape(b, -1, self.heads, dh)
        q_extra, k_extra = self._extras(scale)
        q = torch.cat([q, q_extra.expand(b, -1, -1, -1)], dim=-1)
        k = torch.cat([k, k_extra.expand(b, -1, -1, -1)], dim=-1)

        def split(x: torch.Tensor) -> torch.Tensor:  # [B, N, heads, e] -> [B * groups, heads, N / groups, e]
            return x.reshape(b * self.groups, x.shape[1] // self.groups, self.heads, x.shape[-1]).transpose(1, 2)

        return split(q), split(k), split(v), scale

    def forward(self, track: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        b, nq, d = track.shape
        q, k, v, scale = self._qkv(track, tokens)
        attended = F.scaled_dot_product_attention(q, k, v, scale=scale)  # [B', heads, n, dh]
        out: torch.Tensor = self.out(attended.transpose(1, 2).reshape(b, nq, d))
        return out

    def weights(self, track: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Attention weights [B, heads, T*H*W, t*H*W] (zero outside a query's token frame in frame
        mode), for pictures. Materialises the whole matrix: a few shots at a time."""
        b, nq, _ = track.shape
        q, k, _v, scale = self._qkv(track, tokens)
        a = torch.softmax(q @ k.transpose(-1, -2) * scale, dim=-1)
        if self.groups == 1:
            return a
        g, n_q, n_k = self.groups, a.shape[2], a.shape[3]
        a = a.reshape(b, g, self.heads, n_q, n_k)
        full = a.new_zeros(b, self.heads, nq, g * n_k)
        for i in range(g):  # one block per token frame: a handful, not per patch
            full[:, :, i * n_q:(i + 1) * n_q, i * n_k:(i + 1) * n_k] = a[:, i]
        return full


def _softplus_inverse(y: float) -> float:
    return math.log(math.expm1(y))


def _coords(times: torch.Tensor, grid: int) -> torch.Tensor:
    """[len(times) * grid * grid, 3] (time, row, column) in (t, i, j) cell order."""
    r = torch.arange(grid, dtype=torch.float32)
    t, i, j = torch.meshgrid(times, r, r, indexing="ij")
    return torch.stack([t, i, j], dim=-1).reshape(-1, 3)


def player_masks(heatmaps: torch.Tensor) -> torch.Tensor:
    """[B, T, H, W, C] -> [B, T*H*W, 5] float masks of O1-O5 (channels 0-4 above 0.5)."""
    b = heatmaps.shape[0]
    return (heatmaps[..., :PLAYERS] > 0.5).to(heatmaps.dtype).reshape(b, -1, PLAYERS)


def masked_pool(features: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-player mean of ``features`` [B, N, d] over the cells of ``masks`` [B, N, P].

    Returns the pooled features [B, P, d] (zero for an empty mask) and the cell counts [B, P].
    A feature outside a player's mask never reaches that player's pooled vector.
    """
    counts = masks.sum(dim=1)
    pooled = torch.einsum("bnp,bnd->bpd", masks, features) / counts.clamp(min=1.0)[..., None]
    return pooled, counts


class DualStream(nn.Module):
    """The whole model. ``forward(heatmaps, tokens)`` gives shooter logits [B, 5]."""

    def __init__(self, config: DualStreamConfig) -> None:
        super().__init__()
        self.config = config
        self.track = TrackEncoder(config)
        self.cross = CrossAttention(config)
        self.head = nn.Sequential(nn.LayerNorm(config.d_track), nn.Linear(config.d_track, config.mlp_hidden), nn.GELU(), nn.Linear(config.mlp_hidden, 1))

    def check_inputs(self, heatmaps: torch.Tensor, tokens: torch.Tensor, token_grid: tuple[int, int, int] | None = None) -> None:
        """Raise :class:`UsageError` unless the shapes are the ones this model was built for."""
        c = self.config
        want_h = (c.frames, c.grid, c.grid, c.channels)
        if heatmaps.dim() != 5 or tuple(heatmaps.shape[1:]) != want_h:
            raise UsageError("heatmaps of shape", tuple(heatmaps.shape), f"do not match the model's [B, {', '.join(map(str, want_h))}]",
                             "train a model on heatmaps of this layout")
        if token_grid is not None and tuple(token_grid) != c.token_grid:
            raise UsageError("token grid", tuple(token_grid), f"does not match the model's {c.token_grid} (heatmaps and tokens must share H and W)",
                             "use features of the VideoMAE this model was trained with")
        want_t = (heatmaps.shape[0], c.tokens, c.token_dim)
        if tuple(tokens.shape) != want_t:
            raise UsageError("video tokens of shape", tuple(tokens.shape), f"do not match the model's {list(want_t)}",
                             "use features of the VideoMAE this model was trained with")

    def fuse(self, heatmaps: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Fused features [B, T*H*W, d] = track + cross-attended video (the residual keeps the track)."""
        track = self.track(heatmaps)
        fused: torch.Tensor = track + self.cross(track, tokens)
        return fused

    def classify(self, fused: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Logits [B, 5] from fused features and player masks [B, N, 5]; -inf for empty masks."""
        pooled, counts = masked_pool(fused, masks)
        logits: torch.Tensor = self.head(pooled).squeeze(-1)
        return logits.masked_fill(counts == 0, float("-inf"))

    def forward(self, heatmaps: torch.Tensor, tokens: torch.Tensor, token_grid: tuple[int, int, int] | None = None) -> torch.Tensor:
        self.check_inputs(heatmaps, tokens, token_grid)
        return self.classify(self.fuse(heatmaps, tokens), player_masks(heatmaps))

    def attention(self, heatmaps: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Cross-attention weights [B, heads, T*H*W, t*H*W] for visualisation."""
        self.check_inputs(heatmaps, tokens)
        return self.cross.weights(self.track(heatmaps), tokens)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the weights and the config (safetensors, one canonical metadata entry)."""
        save_weights(path, self, FORMAT, self.config)

    @classmethod
    def from_weights(cls, path: str | os.PathLike[str]) -> DualStream:
        """Rebuild the model a :meth:`save` wrote (in eval mode, on the CPU)."""
        config, tensors = load_weights(path, FORMAT, DualStreamConfig)
        model = cls(config)
        restore(model, tensors, path)
        model.eval()
        return model
