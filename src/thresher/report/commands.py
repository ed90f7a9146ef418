"""CLI commands ``report``, ``eval`` and ``inspect`` as plain typer-style functions.

cli.py registers them with ``app.command()(report)`` etc.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer
from rich.console import Console

from thresher.console import RichReporter, err, error_boundary


def report(
    run_dir: Annotated[
        str, typer.Argument(help="Run directory written by `thresher select` (a path or a URL).")
    ],
) -> None:
    """Write RUN_DIR/report.html: funnel, scores, composition, examples, n-grams, proxy eval."""
    from thresher.report import write_report

    with error_boundary():
        path = write_report(run_dir)
    Console().print(f"report: {path}")


def eval(  # noqa: A001 - the command is called eval
    run_dir: Annotated[
        str, typer.Argument(help="Run directory written by `thresher select` (a path or a URL).")
    ],
    heldout: Annotated[
        list[str],
        typer.Option(
            "--heldout",
            help="Held-out target documents (files, dirs or globs; not the --target used to select). Repeatable.",
        ),
    ],
    model: Annotated[
        str, typer.Option(help="transformer (torch) or ngram (numpy; the fallback without torch).")
    ] = "transformer",
    steps: Annotated[int, typer.Option(help="Transformer training steps.")] = 1500,
    eval_every: Annotated[int, typer.Option(help="Evaluate held-out loss every N steps.")] = 100,
    d_model: Annotated[int, typer.Option(help="Transformer width.")] = 128,
    layers: Annotated[int, typer.Option(help="Transformer layers.")] = 2,
    heads: Annotated[int, typer.Option(help="Attention heads.")] = 4,
    context: Annotated[int, typer.Option(help="Context length in bytes.")] = 128,
    batch_size: Annotated[int, typer.Option(help="Sequences per step.")] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 3e-3,
    order: Annotated[int, typer.Option(help="n-gram order (ngram model, 1-7).")] = 5,
    threads: Annotated[int | None, typer.Option(help="torch threads (default: torch's).")] = None,
    device: Annotated[
        str | None, typer.Option(help="cpu or cuda (default: cuda when available).")
    ] = None,
    max_tokens: Annotated[
        int, typer.Option(help="Cap on training bytes taken from the selection.")
    ] = 8_000_000,
    seed: Annotated[int, typer.Option(help="Seed for the random baseline and training.")] = 0,
    text_field: Annotated[str, typer.Option(help="Text field of the held-out files.")] = "text",
    no_report: Annotated[
        bool, typer.Option("--no-report", help="Do not rewrite report.html.")
    ] = False,
) -> None:
    """Train a small LM on the selection and on random data of equal size; compare held-out target loss."""
    from thresher.evaluate import TransformerConfig, evaluate, has_torch
    from thresher.io.readers import read_texts
    from thresher.rundir import RunDir

    with error_boundary():
        texts, _ = read_texts(heldout, text_field)
        cfg = TransformerConfig(
            d_model=d_model,
            n_layers=layers,
            n_heads=heads,
            context=context,
            batch_size=batch_size,
            steps=steps,
            lr=lr,
            eval_every=eval_every,
            threads=threads,
            device=device,
        )
        if model == "transformer" and not has_torch():
            err.print("torch is not installed: using the n-gram model")
        res = evaluate(
            run_dir,
            texts.to_pylist(),
            model=model,
            config=dataclasses.asdict(cfg),
            order=order,
            seed=seed,
            max_tokens=max_tokens,
            progress=RichReporter(),
        )
        if not no_report:
            from thresher.report import write_report

            write_report(run_dir)
    con = Console()
    con.print(f"model: {res['description']}")
    for name in ("selection", "random"):
        r = res["results"][name]
        con.print(
            f"{name:<10} {r['docs']:>7,} docs {r['tokens']:>11,} bytes   held-out CE {r['ce']:.4f} nats/byte"
            f"   perplexity {r['ppl']:.3f}   ({r['bits_per_byte']:.3f} bits/byte)"
        )
    verdict = "lower" if res["selection_better"] else "NOT lower"
    con.print(
        f"selection CE is {verdict} than random by {res['delta_ce']:.4f} nats/byte ({res['seconds']:.1f} s)"
    )
    con.print(f"results: {RunDir(run_dir).eval}")


def inspect(
    run_dir: Annotated[
        str, typer.Argument(help="Run directory written by `thresher select` (a path or a URL).")
    ],
    status: Annotated[
        list[str],
        typer.Option(
            "--status", help="selected, not_selected, filtered, duplicate or rejected. Repeatable."
        ),
    ] = [],  # noqa: B006
    min_score: Annotated[float | None, typer.Option(help="Lowest score shown.")] = None,
    max_score: Annotated[float | None, typer.Option(help="Highest score shown.")] = None,
    where: Annotated[
        list[str],
        typer.Option(
            "--where",
            help="FIELD=VALUE on a decision-table column (source, rule, status, cluster) or a field of the raw records (lang, domain, ...). Repeatable.",
        ),
    ] = [],  # noqa: B006
    sort: Annotated[str, typer.Option(help="score (highest first), -score or input.")] = "score",
    page: Annotated[int, typer.Option(help="Page number (from 1).")] = 1,
    page_size: Annotated[int, typer.Option(help="Documents per page.")] = 20,
    chars: Annotated[int, typer.Option(help="Characters of text shown per document.")] = 300,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the page as JSON lines instead of a table.")
    ] = False,
) -> None:
    """Page through selected and dropped documents with their scores and reasons."""
    from thresher.inspect import parse_where, query, render

    with error_boundary():
        statuses = [s.strip() for spec in status for s in spec.split(",") if s.strip()]
        pg = query(
            run_dir,
            statuses,
            min_score,
            max_score,
            parse_where(where),
            page,
            page_size,
            sort,
            chars,
        )
    if json_out:
        import orjson

        for it in pg.items:
            typer.echo(orjson.dumps(it).decode())
        return
    render(pg, Console())
