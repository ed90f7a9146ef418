"""Text hygiene around the filters: decontamination before them, PII redaction after.

Both rewrite text (excision, placeholders), which a :class:`~thresher.filters.base.Filter`
does not; so the worker calls :meth:`Hygiene.apply` in place of the filter chain:

1. decontaminate every document (on its text as read): drop the contaminated ones (rule
   ``contaminated``) or, in excise mode, cut the matching spans out;
2. run the filters on what is left (they see excised text);
3. redact PII in the survivors (scoring, dedup and the written records see the
   redacted text; per-document counts become the ``redacted_<kind>`` annotations).

:meth:`Hygiene.rewrite` is the same rewriting for the write pass, which re-reads the
records: excise, then redact; deterministic, so written text is what was scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from thresher.filters.base import FilterResult
from thresher.filters.decontaminate import (
    CONTAMINATED,
    EVAL_FILE,
    EVAL_NGRAMS,
    EVAL_ROW,
    Decontaminator,
)
from thresher.text.pii import Redactor

REDACTED_PREFIX = "redacted_"


def redaction_column(kind: str) -> str:
    """The annotation (docs/ column) holding a document's count of one PII kind."""
    return f"{REDACTED_PREFIX}{kind}"


@dataclass
class Hygiene:
    """Decontamination and/or redaction for one run (picklable: shipped to the workers)."""

    decon: Decontaminator | None = None
    redactor: Redactor | None = None

    def apply(self, texts: pa.Array, filters: list[Any]) -> tuple[pa.Array, FilterResult]:
        """The texts as later stages see them, and the decision of decontamination + filters."""
        from thresher.filters import apply_filters

        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        n = len(texts)
        texts = texts.cast(pa.large_string())
        keep = np.ones(n, bool)
        rule = np.full(n, "", dtype=object)
        value = np.full(n, np.nan)
        annotations: dict[str, pa.Array] = {}
        if self.decon is not None:
            texts, res = self.decon.apply_rewrite(texts)
            keep, rule, value = res.keep.copy(), res.rule.copy(), res.value.copy()
            annotations.update(res.annotations)
        idx = np.flatnonzero(keep)
        sub = texts if len(idx) == n else texts.take(pa.array(idx, pa.int64()))
        if filters or self.redactor is not None:
            res = apply_filters(filters, sub)
            dropped = ~res.keep
            keep[idx[dropped]] = False
            rule[idx[dropped]] = res.rule[dropped]
            value[idx[dropped]] = res.value[dropped]
            extra = dict(res.annotations)
            if self.redactor is not None:
                live = np.flatnonzero(res.keep)
                part = sub if len(live) == len(sub) else sub.take(pa.array(live, pa.int64()))
                red, counts = self.redactor.redact(part)
                for kind, c in counts.items():
                    full = np.zeros(len(sub), np.int32)
                    full[live] = c
                    extra[redaction_column(kind)] = pa.array(full, pa.int32(), mask=~res.keep)
                texts = _scatter_texts(texts, idx[live], red)
            for col, values in extra.items():
                annotations[col] = values if len(idx) == n else _scatter(values, idx, n)
        return texts, FilterResult(keep, rule, value, annotations)

    def rewrite(self, texts: pa.Array) -> pa.Array:
        """What the run writes for these (kept) documents: excised, then redacted."""
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        if self.decon is not None:
            texts = self.decon.rewrite(texts)
        if self.redactor is not None:
            texts = self.redactor.redact(texts)[0]
        return texts

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.decon is not None:
            out["decontaminate"] = self.decon.describe()
        if self.redactor is not None:
            out["redact"] = list(self.redactor.kinds)
        return out


def _scatter(values: pa.Array, idx: np.ndarray, n: int) -> pa.Array:
    """``values`` (one per ``idx``) at their batch positions, null elsewhere."""
    where = np.full(n, -1, dtype=np.int64)
    where[idx] = np.arange(len(idx))
    return values.take(pa.array(where, mask=where < 0))


def _scatter_texts(texts: pa.Array, idx: np.ndarray, new: pa.Array) -> pa.Array:
    """``texts`` with the documents at ``idx`` replaced by ``new``."""
    if len(idx) == len(texts):
        return new.cast(pa.large_string())
    mask = np.zeros(len(texts), bool)
    mask[idx] = True
    return pc.replace_with_mask(texts, pa.array(mask), new.cast(pa.large_string()))


