"""One filesystem layer: every open, stat, listing and glob of input goes through here.

Local paths stay plain strings exactly as the user typed them: they are written into the
run's manifest and decision tables, so the output does not depend on how a path was
resolved. A URL with a protocol (``s3://``, ``gs://``, ``hf://``, ``https://``,
``memory://``) is served by the fsspec filesystem registered for that protocol, so remote
storage plugs in here and the formats never see the difference.

Directory walks and recursive globs follow symbolic links to directories but enter each
real directory once per pattern position: a link loop (``ln -s .. d/up``) cannot make a
file appear twice or a walk run forever, and each real file is listed once.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

_GLOB_MAGIC = re.compile(r"[*?\[]")
_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


def has_magic(pattern: str) -> bool:
    """Whether a path is a glob pattern (``*``, ``?`` or ``[``)."""
    return _GLOB_MAGIC.search(pattern) is not None


@dataclass(frozen=True)
class FileStat:
    size: int
    mtime_ns: int
    key: Any  # identity of the real file: (device, inode) locally, the URL remotely


class FileSystem(Protocol):
    """What the input layer needs from a filesystem (local disk or an fsspec store)."""

    def open(self, path: str) -> BinaryIO: ...
    def stat(self, path: str) -> FileStat: ...
    def isdir(self, path: str) -> bool: ...
    def exists(self, path: str) -> bool: ...
    def walk(self, root: str) -> list[str]: ...
    def glob(self, pattern: str) -> list[str]: ...
    def arrow_source(self, path: str) -> Any: ...


class LocalFS:
    """The local disk, with paths kept as given."""

    protocol = "file"

    def open(self, path: str) -> BinaryIO:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it

    def stat(self, path: str) -> FileStat:
        st = os.stat(path)
        return FileStat(st.st_size, st.st_mtime_ns, (st.st_dev, st.st_ino))

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def arrow_source(self, path: str) -> Any:
        return path  # pyarrow's native local file: no Python in the read loop

    # -- listing ----------------------------------------------------------------------
    def walk(self, root: str) -> list[str]:
        """Every file below ``root`` (hidden ones too), sorted; each real directory entered once.

        Paths are spelled as ``pathlib`` spells them (``str(Path(root) / name)``).
        """
        out: list[str] = []
        seen: set[tuple[int, int]] = set()

        def visit(d: Path) -> None:
            try:
                st = os.stat(d)
            except OSError:
                return
            if (st.st_dev, st.st_ino) in seen:
                return
            seen.add((st.st_dev, st.st_ino))
            for entry in _scan(str(d)):
                p = d / entry.name
                if _is_dir(entry):
                    visit(p)
                else:
                    out.append(str(p))

        visit(Path(root))
        return sorted(out)

    def glob(self, pattern: str) -> list[str]:
        """Paths matching ``pattern`` (``**`` spans directories), sorted, as ``glob.glob`` spells them.

        Like ``glob.glob(recursive=True)``: wildcards skip hidden names unless the pattern
        part starts with a dot. Unlike it, a symlink loop is entered once, not ~40 times.
        """
        parts = pattern.split(os.sep)
        i = 0
        while i < len(parts) and not has_magic(parts[i]):
            i += 1
        if i == len(parts):
            return [pattern] if os.path.lexists(pattern) else []
        base = os.sep.join(parts[:i])
        if i == 1 and parts[0] == "":
            base = os.sep
        seen: set[tuple[int, int, int]] = set()
        found = set(self._match(base, parts[i:], seen))
        return sorted(found)

    def _match(self, dirname: str, parts: list[str], seen: set, top: bool = True) -> Iterator[str]:
        part, rest = parts[0], parts[1:]
        if part == "**":
            try:
                st = os.stat(dirname or os.curdir)
            except OSError:
                return
            key = (st.st_dev, st.st_ino, len(parts))
            if key in seen:
                return
            seen.add(key)
            if rest:
                yield from self._match(dirname, rest, seen)  # zero directories
            elif top and dirname:
                yield os.path.join(dirname, "")  # glob.glob lists "d/" for "d/**"
            for entry in _scan(dirname or os.curdir):
                if entry.name.startswith("."):
                    continue
                path = os.path.join(dirname, entry.name)
                is_dir = _is_dir(entry)
                if not rest:
                    yield path
                if is_dir:
                    yield from self._match(path, parts, seen, top=False)
            return
        if not has_magic(part):
            path = os.path.join(dirname, part)
            if rest:
                if os.path.isdir(path):
                    yield from self._match(path, rest, seen)
            elif os.path.lexists(path):
                yield path
            return
        for entry in _scan(dirname or os.curdir):
            name = entry.name
            if name.startswith(".") and not part.startswith("."):
                continue
            if not fnmatch.fnmatchcase(name, part):
                continue
            path = os.path.join(dirname, name)
            if not rest:
                yield path
            elif _is_dir(entry):
                yield from self._match(path, rest, seen)


def _scan(dirname: str) -> list[os.DirEntry]:
    try:
        with os.scandir(dirname) as it:
            return sorted(it, key=lambda e: e.name)
    except (PermissionError, FileNotFoundError, NotADirectoryError):
        return []


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows symlinks; loops are cut by the seen sets
    except OSError:
        return False


class FsspecFS:
    """A remote (or in-memory) store through fsspec; paths are full URLs."""

    def __init__(self, protocol: str) -> None:
        import fsspec

        self.protocol = protocol
        self.fs = fsspec.filesystem(protocol)

    def _url(self, path: str) -> str:
        return self.fs.unstrip_protocol(path)

    def open(self, path: str) -> BinaryIO:
        return self.fs.open(path, "rb")

    def stat(self, path: str) -> FileStat:
        info = self.fs.info(path)
        return FileStat(int(info.get("size") or 0), _mtime_ns(info), self._url(path))

    def isdir(self, path: str) -> bool:
        return self.fs.isdir(path)

    def exists(self, path: str) -> bool:
        return self.fs.exists(path)

    def walk(self, root: str) -> list[str]:
        return sorted(self._url(p) for p in self.fs.find(root))

    def glob(self, pattern: str) -> list[str]:
        return sorted(self._url(p) for p in self.fs.glob(pattern))

    def arrow_source(self, path: str) -> Any:
        return self.fs.open(path, "rb")


def _mtime_ns(info: dict) -> int:
    """Modification time of an fsspec ``info`` entry in ns (stores name it differently), or 0."""
    for k in ("mtime", "LastModified", "last_modified", "updated", "created"):
        v = info.get(k)
        if v is None:
            continue
        if hasattr(v, "timestamp"):
            return int(v.timestamp() * 1e9)
        try:
            return int(float(v) * 1e9)
        except (TypeError, ValueError):
            continue
    return 0


_LOCAL = LocalFS()
_REMOTE: dict[str, FsspecFS] = {}


def filesystem(path: str) -> FileSystem:
    """The filesystem serving ``path``: local for plain paths, fsspec for ``proto://`` URLs."""
    m = _URL.match(str(path))
    if m is None:
        return _LOCAL
    proto = m.group(1).lower()
    if proto not in _REMOTE:
        _REMOTE[proto] = FsspecFS(proto)
    return _REMOTE[proto]


def open_input(path: str) -> BinaryIO:
    return filesystem(path).open(path)


def stat(path: str) -> FileStat:
    return filesystem(path).stat(path)


def read_head(path: str, n: int) -> bytes:
    """The first ``n`` bytes of a file (fewer if it is shorter): enough to sniff its format."""
    with open_input(path) as f:
        return f.read(n)
