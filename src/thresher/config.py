"""Pipeline configuration, validated with pydantic: one model for the CLI, the API and YAML."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thresher.io.sources import DEFAULT_SHARD_BYTES


class SelectConfig(BaseModel):
    """Everything a ``thresher select`` run depends on (what the manifest records)."""

    model_config = ConfigDict(extra="forbid")

    target: list[str] = Field(default_factory=list, description="target example files")
    raw: list[str] = Field(description="raw corpus files, directories or globs")
    out: str = Field(description="run directory")
    method: str = Field(
        "dsir", description="scorer: dsir, bm25, zipfit, dense, classifier, hybrid; none = keep all"
    )
    k: int | None = Field(None, ge=0, description="select this many documents")
    fraction: float | None = Field(None, ge=0.0, le=1.0, description="select this fraction")
    mode: Literal["resample", "topk", "threshold", "all"] | None = Field(
        None,
        description="selection mode; default resample for dsir, all for method none, topk otherwise",
    )
    threshold: float | None = None
    temperature: float = Field(1.0, gt=0)
    seed: int = 0
    workers: int | None = Field(None, ge=1)
    engine: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    format: Literal["parquet", "jsonl"] = "parquet"
    text_field: str = "text"
    overwrite: bool = False
    resume: bool = False
    shard_bytes: int = Field(DEFAULT_SHARD_BYTES, gt=0)
    # features (dsir, classifier, KL metric)
    num_buckets: int = Field(10_000, gt=0)
    ngrams: int = Field(2, ge=1, le=8)
    hashing: Literal["fast", "sha256"] = "fast"
    raw_sample: int = Field(
        100_000, ge=0, description="raw docs to fit on (spread over shards); 0 = full pass"
    )
    scorer_options: dict = Field(default_factory=dict, description="extra scorer options")
    # hygiene stages
    filters: list[str] = Field(default_factory=list)
    filter_options: dict = Field(default_factory=dict)
    dedup: Literal["none", "exact", "minhash"] = "none"
    dedup_threshold: float = Field(0.8, gt=0, le=1, description="MinHash Jaccard threshold")
    dedup_ngram: int = Field(5, ge=1, description="MinHash word n-gram shingle size")
    # quotas
    quota_field: str | None = None
    quotas: dict[str, float] | None = None
    write_dropped: bool = False
    report: bool = True

    @model_validator(mode="after")
    def _check(self) -> SelectConfig:
        if self.k is not None and self.fraction is not None:
            raise ValueError("give k or fraction, not both")
        mode = self.resolved_mode
        if mode == "threshold" and self.threshold is None:
            raise ValueError("mode 'threshold' needs a threshold")
        if mode not in ("threshold", "all") and self.k is None and self.fraction is None:
            raise ValueError("give k or fraction")
        if self.quotas is not None and self.quota_field is None:
            raise ValueError("quotas need a quota_field")
        if not self.raw:
            raise ValueError("give at least one raw input")
        return self

    @property
    def resolved_mode(self) -> str:
        if self.mode is not None:
            return self.mode
        from thresher.scorers import default_mode  # the scorer class says (no torch imported)

        return default_mode(self.method)
