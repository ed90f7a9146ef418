"""Remote stores: their options, their defaults, and their errors as one line naming the URL.

Credentials and endpoints come from each store's standard configuration first (``AWS_*``
variables including ``AWS_ENDPOINT_URL``, ``~/.aws``; ``GOOGLE_APPLICATION_CREDENTIALS``;
``HF_TOKEN``, ``HF_ENDPOINT``), then from storage options: ``--storage-option KEY=VALUE``
(CLI), ``read.storage_options`` (YAML), ``storage_options=`` (API). An option applies to
every store unless it sits under a protocol's name::

    {"endpoint_url": "http://127.0.0.1:9000"}                # every remote store
    {"s3": {"client_kwargs": {"region_name": "eu-west-1"}}}  # s3:// only
    --storage-option s3.anon=true                            # the same on the command line

Options are set once per process (:func:`configure`); the worker processes get them with
their task context. They never reach a manifest or a checkpoint stamp unredacted
(:func:`redact`): they may hold secrets and do not change what a run selects.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from thresher.errors import ConfigError, InputError, OutputError, ThresherError

# Installable extras per protocol (the message when the library is missing).
EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "hf": "hf"}
_ALIASES = {"s3a": "s3", "gcs": "gs", "https": "http"}
_PROTOCOL_KEYS = {"s3", "s3a", "gs", "gcs", "hf", "http", "https", "memory", "file", "az", "abfs"}
# Connection and retry defaults: bounded backoff on throttling, 5xx and resets, then an error.
# botocore's "standard" mode retries throttling (SlowDown, 503), 5xx and connection errors
# with exponential backoff (at most 20 s a wait); s3fs adds its own bounded tries (the
# ``retries`` option) of throttled requests, reset connections and truncated bodies.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "s3": {
        "config_kwargs": {
            "connect_timeout": 10,
            "read_timeout": 120,
            "retries": {"max_attempts": 4, "mode": "standard"},
        },
        "retries": 3,  # s3fs's tries of a request that botocore gave up on (SlowDown, resets)
        "use_listings_cache": False,  # other processes write parts: never trust a stale listing
    },
    "gs": {"use_listings_cache": False},
}
_SECRET = re.compile(r"secret|token|password|passwd|credential|key$|^key|signature", re.I)

_options: dict[str, Any] = {}


def protocol_name(protocol: str) -> str:
    """The canonical name of a protocol (``s3a`` -> ``s3``, ``gcs`` -> ``gs``)."""
    p = protocol.lower()
    return _ALIASES.get(p, p)


def configure(options: dict | None) -> bool:
    """Set this process's storage options; True when they changed (cached stores are dropped)."""
    global _options
    new = dict(options or {})
    if new == _options:
        return False
    _options = new
    return True


def current() -> dict:
    return dict(_options)


def options_for(protocol: str) -> dict:
    """The keyword arguments of the ``protocol`` store: defaults, then global options, then
    the protocol's own (nested mappings merge key by key, at any depth)."""
    name = protocol_name(protocol)
    merged: dict[str, Any] = {}
    scoped: list[dict] = []
    for key, value in _options.items():
        if key.lower() in _PROTOCOL_KEYS:
            if protocol_name(key) == name and isinstance(value, dict):
                scoped.append(value)
            continue
        merged[key] = value
    out: dict[str, Any] = {}
    # Deep copies: the store libraries may change what they are given (botocore rewrites
    # its retry settings in place).
    for layer in copy.deepcopy((_DEFAULTS.get(name, {}), merged, *scoped)):
        _merge(out, layer)
    return out


def _merge(into: dict, layer: dict) -> None:
    for k, v in layer.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def parse_storage_options(items: list[str] | tuple[str, ...]) -> dict:
    """``KEY=VALUE`` pairs to a mapping: dots nest (``s3.client_kwargs.region_name=eu``), values
    are read as YAML scalars (``true``, ``3``, ``null``; anything else stays a string)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--storage-option: expected KEY=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        parts = [p.strip() for p in key.split(".")]
        if not all(parts):
            raise ConfigError(f"--storage-option: empty key in {item!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if not isinstance(value, str | int | float | bool | type(None)):
            value = raw
        node = out
        for p in parts[:-1]:
            child = node.setdefault(p, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--storage-option: {key!r} sets inside {p!r}, a value")
            node = child
        node[parts[-1]] = value
    return out


def check_storage_options(options: Any, label: str = "storage_options") -> dict:
    """A mapping of option names to values (a protocol's name may hold a mapping of its own)."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ConfigError(f"{label}: expected a mapping KEY: VALUE, got {options!r}")
    for k in options:
        if not isinstance(k, str) or not k:
            raise ConfigError(f"{label}: option names must be non-empty strings, got {k!r}")
    return options


def redact(options: Any) -> Any:
    """The options with secret-looking values (keys, secrets, tokens, passwords) hidden."""
    if isinstance(options, dict):
        return {
            k: ("<redacted>" if _SECRET.search(str(k)) and not isinstance(v, dict) else redact(v))
            for k, v in options.items()
        }
    return options


# -- errors -----------------------------------------------------------------------------
_STORE_MODULES = (
    "botocore",
    "aiobotocore",
    "aiohttp",
    "s3fs",
    "gcsfs",
    "google",
    "huggingface_hub",
    "requests",
    "urllib3",
    "httpx",
    "httpcore",
    "fsspec",
    "asyncio",
)
_CONNECT_WORDS = ("connect", "endpoint", "resolve", "unreachable", "refused", "timed out")


def is_store_error(e: BaseException) -> bool:
    """An error raised by a storage library or the network (not a bug of ours)."""
    if isinstance(e, ThresherError):
        return False
    if isinstance(e, OSError | TimeoutError | ConnectionError):
        return True
    return any(type(e).__module__.startswith(m) for m in _STORE_MODULES)


def _first_line(text: str, limit: int = 240) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def describe(e: BaseException) -> str:
    """What went wrong, in a few words a user can act on."""
    msg = _first_line(str(e) or type(e).__name__)
    low = msg.lower()
    status = getattr(e, "status", None) or getattr(
        getattr(e, "response", None), "status_code", None
    )
    if isinstance(e, FileNotFoundError) or status == 404:
        if "bucket" in low:
            return "the bucket does not exist"
        return "not found"
    if isinstance(e, PermissionError) or status in (401, 403) or "accessdenied" in low:
        return (
            f"access denied ({msg}); check the credentials (AWS_* variables, ~/.aws, HF_TOKEN, "
            "--storage-option)"
        )
    if "nosuchbucket" in low or "bucket does not exist" in low:
        return "the bucket does not exist"
    if "invalidaccesskeyid" in low or "signaturedoesnotmatch" in low or "credentials" in low:
        return f"access denied ({msg}); check the credentials"
    if isinstance(e, ConnectionError | TimeoutError) or any(w in low for w in _CONNECT_WORDS):
        return f"cannot reach the store ({msg})"
    return f"{type(e).__name__}: {msg}"


def read_error(url: str, e: BaseException) -> InputError:
    return InputError(f"{url}: cannot read: {describe(e)}")


def write_error(url: str, e: BaseException) -> OutputError:
    return OutputError(f"{url}: cannot write: {describe(e)}")


def missing_library(protocol: str, url: str, e: BaseException) -> ConfigError:
    extra = EXTRAS.get(protocol.lower())
    how = f"pip install 'thresher[{extra}]'" if extra else "install the fsspec filesystem for it"
    return ConfigError(f"{url}: {protocol}:// needs a storage library ({how}): {_first_line(e)}")
