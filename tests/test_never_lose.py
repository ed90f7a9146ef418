"""Never lose data, never answer wrong in silence: end-to-end through the real CLI.

Each test reproduces one case of the issue of that name, on the shipped sample. A user
error must exit 2 with ONE line that names what to fix (the file, key or value); nothing
that was there before may change (input bytes, a previous good run). A questionable but
answerable request succeeds and says so: a warning on stderr and in manifest["warnings"].

Most cases run in-process (typer's CliRunner: an uncaught exception there is what a user
would see as a traceback); signals, concurrent runs and hangs need a real process.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
import zstandard
from typer.testing import CliRunner

from tests.conftest import SAMPLE, tree_bytes
from thresher.cli import app

THRESHER = [sys.executable, "-m", "thresher.cli"]
TARGET = SAMPLE / "target.jsonl"


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def sample_lines(n: int | None = None, lang: str | None = None) -> list[bytes]:
    """The first ``n`` raw sample documents (optionally of one language), as JSONL lines."""
    out = []
    with gzip.open(SAMPLE / "raw.jsonl.gz", "rb") as f:
        for line in f:
            if lang is None or json.loads(line)["lang"] == lang:
                out.append(line if line.endswith(b"\n") else line + b"\n")
            if n is not None and len(out) == n:
                break
    return out


def write_raw(path: Path, n: int = 40) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(sample_lines(n)))
    return path


def cli(*args: str | Path):
    """Run the CLI in-process; the result has exit_code, stdout, stderr, exception."""
    return CliRunner().invoke(app, [str(a) for a in args])


def select_args(raw: Path | str, out: Path, *extra: str | Path, k: int = 5) -> list:
    return [
        "select",
        "--target",
        TARGET,
        "--raw",
        raw,
        "--out",
        out,
        "--k",
        str(k),
        "--workers",
        "1",
        "--no-report",
        *extra,
    ]


def assert_one_line_error(res, *names: str) -> str:
    """Exit 2, no traceback, at most two lines on stderr, naming each of ``names``."""
    stderr = res.stderr if hasattr(res, "exit_code") else res.stderr
    code = res.exit_code if hasattr(res, "exit_code") else res.returncode
    exc = getattr(res, "exception", None)
    assert exc is None or isinstance(exc, SystemExit), (
        f"uncaught {type(exc).__name__}: {exc} (a user would see a traceback)"
    )
    assert code == 2, f"exit {code}, expected 2; stderr: {stderr[-1500:]}"
    assert "Traceback" not in stderr, stderr[-3000:]
    # the target check and auto print their summary (notes) before a later error
    notes = ("target check: ", "auto: ")
    lines = [x for x in stderr.splitlines() if x.strip() and not x.startswith(notes)]
    assert 1 <= len(lines) <= 2, f"expected a one-line error, got {len(lines)} lines:\n{stderr}"
    for name in names:
        assert name in stderr, f"the error does not name {name!r}: {stderr}"
    return stderr


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def assert_counts_add_up(m: dict) -> dict:
    c = m["counts"]
    assert c["read"] == (
        c["selected"] + c["not_selected"] + c["filtered"] + c["duplicate"] + c["rejected"]
    ), c
    return c


def rejects(out: Path) -> list[dict]:
    rows: list[dict] = []
    for p in sorted((out / "rejects").glob("*")):
        if p.suffix == ".jsonl":
            rows += [json.loads(x) for x in p.read_bytes().splitlines() if x.strip()]
        elif p.suffix == ".parquet":
            rows += pq.read_table(p).to_pylist()
    return rows


def selected_texts(out: Path) -> list[str]:
    from thresher.pipeline import read_selected

    return read_selected(out).column("text").to_pylist()


def warnings_text(m: dict) -> str:
    """manifest["warnings"] as one searchable string (whatever its entries' shape)."""
    assert "warnings" in m, "the manifest has no 'warnings' entry"
    return json.dumps(m["warnings"], ensure_ascii=False)


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children of children too), from /proc."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except FileNotFoundError:
            continue
        for t in tasks:
            try:
                kids = Path(f"/proc/{p}/task/{t}/children").read_text().split()
            except FileNotFoundError:
                continue
            for k in map(int, kids):
                if k not in found:
                    found.add(k)
                    todo.append(k)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_gone(pids: set[int], seconds: float) -> set[int]:
    t0 = time.time()
    while time.time() - t0 < seconds:
        left = {p for p in pids if alive(p)}
        if not left:
            return set()
        time.sleep(0.1)
    return {p for p in pids if alive(p)}


