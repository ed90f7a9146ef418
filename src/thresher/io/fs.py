"""One filesystem layer: every open, stat, listing and glob of input goes through here.

Local paths stay plain strings exactly as the user typed them: they are written into the
run's manifest and decision tables, so the output does not depend on how a path was
resolved. A URL with a protocol (``s3://``, ``gs://``, ``hf://``, ``https://``,
``memory://``) is served by the fsspec filesystem registered for that protocol, so remote
storage plugs in here and the formats never see the difference. Its options, defaults and
errors are :mod:`thresher.io.storage`'s; :class:`RemotePath` is a run directory's location
on a store (written by :mod:`thresher.rundir`).

Directory walks and recursive globs follow symbolic links to directories but enter each
real directory once per pattern position: a link loop (``ln -s .. d/up``) cannot make a
file appear twice or a walk run forever, and each real file is listed once.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, BinaryIO, Protocol

from thresher.errors import ConfigError, InputError, ThresherError
from thresher.io import storage

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
    content_id: str | None = None  # what the store says identifies the content (ETag, ...)


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
    """A remote (or in-memory) store through fsspec; paths are full URLs.

    Every call is guarded: a store's error (missing bucket, 403, unreachable endpoint, a
    read that fails after the store library's bounded retries) becomes one line naming
    the URL (:mod:`thresher.io.storage`). Reads are range requests: a shard of a big file
    fetches its own bytes, never the whole file first.
    """

    def __init__(self, protocol: str) -> None:
        import fsspec

        self.protocol = protocol
        self._listed: dict[str, dict] = {}  # url -> info, from the last listing (see stat)
        options = storage.options_for(protocol)
        retries = options.pop("retries", None)  # s3fs: its own tries around each request
        try:
            self.fs = fsspec.filesystem(protocol, **options)
            if retries is not None and hasattr(self.fs, "retries"):
                self.fs.retries = max(1, int(retries))
        except ImportError as e:
            raise storage.missing_library(protocol, f"{protocol}://", e) from None
        except (TypeError, ValueError) as e:  # an option the store does not take
            raise ConfigError(
                f"{protocol}://: bad storage option ({storage.describe(e)}); options given: "
                f"{storage.redact(storage.options_for(protocol))}"
            ) from None

    def _url(self, path: str) -> str:
        return self.fs.unstrip_protocol(path)

    @contextmanager
    def guard(self, url: str, write: bool = False) -> Iterator[None]:
        """Turn a store's error inside the block into one line naming ``url``."""
        try:
            yield
        except ThresherError:
            raise
        except Exception as e:
            if not storage.is_store_error(e):
                raise
            raise (storage.write_error if write else storage.read_error)(url, e) from e

    # -- reading ------------------------------------------------------------------------
    def open(
        self, path: str, block_size: int | None = None, span: tuple[int, int] | None = None
    ) -> BinaryIO:
        """A file for reading.

        Default: a sequential stream of ``span`` (start, end; the whole file without it) in
        range requests of STREAM_BLOCK, the next fetched while this one is parsed, and not
        a byte outside the span. ``block_size``: the reads will be small and scattered
        (planning, Parquet footers): a seekable file fetching small ranges.
        """
        if block_size is None:
            if span is not None and span[1] >= 0:  # a shard's own bytes: no need to ask the size
                return _RangeStream(self, path, *span)  # type: ignore[return-value]
            return _RangeStream(self, path, 0, self.stat(path).size)  # type: ignore[return-value]
        with self.guard(path):
            try:
                f = self.fs.open(path, "rb", block_size=block_size, cache_type="readahead")
            except TypeError:  # a store whose files take no cache options
                f = self.fs.open(path, "rb")
        return _GuardedFile(f, self, path)  # type: ignore[return-value]

    def read_range(self, path: str, start: int, end: int) -> bytes:
        with self.guard(path):
            return self.fs.cat_file(path, start=start, end=end)

    def info(self, path: str) -> dict | None:
        """The store's entry for ``path``, or None when there is none (a missing bucket,
        denied access or an unreachable store are errors, not "no such file")."""
        try:
            with self.guard(path):
                self.fs.invalidate_cache(path)
                return self.fs.info(path)
        except InputError as e:
            cause = e.__cause__
            if isinstance(cause, FileNotFoundError) and "bucket" not in str(cause).lower():
                return None
            raise

    def stat(self, path: str) -> FileStat:
        # A file a listing just named is stat'ed from that listing, once (discovery then
        # costs one request per folder, not one per file); later stats ask the store.
        info = self._listed.pop(path, None) or self.info(path)
        if info is None:
            raise InputError(f"{path}: no such file")
        return FileStat(
            int(info.get("size") or 0), _mtime_ns(info), self._url(path), _content_id(info)
        )

    def isdir(self, path: str) -> bool:
        if path in self._listed:  # a file the last listing named
            return False
        info = self.info(path)
        return info is not None and info.get("type") == "directory"

    def exists(self, path: str) -> bool:
        return self.info(path) is not None

    def walk(self, root: str) -> list[str]:
        with self.guard(root):
            self.fs.invalidate_cache(root)
            return self._remember(self.fs.find(root, detail=True))

    def glob(self, pattern: str) -> list[str]:
        with self.guard(pattern):
            self.fs.invalidate_cache()
            return self._remember(self.fs.glob(pattern, detail=True))

    def _remember(self, listing: dict) -> list[str]:
        urls = []
        for p, info in listing.items():
            url = self._url(p)
            if info.get("type") != "directory" and "size" in info:
                self._listed[url] = info
            urls.append(url)
        return sorted(urls)

    def arrow_source(self, path: str) -> Any:
        return self.open(path, block_size=PARQUET_BLOCK)

    # -- writing (run directories on object stores) -----------------------------------
    def write_bytes(self, path: str, data: bytes) -> None:
        """One request: the object appears whole or not at all (no rename needed)."""
        with self.guard(path, write=True):
            self.fs.pipe_file(path, data)

    def open_write(self, path: str) -> BinaryIO:
        """A file for writing; the object appears when it is closed without error."""
        with self.guard(path, write=True):
            f = self.fs.open(path, "wb")
        return _GuardedFile(f, self, path, write=True)  # type: ignore[return-value]

    def ls(self, path: str) -> list[str]:
        """Names directly below ``path`` ([] when there is nothing there)."""
        try:
            with self.guard(path):
                self.fs.invalidate_cache(path)
                entries = self.fs.ls(path, detail=False)
        except InputError as e:
            if (
                isinstance(e.__cause__, FileNotFoundError)
                and "bucket" not in str(e.__cause__).lower()
            ):
                return []
            raise
        base = self.fs._strip_protocol(path).rstrip("/")
        names = []
        for p in entries:
            p = self.fs._strip_protocol(p).rstrip("/")
            if p != base and p.startswith(base + "/"):
                names.append(p[len(base) + 1 :].split("/")[0])
        return sorted(set(names))

    def rm(self, path: str, recursive: bool = False) -> None:
        with self.guard(path, write=True):
            with suppress(FileNotFoundError):
                self.fs.rm(path, recursive=recursive)
            self.fs.invalidate_cache(path)


