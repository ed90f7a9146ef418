"""Report sections for ``--method auto`` and the target diagnostics (manifest ``auto`` and
``target_check``): which methods were measured, how each did, what was chosen and why; what
looked wrong with the target."""

from __future__ import annotations

from html import escape


def _e(x: object) -> str:
    return escape(str(x))


def auto_section(manifest: dict) -> str:
    """Candidates with their held-out recall, and the choice (empty without ``auto``)."""
    a = manifest.get("auto")
    if not a:
        return ""
    rows = sorted(a.get("candidates") or [], key=lambda r: (-r["recall"], -r["auc"]))
    body = "".join(
        f"<tr><td>{_e(r['method'])}</td><td>{'yes' if r['language_filter'] else 'no'}</td>"
        f"<td class='n'>{r['recall']:.3f}</td><td class='n'>{r['auc']:.3f}</td>"
        f"<td class='n'>{r['seconds']:.1f} s</td></tr>"
        for r in rows
    )
    f = a.get("fusion")
    if f:
        body += (
            f"<tr><td>fusion {_e(' + '.join(f['methods']))}</td>"
            f"<td>{'yes' if f['language_filter'] else 'no'}</td>"
            f"<td class='n'>{f['recall']:.3f}</td><td class='n'>{f['auc']:.3f}</td><td></td></tr>"
        )
    quotas = a.get("language_quotas")
    q = ""
    if quotas:
        q = (
            "<p>Multilingual target: language quotas "
            + _e(", ".join(f"{k}={v:.2f}" for k, v in quotas.items()))
            + "</p>"
        )
    excluded = "".join(f"<p class='note'>{_e(x)}</p>" for x in a.get("excluded") or [])
    return (
        "<section id='auto'><h2>Method: auto</h2>"
        f"<p>Chose <b>{_e(a['chosen'])}</b>"
        f"{' with the language filter' if a.get('language_filter') else ''}: {_e(a['why'])}</p>"
        f"<p class='note'>Held out: {_e(a['held_out'])} of {a['target_docs']} target docs; "
        f"measure: share of held-out target docs above the {a['compare_docs']:,} raw docs' "
        f"top {a['share']:.3g} (recall at the selection's share); AUC breaks ties.</p>"
        "<table><tr><th>method</th><th>language filter</th><th>held-out recall</th>"
        f"<th>AUC</th><th>time</th></tr>{body}</table>{q}{excluded}</section>"
    )


def target_check_section(manifest: dict) -> str:
    """Outliers, duplicates and raw copies of the target (empty without ``target_check``)."""
    t = manifest.get("target_check")
    if not t:
        return ""
    langs = ", ".join(f"{k} {v}" for k, v in (t.get("languages") or {}).items())
    items = [f"<p>{t['target_docs']} target docs ({_e(langs)}).</p>"]
    outl = t.get("outliers") or []
    if outl:
        rows = "".join(
            f"<tr><td>{_e(o['where'])}</td><td>{_e(', '.join(o['reasons']))}</td>"
            f"<td>{_e(o['language'])}</td><td class='n'>{o['chars']}</td></tr>"
            for o in outl[:50]
        )
        items.append(
            f"<p>{len(outl)} outliers ({_e(t['outlier_action'])}; "
            f"{t['outliers_dropped']} dropped before fitting):</p>"
            f"<table><tr><th>document</th><th>why</th><th>language</th><th>chars</th></tr>"
            f"{rows}</table>"
        )
    if t.get("duplicate_docs"):
        items.append(
            f"<p>{t['duplicate_docs']} duplicate docs in {t['duplicate_groups']} groups "
            f"(first groups, by target index: {_e(t['duplicate_examples'])}).</p>"
        )
    rc = t.get("raw_copies")
    if rc and rc.get("copies"):
        rows = "".join(
            f"<tr><td>{_e(e['raw'])}</td><td>{_e(e['target'])}</td><td>{_e(e['text'])}</td></tr>"
            for e in rc["examples"]
        )
        items.append(
            f"<p><b>Leak:</b> {rc['copies']} of {rc['sample_docs']:,} sampled raw docs are "
            f"(near-)copies of {rc['target_docs_copied']} target docs.</p>"
            f"<table><tr><th>raw</th><th>target</th><th>text</th></tr>{rows}</table>"
        )
    items += [f"<p class='note'>{_e(n)}</p>" for n in t.get("notes") or []]
    return "<section id='target-check'><h2>Target check</h2>" + "".join(items) + "</section>"
