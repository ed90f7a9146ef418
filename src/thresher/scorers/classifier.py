"""A linear model on hashed n-grams: target-vs-raw classifier, or BETR student.

Features: :class:`~thresher.text.ngrams.NgramHasher` counts (``2**18``
buckets, 1-2 grams) -> ``log1p`` -> times an IDF fitted on target + raw sample
-> rows L2-normalized. Scoring is one sparse matrix-vector product per batch,
so the fitted scorer keeps only the IDF and the weight vector (no scikit-learn
object at score time).

Without a teacher: logistic regression, target documents positive, raw sample
negative (balanced class weights); score = decision function.

With ``teacher=dense|bm25|zipfit|dsir|...`` (BETR, "Benchmark-targeted
ranking"): the teacher is fitted on (target, sample) and scores a subsample of
``teacher_sample`` raw documents; a linear model then learns to reproduce the
teacher on the n-gram features, so only the cheap model scores the corpus.
``teacher_mode="regress"``: ridge regression on the teacher's scores turned
into ranks in [0, 1] (robust to the teacher's scale and outliers);
``teacher_mode="classify"``: logistic regression of the teacher's top
``teacher_top`` fraction vs the rest. The fitted scorer records the teacher's
fit time and scoring speed (``teacher_stats``) so benchmarks can report the
speed-up.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from thresher.scorers.base import as_string_array
from thresher.text.ngrams import NgramHasher


class ClassifierScorer:
    """Linear model on hashed n-gram features; higher means more target-like."""

    name = "classifier"

    def __init__(
        self,
        num_buckets: int = 2**18,
        ngrams: int = 2,
        C: float = 1.0,
        teacher: Any = None,
        teacher_sample: int = 20_000,
        teacher_mode: Literal["regress", "classify"] = "regress",
        teacher_top: float = 0.1,
        teacher_options: dict | None = None,
        alpha: float = 1.0,
        seed: int = 0,
    ) -> None:
        if teacher_mode not in ("regress", "classify"):
            raise ValueError("teacher_mode must be 'regress' or 'classify'")
        self.hasher = NgramHasher(num_buckets, ngrams)
        self.C = float(C)
        self.teacher = teacher
        self.teacher_sample = int(teacher_sample)
        self.teacher_mode = teacher_mode
        self.teacher_top = float(teacher_top)
        self.teacher_options = dict(teacher_options or {})
        self.alpha = float(alpha)
        self.seed = int(seed)
        self.idf: np.ndarray | None = None
        self.coef: np.ndarray | None = None
        self.intercept: float = 0.0
        self.teacher_stats: dict | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if not isinstance(state["teacher"], str | type(None)):
            state["teacher"] = getattr(state["teacher"], "name", "teacher")  # keep only the name
        return state

    # ------------------------------------------------------------- features
    def _counts(self, texts: pa.Array):
        return self.hasher.csr(as_string_array(texts))

    def _transform(self, x):
        """log1p counts * idf, rows L2-normalized (in place on a fresh CSR)."""
        assert self.idf is not None
        x.data = np.log1p(x.data) * self.idf[x.indices].astype(np.float32)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        x.data /= np.repeat(norms, np.diff(x.indptr)).astype(np.float32)
        return x

    def _fit_idf(self, *mats) -> None:
        df = np.zeros(self.hasher.num_buckets, dtype=np.float64)
        n = 0
        for m in mats:
            df += np.bincount(m.indices, minlength=self.hasher.num_buckets)
            n += m.shape[0]
        self.idf = np.log((1.0 + n) / (1.0 + df)) + 1.0

    # ------------------------------------------------------------------ fit
    def fit(self, target: pa.Array, sample: pa.Array) -> ClassifierScorer:
        target = as_string_array(target)
        sample = as_string_array(sample)
        if len(target) == 0:
            raise ValueError("the target has no documents")
        if len(sample) == 0:
            raise ValueError("the raw sample has no documents")
        if self.teacher is None:
            return self._fit_classifier(target, sample)
        return self._fit_student(target, sample)

    def _fit_classifier(self, target: pa.Array, sample: pa.Array) -> ClassifierScorer:
        import scipy.sparse as sp
        from sklearn.linear_model import LogisticRegression

        xt, xs = self._counts(target), self._counts(sample)
        self._fit_idf(xt, xs)
        x = sp.vstack([self._transform(xt), self._transform(xs)]).tocsr()
        y = np.r_[np.ones(xt.shape[0]), np.zeros(xs.shape[0])]
        clf = LogisticRegression(C=self.C, class_weight="balanced", solver="liblinear")
        clf.fit(x, y)
        self.coef = clf.coef_.ravel().astype(np.float32)
        self.intercept = float(clf.intercept_[0])
        return self

    def _fit_student(self, target: pa.Array, sample: pa.Array) -> ClassifierScorer:
        from sklearn.linear_model import LogisticRegression, Ridge

        from thresher.scorers import make_scorer

        teacher = self.teacher
        if isinstance(teacher, str):
            teacher = make_scorer(teacher, **self.teacher_options)
        t0 = time.perf_counter()
        teacher = teacher.fit(target, sample)
        fit_s = time.perf_counter() - t0
        rng = np.random.default_rng(self.seed)
        n = len(sample)
        pick = np.sort(rng.choice(n, size=min(n, self.teacher_sample), replace=False))
        sub = sample.take(pa.array(pick))
        t0 = time.perf_counter()
        ts = np.asarray(teacher.score(sub), dtype=np.float64)
        score_s = time.perf_counter() - t0
        self.teacher_stats = {
            "teacher": getattr(teacher, "name", str(self.teacher)),
            "fit_seconds": fit_s,
            "scored_docs": int(len(pick)),
            "score_seconds": score_s,
            "docs_per_s": len(pick) / score_s if score_s > 0 else float("inf"),
        }
        xs = self._counts(sub)
        self._fit_idf(xs, self._counts(target))
        x = self._transform(xs)
        ranks = np.argsort(np.argsort(ts, kind="stable"), kind="stable") / max(len(ts) - 1, 1)
        if self.teacher_mode == "regress":
            model = Ridge(alpha=self.alpha, solver="sparse_cg", random_state=self.seed)
            model.fit(x, ranks)
            self.coef = model.coef_.ravel().astype(np.float32)
            self.intercept = float(model.intercept_)
        else:
            y = ranks >= 1.0 - self.teacher_top
            if y.all() or not y.any():
                raise ValueError("teacher_top leaves one class empty")
            clf = LogisticRegression(C=self.C, class_weight="balanced", solver="liblinear")
            clf.fit(x, y)
            self.coef = clf.coef_.ravel().astype(np.float32)
            self.intercept = float(clf.intercept_[0])
        return self

    # ---------------------------------------------------------------- score
    def score(self, texts: pa.Array) -> np.ndarray:
        if self.coef is None:
            raise RuntimeError("ClassifierScorer.score called before fit")
        texts = as_string_array(texts)
        if len(texts) == 0:
            return np.zeros(0, dtype=np.float32)
        x = self._transform(self._counts(texts))
        return (x @ self.coef + self.intercept).astype(np.float32)
