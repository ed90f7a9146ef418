"""The HTML report: written by every run, self-contained, renders in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

import thresher
from tests.conftest import small_corpus
from thresher.report import write_report
from thresher.report.html import log_odds

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    raw, target = small_corpus(tmp, 600)
    out = tmp / "run"
    thresher.select(
        method="dsir", target=[str(target)], raw=[str(raw)], out=str(out), k=80, workers=1
    )
    return out


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail(
            "headless Chromium is missing: run `make test` (it installs Debian's chromium package)"
        )
    return exe


def test_pipeline_writes_a_self_contained_report(run: Path) -> None:
    page = (run / "report.html").read_text()
    for section in ("funnel", "scores", "kl", "composition", "documents", "ngrams", "eval", "run"):
        assert f"id='{section}'" in page
    assert page.count("<svg") >= 5  # funnel, scores, KL, source?, lang, domain, source field
    # Nothing to fetch: no scripts, stylesheets, images or fonts from anywhere.
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "@import" not in page and "url(http" not in page
    # The examples carry real text, scores and the reject reason.
    assert "Top-scored" in page and "Borderline" in page and "Lowest-scored" in page
    assert "invalid_json" in page


def test_report_is_fast_and_repeatable(run: Path) -> None:
    t0 = time.perf_counter()
    path = write_report(run)
    assert time.perf_counter() - t0 < 10  # ~1 s on an idle laptop
    first = path.read_text()
    second = write_report(run).read_text()
    strip = lambda s: re.sub(r"written by thresher in [0-9.]+ s", "", s)  # noqa: E731
    assert strip(first) == strip(second)


def test_report_renders_in_chromium(run: Path, tmp_path: Path) -> None:
    exe = chromium()
    url = (run / "report.html").resolve().as_uri()
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert html.count("<svg") >= 5, "plots missing from the rendered DOM"
    assert "Where the documents went" in html and "Score distribution" in html
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, "console errors:\n" + "\n".join(console)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    res = subprocess.run(
        [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1280,4000",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 20_000


def test_log_odds_finds_the_enriched_terms() -> None:
    a = Counter({"python": 50, "the": 100, "module": 30, "license": 2})
    b = Counter({"python": 5, "the": 1000, "module": 3, "license": 200})
    top = log_odds(a, b, sum(a.values()), sum(b.values()), top=3)
    assert [t for t, *_ in top][:2] == ["python", "module"]
    assert all(z > 0 for _, z, _, _ in top)
    assert "license" not in [t for t, *_ in top]


def test_report_groups_drops_by_rule(tmp_path: Path) -> None:
    """Drops are counted per rule (its measured value apart), not per 'language:de=0.97' string."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from thresher.report.rundata import drop_reasons
    from thresher.rundir import read_docs

    raw, target = small_corpus(tmp_path, 600)
    out = tmp_path / "run"
    thresher.select(
        method="dsir",
        target=[str(target)],
        raw=[str(raw)],
        out=str(out),
        k=50,
        filters=["lang", "gopher_quality"],
        filter_options={"languages": ["en"]},
        workers=1,
    )
    docs = read_docs(out)
    rules = Counter(r for r in docs.column("rule").to_pylist() if r)
    assert rules["language"] > 50 and len(rules) >= 2
    page = (out / "report.html").read_text()
    table = page[page.index("<th>drop rule</th>") :]
    table = table[: table.index("</table>")]
    for rule, n in rules.most_common(15):
        assert f"<td>{rule}</td><td class='n'>{n:,}</td>" in table
    assert "language:" not in table  # no per-value rows
    reasons = drop_reasons(docs)
    rule_list = docs.column("rule").to_pylist()
    assert all((r == "") == (rule == "") for r, rule in zip(reasons, rule_list, strict=True))
    assert any(r.startswith("language=0.") for r in reasons)
    # A decision table written before the (rule, value) columns ("language:de=0.97") still reads.
    part = sorted((out / "docs").glob("part-*.parquet"))[0]
    table = pq.read_table(part)
    old_reasons = [
        f"{r}:xx={v}" if r.startswith("language") else f"{r}:{v}" if r else ""
        for r, v in zip(
            table.column("rule").to_pylist(), table.column("value").to_pylist(), strict=True
        )
    ]
    pq.write_table(
        table.drop_columns(["rule", "value"]).append_column("reason", pa.array(old_reasons)), part
    )
    assert read_docs(out).column("rule").to_pylist() == rule_list


