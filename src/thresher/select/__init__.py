"""Selection: which documents to keep, given only their scores (and a seed)."""

from thresher.select.select import SelectionMode, resolve_k, select_indices

__all__ = ["SelectionMode", "resolve_k", "select_indices"]
