"""PII redaction on real text of the sample with injected e-mails, IPs and phone numbers;
version and section numbers left alone; the CLI, YAML and manifest wiring."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from thresher.cli import app
from thresher.runfile import load_runfile
from thresher.text.pii import Redactor

from .conftest import write_jsonl

POSITIVES = {
    "email": [
        "maria.gonzalez@uni-heidelberg.de",
        "j.smith+lists@example.co.uk",
        "pierre_dupont@orange.fr",
        "admin@mail.debian.org",
    ],
    "ip": [
        "82.50.72.202",
        "203.0.113.77",
        "151.101.2.132",
        "2001:db8:85a3::8a2e:370:7334",
        "fe80::1ff:fe23:4567:890a",
        "2a00:1450:4001:82b::200e",
    ],
    "phone": [
        "(415) 555-0132",
        "415-555-0132",
        "+1 415 555 0132",
        "+44 20 7946 0958",
        "020 7946 0958",
        "+49 30 12345678",
        "030 12345678",
        "+33 1 42 68 53 00",
        "01 42 68 53 00",
        "+81 3-1234-5678",
    ],
}
# What a careless pattern redacts: versions, section numbers, dates, ISBNs, times, C++ scopes.
NEGATIVES = [
    "version 1.2.3.4",
    "linux-2.6.32.1",
    "Thunderbird 1.5.0.9",
    "2024-01-15",
    "ISBN 978-3-16-148410-0",
    "12:30:45",
    "std::vector",
    "1,234,567.89",
]


@pytest.fixture(scope="module")
def injected(raw_records):
    """200 real documents, each with two injected positives and one negative, and a section
    heading like ``4.2.13.5. Title`` at the start of a line."""
    rng = random.Random(7)
    docs, truth = [], []
    flat = [(k, v) for k, vs in POSITIVES.items() for v in vs]
    for r in raw_records[:200]:
        items = rng.sample(flat, 2)
        neg = rng.choice(NEGATIVES)
        words = r["text"].split(" ")
        cut = rng.randrange(len(words) + 1)
        text = " ".join(
            words[:cut] + [f"contact {items[0][1]} or {items[1][1]}; see {neg}."] + words[cut:]
        )
        docs.append(text + "\n\n4.2.13.5. Encrypted partitions\n")
        truth.append((items, neg))
    return docs, truth


def test_injected_pii_replaced_negatives_kept(injected) -> None:
    docs, truth = injected
    red, counts = Redactor(["email", "ip", "phone"]).redact(pa.array(docs, pa.large_string()))
    out = red.to_pylist()
    for i, (items, neg) in enumerate(truth):
        for kind, value in items:
            assert value not in out[i], (kind, value)
            assert counts[kind][i] >= sum(k == kind for k, _ in items)
        assert f"see {neg}." in out[i]  # the negative is left alone
        assert "4.2.13.5. Encrypted" in out[i]
        assert f"contact {_placeholder(items[0][0])} or {_placeholder(items[1][0])}" in out[i]


def _placeholder(kind: str) -> str:
    return {"email": "<EMAIL>", "ip": "<IP>", "phone": "<PHONE>"}[kind]


def test_only_the_kinds_asked(injected) -> None:
    docs, truth = injected
    red, counts = Redactor(["email"]).redact(pa.array(docs, pa.large_string()))
    assert set(counts) == {"email"}
    out = red.to_pylist()
    for i, (items, _) in enumerate(truth):
        for kind, value in items:
            assert (value in out[i]) == (kind != "email")


def test_bad_kind() -> None:
    with pytest.raises(ValueError, match="unknown PII kind"):
        Redactor(["email", "ssn"])


def test_cli_filter_redact_and_decontaminate(tmp_path, injected, raw_records) -> None:
    """``thresher filter --redact ... --decontaminate ...``: placeholders in the written text,
    per-document counts in columns, totals in the manifest, counts that add up."""
    docs, truth = injected
    recs = [{**r, "text": t} for r, t in zip(raw_records[:200], docs, strict=True)]
    raw = write_jsonl(tmp_path / "raw.jsonl", recs)
    # An eval set: one line of a raw document (a text file: one item per line).
    ci, line = next(
        (i, x)
        for i, r in enumerate(raw_records[:200])
        for x in r["text"].splitlines()
        if len(x.split()) > 20
    )
    ev = tmp_path / "eval.txt"
    ev.write_text(line + "\n", encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "filter",
            "--raw",
            str(raw),
            "--out",
            str(out),
            "--redact",
            "email,ip,phone",
            "--decontaminate",
            str(ev),
            "--workers",
            "1",
            "--write-dropped",
        ],
    )
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_bytes())
    sel = pq.read_table(sorted((out / "selected").glob("*.parquet"))[0])
    red = m["redactions"]
    kept = set(sel.column("thresher_row").to_pylist())
    assert ci not in kept  # contaminated
    for kind in ("email", "ip", "phone"):
        assert red[kind] == sum(sel.column(f"thresher_redacted_{kind}").to_pylist())
        assert red[kind] >= sum(k == kind for i in kept for k, _ in truth[i][0])
    texts = sel.column("text").to_pylist()
    assert not any(v in t for t in texts for vs in POSITIVES.values() for v in vs)
    c = m["counts"]
    assert c["filtered"] >= 1 and m["decontamination"]["dropped"] == c["filtered"]
    assert c["read"] == c["selected"] + c["filtered"] + c["not_selected"] + c["duplicate"]
    assert "Decontamination and PII" in (out / "report.html").read_text(encoding="utf-8")


def test_yaml_fields(tmp_path: Path) -> None:
    """A pipeline file takes the same fields; eval paths resolve against the file's folder."""
    (tmp_path / "evals").mkdir()
    f = tmp_path / "p.yaml"
    f.write_text(
        "raw: raw.jsonl\nout: out\nmethod: none\n"
        "decontaminate: evals/a.jsonl,evals/b.parquet\neval_field: question,answer\n"
        "decontaminate_mode: excise\nredact: [email, phone]\n",
        encoding="utf-8",
    )
    cfg = load_runfile(f)
    assert cfg.decontaminate == [str(tmp_path / "evals/a.jsonl"), str(tmp_path / "evals/b.parquet")]
    assert cfg.eval_field == ["question", "answer"]
    assert cfg.redact == ["email", "phone"] and cfg.decontaminate_mode == "excise"
