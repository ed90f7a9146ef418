"""Text and Markdown files as input: a file is one document, or its paragraphs or lines
(``--target-split``); a row is the line where a document starts; bad bytes are rejects
naming file and line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import thresher
from tests.conftest import SAMPLE
from thresher.cli import app
from thresher.errors import InputError
from thresher.io.formats import FORMATS, detect, read_rows
from thresher.io.formats.text import documents
from thresher.io.readers import ShardReader, read_texts
from thresher.io.sources import discover, plan_shards

NOTE = (
    b"\xef\xbb\xbf# Sorting HOW TO\r\n"
    b"Python lists have a built-in sort method.\r\n"
    b"\r\n"
    b"   \n"
    b"Key functions\n"
    b"take one argument.\n"
    b"\n"
    b"bad \xff byte here\n"
    b"\n"
    b"Last line without newline"
)


@pytest.fixture(scope="module")
def targets() -> list[str]:
    lines = (SAMPLE / "target.jsonl").read_bytes().split(b"\n")
    return [json.loads(x)["text"] for x in lines if x.strip()]


def test_registered_for_txt_and_md(tmp_path):
    assert FORMATS["text"].suffixes == (".txt", ".md")
    (tmp_path / "a.MD").write_text("notes")
    assert detect(str(tmp_path / "a.MD")).name == "text"
    (tmp_path / "z.txt").write_bytes(b"\x1f\x8b\x08\x00 gzip bytes")
    with pytest.raises(InputError, match=r"z\.txt: unknown format \(gzip data"):
        detect(str(tmp_path / "z.txt"))


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        ("document", None),  # the whole file has a bad byte: one reject
        (
            "paragraphs",
            [
                (0, "# Sorting HOW TO\nPython lists have a built-in sort method."),
                (4, "Key functions\ntake one argument."),
                (7, None),
                (9, "Last line without newline"),
            ],
        ),
        (
            "lines",
            [
                (0, "# Sorting HOW TO"),
                (1, "Python lists have a built-in sort method."),
                (4, "Key functions"),
                (5, "take one argument."),
                (7, None),
                (9, "Last line without newline"),
            ],
        ),
    ],
)
def test_documents_rows_are_start_lines_and_bad_bytes_rejects(tmp_path, split, expected):
    path = tmp_path / "note.md"
    path.write_bytes(NOTE)
    got = [(row, text) for row, text, _ in documents(str(path), split)]
    if expected is None:
        assert got == [(0, None)]
        at = NOTE[3:].index(b"\xff")  # after the byte order mark
        assert next(documents(str(path), split))[2] == f"invalid_utf8: byte {at}"
        return
    assert got == expected
    (shard,) = plan_shards(discover([path]))
    reader = ShardReader(shard, split=split)
    batches = list(reader.batches())
    rows = np.concatenate([b.rows for b in batches]).tolist()
    assert rows == [r for r, t in expected if t is not None]
    (rej,) = reader.rejects
    assert rej.as_dict()["line"] == 8 and rej.reason.startswith("invalid_utf8")
    assert rej.excerpt.startswith("bad ")
    recs = reader.records(np.array(rows))
    assert [r["text"] for r in recs] == [t for _, t in expected if t is not None]


def test_whole_file_is_one_document_without_bom_and_blank_files_are_no_documents(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"\xef\xbb\xbfHello\nworld\n")
    (tmp_path / "blank.md").write_bytes(b" \n\n\t\n")
    texts, rejects = read_texts([str(tmp_path)])
    assert texts.to_pylist() == ["Hello\nworld\n"] and rejects == []
    assert dict(read_rows(str(tmp_path / "a.txt"), [0])) == {0: {"text": "Hello\nworld\n"}}


def test_a_document_over_the_row_limit_is_a_reject(tmp_path):
    (tmp_path / "big.txt").write_bytes(b"word " * 100 + b"\n\nsmall\n")
    texts, rejects = read_texts([str(tmp_path)], max_row_bytes=100)
    assert texts.to_pylist() == [] and [r.reason for r in rejects] == ["row_too_large: > 100 bytes"]
    texts, rejects = read_texts([str(tmp_path)], max_row_bytes=100, split="paragraphs")
    assert texts.to_pylist() == ["small"]
    assert [(r.row, r.reason) for r in rejects] == [(0, "row_too_large: > 100 bytes")]


def test_a_folder_of_markdown_targets_selects_like_the_jsonl_target(targets, tmp_path):
    """The sample's 220 target documents, one .md file each, in a folder: the same target."""
    folder = tmp_path / "target"
    folder.mkdir()
    for i, t in enumerate(targets):
        (folder / f"doc-{i:04d}.md").write_text(t, encoding="utf-8")
    kw = {"raw": [str(SAMPLE / "raw.jsonl.gz")], "k": 100, "workers": 1, "report": False}
    a = thresher.select(method="dsir", target=[str(folder)], out=str(tmp_path / "md"), **kw)
    b = thresher.select(
        method="dsir", target=[str(SAMPLE / "target.jsonl")], out=str(tmp_path / "jl"), **kw
    )
    assert a["counts"]["target_read"] == 220 and len(a["inputs"]["target"]) == 220
    assert a["metrics"]["kl_reduction"] == b["metrics"]["kl_reduction"]
    ids = thresher.read_selected(tmp_path / "md").column("id").to_pylist()
    assert ids == thresher.read_selected(tmp_path / "jl").column("id").to_pylist()


