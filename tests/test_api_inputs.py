"""The Python API on data in memory, and in plain scripts.

In-memory inputs (a datasets.Dataset or IterableDataset, a pyarrow Table or Dataset,
thresher.Texts) give the same selection, scores, decisions and output bytes as the same
data in files; only the provenance names differ (``<memory:raw>``, with the row in the
data as given). A script without an ``if __name__ == "__main__":`` guard runs on
several worker processes and several shards without its workers re-running it.

Cost of materializing (the in-memory input is written once as Parquet under
OUT/_work/inputs): on a 98 MB pyarrow Table (the sample 14 times) 0.6 s alone, 2.4 s
inside a select run while its 2 workers start on the same 2 cores; the run took 10.35 s
against 9.3 s for the same data as a JSONL file (k=1000, dsir, workers=2).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

import thresher
from tests.conftest import SAMPLE
from thresher.errors import ConfigError, InputError

datasets = pytest.importorskip("datasets")

SHARD_BYTES = 1 << 20  # the sample's 7.3 MB of plain JSONL: 7 shards
OUT_OPTS = {"k": 150, "seed": 5, "shard_bytes": SHARD_BYTES, "report": False}
PROVENANCE = ("thresher_source",)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    with gzip.open(SAMPLE / "raw.jsonl.gz", "rb") as f:
        return [json.loads(line) for line in f.read().split(b"\n") if line.strip()]


@pytest.fixture(scope="module")
def target_texts() -> list[str]:
    lines = (SAMPLE / "target.jsonl").read_bytes().split(b"\n")
    return [json.loads(line)["text"] for line in lines if line.strip()]


@pytest.fixture(scope="module")
def file_run(plain_raw_path, tmp_path_factory) -> Path:
    """The reference: the sample as a plain JSONL file (7 byte-range shards), JSONL out."""
    out = tmp_path_factory.mktemp("file") / "run"
    thresher.select(
        method="dsir",
        target=[str(SAMPLE / "target.jsonl")],
        raw=[str(plain_raw_path)],
        out=str(out),
        format="jsonl",
        workers=2,
        **OUT_OPTS,
    )
    return out


def _jsonl_without_provenance(run: Path) -> bytes:
    """All selected parts, concatenated, with the provenance key taken out of each record."""
    data = b"".join(p.read_bytes() for p in sorted((run / "selected").glob("part-*.jsonl")))
    return re.sub(rb',"thresher_source":"[^"]*"', b"", data)


def _docs(run: Path) -> pa.Table:
    parts = sorted((run / "docs").glob("part-*.parquet"))
    return pa.concat_tables([pq.read_table(p) for p in parts])


def _same_as_file_run(run: Path, file_run: Path, source: str = "<memory:raw>") -> None:
    mine, ref = _jsonl_without_provenance(run), _jsonl_without_provenance(file_run)
    assert mine.count(b"\n") == 150
    assert mine == ref
    docs, ref_docs = _docs(run), _docs(file_run)
    assert set(docs.column("source").to_pylist()) == {source}
    assert docs.drop_columns(["source"]).equals(ref_docs.drop_columns(["source"]))
    sel = thresher.read_selected(run)
    assert set(sel.column("thresher_source").to_pylist()) == {source}


@pytest.mark.parametrize("kind", ["table", "hf_dataset", "hf_iterable", "arrow_dataset"])
def test_in_memory_raw_gives_the_bytes_of_the_same_data_in_a_file(
    kind, records, target_texts, file_run, tmp_path
):
    table = pa.Table.from_pylist(records)
    if kind == "table":
        raw = table
    elif kind == "hf_dataset":
        raw = datasets.Dataset.from_list(records)
    elif kind == "hf_iterable":
        raw = datasets.Dataset.from_list(records).to_iterable_dataset()
    else:
        raw = pads.dataset(table)
    out = tmp_path / "run"
    m = thresher.select(
        method="dsir",
        target=thresher.Texts(target_texts),
        raw=raw,
        out=str(out),
        format="jsonl",
        workers=2,
        **OUT_OPTS,
    )
    assert m["shards"] > 1  # row groups sized like shards: the work is still split
    assert m["inputs"]["raw"][0]["path"] == "<memory:raw>"
    assert m["inputs"]["target"][0]["path"] == "<memory:target>"
    assert m["config"]["raw"] == ["<memory:raw>"]
    assert (out / "_work" / "inputs" / "raw.parquet").exists()
    _same_as_file_run(out, file_run)


def test_in_memory_target_as_a_dataset_and_raw_as_parquet_output(records, target_texts, tmp_path):
    """An HF dataset as the target; Parquet output that datasets.load_dataset reads."""
    target = datasets.Dataset.from_dict({"text": target_texts})
    out = tmp_path / "run"
    m = thresher.select(
        method="dsir",
        target=target,
        raw=pa.Table.from_pylist(records),
        out=str(out),
        workers=1,
        **OUT_OPTS,
    )
    assert m["counts"]["target_read"] == len(target_texts)
    parts = [str(p) for p in sorted((out / "selected").glob("part-*.parquet"))]
    loaded = datasets.load_dataset(
        "parquet", data_files=parts, split="train", cache_dir=str(tmp_path / "hf-cache")
    )
    assert loaded.num_rows == 150
    as_ds = thresher.read_selected(out, as_="datasets")
    assert isinstance(as_ds, datasets.Dataset)
    assert as_ds["text"] == loaded["text"] == thresher.read_selected(out).column("text").to_pylist()
    assert set(as_ds["thresher_source"]) == {"<memory:raw>"}
    pd = pytest.importorskip("pandas")
    frame = thresher.read_selected(out, as_="pandas")
    assert isinstance(frame, pd.DataFrame) and list(frame["text"]) == as_ds["text"]
    with pytest.raises(ConfigError, match="as_='polars'"):
        thresher.read_selected(out, as_="polars")


def test_rows_with_null_text_are_rejects_named_by_the_memory_source(records, tmp_path):
    texts = [r["text"] for r in records[:200]]
    texts[7] = None
    texts[150] = None
    out = tmp_path / "run"
    m = thresher.filter(pa.table({"text": texts}), str(out), rules=["c4"], workers=1)
    c = m["counts"]
    assert c["rejected"] == 2 and c["read"] == 200
    assert c["read"] == sum(c[k] for k in ("selected", "not_selected", "filtered", "rejected"))
    rejects = [
        json.loads(x) for x in (out / "rejects" / "part-00000.jsonl").read_bytes().split(b"\n") if x
    ]
    assert [(r["source"], r["row"], r["reason"]) for r in rejects] == [
        ("<memory:raw>", 7, "text_not_string: null"),
        ("<memory:raw>", 150, "text_not_string: null"),
    ]


def test_deduplicate_a_dataset_with_duplicates_and_a_file_mixed(records, tmp_path):
    """A list may mix in-memory data and paths; duplicates are found across both."""
    ds = datasets.Dataset.from_list(records[:300] + records[:40])
    path = tmp_path / "more.jsonl"
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in records[:10]))
    out = tmp_path / "run"
    m = thresher.deduplicate([ds, str(path)], str(out), method="exact", workers=1, report=False)
    assert m["counts"]["duplicate"] == 50
    assert m["counts"]["selected"] == 300
    assert [e["path"] for e in m["inputs"]["raw"]] == ["<memory:raw>", str(path)]
    sources = set(thresher.read_selected(out).column("thresher_source").to_pylist())
    assert sources == {"<memory:raw>"}  # the file's ten are all copies of the first ten


def test_two_in_memory_inputs_are_numbered(records, tmp_path):
    a, b = pa.Table.from_pylist(records[:100]), pa.Table.from_pylist(records[100:250])
    out = tmp_path / "run"
    m = thresher.filter([a, b], str(out), rules=["c4"], workers=1, report=False)
    assert m["counts"]["read"] == 250
    docs = _docs(out)
    assert (
        docs.column("source").to_pylist() == ["<memory:raw[0]>"] * 100 + ["<memory:raw[1]>"] * 150
    )
    assert docs.column("row").to_pylist() == list(range(100)) + list(range(150))


def test_resume_needs_the_same_data(records, target_texts, tmp_path):
    raw = pa.Table.from_pylist(records[:600])
    out = tmp_path / "run"
    kw = {"target": thresher.Texts(target_texts), "out": str(out), "workers": 1, **OUT_OPTS}
    first = thresher.select(method="dsir", raw=raw, **kw)
    again = thresher.select(method="dsir", raw=raw, resume=True, **kw)
    assert again["counts"] == first["counts"]
    assert again["inputs"] == first["inputs"]
    changed = pa.Table.from_pylist(records[1:601])
    with pytest.raises(ConfigError, match=r"<memory:raw>: differs from the in-memory input"):
        thresher.select(method="dsir", raw=changed, resume=True, **kw)


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        (
            pa.table({"body": ["a b c"]}),
            InputError,
            r"<memory:raw>: no column 'text' \(columns: body",
        ),
        (pa.table({"text": [1, 2]}), InputError, r"column 'text' is int64, not a string column"),
        ("dict", ConfigError, r"DatasetDict holds several splits \(train\)"),
        (thresher.Texts(["ok", 3]), InputError, r"Texts holds a int, not a str"),
        ({"text": "x"}, ConfigError, r"raw: a dict is neither a path nor in-memory data"),
    ],
)
def test_bad_in_memory_input_is_one_line_and_touches_nothing(raw, error, message, tmp_path):
    if raw == "dict":
        raw = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a"]})})
    out = tmp_path / "run"
    with pytest.raises(error, match=message) as e:
        thresher.filter(raw, str(out), rules=["c4"], workers=1)
    assert "\n" not in str(e.value)
    assert not out.exists()


# -- scripts without a __main__ guard ------------------------------------------------------
SCRIPT = """\
import json, sys
import pyarrow as pa
import thresher

