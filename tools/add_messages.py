"""Add or update messages in the three catalogs from a YAML file, so codes never drift apart.

    python tools/add_messages.py new-messages.yaml

The file maps each code to its English and Traditional Chinese text (and optionally Simplified); the
Simplified text is derived from the Traditional with OpenCC (tw2s) when not given. Catalogs stay sorted.
"""

from __future__ import annotations

import sys
from pathlib import Path

import opencc
import yaml
from babel.messages.pofile import read_po, write_po

LOCALE_DIR = Path(__file__).resolve().parents[1] / "src" / "patron" / "locale"
FOLDERS = {"en": "en", "zh-Hant": "zh_Hant", "zh-Hans": "zh_Hans"}


def main(path: str) -> None:
    entries: dict[str, dict[str, str]] = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    to_simplified = opencc.OpenCC("tw2s")
    for locale, folder in FOLDERS.items():
        po_path = LOCALE_DIR / folder / "LC_MESSAGES" / "messages.po"
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=folder)
        for code, texts in entries.items():
            text = texts.get(locale) or (
                to_simplified.convert(texts["zh-Hant"]) if locale == "zh-Hans" else None
            )
            if text is None:
                raise SystemExit(f"{code}: no {locale} text")
            if code in catalog:  # Catalog.add keeps an existing translation; an update replaces it
                del catalog[code]
            catalog.add(code, text)
        with po_path.open("wb") as handle:
            write_po(handle, catalog, sort_output=True, width=0)


if __name__ == "__main__":
    main(sys.argv[1])
