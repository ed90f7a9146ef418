"""What a person sees: progress bars, notes and warnings, the run summary, and the one place
where errors become a one-line message.

The CLI and ``thresher run`` both go through :func:`error_boundary`: thresher's own errors
(:class:`~thresher.errors.ThresherError`) and validation errors are the user's to fix and print
as one line; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import functools
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from thresher.errors import ThresherError

if TYPE_CHECKING:
    import typer
    from pydantic import ValidationError
    from rich.console import Console
    from rich.progress import Progress

T = TypeVar("T")

# rich, typer and pydantic are imported on first use: a worker process imports this module
# for its counters only (:func:`advance`), and they cost it ~50 ms of CPU to start.


@functools.cache
def _stderr() -> Console:
    """The console on stderr (``thresher.console.err``)."""
    from rich.console import Console

    return Console(stderr=True)


def __getattr__(name: str) -> Any:
    if name == "err":
        return _stderr()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


PROGRESS_SECONDS_ENV = "THRESHER_PROGRESS_SECONDS"
DEFAULT_PROGRESS_SECONDS = 15.0  # plain progress lines (stderr not a terminal): one per period


QUIET_ENV = "THRESHER_QUIET"
_QUIET = False


def set_quiet(quiet: bool) -> None:
    """``thresher --quiet``: RichReporters show no progress and no notes (warnings remain)."""
    global _QUIET
    _QUIET = quiet


def is_quiet() -> bool:
    return _QUIET or os.environ.get(QUIET_ENV, "") not in ("", "0")


def progress_period() -> float:
    """Seconds between plain progress lines: ``$THRESHER_PROGRESS_SECONDS`` or 15."""
    raw = os.environ.get(PROGRESS_SECONDS_ENV, "")
    try:
        return max(0.05, float(raw)) if raw else DEFAULT_PROGRESS_SECONDS
    except ValueError:
        return DEFAULT_PROGRESS_SECONDS


# -- counters: the code that reads input advances them, in whichever process it runs -------
class _LocalCounter:
    """Input bytes and documents read in this process (the shared one has the same interface)."""

    def __init__(self) -> None:
        self.values = [0, 0]

    def get_lock(self) -> Any:
        return nullcontext()

    def __getitem__(self, i: int) -> int:
        return self.values[i]

    def __setitem__(self, i: int, v: int) -> None:
        self.values[i] = v


_COUNTER: Any = _LocalCounter()


def set_progress_counter(counter: Any) -> None:
    """Count into ``counter`` (a ``multiprocessing.Array("q", 2)`` shared with the driver).

    The local engine hands one to its workers, so the driver sees bytes and documents read
    inside a shard (a single .gz input moves), not only finished shards.
    """
    global _COUNTER
    _COUNTER = counter if counter is not None else _LocalCounter()


def advance(nbytes: int = 0, docs: int = 0) -> None:
    """Count ``nbytes`` of input (as stored: compressed bytes of a .gz) and ``docs`` read."""
    c = _COUNTER
    with c.get_lock():
        c[0] += int(nbytes)
        c[1] += int(docs)


def progress_totals() -> tuple[int, int]:
    """Input bytes and documents counted so far (all workers of the local engine)."""
    c = _COUNTER
    return int(c[0]), int(c[1])


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Activity:
    """One piece of work being shown: a pass over shards, a phase, or a loop of steps.

    ``update`` moves it (``done`` of ``total`` ``unit``; ``info`` is shown as is, e.g. a loss).
    Bytes and documents come from the counters (:func:`advance`), read relative to the start.
    """

    def __init__(
        self, label: str, total: int | None = None, unit: str = "", nbytes: int | None = None
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.nbytes = nbytes or None  # total input bytes of a pass (None: unknown)
        self.done = 0
        self.info = ""
        self.t0 = time.perf_counter()
        self.base = progress_totals()
        self.printed = False

    def update(self, done: int | None = None, advance: int = 0, info: str | None = None) -> None:
        self.done = self.done + advance if done is None else done
        if info is not None:
            self.info = info

    def read(self) -> tuple[int, int]:
        """Bytes and documents read since this activity began."""
        b, d = progress_totals()
        return max(0, b - self.base[0]), max(0, d - self.base[1])

    def fraction(self) -> float | None:
        nbytes, _ = self.read()
        if self.nbytes and nbytes:
            return min(
                1.0, max(nbytes / self.nbytes, (self.done / self.total) if self.total else 0)
            )
        if self.total:
            return self.done / self.total
        return None

    def describe(self) -> str:
        """What is done, how fast, and how long is left: one plain line's worth."""
        elapsed = time.perf_counter() - self.t0
        nbytes, docs = self.read()
        parts = []
        if self.total is not None:
            parts.append(f"{self.done:,}/{self.total:,} {self.unit}".rstrip())
        if nbytes and self.nbytes:
            parts.append(f"{nbytes / 1e6:,.1f}/{self.nbytes / 1e6:,.1f} MB")
        elif nbytes:
            parts.append(f"{nbytes / 1e6:,.1f} MB")
        if docs:
            parts.append(f"{docs:,} docs")
        if elapsed > 0 and nbytes:
            parts.append(f"{nbytes / 1e6 / elapsed:,.1f} MB/s")
        elif elapsed > 0 and docs:
            parts.append(f"{docs / elapsed:,.0f} docs/s")
        elif elapsed > 0 and self.total and self.done:
            parts.append(f"{self.done / elapsed:,.2f} {self.unit}/s".replace(" /s", "/s"))
        if self.info:
            parts.append(self.info)
        parts.append(f"{_duration(elapsed)} elapsed")
        frac = self.fraction()
        if frac and 0 < frac < 1:
            parts.append(f"ETA {_duration(elapsed * (1 - frac) / frac)}")
        return ", ".join(parts)


