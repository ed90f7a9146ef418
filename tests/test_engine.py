"""Engines: a real local Ray cluster gives byte-identical output to the process pool.

One Ray head (``ray start --head --block``, 2 CPUs, 127.0.0.1, a free port) is
started for the module and stopped by terminating that process (never
``ray stop``, which would kill every Ray on the machine). The first Ray run
connects by address itself; later runs reuse the test's own connection so the
Ray workers stay warm and the module stays well under a minute.
"""

from __future__ import annotations

import gzip
import operator
import os
import subprocess
import sys
from pathlib import Path

import pytest

import thresher
from tests.conftest import SAMPLE, tree_bytes

ray = pytest.importorskip("ray")
# With pytest-xdist (make test), tests that start Ray run one after the other on one worker.
pytestmark = pytest.mark.xdist_group("ray")

N_DOCS = 900  # of the shipped sample: ~2 MB of real text, ~35 shards of 64 KB
SHARD_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def ray_address():
    """A real local Ray instance with 2 CPUs, started by (and shut down with) this module."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        ray.shutdown()
    info = ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield info.address_info["address"]
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    """Plain (splittable) JSONL of real documents, and the target."""
    d = tmp_path_factory.mktemp("corpus")
    raw = d / "raw.jsonl"
    with gzip.open(SAMPLE / "raw.jsonl.gz", "rb") as f, open(raw, "wb") as g:
        for i, line in enumerate(f):
            if i >= N_DOCS:
                break
            g.write(line)
    return raw, SAMPLE / "target.jsonl"


def _run(corpus, out: Path, engine: str, workers: int, address: str | None = None, **kw) -> dict:
    raw, target = corpus
    return thresher.select(
        method="dsir",
        target=[str(target)],
        raw=[str(raw)],
        out=str(out),
        k=150,
        seed=3,
        engine=engine,
        workers=workers,
        ray_address=address,
        shard_bytes=SHARD_BYTES,
        report=False,
        **kw,
    )


def _outputs(out: Path) -> dict[str, bytes]:
    files = {f"selected/{k}": v for k, v in tree_bytes(out / "selected").items()}
    files.update({f"docs/{k}": v for k, v in tree_bytes(out / "docs").items()})
    return files


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory) -> tuple[dict, dict[str, bytes]]:
    """The local engine with one worker (inline, no pool): manifest and output bytes."""
    out = tmp_path_factory.mktemp("ref") / "local-1"
    m = _run(corpus, out, "local", 1)
    return m, _outputs(out)


def test_ray_matches_local_byte_for_byte(ray_address, corpus, reference, tmp_path):
    ref, expected = reference
    assert ref["shards"] >= 8, ref["shards"]
    assert any(k.startswith("selected/") for k in expected)
    assert sum(k.startswith("docs/") for k in expected) == ref["shards"]

    _run(corpus, tmp_path / "local-2", "local", 2)
    assert _outputs(tmp_path / "local-2") == expected

    for w in (1, 2, 4):
        # No address: the engine uses this process's Ray connection and leaves it open.
        m = _run(corpus, tmp_path / f"ray-{w}", "ray", w)
        assert m["engine"] == {"name": "ray", "workers": w}
        assert m["counts"] == ref["counts"]
        assert _outputs(tmp_path / f"ray-{w}") == expected, w
        assert ray.is_initialized()

    # jsonl output too.
    _run(corpus, tmp_path / "local-jsonl", "local", 2, format="jsonl")
    expected_jsonl = _outputs(tmp_path / "local-jsonl")
    assert any(k.endswith(".jsonl") for k in expected_jsonl)
    _run(corpus, tmp_path / "ray-jsonl", "ray", 2, format="jsonl")
    assert _outputs(tmp_path / "ray-jsonl") == expected_jsonl


def test_ray_scan_reuses_the_samples_filter_decisions_byte_for_byte(
    ray_address, corpus, tmp_path, monkeypatch
):
    """The fit sample's filter decisions travel worker -> driver -> worker through Ray's
    object store: the same bytes as the local engine filtering every document anew."""
    from thresher import pipeline

    opts = dict(filters=["lang", "gopher_repetition"], filter_options={"languages": ["en"]})
    monkeypatch.setattr(pipeline, "REUSE_SAMPLE_FILTERS", False)
    ref = _run(corpus, tmp_path / "local-anew", "local", 1, write_dropped=True, **opts)
    monkeypatch.setattr(pipeline, "REUSE_SAMPLE_FILTERS", True)
    m = _run(corpus, tmp_path / "ray-reuse", "ray", 2, write_dropped=True, **opts)
    assert m["counts"] == ref["counts"] and ref["counts"]["filtered"] > 200
    for sub in ("selected", "docs", "dropped"):
        assert tree_bytes(tmp_path / "ray-reuse" / sub) == tree_bytes(tmp_path / "local-anew" / sub)


def test_ray_prefilter_beside_the_fit_byte_for_byte(
    ray_address, corpus, plain_raw_path, tmp_path, monkeypatch
):
    """A slow fit (classifier): one Ray worker filters the rest of every shard beside the
    driver's fit (the fit waits for it here: on this corpus it could end first), and the
    decisions travel to the scan through the object store: the same bytes as the local
    engine filtering every document in the scan."""
    import threading

    from thresher import pipeline
    from thresher.engine.ray import RayEngine

    engine = RayEngine(2)
    assert engine.map_beside(operator.neg, [1, 2, 3], threading.Event()) == [-1, -2, -3]
    stop = threading.Event()
    stop.set()
    assert engine.map_beside(operator.neg, [1, 2], stop) == [None, None]
    decided: list = []
    finish = pipeline._Prefilter.finish

    def whole(self) -> list:
        self._thread.join()
        decided.append(sum(r is not None for r in self._result or []))
        return finish(self)

    monkeypatch.setattr(pipeline._Prefilter, "finish", whole)
    opts = dict(
        method="classifier",
        target=[str(corpus[1])],
        raw=[str(plain_raw_path)],  # 3 shards of 2.5 MB: a sample's 2 MB block leaves a rest
        shard_bytes=2_500_000,
        raw_sample=300,
        filters=["lang", "gopher_repetition"],
        filter_options={"languages": ["en"]},
        write_dropped=True,
        fraction=0.1,
        seed=3,
        report=False,
    )
    monkeypatch.setattr(pipeline, "REUSE_SAMPLE_FILTERS", False)
    ref = thresher.select(out=str(tmp_path / "local-anew"), engine="local", workers=1, **opts)
    monkeypatch.setattr(pipeline, "REUSE_SAMPLE_FILTERS", True)
    m = thresher.select(out=str(tmp_path / "ray-prefilter"), engine="ray", workers=2, **opts)
    assert decided == [3]  # (the local run, reuse off, has no prefilter)
    assert m["counts"] == ref["counts"] and ref["counts"]["filtered"] > 1000
    for sub in ("selected", "docs", "dropped"):
        assert tree_bytes(tmp_path / "ray-prefilter" / sub) == tree_bytes(
            tmp_path / "local-anew" / sub
        )


_BY_ADDRESS = """
import sys, thresher, ray
raw, target, out, address = sys.argv[1:]
m = thresher.select(method="dsir", target=[target], raw=[raw], out=out, k=150, seed=3, engine="ray",
                    workers=2, ray_address=address, shard_bytes=SHARD_BYTES, report=False)