def kill_leftovers(pids: set[int]) -> None:
    for p in pids:
        if alive(p):
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)


@pytest.fixture(scope="module")
def big_plain(tmp_path_factory) -> Path:
    """The sample as plain JSONL: ~7 MB, several shards with --shard-mb 1."""
    path = tmp_path_factory.mktemp("plain") / "raw.jsonl"
    path.write_bytes(gzip.decompress((SAMPLE / "raw.jsonl.gz").read_bytes()))
    return path


def start_run(raw: Path, out: Path, log: Path, *extra: str) -> subprocess.Popen:
    """A real `thresher select` process (its own process group, stderr to ``log``)."""
    cmd = [
        *THRESHER,
        "select",
        "--target",
        str(TARGET),
        "--raw",
        str(raw),
        "--out",
        str(out),
        "--k",
        "100",
        "--workers",
        "2",
        "--shard-mb",
        "1",
        "--no-report",
        "--method",  # these tests are about the process, not the method: the quick one
        "dsir",
        *extra,
    ]
    with open(log, "wb") as err:
        return subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
            preexec_fn=_sigint_as_in_a_terminal,
        )


def _sigint_as_in_a_terminal() -> None:
    """In the child before exec: SIGINT delivered and handled by default, as for a command
    typed in a terminal. An ignored or blocked SIGINT is inherited through exec, and the test
    suite's own process may have either (CI ran the suite under a parent that left the
    interrupted run ignoring SIGINT: it finished and exited 0)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(proc: subprocess.Popen, ready, timeout: float = 120) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if ready():
            return
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before the test point")
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError("the run never reached the test point")


# ---------------------------------------------------------------------------------------
# --overwrite never deletes what thresher did not create
# ---------------------------------------------------------------------------------------


def test_overwrite_refuses_an_out_folder_that_holds_the_inputs(tmp_path):
    proj = tmp_path / "proj"
    raw = write_raw(proj / "raw" / "raw.jsonl")
    target = proj / "target.jsonl"
    shutil.copy(TARGET, target)
    before = tree_bytes(proj)
    res = CliRunner().invoke(
        app,
        [
            "select",
            "--method",
            "dsir",
            "--target",
            str(target),
            "--raw",
            str(raw.parent),
            "--out",
            str(proj),
            "--k",
            "5",
            "--workers",
            "1",
            "--no-report",
            "--overwrite",
        ],
    )
    assert_one_line_error(res, "proj")
    assert tree_bytes(proj) == before


def test_overwrite_refuses_out_dot_from_a_pipeline_file(tmp_path):
    proj = tmp_path / "proj"
    write_raw(proj / "raw.jsonl")
    shutil.copy(TARGET, proj / "target.jsonl")
    (proj / "pipeline.yaml").write_text(
        yaml.safe_dump(
            {
                "read": {"raw": "raw.jsonl", "target": "target.jsonl"},
                "select": {"k": 5},
                "engine": {"workers": 1},
                "write": {"out": ".", "report": False},
            }
        )
    )
    before = tree_bytes(proj)
    res = cli("run", proj / "pipeline.yaml", "--overwrite")
    err = assert_one_line_error(res)
    assert "proj" in err or "out" in err, err
    assert tree_bytes(proj) == before


def test_mistyped_option_with_overwrite_keeps_the_previous_run(tmp_path):
    raw = write_raw(tmp_path / "raw.jsonl")
    out = tmp_path / "run"
    ok = cli(*select_args(raw, out))
    assert ok.exit_code == 0, ok.output
    before = tree_bytes(out)
    raw_before = raw.read_bytes()
    res = cli(*select_args(raw, out, "--overwrite", "-o", "foo=1"))
    assert_one_line_error(res, "foo")
    assert tree_bytes(out) == before
    assert raw.read_bytes() == raw_before


def test_overwrite_refuses_a_folder_thresher_did_not_create(tmp_path):
    raw = write_raw(tmp_path / "in" / "raw.jsonl")
    mine = tmp_path / "my-notes"
    (mine / "sub").mkdir(parents=True)
    (mine / "notes.txt").write_text("months of work\n")
    (mine / "sub" / "data.csv").write_text("a,b\n1,2\n")
    before = tree_bytes(mine)
    res = cli(*select_args(raw, mine, "--overwrite"))
    assert_one_line_error(res, "my-notes")
    assert tree_bytes(mine) == before


# ---------------------------------------------------------------------------------------
# --resume never mixes two versions of the input
# ---------------------------------------------------------------------------------------


def test_resume_after_the_input_changed_is_refused_naming_the_file(tmp_path):
    raw = write_raw(tmp_path / "corpus.jsonl", n=60)
    out = tmp_path / "run"
    ok = cli(*select_args(raw, out))
    assert ok.exit_code == 0, ok.output
    # A run that finished its shards but died before the manifest: what --resume picks up.
    (out / "manifest.json").unlink()
    before = tree_bytes(out)
    lines = raw.read_bytes().splitlines(keepends=True)
    doc = json.loads(lines[3])
    doc["text"] = "An edited document: " + doc["text"]
    lines[3] = json.dumps(doc).encode() + b"\n"
    raw.write_bytes(b"".join(lines))
    res = cli(*select_args(raw, out, "--resume"))
    assert_one_line_error(res, "corpus.jsonl")
    assert tree_bytes(out) == before, "the refused resume wrote into the run"


# ---------------------------------------------------------------------------------------
# reading: every row is read once, selected or rejected with a reason
# ---------------------------------------------------------------------------------------


def test_symlink_loop_under_a_recursive_glob_is_read_once(tmp_path):
    d = tmp_path / "d"
    write_raw(d / "a.jsonl", n=30)
    os.symlink("../d", d / "self")
    p = subprocess.run(
        [*THRESHER, "dedup", "--raw", "d/**/*.jsonl", "--out", "r", "--workers", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    m = manifest(tmp_path / "r")
    assert assert_counts_add_up(m)["read"] == 30
    assert len(m["inputs"]["raw"]) == 1, [f["path"] for f in m["inputs"]["raw"]]


def test_nan_in_another_field_is_a_reject_not_a_crash(tmp_path, monkeypatch):
    """The issue's reproduction, verbatim."""
    monkeypatch.chdir(tmp_path)
    Path("nan.jsonl").write_bytes(b'{"text":"a b"}\n{"text":"hello","s":NaN}\n')
    res = cli("dedup", "--raw", "nan.jsonl", "--out", "r", "--workers", "1")
    assert res.exit_code == 0, res.output
    c = assert_counts_add_up(manifest(Path("r")))
    assert c["read"] == 2
    rows = rejects(Path("r"))
    assert [(Path(r["source"]).name, r["line"]) for r in rows] == [("nan.jsonl", 2)], rows
    assert rows[0]["reason"]