def build_hygiene(cfg: Any) -> Hygiene | None:
    """The run's hygiene from a :class:`~thresher.config.SelectConfig` (None: nothing to do).

    Reads the eval sets now, in the driver: an unreadable or empty eval set, or a missing
    field, is a one-line :class:`~thresher.errors.ConfigError` before anything is written.
    """
    decon = None
    if cfg.decontaminate:
        decon = Decontaminator.from_eval_sets(
            cfg.decontaminate,
            fields=cfg.eval_field,
            ngram=cfg.decontaminate_ngram,
            mode=cfg.decontaminate_mode,
            min_left=cfg.decontaminate_min_left,
            max_ngrams=cfg.decontaminate_max_ngrams,
        )
    redactor = Redactor(cfg.redact) if cfg.redact else None
    if decon is None and redactor is None:
        return None
    return Hygiene(decon, redactor)


TOP_ITEMS = 10
EXAMPLES = 5


def manifest_sections(
    hygiene: Hygiene, scans: list[Any], shards: list[Any], source_name: Any
) -> dict[str, Any]:
    """The manifest's ``decontamination`` and ``redactions``: per eval set, the documents
    dropped and excised, the eval items that matched most documents, a few examples; the
    PII placeholders written per kind. Counted from the scans' annotations."""
    from collections import Counter

    out: dict[str, Any] = {}
    decon = hygiene.decon
    if decon is not None:
        items = decon.items
        per_file = {f: {"file": f, "dropped": 0, "excised": 0} for f in items.files}
        for fi, f in enumerate(items.files):
            per_file[f]["items"] = int((items.file == fi).sum())
        top: Counter[tuple[str, int]] = Counter()
        examples: list[dict[str, Any]] = []
        for sc, shard in zip(scans, shards, strict=True):
            ann = sc.annotations
            if EVAL_FILE not in ann:
                continue
            files = ann[EVAL_FILE].to_pylist()
            rows = ann[EVAL_ROW].to_pylist()
            grams = ann[EVAL_NGRAMS].to_pylist()
            for pos, f in enumerate(files):
                if f is None:
                    continue
                dropped = sc.reasons.get(pos, ("", 0.0))[0] == CONTAMINATED
                per_file[f]["dropped" if dropped else "excised"] += 1
                top[(f, int(rows[pos]))] += 1
                if len(examples) < EXAMPLES:
                    examples.append(
                        {
                            "source": source_name(shard.path),
                            "row": int(sc.rows[pos]),
                            "eval_file": f,
                            "eval_row": int(rows[pos]),
                            "ngrams": int(grams[pos]),
                            "dropped": dropped,
                        }
                    )
        preview = _previews(items)
        for e in examples:
            e["eval_text"] = preview.get((e["eval_file"], e["eval_row"]), "")
        out["decontamination"] = {
            **decon.describe(),
            "dropped": sum(p["dropped"] for p in per_file.values()),
            "excised": sum(p["excised"] for p in per_file.values()),
            "per_eval_set": list(per_file.values()),
            "top_items": [
                {"file": f, "row": r, "documents": n, "text": preview.get((f, r), "")}
                for (f, r), n in sorted(top.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_ITEMS]
            ],
            "examples": examples,
        }
    if hygiene.redactor is not None:
        totals: dict[str, int] = {}
        docs = 0
        for sc in scans:
            per_doc = None
            for kind in hygiene.redactor.kinds:
                col = sc.annotations.get(redaction_column(kind))
                if col is None:
                    continue
                c = col.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
                totals[kind] = totals.get(kind, 0) + int(c.sum())
                per_doc = c if per_doc is None else per_doc + c
            if per_doc is not None:
                docs += int((per_doc > 0).sum())
        out["redactions"] = {
            "kinds": list(hygiene.redactor.kinds),
            **{k: totals.get(k, 0) for k in hygiene.redactor.kinds},
            "total": sum(totals.values()),
            "documents": docs,
        }
    return out


def _previews(items: Any) -> dict[tuple[str, int], str]:
    if not items.preview:
        return {}
    return {
        (items.files[int(f)], int(r)): p
        for f, r, p in zip(items.file.tolist(), items.row.tolist(), items.preview, strict=True)
    }
