#!/usr/bin/env python3
"""Throughput of ``thresher select`` reading its raw corpus from S3 vs from local disk.

The S3 server is moto's (``moto[server]``, a dev dependency) in its own process on
127.0.0.1; the client is the real s3fs. The corpus is the shipped sample repeated to
``--mb`` megabytes of plain JSONL in ``--files`` files (read with range requests), the
same files on local disk and on S3. moto answers every range request by copying the
whole object (real S3 does not), so objects of a few tens of MB keep the server's cost
near a real store's. Each run is a fresh ``python -m thresher.cli select`` process;
local and S3 runs alternate, so both see the same machine load. Printed: wall seconds and MB/s of raw input per run, the
median (min-max) per source, the ratio S3/local of the median throughputs, and the load
average before and after.

    python bench/remote.py                 # 300 MB, 3 runs each
    python bench/remote.py --mb 1000 --runs 5 --out-s3   # also write OUT to S3
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Config, Run, md_table, report_header, run_interleaved, stat  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


def corpus(folder: Path, mb: int, files: int) -> list[Path]:
    """The sample repeated to about ``mb`` MB of plain JSONL in ``files`` files (made once)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"part-{i:03d}.jsonl" for i in range(files)]
    per_file = mb * 1_000_000 // files
    if all(p.exists() and p.stat().st_size >= per_file for p in paths):
        return paths
    one = gzip.decompress((SAMPLE / "raw.jsonl.gz").read_bytes())
    for p in paths:
        with open(p, "wb") as f:
            written = 0
            while written < per_file:
                f.write(one)
                written += len(one)
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_s3() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, endpoint
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto server did not start")


def select_argv(raw: str, target: str, out: str, workers: int | None) -> list[str]:
    # --method dsir, as measured: auto became the default later
    cmd = [
        sys.executable, "-m", "thresher.cli", "select", "--raw", raw, "--target", target,
        "--out", out, "--method", "dsir", "--k", "1000", "--no-report", "--overwrite",
    ]  # fmt: skip
    if workers:
        cmd += ["--workers", str(workers)]
    return cmd


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=300, help="raw corpus size in MB")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--files", type=int, default=10, help="files the corpus is split into")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--out-s3", action="store_true", help="write OUT to S3 too (S3 runs)")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/thresher-bench"))
    ap.add_argument("--write", default=str(ROOT / "bench" / "results" / "remote.md"))
    args = ap.parse_args()

    import s3fs

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    folder = cache / f"remote-{args.mb}mb-{args.files}files"
    files = corpus(folder, args.mb, args.files)
    mb = sum(p.stat().st_size for p in files) / 1e6
    target = str(SAMPLE / "target.jsonl")
    server, endpoint = start_s3()
    tmp = Path(tempfile.mkdtemp(prefix="thresher-remote-bench-"))
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "THRESHER_WORK_DIR": str(tmp / "work"),
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    try:
        fs = s3fs.S3FileSystem(
            endpoint_url=endpoint, key="bench", secret="bench", skip_instance_cache=True
        )
        fs.mkdir("bench")
        t0 = time.perf_counter()
        for p in files:
            fs.put_file(str(p), f"bench/corpus/{p.name}")
        upload = time.perf_counter() - t0
        url = "s3://bench/corpus"
        server_cpu: list[float] = []
        s3_runs = iter(range(10**6))
        s3_argv: list[str] = []

        def s3_before() -> None:
            # with --out-s3 each S3 run writes a new OUT (the Config's argv is read after this)
            i = next(s3_runs)
            out = f"s3://bench/out-{i}" if args.out_s3 else str(tmp / "out-s3")
            s3_argv[:] = select_argv(url, target, out, args.workers)
            server_cpu.append(cpu_seconds(server.pid))

        def s3_after(run: Run) -> None:
            server_cpu[-1] = cpu_seconds(server.pid) - server_cpu[-1]

        configs = [
            Config(
                "local",
                select_argv(str(folder), target, str(tmp / "out-local"), args.workers),
                env=env,
            ),
            Config("s3", s3_argv, env=env, before=s3_before, after=s3_after),
        ]
        res = run_interleaved(configs, args.runs)
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = res.ratio("local", "s3")  # S3 throughput / local throughput = local wall / S3 wall
    lines = [
        "# thresher select: raw from S3 (moto on 127.0.0.1, s3fs) vs local disk",
        "",
        f"corpus {mb:,.0f} MB plain JSONL in {args.files} files, "
        f"workers {args.workers or 'default'}, OUT {'on S3 for S3 runs' if args.out_s3 else 'local'}; "
        f"upload {upload:.1f} s",
        "",
        report_header(res),
        "",
        md_table(
            ["source", "MB/s", "wall s", "CPU s (thresher)"],
            [
                [
                    src,
                    stat([mb / r.wall for r in res.runs[src]]).fmt(".1f"),
                    res.stat(src).fmt(".2f"),
                    res.stat(src, "cpu").fmt(".1f"),
                ]
                for src in ("local", "s3")
            ],
            align="lrrr",
        ),
        "",
        f"ratio S3/local (throughput; median, min–max per run pair): {ratio.fmt('.2f')}",
        "",
        f"CPU seconds the S3 server (moto, Python) spent per S3 run, on the same cores as the "
        f"run: median {statistics.median(server_cpu):.1f} "
        f"({', '.join(f'{c:.1f}' for c in server_cpu)})",
        "",
        f"command: python bench/remote.py --mb {args.mb} --runs {args.runs} --files {args.files}"
        + (f" --workers {args.workers}" if args.workers else "")
        + (" --out-s3" if args.out_s3 else ""),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        Path(args.write).write_text(text)


if __name__ == "__main__":
    main()
