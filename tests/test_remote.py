"""Data on object stores: a real S3 server (moto, on 127.0.0.1) and the real s3fs client.

What is shown: reading raw and target from S3 gives the same output as reading the same
files from local disk, for select, filter and dedup, written locally or to S3 (where it
is byte-identical to the local run directory); a run on S3 killed with SIGKILL and
resumed ends byte-identical; the safety rules hold on S3 (marker, overwrite of
thresher's own entries only, no --out inside an input, the lock object); a missing
bucket, wrong credentials, an unreachable endpoint, throttling, 5xx and cut-off reads
are one line naming the URL, and never a manifest. ``https://`` is served by a local
range-capable HTTP server. ``hf://`` cannot be reached from here: what runs offline is
its routing to huggingface_hub's HfFileSystem, its error path (an unreachable
HF_ENDPOINT) and the refusal of hf:// as --out.
"""

from __future__ import annotations

import gzip
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import thresher
from thresher.cli import app
from thresher.errors import ConfigError, InputError, OutputError
from thresher.io.storage import options_for, parse_storage_options
from thresher.rundir import LOCK, MANIFEST, MARKER, read_docs, read_selected, remote_work_dir

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
THRESHER = [sys.executable, "-m", "thresher.cli"]
SHARD = 256 * 1024  # several byte-range shards per JSONL file, several row groups per shard


# ---------------------------------------------------------------------------------------
# inputs: the same files locally and on S3
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_inputs(tmp_path_factory) -> Path:
    """raw/a.jsonl (500 docs, plain: byte-range shards), raw/b.parquet (300 docs in row
    groups of 100), target.jsonl: the shipped sample."""
    d = tmp_path_factory.mktemp("inputs")
    lines = gzip.decompress((SAMPLE / "raw.jsonl.gz").read_bytes()).split(b"\n")
    (d / "raw").mkdir()
    (d / "raw" / "a.jsonl").write_bytes(b"\n".join(lines[:500]) + b"\n")
    recs = [json.loads(x) for x in lines[500:800]]
    pq.write_table(pa.Table.from_pylist(recs), d / "raw" / "b.parquet", row_group_size=100)
    (d / "target.jsonl").write_bytes((SAMPLE / "target.jsonl").read_bytes())
    return d


def upload(fs, local: Path, bucket: str, prefix: str = "in") -> str:
    """Copy the local inputs under s3://bucket/prefix/; return that URL."""
    for p in sorted(local.rglob("*")):
        if p.is_file():
            fs.put_file(str(p), f"{bucket}/{prefix}/{p.relative_to(local)}")
    return f"s3://{bucket}/{prefix}"


def remote_tree(fs, url: str) -> dict[str, bytes]:
    """Every object below url (relative name -> bytes)."""
    root = url.removeprefix("s3://").rstrip("/")
    fs.invalidate_cache()
    return {p[len(root) + 1 :]: fs.cat_file(p) for p in sorted(fs.find(root))}


def local_tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def outputs(tree: dict[str, bytes]) -> dict[str, bytes]:
    """The data of a run directory: parts of selected/, dropped/, docs/, rejects/."""
    return {
        k: v
        for k, v in tree.items()
        if k.split("/")[0] in ("selected", "dropped", "docs", "rejects")
    }


def ipc_bytes(table: pa.Table) -> bytes:
    """A table as Arrow IPC bytes: equal bytes, equal values (NaN scores included)."""
    sink = pa.BufferOutputStream()
    table = table.combine_chunks()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def same_tables_but_source(local_out, remote_out, local_in: Path, url: str) -> None:
    """The run on S3 inputs equals the run on local inputs, row for row and column for
    column; only the source columns differ, by the input's location."""
    for read, col in ((read_selected, "thresher_source"), (read_docs, "source")):
        a, b = read(local_out), read(remote_out)
        assert a.num_rows > 0 and a.schema == b.schema
        assert ipc_bytes(a.drop_columns([col])) == ipc_bytes(b.drop_columns([col]))
        mapped = [s.replace(url, str(local_in)) for s in b.column(col).to_pylist()]
        assert mapped == a.column(col).to_pylist()


