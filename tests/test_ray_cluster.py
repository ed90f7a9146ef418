"""Ray across machines: a real 2-node Ray cluster reads from and writes to S3.

Two Ray nodes of 1 CPU each (``ray.cluster_utils.Cluster``: a head and a second raylet,
real processes) stand in for two machines; moto's S3 server (``s3_server``) stands in for
the object store. ``thresher select --engine ray --ray-address ADDR --workers 2`` reads raw
and target from S3 and writes its run directory to S3; every output part is the same bytes
as the local engine's run on the same S3 inputs, and Ray's task list shows that thresher's
tasks ran on both nodes.

The nodes get the store's credentials from their environment (as machines would from
``~/.aws`` or an IAM role) and a shared ``THRESHER_WORK_DIR``: a run with a remote OUT keeps
its ``_work/`` there, and the driver and every worker must see the same one. The cluster
is torn down by the fixture (its own processes only; never ``ray stop``).
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import SAMPLE, fresh_store_clients, tree_bytes

ray = pytest.importorskip("ray")
s3fs = pytest.importorskip("s3fs")

THRESHER = [sys.executable, "-m", "thresher.cli"]
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster_env(s3_server, tmp_path_factory):
    """The environment of every node and driver: the S3 endpoint and keys (no ~/.aws), and
    one THRESHER_WORK_DIR that all of them share."""
    tmp = tmp_path_factory.mktemp("ray-cluster")
    env = {
        "AWS_ENDPOINT_URL": s3_server["endpoint"],
        "AWS_ACCESS_KEY_ID": s3_server["key"],
        "AWS_SECRET_ACCESS_KEY": s3_server["secret"],
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        "THRESHER_WORK_DIR": str(tmp / "shared-work"),
        "RAY_USAGE_STATS_ENABLED": "0",
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH")) if p
        ),
    }
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("AWS_"):
                mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        fresh_store_clients()
        yield env
    fresh_store_clients()


@pytest.fixture(scope="module")
def ray_cluster(cluster_env):
    """A head and a second node, 1 CPU each, started from ``cluster_env`` (the raylets, and
    so their workers, inherit it). Yields (address, the two node ids)."""
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": True,  # Ray's state API (the task list) is served by it
            "dashboard_port": _free_port(),
        },
    )
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
        ray.shutdown()  # the thresher driver runs in its own process
        yield cluster.address, nodes
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="module")
def bucket_inputs(cluster_env) -> tuple[s3fs.S3FileSystem, str]:
    """raw/a.jsonl (1,300 docs of the sample, plain: byte-range shards of 1 MB),
    raw/b.parquet (300 docs in row groups of 100) and target.jsonl, in a fresh bucket."""
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    lines = gzip.decompress((SAMPLE / "raw.jsonl.gz").read_bytes()).split(b"\n")
    fs.pipe_file(f"{bucket}/in/raw/a.jsonl", b"\n".join(lines[:1300]) + b"\n")
    recs = [json.loads(x) for x in lines[1300:1600]]
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(recs), sink, row_group_size=100)
    fs.pipe_file(f"{bucket}/in/raw/b.parquet", sink.getvalue().to_pybytes())
    fs.put_file(str(SAMPLE / "target.jsonl"), f"{bucket}/in/target.jsonl")
    return fs, bucket


def _select(env: dict, url: str, out: str, *extra: str) -> subprocess.CompletedProcess:
    """``thresher select`` on the inputs under ``url``, in its own process."""
    cmd = [
        *THRESHER, "select", "--raw", f"{url}/raw", "--target", f"{url}/target.jsonl",
        "--out", out, "--k", "300", "--seed", "7", "--shard-mb", "1", "--no-report", *extra,
    ]  # fmt: skip
    return subprocess.run(
        cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def _outputs(tree: dict[str, bytes]) -> dict[str, bytes]:
    """The data of a run directory: the parts of selected/ and docs/ (and any others)."""
    return {
        k: v
        for k, v in tree.items()
        if k.split("/")[0] in ("selected", "dropped", "docs", "rejects")
    }


def _s3_tree(fs, url: str) -> dict[str, bytes]:
    root = url.removeprefix("s3://").rstrip("/")
    fs.invalidate_cache()
    return {p[len(root) + 1 :]: fs.cat_file(p) for p in sorted(fs.find(root))}


def _task_nodes(address: str, name: str, want: int, timeout: float = 15.0) -> set[str]:
    """Node ids of the finished tasks called ``name``, from Ray's own task list (task
    events reach it about once a second)."""
    from ray.util.state import list_tasks

    ray.init(address=address, log_to_driver=False)
    try:
        t0 = time.time()
        while True:
            tasks = list_tasks(
                filters=[("func_or_class_name", "=", name), ("state", "=", "FINISHED")],
                detail=True,
                limit=10_000,
                raise_on_missing_output=False,
            )
            if len(tasks) >= want or time.time() - t0 > timeout:
                return {t.node_id for t in tasks}
            time.sleep(0.5)
    finally:
        ray.shutdown()


def test_two_node_ray_cluster_reads_and_writes_s3_same_bytes_as_local(
    ray_cluster, cluster_env, bucket_inputs, tmp_path
):
    address, nodes = ray_cluster
    assert len(nodes) == 2
    fs, bucket = bucket_inputs
    url = f"s3://{bucket}/in"
    env = {**os.environ, **cluster_env}

    local = _select(env, url, str(tmp_path / "local"), "--workers", "1")
    assert local.returncode == 0, local.stderr[-3000:]
    out_url = f"s3://{bucket}/runs/ray"
    ray_run = _select(
        env, url, out_url, "--engine", "ray", "--ray-address", address, "--workers", "2"
    )
    assert ray_run.returncode == 0, ray_run.stderr[-3000:]

    expected = _outputs(tree_bytes(tmp_path / "local"))
    assert sum(k.startswith("docs/") for k in expected) >= 4  # several shards to spread
    assert any(k.startswith("selected/") for k in expected)
    remote = _s3_tree(fs, out_url)
    assert _outputs(remote) == expected  # every part, byte for byte

    ref = json.loads((tmp_path / "local" / "manifest.json").read_bytes())
    got = json.loads(remote["manifest.json"])
    assert got["engine"] == {"name": "ray", "workers": 2}
    assert ref["engine"]["name"] == "local"
    assert got["counts"] == ref["counts"] and got["counts"]["selected"] == 300
    assert got["shards"] == ref["shards"]
    assert not any(k.startswith("_work") for k in remote)  # checkpoints stay in the work dir
    assert Path(cluster_env["THRESHER_WORK_DIR"]).is_dir()

    # Thresher's tasks ran on both nodes (every task is engine.ray._run_task).
    ran_on = _task_nodes(address, "_run_task", want=ref["shards"])
    assert ran_on == nodes, (ran_on, nodes)
