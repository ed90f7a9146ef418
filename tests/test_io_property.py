"""Property: on any bytes, the scan and the write pass agree on every row.

Real JSONL from the sample is mutated (truncation, byte flips, bare NaN, a byte order
mark, rows over the size cap, deep nesting, blank and doubled lines, CRLF, invalid UTF-8),
stored plain, gzip or zstd, and read through the real reader. Then: the only exception is
an InputError naming the file; every non-blank line is either a batch row or a reject
(never both, never neither) with the verdict of the one row definition (``parse_row``);
and ``records()`` of every batch row returns the record whose text the scan read.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os

import numpy as np
import orjson
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thresher.errors import InputError
from thresher.io.formats import detect
from thresher.io.formats.jsonl import parse_row
from thresher.io.readers import ShardReader
from thresher.io.sources import discover, plan_shards

from .conftest import SAMPLE

MAX_ROW = 40_000
_counter = itertools.count()


def _sample_lines() -> list[bytes]:
    with gzip.open(SAMPLE / "raw.jsonl.gz", "rb") as f:
        lines = [next(f).rstrip(b"\n") for _ in range(400)]
    # Also the same records re-encoded with non-ASCII kept and extra fields.
    recs = [json.loads(x) for x in lines[:100]]
    lines += [
        json.dumps({"id": i, **r, "meta": {"n": [1, 2.5, None]}}, ensure_ascii=False).encode()
        for i, r in enumerate(recs)
    ]
    return lines


LINES = _sample_lines()


def _mutate_line(line: bytes, kind: str, k: int) -> bytes:
    body = line.rstrip()
    head = body[:-1] if body.endswith(b"}") else body
    if kind == "nan":
        return head + [b',"s":NaN}', b', "s": -Infinity}', b',"v":[1, Inf]}'][k % 3]
    if kind == "deep":
        d = 1020 + k % 10
        return head + b',"d":' + b"[" * d + b"]" * d + b"}"
    if kind == "bad_utf8_field":
        return head + b',"s":"\xff\xfe"}'
    if kind == "bad_utf8_key":
        return head + b',"\xc3\x28":1}'
    if kind == "huge":
        return head + b',"pad":"' + b"x" * (MAX_ROW + k) + b'"}'
    if kind == "two":
        return body + body
    if kind == "bom":
        return b"\xef\xbb\xbf" + body
    if kind == "crlf":
        return body + b"\r"
    if kind == "ws":
        return b" \t "
    if kind == "blank":
        return b""
    if kind == "not_object":
        return b"[1, 2]"
    if kind == "text_number":
        return b'{"text": 7}'
    if kind == "dup_text":
        return head + b',"text":"second"}'
    if kind == "cut":
        return body[: max(1, len(body) * (k % 7 + 1) // 8)]
    if kind == "lead_space":
        return b"  " + body
    if kind == "nan_in_text":
        return b'{"text": "NaN, Infinity and: Inf are words here [NaN]"}'
    return body


KINDS = [
    "none",
    "nan",
    "deep",
    "bad_utf8_field",
    "bad_utf8_key",
    "huge",
    "two",
    "bom",
    "crlf",
    "ws",
    "blank",
    "not_object",
    "text_number",
    "dup_text",
    "cut",
    "lead_space",
    "nan_in_text",
]


@st.composite
def corpora(draw):
    start = draw(st.integers(0, len(LINES) - 40))
    n = draw(st.integers(1, 40))
    lines = list(LINES[start : start + n])
    for _ in range(draw(st.integers(0, 6))):
        i = draw(st.integers(0, len(lines) - 1))
        lines[i] = _mutate_line(lines[i], draw(st.sampled_from(KINDS)), draw(st.integers(0, 99)))
    body = b"\n".join(lines) + draw(st.sampled_from([b"\n", b"", b"\n\n"]))
    if draw(st.booleans()):
        body = b"\xef\xbb\xbf" + body  # a byte order mark at the start of the file
    codec = draw(st.sampled_from(["plain", "gzip", "zstd"]))
    if codec == "gzip":
        data = gzip.compress(body, mtime=0)
    elif codec == "zstd":
        data = zstandard.ZstdCompressor().compress(body)
    else:
        data = body
    data = bytearray(data)
    for _ in range(draw(st.integers(0, 3)) if draw(st.integers(0, 3)) == 0 else 0):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))  # byte flip in the stored bytes
    if draw(st.integers(0, 5)) == 0:
        data = data[: draw(st.integers(0, len(data)))]  # truncated file
    name = {"plain": "raw.jsonl", "gzip": "raw.jsonl.gz", "zstd": "raw.jsonl.zst"}[codec]
    return name, bytes(data), draw(st.sampled_from([1 << 12, 1 << 16, 1 << 20]))


def _decoded(path, fmt: str) -> bytes | None:
    """The file's bytes as the format decodes them, or None when they cannot be decoded."""
    try:
        if fmt == "jsonl.gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        if fmt == "jsonl.zst":
            with open(path, "rb") as raw:
                r = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
                return r.read()
        return path.read_bytes()
    except Exception:  # whatever the codec raises: undecodable
        return None


