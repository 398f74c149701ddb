"""`python -m patron …`, the same as the `patron` command."""

from patron.cli import app

app(prog_name="patron")
