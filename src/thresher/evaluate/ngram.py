"""Interpolated Kneser-Ney byte n-gram language model, vectorized with numpy.

The fallback proxy model when torch is absent (and a fast second opinion when
it is not). N-grams of bytes are packed into int64 codes (base 257: 256 bytes
and a document separator), counted with ``np.unique``; probabilities of a
held-out stream are computed for all positions at once, order by order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thresher.errors import ConfigError

SEP = 256
BASE = 257  # 256 byte values + separator


def encode(texts: list[str], max_tokens: int | None = None) -> np.ndarray:
    """Texts as one int64 stream of UTF-8 bytes, each document preceded by SEP."""
    parts = []
    n = 0
    for t in texts:
        b = np.frombuffer(t.encode("utf-8", "replace"), dtype=np.uint8).astype(np.int64)
        if max_tokens is not None and n + 1 + len(b) > max_tokens:
            b = b[: max(0, max_tokens - n - 1)]
        parts.append(np.array([SEP], np.int64))
        parts.append(b)
        n += 1 + len(b)
        if max_tokens is not None and n >= max_tokens:
            break
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def _codes(stream: np.ndarray, k: int) -> np.ndarray:
    """Codes of the k-grams ending at positions k-1 .. len-1."""
    c = stream.copy()
    for j in range(1, k):
        c = c[:-1] * BASE + stream[j:]
    return c


@dataclass
class _Order:
    grams: np.ndarray  # sorted unique codes
    counts: np.ndarray  # counts (highest order) or continuation counts
    ctx: np.ndarray  # sorted unique context codes
    ctx_total: np.ndarray
    ctx_types: np.ndarray
    discount: float


class KneserNeyLM:
    """Byte-level interpolated Kneser-Ney of order ``order`` (at most 7: codes fit int64)."""

    def __init__(self, order: int = 5) -> None:
        if not 1 <= order <= 7:
            raise ConfigError("order must be between 1 and 7")
        self.order = order
        self.orders: list[_Order] = []

    def fit(self, stream: np.ndarray) -> KneserNeyLM:
        n = self.order
        padded = np.concatenate([np.full(n - 1, SEP, np.int64), stream])
        grams: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        g, c = np.unique(_codes(padded, n), return_counts=True)
        grams[n] = (g, c)
        for k in range(n - 1, 0, -1):
            higher = grams[k + 1][0]
            g, c = np.unique(higher % (BASE**k), return_counts=True)
            grams[k] = (g, c)
        self.orders = []
        for k in range(1, n + 1):
            g, c = grams[k]
            ctx_codes = g // BASE if k > 1 else np.zeros(len(g), np.int64)
            ctx, inv = np.unique(ctx_codes, return_inverse=True)
            total = np.bincount(inv, weights=c).astype(np.float64)
            types = np.bincount(inv).astype(np.float64)
            n1 = int((c == 1).sum())
            n2 = int((c == 2).sum())
            d = n1 / (n1 + 2 * n2) if n1 + 2 * n2 > 0 else 0.75
            self.orders.append(
                _Order(g, c.astype(np.float64), ctx, total, types, float(np.clip(d, 0.05, 0.95)))
            )
        return self

    def log_probs(self, stream: np.ndarray) -> np.ndarray:
        """Natural-log probability of every token of ``stream`` but the first (a separator)."""
        n = self.order
        padded = np.concatenate([np.full(n - 1, SEP, np.int64), stream])
        m = len(stream)
        p = np.full(m, 1.0 / BASE)
        for k, o in enumerate(self.orders, start=1):
            q = _codes(padded, k)[n - k :]  # k-grams ending at each stream position
            pos = np.searchsorted(o.grams, q)
            pos = np.minimum(pos, len(o.grams) - 1)
            cnt = np.where(o.grams[pos] == q, o.counts[pos], 0.0)
            cq = q // BASE if k > 1 else np.zeros(m, np.int64)
            cpos = np.minimum(np.searchsorted(o.ctx, cq), len(o.ctx) - 1)
            hit = o.ctx[cpos] == cq
            tot = np.where(hit, o.ctx_total[cpos], 0.0)
            types = np.where(hit, o.ctx_types[cpos], 0.0)
            safe = np.maximum(tot, 1.0)
            mixed = np.maximum(cnt - o.discount, 0.0) / safe + o.discount * types / safe * p
            p = np.where(tot > 0, mixed, p)
        return np.log(p[1:])

    def cross_entropy(self, stream: np.ndarray) -> float:
        """Mean negative log-likelihood in nats per token."""
        return float(-self.log_probs(stream).mean())