def test_report_reads_the_decision_table_in_batches(run: Path, tmp_path: Path) -> None:
    """The report streams docs/: what it shows is the same whatever the batch size (and as
    computed on the whole table), and the memory it allocates does not grow with the table
    (50x the rows: the same peak)."""
    import tracemalloc

    import numpy as np

    from thresher.report.docstats import DocStats
    from thresher.rundir import read_docs

    docs = read_docs(run)
    scores = docs.column("score").to_numpy(zero_copy_only=False).astype(np.float64)
    status = np.array(docs.column("status").to_pylist())
    selected = np.array(docs.column("selected").to_pylist())
    eligible = status == "eligible"
    finite = scores[eligible & np.isfinite(scores)]
    assert len(finite) > 50
    small, one = DocStats(run, batch_rows=7), DocStats(run)  # ~90 batches; one
    elig = np.flatnonzero(eligible & np.isfinite(scores))
    order = elig[np.argsort(-scores[elig], kind="stable")]
    sel_idx = np.flatnonzero(eligible & selected)
    for st in (small, one):
        assert st.top.indices() == order[:5].tolist()
        assert st.lowest.indices() == order[::-1][:5].tolist()
        assert st.low_selected.indices() == sel_idx[np.argsort(scores[sel_idx])[:3]].tolist()
        assert st.sources == Counter(docs.column("source").to_pylist())
        assert (st.n_selected, st.n_finite) == (len(sel_idx), len(finite))
        # The histogram's ends are np.percentile's, exactly, though no batch holds all scores.
        lo, hi = st.clip_range()
        assert (lo, hi) == tuple(np.percentile(finite, [0.5, 99.5]).tolist())
        bins = np.linspace(lo, hi, 50)
        want = np.histogram(np.clip(scores[eligible & selected], lo, hi), bins)[0]
        assert st.score_counts(bins, lo, hi)[1].tolist() == want.tolist()
    # A decision table of 50 parts of the same rows: the same batches, 50x as many.
    big = tmp_path / "big"
    shutil.copytree(run / "docs", big / "docs")
    part = next((big / "docs").glob("part-*.parquet"))
    for i in range(1, 50):
        shutil.copy(part, part.with_name(f"part-{i:05d}-copy.parquet"))

    def peak(path: Path) -> tuple[int, DocStats]:
        tracemalloc.start()
        st = DocStats(path, batch_rows=256)
        st.clip_range()
        st.rows_at([0, st.n - 1])
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return p, st

    base_peak, base = peak(run)
    big_peak, large = peak(big)
    assert large.n == 50 * base.n and large.n_selected == 50 * base.n_selected
    assert large.clip_range() == tuple(np.percentile(np.tile(finite, 50), [0.5, 99.5]).tolist())
    # One float64 column of the whole table alone would be 8 B x 30,000 rows = 240 KB.
    assert big_peak - base_peak < 2 * large.n, (base_peak, big_peak)


def test_composition_chart_orders_tied_values_by_name() -> None:
    """The same counts give the same chart in every process: ties are not left to the order
    of a set of strings (Python's per-process hash seed)."""
    from thresher.report.plots import composition_order

    names = [f"source-{i:02d}.jsonl" for i in range(20)]
    before = {n: 5 for n in reversed(names)}  # all tied, inserted in reverse
    after = {"source-07.jsonl": 4, "zz-top.jsonl": 30}
    order = composition_order(before, after)
    assert order[0] == "zz-top.jsonl"  # 30
    assert order[1] == "source-07.jsonl"  # 5 + 4
    assert order[2:] == [n for n in names if n != "source-07.jsonl"]
