"""The run directory never loses data: the reproductions of issue "Never lose data".

Every case runs the real CLI (in a subprocess, as a user would) on the shipped sample and
checks the exit code, the one-line message (no traceback) and that the inputs or the
previous run are byte for byte what they were.
"""

from __future__ import annotations

import gzip
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import SAMPLE, tree_bytes
from thresher.errors import ConfigError, OutputError
from thresher.io.sources import discover
from thresher.rundir import LOCK, MARKER, RunDir, fit_sample_limits, writing

THRESHER = [sys.executable, "-m", "thresher.cli"]


def _thresher(*args: str, cwd: Path | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*THRESHER, *args], cwd=cwd, capture_output=True, text=True, timeout=300, **kw
    )


NOTES = ("target check: ", "auto: ")


def _one_line_error(res: subprocess.CompletedProcess, *words: str) -> str:
    """The run failed with exit 2 and one line on stderr holding ``words``; return it."""
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    # the target check and auto print their summary (notes) before a later error
    lines = [x for x in res.stderr.strip().splitlines() if not x.startswith(NOTES)]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def _everything(root: Path) -> dict[str, bytes]:
    """Every file under root, hidden ones included (the marker), but the lock file: a run
    that takes the lock and then refuses leaves its pid there."""
    return {k: v for k, v in tree_bytes(root).items() if k != LOCK}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """p/raw/a.jsonl (200 real sample documents) and p/t.jsonl (the sample target)."""
    p = tmp_path / "p"
    (p / "raw").mkdir(parents=True)
    with gzip.open(SAMPLE / "raw.jsonl.gz", "rb") as f:
        (p / "raw" / "a.jsonl").write_bytes(b"".join(next(f) for _ in range(200)))
    shutil.copy(SAMPLE / "target.jsonl", p / "t.jsonl")
    return p


def _select(project: Path, out: Path | str, *extra: str, cwd: Path | None = None):
    return _thresher(
        "select",
        "--target",
        str(project / "t.jsonl"),
        "--raw",
        str(project / "raw"),
        "--out",
        str(out),
        "--k",
        "5",
        "--workers",
        "1",
        "--no-report",
        "--method",  # these tests are about the run directory: the quick method
        "dsir",
        *extra,
        cwd=cwd,
    )


# -- 1. --overwrite never deletes inputs -----------------------------------------------------


def test_overwrite_of_the_folder_holding_the_inputs_is_refused(project: Path) -> None:
    """`--raw p/raw --out p --overwrite` used to leave p/ holding only _work/."""
    before = _everything(project)
    res = _thresher(
        "select",
        "--target",
        "p/t.jsonl",
        "--raw",
        "p/raw",
        "--out",
        "p",
        "--k",
        "5",
        "--overwrite",
        cwd=project.parent,
    )
    _one_line_error(res, "p: --out holds the input p/raw")
    assert _everything(project) == before


def test_yaml_writing_into_its_own_folder_with_overwrite_is_refused(project: Path) -> None:
    """A run file with `write: {out: .}` run with --overwrite wiped its own folder."""
    (project / "pipeline.yaml").write_text(
        textwrap.dedent(
            """
            read: {raw: raw/a.jsonl, target: t.jsonl}
            select: {k: 5}
            write: {out: ., report: false}
            """
        )
    )
    before = _everything(project)
    res = _thresher("run", str(project / "pipeline.yaml"), "--overwrite")
    _one_line_error(res, "--out holds the input")
    assert _everything(project) == before


def test_yaml_in_the_out_folder_is_never_overwritten(project: Path, tmp_path: Path) -> None:
    """Inputs elsewhere, the run file inside a previous run directory: refused, even with
    the marker there (--overwrite would delete next to it)."""
    out = tmp_path / "run"
    assert _select(project, out).returncode == 0
    (out / "pipeline.yaml").write_text(
        f"read: {{raw: {project / 'raw'}, target: {project / 't.jsonl'}}}\n"
        "select: {k: 5}\nwrite: {out: ., report: false}\n"
    )
    before = _everything(out)
    res = _thresher("run", str(out / "pipeline.yaml"), "--overwrite")
    _one_line_error(res, "--out holds the run file", "pipeline.yaml")
    assert _everything(out) == before


def test_a_bad_option_with_overwrite_leaves_the_previous_run_intact(
    project: Path, tmp_path: Path
) -> None:
    """A mistyped -o with --overwrite deleted the previous good run before it was rejected."""
    out = tmp_path / "run"
    assert _select(project, out).returncode == 0
    before = _everything(out)
    res = _select(project, out, "--overwrite", "-o", "num_bukets=100")
    _one_line_error(res, "num_bukets")
    assert _everything(out) == before


