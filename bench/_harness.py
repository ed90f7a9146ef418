"""Shared measuring harness for the bench scripts (stdlib only).

Why: a figure measured in a process that already ran something else (warm caches, JIT code,
page cache primed by the previous configuration) is not the figure a user sees, and one run on
a shared machine is noise. So every measured configuration runs in its own fresh process,
configurations are interleaved (A, B, A, B, ...) so that both see the same background load,
each is repeated (median, with min and max), and the load average, the machine and the git
revision are printed with the figures.

A configuration is a command line (:class:`Config`) or a ``python -c`` snippet
(:func:`python_config`). Per run the harness records wall time, CPU time (user + sys of the
whole process tree, from ``os.wait4``), the peak RSS of the largest process (``ru_maxrss``) and
the peak PSS of the whole process tree (sampled from ``/proc``; PSS counts shared pages once,
so forked workers are not double-counted). A child may report its own figures (for instance
the time of an inner loop, excluding start-up) with :func:`emit`; they land in
``Run.metrics``.

Typical use::

    from _harness import Config, run_interleaved, report_header, summary_table

    res = run_interleaved([Config("a", [...]), Config("b", [...])], repeats=3)
    print(report_header(res))
    print(summary_table(res, mb=1000.0))
    print(ratio_table(res, [("b", "a")]))
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

METRICS_PREFIX = "@@bench-metrics "


# ----------------------------------------------------------------------------- child side
def emit(**metrics: float | int | str) -> None:
    """Report figures from inside a measured process (one line on stdout, parsed by the parent)."""
    print(METRICS_PREFIX + json.dumps(metrics), flush=True)


# ----------------------------------------------------------------------------- configurations
@dataclass
class Config:
    """One measured configuration: a command line run in a fresh process per repeat.

    ``before`` runs (untimed, in the parent) before each repeat, e.g. to remove an output
    directory; ``after`` gets the finished :class:`Run` (untimed), e.g. to hash the output or to
    raise if it is wrong.
    """

    name: str
    argv: list[str]
    env: dict[str, str] | None = None  # merged over os.environ
    cwd: str | None = None
    before: Callable[[], None] | None = None
    after: Callable[[Run], None] | None = None
    info: dict = field(default_factory=dict)  # free-form labels (rev, workers, ...) for tables

    def command(self) -> str:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in (self.env or {}).items())
        return (env + " " if env else "") + shlex.join(self.argv)


def python_config(
    name: str,
    code: str,
    *,
    python: str = sys.executable,
    env: dict[str, str] | None = None,
    **kw,
) -> Config:
    """A configuration that runs ``python -c CODE``."""
    return Config(name=name, argv=[python, "-c", code], env=env, **kw)


# ----------------------------------------------------------------------------- one run
@dataclass
class Run:
    config: str
    repeat: int
    wall: float
    user: float
    sys: float
    maxrss_mb: float  # largest single process (ru_maxrss)
    tree_pss_mb: float  # whole process tree, sampled; 0.0 if /proc is not readable
    returncode: int
    load1: float  # 1-min load average when the run started
    stdout: str
    stderr: str
    metrics: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # filled by Config.after, if it wants

    @property
    def cpu(self) -> float:
        return self.user + self.sys

    def value(self, key: str) -> float:
        """``wall``, ``cpu``, ``user``, ``sys``, ``maxrss_mb``, ``tree_pss_mb`` or ``metrics.NAME``."""
        if key.startswith("metrics."):
            return float(self.metrics[key[len("metrics.") :]])
        if key.startswith("extra."):
            return float(self.extra[key[len("extra.") :]])
        return float(getattr(self, key))


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: ppid is 2 fields after the last ')'
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def _proc_mem_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class _TreeSampler(threading.Thread):
    """Peak PSS of a process and its descendants, sampled every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        if not os.path.isdir("/proc"):
            return
        while not self._stop_event.is_set():
            kids = _children_map()
            todo, total = list(kids.get(self.pid, ())), 0  # the launcher's descendants
            while todo:
                p = todo.pop()
                total += _proc_mem_kb(p)
                todo.extend(kids.get(p, ()))
            self.peak_kb = max(self.peak_kb, total)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def run_once(cfg: Config, repeat: int = 0, *, sample_memory: bool = True) -> Run:
    """Run ``cfg`` once in a fresh process; wall, CPU (tree) and memory.

    The command runs under a small launcher (this file run as a script): Linux carries a
    parent's peak RSS over fork + exec into the child's ``ru_maxrss``, so a child forked
    straight from a bench script that holds a corpus in memory would report the script's size.
    The launcher is a fresh, small interpreter; it times the command and reads its rusage.
    """
    if cfg.before:
        cfg.before()
    env = {**os.environ, **(cfg.env or {})}
    load1 = os.getloadavg()[0]
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile(suffix=".json") as usage,
    ):
        argv = [sys.executable, "-S", os.path.abspath(__file__), usage.name, *cfg.argv]
        proc = subprocess.Popen(argv, env=env, cwd=cfg.cwd, stdout=out, stderr=err)
        sampler = _TreeSampler(proc.pid) if sample_memory else None
        if sampler:
            sampler.start()
        proc.wait()
        if sampler:
            sampler.stop()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        u = json.loads(Path(usage.name).read_text() or "null") or {}
    if proc.returncode != 0 or not u:
        raise RuntimeError(
            f"{cfg.name}: exit code {u.get('returncode', proc.returncode)}\n"
            f"$ {cfg.command()}\n{stderr[-3000:]}"
        )
    wall = u["wall"]
    metrics: dict = {}
    for line in stdout.splitlines():
        if line.startswith(METRICS_PREFIX):
            metrics.update(json.loads(line[len(METRICS_PREFIX) :]))
    run = Run(
        config=cfg.name,
        repeat=repeat,
        wall=wall,
        user=u["user"],
        sys=u["sys"],
        maxrss_mb=u["maxrss_kb"] / 1024.0,
        tree_pss_mb=(sampler.peak_kb / 1024.0) if sampler else 0.0,
        returncode=u["returncode"],
        load1=load1,
        stdout=stdout,
        stderr=stderr,
        metrics=metrics,
    )
    if cfg.after:
        cfg.after(run)
    return run


