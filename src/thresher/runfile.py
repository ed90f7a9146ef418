"""Pipeline files: ``thresher run pipeline.yaml [--dry-run] [--resume] [--overwrite]``.

A pipeline file is YAML describing one ``thresher select`` run. It is validated
with :class:`thresher.config.SelectConfig` (the same model the CLI and the
Python API use), and every error names the key and its line in the file.

Schema: one section per stage, each optional except ``read`` and ``write``::

    read:                          # the inputs
      raw: [corpus/*.jsonl.gz]     # files, directories or globs (a string or a list)
      target: target.jsonl         # example documents of what you want (.txt/.md too)
      target_split: document       # a .txt/.md target: document, paragraphs or lines
      text_field: text             # field holding the text (default: text)
      shard_mb: 64                 # split big plain-JSONL files into shards of this size
                                   # (or shard_bytes: N)
      max_row_mb: 64               # a longer JSONL line is a row_too_large reject
      storage_options: {}          # options of s3://, gs://, hf:// stores (thresher.io.storage)
    filter:                        # or a plain list: filter: [lang, c4]
      filters: [lang, gopher_quality, gopher_repetition, c4, fineweb]
      lang: [en, de]               # languages to keep (adds the lang filter)
      lang_min_score: 0.65         # minimum language-id score
      reference: [ref.jsonl]       # perplexity filter: reference text (adds the filter)
      perplexity_quantile: 0.5     # keep docs at or below this perplexity quantile
      options: {}                  # further filter options, passed through
    dedup:                         # or a plain string: dedup: minhash
      method: minhash              # none, exact or minhash
      threshold: 0.8               # MinHash Jaccard threshold
    score:
      method: dsir                 # dsir, bm25, zipfit, dense, classifier, hybrid
      combine: [dsir, bm25]        # hybrid: the scorers to combine
      teacher: dense               # classifier: the scorer to distil (BETR-style)
      options: {}                  # scorer options (as --option KEY=VALUE)
      num_buckets: 10000           # hashed n-gram features (dsir, KL metric)
      ngrams: 2
      hashing: fast                # fast or sha256
      raw_sample: 100000           # raw docs to fit on; 0 = a full pass (dsir); default: what the method uses
    select:
      k: 1000                      # or fraction: 0.1, or tokens: 50000000, or mode: threshold
                                   # + threshold: X (capped by k, fraction or tokens if given)
      tokenizer: tokenizer.json    # count tokens with it, or: estimate (the built-in estimate,
                                   # the default with tokens); no tokens counted without either
      mode: resample               # resample, topk or threshold
      temperature: 1.0
      seed: 0
      quota_field: lang            # with quotas: proportions per group
      quotas: {en: 0.7, de: 0.3}   # or a JSON/YAML file holding that mapping
    write:
      out: runs/my-run             # the run directory
      format: parquet              # parquet, jsonl, jsonl.gz or jsonl.zst
      report: true                 # write out/report.html
      overwrite: false             # replace a non-empty run directory
      resume: false                # resume an interrupted run
    engine:                        # or a plain string: engine: ray
      name: ray                    # local or ray
      workers: 2                   # worker processes / concurrent Ray tasks
      address: auto                # ray: a running cluster (omit to start a local one)

Any field of ``SelectConfig`` may also be given at the top level under its own
name (``k: 1000``, ``method: bm25``, ``out: ...``); giving one setting twice
(e.g. top-level ``k`` and ``select.k``) is an error. Relative paths (``raw``,
``target``, ``out``, a ``quotas`` file) are resolved against the directory of
the YAML file, so a pipeline file works from any working directory.

``--dry-run`` validates the file, finds the inputs and prints the plan (stages,
files, shards, method, selection, engine) without running anything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode

from thresher.config import SelectConfig, parse_quotas
from thresher.errors import ConfigError
from thresher.filters.langid import language_spec
from thresher.io.fs import configure, is_url, out_path
from thresher.io.storage import check_storage_options

FIELDS = set(SelectConfig.model_fields)
PATH_FIELDS = ("raw", "target", "out", "tokenizer")

# section -> {key in the YAML: SelectConfig field or a special handler name}
SECTIONS: dict[str, dict[str, str]] = {
    "read": {
        "raw": "raw",
        "target": "target",
        "target_split": "target_split",
        "text_field": "text_field",
        "shard_mb": "@shard_mb",
        "shard_bytes": "shard_bytes",
        "max_row_mb": "@max_row_mb",
        "max_row_bytes": "max_row_bytes",
        "storage_options": "storage_options",
    },
    "filter": {
        "filters": "@filters",
        "lang": "@lang",
        "lang_min_score": "@lang_min_score",
        "options": "@filter_options",
        "reference": "@reference",
        "perplexity_quantile": "@perplexity_quantile",
    },
    "dedup": {"method": "dedup", "threshold": "dedup_threshold", "ngram": "dedup_ngram"},
    "score": {
        "method": "method",
        "options": "@scorer_options",
        "combine": "@combine",
        "teacher": "@teacher",
        "num_buckets": "num_buckets",
        "ngrams": "ngrams",
        "hashing": "hashing",
        "raw_sample": "raw_sample",
    },
    "select": {
        "k": "k",
        "fraction": "fraction",
        "tokens": "tokens",
        "tokenizer": "tokenizer",
        "mode": "mode",
        "threshold": "threshold",
        "temperature": "temperature",
        "seed": "seed",
        "quota_field": "quota_field",
        "quotas": "@quotas",
    },
    "write": {
        "out": "out",
        "format": "format",
        "report": "report",
        "overwrite": "overwrite",
        "resume": "resume",
        "write_dropped": "write_dropped",
    },
    "engine": {"name": "engine", "workers": "workers", "address": "ray_address"},
}
# A section given as a scalar/list instead of a mapping sets this key of it.
SHORTHAND = {"engine": "name", "dedup": "method", "filter": "filters", "score": "method"}


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class _Builder:
    """Walks the composed YAML, building SelectConfig keyword arguments and remembering lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.parent
        self.values: dict[str, Any] = {}
        self.origin: dict[str, tuple[str, Node]] = {}  # field -> (YAML key path, value node)
        self.filters: list[str] = []
        self.filter_options: dict = {}
        self.scorer_options: dict = {}
        self.lang: list[str] = []
        self.lang_min_score: float | None = None
        self.sections: dict[str, Node] = {}

    def fail(self, node: Node | None, msg: str) -> ConfigError:
        where = f"{self.path}:{_line(node)}" if node is not None else str(self.path)
        return ConfigError(f"{where}: {msg}")

    def value(self, node: Node) -> Any:
        return yaml.safe_load(yaml.serialize(node))

    def pairs(self, node: MappingNode, where: str) -> list[tuple[str, Node, Node]]:
        seen: dict[str, int] = {}
        out = []
        for k, v in node.value:
            if not isinstance(k, ScalarNode):
                raise self.fail(k, f"{where}: keys must be plain names")
            key = str(k.value)
            if key in seen:
                raise self.fail(k, f"{where}{key}: given twice (first on line {seen[key]})")
            seen[key] = _line(k)
            out.append((key, k, v))
        return out

    def set(self, field: str, value: Any, label: str, key_node: Node, node: Node) -> None:
        if field in self.origin:
            prev_label, prev = self.origin[field]
            raise self.fail(
                key_node,
                f"{label}: sets {field!r} again (already set by {prev_label} on line {_line(prev)})",
            )
        self.values[field] = value
        self.origin[field] = (label, node)

    # -- path helpers -------------------------------------------------------------------

    def resolve(self, p: str) -> str:
        if is_url(p):
            return p  # s3://, gs://, hf://, https://: not relative to the file
        q = Path(p).expanduser()
        return os.path.normpath(q if q.is_absolute() else self.base / q)

    def str_list(self, node: Node, label: str) -> list[str]:
        v = self.value(node)
        if isinstance(v, str):
            items = (
                [x.strip() for x in v.split(",")]
                if label.endswith(("filters", "lang", "combine", "decontaminate"))
                else [v]
            )
        elif isinstance(v, list) and all(isinstance(x, str | int | float) for x in v):
            items = [str(x) for x in v]
        else:
            raise self.fail(node, f"{label}: expected a string or a list of strings, got {v!r}")
        return [x for x in items if x]

    def mapping(self, node: Node, label: str) -> dict:
        v = self.value(node)
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise self.fail(node, f"{label}: expected a mapping (key: value), got {v!r}")
        return v

    # -- the walk -----------------------------------------------------------------------

    def top(self, root: Node) -> None:
        if not isinstance(root, MappingNode):
            raise self.fail(
                root, "a pipeline file is a mapping of sections (read, score, select, write, ...)"
            )
        for key, knode, vnode in self.pairs(root, ""):
            if key in SECTIONS and isinstance(vnode, MappingNode):
                self.sections[key] = knode
                self.section(key, knode, vnode)
            elif key in SHORTHAND:
                # engine: ray / dedup: minhash / filter: [lang, c4] / score: bm25
                self.sections[key] = knode
                self.item(key, SHORTHAND[key], knode, vnode, label=key)
            elif key in SECTIONS:
                raise self.fail(vnode, f"{key}: expected a mapping of {', '.join(SECTIONS[key])}")
            elif key in FIELDS:
                self.field(key, key, knode, vnode)
            else:
                raise self.fail(
                    knode,
                    f"unknown key {key!r} (sections: {', '.join(SECTIONS)}; or any of: {', '.join(sorted(FIELDS))})",
                )

    def section(self, name: str, knode: Node, node: MappingNode) -> None:
        for key, k, v in self.pairs(node, f"{name}."):
            if key not in SECTIONS[name]:
                raise self.fail(
                    k, f"unknown key {name}.{key} (expected one of: {', '.join(SECTIONS[name])})"
                )
            self.item(name, key, k, v)

    def item(self, section: str, key: str, knode: Node, vnode: Node, label: str = "") -> None:
        label = label or f"{section}.{key}"
        target = SECTIONS[section][key]
        if not target.startswith("@"):
            self.field(target, label, knode, vnode)
            return
        if target == "@shard_mb":
            mb = self.value(vnode)
            if isinstance(mb, bool) or not isinstance(mb, int | float) or mb <= 0:
                raise self.fail(vnode, f"{label}: expected a positive number of MB, got {mb!r}")
            self.set("shard_bytes", int(mb * 1024 * 1024), label, knode, vnode)
        elif target == "@max_row_mb":
            mb = self.value(vnode)
            if isinstance(mb, bool) or not isinstance(mb, int | float) or mb <= 0:
                raise self.fail(vnode, f"{label}: expected a positive number of MB, got {mb!r}")
            self.set("max_row_bytes", int(mb * 1024 * 1024), label, knode, vnode)
        elif target == "@filters":
            self.filters.extend(self.str_list(vnode, label))
            self.origin.setdefault("filters", (label, vnode))
        elif target == "@lang":
            langs = self.str_list(vnode, label)
            try:
                language_spec([], langs)  # refuses unknown codes, naming this line
            except ConfigError as e:
                raise self.fail(vnode, f"{label}: {e}") from None
            self.lang = langs
            self.origin.setdefault("filter_options", (label, vnode))
        elif target == "@lang_min_score":
            v = self.value(vnode)
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise self.fail(vnode, f"{label}: expected a number, got {v!r}")
            self.lang_min_score = float(v)
            self.origin.setdefault("filter_options", (label, vnode))
        elif target in ("@reference", "@perplexity_quantile"):
            if target == "@reference":
                v = [self.resolve(p) for p in self.str_list(vnode, label)]
                self.filter_options["reference"] = v
            else:
                self.filter_options["perplexity_quantile"] = self.value(vnode)
            if "perplexity" not in self.filters:
                self.filters.append("perplexity")
            self.origin.setdefault("filter_options", (label, vnode))
        elif target == "@filter_options":
            self.filter_options.update(self.mapping(vnode, label))
            self.origin.setdefault("filter_options", (label, vnode))
        elif target == "@scorer_options":
            self.scorer_options.update(self.mapping(vnode, label))
            self.origin.setdefault("scorer_options", (label, vnode))
        elif target == "@combine":
            self.scorer_options["combine"] = self.str_list(vnode, label)
            self.origin.setdefault("scorer_options", (label, vnode))
        elif target == "@teacher":
            t = self.value(vnode)
            if not isinstance(t, str):
                raise self.fail(vnode, f"{label}: expected a scorer name, got {t!r}")
            self.scorer_options["teacher"] = t
            self.origin.setdefault("scorer_options", (label, vnode))
        elif target == "@quotas":
            self.set("quotas", self.quotas(vnode, label), label, knode, vnode)
        else:  # pragma: no cover - SECTIONS and this dispatch go together
            raise AssertionError(target)

    def field(self, field: str, label: str, knode: Node, vnode: Node) -> None:
        v = self.value(vnode)
        if field in ("raw", "target", "decontaminate"):
            v = [self.resolve(p) for p in self.str_list(vnode, label)]
        elif field in ("out", "tokenizer"):
            if not isinstance(v, str):
                what = "a directory" if field == "out" else "a tokenizer.json"
                raise self.fail(vnode, f"{label}: expected {what} path, got {v!r}")
            if v != "estimate":
                v = self.resolve(v)
        elif field == "filters":
            self.filters.extend(self.str_list(vnode, label))
            self.origin.setdefault("filters", (label, vnode))
            return
        elif field in ("filter_options", "scorer_options"):
            (self.filter_options if field == "filter_options" else self.scorer_options).update(
                self.mapping(vnode, label)
            )
            self.origin.setdefault(field, (label, vnode))
            return
        elif field == "quotas" and v is not None:
            v = self.quotas(vnode, label)
        elif field == "storage_options":
            try:
                v = check_storage_options(v, label)
            except ConfigError as e:
                raise self.fail(vnode, str(e)) from None
        self.set(field, v, label, knode, vnode)

    def quotas(self, node: Node, label: str) -> dict[str, float]:
        v = self.value(node)
        if not isinstance(v, str | dict):
            raise self.fail(
                node, f"{label}: expected a mapping GROUP: PROPORTION or a file, got {v!r}"
            )
        try:
            quotas = parse_quotas(v, base=self.base)
        except ConfigError as e:
            raise self.fail(node, f"{label}: {e}") from None
        if quotas is None:
            raise self.fail(node, f"{label}: no proportions given")
        return quotas

    def config(self) -> SelectConfig:
        kw = dict(self.values)
        filters, lang_options = language_spec(self.filters, self.lang, self.lang_min_score)
        if filters:
            kw["filters"] = filters
        if lang_options or self.filter_options:
            kw["filter_options"] = {**lang_options, **self.filter_options}
        if self.scorer_options:
            kw["scorer_options"] = self.scorer_options
        try:
            return SelectConfig(**kw)
        except ValidationError as e:
            raise self.validation_error(e) from None

    def validation_error(self, e: ValidationError) -> ConfigError:
        msgs = []
        for err in e.errors():
            loc = err["loc"]
            field = str(loc[0]) if loc else None
            msg = err["msg"].removeprefix("Value error, ")
            if field in self.origin:
                label, node = self.origin[field]
                sub = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
                got = (
                    f" (got {err['input']!r})"
                    if "input" in err and not isinstance(err["input"], dict | list)
                    else ""
                )
                msgs.append(f"{self.path}:{_line(node)}: {label}{sub}: {msg}{got}")
            elif field is not None:  # a required field nobody gave
                hint = {"raw": "read.raw", "out": "write.out"}.get(field, field)
                msgs.append(f"{self.path}: {hint}: {msg}")
            else:  # a rule across fields: point at the select section when there is one
                node = self.sections.get("select")
                where = f"{self.path}:{_line(node)}" if node is not None else str(self.path)
                msgs.append(f"{where}: {msg}")
        return ConfigError("; ".join(msgs))