def test_cli_target_split_lines_equals_the_same_lines_as_jsonl(targets, tmp_path):
    flat = [" ".join(t.split()) for t in targets]
    (tmp_path / "t.txt").write_text("\n".join(flat) + "\n", encoding="utf-8")
    (tmp_path / "t.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in flat))
    runner = CliRunner()
    common = ["--raw", str(SAMPLE / "raw.jsonl.gz"), "--k", "80", "--workers", "1", "--no-report"]
    r1 = runner.invoke(
        app,
        [
            "select",
            "--method",
            "dsir",
            "--target",
            str(tmp_path / "t.txt"),
            "--target-split",
            "lines",
        ]
        + ["--out", str(tmp_path / "a"), *common],
    )
    assert r1.exit_code == 0, r1.output
    r2 = runner.invoke(
        app,
        [
            "select",
            "--method",
            "dsir",
            "--target",
            str(tmp_path / "t.jsonl"),
            "--out",
            str(tmp_path / "b"),
            *common,
        ],
    )
    assert r2.exit_code == 0, r2.output
    a, b = (thresher.read_selected(tmp_path / x) for x in ("a", "b"))
    assert a.column("id").to_pylist() == b.column("id").to_pylist()
    m = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert m["counts"]["target_read"] == 220 and m["config"]["target_split"] == "lines"
    bad = runner.invoke(
        app,
        [
            "select",
            "--method",
            "dsir",
            "--target",
            str(tmp_path / "t.txt"),
            "--target-split",
            "sentences",
        ]
        + ["--out", str(tmp_path / "c"), *common],
    )
    assert bad.exit_code != 0 and "target_split" in bad.output and "Traceback" not in bad.output


def test_raw_folder_of_text_files_one_document_each(targets, tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    for i, t in enumerate(targets[:30]):
        (folder / f"{i:02d}.txt").write_text(t, encoding="utf-8")
    (folder / "broken.txt").write_bytes(b"\xff\xfe not utf-8")
    out = tmp_path / "run"
    m = thresher.filter([str(folder)], str(out), rules=["c4"], workers=2)
    c = m["counts"]
    assert c["read"] == 31 and c["rejected"] == 1
    assert c["read"] == sum(c[k] for k in ("selected", "not_selected", "filtered", "rejected"))
    sel = thresher.read_selected(out)
    assert set(sel.column("thresher_row").to_pylist()) == {0}
    assert sel.num_rows == c["selected"] > 0
    for src, text in zip(
        sel.column("thresher_source").to_pylist(), sel.column("text").to_pylist(), strict=True
    ):
        assert Path(src).parent == folder and Path(src).read_text(encoding="utf-8") == text
    from thresher.inspect import query

    page = query(out, status=["filtered"], page_size=50)
    assert page.total == c["filtered"]
    assert all(item["text"] for item in page.items)


def test_a_readme_beside_records_is_no_document_but_a_text_folder_is_a_corpus(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jsonl").write_text('{"text": "one"}\n')
    (data / "README.md").write_text("# about this data")
    assert [f.path for f in discover([str(data)])] == [str(data / "a.jsonl")]
    both = discover([str(data), str(data / "README.md")])  # named: read
    assert [f.format for f in both] == ["jsonl", "text"]
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    (notes / "x.md").write_text("x")
    (notes / "sub" / "y.txt").write_text("y")
    assert [f.format for f in discover([str(notes)])] == ["text", "text"]
