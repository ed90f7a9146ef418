"""BM25 relevance of raw documents to the target set (sparse lexical retrieval, bm25s).

Two directions:

``direction="query"`` (default)
    The *target* documents are indexed once with bm25s at fit time (so IDF and
    average length come from the target, never from a batch). Each raw document
    becomes a query: its first ``max_query_tokens`` tokens, deduplicated; bm25s
    retrieves the ``top_k`` best target documents for the whole batch at once
    (numba backend) and the score is the mean of their BM25 scores divided by
    the number of query terms (``normalize=True``; out-of-vocabulary query terms
    count, so a document whose words the target never uses scores low). A raw
    document's score depends only on the document and the fitted index: batch
    independent by construction.

``direction="doc"``
    The reverse: raw documents are the "corpus" and every target document a
    query. Indexing each batch with bm25s would take IDF and average length
    from the batch, so a document's score would change with the other documents
    of its batch (breaking the Scorer protocol). Here IDF and average length are
    fixed from the raw sample at fit time and the BM25 formula (bm25s's default
    Lucene variant, k1=1.5, b=0.75) is evaluated with sparse matrices; the
    score is the mean over target queries of BM25(query, doc), which is linear
    in the document's saturated term frequencies, so it reduces to one weight
    per term: ``sum_t tfnorm(t, d) * idf(t) * df_target(t) / n_target``.

Default ``direction="query"``: on bench/scorers.py (bench/results/scorers.md)
precision@k query vs doc was 0.22 vs 0.53 (easy: quotes), 0.36 vs 0.18
(hard: Debian Reference en), 0.53 vs 0.37 (small: 50 packaging docs); query
wins the two harder targets and needs no raw sample. ``normalize=True`` (divide
by query terms) was better than raw sums on data/sample (AUC 0.93 vs 0.86).
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from thresher.scorers.base import BaseScorer, as_string_array

# bm25s's (and scikit-learn's) default token pattern; lowercased.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def _tokens(text: str, limit: int | None = None) -> list[str]:
    toks = _TOKEN.findall(text.lower())
    return toks if limit is None else toks[:limit]


class BM25Scorer(BaseScorer):
    """BM25 relevance to the target set; higher means more relevant."""

    name = "bm25"

    def __init__(
        self,
        direction: Literal["query", "doc"] = "query",
        top_k: int = 10,
        max_query_tokens: int = 256,
        normalize: bool = True,
        k1: float = 1.5,
        b: float = 0.75,
        max_doc_chars: int = 100_000,
    ) -> None:
        if direction not in ("query", "doc"):
            raise ValueError("direction must be 'query' or 'doc'")
        self.direction = direction
        self.top_k = int(top_k)
        self.max_query_tokens = int(max_query_tokens)
        self.normalize = bool(normalize)
        self.k1 = float(k1)
        self.b = float(b)
        self.max_doc_chars = int(max_doc_chars)
        self.retriever = None
        self.vocab: dict[str, int] | None = None
        # direction="doc": fixed term weights and average length
        self.term_weight: np.ndarray | None = None
        self.avgdl: float | None = None

    # ------------------------------------------------------------------ fit
    def fit(self, target: pa.Array, sample: pa.Array) -> BM25Scorer:
        target_list = [t[: self.max_doc_chars] for t in as_string_array(target).to_pylist() if t]
        if not target_list:
            raise ValueError("the target has no documents")
        if self.direction == "query":
            return self._fit_query(target_list)
        sample_list = [t[: self.max_doc_chars] for t in as_string_array(sample).to_pylist() if t]
        if not sample_list:
            raise ValueError("the raw sample has no documents")
        return self._fit_doc(target_list, sample_list)

    def _fit_query(self, target_list: list[str]) -> BM25Scorer:
        import bm25s

        toks = [_tokens(t) for t in target_list]
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(w, len(vocab)) for w in doc] for doc in toks]
        if not vocab:
            raise ValueError("the target has no tokens")
        retriever = bm25s.BM25(k1=self.k1, b=self.b, backend="numpy")
        retriever.index((ids, vocab), show_progress=False)
        self.retriever = retriever
        # bm25s's index is a token-major sparse matrix of precomputed BM25 term scores.
        # Retrieval for a whole batch of queries is then one sparse product; doing it
        # with scipy rather than bm25s's numba backend avoids a JIT compile (tens of
        # seconds, uncached) in every worker process, for the same scores.
        sc = retriever.scores
        self.matrix = sp.csr_matrix(
            (sc["data"], sc["indices"], sc["indptr"]),
            shape=(len(sc["indptr"]) - 1, sc["num_docs"]),
        )
        self.vocab = vocab
        self.top_k = max(1, min(self.top_k, len(target_list)))
        return self

    def _fit_doc(self, target_list: list[str], sample_list: list[str]) -> BM25Scorer:
        vocab: dict[str, int] = {}
        for doc in target_list:
            for w in _tokens(doc):
                vocab.setdefault(w, len(vocab))
        self.vocab = vocab
        # Term document frequencies in the raw sample (fixed IDF) and in the target.
        sample_df = np.zeros(len(vocab), dtype=np.float64)
        lengths = np.zeros(len(sample_list), dtype=np.float64)
        for i, doc in enumerate(sample_list):
            toks = _tokens(doc)
            lengths[i] = len(toks)
            ids = {vocab[w] for w in toks if w in vocab}
            if ids:
                sample_df[list(ids)] += 1
        target_df = np.zeros(len(vocab), dtype=np.float64)
        for doc in target_list:
            target_df[list({vocab[w] for w in _tokens(doc)})] += 1
        n = len(sample_list)
        idf = np.log(1.0 + (n - sample_df + 0.5) / (sample_df + 0.5))  # Lucene
        self.avgdl = float(max(lengths.mean(), 1.0))
        self.term_weight = (idf * target_df / len(target_list)).astype(np.float64)
        return self

    # ---------------------------------------------------------------- score
    def score(self, texts: pa.Array) -> np.ndarray:
        if self.vocab is None:
            raise RuntimeError("BM25Scorer.score called before fit")
        texts = as_string_array(texts)
        docs = [(t or "")[: self.max_doc_chars] for t in texts.to_pylist()]
        if not docs:
            return np.zeros(0, dtype=np.float32)
        if self.direction == "query":
            return self._score_query(docs)
        return self._score_doc(docs)

    def _score_query(self, docs: list[str]) -> np.ndarray:
        vocab = self.vocab
        assert vocab is not None and self.retriever is not None
        queries: list[list[int]] = []
        nterms = np.empty(len(docs), dtype=np.float64)
        for i, doc in enumerate(docs):
            uniq = dict.fromkeys(_tokens(doc, self.max_query_tokens))
            nterms[i] = max(len(uniq), 1)
            q = [vocab[w] for w in uniq if w in vocab]
            queries.append(q)
        out = np.zeros(len(docs), dtype=np.float64)
        lens = np.fromiter((len(q) for q in queries), dtype=np.int64, count=len(queries))
        indptr = np.concatenate([[0], np.cumsum(lens)])
        indices = np.fromiter(
            (t for q in queries for t in q), dtype=np.int64, count=int(indptr[-1])
        )
        qmat = sp.csr_matrix(
            (np.ones(len(indices)), indices, indptr), shape=(len(queries), self.matrix.shape[0])
        )
        k = self.top_k
        step = max(1, 4_000_000 // max(1, self.matrix.shape[1]))  # bound the dense block
        for a in range(0, len(queries), step):
            block = (qmat[a : a + step] @ self.matrix).toarray()
            top = np.partition(block, block.shape[1] - k, axis=1)[:, -k:]
            out[a : a + step] = top.mean(axis=1)
        if self.normalize:
            out /= nterms
        return out.astype(np.float32)

    def _score_doc(self, docs: list[str]) -> np.ndarray:

        vocab = self.vocab
        assert vocab is not None and self.term_weight is not None and self.avgdl is not None
        rows: list[int] = []
        cols: list[int] = []
        lengths = np.empty(len(docs), dtype=np.float64)
        for i, doc in enumerate(docs):
            toks = _tokens(doc)
            lengths[i] = len(toks)
            ids = [vocab[w] for w in toks if w in vocab]
            cols.extend(ids)
            rows.extend([i] * len(ids))
        tf = sp.csr_matrix(
            (np.ones(len(cols)), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))),
            shape=(len(docs), len(vocab)),
        )
        tf.sum_duplicates()
        k1, b = self.k1, self.b
        denom_row = k1 * (1.0 - b + b * lengths / self.avgdl)
        rep = np.repeat(denom_row, np.diff(tf.indptr))
        tf.data = tf.data * (k1 + 1.0) / (tf.data + rep)
        return np.asarray(tf @ self.term_weight, dtype=np.float32).ravel()