# ----------------------------------------------------------------------------- many runs
@dataclass
class Stat:
    median: float
    min: float
    max: float
    n: int

    def fmt(self, spec: str = ".1f", unit: str = "") -> str:
        if self.n == 1:
            return f"{self.median:{spec}}{unit}"
        return f"{self.median:{spec}}{unit} ({self.min:{spec}}–{self.max:{spec}})"


def stat(values: Sequence[float]) -> Stat:
    return Stat(statistics.median(values), min(values), max(values), len(values))


@dataclass
class Results:
    configs: list[Config]
    runs: dict[str, list[Run]]
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]
    started: str
    seconds: float

    def stat(self, name: str, key: str = "wall") -> Stat:
        return stat([r.value(key) for r in self.runs[name]])

    def ratio(self, num: str, den: str, key: str = "wall") -> Stat:
        """median(num) / median(den), with min and max of the per-repeat ratios."""
        med = self.stat(num, key).median / self.stat(den, key).median
        pairs = [
            a.value(key) / b.value(key)
            for a, b in zip(self.runs[num], self.runs[den], strict=False)
            if b.value(key) > 0
        ]
        return Stat(med, min(pairs), max(pairs), len(pairs))

    def config(self, name: str) -> Config:
        return next(c for c in self.configs if c.name == name)


def run_interleaved(
    configs: Sequence[Config],
    repeats: int,
    *,
    log: Callable[[str], None] | None = None,
    sample_memory: bool = True,
) -> Results:
    """Each repeat runs every configuration once, in order (A, B, A, B, ...)."""
    if log is None:

        def log(msg: str) -> None:
            print(msg, file=sys.stderr, flush=True)

    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"configuration names must be unique: {names}")
    runs: dict[str, list[Run]] = {c.name: [] for c in configs}
    load_start = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    t0 = time.perf_counter()
    for rep in range(repeats):
        for cfg in configs:
            r = run_once(cfg, rep, sample_memory=sample_memory)
            runs[cfg.name].append(r)
            m = " ".join(f"{k}={v}" for k, v in r.metrics.items())
            log(
                f"[{rep + 1}/{repeats}] {cfg.name}: wall {r.wall:.2f} s, cpu {r.cpu:.2f} s, "
                f"rss {r.maxrss_mb:.0f} MB, tree pss {r.tree_pss_mb:.0f} MB, "
                f"load {r.load1:.2f} {m}".rstrip()
            )
    return Results(
        configs=list(configs),
        runs=runs,
        load_start=load_start,
        load_end=os.getloadavg(),
        started=started,
        seconds=time.perf_counter() - t0,
    )


