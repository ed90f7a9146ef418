"""Shared fixtures: the real multi-domain sample the repo ships (see data/sample/SOURCES.md)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    assert (SAMPLE / "raw.jsonl.gz").exists(), "data/sample is missing: it ships with the repo"
    return SAMPLE


@pytest.fixture(scope="session")
def raw_records(sample_dir: Path) -> list[dict]:
    with gzip.open(sample_dir / "raw.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="session")
def target_records(sample_dir: Path) -> list[dict]:
    with open(sample_dir / "target.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def small_corpus(tmp: Path, n: int) -> tuple[Path, Path]:
    """The first ``n`` documents of the shipped sample as plain JSONL, plus one malformed line
    at row 7 (a reject), and the sample's target file."""
    assert (SAMPLE / "raw.jsonl.gz").exists(), "data/sample is missing: it ships with the repo"
    with gzip.open(SAMPLE / "raw.jsonl.gz", "rb") as f:
        lines = [next(f) for _ in range(n)]
    lines.insert(7, b'{"text": "unterminated\n')
    raw = tmp / "raw.jsonl"
    raw.write_bytes(b"".join(lines))
    return raw, SAMPLE / "target.jsonl"


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path -> bytes), to compare runs byte for byte."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="session")
def plain_raw_path(sample_dir: Path, tmp_path_factory) -> Path:
    """The sample raw pool as plain JSONL: it splits into byte-range shards."""
    path = tmp_path_factory.mktemp("plain") / "raw.jsonl"
    path.write_bytes(gzip.decompress((sample_dir / "raw.jsonl.gz").read_bytes()))
    return path
