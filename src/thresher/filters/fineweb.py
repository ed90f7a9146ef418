"""FineWeb's own quality rules (Penedo et al. 2024, "The FineWeb Datasets").

Follows datatrove's ``FineWebQualityFilter`` (``pipeline/filters/fineweb_quality_filter.py``)
with its default thresholds; words from :func:`thresher.filters.words.split_words`.
"""

from __future__ import annotations

from collections.abc import Iterable

from thresher.filters._punctuation import TERMINAL_PUNCTUATION
from thresher.filters._rules import RuleFilter, find_duplicates
from thresher.filters.words import split_words


class FineWebQualityFilter(RuleFilter):
    """FineWeb's rules; drop rule ``fineweb.<rule>`` with its measured value.

    Over the non-blank lines, in order:

    - ``empty``: no non-blank line;
    - ``line_punct_ratio``: fraction of lines ending in terminal punctuation below
      ``line_punct_thr`` (0.12; with ``line_punct_exclude_zero`` a ratio of 0 passes);
    - ``short_line_ratio``: fraction of lines of at most ``short_line_length`` (30) characters
      above ``short_line_thr`` (0.67);
    - ``char_dup_ratio``: characters in repeated lines over the text's non-newline characters
      above ``char_duplicates_ratio`` (0.01);
    - ``list_ratio``: newlines per word above ``new_line_ratio`` (0.3).
    """

    name = "fineweb"

    def __init__(
        self,
        line_punct_thr: float | None = 0.12,
        line_punct_exclude_zero: bool = False,
        stop_chars: Iterable[str] | None = None,
        short_line_thr: float | None = 0.67,
        short_line_length: int = 30,
        char_duplicates_ratio: float | None = 0.01,
        new_line_ratio: float | None = 0.3,
    ):
        self.line_punct_thr = line_punct_thr
        self.line_punct_exclude_zero = line_punct_exclude_zero
        self.stop_chars = tuple(TERMINAL_PUNCTUATION if stop_chars is None else stop_chars)
        self.short_line_thr = short_line_thr
        self.short_line_length = short_line_length
        self.char_duplicates_ratio = char_duplicates_ratio
        self.new_line_ratio = new_line_ratio

    def check(self, text: str) -> tuple[str, float] | None:
        lines = [line for line in text.split("\n") if line.strip() != ""]
        if not lines:
            return "empty", 0
        n_lines = len(lines)
        if self.line_punct_thr is not None:
            ratio = sum(1 for line in lines if line.endswith(self.stop_chars)) / n_lines
            if ratio < self.line_punct_thr and not (ratio == 0 and self.line_punct_exclude_zero):
                return "line_punct_ratio", ratio
        if self.short_line_thr is not None:
            short = self.short_line_length
            ratio = sum(1 for line in lines if len(line) <= short) / n_lines
            if ratio > self.short_line_thr:
                return "short_line_ratio", ratio
        if self.char_duplicates_ratio is not None:
            ratio = find_duplicates(lines)[1] / (len(text) - text.count("\n"))
            if ratio > self.char_duplicates_ratio:
                return "char_dup_ratio", ratio
        if self.new_line_ratio is not None:
            n_words = len(split_words(text))
            ratio = text.count("\n") / max(n_words, 1)
            if ratio > self.new_line_ratio:
                return "list_ratio", ratio
        return None
