"""Text understanding: language and script, normalisation, PII masking, sentiment (docs/text.md)."""
