"""Byte n-gram language models scored per document in numba (CoLoR-Filter, perplexity filter).

The model is :class:`thresher.evaluate.ngram.KneserNeyLM` (interpolated Kneser-Ney over
UTF-8 bytes), fitted with numpy as ``thresher eval`` fits it. Scoring a corpus is the hot
path, so the fitted model is frozen into open-addressing hash tables (exact int64 keys, no
collisions): per order, ``alpha(h, w) = max(c(hw) - D, 0) / c(h)`` keyed by the n-gram and
``gamma(h) = D * N1+(h.) / c(h)`` keyed by its context. A numba kernel walks Arrow's string
buffers directly and returns, per document, the summed log-probability of its bytes and the
number of bytes: no per-token Python, no copies of the text.

Every document is scored on its own, its context starting with ``order - 1`` separators, so
a score never depends on the batch around it; the training stream pads each document the
same way.
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pyarrow as pa

from thresher.evaluate.ngram import BASE, SEP, KneserNeyLM
from thresher.text.ngrams import arrow_buffers

_EMPTY = np.int64(-1)  # codes are >= 0


def training_stream(texts: pa.Array, order: int, max_bytes: int | None = None) -> np.ndarray:
    """The documents' bytes as one int64 stream, each preceded by ``order - 1`` separators
    (the context a document is scored in); the first ``max_bytes`` bytes or so."""
    offsets, data = arrow_buffers(texts)
    if max_bytes is not None and len(offsets) > 1:
        # whole documents while the budget lasts (at least one)
        ends = offsets[1:] - offsets[0]
        n = max(1, int(np.searchsorted(ends, max_bytes, side="right")))
        offsets = offsets[: n + 1]
    body = data[offsets[0] : offsets[-1]].astype(np.int64)
    starts = np.repeat(offsets[:-1] - offsets[0], max(1, order - 1))
    return np.insert(body, starts, SEP)


@nb.njit(inline="always", cache=True)
def _slot(key, mask):
    h = np.uint64(key)
    h ^= h >> np.uint64(31)
    h *= np.uint64(0x9E3779B97F4A7C15)
    h ^= h >> np.uint64(29)
    return np.int64(h & np.uint64(mask))


@nb.njit(cache=True)
def _build(keys, packed, table, start, mask):
    for i in range(len(keys)):
        j = _slot(keys[i], mask)
        while table[2 * (start + j)] != -1:
            j = (j + 1) & mask
        table[2 * (start + j)] = keys[i]
        table[2 * (start + j) + 1] = packed[i]


@nb.njit(inline="always", cache=True)
def _find(table, start, mask, key):
    """The record index of ``key`` in one order's part of ``table``, or -1."""
    j = _slot(key, mask)
    while True:
        k = table[2 * (start + j)]
        if k == key:
            return start + j
        if k == -1:
            return -1
        j = (j + 1) & mask


@nb.njit(inline="always", cache=True)
def _powers(order):
    powers = np.empty(order, np.int64)
    powers[0] = 1
    for k in range(1, order):
        powers[k] = powers[k - 1] * 257
    return powers


@nb.njit(inline="always", cache=True)
def _doc_start(order, hist, prev, table, starts, masks):
    """Context of a document's first byte: order - 1 separators."""
    hist[:] = 256
    code = np.int64(0)
    prev[:] = -1
    for k in range(1, order):  # the k-gram of separators ending just before the document
        code = code * 257 + 256
        prev[k - 1] = _find(table, starts[k - 1], masks[k - 1], code)


@nb.njit(inline="always", cache=True)
def _prob(tok, hist, powers, order, prev, cur, table, vals, starts, masks, gamma0):
    """P(tok | history), interpolated Kneser-Ney. ``prev[k-1]``: the slot of the k-gram
    ending at the previous byte (the context of order k+1); fills ``cur`` for this byte.
    N-grams are suffix-closed, so once one order misses, every higher one misses."""
    p = 1.0 / 257.0
    code = tok
    alive = True
    for k in range(1, order + 1):
        if k > 1:
            code += hist[k - 2] * powers[k - 1]
        slot = _find(table, starts[k - 1], masks[k - 1], code) if alive else -1
        if slot < 0:
            alive = False
        cur[k - 1] = slot
        if k == 1:
            gam = gamma0
        else:
            c = prev[k - 2]
            gam = vals[4 * c + 3] if c >= 0 else -1.0
        if gam >= 0.0:
            alpha = vals[4 * slot + 2] if slot >= 0 else 0.0
            p = alpha + gam * p
    return p


@nb.njit(inline="always", cache=True)
def _push(hist, tok, prev, cur):
    for j in range(len(hist) - 1, 0, -1):
        hist[j] = hist[j - 1]
    hist[0] = tok
    prev[:] = cur


@nb.njit(cache=True, nogil=True)
def _score_kernel(offsets, data, order, table, starts, masks, gamma0, out_logp):
    vals = table.view(np.float32)  # a record's alpha and gamma: float32 words 2 and 3
    hist = np.empty(max(order - 1, 1), np.int64)  # hist[0] = the previous byte
    prev = np.empty(order, np.int64)
    cur = np.empty(order, np.int64)
    powers = _powers(order)
    for d in range(len(offsets) - 1):
        _doc_start(order, hist, prev, table, starts, masks)
        total = 0.0
        prod = 1.0  # log of a running product: one log per ~100 bytes, not one per byte
        for i in range(offsets[d], offsets[d + 1]):
            tok = np.int64(data[i])
            prod *= _prob(tok, hist, powers, order, prev, cur, table, vals, starts, masks, gamma0)
            if prod < 1e-250:
                total += np.log(prod)
                prod = 1.0
            _push(hist, tok, prev, cur)
        out_logp[d] = total + np.log(prod)


