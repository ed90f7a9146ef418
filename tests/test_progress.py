"""Progress: plain periodic lines when stderr is not a terminal, movement inside one .gz shard,
``--quiet``, and the eval's steps and loss."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from rich.console import Console

import thresher
from thresher.console import PROGRESS_SECONDS_ENV, RichReporter

SRC = Path(thresher.__file__).resolve().parents[1]


def _cli(args: list[str], tmp_path: Path, period: str = "0.2") -> subprocess.CompletedProcess:
    env = {**os.environ, PROGRESS_SECONDS_ENV: period, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-m", "thresher.cli", *args],
        capture_output=True,  # stderr is a pipe: not a terminal, as in a cluster log
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )


def test_cli_off_a_terminal_prints_periodic_plain_lines_and_a_single_gz_moves(sample_dir, tmp_path):
    args = ["select", "--target", str(sample_dir / "target.jsonl"), "--lang", "en"]
    args += ["--raw", str(sample_dir / "raw.jsonl.gz"), "--fraction", "0.1", "--workers", "1"]
    # A line every 50 ms: the scan takes ~0.2 s (it reuses the fit sample's language ids).
    res = _cli([*args, "--out", str(tmp_path / "o1")], tmp_path, period="0.05")
    assert res.returncode == 0, res.stderr
    assert "\x1b[" not in res.stderr  # plain text, no terminal control codes
    lines = [x for x in res.stderr.splitlines() if x.startswith("thresher: score: ")]
    # The only shard is one .gz file: documents and compressed bytes were counted while it
    # was still running (0/1 shards), not only when it ended.
    moving = [x for x in lines if "0/1 shards" in x and " docs" in x]
    assert moving, res.stderr
    size = (sample_dir / "raw.jsonl.gz").stat().st_size / 1e6
    m = re.search(r"([\d.]+)/([\d.]+) MB", moving[0])
    assert m and 0 < float(m.group(1)) <= float(m.group(2)) == round(size, 1)
    assert lines[-1].startswith("thresher: score: done, 1/1 shards"), lines


def test_quiet_silences_progress(sample_dir, tmp_path):
    raw = tmp_path / "raw.jsonl"
    with gzip.open(sample_dir / "raw.jsonl.gz", "rb") as f:
        raw.write_bytes(b"".join(f.read().splitlines(keepends=True)[:200]))
    args = ["select", "--target", str(sample_dir / "target.jsonl"), "--raw", str(raw)]
    args += ["--fraction", "0.1", "--workers", "1", "--out", str(tmp_path / "o")]
    # With a period of 10 ms every stage would print lines (see the test above); none do.
    quiet = _cli(["--quiet", *args], tmp_path, period="0.01")
    assert quiet.returncode == 0, quiet.stderr
    assert "thresher: " not in quiet.stderr
    assert quiet.stdout.startswith("read 200 docs")  # the summary is still printed


def test_training_reports_steps_loss_and_time_left(sample_dir):
    """The transformer eval's training loop (20 minutes at its defaults) shows where it is."""
    from thresher.evaluate import _shows_steps
    from thresher.evaluate.ngram import encode
    from thresher.evaluate.transformer import TransformerConfig, train_and_eval

    texts = [
        json.loads(x)["text"] for x in (sample_dir / "heldout.jsonl").read_bytes().splitlines()
    ]
    cfg = TransformerConfig(d_model=16, n_layers=1, n_heads=2, context=16, batch_size=4)
    cfg.steps, cfg.eval_every, cfg.eval_tokens, cfg.threads = 60, 20, 512, 1
    out = io.StringIO()
    say = RichReporter(Console(file=out, width=200), period=0.01, live=False)
    with say.activity("eval selection", total=cfg.steps, unit="steps") as act:
        res = train_and_eval(
            encode(texts[:20]), encode(texts[20:30]), cfg, on_step=_shows_steps(act)
        )
    lines = [x for x in out.getvalue().splitlines() if x.startswith("thresher: eval ")]
    assert any(re.search(r"eval selection: \d+/60 steps, .*loss \d", x) for x in lines), lines
    assert any("held-out CE" in x for x in lines), lines
    assert any("ETA" in x for x in lines), lines
    assert lines[-1].startswith("thresher: eval selection: done, 60/60 steps")
    shown = re.search(r"held-out CE ([\d.]+)", lines[-1])
    assert shown and abs(float(shown.group(1)) - res["curve"][-1][1]) < 1e-4
