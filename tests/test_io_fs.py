"""The filesystem layer: globs and directory walks list each real file once and never loop;
remote stores plug in through fsspec."""

from __future__ import annotations

import glob
import gzip
import os
import threading

import fsspec
import pytest

import thresher
from thresher.errors import InputError
from thresher.io.fs import LocalFS
from thresher.io.readers import ShardReader, read_texts
from thresher.io.sources import discover, file_digest, plan_shards


@pytest.fixture
def sample_lines(sample_dir) -> list[bytes]:
    with gzip.open(sample_dir / "raw.jsonl.gz", "rb") as f:
        return [next(f) for _ in range(300)]


def _discover_in(cwd, paths, timeout=20.0):
    """discover() from ``cwd``, failing (not hanging) if it does not return in time."""
    out: dict = {}

    def run():
        old = os.getcwd()
        try:
            os.chdir(cwd)
            out["files"] = discover(paths)
        except Exception as e:  # reported by the assertion below
            out["error"] = e
        finally:
            os.chdir(old)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"discover({paths}) did not finish in {timeout}s"
    if "error" in out:
        raise out["error"]
    return out["files"]


def test_symlink_loops_under_a_recursive_glob_read_each_file_once(
    tmp_path, sample_lines, sample_dir
):
    d = tmp_path / "d"
    d.mkdir()
    (d / "part.jsonl").write_bytes(b"".join(sample_lines))
    os.symlink("../d", d / "self")  # ln -s ../d d/self: one loop read the file 41 times
    files = _discover_in(tmp_path, ["d/**/*.jsonl"])
    assert [f.path for f in files] == ["d/part.jsonl"]
    os.symlink("../d", d / "again")  # two loops made the walk exponential: it hung
    os.symlink(".", d / "here")
    assert [f.path for f in _discover_in(tmp_path, ["d/**/*.jsonl"])] == ["d/part.jsonl"]
    assert [f.path for f in _discover_in(tmp_path, ["d"])] == ["d/part.jsonl"]
    assert [f.path for f in _discover_in(tmp_path, [str(d) + "/**"])] == [str(d / "part.jsonl")]
    m = thresher.deduplicate(
        raw=[str(d) + "/**/*.jsonl"],
        out=str(tmp_path / "out"),
        method="exact",
        workers=1,
        report=False,
    )
    assert m["counts"]["read"] == 300


def test_one_real_file_reached_by_many_paths_is_read_once(tmp_path, sample_lines):
    (tmp_path / "a.jsonl").write_bytes(b"".join(sample_lines))
    os.symlink("a.jsonl", tmp_path / "b.jsonl")
    sub = tmp_path / "sub"
    sub.mkdir()
    os.symlink("../a.jsonl", sub / "c.jsonl")
    files = discover([tmp_path / "a.jsonl", tmp_path / "b.jsonl", str(tmp_path) + "/**/*.jsonl"])
    assert [f.path for f in files] == [str(tmp_path / "a.jsonl")]


def test_glob_matches_python_glob_on_a_tree_without_loops(tmp_path):
    for rel in [
        "a.jsonl",
        "b.jsonl.gz",
        ".hidden.jsonl",
        "x/c.jsonl",
        "x/y/d.jsonl",
        "x/y/z/e.parquet",
        "x/.h/f.jsonl",
        ".dot/g.jsonl",
        "[br]/h.jsonl",
    ]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("{}\n")
    patterns = [
        "*.jsonl",
        "*",
        ".*",
        "**/*.jsonl",
        "x/**/*.jsonl",
        "x/**",
        "*/*.jsonl",
        "x/*/d.json?",
        "[ab].jsonl*",
        "**/z/*",
        "x/**/y/**/*",
        "**/.h/*.jsonl",
    ]
    fs = LocalFS()
    old = os.getcwd()
    try:
        os.chdir(tmp_path)
        for pat in patterns:
            assert fs.glob(pat) == sorted(glob.glob(pat, recursive=True)), pat
    finally:
        os.chdir(old)
    for pat in patterns:  # absolute patterns: paths spelled as glob spells them
        full = str(tmp_path) + "/" + pat
        assert fs.glob(full) == sorted(glob.glob(full, recursive=True)), full


def test_directory_walk_keeps_pathlib_spelling_and_follows_links_once(tmp_path, sample_lines):
    data = tmp_path / "data"
    (data / "2024").mkdir(parents=True)
    (data / "2024" / "p.jsonl").write_bytes(b"".join(sample_lines[:10]))
    (data / "notes.txt").write_text("not input")
    os.symlink("2024", data / "latest")  # an alias of a directory already walked
    files = discover([str(data) + "/"])
    assert [f.path for f in files] == [str(data / "2024" / "p.jsonl")]


def test_broken_link_is_an_error_naming_it(tmp_path):
    os.symlink("nowhere.jsonl", tmp_path / "gone.jsonl")
    with pytest.raises(InputError, match="gone.jsonl"):
        discover([str(tmp_path) + "/*.jsonl"])


def test_a_remote_store_plugs_in_through_fsspec(sample_dir, raw_records):
    """fsspec's in-memory filesystem stands for s3/gs/hf: same formats, same results."""
    mem = fsspec.filesystem("memory")
    body = gzip.decompress((sample_dir / "raw.jsonl.gz").read_bytes())
    lines = body.splitlines(keepends=True)
    mem.pipe("/thresher-test/corpus/a.jsonl", b"".join(lines[:1000]))
    mem.pipe("/thresher-test/corpus/b.jsonl.gz", gzip.compress(b"".join(lines[1000:1500])))
    try:
        files = discover(["memory://thresher-test/corpus/*"])
        assert [(f.path, f.format) for f in files] == [
            ("memory:///thresher-test/corpus/a.jsonl", "jsonl"),
            ("memory:///thresher-test/corpus/b.jsonl.gz", "jsonl.gz"),
        ]
        shards = plan_shards(files, shard_bytes=500_000)
        assert len(shards) > 2
        texts = []
        before = 0
        for s in shards:
            reader = ShardReader(s)
            for b in reader.batches():
                texts.extend(b.texts.to_pylist())
                recs = reader.records(b.rows)
                assert [r["text"] for r in recs] == b.texts.to_pylist()
            before += reader.lines
        assert texts == [r["text"] for r in raw_records[:1500]]
        t, rejects = read_texts(["memory://thresher-test/corpus/b.jsonl.gz"])
        assert t.to_pylist() == [r["text"] for r in raw_records[1000:1500]] and rejects == []
        assert file_digest(files[0].path) == file_digest_of_bytes(b"".join(lines[:1000]))
    finally:
        mem.rm("/thresher-test", recursive=True)


def file_digest_of_bytes(data: bytes) -> str:
    import xxhash

    return f"xxh3_128:{xxhash.xxh3_128(data).hexdigest()}"
