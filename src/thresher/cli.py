"""The ``thresher`` command: a thin typer layer over :mod:`thresher.api`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from thresher.errors import ThresherError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Select, out of a raw corpus, the documents worth training a language model on.",
)
err = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Select, out of a raw corpus, the documents worth training a language model on."""


class RichProgress:
    """Progress bars on stderr for each pass over the shards."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def track(self, it, total: int, label: str):
        with Progress(
            TextColumn(f"[bold]{label:<11}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("shards"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
            disable=not self.console.is_terminal,
        ) as bar:
            task = bar.add_task(label, total=total)
            for x in it:
                bar.advance(task)
                yield x

    def note(self, message: str) -> None:
        self.console.print(message, highlight=False, soft_wrap=True)


def _fail(msg: str) -> None:
    err.print(f"[red]error:[/red] {msg}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _validation_message(e: ValidationError) -> str:
    parts = []
    for x in e.errors():
        loc = ".".join(str(p) for p in x["loc"]) or "options"
        parts.append(f"{loc}: {x['msg']}")
    return "; ".join(parts)


def _parse_quotas(spec: str | None) -> dict[str, float] | None:
    if not spec:
        return None
    p = Path(spec)
    if p.exists():
        import json

        import yaml

        text = p.read_text()
        data = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
        return {str(k): float(v) for k, v in data.items()}
    out = {}
    for item in spec.split(","):
        if "=" not in item:
            raise ThresherError(f"--quota: expected GROUP=PROPORTION, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = float(v)
    return out


def _parse_options(items: list[str]) -> dict:
    import json

    out: dict = {}
    for item in items:
        if "=" not in item:
            raise ThresherError(f"--option: expected KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def _summary(manifest: dict, out: Path) -> None:
    c = manifest["counts"]
    m = manifest["metrics"]
    t = manifest["throughput"]
    con = Console()
    con.print(
        f"read {c['read']:,} docs: selected {c['selected']:,}, not selected {c['not_selected']:,}, "
        f"filtered {c['filtered']:,}, duplicate {c['duplicate']:,}, rejected {c['rejected']:,}"
    )
    if m.get("kl_reduction") is not None:
        con.print(
            f"KL reduction {m['kl_reduction']:.4f} (random selection of the same size: "
            f"{m['kl_reduction_random']:.4f})"
        )
    con.print(
        f"time {t['seconds']:.1f} s ({t['docs_per_s']:,} docs/s, {t['text_mb_per_s']} MB/s of text)"
    )
    con.print(f"output:   {out / 'selected'}")
    con.print(f"manifest: {out / 'manifest.json'}")
    if (out / "report.html").exists():
        con.print(f"report:   {out / 'report.html'}")


RawOpt = Annotated[
    list[str],
    typer.Option(
        "--raw",
        help="Input: files, directories or globs (.jsonl, .jsonl.gz, .jsonl.zst, .parquet). Repeatable.",
    ),
]
OutOpt = Annotated[Path, typer.Option("--out", help="Run directory to write.")]
WorkersOpt = Annotated[int | None, typer.Option(help="Worker processes (default: all cores).")]
EngineOpt = Annotated[str, typer.Option(help="local or ray.")]
FormatOpt = Annotated[str, typer.Option("--format", help="Output format: parquet or jsonl.")]
TextFieldOpt = Annotated[str, typer.Option(help="Field holding the document text.")]
RayAddressOpt = Annotated[str | None, typer.Option(help="Ray cluster address (with --engine ray).")]
OverwriteOpt = Annotated[bool, typer.Option(help="Replace a non-empty output directory.")]
ResumeOpt = Annotated[bool, typer.Option(help="Resume an interrupted run in OUT.")]
DroppedOpt = Annotated[
    bool, typer.Option(help="Also write OUT/dropped/ with the reason for each dropped document.")
]


@app.command()
def select(
    raw: Annotated[
        list[str],
        typer.Option(
            "--raw",
            help="Raw corpus: files, directories or globs (.jsonl, .jsonl.gz, .jsonl.zst, .parquet). Repeatable.",
        ),
    ],
    out: OutOpt,
    target: Annotated[
        list[str],
        typer.Option("--target", help="Target examples: files, directories or globs. Repeatable."),
    ] = [],  # noqa: B006
    method: Annotated[
        str, typer.Option(help="Scorer: dsir, bm25, zipfit, dense, classifier, hybrid.")
    ] = "dsir",
    k: Annotated[int | None, typer.Option("--k", help="Select this many documents.")] = None,
    fraction: Annotated[
        float | None, typer.Option(help="Select this fraction of the eligible documents.")
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
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed: same seed, same output.")] = 0,
    workers: WorkersOpt = None,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
    format: FormatOpt = "parquet",
    text_field: TextFieldOpt = "text",
    num_buckets: Annotated[
        int, typer.Option(help="Hashed n-gram buckets (dsir, KL metric).")
    ] = 10_000,
    ngrams: Annotated[int, typer.Option(help="Largest n-gram order of hashed features.")] = 2,
    hashing: Annotated[
        str, typer.Option(help="fast (numba) or sha256 (identical to the reference DSIR, slow).")
    ] = "fast",
    raw_sample: Annotated[
        int,
        typer.Option(
            help="Raw documents to fit the scorer on, spread over shards; 0 = a full pass (dsir)."
        ),
    ] = 100_000,
    filter: Annotated[
        list[str],
        typer.Option(
            "--filter",
            help="Filters before scoring: lang, gopher_quality, gopher_repetition, c4, fineweb. Repeatable or comma-separated.",
        ),
    ] = [],  # noqa: B006
    lang: Annotated[
        str | None,
        typer.Option(
            help="Languages to keep, e.g. en,de, or auto: the target's languages (adds the lang filter)."
        ),
    ] = None,
    lang_min_score: Annotated[float, typer.Option(help="Minimum language-id score.")] = 0.65,
    dedup: Annotated[
        str, typer.Option(help="none, exact or minhash: drop duplicates before scoring.")
    ] = "none",
    dedup_threshold: Annotated[float, typer.Option(help="MinHash Jaccard threshold.")] = 0.8,
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
    shard_mb: Annotated[int, typer.Option(help="Shard size in MB for splitting large files.")] = 64,
    overwrite: OverwriteOpt = False,
    resume: ResumeOpt = False,
    report: Annotated[bool, typer.Option(help="Write OUT/report.html at the end.")] = True,
    write_dropped: DroppedOpt = False,
) -> None:
    """Score every raw document against the target and select the best; write OUT."""
    filters, filter_options = _filter_spec(filter, lang, lang_min_score)

    def build() -> dict:
        scorer_options = _parse_options(option)
        if combine:
            scorer_options["combine"] = _csv(combine)
        if teacher:
            scorer_options["teacher"] = teacher
        return dict(
            target=target,
            raw=raw,
            out=str(out),
            method=method,
            k=k,
            fraction=fraction,
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
            quota_field=quota_field,
            quotas=_parse_quotas(quota),
            shard_bytes=shard_mb * 1024 * 1024,
            overwrite=overwrite,
            resume=resume,
            report=report,
            write_dropped=write_dropped,
        )

    _run_pipeline(build, out)


def _csv(text: str | None) -> list[str]:
    """The non-empty items of a comma-separated option value ("en, de" -> ["en", "de"])."""
    return [x.strip() for x in (text or "").split(",") if x.strip()]


def _filter_spec(
    filter: list[str], lang: str | None, lang_min_score: float
) -> tuple[list[str], dict]:
    filters = [f for spec in filter for f in _csv(spec)]
    options: dict = {}
    if lang:
        if "lang" not in filters:
            filters.insert(0, "lang")
        options["languages"] = _csv(lang)
    if "lang" in filters:
        options["min_score"] = lang_min_score
    return filters, options


def _run_pipeline(build, out: Path, call=None) -> None:
    """Build the options, run ``call`` (the API's select, filter or dedup), print the summary;
    user errors are one line."""
    from thresher import api

    try:
        manifest = (call or api.select)(progress=RichProgress(err), **build())
    except ValidationError as e:
        _fail(_validation_message(e))
    except (ThresherError, ValueError, TypeError) as e:
        _fail(str(e))
    except KeyboardInterrupt:
        err.print(
            f"interrupted; rerun with --resume to continue in {out}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    _summary(manifest, out)


def _run_options(
    workers, engine, ray_address, format, text_field, write_dropped, overwrite, resume
) -> dict:
    """The options every command shares: where it runs and how it writes."""
    return dict(
        workers=workers,
        engine=engine,
        ray_address=ray_address,
        format=format,
        text_field=text_field,
        write_dropped=write_dropped,
        overwrite=overwrite,
        resume=resume,
    )


@app.command("filter")
def filter_cmd(
    raw: RawOpt,
    out: OutOpt,
    lang: Annotated[str | None, typer.Option(help="Languages to keep, e.g. en,de.")] = None,
    lang_min_score: Annotated[float, typer.Option(help="Minimum language-id score.")] = 0.65,
    rules: Annotated[
        str | None, typer.Option(help="Rule sets: gopher_quality,gopher_repetition,c4,fineweb.")
    ] = None,
    option: Annotated[
        list[str],
        typer.Option(
            "--option",
            "-o",
            help='Filter option KEY=VALUE (JSON value), e.g. min_doc_words=100 or c4={"min_num_sentences":3}. Repeatable.',
        ),
    ] = [],  # noqa: B006
    workers: WorkersOpt = None,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
    format: FormatOpt = "parquet",
    text_field: TextFieldOpt = "text",
    write_dropped: DroppedOpt = False,
    overwrite: OverwriteOpt = False,
    resume: ResumeOpt = False,
) -> None:
    """Keep the documents that pass language id and quality rules; write OUT."""
    from thresher import api

    languages = _csv(lang) or None
    rule_list = _csv(rules)
    if not languages and not rule_list:
        _fail("give --lang and/or --rules")

    def build() -> dict:
        filter_options = _parse_options(option)
        if languages:
            filter_options.setdefault("min_score", lang_min_score)
        return dict(
            raw=raw,
            out=str(out),
            languages=languages,
            rules=rule_list,
            filter_options=filter_options,
            **_run_options(
                workers, engine, ray_address, format, text_field, write_dropped, overwrite, resume
            ),
        )

    _run_pipeline(build, out, api.filter)


@app.command("dedup")
def dedup_cmd(
    raw: RawOpt,
    out: OutOpt,
    method: Annotated[
        str, typer.Option(help="minhash (near and exact duplicates) or exact.")
    ] = "minhash",
    threshold: Annotated[float, typer.Option(help="MinHash Jaccard threshold.")] = 0.8,
    ngram: Annotated[int, typer.Option(help="Word n-gram shingle size.")] = 5,
    workers: WorkersOpt = None,
    engine: EngineOpt = "local",
    ray_address: RayAddressOpt = None,
    format: FormatOpt = "parquet",
    text_field: TextFieldOpt = "text",
    write_dropped: DroppedOpt = False,
    overwrite: OverwriteOpt = False,
    resume: ResumeOpt = False,
) -> None:
    """Drop exact and near-duplicate documents (the first of each cluster survives); write OUT."""
    from thresher import api

    def build() -> dict:
        return dict(
            raw=raw,
            out=str(out),
            method=method,
            threshold=threshold,
            ngram=ngram,
            **_run_options(
                workers, engine, ray_address, format, text_field, write_dropped, overwrite, resume
            ),
        )

    _run_pipeline(build, out, api.deduplicate)


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
