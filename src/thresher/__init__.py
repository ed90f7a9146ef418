"""thresher: select the documents worth training a language model on."""

__version__ = "0.1.0"

from thresher.api import SelectConfig, read_selected, score, select  # noqa: E402

__all__ = ["SelectConfig", "__version__", "read_selected", "score", "select"]
