"""Malformed input: a rejects row naming file, line and reason, or a clear error."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from typer.testing import CliRunner

import thresher
from thresher.cli import app
from thresher.errors import InputError


@pytest.fixture
def good_lines(raw_records) -> list[bytes]:
    return [
        json.dumps({"text": r["text"], "id": i}).encode() for i, r in enumerate(raw_records[:40])
    ]


def _run(tmp_path, raw, target, **kw):
    return thresher.select(
        method="dsir",
        target=[str(target)],
        raw=[str(raw)],
        out=str(tmp_path / "out"),
        k=5,
        workers=1,
        report=False,
        **kw,
    )


def test_each_malformed_row_is_rejected_with_file_line_and_reason(tmp_path, good_lines, sample_dir):
    bad = [
        b'{"text": "unterminated',  # bad JSON
        b'["a", "list"]',  # not an object
        b'{"body": "no text field here"}',  # missing text
        b'{"text": 42}',  # text not a string
        b'{"text": null}',  # null text
        b'{"text": "caf\xe9 latin-1 bytes"}',  # invalid UTF-8
    ]
    lines = good_lines[:10] + bad + [b""] + good_lines[10:]
    raw = tmp_path / "raw.jsonl"
    raw.write_bytes(b"\n".join(lines) + b"\n")
    m = _run(tmp_path, raw, sample_dir / "target.jsonl")
    c = m["counts"]
    assert c["rejected"] == len(bad)
    assert c["read"] == len(good_lines) + len(bad)
    assert (
        c["read"]
        == c["selected"] + c["not_selected"] + c["rejected"] + c["filtered"] + c["duplicate"]
    )
    rejects = [
        json.loads(x)
        for x in (tmp_path / "out" / "rejects" / "part-00000.jsonl").read_bytes().splitlines()
    ]
    assert [r["line"] for r in rejects] == [11, 12, 13, 14, 15, 16]
    reasons = [r["reason"].split(":")[0] for r in rejects]
    assert reasons == [
        "invalid_json",
        "not_an_object",
        "missing_text_field",
        "text_not_string",
        "text_not_string",
        "invalid_utf8",
    ]
    assert all(r["source"] == str(raw) for r in rejects)


def test_truncated_gzip_names_the_file(tmp_path, good_lines, sample_dir):
    data = gzip.compress(b"\n".join(good_lines * 20))
    raw = tmp_path / "broken.jsonl.gz"
    raw.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="broken.jsonl.gz"):
        _run(tmp_path, raw, sample_dir / "target.jsonl")


def test_corrupt_zstd_names_the_file(tmp_path, good_lines, sample_dir):
    data = bytearray(zstandard.ZstdCompressor().compress(b"\n".join(good_lines * 20)))
    data[40:60] = b"\x00" * 20
    raw = tmp_path / "broken.jsonl.zst"
    raw.write_bytes(bytes(data))
    with pytest.raises(InputError, match="broken.jsonl.zst"):
        _run(tmp_path, raw, sample_dir / "target.jsonl")


def test_empty_input_is_an_error(tmp_path, sample_dir):
    raw = tmp_path / "empty.jsonl"
    raw.write_text("\n\n")
    with pytest.raises(InputError, match="empty|no raw documents"):
        _run(tmp_path, raw, sample_dir / "target.jsonl")


def test_all_rows_bad_is_an_error_not_an_empty_success(tmp_path, sample_dir):
    raw = tmp_path / "bad.jsonl"
    raw.write_text('{"x": 1}\n{"x": 2}\n')
    with pytest.raises(InputError):
        _run(tmp_path, raw, sample_dir / "target.jsonl")


def test_parquet_null_text_rejected_and_missing_column_is_an_error(
    tmp_path, raw_records, sample_dir
):
    texts = [r["text"] for r in raw_records[:30]] + [None]
    pq.write_table(pa.table({"text": texts, "n": list(range(31))}), tmp_path / "raw.parquet")
    m = _run(tmp_path, tmp_path / "raw.parquet", sample_dir / "target.jsonl")
    assert m["counts"]["rejected"] == 1 and m["counts"]["read"] == 31
    pq.write_table(pa.table({"body": ["a"]}), tmp_path / "nocol.parquet")
    with pytest.raises(InputError, match="nocol.parquet.*'text'"):
        thresher.select(
            method="dsir",
            target=[str(sample_dir / "target.jsonl")],
            raw=[str(tmp_path / "nocol.parquet")],
            out=str(tmp_path / "o2"),
            k=1,
            workers=1,
            report=False,
        )


def test_unknown_extension_and_missing_file_are_errors(tmp_path, sample_dir):
    (tmp_path / "data.csv").write_text("text\nhello\n")
    with pytest.raises(InputError, match="data.csv"):
        _run(tmp_path, tmp_path / "data.csv", sample_dir / "target.jsonl")
    with pytest.raises(InputError, match="missing.jsonl"):
        _run(tmp_path, tmp_path / "missing.jsonl", sample_dir / "target.jsonl")


def test_all_formats_read_the_same_documents(tmp_path, raw_records, sample_dir):
    recs = [{"text": r["text"], "lang": r["lang"]} for r in raw_records[:200]]
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs).encode()
    (tmp_path / "a.jsonl").write_bytes(body)
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(body))
    (tmp_path / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(body))
    pq.write_table(pa.Table.from_pylist(recs), tmp_path / "d.parquet")
    picked = []
    for name in ["a.jsonl", "b.jsonl.gz", "c.jsonl.zst", "d.parquet"]:
        out = tmp_path / f"out-{name}"
        thresher.select(
            method="dsir",
            target=[str(sample_dir / "target.jsonl")],
            raw=[str(tmp_path / name)],
            out=str(out),
            k=20,
            mode="topk",
            workers=1,
            report=False,
        )
        t = thresher.read_selected(out)
        picked.append(sorted(t.column("thresher_row").to_pylist()))
    assert picked[0] == picked[1] == picked[2] == picked[3]


@pytest.mark.parametrize("value", [b"42", b"true", b'["a list"]', b'{"an": "object"}'])
def test_non_string_text_in_an_otherwise_clean_file_is_rejected(
    tmp_path, good_lines, sample_dir, value
):
    raw = tmp_path / "raw.jsonl"
    raw.write_bytes(
        b"\n".join(good_lines[:5] + [b'{"text": ' + value + b"}"] + good_lines[5:]) + b"\n"
    )
    m = _run(tmp_path, raw, sample_dir / "target.jsonl")
    assert m["counts"]["rejected"] == 1
    (rej,) = (tmp_path / "out" / "rejects" / "part-00000.jsonl").read_bytes().splitlines()
    assert json.loads(rej)["line"] == 6 and "text_not_string" in json.loads(rej)["reason"]


def _reject_rows(out) -> list[dict]:
    return [
        json.loads(x)
        for p in sorted((out / "rejects").glob("part-*.jsonl"))
        for x in p.read_bytes().splitlines()
    ]


def test_nan_row_is_rejected_by_the_scan_not_a_crash_of_the_write_pass(tmp_path):
    """The issue's case: thresher dedup on a file whose 2nd row has a bare NaN."""
    raw = tmp_path / "nan.jsonl"
    raw.write_bytes(b'{"text":"a b"}\n{"text":"hello","s":NaN}\n')
    res = CliRunner().invoke(
        app, ["dedup", "--raw", str(raw), "--out", str(tmp_path / "r"), "--workers", "1"]
    )
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert m["counts"]["read"] == 2 and m["counts"]["rejected"] == 1
    (rej,) = _reject_rows(tmp_path / "r")
    assert (rej["source"], rej["line"]) == (str(raw), 2)
    assert rej["reason"].startswith("invalid_json: ")