@nb.njit(cache=True, nogil=True)
def _mix_kernel(
    offsets, data, order, weight,
    table, starts, masks, gamma0,
    otable, ostarts, omasks, ogamma0,
    out_base, out_mix,
):  # fmt: skip
    """Per document: summed log P_base and log((1 - weight) P_base + weight P_other)."""
    vals = table.view(np.float32)
    ovals = otable.view(np.float32)
    hist = np.empty(max(order - 1, 1), np.int64)
    prev = np.empty(order, np.int64)
    cur = np.empty(order, np.int64)
    oprev = np.empty(order, np.int64)
    ocur = np.empty(order, np.int64)
    powers = _powers(order)
    for d in range(len(offsets) - 1):
        _doc_start(order, hist, prev, table, starts, masks)
        _doc_start(order, hist, oprev, otable, ostarts, omasks)
        base = 0.0
        mix = 0.0
        pbase = 1.0  # running products, logged when small (see _score_kernel)
        pmix = 1.0
        for i in range(offsets[d], offsets[d + 1]):
            tok = np.int64(data[i])
            pb = _prob(tok, hist, powers, order, prev, cur, table, vals, starts, masks, gamma0)
            po = _prob(
                tok, hist, powers, order, oprev, ocur, otable, ovals, ostarts, omasks, ogamma0
            )
            pbase *= pb
            pmix *= (1.0 - weight) * pb + weight * po
            if pbase < 1e-250 or pmix < 1e-250:
                base += np.log(pbase)
                mix += np.log(pmix)
                pbase = 1.0
                pmix = 1.0
            oprev[:] = ocur
            _push(hist, tok, prev, cur)
        out_base[d] = base + np.log(pbase)
        out_mix[d] = mix + np.log(pmix)


def _tables(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """One open-addressing table per order, concatenated: 16-byte records (int64 key, float32
    alpha, float32 gamma; one cache line per probe), then start and mask of each order.
    Load factor <= 0.5."""
    sizes = [1 << max(4, int(np.ceil(np.log2(2 * max(1, len(k)))))) for k, _, _ in parts]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    table = np.zeros(2 * int(sum(sizes)), np.int64)
    table[0::2] = _EMPTY
    for (keys, alpha, gamma), s, size in zip(parts, starts, sizes, strict=True):
        packed = np.stack([alpha, gamma], axis=1).astype(np.float32).view(np.int64)[:, 0]
        _build(keys.astype(np.int64), np.ascontiguousarray(packed), table, int(s), size - 1)
    return table, starts, np.array(sizes, np.int64) - 1


class ByteLM:
    """A fitted byte Kneser-Ney model, frozen for fast per-document scoring (picklable)."""

    def __init__(self, lm: KneserNeyLM) -> None:
        self.order = lm.order
        orders = lm.orders
        alphas = []
        for k, o in enumerate(orders, start=1):
            ctx_of = o.grams // BASE if k > 1 else np.zeros(len(o.grams), np.int64)
            alphas.append(
                np.maximum(o.counts - o.discount, 0.0) / o.ctx_total[np.searchsorted(o.ctx, ctx_of)]
            )
        gammas = [o.discount * o.ctx_types / o.ctx_total for o in orders]
        parts = []
        for k in range(1, self.order + 1):
            # the k-grams, and the contexts of order k+1 (k-grams too): one key set
            grams, alpha = orders[k - 1].grams, alphas[k - 1]
            if k < self.order:
                ctx = orders[k].ctx
                keys = np.union1d(grams, ctx)
                a = np.zeros(len(keys))
                a[np.searchsorted(keys, grams)] = alpha
                g = np.full(len(keys), -1.0)
                g[np.searchsorted(keys, ctx)] = gammas[k]
            else:
                keys, a, g = grams, alpha, np.full(len(grams), -1.0)
            parts.append((keys, a, g))
        self._t = _tables(parts)
        self._gamma0 = float(gammas[0][0])

    @classmethod
    def fit(cls, texts: pa.Array, order: int = 5, max_bytes: int | None = None) -> ByteLM:
        """Fit on ``texts`` (their first ``max_bytes`` bytes, whole documents)."""
        return cls(KneserNeyLM(order).fit(training_stream(texts, order, max_bytes)))

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._t)

    def doc_logprob(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Per document: summed natural-log probability of its bytes, and its byte count."""
        offsets, data = arrow_buffers(texts)
        logp = np.zeros(len(offsets) - 1, np.float64)
        if len(logp):
            _score_kernel(offsets, data, self.order, *self._t, self._gamma0, logp)
        return logp, np.diff(offsets)

    def mix_logprob(
        self, other: ByteLM, weight: float, texts: pa.Array
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per document: summed log-probability under this model, under the mixture
        ``(1 - weight) * self + weight * other`` (token by token), and the byte count."""
        if other.order != self.order:
            raise ValueError("mixed models must have the same order")
        offsets, data = arrow_buffers(texts)
        base = np.zeros(len(offsets) - 1, np.float64)
        mix = np.zeros(len(offsets) - 1, np.float64)
        if len(base):
            _mix_kernel(
                offsets, data, self.order, float(weight),
                *self._t, self._gamma0, *other._t, other._gamma0, base, mix,
            )  # fmt: skip
        return base, mix, np.diff(offsets)

    def mean_loss(self, texts: pa.Array) -> np.ndarray:
        """Per document: mean negative log-likelihood in nats per byte (NaN when empty)."""
        logp, count = self.doc_logprob(texts)
        with np.errstate(invalid="ignore", divide="ignore"):
            return -logp / count