def test_odd_rows_are_selected_or_rejected_with_file_line_and_reason(tmp_path):
    """NaN, a BOM at the start of a file, invalid UTF-8 and nesting > 1024 outside the text."""
    good = sample_lines(20)
    deep = b"[" * 1100 + b"]" * 1100
    # (line, text, the row's bytes): each row's text is unique, to find it among the selected.
    odd = [
        (3, "the NaN row", b'{"text": "the NaN row", "score": NaN}\n'),
        (5, "the latin-1 row", b'{"text": "the latin-1 row", "meta": "caf\xe9"}\n'),
        (8, "the deep row", b'{"text": "the deep row", "meta": ' + deep + b"}\n"),
    ]
    lines = list(good[:10])
    for line_no, _, row in odd:
        lines.insert(line_no - 1, row)
    (tmp_path / "odd.jsonl").write_bytes(b"".join(lines))
    bom_row = b'{"text": "the first row of bom.jsonl, after a BOM"}\n'
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + bom_row + b"".join(good[10:]))
    cases = [("odd.jsonl", n, text) for n, text, _ in odd]
    cases.append(("bom.jsonl", 1, "the first row of bom.jsonl, after a BOM"))

    out = tmp_path / "r"
    res = cli(
        "dedup", "--raw", tmp_path / "odd.jsonl", "--raw", tmp_path / "bom.jsonl",
        "--out", out, "--workers", "1",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    c = assert_counts_add_up(manifest(out))
    assert c["read"] == len(good) + len(cases)
    rejected = {(Path(r["source"]).name, r["line"]): r["reason"] for r in rejects(out)}
    assert len(rejected) == c["rejected"]
    kept = set(selected_texts(out))
    for name, line, text in cases:
        if (name, line) in rejected:
            assert rejected[(name, line)], f"{name}:{line} rejected without a reason"
        else:
            assert text in kept, f"{name}:{line} neither selected nor rejected"


def test_a_200_mb_row_is_a_row_too_large_reject_and_the_others_are_read(tmp_path):
    good = sample_lines(20)
    path = tmp_path / "huge.jsonl.zst"
    with open(path, "wb") as f, zstandard.ZstdCompressor(level=1).stream_writer(f) as z:
        z.write(b"".join(good))
        chunk = b" " * (1 << 20)
        for _ in range(200):
            z.write(chunk)  # one 200 MB row of spaces, no newline
    extra: list[str] = []
    help_text = subprocess.run(
        [*THRESHER, "dedup", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    if "--max-row-mb" in help_text:
        extra = ["--max-row-mb", "1"]
    p = subprocess.run(
        [*THRESHER, "dedup", "--raw", str(path), "--out", str(tmp_path / "r"), "--workers", "1", *extra],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    c = assert_counts_add_up(manifest(tmp_path / "r"))
    assert c["read"] == len(good) + 1
    assert c["rejected"] == 1
    (row,) = rejects(tmp_path / "r")
    assert row["line"] == len(good) + 1
    assert row["reason"].startswith("row_too_large"), row["reason"]
    assert Path(row["source"]).name == "huge.jsonl.zst"


def test_gzip_named_jsonl_is_read_by_its_magic_bytes(tmp_path):
    raw = tmp_path / "actually-gzip.jsonl"
    raw.write_bytes(gzip.compress(b"".join(sample_lines(30))))
    res = cli("dedup", "--raw", raw, "--out", tmp_path / "r", "--workers", "1")
    assert res.exit_code == 0, res.output
    c = assert_counts_add_up(manifest(tmp_path / "r"))
    assert c["read"] == 30 and c["rejected"] == 0


# ---------------------------------------------------------------------------------------
# the run directory: one run at a time, never inside its inputs
# ---------------------------------------------------------------------------------------


def test_a_second_run_on_the_same_out_fails_at_once(tmp_path, big_plain):
    out = tmp_path / "shared-out"
    first = start_run(big_plain, out, tmp_path / "first.log")
    kids: set[int] = set()
    try:
        wait_for(first, lambda: (out / "_work" / "config.json").exists())
        kids = descendants(first.pid)
        # Freeze the first run mid-way so it is certainly still running during the second.
        os.killpg(first.pid, signal.SIGSTOP)
        t0 = time.time()
        second = subprocess.run(
            [*THRESHER, *map(str, select_args(big_plain, out, "--overwrite"))],
            capture_output=True,
            text=True,
            timeout=120,
        )
        took = time.time() - t0
        os.killpg(first.pid, signal.SIGCONT)
        assert_one_line_error(second, "shared-out")
        assert took < 30, f"the second run took {took:.0f} s to give up"
        assert first.wait(timeout=300) == 0, (tmp_path / "first.log").read_text()[-2000:]
        c = assert_counts_add_up(manifest(out))
        assert c["read"] == 2780 and c["selected"] == 100
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGCONT)
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
        kill_leftovers(kids)


def test_out_inside_an_input_folder_is_refused(tmp_path):
    d = tmp_path / "corpus"
    raw = write_raw(d / "a.jsonl")
    before = tree_bytes(d)
    res = cli(*select_args(d, d / "my-run"))
    assert_one_line_error(res, "my-run")
    assert tree_bytes(d) == before
    assert raw.exists()


# ---------------------------------------------------------------------------------------
# signals: no orphan workers, no tracebacks
# ---------------------------------------------------------------------------------------


def test_kill_9_of_the_driver_takes_its_workers_with_it(tmp_path, big_plain):
    out = tmp_path / "killed"
    proc = start_run(big_plain, out, tmp_path / "err.log")
    kids: set[int] = set()
    try:

        def mid_scan() -> bool:
            kids.update(descendants(proc.pid))
            return len(kids) >= 2 and any((out / "_work").glob("scan-*.pkl"))

        wait_for(proc, mid_scan)
        kids.update(descendants(proc.pid))
        os.kill(proc.pid, signal.SIGKILL)  # the driver only, as the OOM killer would
        proc.wait(timeout=30)
        left = wait_gone(kids, 10)
        assert not left, f"processes outlived the driver by 10 s: {sorted(left)}"
    finally:
        kill_leftovers(kids)


def test_ctrl_c_ends_the_run_with_one_line_saying_resume(tmp_path, big_plain):
    out = tmp_path / "interrupted"
    log = tmp_path / "err.log"
    # Four times the sample (~28 shards): on a loaded machine the whole 7-shard run once
    # ended between two polls of this test, which then "interrupted" a finished run.
    raw = tmp_path / "raw4.jsonl"
    raw.write_bytes(big_plain.read_bytes() * 4)
    proc = start_run(raw, out, log)
    kids: set[int] = set()
    try:

        def mid_scan() -> bool:
            kids.update(descendants(proc.pid))
            running = proc.poll() is None  # a run that already ended is not mid-scan
            return running and len(kids) >= 2 and any((out / "_work").glob("scan-*.pkl"))

        wait_for(proc, mid_scan)
        kids.update(descendants(proc.pid))
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole group
        code = proc.wait(timeout=60)
        stderr = log.read_text()
        assert code != 0, f"the interrupted run exited 0; its stderr:\n{stderr[-3000:]}"
        assert "Traceback" not in stderr, stderr[-3000:]
        lines = [x for x in stderr.splitlines() if x.strip()]
        assert lines, "nothing on stderr: the user is not told what happened"
        last = lines[-1]
        assert "interrupted" in last and "--resume" in last, stderr[-2000:]
        left = wait_gone(kids, 10)
        assert not left, f"workers outlived the interrupted driver: {sorted(left)}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        kill_leftovers(kids)


# ---------------------------------------------------------------------------------------
# messages that name what to fix
# ---------------------------------------------------------------------------------------


def test_out_that_is_a_regular_file(tmp_path):
    raw = write_raw(tmp_path / "raw.jsonl")
    out = tmp_path / "results.txt"
    out.write_text("not a folder\n")
    res = cli(*select_args(raw, out))
    assert_one_line_error(res, "results.txt")
    assert out.read_text() == "not a folder\n"


def test_unknown_key_under_score_options_in_a_pipeline_file(tmp_path):
    raw = write_raw(tmp_path / "raw.jsonl")
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "read": {"raw": str(raw), "target": str(TARGET)},
                "score": {"method": "dsir", "options": {"bukets": 100}},
                "select": {"k": 5},
                "engine": {"workers": 1},
                "write": {"out": str(tmp_path / "run"), "report": False},
            }
        )
    )
    res = cli("run", cfg)
    assert_one_line_error(res, "bukets")
    assert not (tmp_path / "run").exists()