def run_kinds(kind: str, raw: list[str], target: list[str], out: str) -> dict:
    common = {"out": out, "workers": 1, "shard_bytes": SHARD}
    if kind == "select":
        return thresher.select(
            method="dsir", raw=raw, target=target, k=150, seed=5, report=False, **common
        )
    if kind == "filter":
        return thresher.filter(raw=raw, rules=["gopher_quality"], write_dropped=True, **common)
    return thresher.deduplicate(raw=raw, method="minhash", write_dropped=True, **common)


@pytest.mark.parametrize("kind", ["select", "filter", "dedup"])
def test_s3_inputs_give_the_local_output_written_locally_and_to_s3(
    kind, s3, local_inputs, tmp_path
):
    bucket, fs, _ = s3
    url = upload(fs, local_inputs, bucket)
    # Spelled three ways: a folder, a glob, files; on local disk the same way.
    raw_local = {
        "select": [str(local_inputs / "raw")],
        "filter": [str(local_inputs / "raw" / "*")],
        "dedup": [str(local_inputs / "raw" / "a.jsonl"), str(local_inputs / "raw" / "b.parquet")],
    }[kind]
    raw_s3 = [p.replace(str(local_inputs), url) for p in raw_local]
    target_local, target_s3 = [str(local_inputs / "target.jsonl")], [f"{url}/target.jsonl"]

    ref = run_kinds(kind, raw_local, target_local, str(tmp_path / "local"))
    got = run_kinds(kind, raw_s3, target_s3, str(tmp_path / "from-s3"))
    out_url = f"s3://{bucket}/runs/{kind}"
    on_s3 = run_kinds(kind, raw_s3, target_s3, out_url)

    assert ref["counts"] == got["counts"] == on_s3["counts"]
    assert ref["shards"] == got["shards"] > 2  # byte ranges and row groups, read by range
    same_tables_but_source(tmp_path / "local", tmp_path / "from-s3", local_inputs, url)
    # Out on S3: the same bytes as the same run written to local disk.
    local_bytes = outputs(local_tree(tmp_path / "from-s3"))
    remote = remote_tree(fs, out_url)
    assert outputs(remote) == local_bytes and len(local_bytes) >= 2
    assert MARKER in remote and MANIFEST in remote and LOCK not in remote
    assert not any(k.startswith("_work") for k in remote)  # checkpoints stay local
    assert json.loads(remote[MANIFEST])["counts"] == got["counts"]
    # The inputs are identified by the store's ETag: no second read just to hash them.
    assert all(e["hash"].startswith("etag:") for e in on_s3["inputs"]["raw"])


def test_report_and_reading_back_a_run_on_s3(s3, local_inputs):
    bucket, fs, _ = s3
    url = upload(fs, local_inputs, bucket)
    out = f"s3://{bucket}/runs/r"
    m = thresher.select(
        method="dsir", raw=[f"{url}/raw"], target=[f"{url}/target.jsonl"], out=out, k=100, workers=1
    )
    tree = remote_tree(fs, out)
    assert b"thresher report" in tree["report.html"]
    assert read_selected(out).num_rows == m["counts"]["selected"] == 100
    assert read_docs(out).num_rows == m["counts"]["read"] - m["counts"]["rejected"]


# ---------------------------------------------------------------------------------------
# kill -9 and --resume with the output on S3
# ---------------------------------------------------------------------------------------


def _cmd(raw: str, target: str, out: str, *extra: str) -> list[str]:
    return [
        *THRESHER, "select", "--raw", raw, "--target", target, "--out", out, "--k", "200",
        "--seed", "3", "--workers", "2", "--shard-mb", "1", "--no-report", "--method", "dsir",
        *extra,
    ]  # fmt: skip