def test_overwrite_needs_the_marker_and_keeps_unknown_files(project: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    res = _select(project, foreign, "--overwrite")
    _one_line_error(res, "not a thresher run directory", MARKER)
    assert _everything(foreign) == {"notes.txt": b"mine"}

    out = tmp_path / "run"
    assert _select(project, out).returncode == 0
    (out / "notes.txt").write_text("mine")
    (out / "selected" / "stale.txt").write_text("inside an entry of thresher's: goes")
    res = _select(project, out, "--overwrite")
    assert res.returncode == 0, res.stderr
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "selected" / "stale.txt").exists()
    assert (out / "manifest.json").exists() and (out / MARKER).exists()


# -- 6. one run at a time ----------------------------------------------------------------------


def test_a_second_run_on_a_locked_out_fails_at_once(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _select(project, out).returncode == 0
    before = _everything(out)
    with RunDir(out).lock():  # this process stands for a run in progress
        t0 = time.perf_counter()
        res = _select(project, out, "--overwrite")
        assert time.perf_counter() - t0 < 30
        _one_line_error(res, f"{out} is in use by another thresher run (pid {os.getpid()})")
    assert _everything(out) == before
    assert _select(project, out, "--overwrite").returncode == 0  # released


def test_two_concurrent_overwrite_runs_one_fails_and_nothing_is_mixed(
    plain_raw_path: Path, tmp_path: Path
) -> None:
    """Two runs with --overwrite on one --out both exited 0 and left a mixed directory."""

    def cmd(out: Path, seed: str) -> list[str]:
        return [
            *THRESHER,
            "select",
            "--target",
            str(SAMPLE / "target.jsonl"),
            "--raw",
            str(plain_raw_path),
            "--out",
            str(out),
            "--k",
            "300",
            "--seed",
            seed,
            "--workers",
            "1",
            "--shard-mb",
            "1",
            "--no-report",
            "--overwrite",
            "--method",
            "dsir",
        ]

    ref = tmp_path / "ref"
    subprocess.run(cmd(ref, "1"), check=True, capture_output=True)
    out = tmp_path / "run"
    subprocess.run(cmd(out, "2"), check=True, capture_output=True)  # a previous run there
    first = subprocess.Popen(cmd(out, "1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lock = out / LOCK
    t0 = time.time()
    while lock.read_text().strip() != str(first.pid):  # the first run holds the lock
        assert first.poll() is None, first.communicate()
        assert time.time() - t0 < 120
        time.sleep(0.002)
    first.send_signal(signal.SIGSTOP)  # mid-run, however fast this machine is
    try:
        t1 = time.perf_counter()
        second = subprocess.run(cmd(out, "2"), capture_output=True, text=True, timeout=120)
        assert time.perf_counter() - t1 < 60  # at once: it does not wait for the first
    finally:
        first.send_signal(signal.SIGCONT)
    _one_line_error(second, f"in use by another thresher run (pid {first.pid})")
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    for part in ("selected", "docs"):
        assert tree_bytes(out / part) == tree_bytes(ref / part)


# -- 10. --out inside an input folder --------------------------------------------------------


def test_out_inside_an_input_folder_is_refused(project: Path) -> None:
    before = _everything(project)
    res = _thresher(
        "select", "--target", "t.jsonl", "--raw", ".", "--out", "run", "--k", "5", cwd=project
    )
    _one_line_error(res, "run: --out lies inside input .: its outputs would be read as input")
    assert _everything(project) == before


def test_out_inside_a_glob_that_would_match_its_outputs_is_refused(project: Path) -> None:
    before = _everything(project)
    res = _select(project, "ok", cwd=project)  # raw/ and run/ are siblings: fine
    assert res.returncode == 0, res.stderr
    shutil.rmtree(project / "ok")
    res = _thresher(
        "select",
        "--target",
        "t.jsonl",
        "--raw",
        "**/*.jsonl",
        "--out",
        "runs/a",
        "--k",
        "5",
        cwd=project,
    )
    _one_line_error(res, "--out lies inside input **/*.jsonl")
    assert _everything(project) == before
    assert not (project / "runs").exists()


# -- resume is bound to the inputs' identity -------------------------------------------------


def _resume_cmd(raw: Path, out: Path, *extra: str) -> list[str]:
    return [
        *THRESHER,
        "select",
        "--target",
        str(SAMPLE / "target.jsonl"),
        "--raw",
        str(raw),
        "--out",
        str(out),
        "--k",
        "300",
        "--workers",
        "1",
        "--shard-mb",
        "1",
        "--no-report",
        "--method",
        "dsir",
        *extra,
    ]


def test_resume_after_an_input_changed_is_refused_naming_the_file(
    plain_raw_path: Path, tmp_path: Path
) -> None:
    """kill -9 once a scan checkpoint exists, edit the input, resume: was a silent mix."""
    raw = tmp_path / "raw.jsonl"
    shutil.copy(plain_raw_path, raw)
    out = tmp_path / "run"
    proc = subprocess.Popen(
        _resume_cmd(raw, out),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    t0 = time.time()
    while not (out / "_work" / "scan-00001.pkl").exists() and proc.poll() is None:
        assert time.time() - t0 < 120
        time.sleep(0.005)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _everything(out)
    lines = raw.read_bytes().splitlines(keepends=True)
    raw.write_bytes(b"".join(lines[:100] + lines[101:]))  # one document fewer
    res = subprocess.run(_resume_cmd(raw, out, "--resume"), capture_output=True, text=True)
    _one_line_error(res, f"{raw}: changed since the run started", "--overwrite")
    assert _everything(out) == before  # the refusal wrote nothing

    # Same size, other bytes (an edit in place): the content hash tells.
    assert subprocess.run(_resume_cmd(raw, out, "--overwrite"), capture_output=True).returncode == 0
    data = bytearray(raw.read_bytes())
    i = data.index(b"the ")
    data[i : i + 4] = b"THE "
    st = raw.stat()
    raw.write_bytes(bytes(data))
    os.utime(raw, ns=(st.st_atime_ns, st.st_mtime_ns))  # even the mtime is as it was
    res = subprocess.run(_resume_cmd(raw, out, "--resume"), capture_output=True, text=True)
    _one_line_error(res, f"{raw}: changed since the run started (content differs)")


def test_resume_after_a_touch_only_goes_on(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _select(project, out).returncode == 0
    selected = tree_bytes(out / "selected")
    os.utime(project / "raw" / "a.jsonl")  # new mtime, same bytes
    res = _select(project, out, "--resume")
    assert res.returncode == 0, res.stderr
    assert tree_bytes(out / "selected") == selected


# -- a full disk is one line naming the file -------------------------------------------------


def test_a_file_size_limit_while_writing_is_one_line_naming_the_file(
    project: Path, tmp_path: Path
) -> None:
    """RLIMIT_FSIZE makes every write past 20 kB fail (EFBIG), as a full disk does (ENOSPC)."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    out = tmp_path / "run"
    res = _thresher(
        "select",
        "--target",
        str(project / "t.jsonl"),
        "--raw",
        str(project / "raw"),
        "--out",
        str(out),
        "--k",
        "150",
        "--workers",
        "1",
        preexec_fn=limit,
    )
    line = _one_line_error(res, "cannot write: File too large")
    assert str(out) in line


def test_writing_to_a_full_device_names_the_file() -> None:
    assert Path("/dev/full").is_char_device()
    full = pytest.raises(OutputError, match=r"^/dev/full: cannot write: No space left on device$")
    with full, writing("/dev/full"), open("/dev/full", "wb") as f:
        f.write(b"x" * 100_000)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_is_one_line(project: Path, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)])
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        res = _select(project, disk / "run", "--k", "150")
        _one_line_error(res, "cannot write: No space left on device", str(disk / "run"))
    finally:
        subprocess.run(["umount", str(disk)], check=True)


# -- the module's own contracts --------------------------------------------------------------


def test_prepare_checks_everything_before_writing(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "deep" / "new" / "run"
    with pytest.raises(ConfigError, match="--out lies inside input"):
        RunDir(project / "raw" / "run").prepare(
            stamp={}, inputs={"raw": [str(project / "raw")], "target": []}
        )
    assert not (project / "raw" / "run").exists()
    with RunDir(out) as run:
        identity = run.prepare(stamp={"k": 1}, inputs={"raw": [str(project / "raw")]})
        assert run.holds_lock()
        (entry,) = identity["raw"]
        assert entry["path"] == str(project / "raw" / "a.jsonl")
        assert entry["bytes"] == (project / "raw" / "a.jsonl").stat().st_size
        assert entry["hash"].startswith("xxh3_128:")
        assert sorted(p.name for p in out.iterdir()) == sorted([LOCK, MARKER, "_work"])
    assert not run.holds_lock()
    with pytest.raises(ConfigError, match="other options \\(k\\)"):
        RunDir(out).prepare(stamp={"k": 2}, inputs={"raw": [str(project / "raw")]}, resume=True)


def test_fit_sample_limits_follow_the_bytes(plain_raw_path: Path) -> None:
    from thresher.io.sources import plan_shards

    files = discover([str(plain_raw_path), str(SAMPLE / "raw.jsonl.gz")])
    shards = plan_shards(files, 1 << 20)
    limits = fit_sample_limits(shards, files, 1000)
    assert len(shards) >= 3 and 1000 <= sum(limits) <= 1000 + len(shards)
    total = sum(f.size for f in files)
    gz = [n for s, n in zip(shards, limits, strict=True) if s.format == "jsonl.gz"]
    assert gz == [round(1000 * files[1].size / total + 0.5)]  # one whole compressed file
