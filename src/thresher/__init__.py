"""thresher: select the documents worth training a language model on.

The API's names are imported on first use (PEP 562): a worker process imports
``thresher.tasks`` and its kernels, not the whole API (pydantic models, the report).
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from thresher._version import __version__

if TYPE_CHECKING:
    from thresher.api import (
        SelectConfig,
        Texts,
        decontaminate,
        deduplicate,
        filter,
        read_selected,
        score,
        select,
        write_report,
    )

__all__ = [
    "SelectConfig",
    "Texts",
    "__version__",
    "decontaminate",
    "deduplicate",
    "filter",
    "read_selected",
    "score",
    "select",
    "write_report",
]
_API = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from thresher import api

    for n in _API:
        globals()[n] = getattr(api, n)
    return globals()[name]


def __dir__() -> list[str]:
    return sorted(set(globals()) | _API)


class _Package(types.ModuleType):
    """Importing the subpackage ``thresher.select`` binds its name here: the API function
    keeps it (as when this module imported the API before any subpackage)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
