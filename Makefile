# Two commands do all set-up: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
# `make demo PORT=8123 HOST=0.0.0.0`: links in emails follow; set PATRON_BASE_URL to the address respondents reach.

.PHONY: install demo test lint typecheck unit serve bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/patron db upgrade
	$(VENV)/bin/patron demo load --if-empty --host $(HOST) --port $(PORT)
	$(VENV)/bin/patron serve --host $(HOST) --port $(PORT)

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: install
	$(VENV)/bin/mypy

# Every core runs tests (each worker with its own SQLite file, PostgreSQL cluster and browser); a file's tests stay
# on one worker so its module fixtures are built once. `make test WORKERS=0` runs them in one process. The 25
# slowest steps are listed at the end, to see where CI time goes.
WORKERS ?= auto
unit: install
	$(VENV)/bin/pytest -n $(WORKERS) --dist loadfile --durations=25

test: lint typecheck unit

bench: install
	$(PY) bench/import_orders.py

clean:
	rm -rf $(VENV) var/*.db var/*.db-* .mypy_cache .pytest_cache .ruff_cache