# Streaming reads: range requests of this size, the next one fetched while this one is parsed.
STREAM_BLOCK = 32 * 1024 * 1024  # half a default shard: a GET amortizes its first-byte wait
FIRST_BLOCK = 4 * 1024 * 1024
PARQUET_BLOCK = 4 * 1024 * 1024


class _RangeStream:
    """Sequential reads of bytes [start, end) of a remote file: one range request per block,
    the next block requested in a thread while the reader parses this one; never a byte
    outside the range (a shard reads its own bytes only). A short answer from the store
    ends the stream early: the reader then sees fewer bytes than its shard holds and stops
    with an error (see the JSONL reader), never a silently shorter shard."""

    def __init__(self, fs: FsspecFS, url: str, start: int, end: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._fs, self._url, self._start, self._end = fs, url, start, end
        self._pos = start
        self._buf, self._buf_at = b"", start
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="thresher-fetch")
        self._next: tuple[int, Any] | None = None
        self.closed = False

    def _fetch(self, at: int) -> bytes:
        # A small first block: parsing starts while the first big one is on its way.
        size = FIRST_BLOCK if at == self._start else STREAM_BLOCK
        return self._fs.read_range(self._url, at, min(at + size, self._end))

    def read(self, n: int = -1) -> bytes:
        want = self._end - self._pos if n is None or n < 0 else min(n, self._end - self._pos)
        out: list[bytes] = []
        while want > 0:
            off = self._pos - self._buf_at
            if 0 <= off < len(self._buf):
                chunk = self._buf[off : off + want]
                out.append(chunk)
                self._pos += len(chunk)
                want -= len(chunk)
                continue
            if self._next is not None and self._next[0] == self._pos:
                data = self._next[1].result()
            else:
                data = self._fetch(self._pos)
            self._next = None
            if not data:
                break  # the store answered short: the caller sees the missing bytes
            self._buf, self._buf_at = data, self._pos
            after = self._pos + len(data)
            if after < self._end:
                self._next = (after, self._pool.submit(self._fetch, after))
        return b"".join(out)

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._end}[whence]
        self._pos = max(self._start, min(base + pos, self._end))
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._buf = b""

    def __enter__(self) -> _RangeStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _GuardedFile:
    """An fsspec file whose store errors are one line naming the URL."""

    def __init__(self, f: Any, fs: FsspecFS, url: str, write: bool = False) -> None:
        self._f = f
        self._fs = fs
        self._url = url
        self._write = write

    def read(self, n: int = -1) -> bytes:
        with self._fs.guard(self._url, self._write):
            return self._f.read(n)

    def readinto(self, b: Any) -> int:
        with self._fs.guard(self._url, self._write):
            return self._f.readinto(b)

    def write(self, data: Any) -> int:
        with self._fs.guard(self._url, self._write):
            return self._f.write(data)

    def seek(self, *args: Any) -> int:
        with self._fs.guard(self._url, self._write):
            return self._f.seek(*args)

    def close(self) -> None:
        with self._fs.guard(self._url, self._write):
            self._f.close()

    def discard(self) -> None:
        """Abandon a write: the object is not created (a multipart upload is aborted)."""
        with suppress(Exception):  # best effort: nothing was committed
            self._f.discard()

    def __enter__(self) -> _GuardedFile:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is not None and self._write:
            self.discard()
            return
        self.close()

    def __getattr__(self, name: str) -> Any:  # tell, closed, readable, seekable, size, ...
        return getattr(self._f, name)


