"""Shared fixtures: the real multi-domain sample the repo ships (see data/sample/SOURCES.md)."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    assert (SAMPLE / "raw.jsonl.gz").exists(), "data/sample is missing: it ships with the repo"
    return SAMPLE


@pytest.fixture(scope="session")
def raw_records(sample_dir: Path) -> list[dict]:
    with gzip.open(sample_dir / "raw.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="session")
def target_records(sample_dir: Path) -> list[dict]:
    with open(sample_dir / "target.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def small_corpus(tmp: Path, n: int) -> tuple[Path, Path]:
    """The first ``n`` documents of the shipped sample as plain JSONL, plus one malformed line
    at row 7 (a reject), and the sample's target file."""
    assert (SAMPLE / "raw.jsonl.gz").exists(), "data/sample is missing: it ships with the repo"
    with gzip.open(SAMPLE / "raw.jsonl.gz", "rb") as f:
        lines = [next(f) for _ in range(n)]
    lines.insert(7, b'{"text": "unterminated\n')
    raw = tmp / "raw.jsonl"
    raw.write_bytes(b"".join(lines))
    return raw, SAMPLE / "target.jsonl"


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root (relative path -> bytes), to compare runs byte for byte."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="session")
def plain_raw_path(sample_dir: Path, tmp_path_factory) -> Path:
    """The sample raw pool as plain JSONL: it splits into byte-range shards."""
    path = tmp_path_factory.mktemp("plain") / "raw.jsonl"
    path.write_bytes(gzip.decompress((sample_dir / "raw.jsonl.gz").read_bytes()))
    return path


# -- an S3 server for the remote-store tests ------------------------------------------------
@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on 127.0.0.1 (a free port), with signatures and IAM enforced: yields
    its endpoint and the keys of a user allowed everything (wrong keys get a real 403)."""
    import logging

    import boto3
    import requests
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
        region_name="us-east-1",
    )
    iam.create_user(UserName="thresher")
    allow_all = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName="thresher", PolicyName="all", PolicyDocument=json.dumps(allow_all))
    key = iam.create_access_key(UserName="thresher")["AccessKey"]
    # From now on every request must be signed by a known key.
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()
    yield {"endpoint": endpoint, "key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    server.stop()


def fresh_store_clients() -> None:
    """Forget cached store clients (thresher's and s3fs's), so new credentials take effect."""
    import s3fs

    from thresher.io import fs

    fs.configure(None)
    fs._REMOTE.clear()
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def s3(s3_server, monkeypatch, tmp_path):
    """A fresh bucket on the S3 server, and the environment a user would set for it
    (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...; no ~/.aws); remote runs keep their
    _work/ under tmp_path. Yields (bucket, s3fs filesystem, server info)."""
    import uuid

    import s3fs

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server["endpoint"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server["secret"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("THRESHER_WORK_DIR", str(tmp_path / "thresher-work"))
    fresh_store_clients()
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir(bucket)
    yield bucket, fs, s3_server
    fresh_store_clients()
