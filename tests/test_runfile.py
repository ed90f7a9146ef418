"""Pipeline files: `thresher run pipeline.yaml` validates, plans and runs the examples."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.conftest import ROOT, tree_bytes
from thresher.config import SelectConfig
from thresher.errors import ConfigError
from thresher.runfile import load_runfile, plan, run

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
# With pytest-xdist (make test), tests that start Ray run one after the other on one worker.
RUNS = [
    pytest.param(p, marks=pytest.mark.xdist_group("ray")) if p.stem == "ray" else p
    for p in EXAMPLES
]

app = typer.Typer()
app.command()(run)  # what cli.py registers as `thresher run`


def _write(tmp_path: Path, text: str, name: str = "pipeline.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return p


@pytest.fixture
def sandbox(tmp_path) -> Path:
    """examples/ copied beside a link to the repo's data/, so ../runs lands in tmp."""
    (tmp_path / "examples").mkdir()
    for p in EXAMPLES:
        shutil.copy(p, tmp_path / "examples" / p.name)
    (tmp_path / "data").symlink_to(ROOT / "data")
    return tmp_path


# ---------------------------------------------------------------------------- examples


def test_there_are_examples():
    names = {p.name for p in EXAMPLES}
    assert {"dsir.yaml", "hybrid.yaml", "filters_dedup.yaml", "ray.yaml"} <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_loads_and_dry_runs(example, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # relative paths resolve against the file, not the cwd
    cfg = load_runfile(example)
    assert Path(cfg.raw[0]) == ROOT / "data" / "sample" / "raw.jsonl.gz"
    assert Path(cfg.target[0]) == ROOT / "data" / "sample" / "target.jsonl"
    assert Path(cfg.out).parent == ROOT / "runs"
    res = CliRunner().invoke(app, [str(example), "--dry-run"])
    assert res.exit_code == 0, res.output
    for word in (
        "stages:",
        "raw:",
        "shard(s)",
        "score:",
        cfg.method,
        "select:",
        "engine:",
        cfg.engine,
    ):
        assert word in res.output, (word, res.output)
    assert not Path(cfg.out).exists() or Path(cfg.out).is_dir()


def test_example_contents():
    hybrid = load_runfile(ROOT / "examples" / "hybrid.yaml")
    assert hybrid.method == "hybrid" and hybrid.scorer_options["combine"] == ["dsir", "bm25"]
    fd = load_runfile(ROOT / "examples" / "filters_dedup.yaml")
    assert fd.filters[0] == "lang" and {"gopher_quality", "gopher_repetition", "c4"} <= set(
        fd.filters
    )
    assert fd.filter_options == {"languages": ["en", "de"], "min_score": 0.65}
    assert fd.dedup == "minhash" and fd.dedup_threshold == 0.8
    r = load_runfile(ROOT / "examples" / "ray.yaml")
    assert r.engine == "ray" and r.workers == 2 and r.ray_address is None


@pytest.mark.parametrize("example", RUNS, ids=lambda p: p.stem)
def test_example_runs_end_to_end(example, sandbox):
    path = sandbox / "examples" / example.name
    cfg = load_runfile(path)
    res = CliRunner().invoke(app, [str(path)])
    assert res.exit_code == 0, res.output + repr(res.exception)
    out = Path(cfg.out)
    assert out.parent == sandbox / "runs"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["engine"]["name"] == cfg.engine
    c = manifest["counts"]
    assert c["selected"] > 0
    assert (
        c["read"]
        == c["selected"] + c["not_selected"] + c["rejected"] + c["filtered"] + c["duplicate"]
    )
    if cfg.k is not None:
        assert c["selected"] == min(cfg.k, manifest["metrics"]["eligible"])
    if cfg.engine == "ray":
        return  # a second private Ray start adds ~10 s and nothing new (see test_engine.py)
    # Existing output: stop unless --overwrite; --overwrite reproduces it byte for byte.
    before = tree_bytes(out / "selected")
    res = CliRunner().invoke(app, [str(path)])
    assert res.exit_code == 2 and "overwrite" in res.output
    res = CliRunner().invoke(app, [str(path), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert tree_bytes(out / "selected") == before


# ---------------------------------------------------------------------------- schema


def test_sections_flat_keys_and_shorthands(tmp_path):
    (tmp_path / "corpus").mkdir()
    p = _write(
        tmp_path,
        """
        read:
          raw: [corpus/a.jsonl, corpus/b.jsonl]
          target: t.jsonl
          text_field: body
          shard_mb: 2
        filter: [c4, fineweb]
        dedup: exact
        score:
          method: bm25
          options: {k1: 1.2}
        select: {fraction: 0.25, seed: 9}
        write: {out: out/run, format: jsonl, report: false}
        engine: ray
        workers: 3
        """,
    )
    cfg = load_runfile(p)
    assert cfg.raw == [str(tmp_path / "corpus" / "a.jsonl"), str(tmp_path / "corpus" / "b.jsonl")]
    assert cfg.target == [str(tmp_path / "t.jsonl")]
    assert cfg.out == str(tmp_path / "out" / "run")
    assert cfg.text_field == "body" and cfg.shard_bytes == 2 * 1024 * 1024
    assert cfg.filters == ["c4", "fineweb"] and cfg.dedup == "exact"
    assert cfg.method == "bm25" and cfg.scorer_options == {"k1": 1.2}
    assert cfg.fraction == 0.25 and cfg.seed == 9 and cfg.resolved_mode == "topk"
    assert cfg.format == "jsonl" and cfg.report is False
    assert cfg.engine == "ray" and cfg.workers == 3


def test_quotas_inline_and_from_file(tmp_path):
    (tmp_path / "q.json").write_text('{"en": 0.7, "de": 0.3}')
    base = """
        read: {raw: r.jsonl, target: t.jsonl}
        select:
          k: 10
          quota_field: lang
          quotas: QUOTAS
        write: {out: o}
        """
    cfg = load_runfile(_write(tmp_path, base.replace("QUOTAS", "{en: 0.5, fr: 0.5}")))
    assert cfg.quotas == {"en": 0.5, "fr": 0.5}
    cfg = load_runfile(_write(tmp_path, base.replace("QUOTAS", "q.json")))
    assert cfg.quotas == {"en": 0.7, "de": 0.3}


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as e:
        load_runfile(_write(tmp_path, text))
    return str(e.value)


GOOD = """
read:
  raw: r.jsonl
  target: t.jsonl
select:
  k: 10
write:
  out: o
"""


def test_good_base_loads(tmp_path):
    assert load_runfile(_write(tmp_path, GOOD)).k == 10


@pytest.mark.parametrize(
    ("edit", "line", "words"),
    [
        # unknown key in a section: named with its section, at its line
        (("  k: 10", "  k: 10\n  topk: 5"), 6, ["select.topk", "unknown key"]),
        # unknown top-level key
        (("write:", "scorer: dsir\nwrite:"), 6, ["'scorer'", "unknown key"]),
        # bad values, reported at the value's line
        (("  k: 10", "  k: -5"), 5, ["select.k", "greater than or equal to 1", "-5"]),
        (("  k: 10", "  k: ten"), 5, ["select.k", "integer", "'ten'"]),
        (("  k: 10", "  k: 10\n  mode: best"), 6, ["select.mode", "resample", "'best'"]),
        (("write:\n  out: o", "write:\n  out: o\n  format: csv"), 8, ["write.format", "'csv'"]),
        (("write:", "engine:\n  name: spark\nwrite:"), 7, ["engine.name", "'spark'"]),
        (
            ("write:", "engine:\n  workers: 0\nwrite:"),
            7,
            ["engine.workers", "greater than or equal to 1"],
        ),
        (
            ("write:", "dedup:\n  threshold: 2\nwrite:"),
            7,
            ["dedup.threshold", "less than or equal to 1"],
        ),
        (
            ("  target: t.jsonl", "  target: t.jsonl\n  shard_mb: -1"),
            4,
            ["read.shard_mb", "positive"],
        ),
        # a rule across fields: at the select section
        (("  k: 10", "  k: 10\n  fraction: 0.5"), 4, ["give k or fraction, not both"]),
        # the same key twice in one mapping (YAML would silently keep the last)
        (("  k: 10", "  k: 10\n  k: 20"), 6, ["select.k", "twice", "line 5"]),
        # one setting given twice in two places
        (("write:", "k: 5\nwrite:"), 6, ["'k'", "select.k", "line 5"]),
        # a section that is not a mapping
        (("select:\n  k: 10", "select: 10"), 4, ["select", "mapping"]),
        # wrong type of a list option
        (("write:", "score:\n  combine: {a: 1}\nwrite:"), 7, ["score.combine", "list of strings"]),
    ],
)
def test_errors_name_key_and_line(tmp_path, edit, line, words):
    old, new = edit
    assert old in GOOD
    msg = _error(tmp_path, GOOD.replace(old, new, 1))
    assert f"pipeline.yaml:{line}:" in msg, msg
    for w in words:
        assert w in msg, (w, msg)


def test_missing_required_and_invalid_yaml(tmp_path):
    msg = _error(tmp_path, "select: {k: 3}\nwrite: {out: o}\n")
    assert "read.raw" in msg and "required" in msg.lower()
    msg = _error(tmp_path, "read:\n  raw: [a.jsonl\nselect: {k: 3}\n")
    assert "invalid YAML" in msg and "pipeline.yaml:" in msg
    msg = _error(tmp_path, "- read\n- select\n")
    assert "pipeline.yaml:1:" in msg and "mapping" in msg
    with pytest.raises(ConfigError, match="not found"):
        load_runfile(tmp_path / "nope.yaml")


def test_cli_reports_errors_and_dry_run_checks_inputs(tmp_path):
    p = _write(tmp_path, GOOD.replace("  k: 10", "  k: -1"))
    res = CliRunner().invoke(app, [str(p), "--dry-run"])
    assert res.exit_code == 2
    assert "pipeline.yaml:5" in res.output and "select.k" in res.output
    # Valid file, missing input: the dry run says which file.
    p = _write(tmp_path, GOOD)
    res = CliRunner().invoke(app, [str(p), "--dry-run"])
    assert res.exit_code == 2 and "r.jsonl" in res.output


def test_plan_describes_everything(tmp_path):
    from tests.conftest import SAMPLE

    cfg = SelectConfig(
        raw=[str(SAMPLE / "raw.jsonl.gz")],
        target=[str(SAMPLE / "target.jsonl")],
        out=str(tmp_path / "o"),
        method="bm25",
        fraction=0.1,
        filters=["c4"],
        dedup="minhash",
        engine="ray",
        workers=2,
        ray_address="auto",
        quota_field="lang",
        quotas={"en": 1.0},
        decontaminate=[str(SAMPLE / "target.jsonl")],
        eval_field=["text"],
        redact=["email"],
    )
    text = plan(cfg)
    for w in (
        "read -> decontaminate -> redact -> filter -> dedup -> score",
        "drop on word 13-grams of",
        "redact:   email",
        "raw.jsonl.gz",
        "1 shard(s)",
        "bm25",
        "topk",
        "fraction = 0.1",
        "minhash",
        "c4",
        "quotas:",
        "ray, 2 worker(s), cluster at auto",
        "(new)",
    ):
        assert w in text, (w, text)
    assert not (tmp_path / "o").exists()  # a plan writes nothing


def test_flags_override_file(tmp_path, monkeypatch):
    from tests.conftest import SAMPLE

    p = _write(
        tmp_path,
        f"""
        read: {{raw: {SAMPLE}/raw.jsonl.gz, target: {SAMPLE}/target.jsonl}}
        select: {{k: 5}}
        write: {{out: o}}
        """,
    )
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "x").write_text("x")
    res = CliRunner().invoke(app, [str(p), "--dry-run"])
    assert res.exit_code == 0 and "would stop" in res.output
    res = CliRunner().invoke(app, [str(p), "--dry-run", "--overwrite"])
    assert res.exit_code == 0 and "overwrite" in res.output and "would stop" not in res.output
    assert os.path.isabs(load_runfile(p).raw[0])