def load_runfile(path: str | Path) -> SelectConfig:
    """Read and validate a pipeline file; relative paths resolve against its directory."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: pipeline file not found") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e})") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if root is None:
        raise ConfigError(f"{path}: empty pipeline file")
    b = _Builder(path.resolve())
    b.path = path  # messages name the file as the user gave it
    b.top(root)
    return b.config()


# -------------------------------------------------------------------------------------
# --dry-run
# -------------------------------------------------------------------------------------


def _mb(n: float) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):,.2f} GiB"
    return f"{n / (1 << 20):,.1f} MiB" if n >= 1 << 17 else f"{n / 1024:,.1f} KiB"


def plan(cfg: SelectConfig) -> str:
    """What a run of ``cfg`` would do, without running it: stages, inputs, method, engine."""
    from thresher.io.sources import discover, plan_shards

    lines: list[str] = []
    add = lines.append
    configure(cfg.storage_options)
    raw_files = discover(cfg.raw)
    shards = plan_shards(raw_files, cfg.shard_bytes)
    per_file: dict[str, int] = {}
    for s in shards:
        per_file[s.path] = per_file.get(s.path, 0) + 1
    target_files = discover(cfg.target) if cfg.target else []

    stages = ["read"]
    if cfg.decontaminate:
        stages.append("decontaminate")
    if cfg.redact:
        stages.append("redact")
    if cfg.filters:
        stages.append("filter")
    if cfg.dedup != "none":
        stages.append("dedup")
    stages += ["score", "select", "write"]
    if cfg.report:
        stages.append("report")
    add("stages:   " + " -> ".join(stages))
    total = sum(f.size for f in raw_files)
    add(
        f"raw:      {len(raw_files)} file(s), {_mb(total)}, {len(shards)} shard(s) of <= {_mb(cfg.shard_bytes)}"
    )
    for f in raw_files:
        add(
            f"            {f.path}  [{f.format}, {_mb(f.size)}, {per_file.get(f.path, 0)} shard(s)]"
        )
    if target_files:
        add(f"target:   {len(target_files)} file(s), {_mb(sum(f.size for f in target_files))}")
        for f in target_files:
            add(f"            {f.path}  [{f.format}, {_mb(f.size)}]")
    else:
        add("target:   (none)")
    add(f"text:     field {cfg.text_field!r}")
    if cfg.filters:
        opts = f"  {cfg.filter_options}" if cfg.filter_options else ""
        add(f"filter:   {', '.join(cfg.filters)}{opts}")
    if cfg.decontaminate:
        add(
            f"decontam: {cfg.decontaminate_mode} on word {cfg.decontaminate_ngram}-grams of "
            f"{', '.join(cfg.decontaminate)} (fields {', '.join(cfg.eval_field)})"
        )
    if cfg.redact:
        add(f"redact:   {', '.join(cfg.redact)}")
    if cfg.dedup != "none":
        thr = f" (Jaccard >= {cfg.dedup_threshold})" if cfg.dedup == "minhash" else ""
        add(f"dedup:    {cfg.dedup}{thr}")
    opts = f"  {cfg.scorer_options}" if cfg.scorer_options else ""
    if cfg.raw_sample is None:
        fit = "the method's sample (at most 100,000 raw docs)"
    else:
        fit = "a full pass" if cfg.raw_sample == 0 else f"{cfg.raw_sample:,} raw docs"
    add(f"score:    {cfg.method}{opts}; fit on {fit}")
    feats = f"{cfg.num_buckets:,} buckets, n-grams up to {cfg.ngrams}"
    if cfg.method == "dsir":
        add(f"features: {feats}, hashing {cfg.hashing}")
    else:  # the scorer has its own features; these only measure the KL reduction
        add(f"KL:       measured on {feats}")
    mode = cfg.resolved_mode
    if mode == "threshold":
        how = f"score >= {cfg.threshold}"
    elif cfg.k is not None:
        how = f"k = {cfg.k:,}"
    elif cfg.tokens is not None:
        how = f"tokens = {cfg.tokens:,}"
    else:
        how = f"fraction = {cfg.fraction}"
    extra = f", temperature {cfg.temperature}" if mode == "resample" else ""
    if mode == "threshold" and cfg.tokens is not None:
        how += f", up to {cfg.tokens:,} tokens"
    add(f"select:   {mode}, {how}, seed {cfg.seed}{extra}")
    if cfg.counts_tokens:
        how = cfg.tokenizer if cfg.tokenizer not in (None, "estimate") else "the built-in estimate"
        add(f"tokens:   counted by {how}")
    if cfg.quotas:
        q = ", ".join(f"{k}={v:g}" for k, v in cfg.quotas.items())
        add(f"quotas:   by {cfg.quota_field!r}: {q}")
    if cfg.engine == "ray":
        where = f"cluster at {cfg.ray_address}" if cfg.ray_address else "a local Ray instance"
        add(f"engine:   ray, {cfg.workers or 'all'} worker(s), {where}")
    else:
        from thresher.engine.local import default_workers

        add(f"engine:   local, {cfg.workers or default_workers()} worker process(es)")
    out = out_path(cfg.out)
    state = "exists, not empty" if out.exists() and any(out.iterdir()) else "new"
    flags = [n for n in ("overwrite", "resume") if getattr(cfg, n)]
    add(
        f"write:    {out}/ ({state}{'; ' + ', '.join(flags) if flags else ''}), format {cfg.format}"
        f"{', report.html' if cfg.report else ''}"
    )
    if state != "new" and not (cfg.overwrite or cfg.resume):
        add("          note: the run would stop: give --overwrite or --resume")
    return "\n".join(lines)


# -------------------------------------------------------------------------------------
# the command
# -------------------------------------------------------------------------------------


def run(
    path: Annotated[
        Path,
        typer.Argument(
            help="Pipeline YAML file (see `thresher.runfile`).", metavar="PIPELINE.yaml"
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and print the plan; run nothing.")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Resume an interrupted run in its out directory.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a non-empty out directory.")
    ] = False,
) -> None:
    """Run the pipeline a YAML file describes (read, filter, dedup, score, select, write)."""
    from rich.console import Console

    from thresher.console import RichReporter, error_boundary, summary
    from thresher.pipeline import run_select

    with error_boundary():
        cfg = load_runfile(path)
        if resume or overwrite:
            cfg = cfg.model_copy(
                update={"resume": cfg.resume or resume, "overwrite": cfg.overwrite or overwrite}
            )
        if dry_run:
            Console(highlight=False, soft_wrap=True).print(plan(cfg), markup=False)
            return
        manifest = run_select(
            cfg, progress=RichReporter(), command=["thresher", "run", str(path)], run_file=path
        )
    summary(manifest, cfg.out)


__all__ = ["load_runfile", "plan", "run"]
