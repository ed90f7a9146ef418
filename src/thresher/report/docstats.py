"""The decision table (``docs/``) read in record batches for the report.

A run of many million documents has a decision table of ~40 B per document in Arrow and
several times that as NumPy and Python objects; the report needs only counts, a score
histogram, per-rule medians and ~25 shown documents. So everything here is aggregated
batch by batch: counts and first-``k`` candidates are merged as the batches go by, the
score histogram's clip points (exact 0.5 / 99.5 percentiles, as ``np.percentile``) come
from a two-pass radix selection over the float32 scores, and the shown documents are
read back by position at the end. Memory: one batch, plus the measured values of the
dropped documents per rule (their exact medians).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from thresher.rundir import DOC_COLUMNS, RunDir, readable

BATCH_ROWS = 65_536  # rows of the decision table per batch
TOP = 5  # top- and lowest-scored documents shown
BORDER = 3  # borderline documents shown on each side of the cut
DROPPED_SHOWN = 4  # filtered and duplicate documents shown, each
PERCENTILES = (0.5, 99.5)  # the score histogram's ends
_DICT = ["source", "status", "rule"]


def docs_batches(
    run: str | os.PathLike, columns: list[str], batch_rows: int = BATCH_ROWS
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(global position of its first row, batch) over the decision table's parts, in order;
    ``source``, ``status``, ``rule`` as dictionary arrays. A table from before drops had
    (rule, value) columns gets them from its ``reason`` (value unknown)."""
    offset = 0
    for p in RunDir(run).docs_parts():
        with readable(p) as src:
            pf = pq.ParquetFile(src, read_dictionary=_DICT)
            names = pf.schema_arrow.names
            old = "reason" in names and "rule" not in names
            want = [c for c in columns if c in names]
            if old and ("rule" in columns or "value" in columns):
                want.append("reason")
            if not want:  # row counts only
                want = names[:1]
            for batch in pf.iter_batches(batch_size=batch_rows, columns=want):
                if old:
                    batch = _rule_from_reason(batch)
                yield offset, batch
                offset += batch.num_rows


def _rule_from_reason(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``reason`` (``"language:de=0.99"``, ``"duplicate_of:12"``) -> ``rule``, null ``value``."""
    if "reason" not in batch.schema.names:
        return batch
    reasons = batch.column("reason").to_pylist()
    rules = [(r or "").split(":")[0].replace("duplicate_of", "duplicate") for r in reasons]
    cols = {n: batch.column(n) for n in batch.schema.names if n != "reason"}
    cols["rule"] = pa.array(rules, pa.string()).dictionary_encode()
    cols["value"] = pa.nulls(len(rules), pa.float64())
    return pa.RecordBatch.from_pydict(cols)


def _float32_scores(run: str | os.PathLike) -> bool:
    """Every part's ``score`` column is float32 (what the pipeline writes)."""
    for p in RunDir(run).docs_parts():
        with readable(p) as src:
            schema = pq.read_schema(src)
        if "score" in schema.names and not pa.types.is_float32(schema.field("score").type):
            return False
    return True


def labels(col: pa.Array) -> np.ndarray:
    """A string (or dictionary) column as an object array of shared ``str``; nulls ``""``."""
    enc = col if pa.types.is_dictionary(col.type) else col.dictionary_encode()
    names = [v or "" for v in enc.dictionary.to_pylist()] + [""]  # the last: null
    idx = enc.indices.fill_null(len(names) - 1).to_numpy(zero_copy_only=False)
    return np.asarray(names, dtype=object)[idx]


def floats(col: pa.Array) -> np.ndarray:
    """A numeric column as float64, nulls NaN."""
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)