def test_unknown_scorer_option_names_the_option_and_the_method(tmp_path):
    raw = write_raw(tmp_path / "raw.jsonl")
    res = cli(*select_args(raw, tmp_path / "run", "--method", "dsir", "-o", "foo=1"))
    err = assert_one_line_error(res, "foo", "dsir")
    assert "__init__" not in err and "DSIRScorer" not in err, err


def test_bad_scorer_option_value_names_the_option(tmp_path):
    raw = write_raw(tmp_path / "raw.jsonl")
    res = cli(
        *select_args(raw, tmp_path / "run", "--method", "classifier", "-o", "max_negatives=abc")
    )
    assert_one_line_error(res, "max_negatives")


def test_unknown_language_code_is_named(tmp_path):
    raw = write_raw(tmp_path / "raw.jsonl")
    res = cli(*select_args(raw, tmp_path / "run", "--lang", "zz"))
    assert_one_line_error(res, "zz")


def test_a_language_filter_that_keeps_nothing_says_so(tmp_path):
    raw = tmp_path / "english.jsonl"
    raw.write_bytes(b"".join(sample_lines(lang="en")))
    n = len(sample_lines(lang="en"))
    res = cli(*select_args(raw, tmp_path / "run", "--lang", "de"))
    text = res.stderr + res.stdout
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in text
    assert "could be read" not in text, text
    assert "language" in text and "de" in text, text
    assert f"{n:,}" in text or str(n) in text, (
        f"the message does not say how many were read: {text}"
    )


