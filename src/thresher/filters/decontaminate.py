"""Decontamination: drop (or excise) raw documents that share word n-grams with eval sets.

What GPT-3, OLMo and datatrove's ``decont`` filter do: every eval item is cut into word
n-grams (default 13) after normalization (NFKC, lowercase, punctuation dropped); a raw
document holding any of them is contaminated. An eval item shorter than n words is
matched whole (its full word sequence), so a short answer is not silently ignored.

Words are runs of letters, marks and digits in any script (``\\w`` without ``_``); a
Han, Hiragana or Katakana character is a word by itself, since those scripts put no
spaces between words. So an eval set in Greek, Cyrillic or Chinese matches the same
text in a raw document whatever the surrounding script. Such a character counts as half
a word in the n-gram length (a Chinese or Japanese word averages about two characters):
a 13-gram is 13 words, 26 Han/kana characters, or a mix of the two. Counted as whole
words, 13 characters (4-6 Japanese words) made a shared stock phrase a match: on the
bench (bench/results/decon.md) 109 of 5,400 documents were dropped for that, mostly pages
of the Japanese Debian Reference sharing phrases with other chapters.

Speed: the eval sets are read once in the driver into a sorted array of 64-bit n-gram
hashes (bounded: ``max_ngrams``, 10M by default, about 120 MB); workers get it with
the filter. A batch is NFKC-normalized by Arrow (C++), then one numba kernel walks its
UTF-8 bytes, hashes words and n-grams and looks each n-gram up by binary search in the
sorted array: nothing per token in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from thresher.errors import ConfigError, InputError
from thresher.filters.base import BaseFilter, FilterResult
from thresher.text.ngrams import WORD, _decode, _mix, arrow_buffers, unicode_tables

CONTAMINATED = "contaminated"  # the drop rule
# Annotation columns (docs/ table; thresher_<name> on records): which eval item matched.
EVAL_FILE, EVAL_ROW, EVAL_NGRAMS = "contaminated_eval", "contaminated_row", "contaminated_ngrams"
DEFAULT_NGRAM = 13
DEFAULT_MAX_NGRAMS = 10_000_000
DEFAULT_MIN_LEFT = 0.5
FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_LENGTH_SALT = np.uint64(0xD6E8FEB86659FD93)  # times the window's word count


# ---------------------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------------------


@nb.njit(inline="always", cache=True)
def _is_cjk(cp):
    return (
        (0x3040 <= cp <= 0x30FF)  # Hiragana, Katakana
        or (0x3400 <= cp <= 0x4DBF)
        or (0x4E00 <= cp <= 0x9FFF)
        or (0xF900 <= cp <= 0xFAFF)
        or (0x20000 <= cp <= 0x3134F)
    )


@nb.njit(cache=True, nogil=True)
def _words_kernel(offsets, data, cls, lower):
    """Every word of every document: (per-doc word pointer, hash, byte start, byte end, size
    in half words: 1 for a Han/kana character, 2 for any other word)."""
    n = len(offsets) - 1
    ptr = np.zeros(n + 1, dtype=np.int64)
    cap = 16
    hashes = np.empty(cap, dtype=np.uint64)
    starts = np.empty(cap, dtype=np.int64)
    ends = np.empty(cap, dtype=np.int64)
    halves = np.empty(cap, dtype=np.uint8)
    w = 0
    underscore = 0x5F
    for d in range(n):
        i = offsets[d]
        end = offsets[d + 1]
        while i < end:
            cp, j = _decode(data, i)
            if cls[cp] != WORD or cp == underscore:
                i = j
                continue
            start = i
            h = FNV_OFFSET
            half = 2
            if _is_cjk(cp):
                h = (h ^ np.uint64(lower[cp])) * FNV_PRIME
                i = j
                half = 1
            else:
                while True:
                    lo = lower[cp]
                    if lo == 0x3C2:  # final sigma: as sigma, so an upper-case item matches
                        lo = 0x3C3
                    h = (h ^ np.uint64(lo)) * FNV_PRIME
                    i = j
                    if i >= end:
                        break
                    cp, j = _decode(data, i)
                    if cls[cp] != WORD or cp == underscore or _is_cjk(cp):
                        break
            if w == cap:
                cap *= 2
                hashes = np.concatenate((hashes, np.empty(cap - w, dtype=np.uint64)))
                starts = np.concatenate((starts, np.empty(cap - w, dtype=np.int64)))
                ends = np.concatenate((ends, np.empty(cap - w, dtype=np.int64)))
                halves = np.concatenate((halves, np.empty(cap - w, dtype=np.uint8)))
            hashes[w] = _mix(h)
            starts[w] = start
            ends[w] = i
            halves[w] = half
            w += 1
        ptr[d + 1] = w
    return ptr, hashes[:w], starts[:w], ends[:w], halves[:w]


@nb.njit(cache=True, nogil=True)
def _windows(words, a, nw, m, out):
    """The hash of every run of ``m`` consecutive words in words[a:a+nw], into out[:nw-m+1].

    A polynomial rolling hash over the (already mixed) word hashes, O(1) per window, then
    mixed with the length: an item matched whole is a window of its own length."""
    if nw < m:
        return 0
    top = np.uint64(1)
    for _ in range(m - 1):
        top *= _GOLDEN
    h = np.uint64(0)
    for k in range(m):
        h = h * _GOLDEN + words[a + k]
    salt = np.uint64(m) * _LENGTH_SALT
    out[0] = _mix(h ^ salt)
    for i in range(1, nw - m + 1):
        h = (h - words[a + i - 1] * top) * _GOLDEN + words[a + i + m - 1]
        out[i] = _mix(h ^ salt)
    return nw - m + 1


@nb.njit(cache=True, nogil=True)
def _powers(units):
    """``_GOLDEN ** m`` for m in 0..units: a run of ``units`` half words has at most that
    many words."""
    pw = np.empty(units + 1, dtype=np.uint64)
    pw[0] = np.uint64(1)
    for t in range(units):
        pw[t + 1] = pw[t] * _GOLDEN
    return pw


@nb.njit(cache=True, nogil=True)
def _unit_windows(words, halves, a, nw, units, out, stop, h_prefix, pw):
    """The hash of every shortest run of words from each start in words[a:a+nw] that holds
    ``units`` half words (a 13-gram: 13 words, or 26 Han/kana characters, or a mix), into
    out[k]; stop[k] is the run's end (exclusive, relative to ``a``). The same polynomial
    and salt as :func:`_windows` for a run of the same words. ``h_prefix`` (>= nw + 1) is
    scratch, ``pw`` is :func:`_powers` of ``units``."""
    k = 0
    e = 0
    got = 0
    h_prefix[0] = np.uint64(0)
    for t in range(nw):
        h_prefix[t + 1] = h_prefix[t] * _GOLDEN + words[a + t]
    for i in range(nw):
        while e < nw and got < units:
            got += halves[a + e]
            e += 1
        if got < units:
            break
        m = e - i
        h = h_prefix[e] - h_prefix[i] * pw[m]
        out[k] = _mix(h ^ (np.uint64(m) * _LENGTH_SALT))
        stop[k] = e
        k += 1
        got -= halves[a + i]
    return k


@nb.njit(cache=True, nogil=True)
def _item_hashes_kernel(ptr, words, halves, units):
    """The index entries of eval items: every ``units``-half-word window, or the whole item
    if it holds fewer."""
    total = 0
    for d in range(len(ptr) - 1):
        m = ptr[d + 1] - ptr[d]
        if m > 0:
            total += m
    out = np.empty(total, dtype=np.uint64)
    item = np.empty(total, dtype=np.int64)
    stop = np.empty(max(total, 1), dtype=np.int64)
    h_prefix = np.empty(total + 1, dtype=np.uint64)
    pw = _powers(units)
    t = 0
    for d in range(len(ptr) - 1):
        a = ptr[d]
        m = ptr[d + 1] - a
        if m == 0:
            continue
        size = 0
        for j in range(a, a + m):
            size += halves[j]
        if size < units:
            k = _windows(words, a, m, m, out[t:])
        else:
            k = _unit_windows(words, halves, a, m, units, out[t:], stop, h_prefix, pw)
        item[t : t + k] = d
        t += k
    return out[:t], item[:t]


@nb.njit(cache=True, nogil=True)
def _match_kernel(ptr, words, halves, index, bits, shift, units, lengths):
    """Per document: matched windows, the index position of the first match, and per word
    whether a matched window covers it (for excision). ``bits`` is a one-hash Bloom
    bitmap of the index (bit ``h >> shift``): most windows miss it, one memory access
    instead of a binary search."""
    n_docs = len(ptr) - 1
    matched = np.zeros(n_docs, dtype=np.int64)
    first = np.full(n_docs, -1, dtype=np.int64)
    covered = np.zeros(len(words), dtype=np.bool_)
    size = len(index)
    most = 0
    for d in range(n_docs):
        most = max(most, ptr[d + 1] - ptr[d])
    buf = np.empty(max(most, 1), dtype=np.uint64)
    stop = np.empty(max(most, 1), dtype=np.int64)
    h_prefix = np.empty(most + 1, dtype=np.uint64)
    pw = _powers(units)
    for d in range(n_docs):
        a = ptr[d]
        nw = ptr[d + 1] - a
        for li in range(len(lengths) + 1):
            if li == 0:  # the n-gram windows
                k = _unit_windows(words, halves, a, nw, units, buf, stop, h_prefix, pw)
            else:  # items shorter than n, matched whole: runs of their word count
                m = lengths[li - 1]
                k = _windows(words, a, nw, m, buf)
                for i in range(k):
                    stop[i] = i + m
            for i in range(k):
                g = buf[i]
                b = g >> shift
                if not (bits[b >> np.uint64(3)] >> (b & np.uint64(7))) & np.uint8(1):
                    continue
                p = np.searchsorted(index, g)
                if p < size and index[p] == g:
                    matched[d] += 1
                    if first[d] < 0:
                        first[d] = p
                    for j in range(i, stop[i]):
                        covered[a + j] = True
    return matched, first, covered


def _bitmap(index: np.ndarray) -> tuple[np.ndarray, np.uint64]:
    """A bitmap of about 16 bits per indexed n-gram (2^20 to 2^30 bits): ~6% false hits."""
    nbits = 1 << max(20, min(30, int(np.ceil(np.log2(max(1, len(index)) * 16)))))
    shift = np.uint64(64 - int(np.log2(nbits)))
    bits = np.zeros(nbits // 8, dtype=np.uint8)
    b = index >> shift
    np.bitwise_or.at(
        bits, (b >> np.uint64(3)).astype(np.int64), (1 << (b & np.uint64(7))).astype(np.uint8)
    )
    return bits, shift


@nb.njit(cache=True, nogil=True)
def _excise_kernel(offsets, data, ptr, starts, ends, covered):
    """Copy each document without its covered word runs (from the first covered word's start
    to the last one's end). Returns new offsets and data, and the words left per document."""
    n = len(offsets) - 1
    out = np.empty(len(data), dtype=np.uint8)
    new_off = np.zeros(n + 1, dtype=np.int64)
    left = np.zeros(n, dtype=np.int64)
    o = 0
    for d in range(n):
        pos = offsets[d]
        w = ptr[d]
        while w < ptr[d + 1]:
            if not covered[w]:
                left[d] += 1
                w += 1
                continue
            cut = starts[w]
            while w < ptr[d + 1] and covered[w]:
                w += 1
            stop = ends[w - 1]
            for b in range(pos, cut):
                out[o] = data[b]
                o += 1
            pos = stop
        for b in range(pos, offsets[d + 1]):
            out[o] = data[b]
            o += 1
        new_off[d + 1] = o
    return new_off, out[:o], left


def _tables() -> tuple[np.ndarray, np.ndarray]:
    return unicode_tables()


def words(
    texts: pa.Array,
) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """NFKC-normalized texts and their words: (texts, ptr, hashes, byte starts, byte ends,
    sizes in half words)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    texts = texts.cast(pa.large_string())
    other = pc.invert(pc.string_is_ascii(texts))  # NFKC leaves ASCII as it is
    norm = texts
    if pc.any(other).as_py():
        fixed = pc.utf8_normalize(texts.filter(other), form="NFKC")
        norm = pc.replace_with_mask(texts, other, fixed)
    cls, lower = _tables()
    offsets, data = arrow_buffers(norm)
    if len(offsets) <= 1:
        z = np.zeros(0, np.int64)
        return norm, np.zeros(1, np.int64), np.zeros(0, np.uint64), z, z, np.zeros(0, np.uint8)
    return (norm, *_words_kernel(offsets, data, cls, lower))


# ---------------------------------------------------------------------------------------
# the index
# ---------------------------------------------------------------------------------------


@dataclass
class EvalItems:
    """The eval items the index was built from: their file and row (for outputs)."""

    files: list[str]  # one per eval file
    file: np.ndarray  # int32 per item: index into files
    row: np.ndarray  # int64 per item: row (0-based line or record) in its file
    preview: list[str]  # the first 200 characters of each item (driver only, for the report)


def read_eval_items(
    paths: Sequence[str], fields: Sequence[str]
) -> tuple[list[pa.Array], list[np.ndarray], list[str]]:
    """Every eval file's items (``fields`` joined by a space) and rows; errors name file and field.

    JSONL and Parquet records through the format registry (local or ``s3://...``), text
    files one item per line. Raises :class:`ConfigError` before anything is written.
    """
    from thresher.io.readers import ShardReader
    from thresher.io.sources import discover, plan_shards

    fields = [f for f in fields if f] or ["text"]
    texts: list[pa.Array] = []
    rows: list[np.ndarray] = []
    names: list[str] = []
    for path in paths:
        try:
            files = discover([path])
        except (InputError, ConfigError, OSError) as e:
            raise ConfigError(f"--decontaminate {path}: cannot read the eval set: {e}") from None
        before = len(texts)
        for shard in plan_shards(files, shard_bytes=1 << 62):
            texts_f, rows_f = _read_eval_file(ShardReader, shard, fields)
            texts.append(texts_f)
            rows.append(rows_f)
            names.append(shard.path)
        if len(texts) == before:
            raise ConfigError(f"--decontaminate {path}: the eval set is empty")
    return texts, rows, names


def _read_eval_file(reader_cls: Any, shard: Any, fields: list[str]) -> tuple[pa.Array, np.ndarray]:
    label = f"--decontaminate {shard.path}"
    split = "lines"
    reader = reader_cls(shard, fields[0], tuple(fields[1:]), split=split)
    chunks: list[pa.Array] = []
    rows: list[np.ndarray] = []
    seen = dict.fromkeys(fields[1:], False)
    try:
        for b in reader.batches():
            if len(fields) == 1:
                chunks.append(b.texts)
            else:
                parts = [b.texts.to_pylist()] + [b.fields[f] for f in fields[1:]]
                for f in fields[1:]:
                    seen[f] = seen[f] or any(v is not None for v in b.fields[f])
                joined = [
                    " ".join(str(v) for v in vals if v is not None)
                    for vals in zip(*parts, strict=True)
                ]
                chunks.append(pa.array(joined, pa.large_string()))
            rows.append(np.asarray(b.rows, np.int64))
    except (InputError, OSError, ValueError) as e:
        raise ConfigError(f"{label}: cannot read the eval set: {e}") from None
    n = sum(len(c) for c in chunks)
    if n == 0:
        missing = [r for r in reader.rejects if r.reason.startswith("missing_text_field")]
        if missing:
            raise ConfigError(
                f"{label}: no row has the eval field {fields[0]!r} (set --eval-field)"
            )
        if reader.rejects:
            r = reader.rejects[0]
            raise ConfigError(f"{label}: line {r.row + 1}: {r.reason}")
        raise ConfigError(f"{label}: the eval set is empty")
    for f, ok in seen.items():
        if not ok:
            raise ConfigError(f"{label}: no row has the eval field {f!r} (set --eval-field)")
    if reader.rejects:
        r = reader.rejects[0]
        raise ConfigError(
            f"{label}: line {r.row + 1}: {r.reason} ({len(reader.rejects)} bad row(s) in the eval set)"
        )
    return pa.concat_arrays([c.cast(pa.large_string()) for c in chunks]), np.concatenate(rows)


class Decontaminator(BaseFilter):
    """Drops documents sharing an n-gram with the eval sets (rule ``contaminated``, value:
    the matched n-grams); ``mode="excise"`` cuts the matching spans out instead and drops
    only documents left with less than ``min_left`` of their words.

    Build it with :meth:`from_eval_sets` (reads the files) or :meth:`from_texts`.
    An excised document is written in its NFKC form (the form its spans were found in);
    every other document keeps its text byte for byte.
    """

    name = CONTAMINATED

    def __init__(
        self,
        index: np.ndarray,
        owner: np.ndarray,
        lengths: np.ndarray,
        items: EvalItems,
        ngram: int = DEFAULT_NGRAM,
        mode: str = "drop",
        min_left: float = DEFAULT_MIN_LEFT,
    ) -> None:
        if mode not in ("drop", "excise"):
            raise ValueError(f"decontaminate mode {mode!r}: expected drop or excise")
        self.index = index
        self.owner = owner
        self.lengths = lengths
        self.items = items
        self.ngram = ngram
        self.mode = mode
        self.min_left = min_left
        self._bits: tuple[np.ndarray, np.uint64] | None = None  # built on first use

    # -- building ---------------------------------------------------------------------
    @classmethod
    def from_texts(
        cls,
        texts: list[pa.Array],
        rows: list[np.ndarray],
        files: list[str],
        ngram: int = DEFAULT_NGRAM,
        mode: str = "drop",
        min_left: float = DEFAULT_MIN_LEFT,
        max_ngrams: int = DEFAULT_MAX_NGRAMS,
    ) -> Decontaminator:
        """The index of eval items given as one text array (and their rows) per file."""
        if ngram < 1:
            raise ConfigError(f"decontaminate_ngram={ngram}: must be >= 1")
        hashes, owners, item_file, preview = [], [], [], []
        base = 0
        total = 0
        short: set[int] = set()
        units = 2 * ngram
        for fi, t in enumerate(texts):
            _, ptr, wh, _, _, halves = words(t)
            m = np.diff(ptr)
            if int(m.max(initial=0)) == 0:
                raise ConfigError(f"--decontaminate {files[fi]}: the eval set has no words")
            cum = np.concatenate(([0], np.cumsum(halves, dtype=np.int64)))
            size = cum[ptr[1:]] - cum[ptr[:-1]]  # half words per item
            short.update(int(x) for x in np.unique(m[(m > 0) & (size < units)]))
            h, item = _item_hashes_kernel(ptr, wh, halves, units)
            total += len(h)
            if total > max_ngrams:
                raise ConfigError(
                    f"--decontaminate {files[fi]}: the eval sets hold more than {max_ngrams:,} "
                    f"n-grams (the in-memory cap, decontaminate_max_ngrams); use fewer or "
                    "smaller eval sets, or raise the cap"
                )
            hashes.append(h)
            owners.append(item + base)
            item_file.append(np.full(len(t), fi, np.int32))
            preview.extend(s[:200] for s in t.to_pylist())
            base += len(t)
        allh = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
        allo = np.concatenate(owners) if owners else np.zeros(0, np.int64)
        # Sorted and unique; a hash held by several items is owned by the first (stable sort).
        order = np.argsort(allh, kind="stable")
        allh, allo = allh[order], allo[order]
        first = np.ones(len(allh), bool)
        first[1:] = allh[1:] != allh[:-1]
        lengths = np.array(sorted(short, reverse=True), dtype=np.int64)
        items = EvalItems(
            files=list(files),
            file=np.concatenate(item_file) if item_file else np.zeros(0, np.int32),
            row=np.concatenate(rows) if rows else np.zeros(0, np.int64),
            preview=preview,
        )
        return cls(allh[first], allo[first].astype(np.int32), lengths, items, ngram, mode, min_left)

    @classmethod
    def from_eval_sets(
        cls,
        paths: Sequence[str],
        fields: Sequence[str] = ("text",),
        ngram: int = DEFAULT_NGRAM,
        mode: str = "drop",
        min_left: float = DEFAULT_MIN_LEFT,
        max_ngrams: int = DEFAULT_MAX_NGRAMS,
    ) -> Decontaminator:
        texts, rows, files = read_eval_items(paths, fields)
        return cls.from_texts(
            texts, rows, files, ngram=ngram, mode=mode, min_left=min_left, max_ngrams=max_ngrams
        )

    def __getstate__(self) -> dict:
        """Workers need the index, not the previews."""
        state = dict(self.__dict__)
        state["items"] = EvalItems(self.items.files, self.items.file, self.items.row, [])
        state["_bits"] = None  # rebuilt in the worker: cheaper than shipping it
        return state

    def describe(self) -> dict[str, Any]:
        return {
            "eval_files": self.items.files,
            "items": len(self.items.row),
            "ngrams": len(self.index),
            "ngram": self.ngram,
            "mode": self.mode,
            **({"min_left": self.min_left} if self.mode == "excise" else {}),
        }

    # -- matching ---------------------------------------------------------------------
    def match(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Array | None, np.ndarray]:
        """Per document: matched n-grams (int64), the first matched eval item (-1: none),
        the excised texts (excise mode, None if nothing matched) and the share of words left."""
        norm, ptr, wh, ws, we, halves = words(texts)
        n = len(ptr) - 1
        if self._bits is None:
            self._bits = _bitmap(self.index)
        bits, shift = self._bits
        matched, first, covered = _match_kernel(
            ptr, wh, halves, self.index, bits, shift, 2 * self.ngram, self.lengths
        )
        item = np.where(first >= 0, self.owner[np.maximum(first, 0)], -1) if n else first
        left = np.ones(n, np.float64)
        excised = None
        if self.mode == "excise" and matched.any():
            offsets, data = arrow_buffers(norm)
            new_off, new_data, n_left = _excise_kernel(offsets, data, ptr, ws, we, covered)
            total = np.diff(ptr)
            left = np.where(total > 0, n_left / np.maximum(total, 1), 1.0)
            cut = pa.LargeStringArray.from_buffers(
                n, pa.py_buffer(new_off.astype(np.int64)), pa.py_buffer(new_data)
            )
            # Documents without a match keep their text exactly (not its NFKC form).
            excised = pc.if_else(pa.array(matched > 0), cut, texts.cast(pa.large_string()))
        return matched, item, excised, left

    def apply(self, texts: pa.Array) -> FilterResult:
        """The decision alone (the rewriting of excise mode is :meth:`apply_rewrite`'s)."""
        return self.apply_rewrite(texts)[1]

    def apply_rewrite(self, texts: pa.Array) -> tuple[pa.Array, FilterResult]:
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        matched, item, excised, left = self.match(texts)
        hit = matched > 0
        drop = hit if self.mode == "drop" else hit & (left < self.min_left)
        rule = np.where(drop, CONTAMINATED, "").astype(object)
        res = FilterResult.from_drops(
            rule, matched.astype(np.float64), self._annotations(item, matched)
        )
        return (excised if excised is not None else texts), res

    def rewrite(self, texts: pa.Array) -> pa.Array:
        """The texts as the run writes them: matching spans cut out in excise mode."""
        if self.mode != "excise":
            return texts
        return self.apply_rewrite(texts)[0]

    def _annotations(self, item: np.ndarray, matched: np.ndarray) -> dict[str, pa.Array]:
        hit = item >= 0
        safe = np.maximum(item, 0)
        files = np.array(self.items.files + [""], dtype=object)
        fidx = np.where(hit, self.items.file[safe] if len(self.items.file) else 0, len(files) - 1)
        return {
            EVAL_FILE: pa.array(files[fidx], type=pa.string(), mask=~hit),
            EVAL_ROW: pa.array(
                self.items.row[safe] if len(self.items.row) else np.zeros(len(item), np.int64),
                type=pa.int64(),
                mask=~hit,
            ),
            EVAL_NGRAMS: pa.array(matched, type=pa.int64(), mask=~hit),
        }
