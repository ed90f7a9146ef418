#!/usr/bin/env python3
"""What ``--method auto`` (the default) costs against the method it chooses, end to end.

Issue 13 asks that auto cost at most 3x the chosen method alone on the ~1 GB bench corpus. One
untimed run of ``thresher select`` (no method flag) tells which method auto chooses and whether
it adds the target-language filter; then auto and that method alone (``--method M``, plus
``--lang auto`` when auto chose the language filter) run interleaved, each in its own fresh
process, ``--repeats`` times (bench/_harness.py). Printed: wall and CPU seconds of each, the
ratio auto / chosen (median, min-max over rounds), the stage timings of auto's manifest, and
the load average.

    python bench/auto_cost.py --raw /work/bench-data/raw-1gb.jsonl --workers 2 --repeats 3 \\
        --out bench/results/auto_cost.md

The corpus: ``python bench/corpus.py large /work/bench-data/raw-1gb.jsonl --bytes 1000000000``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    Config,
    commands_block,
    md_table,
    ratio_table,
    report_header,
    run_interleaved,
    summary_table,
)

ROOT = Path(__file__).resolve().parent.parent


def _argv(python: str, raw: str, target: str, out: Path, workers: int, extra: list[str]):
    return [
        python,
        "-m",
        "thresher.cli",
        "select",
        "--raw",
        raw,
        "--target",
        target,
        "--out",
        str(out),
        "--fraction",
        str(0.1),
        "--seed",
        "0",
        "--workers",
        str(workers),
        "--no-report",
        *extra,
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--raw", default="/work/bench-data/raw-1gb.jsonl")
    ap.add_argument("--target", default=str(ROOT / "data" / "sample" / "target.jsonl"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--scratch", default=tempfile.gettempdir())
    ap.add_argument("--out", type=Path, help="also write the markdown report here")
    ap.add_argument(
        "--src", default=str(ROOT / "src"), help="thresher source tree to measure (PYTHONPATH)"
    )
    a = ap.parse_args()
    if not Path(a.raw).is_file():
        sys.exit(f"--raw {a.raw}: no such file (python bench/corpus.py large ...)")
    env = {"PYTHONPATH": a.src, "RAY_USAGE_STATS_ENABLED": "0"}
    mb = Path(a.raw).stat().st_size / 1e6

    with tempfile.TemporaryDirectory(prefix="auto-cost-", dir=a.scratch) as tmpd:
        tmp = Path(tmpd)
        probe = tmp / "probe"
        print("untimed probe run: which method does auto choose?", file=sys.stderr, flush=True)
        subprocess.run(
            _argv(a.python, a.raw, a.target, probe, a.workers, []),
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        m = json.loads((probe / "manifest.json").read_bytes())
        decision = m["auto"]
        chosen = decision["chosen"].split("+")
        if len(chosen) != 1:
            sys.exit(f"auto fused {chosen}: this bench compares against a single method")
        extra = ["--method", chosen[0]]
        if decision.get("language_filter"):
            extra += ["--lang", "auto"]
        auto_timings = m["timings"]
        shutil.rmtree(probe)

        def clear(out: Path):
            return lambda: shutil.rmtree(out, ignore_errors=True)

        configs = []
        for name, flags in (("auto", []), ("chosen: " + " ".join(extra), extra)):
            out = tmp / name.split(":")[0]
            configs.append(
                Config(
                    name=name,
                    argv=_argv(a.python, a.raw, a.target, out, a.workers, flags),
                    env=env,
                    before=clear(out),
                    after=lambda run, out=out: shutil.rmtree(out, ignore_errors=True),
                )
            )
        res = run_interleaved(configs, a.repeats)

    lines = [
        "# Cost of `--method auto` against the method it chooses",
        "",
        f"Command: `python bench/auto_cost.py {' '.join(sys.argv[1:])}`",
        "",
        report_header(res),
        f"- corpus: {a.raw} ({mb:,.0f} MB); target {a.target}; --fraction 0.1, "
        f"--workers {a.workers}",
        f"- auto chose: {', '.join(chosen)}"
        + (" with the target-language filter" if decision.get("language_filter") else ""),
        "",
        summary_table(res, mb=mb),
        "",
        ratio_table(res, [(configs[0].name, configs[1].name)], key="wall"),
        "",
        ratio_table(res, [(configs[0].name, configs[1].name)], key="cpu"),
        "",
        "Stage timings of auto (probe run, wall seconds):",
        "",
        md_table(["stage", "s"], [[k, f"{v:.1f}"] for k, v in auto_timings.items()], "lr"),
        "",
        commands_block(res),
    ]
    text = "\n".join(lines)
    print(text)
    if a.out:
        a.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
