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
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import SAMPLE, fresh_store_clients, tree_bytes

ray = pytest.importorskip("ray")
# With pytest-xdist (make test), tests that start Ray run one after the other on one worker.
pytestmark = pytest.mark.xdist_group("ray")
s3fs = pytest.importorskip("s3fs")

THRESHER = [sys.executable, "-m", "thresher.cli"]
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster_env(s3_server, tmp_path_factory):
    """The environment of every node and driver: the S3 endpoint and keys (no ~/.aws), one
    THRESHER_WORK_DIR that all of them share, and the cluster's auth token."""
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
        # Token authentication, as recommended for real clusters: nodes and drivers share it.
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": uuid.uuid4().hex + uuid.uuid4().hex,
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


# The cluster lives in a helper process, so its Ray settings (auth mode, token) come from
# the environment given here, not from whatever Ray state this pytest process holds. It
# prints the address and the node ids, then on "tasks NAME" the nodes that ran tasks NAME
# (from Ray's task list, served by the dashboard), and shuts the cluster down on EOF.
_CLUSTER = """
import json, sys, time
import ray
from ray.cluster_utils import Cluster
from ray.util.state import list_tasks

dashboard_port = int(sys.argv[1])
cluster = Cluster(initialize_head=True, head_node_args={
    "num_cpus": 1, "include_dashboard": True, "dashboard_port": dashboard_port})
try:
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
    print(json.dumps({"address": cluster.address, "nodes": nodes}), flush=True)
    for line in sys.stdin:
        _, name, want = line.split()
        t0 = time.time()
        while True:  # task events reach the list about once a second
            tasks = list_tasks(
                filters=[("func_or_class_name", "=", name), ("state", "=", "FINISHED")],
                detail=True, limit=10_000, raise_on_missing_output=False)
            if len(tasks) >= int(want) or time.time() - t0 > 15:
                break
            time.sleep(0.5)
        print(json.dumps(sorted({t.node_id for t in tasks})), flush=True)
finally:
    ray.shutdown()
    cluster.shutdown()
"""


@pytest.fixture(scope="module")
def ray_cluster(cluster_env):
    """A head and a second node, 1 CPU each (their raylets, and so their workers, inherit
    ``cluster_env``). Yields (address, node ids, ask) where ``ask(name, n)`` gives the ids
    of the nodes that ran Ray tasks called ``name`` (waiting for at least ``n``)."""
    env = {**os.environ, **cluster_env}
    proc = subprocess.Popen(
        [sys.executable, "-c", _CLUSTER, str(_free_port())],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        first = proc.stdout.readline()
        assert first, f"the Ray cluster did not start: {proc.stderr.read()[-3000:]}"
        info = json.loads(first)

        def ask(name: str, n: int) -> set[str]:
            proc.stdin.write(f"tasks {name} {n}\n")
            proc.stdin.flush()
            return set(json.loads(proc.stdout.readline()))

        yield info["address"], set(info["nodes"]), ask
    finally:
        proc.stdin.close()  # EOF: the helper shuts its cluster down
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: only its processes
            proc.wait()


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


def test_two_node_ray_cluster_reads_and_writes_s3_same_bytes_as_local(
    ray_cluster, cluster_env, bucket_inputs, tmp_path
):
    address, nodes, ask = ray_cluster
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
    ran_on = ask("_run_task", ref["shards"])
    assert ran_on == nodes, (ran_on, nodes)