def _content_id(info: dict) -> str | None:
    """What the store says identifies an object's content (ETag, MD5, Git/LFS hash), or None.

    Lets a run identify a remote input without reading it a second time just to hash it.
    """
    lfs = info.get("lfs")
    if isinstance(lfs, dict) and lfs.get("sha256"):
        return f"sha256:{lfs['sha256']}"
    for key, name in (
        ("ETag", "etag"),
        ("etag", "etag"),
        ("md5Hash", "md5"),
        ("blob_id", "git"),
        ("crc32c", "crc32c"),
    ):
        v = info.get(key)
        if v:
            return f"{name}:{str(v).strip(chr(34))}"
    return None


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


def is_url(path: object) -> bool:
    """Whether ``path`` is a ``proto://`` URL (served by fsspec) rather than a local path."""
    return isinstance(path, str | RemotePath) and _URL.match(str(path)) is not None


def configure(storage_options: dict | None) -> None:
    """Set the storage options of this process (see :mod:`thresher.io.storage`)."""
    if storage.configure(storage_options):
        _REMOTE.clear()


def filesystem(path: str) -> FileSystem:
    """The filesystem serving ``path``: local for plain paths, fsspec for ``proto://`` URLs."""
    m = _URL.match(str(path))
    if m is None:
        return _LOCAL
    proto = m.group(1).lower()
    if proto not in _REMOTE:
        _REMOTE[proto] = FsspecFS(proto)
    return _REMOTE[proto]


def remote(path: str) -> FsspecFS:
    fs = filesystem(path)
    assert isinstance(fs, FsspecFS), path
    return fs