# ----------------------------------------------------------------------------- context
def machine() -> dict[str, str]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "cores": f"{os.cpu_count()} ({usable} usable)",
        "cpu": model,
        "memory": mem,
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def git_rev(path: str | Path | None = None) -> str:
    """Short commit of the checkout at ``path`` (default: this repository), ``+dirty`` if so."""
    where = str(path or Path(__file__).resolve().parent.parent)
    try:
        rev = subprocess.run(
            ["git", "-C", where, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", where, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")


def _load(t: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in t)


def report_header(res: Results, *, rev: str | None = None) -> str:
    """Markdown lines: machine, revision, method, load average at start and end."""
    m = machine()
    reps = max(len(v) for v in res.runs.values())
    return "\n".join(
        [
            f"- machine: {m['cores']} cores, {m['cpu']}, {m['memory']}, Python {m['python']}",
            f"- revision: {rev or git_rev()}; started {res.started}, took {res.seconds:.0f} s",
            f"- method: every configuration in its own fresh process, interleaved "
            f"({', '.join(c.name for c in res.configs[:3])}{', ...' if len(res.configs) > 3 else ''} "
            f"then again), {reps} repeat(s); figures are median (min–max); CPU is user+sys of "
            f"the process tree; RSS the largest process; PSS the whole tree (sampled every 0.25 s)",
            f"- load average (1 / 5 / 15 min): {_load(res.load_start)} at start, "
            f"{_load(res.load_end)} at end (2 cores shared with other jobs: a load above 2 means "
            f"waiting for a core)",
        ]
    )


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """A markdown table; ``align`` is one letter per column (l/r/c), default left."""
    align = align.ljust(len(headers), "l")[: len(headers)]
    sep = {"l": "---", "r": "---:", "c": ":---:"}
    lines = [
        "| " + " | ".join(str(h) for h in headers) + " |",
        "|" + "|".join(sep[a] for a in align) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_table(res: Results, *, mb: float | None = None, inner: str | None = None) -> str:
    """One row per configuration: wall, CPU, RSS, tree PSS (and MB/s, and an inner metric)."""
    headers = ["configuration", "wall s", "CPU s", "peak RSS MB", "tree PSS MB"]
    if mb:
        headers.append("MB/s")
    if inner:
        headers.append(inner)
    rows = []
    for cfg in res.configs:
        n = cfg.name
        row = [
            n,
            res.stat(n, "wall").fmt(".2f"),
            res.stat(n, "cpu").fmt(".2f"),
            res.stat(n, "maxrss_mb").fmt(".0f"),
            res.stat(n, "tree_pss_mb").fmt(".0f"),
        ]
        if mb:
            row.append(stat([mb / r.wall for r in res.runs[n]]).fmt(".1f"))
        if inner:
            row.append(res.stat(n, inner).fmt(".3f"))
        rows.append(row)
    return md_table(headers, rows, align="lrrrrrr")


def ratio_table(res: Results, pairs: Sequence[tuple[str, str]], key: str = "wall") -> str:
    """``num / den`` of ``key`` for each pair: ratio of medians (min–max of per-repeat ratios)."""
    rows = [[f"{a} / {b}", res.ratio(a, b, key).fmt(".2f", "x")] for a, b in pairs]
    return md_table(["ratio", f"{key} (median; min–max per repeat)"], rows, align="lr")


def commands_block(res: Results) -> str:
    """The exact command line of every configuration, for the results file."""
    return "\n".join(["```"] + [f"# {c.name}\n{c.command()}" for c in res.configs] + ["```"])


# ------------------------------------------------------------- loops over a corpus's head
def corpus_loop_args(doc: str, mb: int = 256):
    """``--corpus``, ``--mb``, ``--repeats``: the arguments of a bench whose children each
    time a loop over the first MB of a JSONL corpus and report ``loop_mb_s``."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--corpus", type=Path, required=True, help="a JSONL file with a text field")
    ap.add_argument("--mb", type=int, default=mb, help="MB read from its start")
    ap.add_argument("--repeats", type=int, default=3)
    return ap.parse_args()


def corpus_loop_run(child: str, names: Sequence[str], args, root: Path, **fmt: object) -> Results:
    """Each name's child (``child`` formatted with the source and bench folders, the corpus,
    its byte count, the name and ``fmt``) in its own fresh process, interleaved."""
    configs = [
        python_config(
            name,
            child.format(
                src=str(root / "src"),
                bench=str(root / "bench"),
                corpus=str(args.corpus),
                nbytes=args.mb * 1_000_000,
                name=name,
                **fmt,
            ),
        )
        for name in names
    ]
    return run_interleaved(configs, repeats=args.repeats)


def corpus_loop_report(res: Results, title: str, pairs: Sequence[tuple[str, str]]) -> str:
    """The title, the run's header, every configuration's loop MB/s and the pairs' ratios."""
    key = "metrics.loop_mb_s"
    return "\n\n".join(
        [
            f"# {title}",
            report_header(res),
            summary_table(res, inner=key),
            ratio_table(res, pairs, key=key),  # MB/s over MB/s: the speed-up
        ]
    )


def _launch(argv: list[str]) -> int:
    """``python _harness.py USAGE_JSON CMD...``: run CMD, write its wall time and rusage."""
    usage, cmd = argv[0], argv[1:]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    # wait4: rusage of the child including the descendants it waited for
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    with open(usage, "w") as fh:
        json.dump(
            {
                "wall": wall,
                "user": ru.ru_utime,
                "sys": ru.ru_stime,
                "maxrss_kb": ru.ru_maxrss,  # KiB on Linux
                "returncode": code,
            },
            fh,
        )
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(_launch(sys.argv[1:]))
