"""Embed the English training texts with the sentence encoder, for tools/train_sentiment.py --text-vectors.

    PYTHONPATH=src python tools/embed_texts.py PATH_TO_SHARED_DATASETS OUT.npz

Each text of the English corpora (as ``train_sentiment.load`` reads them) is embedded exactly as the product
embeds a comment it takes a second look at (``patron.text.encoder.Embedder.sentences``: "query: ", cut to the
sentiment model's MAX_CHARS), here on two threads: about 75 short texts/s and 10 long reviews/s on this 2-core
machine, 6 min for the 4,778 texts. OUT.npz holds, per corpus, ``NAME`` (float32 vectors, in corpus order) and
``NAME_sha256`` (of the texts joined by NUL, so a changed corpus is caught), no pickle.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_sentiment

from patron.text import encoder
from patron.text.sentiment import MAX_CHARS


def texts_digest(texts: list[str]) -> str:
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()


def main(argv: list[str]) -> int:
    encoder.THREADS = 2
    encoder.CHUNK = 32
    corpora = train_sentiment.load(Path(argv[0]))
    out: dict[str, np.ndarray] = {}
    for name in train_sentiment.ENGLISH:
        if name not in corpora:
            continue
        texts = [text for text, _, _ in corpora[name]]
        start = time.perf_counter()
        out[name] = encoder.embedder().sentences(texts, MAX_CHARS).astype(np.float32)
        out[f"{name}_sha256"] = np.asarray(texts_digest(texts))
        print(
            f"{name}: {len(texts)} texts, {len(texts) / (time.perf_counter() - start):.1f} texts/s",
            flush=True,
        )
    np.savez(argv[1], **out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