def _in_order(values: np.ndarray) -> dict[str, int]:
    """Counts of ``values`` with keys in order of first occurrence (as ``Counter(list)``)."""
    if len(values) == 0:
        return {}
    uniq, first, counts = np.unique(values, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    return {uniq[i]: int(counts[i]) for i in order}


@dataclass
class _First:
    """The ``k`` documents first by (key, tie); NaN keys last, as a stable ``argsort``."""

    k: int
    key: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    tie: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def add(self, key: np.ndarray, tie: np.ndarray, idx: np.ndarray) -> None:
        if len(idx) == 0:
            return
        key = np.concatenate([self.key, key])
        tie = np.concatenate([self.tie, tie])
        idx = np.concatenate([self.idx, idx])
        keep = np.lexsort((tie, key))[: self.k]
        self.key, self.tie, self.idx = key[keep], tie[keep], idx[keep]

    def indices(self) -> list[int]:
        return self.idx.tolist()


def _ordered_keys(scores: np.ndarray) -> np.ndarray:
    """float32 scores as uint32 keys in the same order (the radix selection's digits)."""
    bits = np.ascontiguousarray(scores, dtype=np.float32).view(np.uint32)
    neg = (bits >> np.uint32(31)).astype(bool)
    return np.where(neg, ~bits, bits | np.uint32(0x80000000))


def _key_value(key: int) -> float:
    """The float32 value of an :func:`_ordered_keys` key, as float64."""
    bits = key & 0x7FFFFFFF if key & 0x80000000 else ~key & 0xFFFFFFFF
    return float(np.array([bits], np.uint32).view(np.float32)[0])


def percentile_points(n: int, qs: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.percentile``'s linear method: (lower rank, upper rank, weight) per ``q``."""
    q = np.true_divide(np.asarray(qs, dtype=np.float64), 100)
    virtual = (n - 1) * q
    lower = np.floor(virtual)
    upper = lower + 1
    above = virtual >= n - 1
    lower[above] = n - 1
    upper[above] = n - 1
    return lower.astype(np.int64), upper.astype(np.int64), virtual - np.floor(virtual)


def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``np.percentile``'s interpolation between the order statistics ``a`` and ``b``."""
    diff = b - a
    out = np.add(a, diff * t)
    np.subtract(b, diff * (1 - t), out=out, where=t >= 0.5)
    return out


class DocStats:
    """What the report shows of the decision table, read in batches (see the module)."""

    def __init__(self, run: str | os.PathLike, batch_rows: int = BATCH_ROWS) -> None:
        self.run = run
        self.batch_rows = batch_rows
        self.n = 0
        self.drop_rules: Counter[str] = Counter()  # dropped documents by rule
        self.rule_values: dict[str, list[np.ndarray]] = {}  # measured values by rule
        self.sources: Counter[str] = Counter()
        self.selected_sources: Counter[str] = Counter()
        self.n_selected = 0  # eligible and selected (any score)
        self.n_other = 0  # eligible, not selected
        self.n_finite = 0  # eligible with a finite score
        self.lo = self.hi = float("nan")  # the finite eligible scores' min and max
        self.top = _First(TOP)
        self.lowest = _First(TOP)
        self.low_selected = _First(BORDER)
        self.high_other = _First(BORDER)
        self.dropped: dict[str, list[int]] = {"filtered": [], "duplicate": []}
        self._float32 = _float32_scores(run)  # radix selection; else the scores are kept
        self._finite: list[np.ndarray] = []
        self._high = np.zeros(1 << 16, np.int64)  # first radix digit of the finite scores
        self._read()

    def _batches(self, columns: list[str]) -> Iterator[tuple[int, pa.RecordBatch]]:
        return docs_batches(self.run, columns, self.batch_rows)

    def _scores(self, batch: pa.RecordBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(eligible, selected, score) of a batch."""
        eligible = labels(batch.column("status")) == "eligible"
        sel = batch.column("selected").fill_null(False).to_numpy(zero_copy_only=False)
        return eligible, np.asarray(sel, bool), floats(batch.column("score"))

    def _read(self) -> None:
        cols = ["source", "status", "rule", "value", "score", "selected"]
        for o, b in self._batches(cols):
            m = b.num_rows
            self.n += m
            eligible, sel, sc = self._scores(b)
            status = labels(b.column("status"))
            rule = labels(b.column("rule"))
            value = floats(b.column("value"))
            source = labels(b.column("source"))
            self.drop_rules.update(_in_order(rule[~eligible & (rule != "")]))
            for r in _in_order(rule[rule != ""]):
                v = value[(rule == r) & ~np.isnan(value)]
                if len(v):
                    self.rule_values.setdefault(r, []).append(v)
            self.sources.update(_in_order(source))
            self.selected_sources.update(_in_order(source[sel]))
            idx = np.arange(o, o + m, dtype=np.int64)
            fin = eligible & np.isfinite(sc)
            es, eo = eligible & sel, eligible & ~sel
            self.n_selected += int(es.sum())
            self.n_other += int(eo.sum())
            self.top.add(-sc[fin], idx[fin], idx[fin])
            self.lowest.add(sc[fin], -idx[fin], idx[fin])
            self.low_selected.add(sc[es], idx[es], idx[es])
            self.high_other.add(-sc[eo], idx[eo], idx[eo])
            for st, shown in self.dropped.items():
                if len(shown) < DROPPED_SHOWN:
                    shown += idx[status == st][: DROPPED_SHOWN - len(shown)].tolist()
            if fin.any():
                f = sc[fin]
                self.n_finite += len(f)
                lo, hi = float(f.min()), float(f.max())
                self.lo = lo if np.isnan(self.lo) else min(self.lo, lo)
                self.hi = hi if np.isnan(self.hi) else max(self.hi, hi)
                if self._float32:
                    self._high += np.bincount(_ordered_keys(f) >> np.uint32(16), minlength=1 << 16)
                else:
                    self._finite.append(f)

    # -- what the sections show -----------------------------------------------------------
    def rule_median(self, rule: str) -> float | None:
        v = self.rule_values.get(rule)
        return float(np.median(np.concatenate(v))) if v else None

    def clip_range(self) -> tuple[float, float]:
        """The score histogram's ends: the finite eligible scores' 0.5 and 99.5 percentiles
        (their min and max for 50 or fewer), as ``np.percentile`` gives them."""
        if self.n_finite <= 50:
            return self.lo, self.hi
        if not self._float32:  # pragma: no cover - a table whose scores are not float32
            both = np.concatenate(self._finite)
            lo, hi = np.percentile(both, PERCENTILES)
            return float(lo), float(hi)
        lower, upper, t = percentile_points(self.n_finite, PERCENTILES)
        ranks = sorted({int(r) for r in (*lower, *upper)})
        values = dict(zip(ranks, self._order_statistics(ranks), strict=True))
        a = np.array([values[int(r)] for r in lower])
        b = np.array([values[int(r)] for r in upper])
        lo, hi = lerp(a, b, t)
        return float(lo), float(hi)

    def _order_statistics(self, ranks: list[int]) -> list[float]:
        """The finite eligible scores at these ranks (0 = smallest): the first 16 bits of
        each from the histogram of the first pass, the last 16 from one more pass."""
        cum = np.cumsum(self._high)
        highs = [int(np.searchsorted(cum, r, side="right")) for r in ranks]
        before = [int(cum[h - 1]) if h else 0 for h in highs]
        low = {h: np.zeros(1 << 16, np.int64) for h in set(highs)}
        for _, b in self._batches(["status", "score"]):
            eligible = labels(b.column("status")) == "eligible"
            sc = floats(b.column("score"))
            keys = _ordered_keys(sc[eligible & np.isfinite(sc)])
            top = keys >> np.uint32(16)
            for h, hist in low.items():
                hist += np.bincount(keys[top == h] & np.uint32(0xFFFF), minlength=1 << 16)
        out = []
        for r, h, n0 in zip(ranks, highs, before, strict=True):
            lo16 = int(np.searchsorted(np.cumsum(low[h]), r - n0, side="right"))
            out.append(_key_value((h << 16) | lo16))
        return out

    def score_counts(self, bins: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
        """Per bin: (not selected, selected) eligible documents, scores clipped to [lo, hi]."""
        other = np.zeros(len(bins) - 1, np.int64)
        sel_counts = np.zeros(len(bins) - 1, np.int64)
        for _, b in self._batches(["status", "score", "selected"]):
            eligible, sel, sc = self._scores(b)
            other += np.histogram(np.clip(sc[eligible & ~sel], lo, hi), bins)[0]
            sel_counts += np.histogram(np.clip(sc[eligible & sel], lo, hi), bins)[0]
        return other, sel_counts

    def rows_at(self, positions: list[int]) -> dict[int, dict]:
        """The decision table's rows at these global positions, by position."""
        want = sorted(set(positions))
        out: dict[int, dict] = {}
        if not want:
            return out
        for o, b in self._batches(list(DOC_COLUMNS)):
            lo = int(np.searchsorted(want, o))
            hi = int(np.searchsorted(want, o + b.num_rows))
            if lo == hi:
                continue
            local = pa.array([p - o for p in want[lo:hi]], pa.int64())
            part = b.take(local)
            for p, rec in zip(want[lo:hi], part.to_pylist(), strict=True):
                out[p] = rec
        return out
