"""Page through a run's documents (selected and dropped) with their scores and reasons.

:func:`query` filters the decision table (and the rejects) by status, score
range and field values, and returns one page with text excerpts;
:func:`render` prints it as a rich table. Non-interactive: one call, one page.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thresher.errors import ThresherError
from thresher.io.fs import out_path
from thresher.report.rundata import (
    drop_reasons,
    fetch_records,
    iter_rows,
    resolve_source,
    text_field,
)
from thresher.rundir import TARGET_REJECTS, load_manifest, read_docs, read_rejects

STATUSES = ("selected", "not_selected", "filtered", "duplicate", "rejected")
DOC_FIELDS = ("source", "row", "status", "rule", "cluster")


@dataclass
class Page:
    total: int
    page: int
    page_size: int
    items: list[dict] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


def parse_where(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ThresherError(f"--where: expected FIELD=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v
    return out


def _verdict(status: str, selected: bool) -> str:
    if selected:
        return "selected"
    return "not_selected" if status == "eligible" else status


def query(
    run_dir: str | os.PathLike,
    status: list[str] | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
    where: dict[str, str] | None = None,
    page: int = 1,
    page_size: int = 20,
    sort: str = "score",
    text_chars: int = 300,
) -> Page:
    """One page of documents matching the filters, best score first (``sort='score'``) or in input order."""
    run = out_path(run_dir)  # a local Path, or a RemotePath on a store
    manifest = load_manifest(run)
    tf = text_field(manifest)
    base = manifest.get("cwd")
    status = list(status or [])
    for s in status:
        if s not in STATUSES:
            raise ThresherError(f"--status: {s!r} is not one of {', '.join(STATUSES)}")
    if sort not in ("score", "-score", "input"):
        raise ThresherError("--sort: score, -score or input")
    if page < 1 or page_size < 1:
        raise ThresherError("--page and --page-size start at 1")
    where = dict(where or {})

    docs = read_docs(run)
    st = np.asarray(docs.column("status").to_pylist(), dtype=object)
    sel = np.asarray(docs.column("selected").to_numpy(zero_copy_only=False), dtype=bool)
    verdict = np.where(sel, "selected", np.where(st == "eligible", "not_selected", st)).astype(
        object
    )
    scores = docs.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
    sources = np.asarray(docs.column("source").to_pylist(), dtype=object)
    rows = docs.column("row").to_numpy()
    reasons = drop_reasons(docs)
    mask = np.ones(len(docs), dtype=bool)
    if status:
        mask &= np.isin(verdict, status)
    if min_score is not None:
        mask &= scores >= min_score
    if max_score is not None:
        mask &= scores <= max_score
    raw_where = {}
    for k, v in where.items():
        if k in docs.column_names and k in DOC_FIELDS:
            col = np.asarray([str(x) for x in docs.column(k).to_pylist()], dtype=object)
            mask &= col == v
        elif k == "verdict":
            mask &= verdict == v
        else:
            raw_where[k] = v
    idx = np.flatnonzero(mask)
    if raw_where and len(idx):
        # Fields of the raw records: one pass over the candidate rows, keeping only those fields.
        by_src: dict[str, list[int]] = {}
        for i in idx:
            by_src.setdefault(sources[i], []).append(int(rows[i]))
        keep: set[tuple[str, int]] = set()
        for src, rs in by_src.items():
            try:
                for r, rec in iter_rows(resolve_source(src, base, run), rs):
                    if all(_as_str(rec.get(k)) == v for k, v in raw_where.items()):
                        keep.add((src, r))
            except ThresherError:
                continue
        idx = np.array([i for i in idx if (sources[i], int(rows[i])) in keep], dtype=np.int64)
    if sort in ("score", "-score"):
        s = scores[idx]
        s = np.where(np.isnan(s), -np.inf, s)
        order = np.argsort(-s if sort == "score" else s, kind="stable")
        idx = idx[order]
    items: list[dict] = []
    # Rejected rows (no score, no fields) come after the documents.
    rejects: list[dict] = []
    want_rejects = (not status or "rejected" in status) and min_score is None and max_score is None
    if want_rejects and all(k in ("source", "row", "reason") for k in where):
        for r in read_rejects(run):
            if r.get("file") == TARGET_REJECTS:
                continue
            if all(_as_str(r.get(k)) == v for k, v in where.items()):
                rejects.append(r)
    total = len(idx) + len(rejects)
    lo, hi = (page - 1) * page_size, page * page_size
    page_idx = idx[lo:hi]
    recs = fetch_records([(sources[i], int(rows[i])) for i in page_idx], base=base, run=run)
    for i in page_idx:
        rec = recs.get((sources[i], int(rows[i]))) or {}
        text = rec.get(tf)
        items.append(
            {
                "status": verdict[i],
                "score": None if math.isnan(scores[i]) else float(scores[i]),
                "source": sources[i],
                "row": int(rows[i]),
                "reason": reasons[i] or "",
                "text": (text or "")[:text_chars] if text is not None else None,
                "fields": {
                    k: v for k, v in rec.items() if k != tf and not isinstance(v, (dict, list))
                },
            }
        )
    r_lo = max(0, lo - len(idx))
    r_hi = max(0, hi - len(idx))
    for r in rejects[r_lo:r_hi]:
        items.append(
            {
                "status": "rejected",
                "score": None,
                "source": r.get("source"),
                "row": r.get("row"),
                "reason": r.get("reason", ""),
                "text": (r.get("excerpt") or "")[:text_chars],
                "fields": {},
            }
        )
    return Page(total=total, page=page, page_size=page_size, items=items)


def _as_str(v: object) -> str:
    if v is None:
        return ""
    return v if isinstance(v, str) else str(v)


def render(page: Page, console=None, show_fields: list[str] | None = None) -> None:
    """Print a page as a rich table: status, score, source:row, reason, fields, excerpt."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    con = console or Console()
    colors = {
        "selected": "green",
        "not_selected": "yellow",
        "filtered": "red",
        "duplicate": "magenta",
        "rejected": "red",
    }
    table = Table(
        title=f"{page.total:,} documents · page {page.page}/{page.pages}",
        show_lines=True,
        expand=True,
    )
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("source:row", overflow="fold", max_width=28)
    table.add_column("reason / fields", overflow="fold", max_width=30)
    table.add_column("text", ratio=1, overflow="fold")
    first = (page.page - 1) * page.page_size
    for n, it in enumerate(page.items, start=first + 1):
        f = it.get("fields") or {}
        if show_fields is not None:
            f = {k: f.get(k) for k in show_fields}
        meta = "\n".join([it["reason"]] if it["reason"] else []) + (
            ("\n" if it["reason"] and f else "")
            + "\n".join(f"{k}={_as_str(v)[:40]}" for k, v in list(f.items())[:6])
        )
        text = it["text"] if it["text"] is not None else "(text not available: raw input not found)"
        table.add_row(
            str(n),
            Text(it["status"], style=colors.get(it["status"], "")),
            "–" if it["score"] is None else f"{it['score']:.4g}",
            f"{Path(str(it['source'])).name}:{it['row']}",
            Text(meta),
            Text(" ".join(text.split())),
        )
    con.print(table)
    if page.total == 0:
        con.print("no document matches these filters")