def test_text_field_missing_from_every_row_is_named(tmp_path):
    raw = write_raw(tmp_path / "raw.jsonl")
    res = cli(*select_args(raw, tmp_path / "run", "--text-field", "content"))
    assert_one_line_error(res, "content")


# ---------------------------------------------------------------------------------------
# questionable requests: refused, or done and said
# ---------------------------------------------------------------------------------------


def test_k_zero_is_an_error(tmp_path):
    raw = write_raw(tmp_path / "raw.jsonl")
    res = cli(*select_args(raw, tmp_path / "run", k=0))
    err = assert_one_line_error(res)
    assert re.search(r"(?<![A-Za-z_])k(?![A-Za-z_])", err), err


def test_k_above_the_eligible_documents_selects_all_and_warns(tmp_path):
    raw = write_raw(tmp_path / "raw.jsonl", n=40)
    out = tmp_path / "run"
    res = cli(*select_args(raw, out, k=1000))
    assert res.exit_code == 0, res.output
    m = manifest(out)
    c = assert_counts_add_up(m)
    assert c["selected"] == 40 and c["not_selected"] == 0
    w = warnings_text(m)
    assert "1000" in w or "1,000" in w, w
    assert "warning" in res.stderr.lower(), res.stderr


def test_k_true_in_a_pipeline_file_is_an_error_not_1(tmp_path):
    raw = write_raw(tmp_path / "raw.jsonl")
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(
        "read:\n"
        f"  raw: {raw}\n"
        f"  target: {TARGET}\n"
        "select:\n"
        "  k: true\n"
        "engine:\n"
        "  workers: 1\n"
        "write:\n"
        f"  out: {tmp_path / 'run'}\n"
        "  report: false\n"
    )
    res = cli("run", cfg)
    err = assert_one_line_error(res)
    assert re.search(r"(?<![A-Za-z_])k(?![A-Za-z_])", err), err
    assert not (tmp_path / "run" / "manifest.json").exists()


