# The README's commands. Everything a fresh machine needs is installed from here:
# the virtual environment, the Python packages, and (on first use) Kafka's jars.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install jars browser prometheus stack demo test test-faults test-unit check fmt clean

help:
	@echo "make demo    the whole service on a synthetic province until Ctrl-C (zjcredit demo)"
	@echo "make stack   start a real Kafka broker and PostgreSQL until Ctrl-C"
	@echo "make test    install everything and run all tests (unit, property, integration, e2e)"
	@echo "make test-faults the long fault tests on a three-node Kafka cluster (tests/faults)"
	@echo "make check   ruff (format + lint) and mypy"
	@echo "make browser apt-get install chromium, chromium-driver and a CJK font if missing"
	@echo "make prometheus apt-get install prometheus (the server and promtool) if missing"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Fetches Apache Kafka's jars from Maven Central into the cache (once).
jars: $(STAMP)
	$(BIN)/python -c "from base.settings import Settings; from zjcredit.stack import ensure_jars; print(ensure_jars(Settings.from_env().cache_dir))"

# The browser test's headless Chromium, its WebDriver and a CJK font (Debian packages),
# installed when missing. Without root or apt-get it says so and the test is skipped.
BROWSER_PACKAGES := chromium chromium-driver fonts-noto-cjk
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && \
	    fc-list :lang=zh family 2>/dev/null | grep -q .; then \
	  echo "browser: chromium, chromedriver and a CJK font are installed"; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "browser: chromium, chromedriver or a CJK font is missing and this is not root" \
	       "on Debian; run: sudo apt-get install -y $(BROWSER_PACKAGES)" \
	       "(until then the browser test is skipped)"; \
	else \
	  echo "browser: apt-get install $(BROWSER_PACKAGES) ..."; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends $(BROWSER_PACKAGES) >/dev/null; } || \
	  echo "browser: apt-get failed (offline?); the browser test will be skipped"; \
	fi

# Prometheus's server and promtool (Debian package `prometheus`), installed when missing:
# the deploy/ config test runs promtool, the demo test runs the server. Without root or
# apt-get it says so and those tests are skipped.
prometheus:
	@if command -v prometheus >/dev/null && command -v promtool >/dev/null; then \
	  echo "prometheus: prometheus and promtool are installed"; \
	elif [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "prometheus: missing and this is not root on Debian; run:" \
	       "sudo apt-get install -y --no-install-recommends prometheus" \
	       "(until then the Prometheus tests are skipped)"; \
	else \
	  echo "prometheus: apt-get install prometheus ..."; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends prometheus >/dev/null; } || \
	  echo "prometheus: apt-get failed (offline?); the Prometheus tests will be skipped"; \
	fi

stack: $(STAMP)
	$(BIN)/zjcredit stack up

# The main job: Kafka, PostgreSQL, worker, sink and query service on a synthetic province.
demo: jars
	$(BIN)/zjcredit demo $(DEMO_ARGS)

# The fault tests (tests/faults, marker `faults`) kill brokers of a three-node cluster for
# many minutes; `make test` leaves them to `make test-faults`, and CI runs both.
test: jars browser prometheus
	$(BIN)/pytest -m "not faults" $(PYTEST_ARGS)

test-faults: jars
	$(BIN)/pytest -m faults tests/faults $(PYTEST_ARGS)

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
