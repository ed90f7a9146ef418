"""RUN_DIR/report.html: one self-contained page (inline CSS and SVG, no script, no network)."""

from __future__ import annotations

import html
import json
import math
import os
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa

from thresher.io.fs import out_path
from thresher.io.writers import atomic_write_bytes
from thresher.report import plots
from thresher.report.auto import auto_section, target_check_section
from thresher.report.docstats import BATCH_ROWS, DocStats
from thresher.report.rundata import drop_reasons, fetch_records, raw_sample, text_field
from thresher.rundir import (
    COLUMN_PREFIX,
    RunDir,
    iter_selected,
    load_manifest,
    read_rejects,
    selected_columns,
    writing,
)

# Fields shown in the composition section when present (plus the quota field).
PREFERRED_FIELDS = ("lang", "language", "domain", "category", "source", "subset", "type")
MAX_FIELDS = 4
RAW_SAMPLE_DOCS = 10_000  # raw documents read for the "before" composition
NGRAM_DOCS = 1_500  # documents per side for the enriched n-grams
NGRAM_CHARS = 600_000  # characters per side for the enriched n-grams
EXCERPT = 600
FULL_TEXT = 4_000
_WORD = re.compile(r"[^\W\d_]{2,}")


def write_report(run_dir: str | os.PathLike, batch_rows: int = BATCH_ROWS) -> Path:
    """Write RUN_DIR/report.html from the run directory; return its path. The decision
    table is read ``batch_rows`` rows at a time (:mod:`thresher.report.docstats`)."""
    run = out_path(run_dir)  # a local Path, or a RemotePath on a store
    t0 = time.perf_counter()
    manifest = load_manifest(run)
    plots.reset_ids()
    body = _Body(run, manifest, batch_rows).render()
    page = (
        _PAGE.replace("{title}", html.escape(f"thresher report: {run.resolve().name}"))
        .replace("{css}", _CSS)
        .replace("{seconds}", f"{time.perf_counter() - t0:.2f}")
        .replace("{body}", body)
    )
    run_dir = RunDir(run)
    with run_dir.lock(), writing(run_dir.report):
        atomic_write_bytes(run_dir.report, page.encode("utf-8"))
    return run_dir.report


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _fmt(x: object, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return "–" if not math.isfinite(x) else f"{x:.{digits}g}"
    return str(x)


class _Body:
    def __init__(self, run: Path, manifest: dict, batch_rows: int = BATCH_ROWS) -> None:
        self.run = run
        self.m = manifest
        self.tf = text_field(manifest)
        self.stats = DocStats(run, batch_rows)  # the decision table, read in batches

    # -- sections ---------------------------------------------------------------------
    def render(self) -> str:
        parts = [self.header(), self.funnel(), self.hygiene_section()]
        parts += [self.scores_section(), self.kl_section()]
        parts += [auto_section(self.m), target_check_section(self.m)]
        parts.append(self.composition())
        parts.append(self.examples())
        parts.append(self.ngrams_section())
        parts.append(self.eval_section())
        parts.append(self.run_section())
        return "\n".join(p for p in parts if p)

    def header(self) -> str:
        c = self.m.get("counts", {})
        mt = self.m.get("metrics", {})
        cfg = self.m.get("config", {})
        cards = [
            ("documents read", _fmt(c.get("read"))),
            ("selected", _fmt(c.get("selected"))),
            *self._token_cards(),
            ("KL reduction", _fmt(mt.get("kl_reduction"))),
            (
                "… random, same tokens"
                if (self.m.get("tokens") or {}).get("budget")
                else "… random, same size",
                _fmt(mt.get("kl_reduction_random")),
            ),
        ]
        ev = self._eval()
        for model, r in (ev.get("runs") or {}).items():
            res = r.get("results", {})
            if "selection" in res and "random" in res:
                cards.append(
                    (
                        f"held-out CE ({model}): selection vs random",
                        f"{res['selection']['ce']:.3f} vs {res['random']['ce']:.3f}",
                    )
                )
        cmd = " ".join(self.m.get("command") or [])
        when = time.strftime(
            "%Y-%m-%d %H:%M", time.localtime(RunDir(self.run).manifest.stat().st_mtime)
        )
        return (
            f"<header><h1>thresher report</h1><p class='sub'>{_e(self.run.resolve())} · {when} · "
            f"method <b>{_e(cfg.get('method'))}</b>, mode <b>{_e(cfg.get('mode') or 'default')}</b>, "
            f"seed {_e(cfg.get('seed'))}</p>"
            + (f"<pre class='cmd'>{_e(cmd)}</pre>" if cmd else "")
            + "<div class='cards'>"
            + "".join(
                f"<div class='card'><div class='v'>{_e(v)}</div><div class='k'>{_e(k)}</div></div>"
                for k, v in cards
            )
            + "</div></header>"
        )

    def _token_cards(self) -> list[tuple[str, str]]:
        """Tokens selected (of the budget), and how they were counted."""
        c = self.m.get("counts", {})
        tok = self.m.get("tokens") or {}
        if "tokens_selected" not in c:  # a run from before token counts
            return []
        how = "estimated" if tok.get("counter") == "estimate" else "tokenizer"
        value = _fmt(c["tokens_selected"])
        if tok.get("budget"):
            value += f" of {_fmt(tok['budget'])} ({tok['fill']:.1%})"
        return [(f"tokens selected ({how})", value)]

    def funnel(self) -> str:
        c = self.m.get("counts", {})
        has_tokens = "tokens_read" in c
        rows = "".join(
            f"<tr><td>{_e(k.replace('_', ' '))}</td><td class='n'>{_fmt(c.get(k, 0))}</td>"
            + (
                f"<td class='n'>{_fmt(c.get('tokens_' + k, 0)) if k != 'rejected' else ''}</td>"
                if has_tokens
                else ""
            )
            + "</tr>"
            for k in ("read", "rejected", "filtered", "duplicate", "not_selected", "selected")
        )
        head = "<th>tokens</th>" if has_tokens else ""
        rtab = self._drop_rules()
        rej = Counter(r.get("reason", "").split(":")[0] for r in read_rejects(self.run, 100_000))
        if rej:
            rtab += (
                "<table><tr><th>reject reason (unreadable rows)</th><th>rows</th></tr>"
                + "".join(
                    f"<tr><td>{_e(k)}</td><td class='n'>{v:,}</td></tr>"
                    for k, v in rej.most_common(10)
                )
                + "</table>"
            )
        return (
            "<section id='funnel'><h2>Funnel</h2><div class='row'>"
            f"<div class='fig'>{plots.funnel(c)}</div>"
            f"<div class='side'><table><tr><th>stage</th><th>documents</th>{head}</tr>{rows}</table>{rtab}</div>"
            "</div></section>"
        )

    def _drop_rules(self) -> str:
        """Dropped documents grouped by the rule that dropped them, with the median value."""
        counts = self.stats.drop_rules
        if not counts:
            return ""
        rows = []
        for rule, n in counts.most_common(15):
            v = self.stats.rule_median(rule)
            median = _fmt(v) if v is not None else "–"
            rows.append(
                f"<tr><td>{_e(rule)}</td><td class='n'>{n:,}</td><td class='n'>{_e(median)}</td></tr>"
            )
        return (
            "<table><tr><th>drop rule</th><th>documents</th><th>median value</th></tr>"
            + "".join(rows)
            + "</table>"
        )

    def hygiene_section(self) -> str:
        """Decontamination (per eval set, most-matched items, examples) and PII redactions."""
        dc, red = self.m.get("decontamination"), self.m.get("redactions")
        if not dc and not red:
            return ""
        out = ["<section id='hygiene'><h2>Decontamination and PII</h2>"]
        if dc:
            out.append(
                f"<p class='note'>{_fmt(dc.get('items'))} eval items, {_fmt(dc.get('ngrams'))} "
                f"distinct {_e(dc.get('ngram'))}-grams (shorter items matched whole); mode "
                f"<b>{_e(dc.get('mode'))}</b>: {_fmt(dc.get('dropped'))} documents dropped as "
                f"<code>contaminated</code>, {_fmt(dc.get('excised'))} excised and kept.</p>"
                "<table><tr><th>eval set</th><th>items</th><th>dropped</th><th>excised</th></tr>"
                + "".join(
                    f"<tr><td>{_e(p['file'])}</td><td class='n'>{_fmt(p.get('items'))}</td>"
                    f"<td class='n'>{_fmt(p['dropped'])}</td><td class='n'>{_fmt(p['excised'])}</td></tr>"
                    for p in dc.get("per_eval_set", [])
                )
                + "</table>"
            )
            if dc.get("top_items"):
                out.append(
                    "<h3>Most-matched eval items</h3><table><tr><th>eval set</th><th>row</th>"
                    "<th>documents</th><th>item</th></tr>"
                    + "".join(
                        f"<tr><td>{_e(Path(t['file']).name)}</td><td class='n'>{t['row']}</td>"
                        f"<td class='n'>{_fmt(t['documents'])}</td><td>{_e(t['text'][:160])}</td></tr>"
                        for t in dc["top_items"]
                    )
                    + "</table>"
                )
            ex = dc.get("examples") or []
            if ex:
                keys = [(e["source"], int(e["row"])) for e in ex]
                recs = fetch_records(keys, [self.tf], self.m.get("cwd"), run=self.run)
                out.append("<h3>Contaminated documents</h3><div class='docs'>")
                for e in ex:
                    text = (recs.get((e["source"], int(e["row"]))) or {}).get(self.tf) or ""
                    why = (
                        f"{e['ngrams']} n-grams of {Path(e['eval_file']).name} row {e['eval_row']}: "
                        f"{e.get('eval_text', '')[:120]}"
                    )
                    verdict = "filtered" if e.get("dropped") else "excised"
                    out.append(
                        self._doc_card(e["source"], e["row"], float("nan"), verdict, why, text)
                    )
                out.append("</div>")
        if red:
            kinds = red.get("kinds", [])
            out.append(
                "<h3>PII redacted</h3><table><tr><th>kind</th><th>placeholders written</th></tr>"
                + "".join(
                    f"<tr><td>{_e(k)}</td><td class='n'>{_fmt(red.get(k, 0))}</td></tr>"
                    for k in kinds
                )
                + f"<tr><td>documents with any</td><td class='n'>{_fmt(red.get('documents'))}</td></tr>"
                "</table><p class='note'>Counted in documents that passed every filter; "
                "the per-document counts are the <code>thresher_redacted_*</code> columns.</p>"
            )
        out.append("</section>")
        return "".join(out)

    def scores_section(self) -> str:
        cut = (self.m.get("metrics") or {}).get("score_cut")
        mode = (self.m.get("config") or {}).get("mode") or (
            "resample" if (self.m.get("config") or {}).get("method") == "dsir" else "topk"
        )
        note = (
            "Importance resampling draws documents in proportion to their weight, so some "
            "documents above the dashed line are not selected and the selection's lowest score "
            "marks no hard cut."
            if mode == "resample"
            else "Documents at or above the dashed line were selected."
        )
        return (
            "<section id='scores'><h2>Scores</h2>"
            f"<div class='fig'>{self._score_histogram(cut, mode)}</div>"
            f"<p class='note'>{_e(note)}</p></section>"
        )

    def _score_histogram(self, cut: float | None, mode: str) -> str:
        """The eligible documents' score histogram, counted batch by batch; the ends are the
        0.5 and 99.5 percentiles of the finite scores (min and max for 50 or fewer)."""
        st = self.stats
        sizes = (st.n_selected, st.n_other)
        if st.n_finite == 0:
            return plots.binned_score_histogram(None, None, None, sizes, cut, mode)
        lo, hi = st.clip_range()
        if hi <= lo:
            lo, hi = st.lo - 0.5, st.hi + 0.5
        bins = np.linspace(lo, hi, 50)
        other, sel = st.score_counts(bins, lo, hi)
        return plots.binned_score_histogram(bins, other, sel, sizes, cut, mode)

    def kl_section(self) -> str:
        mt = self.m.get("metrics", {})
        rows = "".join(
            f"<tr><td>{_e(k)}</td><td class='n'>{_fmt(mt.get(k))}</td></tr>"
            for k in (
                "kl_target_raw",
                "kl_target_selected",
                "kl_target_random",
                "kl_reduction",
                "kl_reduction_random",
            )
            if k in mt
        )
        return (
            "<section id='kl'><h2>KL reduction vs random</h2><div class='row'>"
            f"<div class='fig small'>{plots.kl_bars(mt)}</div>"
            f"<div class='side'><table><tr><th>metric</th><th>value</th></tr>{rows}</table>"
            "<p class='note'>KL divergence of the target's hashed n-gram distribution from that of the "
            "raw corpus, the selection and a random selection of the same size. KL reduction is the mean "
            "drop from raw (DSIR); it correlates with downstream accuracy.</p></div></div></section>"
        )

    # -- composition --------------------------------------------------------------------
    def _fields(self) -> list[str]:
        cols = [
            c
            for c in selected_columns(self.run)
            if c != self.tf and not c.startswith(COLUMN_PREFIX)
        ]
        qf = (self.m.get("config") or {}).get("quota_field")
        chosen = [qf] if qf and qf in cols else []
        chosen += [c for c in PREFERRED_FIELDS if c in cols and c not in chosen]
        return chosen[:MAX_FIELDS]

    def composition(self) -> str:
        figs = []
        before_src = self.stats.sources
        after_src = self.stats.selected_sources
        if len(before_src) > 1:
            figs.append(plots.composition("by source file", before_src, after_src))
        fields = self._fields()
        self._raw, self._raw_how = [], ""
        stride = max(1, int((self.m.get("counts") or {}).get("read", 0)) // NGRAM_DOCS)
        self._raw, self._raw_how = raw_sample(
            self.m,
            fields,
            max_docs=RAW_SAMPLE_DOCS,
            text_chars=FULL_TEXT,
            text_every=stride,
            run=self.run,
        )
        notes = []
        if fields:
            after: dict[str, Counter] = {f: Counter() for f in fields}
            n_after = 0
            for rec in iter_selected(self.run, fields, limit=100_000):
                n_after += 1
                for f in fields:
                    after[f][_label(rec.get(f))] += 1
            for f in fields:
                before = Counter(_label(r.get(f)) for r in self._raw)
                figs.append(plots.composition(f"by field '{f}'", before, after[f]))
            notes.append(f"Before: {self._raw_how}. After: {n_after:,} selected documents.")
        if len(before_src) <= 1:
            notes.append(f"One raw source file: {', '.join(before_src) or '(none)'}.")
        else:
            notes.append("Source files: exact counts from the decision table.")
        return (
            "<section id='composition'><h2>Composition before and after</h2>"
            + "".join(f"<div class='fig half'>{f}</div>" for f in figs)
            + "".join(f"<p class='note'>{_e(n)}</p>" for n in notes)
            + "</section>"
        )

    # -- documents ----------------------------------------------------------------------
    def examples(self) -> str:
        st = self.stats
        groups: list[tuple[str, str, list[int]]] = []
        groups.append(
            ("Top-scored", "the highest scores among eligible documents", st.top.indices())
        )
        groups.append(
            (
                "Borderline",
                "the lowest-scored selected and the highest-scored not selected documents",
                st.low_selected.indices() + st.high_other.indices(),
            )
        )
        groups.append(
            ("Lowest-scored", "the lowest scores among eligible documents", st.lowest.indices())
        )
        dropped = st.dropped["filtered"] + st.dropped["duplicate"]
        if dropped:
            groups.append(
                (
                    "Dropped",
                    "examples of filtered and duplicate documents, with the reason",
                    dropped,
                )
            )
        shown = [i for _, _, idx in groups for i in idx]
        docs = st.rows_at(shown)  # position -> its row of the decision table
        keys = [(docs[i]["source"] or "", int(docs[i]["row"])) for i in shown]
        recs = fetch_records(keys, [self.tf], self.m.get("cwd"), run=self.run)
        reasons = dict(zip(docs, drop_reasons(_reason_table(docs.values())), strict=True))
        out = ["<section id='documents'><h2>Documents</h2>"]
        for title, desc, idx in groups:
            if not idx:
                continue
            out.append(
                f"<h3>{_e(title)} <span class='note'>({_e(desc)})</span></h3><div class='docs'>"
            )
            for i in idx:
                d = docs[i]
                src, row = d["source"] or "", int(d["row"])
                rec = recs.get((src, row))
                text = (rec or {}).get(self.tf) or "(text not available: raw input not found)"
                status = d["status"] or ""
                verdict = (
                    "selected"
                    if d["selected"]
                    else (status if status != "eligible" else "not selected")
                )
                score = float("nan") if d["score"] is None else d["score"]
                out.append(self._doc_card(src, row, score, verdict, reasons[i], text))
            out.append("</div>")
        rejects = read_rejects(self.run, 5)
        if rejects:
            out.append(
                "<h3>Rejected rows <span class='note'>(unreadable input, from rejects/)</span></h3><div class='docs'>"
            )
            for r in rejects:
                out.append(
                    self._doc_card(
                        r.get("source", r.get("file")),
                        r.get("row"),
                        float("nan"),
                        "rejected",
                        r.get("reason"),
                        r.get("excerpt") or "",
                    )
                )
            out.append("</div>")
        out.append("</section>")
        return "".join(out)

    def _doc_card(self, src, row, score, verdict, reason, text: str) -> str:
        text = str(text)
        excerpt = text[:EXCERPT] + ("…" if len(text) > EXCERPT else "")
        more = ""
        if len(text) > EXCERPT:
            more = f"<details><summary>more</summary><div class='text'>{_e(text[:FULL_TEXT])}{'…' if len(text) > FULL_TEXT else ''}</div></details>"
        cls = (
            "sel"
            if verdict == "selected"
            else ("drop" if verdict in ("filtered", "duplicate", "rejected") else "uns")
        )
        return (
            f"<div class='doc {cls}'><div class='meta'><span class='badge {cls}'>{_e(verdict)}</span> "
            f"score <b>{_e(_fmt(float(score)))}</b> · {_e(Path(str(src)).name)} row {_e(row)}"
            + (f" · reason <code>{_e(reason)}</code>" if reason else "")
            + f"</div><div class='text'>{_e(excerpt)}</div>{more}</div>"
        )

    # -- n-grams --------------------------------------------------------------------------
    def ngrams_section(self) -> str:
        raw_texts = [r[self.tf] for r in self._raw if r.get(self.tf)]
        sel_texts = [
            r[self.tf]
            for r in iter_selected(self.run, [self.tf], limit=NGRAM_DOCS)
            if r.get(self.tf)
        ]
        if not raw_texts or not sel_texts:
            return ""
        sw, sb, sn = _count(sel_texts)
        rw, rb, rn = _count(raw_texts)
        tables = []
        for name, a, b, na, nb in (
            ("words", sw, rw, sn[0], rn[0]),
            ("bigrams", sb, rb, sn[1], rn[1]),
        ):
            top = log_odds(a, b, na, nb, 20)
            tables.append(
                f"<table class='ng'><tr><th>{name}</th><th>z</th><th>per 10k in selection</th><th>per 10k in raw</th></tr>"
                + "".join(
                    f"<tr><td>{_e(g)}</td><td class='n'>{z:.1f}</td><td class='n'>{1e4 * ca / max(na, 1):.1f}</td>"
                    f"<td class='n'>{1e4 * cb / max(nb, 1):.1f}</td></tr>"
                    for g, z, ca, cb in top
                )
                + "</table>"
            )
        return (
            "<section id='ngrams'><h2>What the selection is about</h2>"
            f"<p class='note'>Words and bigrams most enriched in the selection relative to the raw corpus "
            f"(log-odds ratio with an informative Dirichlet prior, Monroe et al. 2008; z-scores). "
            f"Sample: {len(sel_texts):,} selected and {len(raw_texts):,} raw documents, at most "
            f"{NGRAM_CHARS:,} characters per side.</p><div class='row'>{''.join(tables)}</div></section>"
        )

    # -- proxy evaluation -----------------------------------------------------------------
    def _eval(self) -> dict:
        if not hasattr(self, "_ev"):
            p = RunDir(self.run).eval
            try:
                self._ev = json.loads(p.read_text()) if p.exists() else {}
            except (OSError, ValueError):
                self._ev = {}
        return self._ev

    def eval_section(self) -> str:
        ev = self._eval()
        runs = ev.get("runs") or {}
        if not runs:
            return (
                "<section id='eval'><h2>Proxy training</h2><p class='note'>Not run. "
                "<code>thresher eval RUN_DIR --heldout target_heldout.jsonl</code> trains the same small "
                "language model on the selection and on a random sample of equal size and compares "
                "their held-out target loss.</p></section>"
            )
        rows = []
        for model, r in runs.items():
            res = r.get("results", {})
            for name in ("selection", "random"):
                x = res.get(name)
                if not x:
                    continue
                rows.append(
                    f"<tr><td>{_e(model)}</td><td>{_e(name)}</td><td class='n'>{_fmt(x.get('docs'))}</td>"
                    f"<td class='n'>{_fmt(x.get('tokens'))}</td><td class='n'>{x['ce']:.4f}</td>"
                    f"<td class='n'>{x.get('ppl', math.exp(x['ce'])):.3f}</td>"
                    f"<td class='n'>{_fmt(x.get('best_ce'))}</td></tr>"
                )
        desc = "; ".join(
            f"{m}: {r.get('description', '')} ({_fmt(r.get('seconds'), 3)} s)"
            for m, r in runs.items()
        )
        return (
            "<section id='eval'><h2>Proxy training: selection vs random</h2>"
            f"<div class='fig'>{plots.learning_curves(runs)}</div>"
            "<table><tr><th>model</th><th>training data</th><th>docs</th><th>tokens</th>"
            "<th>held-out CE (nats/token)</th><th>perplexity</th><th>best CE</th></tr>"
            + "".join(rows)
            + f"</table><p class='note'>{_e(desc)}. Tokens are UTF-8 bytes; both models see the same "
            "number of training tokens; lower is better.</p></section>"
        )

    def run_section(self) -> str:
        t = self.m.get("timings") or {}
        th = self.m.get("throughput") or {}
        ins = (self.m.get("inputs") or {}).get("raw") or []
        rows = "".join(
            f"<tr><td>{_e(k)}</td><td class='n'>{v:.3f} s</td></tr>" for k, v in t.items()
        )
        inputs = "".join(
            f"<tr><td>{_e(i.get('path'))}</td><td>{_e(i.get('format'))}</td><td class='n'>{_fmt(i.get('bytes'))}</td></tr>"
            for i in ins[:50]
        )
        return (
            "<section id='run'><h2>Run</h2><div class='row'>"
            + self._learned()
            + f"<table><tr><th>stage</th><th>time</th></tr>{rows}"
            f"<tr><td>docs/s</td><td class='n'>{_e(_fmt(th.get('docs_per_s')))}</td></tr></table>"
            f"<table><tr><th>raw input</th><th>format</th><th>bytes</th></tr>{inputs}</table>"
            "</div></section>"
        )

    def _learned(self) -> str:
        """What the run decided from the target: languages, hybrid weights, the BETR teacher."""
        mt = self.m.get("metrics") or {}
        rows = []
        lang = mt.get("target_languages")
        if lang:
            counts = ", ".join(f"{k} {v}" for k, v in (lang.get("target_counts") or {}).items())
            rows.append(
                (
                    "lang auto",
                    f"keep {', '.join(lang['languages'])} (score > "
                    f"{lang['min_score']:.2f}); target docs: {counts}",
                )
            )
        for name, w in (mt.get("hybrid_weights") or {}).items():
            rows.append((f"hybrid weight: {name}", f"{w:.3f}"))
        t = mt.get("teacher")
        if t:
            top = t.get("teacher_top")
            rows.append(
                (
                    "BETR teacher",
                    f"{t.get('teacher')}: {t.get('scored_docs')} docs at "
                    f"{t.get('docs_per_s', 0):.1f} docs/s"
                    + (f"; student learned its top {top:.1%}" if top else ""),
                )
            )
        if not rows:
            return ""
        body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
        return f"<table><tr><th>learned from the target</th><th></th></tr>{body}</table>"


def _reason_table(docs) -> pa.Table:
    """Rows of the decision table (dicts) as the columns :func:`drop_reasons` reads."""
    docs = list(docs)
    cols = {"rule": [d["rule"] for d in docs], "value": [d["value"] for d in docs]}
    if docs and "cluster" in docs[0]:
        cols["cluster"] = [d["cluster"] for d in docs]
    return pa.table(
        {
            "rule": pa.array(cols["rule"], pa.string()),
            "value": pa.array(cols["value"], pa.float64()),
            **({"cluster": pa.array(cols["cluster"], pa.int64())} if "cluster" in cols else {}),
        }
    )


def _label(v: object) -> str:
    if v is None:
        return "(missing)"
    return v if isinstance(v, str) else json.dumps(v)


def _count(texts: list[str]) -> tuple[Counter, Counter, tuple[int, int]]:
    words: Counter = Counter()
    bigrams: Counter = Counter()
    budget = NGRAM_CHARS
    for t in texts:
        if budget <= 0:
            break
        t = t[:budget]
        budget -= len(t)
        toks = _WORD.findall(t.lower())
        words.update(toks)
        bigrams.update(f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False))
    return words, bigrams, (sum(words.values()), sum(bigrams.values()))


def log_odds(
    a: Counter,
    b: Counter,
    na: int,
    nb: int,
    top: int = 20,
    prior: float = 500.0,
    min_count: int = 3,
) -> list[tuple[str, float, int, int]]:
    """Terms most over-represented in ``a`` vs ``b``: log-odds with an informative Dirichlet prior.

    The prior is the pooled distribution scaled to ``prior`` pseudo-counts;
    returns (term, z, count in a, count in b), highest z first.
    """
    terms = [t for t, c in a.items() if c >= min_count]
    if not terms:
        return []
    ya = np.array([a[t] for t in terms], dtype=np.float64)
    yb = np.array([b.get(t, 0) for t in terms], dtype=np.float64)
    pooled = (ya + yb) / max(na + nb, 1)
    aw = prior * pooled
    a0 = prior
    da = np.log((ya + aw) / (na + a0 - ya - aw))
    db = np.log((yb + aw) / (nb + a0 - yb - aw))
    z = (da - db) / np.sqrt(1.0 / (ya + aw) + 1.0 / (yb + aw))
    order = np.argsort(-z, kind="stable")[:top]
    return [(terms[i], float(z[i]), int(ya[i]), int(yb[i])) for i in order if z[i] > 0]


_CSS = """
:root{--sel:#2b6cb0;--uns:#718096;--drop:#c53030;--bg:#f7fafc;--fg:#1a202c}
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg);margin:0}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
h1{margin:0 0 4px;font-size:24px}h2{font-size:18px;margin:0 0 8px;border-bottom:1px solid #e2e8f0;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}
section,header{background:#fff;border:1px solid #e2e8f0;border-radius:6px;padding:14px 18px;margin:14px 0}
.sub{color:#4a5568;margin:0 0 6px}.cmd{background:#edf2f7;padding:6px 8px;border-radius:4px;white-space:pre-wrap;word-break:break-all;font-size:12px}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #e2e8f0;border-radius:6px;padding:8px 12px;min-width:150px}
.card .v{font-size:20px;font-weight:600}.card .k{color:#4a5568;font-size:12px}
.row{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.fig{flex:1 1 560px;min-width:320px}.fig.half{display:inline-block;width:49%;min-width:320px;vertical-align:top}.fig.small{flex:0 1 420px}
.side{flex:0 1 360px}
svg.plot{max-width:100%;height:auto}
table{border-collapse:collapse;margin:4px 0 10px;font-size:13px}
th,td{border-bottom:1px solid #edf2f7;padding:3px 10px 3px 0;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#4a5568;font-size:12px;font-weight:normal}
.docs{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:10px}
.doc{border:1px solid #e2e8f0;border-left:4px solid var(--uns);border-radius:4px;padding:8px 10px;font-size:13px}
.doc.sel{border-left-color:var(--sel)}.doc.drop{border-left-color:var(--drop)}
.meta{color:#4a5568;font-size:12px;margin-bottom:4px}
.badge{display:inline-block;padding:0 6px;border-radius:8px;color:#fff;background:var(--uns);font-size:11px}
.badge.sel{background:var(--sel)}.badge.drop{background:var(--drop)}
.text{white-space:pre-wrap;word-break:break-word;max-height:16em;overflow:auto;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
details summary{cursor:pointer;color:var(--sel);font-size:12px}
table.ng{min-width:360px}
footer{color:#718096;font-size:12px;text-align:center}
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style></head>
<body><main>
{body}
<footer>written by thresher in {seconds} s · self-contained: no script, no network</footer>
</main></body></html>
"""