raw, target, out = sys.argv[1:4]
print("top level ran", flush=True)
m = thresher.select(method="dsir", target=[target], raw=[raw], out=out, k=100, workers=2,
                    shard_bytes=SHARD_BYTES, report=False)
rows = [json.loads(x) for x in open(raw, "rb").read().split(b"\\n") if x.strip()]
m2 = thresher.select(method="dsir", target=[target], raw=pa.Table.from_pylist(rows), out=out + "-mem",
                     k=100, workers=2, shard_bytes=SHARD_BYTES, report=False)
print("shards", m["shards"], m2["shards"], "selected", m["counts"]["selected"],
      m2["counts"]["selected"])
"""


def test_a_plain_script_without_main_guard_runs_on_many_shards(plain_raw_path, tmp_path):
    """The README's API example as a file run with ``python script.py``: before, every
    spawned worker re-ran the script (RuntimeError tracebacks, then BrokenProcessPool)."""
    script = tmp_path / "select_script.py"
    script.write_text(SCRIPT.replace("SHARD_BYTES", str(SHARD_BYTES)))
    p = subprocess.run(
        [sys.executable, str(script), str(plain_raw_path), str(SAMPLE / "target.jsonl"), "run"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Traceback" not in p.stderr and "RuntimeError" not in p.stderr, p.stderr[-3000:]
    assert p.stdout.count("top level ran") == 1  # no worker ran the script's top level
    assert "shards 7 7 selected 100 100" in p.stdout, p.stdout