def test_every_row_the_scan_accepts_is_written_and_vice_versa(tmp_path, good_lines, sample_dir):
    """Rows Arrow and orjson used to read differently, between real rows: each is rejected
    by the scan with its line, or read and written with the same text."""
    odd = [
        b'{"text": "nan row", "score": NaN}',
        b'{"text": "inf row", "v": [1, -Infinity]}',
        b'{"text": "bad bytes elsewhere", "s": "\xff\xfe"}',
        b'{"text": "deep", "d": ' + b"[" * 1030 + b"]" * 1030 + b"}",
        b'{"text": "two"}{"text": "objects"}',
        b"   ",
        b"\xef\xbb\xbf" + good_lines[1],  # a byte order mark inside the file is not JSON
        b'{"text": "Information, NaN and Inf are fine inside text: [NaN]"}',
        good_lines[2].rstrip(b"}") + b', "text": "duplicate key: the last wins"}',
        good_lines[3] + b"\r",
    ]
    lines = [b"\xef\xbb\xbf" + good_lines[4]] + good_lines[5:15] + odd + good_lines[15:]
    raw = tmp_path / "raw.jsonl"
    raw.write_bytes(b"\n".join(lines) + b"\n")
    m = thresher.select(
        method="dsir",
        target=[str(sample_dir / "target.jsonl")],
        raw=[str(raw)],
        out=str(tmp_path / "out"),
        fraction=1.0,
        mode="topk",
        workers=1,
        report=False,
        format="jsonl",
    )
    bad_lines = [12, 13, 14, 15, 16, 18]  # 1-based: the first six odd rows but the blank one
    rejects = _reject_rows(tmp_path / "out")
    assert [r["line"] for r in rejects] == bad_lines
    assert [r["reason"].split(":")[0] for r in rejects] == [
        "invalid_json",
        "invalid_json",
        "invalid_utf8",
        "invalid_json",
        "invalid_json",
        "invalid_json",
    ]
    c = m["counts"]
    assert c["rejected"] == len(bad_lines) and c["read"] == len(lines) - 1  # the blank line
    assert c["selected"] == c["read"] - c["rejected"]
    by_row = {}
    for p in sorted((tmp_path / "out" / "selected").glob("*.jsonl")):
        for x in p.read_bytes().splitlines():
            r = json.loads(x)
            by_row[r["thresher_row"]] = r["text"]
    assert by_row[0] == json.loads(good_lines[4])["text"]  # the file's BOM is dropped
    assert by_row[18] == "Information, NaN and Inf are fine inside text: [NaN]"
    assert by_row[19] == "duplicate key: the last wins"
    assert by_row[20] == json.loads(good_lines[3])["text"]
    assert sorted(by_row) == sorted(set(range(len(lines))) - {11, 12, 13, 14, 15, 16, 17})
