"""``--method auto``: the target is labelled data, so measure which scorer serves it.

Each candidate scorer (dsir, bm25, zipfit, classifier, hybrid, and color when it is
registered; dense only with a GPU, see :func:`dense_note`) is fitted on part of the target
and a slice of the raw fit sample, once without and once with the target-language filter
(``--lang auto``), and scored on the held-out target documents and that raw slice. The
measure is **recall at the selection's share**: the fraction of held-out target documents
scored above the raw slice's ``1 - share`` quantile (``share`` = k / documents, what the run
will select), i.e. how many documents like the target a top-``share`` selection would keep.
Ties are broken by the held-out documents' mean percentile among the raw slice (an AUC).
The hybrid is measured from its components' held-out scores (z-scored sum; see
:meth:`AutoScorer._cheap_hybrid`) rather than fitted again, and refitted only if it wins.

Held out: every fifth target document (as the hybrid's weights do) when that gives at least
:data:`MIN_HELD` documents; otherwise k-fold over the whole target (``FOLDS`` folds, every
target document held out once), since 8 held-out documents cannot tell 0.9 from 1.0. Even
so, a small target measures noisily, so the choice shrinks toward a default
(:data:`DEFAULT_CANDIDATE`, the classifier, with the language filter on a one-language
target): another candidate wins only by more than one standard error of the default's
recall. The fusion of the two best candidates (mean of their percentiles among the raw
slice) is measured the same way and chosen when it is better still. The winner is refitted
on the whole target and the whole fit sample; the full corpus is scanned once, with it.

With the language filter chosen, :attr:`AutoScorer.language_filter` is a fitted
:class:`~thresher.filters.langid.LanguageFilter` the driver adds to the scan (documents in
other languages are then *filtered*, by rule ``language``). A multilingual target (two or
more languages each >= 5% of it) keeps its languages in proportion:
:attr:`AutoScorer.language_quotas` are the target's language shares, which the driver passes
to the quota selection, grouped by the detected language.

Cost: the comparison runs on at most ``compare_sample`` raw documents (default 5,000, spread
evenly over the fit sample), so it is bounded whatever the corpus size; bench/results/auto.md
measures it against the chosen method alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from thresher.scorers.base import BaseScorer, as_string_array

BASE_CANDIDATES = ("dsir", "bm25", "zipfit", "classifier", "hybrid")
DEFAULT_CANDIDATE = "classifier"
MIN_HELD = 20  # held-out documents below which the target is k-folded (< 100 target docs)
FOLDS = 5
MIN_TARGET = 10  # below this nothing can be held out: the default is used
DEFAULT_SHARE = 0.1  # when the run's share is unknown (k of a corpus larger than the sample)


def dense_note() -> str | None:
    """Why dense is not a candidate (None: it is). Dense embeds a few dozen docs/s on CPU
    (bench/results/scorers.md), too slow for a whole-corpus scan within auto's budget; with a
    GPU (a /dev/nvidia0 device) it is included. Checked without importing torch."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return "dense: not installed (pip install thresher[dense])"
    if not os.path.exists("/dev/nvidia0"):
        return "dense: excluded on CPU (a few dozen docs/s; name it with --method dense)"
    return None


def candidate_names(include_dense: bool | None = None) -> list[str]:
    """The registered candidates: the base five, color when registered, dense per
    :func:`dense_note` (or ``include_dense``)."""
    from thresher.scorers import SCORERS

    names = [n for n in BASE_CANDIDATES if n in SCORERS]
    if "color" in SCORERS:
        names.append("color")
    if include_dense or (include_dense is None and dense_note() is None):
        names.append("dense")
    return names


def _spread(n: int, m: int) -> np.ndarray:
    if m >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, m).round().astype(np.int64))