def test_sigkill_mid_write_then_resume_on_s3_is_byte_identical(s3, tmp_path):
    bucket, fs, _ = s3
    lines = gzip.decompress((SAMPLE / "raw.jsonl.gz").read_bytes()).split(b"\n")
    fs.pipe_file(f"{bucket}/in/raw.jsonl", b"\n".join(lines[:1300]) + b"\n")  # 4 shards
    fs.put_file(str(SAMPLE / "target.jsonl"), f"{bucket}/in/target.jsonl")
    raw, target = f"s3://{bucket}/in/raw.jsonl", f"s3://{bucket}/in/target.jsonl"
    ref_url, out_url = f"s3://{bucket}/ref", f"s3://{bucket}/killed"
    # The uninterrupted run, in this process (same output for any worker count).
    thresher.select(
        method="dsir", raw=[raw], target=[target], out=ref_url, k=200, seed=3, workers=1, report=False,
        shard_bytes=1024 * 1024,
    )  # fmt: skip
    expected = outputs(remote_tree(fs, ref_url))
    assert sum(k.startswith("selected/") for k in expected) >= 3

    work = remote_work_dir(out_url) / "_work"
    proc = subprocess.Popen(
        _cmd(raw, target, out_url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    t0 = time.time()
    while not list(work.glob("write-*.pkl")):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() - t0 < 120, "the run never reached its write pass"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = remote_tree(fs, out_url)
    assert MANIFEST not in killed  # parts may be there; without the commit mark, unfinished
    assert LOCK in killed  # the dead run's lock object stays; its owner is a dead local pid

    done = subprocess.run(_cmd(raw, target, out_url, "--resume"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    after = remote_tree(fs, out_url)
    assert outputs(after) == expected
    assert MANIFEST in after and LOCK not in after


# ---------------------------------------------------------------------------------------
# safety rules on S3: marker, overwrite, out inside input, lock
# ---------------------------------------------------------------------------------------


@pytest.fixture
def tiny(s3, local_inputs):
    bucket, fs, _ = s3
    fs.put_file(str(local_inputs / "raw" / "a.jsonl"), f"{bucket}/data/a.jsonl")
    fs.put_file(str(local_inputs / "target.jsonl"), f"{bucket}/t/target.jsonl")
    return {
        "raw": [f"s3://{bucket}/data/a.jsonl"],
        "target": [f"s3://{bucket}/t/target.jsonl"],
        "k": 50,
        "workers": 1,
        "report": False,
    }


def test_overwrite_on_s3_replaces_only_thresher_entries(s3, tiny):
    bucket, fs, _ = s3
    out = f"s3://{bucket}/run"
    fs.pipe_file(f"{bucket}/run/notes.txt", b"mine")
    with pytest.raises(ConfigError, match="exists and is not empty"):
        thresher.select(method="dsir", out=out, **tiny)
    with pytest.raises(ConfigError, match="not a thresher run directory"):
        thresher.select(method="dsir", out=out, overwrite=True, **tiny)
    assert remote_tree(fs, out) == {"notes.txt": b"mine"}

    out2 = f"s3://{bucket}/run2"
    thresher.select(method="dsir", out=out2, **tiny)
    fs.pipe_file(f"{bucket}/run2/notes.txt", b"mine")
    fs.pipe_file(f"{bucket}/run2/selected/part-09999.parquet", b"stale part of an old run")
    first = remote_tree(fs, out2)
    thresher.select(method="dsir", out=out2, overwrite=True, **tiny)
    again = remote_tree(fs, out2)
    assert again["notes.txt"] == b"mine"
    assert "selected/part-09999.parquet" not in again  # thresher's folder: replaced whole
    assert outputs(again) == {
        k: v for k, v in outputs(first).items() if k != "selected/part-09999.parquet"
    }


def test_out_on_s3_inside_or_holding_an_input_is_refused(s3, tiny):
    bucket, fs, _ = s3
    with pytest.raises(ConfigError, match="lies inside input"):
        thresher.select(
            method="dsir", out=f"s3://{bucket}/data/run", **{**tiny, "raw": [f"s3://{bucket}/data"]}
        )
    with pytest.raises(ConfigError, match="holds the input"):
        thresher.select(method="dsir", out=f"s3://{bucket}/data", **tiny)
    with pytest.raises(ConfigError, match="lies inside input"):  # it would read rejects/
        thresher.select(
            method="dsir",
            out=f"s3://{bucket}/x/run",
            **{**tiny, "raw": [f"s3://{bucket}/**/*.jsonl"]},
        )
    assert sorted(fs.find(bucket)) == [f"{bucket}/data/a.jsonl", f"{bucket}/t/target.jsonl"]


def test_the_lock_object_refuses_a_live_owner_and_takes_over_a_dead_one(s3, tiny):
    bucket, fs, _ = s3
    out = f"s3://{bucket}/locked"
    elsewhere = {"pid": 4242, "host": "another-host", "token": "x", "time": time.time()}
    fs.pipe_file(f"{bucket}/locked/{LOCK}", json.dumps(elsewhere).encode())
    with pytest.raises(ConfigError, match="in use by another thresher run .*another-host"):
        thresher.select(method="dsir", out=out, **tiny)
    # A lock left by a process of this machine that is gone: taken over at once.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    gone = {
        "pid": int(dead.stdout),
        "host": socket.gethostname(),
        "token": "y",
        "time": time.time(),
    }
    fs.pipe_file(f"{bucket}/locked/{LOCK}", json.dumps(gone).encode())
    m = thresher.select(method="dsir", out=out, **tiny)
    assert m["counts"]["selected"] == 50
    assert LOCK not in remote_tree(fs, out) and MANIFEST in remote_tree(fs, out)


# ---------------------------------------------------------------------------------------
# bad input: one line naming the URL
# ---------------------------------------------------------------------------------------


def cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def one_line_naming(output: str, url: str) -> str:
    lines = [x for x in output.strip().splitlines() if x.strip()]
    assert len(lines) == 1, output
    assert url in lines[0], output
    assert "Traceback" not in output
    return lines[0]


def test_a_missing_bucket_is_one_line_naming_the_url(s3, tiny, tmp_path):
    bucket, _, _ = s3
    raw = "s3://no-such-bucket-thresher/raw.jsonl"
    code, out = cli(
        "select",
        "--raw",
        raw,
        "--target",
        tiny["target"][0],
        "--out",
        str(tmp_path / "o"),
        "--k",
        "5",
    )
    assert code == 2 and "bucket does not exist" in one_line_naming(out, raw)
    dest = "s3://no-such-bucket-thresher/run"
    code, out = cli(
        "select", "--raw", tiny["raw"][0], "--target", tiny["target"][0], "--out", dest, "--k", "5"
    )
    assert code == 2 and "bucket does not exist" in one_line_naming(out, dest)
    missing = f"s3://{bucket}/data/nope.jsonl"
    code, out = cli("filter", "--raw", missing, "--out", str(tmp_path / "o2"), "--rules", "c4")
    assert code == 2 and "no such file" in one_line_naming(out, missing)
    assert not (tmp_path / "o").exists() and not (tmp_path / "o2").exists()


def test_wrong_credentials_are_one_line_naming_the_url(s3, tiny, tmp_path, monkeypatch):
    from tests.conftest import fresh_store_clients

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    fresh_store_clients()
    raw = tiny["raw"][0]
    code, out = cli(
        "select",
        "--raw",
        raw,
        "--target",
        tiny["target"][0],
        "--out",
        str(tmp_path / "o"),
        "--k",
        "5",
    )
    line = one_line_naming(out, raw)
    assert code == 2 and "access denied" in line and "credentials" in line


def test_an_unreachable_endpoint_is_one_line_after_bounded_retries(s3, tiny, tmp_path, monkeypatch):
    from tests.conftest import fresh_store_clients

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    fresh_store_clients()
    raw = tiny["raw"][0]
    t0 = time.time()
    code, out = cli(
        "filter", "--raw", raw, "--out", str(tmp_path / "o"), "--rules", "c4",
        "--storage-option", "s3.config_kwargs.retries.max_attempts=2",  # default 4: slower
    )  # fmt: skip
    assert code == 2 and "cannot reach the store" in one_line_naming(out, raw)
    assert time.time() - t0 < 30


def test_storage_options_from_the_command_line_reach_the_store(s3, tiny, tmp_path, monkeypatch):
    """The endpoint given as --storage-option, not in the environment."""
    from tests.conftest import fresh_store_clients

    endpoint = s3[2]["endpoint"]
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOTTHEKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    fresh_store_clients()
    out = tmp_path / "o"
    code, text = cli(
        "filter", "--raw", tiny["raw"][0], "--out", str(out), "--rules", "c4", "--workers", "2",
        "--storage-option", f"s3.endpoint_url={endpoint}",
        "--storage-option", f"key={s3[2]['key']}",
        "--storage-option", f"secret={s3[2]['secret']}",
    )  # fmt: skip
    assert code == 0, text
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["config"]["storage_options"] == {
        "s3": {"endpoint_url": endpoint},
        "key": "<redacted>",
        "secret": "<redacted>",
    }
    assert s3[2]["secret"] not in (out / MANIFEST).read_text()
    assert "storage_options" not in json.loads((out / "_work" / "config.json").read_text())


def test_storage_option_parsing_and_scoping():
    opts = parse_storage_options(
        ["s3.client_kwargs.region_name=eu-west-1", "anon=true", "gs.project=p", "block=3"]
    )
    assert opts == {
        "s3": {"client_kwargs": {"region_name": "eu-west-1"}},
        "anon": True,
        "gs": {"project": "p"},
        "block": 3,
    }
    from thresher.io import storage

    storage.configure(opts)
    try:
        s3o = options_for("s3a")
        assert s3o["client_kwargs"] == {"region_name": "eu-west-1"} and s3o["anon"] is True
        assert s3o["config_kwargs"]["retries"]["max_attempts"] >= 2  # bounded retries kept
        assert "project" not in s3o and options_for("gcs")["project"] == "p"
    finally:
        storage.configure(None)
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_storage_options(["endpoint"])


def test_a_pipeline_file_keeps_urls_and_its_storage_options(tmp_path):
    from thresher.runfile import load_runfile

    f = tmp_path / "p.yaml"
    f.write_text(
        "read:\n  raw: s3://b/raw/*.jsonl\n  target: hf://datasets/o/d/t.jsonl\n"
        "  storage_options: {s3: {anon: true}}\nwrite: {out: s3://b/run}\nk: 5\n"
    )
    cfg = load_runfile(f)
    assert cfg.raw == ["s3://b/raw/*.jsonl"] and cfg.target == ["hf://datasets/o/d/t.jsonl"]
    assert cfg.out == "s3://b/run" and cfg.storage_options == {"s3": {"anon": True}}
    f.write_text("read: {raw: r.jsonl, storage_options: [1]}\nwrite: {out: o}\nk: 5\n")
    with pytest.raises(ConfigError, match=r"p.yaml:1: .*storage_options: expected a mapping"):
        load_runfile(f)


# ---------------------------------------------------------------------------------------
# throttling, 5xx and reset connections, through a fault-injecting proxy
# ---------------------------------------------------------------------------------------


class FaultProxy:
    """A real HTTP proxy in front of the S3 server that answers GETs of one object with a
    fault: ``503`` (SlowDown), ``500`` or ``cut`` (the headers promise the whole range,
    the connection closes after half of it). ``always=False``: each range fails the first
    time it is asked for; ``always=True``: every range of at least ``min_len`` bytes
    fails. Counts the GETs of the object it saw, and those with a Range header."""

    def __init__(self, upstream: str, key: str, fault: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.key, self.fault = key, fault
        self.always, self.min_len = False, 0
        self.cycle: list[str] = []  # faults to take turns (default: ``fault`` alone)
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        self.gets = 0
        self.faults = 0
        self.ranged = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _forward(self):
                import http.client

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                is_get = self.command == "GET" and self.path.split("?")[0].endswith(proxy.key)
                hit = False
                if is_get:
                    rng = self.headers.get("Range", "")
                    a, _, b = rng.removeprefix("bytes=").partition("-")
                    with proxy.lock:
                        proxy.gets += 1
                        proxy.ranged += bool(rng)
                        if proxy.always:
                            hit = not b or int(b) - int(a or 0) + 1 >= proxy.min_len
                        else:
                            hit = rng not in proxy.seen
                            proxy.seen.add(rng)
                        if hit:
                            proxy.faults += 1
                            if proxy.cycle:
                                proxy.fault = proxy.cycle[proxy.faults % len(proxy.cycle)]
                    fault = proxy.fault
                    if hit and fault in ("503", "500"):
                        code = int(fault)
                        err = b"<Error><Code>" + (b"SlowDown" if code == 503 else b"InternalError")
                        err += b"</Code><Message>injected</Message></Error>"
                        self.send_response(code)
                        self.send_header("Content-Length", str(len(err)))
                        self.end_headers()
                        self.wfile.write(err)
                        return
                conn = http.client.HTTPConnection(proxy.upstream, timeout=30)
                conn.request(self.command, self.path, body=body, headers=dict(self.headers))
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                length = resp.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                if hit and fault == "cut":
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


FAULT_SHARD = 1 << 20  # two shards of the raw file: few requests, each failing once


@pytest.fixture
def faulty(s3, tiny, tmp_path, monkeypatch):
    """The tiny run's options, the run through no proxy, and a proxy in front of the server."""
    from tests.conftest import fresh_store_clients

    bucket, _, server = s3
    # Fewer botocore attempts than the default 4 (within each of s3fs's 3 tries): faster.
    retries = {"s3": {"config_kwargs": {"retries": {"max_attempts": 2}}}}
    opts = {**tiny, "shard_bytes": FAULT_SHARD, "storage_options": retries}
    ref = thresher.select(method="dsir", out=str(tmp_path / "ref"), **opts)
    proxy = FaultProxy(server["endpoint"], "data/a.jsonl", "503")
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    fresh_store_clients()
    yield opts, ref, proxy, f"s3://{bucket}/data/a.jsonl"
    proxy.close()


def test_throttling_5xx_and_cut_reads_are_retried_and_change_nothing(faulty, tmp_path):
    opts, ref, proxy, _ = faulty
    proxy.cycle = ["503", "500", "cut"]  # each range fails once: SlowDown, 500, cut short
    m = thresher.select(method="dsir", out=str(tmp_path / "flaky"), **opts)
    assert proxy.faults >= 3 and proxy.ranged == proxy.gets  # range requests only
    assert m["counts"] == ref["counts"]
    assert outputs(local_tree(tmp_path / "flaky")) == outputs(local_tree(tmp_path / "ref"))


@pytest.mark.parametrize("fault", ["503", "cut"])
def test_a_store_that_keeps_failing_stops_the_run_in_one_line_without_a_manifest(
    fault, faulty, tmp_path
):
    """Every read of a whole shard fails (planning gets through): after bounded retries the
    run stops mid-scan with one line naming the URL; a partial read never yields output
    that looks complete."""
    opts, _, proxy, url = faulty
    proxy.fault, proxy.always, proxy.min_len = fault, True, FAULT_SHARD // 2
    t0 = time.time()
    with pytest.raises(InputError, match=rf"^{url}: cannot read: ") as e:
        thresher.select(method="dsir", out=str(tmp_path / "down"), **opts)
    assert "\n" not in str(e.value) and time.time() - t0 < 60
    assert (tmp_path / "down" / MARKER).exists()  # the run had started
    assert not (tmp_path / "down" / MANIFEST).exists()


# ---------------------------------------------------------------------------------------
# https:// (read only) and hf:// (offline)
# ---------------------------------------------------------------------------------------


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """A static file server that honours ``Range: bytes=a-b`` (as web servers and CDNs do)."""

    def log_message(self, *a):
        pass

    def send_head(self):
        rng = self.headers.get("Range")
        path = self.translate_path(self.path)
        if not rng or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        a, b = rng.removeprefix("bytes=").split("-")
        start, end = int(a or 0), min(int(b) if b else size - 1, size - 1)
        f = open(path, "rb")  # noqa: SIM115 - the handler closes it
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._left = end - start + 1
        return f

    def copyfile(self, source, outputfile):
        left = getattr(self, "_left", None)
        if left is None:
            return super().copyfile(source, outputfile)
        outputfile.write(source.read(left))


def test_https_inputs_match_local_and_https_out_is_refused(local_inputs, tmp_path):
    handler = lambda *a, **kw: RangeHandler(*a, directory=str(local_inputs), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        kw = {"k": 100, "workers": 1, "report": False, "shard_bytes": SHARD}
        ref = thresher.select(
            method="dsir", raw=[str(local_inputs / "raw" / "a.jsonl"), str(local_inputs / "raw" / "b.parquet")],
            target=[str(local_inputs / "target.jsonl")], out=str(tmp_path / "local"), **kw,
        )  # fmt: skip
        got = thresher.select(
            method="dsir", raw=[f"{base}/raw/a.jsonl", f"{base}/raw/b.parquet"],
            target=[f"{base}/target.jsonl"], out=str(tmp_path / "web"), **kw,
        )  # fmt: skip
        assert got["counts"] == ref["counts"] and got["shards"] == ref["shards"]
        same_tables_but_source(tmp_path / "local", tmp_path / "web", local_inputs, base)
        with pytest.raises(
            ConfigError, match=r"^http://127.0.0.1:\d+/run: --out cannot be on http://"
        ):
            thresher.select(
                method="dsir",
                raw=[f"{base}/raw/a.jsonl"],
                target=[f"{base}/target.jsonl"],
                out=f"{base}/run",
                **kw,
            )
    finally:
        server.shutdown()
        server.server_close()


def test_hf_urls_go_to_huggingface_hub_and_fail_in_one_line_offline(tmp_path, monkeypatch):
    """No Hub from here: HF_ENDPOINT points at a closed local port. What is shown: hf:// is
    served by huggingface_hub's HfFileSystem with HF_ENDPOINT/HF_TOKEN from the
    environment, its failure is one line naming the URL, and hf:// as --out is refused."""
    from huggingface_hub import HfFileSystem

    from tests.conftest import fresh_store_clients
    from thresher.io.fs import configure, remote

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # huggingface_hub reads HF_ENDPOINT when imported; the storage option sets it any time.
    endpoint = {"hf": {"endpoint": f"http://127.0.0.1:{port}"}}
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    fresh_store_clients()
    configure(endpoint)
    url = "hf://datasets/thresher-test/none/raw.jsonl"
    hf = remote(url).fs
    assert isinstance(hf, HfFileSystem) and hf.endpoint == endpoint["hf"]["endpoint"]
    t0 = time.time()
    with pytest.raises(InputError, match=r"^hf://datasets/thresher-test/none/raw.jsonl: cannot"):
        thresher.filter(
            raw=[url], out=str(tmp_path / "o"), rules=["c4"], workers=1, storage_options=endpoint
        )
    assert time.time() - t0 < 60 and not (tmp_path / "o").exists()
    with pytest.raises(ConfigError, match=r"^hf://datasets/o/d/run: --out cannot be on hf://"):
        thresher.filter(
            raw=[str(SAMPLE / "raw.jsonl.gz")], out="hf://datasets/o/d/run", rules=["c4"]
        )


def test_out_errors_on_a_store_are_output_errors(s3, tiny):
    bucket, fs, _ = s3
    fs.pipe_file(f"{bucket}/afile", b"x")
    with pytest.raises(ConfigError, match="exists and is not a directory"):
        thresher.select(method="dsir", out=f"s3://{bucket}/afile", **tiny)
    with pytest.raises(OutputError, match=r"^s3://no-such-bucket-thresher/o: cannot use as --out"):
        thresher.select(method="dsir", out="s3://no-such-bucket-thresher/o", **tiny)


def test_report_inspect_and_eval_read_and_write_a_run_on_s3(s3, local_inputs):
    """`thresher report`, `inspect` and `eval` take the run as an s3:// URL (and eval's
    --heldout too): they read the run and its raw inputs from the store and write
    report.html and eval.json into the run on the store."""
    bucket, fs, _ = s3
    url = upload(fs, local_inputs, bucket)
    out = f"s3://{bucket}/runs/r"
    m = thresher.select(
        method="dsir", raw=[f"{url}/raw"], target=[f"{url}/target.jsonl"], out=out, k=100, workers=1,
        report=False,
    )  # fmt: skip
    assert "report.html" not in remote_tree(fs, out)

    code, output = cli("report", out)
    assert code == 0, output
    assert f"{out}/report.html" in output.replace("\n", "")
    page = remote_tree(fs, out)["report.html"]
    assert b"thresher report: r" in page and b"100" in page

    code, output = cli("inspect", out, "--json", "--status", "selected", "--page-size", "5")
    assert code == 0, output
    items = [json.loads(x) for x in output.encode().splitlines() if x.strip()]
    assert len(items) == 5 and all(it["status"] == "selected" for it in items)
    assert all(it["source"].startswith(f"{url}/raw/") for it in items)
    assert all(it["text"] for it in items)  # the text was read back from the raw on S3
    scores = [it["score"] for it in items]
    assert scores == sorted(scores, reverse=True)

    code, output = cli(
        "eval", out, "--heldout", f"{url}/target.jsonl", "--model", "ngram", "--steps", "10"
    )
    assert code == 0, output
    assert f"{out}/eval.json" in output.replace("\n", "")
    tree = remote_tree(fs, out)
    res = json.loads(tree["eval.json"])["runs"]["ngram"]
    assert res["results"]["selection"]["docs"] == m["counts"]["selected"] == 100
    assert res["results"]["random"]["tokens"] == res["results"]["selection"]["tokens"] > 0
    assert res["heldout"]["docs"] > 0
    assert b"ngram" in tree["report.html"] or b"n-gram" in tree["report.html"]
    assert LOCK not in tree
