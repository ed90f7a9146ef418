"""Pipeline configuration, validated with pydantic: one model for the CLI, the API and YAML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from thresher.errors import ConfigError
from thresher.io.readers import DEFAULT_MAX_ROW_BYTES
from thresher.io.sources import DEFAULT_SHARD_BYTES


class SelectConfig(BaseModel):
    """Everything a ``thresher select`` run depends on (what the manifest records)."""

    model_config = ConfigDict(extra="forbid")

    target: list[str] = Field(default_factory=list, description="target example files")
    raw: list[str] = Field(description="raw corpus files, directories or globs")
    out: str = Field(description="run directory")
    method: str = Field(
        "auto",
        description="scorer: auto (measures the others on held-out target docs), dsir, bm25, "
        "zipfit, dense, classifier, hybrid, color; none = keep all",
    )
    target_outliers: Literal["drop", "keep", "error"] = Field(
        "drop", description="target documents unlike the rest: drop, keep (report) or error"
    )
    k: int | None = Field(None, ge=1, description="select this many documents")
    fraction: float | None = Field(None, gt=0.0, le=1.0, description="select this fraction")
    tokens: int | None = Field(
        None, ge=1, description="select up to this many tokens (instead of k or fraction)"
    )
    tokenizer: str | None = Field(
        None,
        description="count tokens with a Hugging Face tokenizer.json, or 'estimate' (built in, "
        "the default under a token budget); tokens are counted only with tokens or tokenizer",
    )
    mode: Literal["resample", "topk", "threshold", "all"] | None = Field(
        None,
        description="selection mode; default resample for dsir, all for method none, topk otherwise",
    )
    threshold: float | None = None
    temperature: float = Field(1.0, gt=0)
    seed: int = 0
    workers: int | None = Field(None, ge=1)
    engine: str = Field("local", description="an engine of thresher.engine.ENGINES: local or ray")
    ray_address: str | None = None
    format: Literal["parquet", "jsonl", "jsonl.gz", "jsonl.zst"] = "parquet"
    text_field: str = "text"
    target_split: Literal["document", "paragraphs", "lines"] = Field(
        "document", description="a .txt/.md target file is one document, or its paragraphs/lines"
    )
    overwrite: bool = False
    resume: bool = False
    shard_bytes: int = Field(DEFAULT_SHARD_BYTES, gt=0)
    max_row_bytes: int = Field(
        DEFAULT_MAX_ROW_BYTES, gt=0, description="a longer JSONL line is a row_too_large reject"
    )
    # features (dsir, classifier, KL metric)
    num_buckets: int = Field(10_000, gt=0)
    ngrams: int = Field(2, ge=1, le=8)
    hashing: Literal["fast", "sha256"] = "fast"
    raw_sample: int | None = Field(
        None,
        ge=0,
        description="raw docs to fit on (spread over shards); 0 = full pass; "
        "default: as many as the method uses, at most 100,000",
    )
    scorer_options: dict = Field(default_factory=dict, description="extra scorer options")
    # hygiene stages
    filters: list[str] = Field(default_factory=list)
    filter_options: dict = Field(default_factory=dict)
    dedup: Literal["none", "exact", "minhash"] = "none"
    # 0.6 / 3-grams, signature-verified: >= 98% of 5%-edited copies, no merge of distinct
    # docs below Jaccard 0.5 on the bench pool (bench/results/dedup.md, README "Near-duplicates")
    dedup_threshold: float = Field(0.6, gt=0, le=1, description="MinHash Jaccard threshold")
    dedup_ngram: int = Field(3, ge=1, description="MinHash word n-gram shingle size")
    # decontamination against eval sets, PII redaction (thresher.hygiene)
    decontaminate: list[str] = Field(
        default_factory=list, description="eval sets: drop raw documents sharing n-grams with them"
    )
    eval_field: list[str] = Field(
        default_factory=lambda: ["text"], description="eval set field(s), joined by a space"
    )
    decontaminate_ngram: int = Field(13, ge=1, description="word n-gram size of the match")
    decontaminate_mode: Literal["drop", "excise"] = "drop"
    decontaminate_min_left: float = Field(
        0.5, ge=0, le=1, description="excise: drop a document left with less of its words"
    )
    decontaminate_max_ngrams: int = Field(
        10_000_000, gt=0, description="cap on the eval n-grams held in memory"
    )
    redact: list[str] = Field(default_factory=list, description="PII to redact: email, ip, phone")
    # quotas
    quota_field: str | None = None
    quotas: dict[str, float] | None = None
    write_dropped: bool = False
    report: bool = True
    # where the data lives: options of the remote stores (see thresher.io.storage)
    storage_options: dict = Field(
        default_factory=dict,
        description="options of remote stores (s3://, gs://, hf://): KEY: VALUE, or per protocol",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """``k: true`` is a mistake, not 1: pydantic's lax mode would take a bool as a number."""
        f = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and f is not None and f.annotation is not bool:
            raise ValueError("expected a number, not a boolean")
        return value

    @field_validator("decontaminate", "eval_field", "redact", mode="before")
    @classmethod
    def _csv_list(cls, value: Any) -> Any:
        """``"a.jsonl,b.jsonl"`` or a list of such: the comma-separated items."""
        return split_csv(value) if isinstance(value, str | list | tuple) else value

    @field_validator("redact")
    @classmethod
    def _known_pii(cls, value: list[str]) -> list[str]:
        from thresher.text.pii import KINDS

        bad = [k for k in value if k not in KINDS]
        if bad:
            raise ValueError(f"unknown PII kind(s) {', '.join(bad)} (expected {', '.join(KINDS)})")
        return value

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        from thresher.engine import ENGINES

        if value not in ENGINES:
            raise ValueError(f"unknown engine {value!r} (expected one of {', '.join(ENGINES)})")
        return value

    @model_validator(mode="after")
    def _check(self) -> SelectConfig:
        given = [n for n in ("k", "fraction", "tokens") if getattr(self, n) is not None]
        if len(given) == 2:
            raise ValueError(f"give {given[0]} or {given[1]}, not both")
        if len(given) > 2:
            raise ValueError("give one of k, fraction or tokens")
        mode = self.resolved_mode
        if mode == "threshold" and self.threshold is None:
            raise ValueError("mode 'threshold' needs a threshold")
        if mode not in ("threshold", "all") and not given:
            raise ValueError("give k, fraction or tokens")
        if self.quotas is not None and self.quota_field is None:
            raise ValueError("quotas need a quota_field")
        if not self.raw:
            raise ValueError("give at least one raw input")
        return self

    @property
    def counts_tokens(self) -> bool:
        """Tokens are counted when asked for: a budget, or a tokenizer (``estimate`` included).
        Not by default: even the estimate costs about what dsir's scoring kernel does."""
        return self.tokens is not None or self.tokenizer is not None

    @property
    def resolved_mode(self) -> str:
        if self.mode is not None:
            return self.mode
        from thresher.scorers import default_mode  # the scorer class says (no torch imported)

        return default_mode(self.method)


