# The README's commands. Everything a fresh machine needs is installed from here:
# the virtual environment, the Python packages, and (on first use) Kafka's jars.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install jars stack test test-unit check fmt clean

help:
	@echo "make stack   start a real Kafka broker and PostgreSQL until Ctrl-C"
	@echo "make test    install everything and run all tests (unit, property, integration, e2e)"
	@echo "make check   ruff (format + lint) and mypy"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Fetches Apache Kafka's jars from Maven Central into the cache (once).
jars: $(STAMP)
	$(BIN)/python -c "from zjcredit.settings import Settings; from zjcredit.stack import ensure_jars; print(ensure_jars(Settings.from_env().cache_dir))"

stack: $(STAMP)
	$(BIN)/zjcredit stack up

test: jars
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit tests/property $(PYTEST_ARGS)

check: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
