"""The ``thresher`` command: a thin typer layer over :mod:`thresher.api`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from thresher.config import (
    DEFAULT_LANG_MIN_SCORE,
    default,
    parse_quotas,
    split_csv,
)
from thresher.console import RichReporter, error_boundary, fail, summary
from thresher.filters.langid import language_spec
from thresher.io.storage import parse_storage_options

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Select, out of a raw corpus, the documents worth training a language model on.",
)


@app.callback()
def _root(
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress bars, progress lines or notes (errors remain)."
    ),
) -> None:
    """Select, out of a raw corpus, the documents worth training a language model on."""
    from thresher import console
    from thresher.pages import tune_process

    console.set_quiet(quiet)  # every invocation: a previous --quiet in this process does not stick
    tune_process()  # this process is thresher's own (see thresher.pages)


def _parse_options(items: list[str]) -> dict:
    """``KEY=VALUE`` pairs; a value is parsed as JSON when it can be (``3``, ``true``, ``[1,2]``)."""
    import json

    from thresher.errors import ConfigError

    out: dict = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--option: expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


RawOpt = Annotated[
    list[str],
    typer.Option(
        "--raw",
        help="Input: files, directories or globs (.jsonl, .jsonl.gz, .jsonl.zst, .parquet, .txt, .md). Repeatable.",
    ),
]
OutOpt = Annotated[
    str, typer.Option("--out", help="Run directory to write: a local path, s3:// or gs://.")
]
StorageOpt = Annotated[
    list[str],
    typer.Option(
        "--storage-option",
        help="Option of the remote stores KEY=VALUE (s3.endpoint_url=..., anon=true); "
        "a dotted key nests. Repeatable.",
    ),
]
WorkersOpt = Annotated[int | None, typer.Option(help="Worker processes (default: all cores).")]
EngineOpt = Annotated[str, typer.Option(help="local or ray.")]
FormatOpt = Annotated[
    str, typer.Option("--format", help="Output format: parquet, jsonl, jsonl.gz or jsonl.zst.")
]
TextFieldOpt = Annotated[str, typer.Option(help="Field holding the document text.")]
RayAddressOpt = Annotated[str | None, typer.Option(help="Ray cluster address (with --engine ray).")]
OverwriteOpt = Annotated[
    bool, typer.Option(help="Replace a run directory that thresher wrote before.")
]
ResumeOpt = Annotated[bool, typer.Option(help="Resume an interrupted run in OUT.")]
DroppedOpt = Annotated[
    bool, typer.Option(help="Also write OUT/dropped/ with the reason for each dropped document.")
]
LangOpt = Annotated[
    str | None,
    typer.Option(
        help="Languages to keep, e.g. en,de, or auto: the target's languages (adds the lang filter)."
    ),
]
LangMinScoreOpt = Annotated[float, typer.Option(help="Minimum language-id score.")]
DedupThresholdOpt = Annotated[float, typer.Option(help="MinHash Jaccard threshold.")]
DedupNgramOpt = Annotated[int, typer.Option(help="MinHash word n-gram shingle size.")]
ReferenceOpt = Annotated[
    list[str],
    typer.Option(
        "--reference",
        help="Reference text for the perplexity filter (adds it): files, directories or globs. Repeatable.",
    ),
]
PerplexityQuantileOpt = Annotated[
    float | None,
    typer.Option(
        help="Perplexity filter: keep documents at or below this quantile of the corpus's perplexity (0 < Q <= 1, default 0.5)."
    ),
]
MaxRowOpt = Annotated[
    float,
    typer.Option(help="Longest JSONL line read, in MB; a longer one is a row_too_large reject."),
]
_MAX_ROW_MB = default("max_row_bytes") / (1024 * 1024)
DecontOpt = Annotated[
    list[str],
    typer.Option(
        "--decontaminate",
        help="Eval sets (JSONL, Parquet, text: one item per line): drop raw documents sharing "
        "a word n-gram with them (rule contaminated). Repeatable or comma-separated.",
    ),
]
EvalFieldOpt = Annotated[
    str, typer.Option("--eval-field", help="Eval set field(s), e.g. question,answer (joined).")
]
DecontNgramOpt = Annotated[
    int, typer.Option("--decontaminate-ngram", help="Word n-gram size of the match.")
]
DecontModeOpt = Annotated[
    str,
    typer.Option(
        "--decontaminate-mode",
        help="drop: drop a matching document; excise: cut the matching spans out.",
    ),
]
DecontMinLeftOpt = Annotated[
    float,
    typer.Option(
        "--decontaminate-min-left",
        help="excise: drop a document left with less than this share of its words.",
    ),
]
RedactOpt = Annotated[
    str | None,
    typer.Option("--redact", help="PII to rewrite with placeholders: email,ip,phone."),
]


def _hygiene_options(
    *,
    decontaminate: list[str],
    eval_field: str,
    ngram: int,
    mode: str,
    min_left: float,
    redact: str | None,
) -> dict:
    """The decontamination and redaction options as config fields."""
    return {
        "decontaminate": split_csv(decontaminate),
        "eval_field": split_csv(eval_field),
        "decontaminate_ngram": ngram,
        "decontaminate_mode": mode,
        "decontaminate_min_left": min_left,
        "redact": split_csv(redact),
    }


@app.command()
def select(
    raw: RawOpt,
    out: OutOpt,
    target: Annotated[
        list[str],
        typer.Option("--target", help="Target examples: files, directories or globs. Repeatable."),
    ] = [],  # noqa: B006
    target_split: Annotated[
        str,
        typer.Option(help="A .txt/.md target file is one document, or its paragraphs or lines."),
    ] = default("target_split"),
    method: Annotated[
        str,
        typer.Option(
            help="Scorer: auto (measures the others on held-out target docs and scans with the "
            "best), dsir, bm25, zipfit, dense, classifier, hybrid."
        ),
    ] = default("method"),
    target_outliers: Annotated[
        str,
        typer.Option(
            help="Target docs unlike the rest (language, n-gram similarity): drop, keep or error."
        ),
    ] = default("target_outliers"),
    k: Annotated[int | None, typer.Option("--k", help="Select this many documents.")] = None,
    fraction: Annotated[
        float | None, typer.Option(help="Select this fraction of the eligible documents.")
    ] = None,
    tokens: Annotated[
        int | None,
        typer.Option(
            "--tokens",
            help="Select up to this many tokens (instead of --k/--fraction), in any --mode.",
        ),
    ] = None,
    tokenizer: Annotated[
        str | None,
        typer.Option(
            "--tokenizer",
            help="Count tokens with this Hugging Face tokenizer.json, or 'estimate' (built in; the default with --tokens). Tokens are counted only with --tokens or --tokenizer.",
        ),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(
            help="resample (importance resampling, default for dsir), topk (default otherwise) or threshold."
        ),
    ] = None,
    threshold: Annotated[float | None, typer.Option(help="Score cut for --mode threshold.")] = None,
    temperature: Annotated[
        float, typer.Option(help="Resampling temperature (scores are divided by it).")
    ] = default("temperature"),
    seed: Annotated[int, typer.Option(help="Seed: same seed, same output.")] = default("seed"),
    workers: WorkersOpt = None,
    engine: EngineOpt = default("engine"),
    ray_address: RayAddressOpt = None,
    format: FormatOpt = default("format"),
    text_field: TextFieldOpt = default("text_field"),
    num_buckets: Annotated[
        int, typer.Option(help="Hashed n-gram buckets (dsir, KL metric).")
    ] = default("num_buckets"),
    ngrams: Annotated[int, typer.Option(help="Largest n-gram order of hashed features.")] = default(
        "ngrams"
    ),
    hashing: Annotated[
        str, typer.Option(help="fast (numba) or sha256 (identical to the reference DSIR, slow).")
    ] = default("hashing"),
    raw_sample: Annotated[
        int | None,
        typer.Option(
            help="Raw documents to fit the scorer on, spread over shards; 0 = a full pass "
            "(dsir). Default: as many as the method uses (classifier, auto: 20,000), at most "
            "100,000."
        ),
    ] = default("raw_sample"),
    filter: Annotated[
        list[str],
        typer.Option(
            "--filter",
            help="Filters before scoring: lang, gopher_quality, gopher_repetition, c4, fineweb, perplexity. Repeatable or comma-separated.",
        ),
    ] = [],  # noqa: B006
    reference: ReferenceOpt = [],  # noqa: B006
    perplexity_quantile: PerplexityQuantileOpt = None,
    lang: LangOpt = None,
    lang_min_score: LangMinScoreOpt = DEFAULT_LANG_MIN_SCORE,
    dedup: Annotated[
        str, typer.Option(help="none, exact or minhash: drop duplicates before scoring.")
    ] = default("dedup"),
    dedup_threshold: DedupThresholdOpt = default("dedup_threshold"),
    dedup_ngram: DedupNgramOpt = default("dedup_ngram"),
    quota_field: Annotated[
        str | None, typer.Option(help="Field whose values get quotas, e.g. lang.")
    ] = None,
    quota: Annotated[
        str | None, typer.Option(help="Proportions per group: en=0.7,de=0.3, or a JSON/YAML file.")
    ] = None,
    combine: Annotated[
        str | None, typer.Option(help="hybrid: scorers to combine, e.g. dsir,bm25,classifier.")
    ] = None,
    teacher: Annotated[
        str | None,
        typer.Option(
            help="classifier: distil this scorer's scores (dense, bm25, zipfit) BETR-style."
        ),
    ] = None,
    option: Annotated[
        list[str],
        typer.Option(
            "--option",
            "-o",
            help="Scorer option KEY=VALUE (value parsed as JSON when it can be). Repeatable.",
        ),
    ] = [],  # noqa: B006
    shard_mb: Annotated[
        int, typer.Option(help="Shard size in MB for splitting large files.")
    ] = default("shard_bytes") // (1024 * 1024),
    overwrite: OverwriteOpt = False,
    resume: ResumeOpt = False,
    max_row_mb: MaxRowOpt = _MAX_ROW_MB,
    report: Annotated[bool, typer.Option(help="Write OUT/report.html at the end.")] = default(
        "report"
    ),
    write_dropped: DroppedOpt = False,
    storage_option: StorageOpt = [],  # noqa: B006
    decontaminate: DecontOpt = [],  # noqa: B006
    eval_field: EvalFieldOpt = "text",
    decontaminate_ngram: DecontNgramOpt = default("decontaminate_ngram"),
    decontaminate_mode: DecontModeOpt = default("decontaminate_mode"),
    decontaminate_min_left: DecontMinLeftOpt = default("decontaminate_min_left"),
    redact: RedactOpt = None,
) -> None:
    """Score every raw document against the target and select the best; write OUT."""
    from thresher import api

    with error_boundary():
        filters, filter_options = language_spec(filter, lang, lang_min_score)
        _perplexity_spec(filters, filter_options, reference, perplexity_quantile)
        scorer_options = _parse_options(option)
        if combine:
            scorer_options["combine"] = split_csv(combine)
        if teacher:
            scorer_options["teacher"] = teacher
        manifest = api.select(
            progress=RichReporter(),
            target=target,
            target_split=target_split,
            raw=raw,
            out=str(out),
            method=method,
            target_outliers=target_outliers,
            k=k,
            fraction=fraction,
            tokens=tokens,
            tokenizer=tokenizer,
            mode=mode,
            threshold=threshold,
            temperature=temperature,
            seed=seed,
            workers=workers,
            engine=engine,
            ray_address=ray_address,
            format=format,
            text_field=text_field,
            num_buckets=num_buckets,
            ngrams=ngrams,
            hashing=hashing,
            raw_sample=raw_sample,
            scorer_options=scorer_options,
            filters=filters,
            filter_options=filter_options,
            dedup=dedup,
            dedup_threshold=dedup_threshold,
            dedup_ngram=dedup_ngram,
            quota_field=quota_field,
            quotas=parse_quotas(quota),
            shard_bytes=shard_mb * 1024 * 1024,
            max_row_bytes=int(max_row_mb * 1024 * 1024),
            overwrite=overwrite,
            resume=resume,
            report=report,
            write_dropped=write_dropped,
            storage_options=parse_storage_options(storage_option),
            **_hygiene_options(
                decontaminate=decontaminate,
                eval_field=eval_field,
                ngram=decontaminate_ngram,
                mode=decontaminate_mode,
                min_left=decontaminate_min_left,
                redact=redact,
            ),
        )
    summary(manifest, out)


@app.command("filter")
def filter_cmd(
    raw: RawOpt,
    out: OutOpt,
    lang: Annotated[str | None, typer.Option(help="Languages to keep, e.g. en,de.")] = None,
    lang_min_score: LangMinScoreOpt = DEFAULT_LANG_MIN_SCORE,
    rules: Annotated[
        str | None,
        typer.Option(help="Rule sets: gopher_quality,gopher_repetition,c4,fineweb,perplexity."),
    ] = None,
    reference: ReferenceOpt = [],  # noqa: B006
    perplexity_quantile: PerplexityQuantileOpt = None,
    option: Annotated[
        list[str],
        typer.Option(
            "--option",
            "-o",
            help='Filter option KEY=VALUE (JSON value), e.g. min_doc_words=100 or c4={"min_num_sentences":3}. Repeatable.',
        ),
    ] = [],  # noqa: B006
    workers: WorkersOpt = None,
    engine: EngineOpt = default("engine"),
    ray_address: RayAddressOpt = None,
    format: FormatOpt = default("format"),
    text_field: TextFieldOpt = default("text_field"),
    write_dropped: DroppedOpt = False,
    overwrite: OverwriteOpt = False,
    resume: ResumeOpt = False,
    max_row_mb: MaxRowOpt = _MAX_ROW_MB,
    storage_option: StorageOpt = [],  # noqa: B006
    decontaminate: DecontOpt = [],  # noqa: B006
    eval_field: EvalFieldOpt = "text",
    decontaminate_ngram: DecontNgramOpt = default("decontaminate_ngram"),
    decontaminate_mode: DecontModeOpt = default("decontaminate_mode"),
    decontaminate_min_left: DecontMinLeftOpt = default("decontaminate_min_left"),
    redact: RedactOpt = None,
) -> None:
    """Keep the documents that pass language id and quality rules; write OUT."""
    from thresher import api

    with error_boundary():
        filters, filter_options = language_spec(rules, lang, lang_min_score)
        _perplexity_spec(filters, filter_options, reference, perplexity_quantile)
        if "perplexity" in filters and not reference:
            raise fail("the perplexity filter needs --reference FILES (filter has no target)")
        hygiene = _hygiene_options(
            decontaminate=decontaminate,
            eval_field=eval_field,
            ngram=decontaminate_ngram,
            mode=decontaminate_mode,
            min_left=decontaminate_min_left,
            redact=redact,
        )
        if not filters and not hygiene["decontaminate"] and not hygiene["redact"]:
            raise fail("give --lang and/or --rules (or --decontaminate, --redact)")
        filter_options.update(_parse_options(option))
        manifest = api.select(
            progress=RichReporter(),
            raw=raw,
            out=str(out),
            method="none",
            filters=filters,
            filter_options=filter_options,
            **hygiene,
            **_run_options(
                workers=workers,
                engine=engine,
                ray_address=ray_address,
                format=format,
                text_field=text_field,
                write_dropped=write_dropped,
                overwrite=overwrite,
                resume=resume,
                max_row_mb=max_row_mb,
                storage_option=storage_option,
            ),
        )
    summary(manifest, out)


@app.command("dedup")
def dedup_cmd(
    raw: RawOpt,
    out: OutOpt,
    method: Annotated[
        str, typer.Option(help="minhash (near and exact duplicates) or exact.")
    ] = "minhash",
    threshold: DedupThresholdOpt = default("dedup_threshold"),
    ngram: DedupNgramOpt = default("dedup_ngram"),
    workers: WorkersOpt = None,
    engine: EngineOpt = default("engine"),
    ray_address: RayAddressOpt = None,
    format: FormatOpt = default("format"),
    text_field: TextFieldOpt = default("text_field"),
    write_dropped: DroppedOpt = False,
    overwrite: OverwriteOpt = False,
    resume: ResumeOpt = False,
    max_row_mb: MaxRowOpt = _MAX_ROW_MB,
    storage_option: StorageOpt = [],  # noqa: B006
) -> None:
    """Drop exact and near-duplicate documents (the first of each cluster survives); write OUT."""
    from thresher import api

    with error_boundary():
        manifest = api.deduplicate(
            progress=RichReporter(),
            raw=raw,
            out=str(out),
            method=method,
            threshold=threshold,
            ngram=ngram,
            **_run_options(
                workers=workers,
                engine=engine,
                ray_address=ray_address,
                format=format,
                text_field=text_field,
                write_dropped=write_dropped,
                overwrite=overwrite,
                resume=resume,
                max_row_mb=max_row_mb,
                storage_option=storage_option,
            ),
        )
    summary(manifest, out)


@app.command("decontaminate")
def decontaminate_cmd(
    raw: RawOpt,
    out: OutOpt,
    eval: Annotated[
        list[str],
        typer.Option(
            "--eval",
            help="Eval sets (JSONL, Parquet, text: one item per line). Repeatable or comma-separated.",
        ),
    ],
    eval_field: EvalFieldOpt = "text",
    ngram: Annotated[int, typer.Option(help="Word n-gram size of the match.")] = default(
        "decontaminate_ngram"
    ),
    mode: Annotated[
        str, typer.Option(help="drop: drop a matching document; excise: cut the matches out.")
    ] = default("decontaminate_mode"),
    min_left: Annotated[
        float, typer.Option(help="excise: drop a document left with less of its words.")
    ] = default("decontaminate_min_left"),
    redact: RedactOpt = None,
    report: Annotated[bool, typer.Option(help="Write OUT/report.html at the end.")] = default(
        "report"
    ),
    workers: WorkersOpt = None,
    engine: EngineOpt = default("engine"),
    ray_address: RayAddressOpt = None,
    format: FormatOpt = default("format"),
    text_field: TextFieldOpt = default("text_field"),
    write_dropped: DroppedOpt = False,
    overwrite: OverwriteOpt = False,
    resume: ResumeOpt = False,
    max_row_mb: MaxRowOpt = _MAX_ROW_MB,
    storage_option: StorageOpt = [],  # noqa: B006
) -> None:
    """Drop (or excise) raw documents sharing word n-grams with eval sets; write OUT."""
    from thresher import api

    with error_boundary():
        hygiene = _hygiene_options(
            decontaminate=eval,
            eval_field=eval_field,
            ngram=ngram,
            mode=mode,
            min_left=min_left,
            redact=redact,
        )
        manifest = api.decontaminate(
            progress=RichReporter(),
            raw=raw,
            out=str(out),
            eval=hygiene.pop("decontaminate"),
            eval_field=hygiene.pop("eval_field"),
            ngram=hygiene.pop("decontaminate_ngram"),
            mode=hygiene.pop("decontaminate_mode"),
            min_left=hygiene.pop("decontaminate_min_left"),
            report=report,
            **hygiene,
            **_run_options(
                workers=workers,
                engine=engine,
                ray_address=ray_address,
                format=format,
                text_field=text_field,
                write_dropped=write_dropped,
                overwrite=overwrite,
                resume=resume,
                max_row_mb=max_row_mb,
                storage_option=storage_option,
            ),
        )
    summary(manifest, out)


def _perplexity_spec(
    filters: list[str], options: dict, reference: list[str], quantile: float | None
) -> None:
    """``--reference`` / ``--perplexity-quantile`` add the perplexity filter and its options."""
    if (reference or quantile is not None) and "perplexity" not in filters:
        filters.append("perplexity")
    if reference:
        options["reference"] = list(reference)
    if quantile is not None:
        options["perplexity_quantile"] = quantile


def _run_options(*, max_row_mb: float, storage_option: list[str], **options: object) -> dict:
    """The options filter and dedup share (where they run, how they read and write), as config
    fields: the row cap in bytes, the storage options parsed."""
    return {
        **options,
        "max_row_bytes": int(max_row_mb * 1024 * 1024),
        "storage_options": parse_storage_options(storage_option),
    }


from thresher.report.commands import eval as _eval_cmd  # noqa: E402
from thresher.report.commands import inspect as _inspect_cmd  # noqa: E402
from thresher.report.commands import report as _report_cmd  # noqa: E402
from thresher.runfile import run as _run_file_cmd  # noqa: E402

app.command("run")(_run_file_cmd)
app.command("report")(_report_cmd)
app.command("eval")(_eval_cmd)
app.command("inspect")(_inspect_cmd)


def main() -> None:  # pragma: no cover
    app(prog_name="thresher")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