# lid.176 probability a document's language must exceed (datatrove's language_threshold).
DEFAULT_LANG_MIN_SCORE = 0.65


def default(name: str) -> Any:
    """The default of a config field: the one source of the CLI's and the API's defaults."""
    return SelectConfig.model_fields[name].get_default(call_default_factory=True)


def split_csv(text: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """The non-empty items of a comma-separated value ("en, de" -> ["en", "de"]); lists pass."""
    items = [text] if isinstance(text, str) else list(text or [])
    return [x.strip() for item in items for x in str(item).split(",") if x.strip()]


def parse_quotas(spec: str | dict | None, base: Path | None = None) -> dict[str, float] | None:
    """Quotas from ``en=0.7,de=0.3``, a mapping, or a JSON/YAML file holding one (CLI, YAML, API).

    Relative file paths resolve against ``base`` (a pipeline file's folder) when given.
    """
    if spec is None or spec == "" or spec == {}:
        return None
    if isinstance(spec, str):
        p = Path(spec).expanduser()
        if base is not None and not p.is_absolute():
            p = base / p
        if p.suffix.lower() in (".json", ".yaml", ".yml") or p.exists():
            if not p.exists():
                raise ConfigError(f"{p}: quota file does not exist")
            import yaml

            text = p.read_text(encoding="utf-8")
            try:
                spec = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
            except (ValueError, yaml.YAMLError) as e:
                raise ConfigError(f"{p}: not a valid quota file ({e})") from None
            if not isinstance(spec, dict):
                raise ConfigError(f"{p}: expected a mapping GROUP: PROPORTION")
        else:
            items = {}
            for item in split_csv(spec):
                if "=" not in item:
                    raise ConfigError(f"--quota: expected GROUP=PROPORTION, got {item!r}")
                k, v = item.split("=", 1)
                items[k.strip()] = v
            spec = items
    if not isinstance(spec, dict):
        raise ConfigError(f"quotas: expected a mapping GROUP: PROPORTION, got {spec!r}")
    out: dict[str, float] = {}
    for k, v in spec.items():
        try:
            if isinstance(v, bool):
                raise ValueError
            out[str(k)] = float(v)
        except (TypeError, ValueError):
            raise ConfigError(f"quota {k}={v!r}: the proportion must be a number") from None
        if out[str(k)] < 0:
            raise ConfigError(f"quota {k}={v!r}: the proportion must be >= 0")
    if sum(out.values()) <= 0:
        raise ConfigError("quotas: at least one proportion must be > 0")
    return out
