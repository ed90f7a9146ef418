"""--method auto on the shipped sample: it measures, it chooses, and the run records why."""

from __future__ import annotations

import json

import pyarrow as pa
from typer.testing import CliRunner

from tests.conftest import write_jsonl
from thresher.cli import app
from thresher.scorers.auto import AutoScorer

CHEAP = ["dsir", "bm25"]  # two fast candidates keep the test short; the choice is the same code


def _fit(target: list[str], raw: list[str]) -> AutoScorer:
    a = AutoScorer(candidates=CHEAP, compare_sample=1000)
    a.expect_fraction(0.05)
    return a.fit(pa.array(target), pa.array(raw))


def test_auto_picks_different_methods_where_different_methods_are_best(raw_records, target_records):
    """The Debian Reference (English) among its own translations: word overlap (bm25) finds
    it, DSIR's n-gram distribution does not; Python API docs: dsir with the language filter
    beats bm25. The held-out measure says so, and auto follows it."""
    guide = [r["text"] for r in raw_records if r["source"] == "debian-reference-en"]
    rest = [r["text"] for r in raw_records if r["source"] != "debian-reference-en"][::3]
    a = _fit(guide[::2], rest + guide[1::2])
    b = _fit([r["text"] for r in target_records], [r["text"] for r in raw_records][::2])
    assert a.decision["held_out"] == "5-fold"  # 35 target docs: every one held out once
    assert b.decision["held_out"] == "every fifth target document"
    assert a.chosen == ["bm25"] and b.chosen == ["dsir"] and b.use_language
    for auto in (a, b):
        rows = {
            (r["method"], r["language_filter"]): r["recall"] for r in auto.decision["candidates"]
        }
        assert len(rows) == 4
        best = max(rows.values())
        assert rows[(auto.chosen[0], auto.use_language)] == best
    # the winner is refitted on the whole target and scores like it
    s = b.score(pa.array([r["text"] for r in raw_records[:50]]))
    assert s.dtype.name == "float32" and len(s) == 50


def test_manifest_and_report_record_the_choice(tmp_path, raw_records, target_records):
    raw = write_jsonl(tmp_path / "raw.jsonl", raw_records[:400])
    tgt = write_jsonl(tmp_path / "tgt.jsonl", target_records[:60])
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "select",
            "--target",
            str(tgt),
            "--raw",
            str(raw),
            "--out",
            str(out),
            "--k",
            "20",
            "--workers",
            "1",
            "-o",
            "candidates=dsir,bm25",
            "-o",
            "compare_sample=1000",
        ],
    )  # no --method: auto is the default
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_bytes())
    assert m["config"]["method"] == "auto"
    a = m["auto"]
    assert a["chosen"] in ("dsir", "bm25", "dsir+bm25", "bm25+dsir")
    assert {(r["method"], r["language_filter"]) for r in a["candidates"]} == {
        ("dsir", False),
        ("dsir", True),
        ("bm25", False),
        ("bm25", True),
    }
    assert a["why"] and 0 < a["share"] <= 1
    if a["language_filter"]:  # the scan then filtered other languages, by rule "language"
        assert m["counts"]["filtered"] > 0
    assert m["counts"]["selected"] == 20
    assert "auto: chose" in res.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Method: auto" in html and a["why"].split(" (")[0] in html


def test_multilingual_target_keeps_its_languages_in_proportion(tmp_path, raw_records):
    """A target of the Debian Reference in English (2/3) and German (1/3): auto's language
    filter keeps both, and the selection follows the target's shares (quotas by language)."""
    en = [r for r in raw_records if r["source"] == "debian-reference-en"]
    de = [r for r in raw_records if r["source"] == "debian-reference-de"]
    target = en[:30] + de[:15]
    used = {r["id"] for r in target}
    tgt = write_jsonl(tmp_path / "tgt.jsonl", target)
    raw = write_jsonl(tmp_path / "raw.jsonl", [r for r in raw_records if r["id"] not in used][::4])
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "select", "--target", str(tgt), "--raw", str(raw), "--out", str(out), "--k", "30",
            "--workers", "1", "--format", "jsonl", "--no-report",
            "-o", "candidates=dsir", "-o", "language=on",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_bytes())
    assert m["auto"]["language_filter"] and m["auto"]["languages"] == ["en", "de"]
    assert m["auto"]["language_quotas"] == {"en": 0.666667, "de": 0.333333}
    assert "language quotas en=0.67, de=0.33" in res.output
    import pyarrow.parquet as pq

    docs = pq.read_table(out / "docs").to_pylist()
    chosen = [d["language"] for d in docs if d["selected"]]
    assert len(chosen) == 30 and chosen.count("en") == 20 and chosen.count("de") == 10
