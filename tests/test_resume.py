"""A run killed with SIGKILL at any point and resumed ends byte-identical to an uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import tree_bytes

THRESHER = [sys.executable, "-m", "thresher.cli"]


def _cmd(sample_dir: Path, out: Path, *extra: str) -> list[str]:
    return [
        *THRESHER,
        "select",
        "--target",
        str(sample_dir / "target.jsonl"),
        "--raw",
        str(sample_dir / "raw.jsonl.gz"),
        "--raw",
        str(out.parent / "raw-plain.jsonl"),
        "--out",
        str(out),
        "--k",
        "300",
        "--seed",
        "3",
        "--workers",
        "2",
        "--no-report",
        "--shard-mb",
        "1",
        "--method",  # resume is about the run, not the method: the quick one
        "dsir",
        *extra,
    ]


def _wait_then_kill(proc: subprocess.Popen, ready, timeout: float = 120) -> bool:
    """SIGKILL proc as soon as ready() holds; False if it finished first."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            return False
        if ready():
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("run neither finished nor reached the kill point")


@pytest.fixture(scope="module")
def plain_raw(sample_dir, tmp_path_factory):
    import gzip

    d = tmp_path_factory.mktemp("resume")
    # A plain JSONL copy is split into several byte-range shards (--shard-mb 1).
    (d / "raw-plain.jsonl").write_bytes(gzip.decompress((sample_dir / "raw.jsonl.gz").read_bytes()))
    return d


def test_sigkill_at_several_points_then_resume_is_byte_identical(sample_dir, plain_raw):
    ref = plain_raw / "ref"
    subprocess.run(_cmd(sample_dir, ref), check=True, capture_output=True)
    expected = tree_bytes(ref / "selected") | {
        "docs/" + k: v for k, v in tree_bytes(ref / "docs").items()
    }
    assert len(tree_bytes(ref / "selected")) >= 3

    out = plain_raw / "killed"
    work = out / "_work"
    points = [
        lambda: (work / "config.json").exists(),  # before any shard is done
        lambda: len(list(work.glob("scan-*.pkl"))) >= 2,  # mid-scan
        lambda: len(list(work.glob("write-*.pkl"))) >= 1,  # mid-write
    ]
    kills = 0
    for i, ready in enumerate(points):
        extra = ("--resume",) if i else ()
        proc = subprocess.Popen(
            _cmd(sample_dir, out, *extra),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        kills += _wait_then_kill(proc, ready)
    assert kills >= 2, "the kill points were never reached"
    done = subprocess.run(_cmd(sample_dir, out, "--resume"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    got = tree_bytes(out / "selected") | {
        "docs/" + k: v for k, v in tree_bytes(out / "docs").items()
    }
    assert got == expected


def test_resume_refuses_a_different_config(sample_dir, plain_raw):
    out = plain_raw / "other"
    subprocess.run(_cmd(sample_dir, out), check=True, capture_output=True)
    cmd = _cmd(sample_dir, out, "--resume")
    cmd[cmd.index("--seed") + 1] = "4"
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode != 0 and "seed" in res.stderr


def test_resume_removes_half_written_files_of_the_killed_run(sample_dir, plain_raw):
    """A SIGKILL mid-write leaves `.name.tmp-<pid>`; the resumed run must not keep it."""
    out = plain_raw / "stale"
    subprocess.run(_cmd(sample_dir, out), check=True, capture_output=True)
    before = tree_bytes(out / "selected")
    stale = out / "selected" / ".part-00000.parquet.tmp-4242"
    stale.write_bytes(b"PAR1 half a file")
    (out / "_work" / "write-00000.pkl").unlink(missing_ok=True)  # as if killed mid-write
    done = subprocess.run(_cmd(sample_dir, out, "--resume"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not stale.exists()
    assert tree_bytes(out / "selected") == before