class Reporter:
    """The pipeline's voice: ``track`` for passes over shards, ``activity`` for other long work,
    ``note`` and ``warn`` for lines.

    The API's default is :class:`Quiet`; the CLI passes a :class:`RichReporter`.
    """

    def track(
        self, it: Iterable[T], total: int, label: str, nbytes: int | None = None
    ) -> Iterator[T]:
        """Yield from ``it`` (``total`` shards of ``nbytes`` input bytes), showing progress."""
        yield from it

    @contextmanager
    def activity(
        self, label: str, total: int | None = None, unit: str = "", nbytes: int | None = None
    ) -> Iterator[Activity]:
        """Show a piece of long work while the block runs; ``update`` the yielded Activity."""
        yield Activity(label, total, unit, nbytes)

    def note(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass


class Quiet(Reporter):
    """Says nothing (the API without a reporter, ``--quiet``); warnings still land in the
    manifest."""


class RichReporter(Reporter):
    """Progress on stderr: Rich bars on a terminal, and plain periodic lines otherwise.

    Plain lines (``thresher: score: 3/10 shards, 120.5/850.0 MB, 45,000 docs, 12.3 MB/s,
    40 s elapsed, ETA 3m10s``) come every :func:`progress_period` seconds for the innermost
    running activity, so a cluster log is never silent for long; a run shorter than one
    period prints none. Notes and warnings are lines either way.
    """

    def __init__(
        self, console: Console | None = None, period: float | None = None, live: bool | None = None
    ) -> None:
        self.console = console or _stderr()
        self.period = period if period is not None else progress_period()
        self.live = self.console.is_terminal if live is None else live
        self.quiet = is_quiet()
        self._stack: list[tuple[Activity, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._bars: Progress | None = None

    # -- activities --------------------------------------------------------------------
    def track(
        self, it: Iterable[T], total: int, label: str, nbytes: int | None = None
    ) -> Iterator[T]:
        with self.activity(label, total, "shards", nbytes) as act:
            for x in it:
                act.update(advance=1)
                self._refresh()
                yield x

    @contextmanager
    def activity(
        self, label: str, total: int | None = None, unit: str = "", nbytes: int | None = None
    ) -> Iterator[Activity]:
        act = Activity(label, total, unit, nbytes)
        if self.quiet:
            yield act
            return
        self._begin(act)
        try:
            yield act
        finally:
            self._end(act)

    def _begin(self, act: Activity) -> None:
        with self._lock:
            task = None
            if self.live:
                if self._bars is None:
                    from rich.progress import BarColumn, Progress, TextColumn

                    self._bars = Progress(
                        TextColumn("[bold]{task.description:<11}"),
                        BarColumn(),
                        TextColumn("{task.fields[info]}"),
                        console=self.console,
                        transient=False,
                    )
                    self._bars.start()
                task = self._bars.add_task(act.label, total=None, info="")
            self._stack.append((act, task))
            if self._ticker is None:
                self._stop.clear()
                self._ticker = threading.Thread(
                    target=self._tick, name="thresher-progress", daemon=True
                )
                self._ticker.start()

    def _end(self, act: Activity) -> None:
        with self._lock:
            entry = next((e for e in self._stack if e[0] is act), None)
            if entry is None:
                return
            self._stack.remove(entry)
            if self._bars is not None and entry[1] is not None:
                if act.unit == "shards":  # a pass over the shards stays on screen, full
                    self._show(act, entry[1], final=True)
                else:
                    self._bars.remove_task(entry[1])
            elif act.printed:  # plain: close what was reported
                line = f"{act.label}: done, {act.describe()}"
                self._print_plain(line)
            if not self._stack:
                self._stop.set()
                ticker, self._ticker = self._ticker, None
                bars, self._bars = self._bars, None
            else:
                ticker = bars = None
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join(timeout=2)
        if bars is not None:
            bars.stop()

    def _show(self, act: Activity, task: Any, final: bool = False) -> None:
        assert self._bars is not None
        frac = act.fraction()
        if final and act.total:
            frac = 1.0
        total = 1000 if frac is not None else None
        self._bars.update(
            task,
            total=total,
            completed=int(1000 * frac) if frac is not None else 0,
            info=act.describe() if not final else act.describe().split(", ETA")[0],
        )

    def _refresh(self) -> None:
        if self.live:
            with self._lock:
                for act, task in self._stack:
                    if task is not None and self._bars is not None:
                        self._show(act, task)

    def _print_plain(self, line: str) -> None:
        self.console.print(f"thresher: {line}", highlight=False, soft_wrap=True, markup=False)

    def _tick(self) -> None:
        step = 0.25 if self.live else self.period
        while not self._stop.wait(step):
            if self.live:
                self._refresh()
                continue
            with self._lock:
                if not self._stack:
                    continue
                act = self._stack[-1][0]
                act.printed = True
                self._print_plain(f"{act.label}: {act.describe()}")

    # -- lines -------------------------------------------------------------------------
    def note(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message, highlight=False, soft_wrap=True, markup=False)

    def warn(self, message: str) -> None:
        self.console.print("[yellow]warning:[/yellow] ", end="", highlight=False)
        self.console.print(message, highlight=False, soft_wrap=True, markup=False)


def fail(message: str, code: int = EXIT_USER_ERROR) -> typer.Exit:
    """Print ``error: message`` on one line; return the Exit to raise."""
    import typer

    err = _stderr()
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


def _validation_errors() -> tuple[type[Exception], ...]:
    """pydantic's ValidationError, once pydantic is imported (none can be raised before)."""
    pydantic = sys.modules.get("pydantic")
    return (pydantic.ValidationError,) if pydantic is not None else ()


@contextmanager
def error_boundary() -> Iterator[None]:
    """Turn the user's errors into one line and exit 2; Ctrl-C into a hint to resume."""
    try:
        yield
    except _validation_errors() as e:
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
    from rich.console import Console

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

    def track(
        self, it: Iterable[T], total: int, label: str, nbytes: int | None = None
    ) -> Iterator[T]:
        yield from self.inner.track(it, total, label)

    @contextmanager
    def activity(
        self, label: str, total: int | None = None, unit: str = "", nbytes: int | None = None
    ) -> Iterator[Activity]:
        inner = getattr(self.inner, "activity", None)
        if callable(inner):
            with inner(label, total, unit, nbytes) as act:
                yield act
        else:
            yield Activity(label, total, unit, nbytes)

    def note(self, message: str) -> None:
        if callable(getattr(self.inner, "note", None)):
            self.inner.note(message)

    def warn(self, message: str) -> None:
        if callable(getattr(self.inner, "warn", None)):
            self.inner.warn(message)
