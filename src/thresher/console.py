"""What a person sees: progress bars, notes and warnings, the run summary, and the one place
where errors become a one-line message.

The CLI and ``thresher run`` both go through :func:`error_boundary`: thresher's own errors
(:class:`~thresher.errors.ThresherError`) and validation errors are the user's to fix and print
as one line; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from thresher.errors import ThresherError

T = TypeVar("T")

err = Console(stderr=True)

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class Reporter:
    """The pipeline's voice: ``track`` for passes over shards, ``note`` and ``warn`` for lines.

    The API's default is :class:`Quiet`; the CLI passes a :class:`RichReporter`.
    """

    def track(self, it: Iterable[T], total: int, label: str) -> Iterator[T]:
        yield from it

    def note(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass


class Quiet(Reporter):
    """Says nothing (the API without a reporter); warnings still land in the manifest."""


class RichReporter(Reporter):
    """Progress bars on stderr for each pass over the shards; notes and warnings as lines."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or err

    def track(self, it: Iterable[T], total: int, label: str) -> Iterator[T]:
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
        self.console.print(message, highlight=False, soft_wrap=True, markup=False)

    def warn(self, message: str) -> None:
        self.console.print("[yellow]warning:[/yellow] ", end="", highlight=False)
        self.console.print(message, highlight=False, soft_wrap=True, markup=False)


def fail(message: str, code: int = EXIT_USER_ERROR) -> typer.Exit:
    """Print ``error: message`` on one line; return the Exit to raise."""
    err.print("[red]error:[/red] ", end="", highlight=False)
    err.print(" ".join(message.split("\n")), highlight=False, soft_wrap=True, markup=False)
    return typer.Exit(code)


def validation_message(e: ValidationError) -> str:
    """pydantic's errors as ``field: message`` pairs on one line."""
    parts = []
    for x in e.errors():
        loc = ".".join(str(p) for p in x["loc"]) or "options"
        msg = str(x["msg"]).removeprefix("Value error, ")
        got = x.get("input")
        shown = f" (got {got!r})" if x["loc"] and not isinstance(got, dict | list) else ""
        parts.append(f"{loc}: {msg}{shown}")
    return "; ".join(parts)


@contextmanager
def error_boundary() -> Iterator[None]:
    """Turn the user's errors into one line and exit 2; Ctrl-C into a hint to resume."""
    try:
        yield
    except ValidationError as e:
        raise fail(validation_message(e)) from None
    except ThresherError as e:
        raise fail(str(e)) from None
    except KeyboardInterrupt:
        raise fail("interrupted; rerun with --resume", EXIT_INTERRUPTED) from None
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise fail(f"{e.filename or 'output'}: no space left on device") from None
        raise


def summary(manifest: dict, out: Path | str) -> None:
    """Counts, KL reduction, time and where the output is, on stdout."""
    from thresher.io.fs import out_path

    out = out_path(out)  # a local Path, or a RemotePath for s3://, gs://, ...
    c = manifest["counts"]
    m = manifest["metrics"]
    t = manifest["throughput"]
    con = Console(highlight=False)
    con.print(
        f"read {c['read']:,} docs: selected {c['selected']:,}, not selected {c['not_selected']:,}, "
        f"filtered {c['filtered']:,}, duplicate {c['duplicate']:,}, rejected {c['rejected']:,}"
    )
    tok = manifest.get("tokens") or {}
    if "tokens_read" in c:
        how = "estimated" if tok.get("counter") == "estimate" else f"by {tok.get('tokenizer')}"
        line = f"tokens ({how}): read {c['tokens_read']:,}, selected {c['tokens_selected']:,}"
        if tok.get("budget"):
            line += f" of a budget of {tok['budget']:,} ({tok['fill']:.1%})"
        con.print(line)
    if m.get("kl_reduction") is not None:
        same = "number of tokens" if tok.get("budget") else "size"
        con.print(
            f"KL reduction {m['kl_reduction']:.4f} (random selection of the same {same}: "
            f"{m['kl_reduction_random']:.4f})"
        )
    con.print(
        f"time {t['seconds']:.1f} s ({t['docs_per_s']:,} docs/s, {t['text_mb_per_s']} MB/s of text)"
    )
    con.print(f"output:   {out / 'selected'}")
    con.print(f"manifest: {out / 'manifest.json'}")
    if (out / "report.html").exists():
        con.print(f"report:   {out / 'report.html'}")
    n_warn = len(manifest.get("warnings") or [])
    if n_warn:
        con.print(f"warnings: {n_warn} (printed above; also in the manifest)")


def as_reporter(progress: Any | None) -> Reporter:
    """The API accepts any object with ``track`` (and optionally ``note``/``warn``)."""
    if progress is None:
        return Quiet()
    if isinstance(progress, Reporter):
        return progress
    return _Adapter(progress)


class _Adapter(Reporter):
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def track(self, it: Iterable[T], total: int, label: str) -> Iterator[T]:
        yield from self.inner.track(it, total, label)

    def note(self, message: str) -> None:
        if callable(getattr(self.inner, "note", None)):
            self.inner.note(message)

    def warn(self, message: str) -> None:
        if callable(getattr(self.inner, "warn", None)):
            self.inner.warn(message)