class RemotePath:
    """A location on a store, with the part of :class:`pathlib.Path` a run directory uses.

    Object stores have no folders: ``mkdir`` does nothing, a "directory" exists while some
    object lies below it, and a write is one object appearing whole (or not at all).
    """

    __slots__ = ("url",)

    def __init__(self, url: str | RemotePath) -> None:
        url = str(url)
        m = _URL.match(url)
        if m is None:
            raise ValueError(f"not a URL: {url!r}")
        head, rest = url[: m.end()], url[m.end() :]
        self.url = head + rest.rstrip("/")

    @property
    def fs(self) -> FsspecFS:
        return remote(self.url)

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"RemotePath({self.url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)

    def __lt__(self, other: RemotePath) -> bool:
        return self.url < other.url

    def __truediv__(self, name: str) -> RemotePath:
        return RemotePath(f"{self.url}/{str(name).strip('/')}")

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        return os.path.splitext(self.name)[1]

    @property
    def parent(self) -> RemotePath:
        m = _URL.match(self.url)
        assert m is not None
        rest = self.url[m.end() :]
        return self if "/" not in rest else RemotePath(self.url.rsplit("/", 1)[0])

    def with_name(self, name: str) -> RemotePath:
        return self.parent / name

    def resolve(self) -> RemotePath:
        return self

    absolute = resolve

    # -- queries --------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.fs.exists(self.url)

    def is_dir(self) -> bool:
        return self.fs.isdir(self.url)

    def is_file(self) -> bool:
        info = self.fs.info(self.url)
        return info is not None and info.get("type") != "directory"

    def is_symlink(self) -> bool:
        return False

    def stat(self) -> SimpleNamespace:
        info = self.fs.info(self.url)
        if info is None:
            raise InputError(f"{self.url}: not found")
        return SimpleNamespace(st_size=int(info.get("size") or 0), st_mtime=_mtime_ns(info) / 1e9)

    def iterdir(self) -> list[RemotePath]:
        return [self / n for n in self.fs.ls(self.url)]

    def glob(self, pattern: str) -> list[RemotePath]:
        """Entries below this one matching ``pattern`` (``*``, ``?``, ``[..]``, ``**``)."""
        if not self.exists():
            return []
        return [RemotePath(p) for p in self.fs.glob(f"{self.url}/{pattern}")]

    # -- reading and writing -------------------------------------------------------------
    def read_bytes(self) -> bytes:
        with self.fs.guard(self.url):
            return self.fs.fs.cat_file(self.url)

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> int:
        self.fs.write_bytes(self.url, bytes(data))
        return len(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        return self.write_bytes(text.encode(encoding))

    def open(self, mode: str = "rb") -> BinaryIO:
        if mode in ("rb", "r"):
            return self.fs.open(self.url)
        if mode == "wb":
            return self.fs.open_write(self.url)
        raise ValueError(f"RemotePath.open: mode {mode!r} (rb or wb)")

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: a folder of an object store exists once an object lies in it."""

    def unlink(self, missing_ok: bool = False) -> None:
        if not missing_ok and not self.exists():
            raise InputError(f"{self.url}: not found")
        self.fs.rm(self.url)

    def rmtree(self) -> None:
        self.fs.rm(self.url, recursive=True)


def out_path(path: str | os.PathLike | RemotePath) -> Path | RemotePath:
    """A run directory's location: a :class:`RemotePath` for a URL, else a local Path."""
    if isinstance(path, RemotePath | Path):
        return path
    return RemotePath(str(path)) if is_url(str(path)) else Path(path)


def open_input(
    path: str, block_size: int | None = None, span: tuple[int, int] | None = None
) -> BinaryIO:
    """A file of input for reading. Hints for a remote store (a local file ignores them):
    ``span`` (start, end): only these bytes will be read, in order; ``block_size``: the
    reads will be small and scattered (fetch small ranges, not big blocks ahead)."""
    fs = filesystem(path)
    if isinstance(fs, FsspecFS):
        return fs.open(path, block_size=block_size, span=span)
    return fs.open(path)


def stat(path: str) -> FileStat:
    return filesystem(path).stat(path)


def read_head(path: str, n: int, size: int | None = None) -> bytes:
    """The first ``n`` bytes of a file (fewer if it is shorter): enough to sniff its format.

    One small range request on a remote store (two without the ``size``)."""
    fs = filesystem(path)
    if isinstance(fs, FsspecFS):
        size = fs.stat(path).size if size is None else size
        return fs.read_range(path, 0, min(n, size)) if size else b""
    with fs.open(path) as f:
        return f.read(n)