def test_quota_field_that_no_document_has(tmp_path):
    raw = write_raw(tmp_path / "raw.jsonl")
    res = cli(
        *select_args(raw, tmp_path / "run", "--quota-field", "langue", "--quota", "en=0.5,de=0.5")
    )
    assert_one_line_error(res, "langue")


def test_quota_group_without_documents_is_a_recorded_warning(tmp_path):
    raw = tmp_path / "raw.jsonl"
    raw.write_bytes(b"".join(sample_lines(200)))
    out = tmp_path / "run"
    res = cli(*select_args(raw, out, "--quota-field", "lang", "--quota", "en=0.7,xx=0.3", k=20))
    assert res.exit_code == 0, res.output
    m = manifest(out)
    assert_counts_add_up(m)
    assert "xx" in warnings_text(m)


def test_a_target_that_matches_nothing_is_a_recorded_warning(tmp_path):
    """Japanese and Chinese target pages against an English-only pool: the selection
    cannot get closer to the target than the pool itself (negative KL reduction)."""
    raw = tmp_path / "english.jsonl"
    raw.write_bytes(b"".join(sample_lines(400, lang="en")))
    target = tmp_path / "cjk-target.jsonl"
    target.write_bytes(b"".join(sample_lines(lang="ja") + sample_lines(lang="zh")))
    out = tmp_path / "run"
    res = cli(
        "select", "--target", target, "--raw", raw, "--out", out, "--k", "40",
        "--workers", "1", "--no-report",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    m = manifest(out)
    assert m["metrics"]["kl_reduction"] < 0, m["metrics"]
    assert "kl" in warnings_text(m).lower()