def _percentile(ref_sorted: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Share of the reference scored strictly below each score (0..1)."""
    if len(ref_sorted) == 0:
        return np.zeros(len(s))
    return np.searchsorted(ref_sorted, s, side="left") / len(ref_sorted)


class AutoScorer(BaseScorer):
    """Measure every candidate on held-out target documents; scan with the best."""

    name = "auto"
    fit_imports = ("sklearn.linear_model",)  # its classifier component
    slow_fit = True  # it fits and compares every candidate (a classifier among them)
    # Raw documents the fit reads: the comparison uses ``compare_sample`` of them, and the
    # winner's refit needs no more (the classifier keeps 20k negatives, hybrid's reference
    # is 20k; 20k documents give DSIR ~10M words for its 10k buckets). Language id of the
    # sample, which the language decision needs, costs ~0.3 ms per document.
    fit_sample_docs = 20_000

    def __init__(
        self,
        candidates: Sequence[str] | str | None = None,
        language: str = "auto",
        compare_sample: int = 5_000,
        fuse: bool = True,
        include_dense: bool | None = None,
        share: float | None = None,
        options: dict | None = None,
    ) -> None:
        if isinstance(candidates, str):
            candidates = [c.strip() for c in candidates.split(",") if c.strip()]
        self.candidates = list(candidates) if candidates else candidate_names(include_dense)
        if "auto" in self.candidates:
            raise ValueError("auto cannot be its own candidate")
        if language not in ("auto", "on", "off"):
            raise ValueError("language must be auto, on or off")
        self.language = language
        self.compare_sample = int(compare_sample)
        self.fuse_top = bool(fuse)
        self.share = share
        self.options = dict(options or {})
        self.dense_note = None if "dense" in self.candidates else dense_note()
        self.expected_fraction: float | None = None
        # what fit decided
        self.chosen: list[str] = []
        self.use_language = False
        self.language_filter: Any = None
        self.language_quotas: dict[str, float] | None = None
        self.winners: list[Any] = []
        self.ref_sorted: list[np.ndarray] = []
        self.decision: dict[str, Any] = {}

    def expect_fraction(self, fraction: float) -> None:
        self.expected_fraction = float(fraction)

    def report(self) -> dict[str, Any]:
        """Nothing in metrics: the decision is the manifest's top-level ``auto``."""
        return {}

    # -- fit ---------------------------------------------------------------------------------
    def _make(self, name: str):
        from thresher.scorers import make_scorer

        s = make_scorer(name, **self.options.get(name, {}))
        if self.expected_fraction is not None:
            s.expect_fraction(self.expected_fraction)
        return s

    def fit(self, target: pa.Array, sample: pa.Array) -> AutoScorer:
        t_start = time.perf_counter()
        target, sample = as_string_array(target), as_string_array(sample)
        if len(sample) == 0:
            raise ValueError("the raw sample has no documents")
        share = self.share or self.expected_fraction or DEFAULT_SHARE
        share = float(np.clip(share, 1.0 / max(len(sample), 1), 1.0))
        lang = self._language(target, sample)
        n = len(target)
        variants = [False]
        if lang["usable"]:
            variants = {"on": [True], "off": [False]}.get(self.language, [False, True])
        default_lang = lang["usable"] and self.language != "off" and not lang["multilingual"]
        default = (DEFAULT_CANDIDATE, default_lang)
        results: dict[tuple[str, bool], dict] = {}
        if n < MIN_TARGET:
            why = f"{n} target documents: too few to hold some out; the default"
            best: tuple = (
                default
                if DEFAULT_CANDIDATE in self.candidates
                else (
                    self.candidates[0],
                    default_lang,
                )
            )
            fused = None
            folds = 0
        else:
            folds = 1 if n // 5 >= MIN_HELD else FOLDS
            cmp_idx = _spread(len(sample), self.compare_sample)
            cmp = sample.take(pa.array(cmp_idx))
            cmp_keep = lang["sample_keep"][cmp_idx] if lang["usable"] else None
            per: dict[tuple[str, bool], list] = {}
            combine = self._cheap_hybrid()
            for name in self.candidates:
                for use in variants:
                    if name == "hybrid" and combine:
                        continue  # measured from its components' scores, below
                    t0 = time.perf_counter()
                    per[(name, use)] = self._held_out(
                        name=name,
                        target=target,
                        raw=cmp,
                        raw_keep=cmp_keep if use else None,
                        target_keep=lang["target_keep"] if use else None,
                        folds=folds,
                    )
                    rec, auc = _measure(per[(name, use)], share)
                    results[(name, use)] = {
                        "method": name,
                        "language_filter": use,
                        "recall": round(rec, 4),
                        "auc": round(auc, 4),
                        "seconds": round(time.perf_counter() - t0, 3),
                    }
            if combine:
                for use in variants:
                    t0 = time.perf_counter()
                    per[("hybrid", use)] = _zsum([per[(c, use)] for c in combine])
                    rec, auc = _measure(per[("hybrid", use)], share)
                    results[("hybrid", use)] = {
                        "method": "hybrid",
                        "language_filter": use,
                        "recall": round(rec, 4),
                        "auc": round(auc, 4),
                        "seconds": round(time.perf_counter() - t0, 3),
                    }
            n_held = sum(len(f[1]) for f in next(iter(per.values())))
            best, why = self._choose(results, default, n_held)
            fused = None
            if self.fuse_top:
                fused = self._fusion(per, results, best, share)
                # like any challenger, the fusion must win by more than one standard error
                if fused is not None and fused["recall"] - results[best]["recall"] > _se(
                    results[best]["recall"], n_held
                ):
                    why = (
                        f"the fusion of {' + '.join(fused['methods'])} measured "
                        f"{fused['recall']:.3f} against {results[best]['recall']:.3f} for "
                        f"{best[0]} alone"
                    )
                    best = (tuple(fused["methods"]), best[1])
                    fused["chosen"] = True
        names = list(best[0]) if isinstance(best[0], tuple) else [best[0]]
        self.chosen = names
        self.use_language = bool(best[1])
        self._refit(names, target, sample, lang)
        self.decision = {
            "candidates": [results[k] for k in sorted(results, key=lambda k: (k[0], k[1]))],
            "fusion": fused,
            "share": round(share, 6),
            "held_out": {0: "none", 1: "every fifth target document"}.get(folds, f"{folds}-fold"),
            "folds": folds,
            "target_docs": n,
            "compare_docs": int(min(len(sample), self.compare_sample)),
            "chosen": "+".join(names),
            "language_filter": self.use_language,
            "languages": lang.get("languages"),
            "language_quotas": self.language_quotas,
            "why": why,
            "excluded": [self.dense_note] if self.dense_note else [],
            "seconds": round(time.perf_counter() - t_start, 3),
        }
        return self

    def _cheap_hybrid(self) -> list[str]:
        """The hybrid's components when all are candidates too: the hybrid is then measured
        from their held-out scores (z-scored against the raw slice, summed with equal
        weights) instead of fitting every component again, twice (its own weight
        hold-out); it was auto's dearest candidate. Refitted for real when it wins."""
        if "hybrid" not in self.candidates or "hybrid" in self.options:
            return []
        from thresher.scorers.hybrid import DEFAULT_COMBINE

        return list(DEFAULT_COMBINE) if set(DEFAULT_COMBINE) <= set(self.candidates) else []

    def _language(self, target: pa.Array, sample: pa.Array) -> dict[str, Any]:
        """The target's languages and which documents the language filter would keep."""
        if self.language == "off":
            return {"usable": False, "multilingual": False}
        from thresher.filters.langid import LanguageFilter

        lf = LanguageFilter("auto")
        info = lf.fit_target(target)
        sample_keep = lf.apply(sample).keep
        target_keep = lf.apply(target).keep
        multi = len(info["languages"]) > 1
        counts = info["target_counts"]
        inside = sum(counts.get(x, 0) for x in info["languages"])
        self.language_filter = lf
        self.language_quotas = (
            {x: round(counts.get(x, 0) / inside, 6) for x in info["languages"]} if multi else None
        )
        return {
            # a filter that keeps every sampled raw document changes nothing worth measuring
            "usable": not bool(sample_keep.all()),
            "multilingual": multi,
            "languages": info["languages"],
            "sample_keep": sample_keep,
            "target_keep": target_keep,
        }

    def _held_out(
        self,
        name: str,
        target: pa.Array,
        raw: pa.Array,
        raw_keep: np.ndarray | None,
        target_keep: np.ndarray | None,
        folds: int,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per fold: (raw scores, held-out target scores); filtered documents score -inf."""
        n = len(target)
        fit_raw = raw if raw_keep is None else raw.filter(pa.array(raw_keep))
        out = []
        for f in range(folds):
            held = np.arange(n) % 5 == f if folds == 1 else np.arange(n) % folds == f
            s = self._make(name).fit(target.filter(pa.array(~held)), fit_raw)
            rs = np.full(len(raw), -np.inf)
            kept = np.asarray(s.score(fit_raw), dtype=np.float64)
            if raw_keep is None:
                rs = kept
            else:
                rs[raw_keep] = kept
            ts = np.asarray(s.score(target.filter(pa.array(held))), dtype=np.float64)
            if target_keep is not None:
                ts = np.where(target_keep[held], ts, -np.inf)
            out.append((rs, ts))
        return out

    def _choose(
        self, results: dict[tuple[str, bool], dict], default: tuple[str, bool], n_held: int
    ) -> tuple[tuple[str, bool], str]:
        """The best measured candidate, unless within one standard error of the default."""
        key = max(results, key=lambda k: (results[k]["recall"], results[k]["auc"]))
        best = results[key]
        if default not in results:
            return key, f"best held-out recall ({best['recall']:.3f})"
        d = results[default]
        p = d["recall"]
        se = _se(p, n_held)
        if key == default:
            return key, f"best held-out recall ({best['recall']:.3f}); also the default"
        if best["recall"] - p <= se:
            return default, (
                f"{_label(key)} measured {best['recall']:.3f}, within one standard error "
                f"({se:.3f}, {n_held} held-out docs) of the default {_label(default)} "
                f"({p:.3f}): the default"
            )
        return key, (
            f"best held-out recall ({best['recall']:.3f}), above the default "
            f"{_label(default)} ({p:.3f}) by more than one standard error ({se:.3f})"
        )

    def _fusion(self, per: dict, results: dict, best: tuple[str, bool], share: float):
        """Mean percentile of the two best candidates with the winner's language setting."""
        same = [k for k in results if k[1] == best[1] and k != best]
        if not same:
            return None
        second = max(same, key=lambda k: (results[k]["recall"], results[k]["auc"]))
        folds = []
        for (ra, ta), (rb, tb) in zip(per[best], per[second], strict=True):
            sa, sb = np.sort(ra), np.sort(rb)
            rf = (_percentile(sa, ra) + _percentile(sb, rb)) / 2
            tf = (_percentile(sa, ta) + _percentile(sb, tb)) / 2
            rf[~np.isfinite(ra)] = -np.inf
            tf[~np.isfinite(ta)] = -np.inf
            folds.append((rf, tf))
        rec, auc = _measure(folds, share)
        return {
            "methods": [best[0], second[0]],
            "language_filter": best[1],
            "recall": round(rec, 4),
            "auc": round(auc, 4),
            "chosen": False,
        }

    def _refit(self, names: list[str], target: pa.Array, sample: pa.Array, lang: dict) -> None:
        """Fit the winner(s) on the whole target and fit sample (the language-kept part)."""
        fit_raw = sample
        if self.use_language:
            fit_raw = sample.filter(pa.array(lang["sample_keep"]))
        else:
            self.language_filter = None
            self.language_quotas = None
        self.winners = [self._make(n).fit(target, fit_raw) for n in names]
        self.ref_sorted = []
        if len(names) > 1:
            ref = fit_raw.take(pa.array(_spread(len(fit_raw), 20_000)))
            self.ref_sorted = [np.sort(np.asarray(w.score(ref), np.float64)) for w in self.winners]

    # -- score -------------------------------------------------------------------------------
    def score(self, texts: pa.Array) -> np.ndarray:
        if not self.winners:
            raise RuntimeError("AutoScorer.score called before fit")
        texts = as_string_array(texts)
        if len(self.winners) == 1:
            return np.asarray(self.winners[0].score(texts), dtype=np.float32)
        pct = [
            _percentile(ref, np.asarray(w.score(texts), np.float64))
            for w, ref in zip(self.winners, self.ref_sorted, strict=True)
        ]
        return (np.mean(pct, axis=0)).astype(np.float32)

    def summary(self) -> list[str]:
        """A few lines for the console: the candidates' held-out recall and the choice."""
        d = self.decision
        if not d:
            return []
        rows = sorted(d["candidates"], key=lambda r: (-r["recall"], -r["auc"]))
        cands = ", ".join(
            f"{r['method']}{'+lang' if r['language_filter'] else ''} {r['recall']:.3f}"
            for r in rows
        )
        lines = [
            f"auto: held-out recall at share {d['share']:.3g} ({d['held_out']}, "
            f"{d['compare_docs']:,} raw docs): {cands or 'not measured'}",
            f"auto: chose {d['chosen']}{' with the language filter' if d['language_filter'] else ''}"
            f": {d['why']}",
        ]
        if d["language_quotas"]:
            q = ", ".join(f"{k}={v:.2f}" for k, v in d["language_quotas"].items())
            lines.append(f"auto: multilingual target: language quotas {q}")
        lines += [f"auto: {x}" for x in d["excluded"]]
        return lines


def _se(p: float, n: int) -> float:
    """One standard error of a recall ``p`` measured on ``n`` held-out documents (binomial,
    plus half a document so that a recall of 1.0 from few documents is not certain)."""
    return float(np.sqrt(p * (1 - p) / n)) + 0.5 / n


def _label(key: tuple[str, bool]) -> str:
    return f"{key[0]}{' + language filter' if key[1] else ''}"


def _zsum(parts: list[list[tuple[np.ndarray, np.ndarray]]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per fold, the sum of the components' scores z-scored by the raw slice (filtered
    documents stay -inf)."""
    out = []
    for folds in zip(*parts, strict=True):
        rsum = np.zeros(len(folds[0][0]))
        tsum = np.zeros(len(folds[0][1]))
        for rs, ts in folds:
            fin = rs[np.isfinite(rs)]
            mu, sd = (fin.mean(), fin.std() or 1.0) if len(fin) else (0.0, 1.0)
            rsum = rsum + (rs - mu) / sd
            tsum = tsum + (ts - mu) / sd
        out.append((rsum, tsum))
    return out


def _measure(folds: list[tuple[np.ndarray, np.ndarray]], share: float) -> tuple[float, float]:
    """Recall at ``share`` and mean percentile of the held-out documents, over all folds."""
    hits = total = 0
    pct_sum = 0.0
    for rs, ts in folds:
        cut = np.quantile(rs, 1.0 - share, method="higher") if len(rs) else np.inf
        hits += int(np.sum(ts > cut)) if np.isfinite(cut) else int(np.sum(np.isfinite(ts)))
        total += len(ts)
        pct_sum += float(_percentile(np.sort(rs), ts)[np.isfinite(ts)].sum())
    if total == 0:
        return 0.0, 0.0
    return hits / total, pct_sum / total