assert m["engine"] == {"name": "ray", "workers": 2}, m["engine"]
assert not ray.is_initialized()  # the engine disconnected from the cluster it joined
"""


def test_ray_by_address_from_another_process(ray_address, corpus, reference, tmp_path):
    """A second driver joins the running cluster by address, as on a real cluster."""
    raw, target = corpus
    env = {**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "token")}
    script = _BY_ADDRESS.replace("SHARD_BYTES", str(SHARD_BYTES))
    out = tmp_path / "ray-addr"
    p = subprocess.run(
        [sys.executable, "-c", script, str(raw), str(target), str(out), ray_address],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert _outputs(out) == reference[1]


def test_ray_map_order_shared_objects_and_errors(ray_address):
    from thresher.engine.ray import RayEngine

    if not ray.is_initialized():
        ray.init(address=ray_address, log_to_driver=False)
    shared = {"big": list(range(10_000))}
    eng = RayEngine(2, ray_address)
    try:
        # Tuples holding one shared object: it travels once, each task gets it back intact.
        tasks = [(i, shared) for i in range(25)]
        assert list(eng.map(operator.itemgetter(0), tasks)) == list(range(25))
        got = list(eng.map(operator.itemgetter(1), tasks[:3]))
        assert got == [shared] * 3
        # Results come back in task order whatever the completion order.
        assert list(eng.map(abs, [-5, 3, -1, 0, 7, -9])) == [5, 3, 1, 0, 7, 9]
        assert list(eng.map(abs, [])) == []
        # A task's own exception reaches the caller as itself.
        with pytest.raises(TypeError):
            list(eng.map(abs, [1, "x", 2]))
    finally:
        eng.close()
    assert ray.is_initialized()  # the caller's connection is left alone


def test_unknown_engine_and_bad_workers():
    from thresher.engine import make_engine
    from thresher.engine.ray import RayEngine
    from thresher.errors import ConfigError

    with pytest.raises(ValueError, match="unknown engine"):
        make_engine("spark")
    with pytest.raises(ConfigError):
        RayEngine(0, None)


def test_local_pool_no_larger_than_the_tasks():
    """One shard with --workers 2: no process is spawned (each costs ~1.5 s of CPU to start);
    the manifest still records the workers asked for."""
    from thresher.engine import make_engine

    eng = make_engine("local", 2, max_tasks=1)
    try:
        assert (eng.workers, eng.processes) == (2, 1)
        assert list(eng.map(operator.abs, [-1, -2])) == [1, 2]
        assert eng._pool is None  # ran in the driver
    finally:
        eng.close()
    eng = make_engine("local", 3, max_tasks=2)
    assert eng.processes == 2
    eng.close()
