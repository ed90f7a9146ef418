#!/usr/bin/env python3
"""What the classifier's fit costs end to end, and what a smaller fit would lose.

The classifier (``--method classifier``) fits a logistic regression on the target against
``max_negatives`` raw documents (20,000 by default) before it scores anything. That fit is a
fixed cost, whatever the corpus's size: on ~1 GB it is about as long as a whole DSIR run.
This bench measures the trade-off behind that default on a labeled corpus, each
configuration in its own fresh process, interleaved, ``--repeats`` times (bench/_harness.py):

* ``dsir``, the yardstick of issue 15's "classifier + --lang auto at most 2.5x dsir";
* ``classifier`` (the default 20,000 negatives), then 10,000 and 5,000
  (``--option max_negatives=N``);
* ``classifier + --lang auto``.

Per configuration: wall and CPU seconds, the fit stage's seconds (the manifest's timings),
precision@k (the share of the selected documents whose ``--label-field`` is the target's
commonest value: the corpus of bench/corpus.py labels every document with its domain), and
the share of its selection that the default classifier selects too.

    python bench/classifier_fit_size.py --raw /work/bench-data/raw-1gb.jsonl --repeats 3 \\
        --out bench/results/classifier_fit_size.md

The corpus: ``python bench/corpus.py large /work/bench-data/raw-1gb.jsonl --bytes 1000000000``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    Config,
    Run,
    commands_block,
    md_table,
    ratio_table,
    report_header,
    run_interleaved,
    stat,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = "classifier"


def _argv(python: str, a: argparse.Namespace, out: Path, flags: list[str]) -> list[str]:
    return [
        python,
        "-m",
        "thresher.cli",
        "-q",
        "select",
        "--raw",
        a.raw,
        "--target",
        a.target,
        "--out",
        str(out),
        "--k",
        str(a.k),
        "--seed",
        "0",
        "--workers",
        str(a.workers),
        "--no-report",
        *flags,
    ]


def target_label(path: str, field: str) -> str:
    """The commonest ``field`` value of the target documents."""
    with open(path, "rb") as f:
        values = Counter(json.loads(line).get(field) for line in f if line.strip())
    label, _ = values.most_common(1)[0]
    if label is None:
        sys.exit(f"--target {path}: its documents have no {field!r} field (--label-field)")
    return str(label)


def selected(out: Path, field: str) -> tuple[list[str], set[tuple[str, int]]]:
    """The selected documents' labels, and their (source, row) keys (from OUT/docs)."""
    labels = []
    for part in sorted((out / "selected").glob("*.parquet")):
        labels += [str(v) for v in pq.read_table(part, columns=[field])[field].to_pylist()]
    docs = pa.concat_tables(
        pq.read_table(p, columns=["source", "row", "selected"])
        for p in sorted((out / "docs").glob("*.parquet"))
    )
    docs = docs.filter(docs["selected"])
    keys = set(zip(docs["source"].to_pylist(), docs["row"].to_pylist(), strict=True))
    return labels, keys


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--raw", default="/work/bench-data/raw-1gb.jsonl")
    ap.add_argument("--target", default=str(ROOT / "data" / "sample" / "target.jsonl"))
    ap.add_argument("--k", type=int, default=28_610, help="documents to select")
    ap.add_argument("--label-field", default="domain")
    ap.add_argument("--negatives", default="10000,5000", help="max_negatives besides 20,000")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--scratch", default=tempfile.gettempdir())
    ap.add_argument("--out", type=Path, help="also write the markdown report here")
    ap.add_argument("--src", default=str(ROOT / "src"), help="thresher source tree (PYTHONPATH)")
    a = ap.parse_args()
    if not Path(a.raw).is_file():
        sys.exit(f"--raw {a.raw}: no such file (python bench/corpus.py large ...)")
    label = target_label(a.target, a.label_field)
    env = {"PYTHONPATH": a.src, "RAY_USAGE_STATS_ENABLED": "0"}
    mb = Path(a.raw).stat().st_size / 1e6
    flags = {"dsir": ["--method", "dsir"], DEFAULT: ["--method", "classifier"]}
    for n in (int(x) for x in a.negatives.split(",") if x):
        flags[f"classifier, max_negatives {n:,}"] = [
            "--method",
            "classifier",
            "--option",
            f"max_negatives={n}",
        ]
    flags["classifier + --lang auto"] = ["--method", "classifier", "--lang", "auto"]
    picked: dict[str, set] = {}  # each configuration's selection (the same every repeat)

    with tempfile.TemporaryDirectory(prefix="fit-size-", dir=a.scratch) as tmpd:
        tmp = Path(tmpd)

        def after(name: str, out: Path):
            def read(run: Run) -> None:
                manifest = json.loads((out / "manifest.json").read_bytes())
                labels, keys = selected(out, a.label_field)
                if picked.setdefault(name, keys) != keys:
                    raise RuntimeError(f"{name}: another selection than in its first run")
                run.extra["fit_s"] = manifest["timings"].get("fit", 0.0)
                run.extra["precision"] = sum(x == label for x in labels) / max(1, len(labels))
                shutil.rmtree(out, ignore_errors=True)

            return read

        configs = []
        for i, (name, extra) in enumerate(flags.items()):
            out = tmp / f"c{i}"
            configs.append(
                Config(
                    name=name,
                    argv=_argv(a.python, a, out, extra),
                    env=env,
                    before=lambda out=out: shutil.rmtree(out, ignore_errors=True),
                    after=after(name, out),
                )
            )
        res = run_interleaved(configs, a.repeats)

    base = picked[DEFAULT]
    rows = []
    for c in configs:
        runs = res.runs[c.name]
        rows.append(
            [
                c.name,
                res.stat(c.name, "wall").fmt(".1f"),
                res.stat(c.name, "cpu").fmt(".1f"),
                stat([r.extra["fit_s"] for r in runs]).fmt(".1f"),
                f"{runs[0].extra['precision']:.3f}",
                f"{len(picked[c.name] & base) / max(1, len(base)):.3f}",
            ]
        )
    lines = [
        "# The classifier's fit: its cost end to end, and what a smaller fit loses",
        "",
        f"Command: `python bench/classifier_fit_size.py {' '.join(sys.argv[1:])}`",
        "",
        report_header(res),
        f"- corpus: {a.raw} ({mb:,.0f} MB); target {a.target} (label {a.label_field}={label}); "
        f"--k {a.k:,}, --workers {a.workers}",
        "",
        md_table(
            [
                "configuration",
                "wall s",
                "CPU s",
                "fit stage s",
                f"precision@k ({a.label_field}={label})",
                "share also selected by the default classifier",
            ],
            rows,
            align="lrrrrr",
        ),
        "",
        ratio_table(res, [(c.name, "dsir") for c in configs[1:]], key="wall"),
        "",
        ratio_table(res, [(c.name, "dsir") for c in configs[1:]], key="cpu"),
        "",
        commands_block(res),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        a.out.write_text(text)


if __name__ == "__main__":
    main()