def _expected(data: bytes) -> tuple[dict[int, str], dict[int, str]]:
    """Row definition applied line by line: accepted rows -> text, rejected rows -> reason."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    ok: dict[int, str] = {}
    bad: dict[int, str] = {}
    for i, line in enumerate(lines):
        if not line or line.isspace():
            continue
        if len(line) > MAX_ROW:
            bad[i] = f"row_too_large: > {MAX_ROW} bytes"
            continue
        rec, why = parse_row(line, "text")
        if rec is None:
            bad[i] = why
        else:
            ok[i] = rec["text"]
    return ok, bad


def _read_all(path: str, shard_bytes: int, batch_bytes: int):
    shards = plan_shards(discover([path]), shard_bytes)
    texts: dict[int, str] = {}
    rejects: dict[int, str] = {}
    before = 0
    for s in shards:
        reader = ShardReader(s, batch_bytes=batch_bytes, max_row_bytes=MAX_ROW)
        base = before if s.first_row < 0 else s.row_base
        rows, got = [], []
        for b in reader.batches():
            rows.extend(b.rows.tolist())
            got.extend(b.texts.to_pylist())
        for r in reader.rejects:
            assert r.source == path
            assert r.row + base not in rejects
            rejects[r.row + base] = r.reason
        for r, t in zip(rows, got, strict=True):
            assert r + base not in texts
            texts[r + base] = t
        # The write pass reads every accepted row, parsed the same way.
        recs = reader.records(np.array(rows, dtype=np.int64))
        assert [rec["text"] for rec in recs] == got
        before = base + reader.lines
    return texts, rejects


@settings(
    # THRESHER_FUZZ_EXAMPLES=5000 for a long run; 150 keeps the suite quick.
    max_examples=int(os.environ.get("THRESHER_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(corpora())
def test_scan_and_write_pass_agree_on_every_row(tmp_path_factory, corpus):
    name, data, batch_bytes = corpus
    d = tmp_path_factory.mktemp(f"p{next(_counter)}")
    path = d / name
    path.write_bytes(data)
    try:
        fmt = detect(str(path)).name
    except InputError as e:
        assert str(path) in str(e)
        return
    decoded = _decoded(path, fmt) if fmt != "parquet" else None
    for shard_bytes in (1 << 40, 3000):
        try:
            texts, rejects = _read_all(str(path), shard_bytes, batch_bytes)
        except InputError as e:
            assert str(path) in str(e) and "\n" not in str(e)
            assert decoded is None, f"a decodable file raised: {e}"
            return
        assert decoded is not None, "an undecodable stream was read without an error"
        ok, bad = _expected(decoded)
        assert texts == ok
        assert {r: why.split(":")[0] for r, why in rejects.items()} == {
            r: why.split(":")[0] for r, why in bad.items()
        }
        if fmt != "jsonl":
            break  # compressed files are one shard whatever shard_bytes says


@pytest.mark.parametrize("kind", KINDS)
def test_every_mutation_kind_on_its_own(tmp_path, kind):
    """Each mutation alone, in the middle of real lines: the same checks, deterministically."""
    lines = list(LINES[:30])
    lines[12] = _mutate_line(lines[12], kind, 7)
    path = tmp_path / "raw.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    texts, rejects = _read_all(str(path), 1 << 40, 1 << 20)
    ok, bad = _expected(path.read_bytes())
    assert texts == ok and rejects == bad
    if kind in ("none", "crlf", "lead_space", "nan_in_text", "dup_text"):
        assert 12 in texts  # valid JSON: read (dup_text: orjson's last-wins value)
    elif kind in ("ws", "blank"):
        assert 12 not in texts and 12 not in rejects
    else:
        assert 12 in rejects
    if kind == "dup_text":
        assert texts[12] == "second" == orjson.loads(lines[12])["text"]
