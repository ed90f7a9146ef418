"""thresher: select the documents worth training a language model on."""

from thresher._version import __version__
from thresher.api import (  # noqa: E402
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
