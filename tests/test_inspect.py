"""thresher inspect: page through a run's documents by status, score and field."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

import thresher
from tests.conftest import small_corpus
from thresher.errors import ThresherError
from thresher.inspect import query
from thresher.report.commands import inspect


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("inspect")
    raw, target = small_corpus(tmp, 300)
    out = tmp / "run"
    thresher.select(
        method="dsir",
        target=[str(target)],
        raw=[str(raw)],
        out=str(out),
        k=40,
        workers=1,
        report=False,
    )
    return out


def test_status_and_paging(run) -> None:
    sel = query(run, ["selected"], page_size=15)
    assert sel.total == 40 and sel.pages == 3 and len(sel.items) == 15
    assert all(it["status"] == "selected" for it in sel.items)
    scores = [it["score"] for it in sel.items]
    assert scores == sorted(scores, reverse=True)
    assert all(it["text"] for it in sel.items)
    last = query(run, ["selected"], page=3, page_size=15)
    assert len(last.items) == 10
    everything = query(run, page_size=1000)
    assert everything.total == 301  # 300 documents + 1 reject
    assert {it["status"] for it in everything.items} == {"selected", "not_selected", "rejected"}


def test_score_range_and_where(run) -> None:
    lo = query(run, ["not_selected"], page_size=1)
    mid = lo.items[0]["score"]
    pg = query(run, min_score=mid - 1, max_score=mid + 1, page_size=500)
    assert pg.total >= 1 and all(mid - 1 <= it["score"] <= mid + 1 for it in pg.items)
    api = query(run, where={"domain": "apidoc"}, page_size=500)
    assert api.total > 0 and all(it["fields"]["domain"] == "apidoc" for it in api.items)
    none = query(run, where={"domain": "no-such-domain"})
    assert none.total == 0 and none.items == []
    rej = query(run, ["rejected"])
    assert rej.total == 1 and rej.items[0]["reason"].startswith("invalid_json")
    assert rej.items[0]["row"] == 7
    with pytest.raises(ThresherError):
        query(run, ["bogus"])


def test_cli(run) -> None:
    app = typer.Typer()
    app.command()(inspect)
    app.command("noop")(lambda: None)
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["inspect", str(run), "--status", "selected", "--page-size", "3", "--chars", "80"],
        env={"COLUMNS": "160"},
    )
    assert res.exit_code == 0, res.output
    assert "40 documents" in res.output and "page 1/14" in res.output and "selected" in res.output
    res = runner.invoke(
        app, ["inspect", str(run), "--where", "domain=apidoc", "--json", "--page-size", "2"]
    )
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.splitlines()]
    assert len(rows) == 2 and all(r["fields"]["domain"] == "apidoc" for r in rows)
    res = runner.invoke(app, ["inspect", str(run), "--where", "domain"])
    assert res.exit_code == 2
