"""Write Patron's copy of the pattern English adjective polarity lexicon (used by the sentiment stacker).

    python tools/make_pattern_lexicon.py PATH/textblob-0.20.1-py3-none-any.whl

The lexicon is ``textblob/en/en-sentiment.xml`` in the TextBlob wheel from PyPI (TextBlob is MIT; the file is
pattern's English sentiment lexicon by Tom De Smedt and Walter Daelemans, marked license="PDDL" in its header,
a public-domain dedication). Each single lower-case word's polarity is averaged over its senses, as pattern
does, and words whose mean is 0 are left out. The result goes to src/patron/text/data/pattern_polarity.tsv,
with the wheel's and the file's SHA-256 in its header lines, so the package needs neither TextBlob nor NLTK.
"""

from __future__ import annotations

import hashlib
import re
import sys
import xml.etree.ElementTree as ET
import zipfile
from collections import defaultdict
from pathlib import Path

MEMBER = "textblob/en/en-sentiment.xml"
WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def main(argv: list[str]) -> int:
    wheel = Path(argv[0])
    raw = zipfile.ZipFile(wheel).read(MEMBER)
    senses: dict[str, list[float]] = defaultdict(list)
    for word in ET.fromstring(raw).iter("word"):
        form = (word.get("form") or "").lower()
        if WORD.fullmatch(form):
            senses[form].append(float(word.get("polarity") or 0.0))
    means = {form: sum(values) / len(values) for form, values in senses.items()}
    lines = [
        f"# source: {wheel.name} (PyPI), sha256 {hashlib.sha256(wheel.read_bytes()).hexdigest()}",
        f"# file: {MEMBER}, sha256 {hashlib.sha256(raw).hexdigest()}",
        "# pattern English sentiment lexicon, Tom De Smedt & Walter Daelemans, license PDDL (public domain)",
        "# word<TAB>polarity averaged over senses (-1 … 1), zero means left out; see tools/make_pattern_lexicon.py",
    ]
    lines += [f"{form}\t{mean:.4f}" for form, mean in sorted(means.items()) if abs(mean) > 0]
    out = Path(__file__).resolve().parent.parent / "src" / "patron" / "text" / "data" / "pattern_polarity.tsv"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines) - 4} words to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
