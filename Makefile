# The two commands of the README:
#   make run    train the main job (CONFIG=..., OVERRIDES="key=value ...")
#   make test   run the test suite (lint first: make lint)
# Also: make test-fast (no real processes, for the edit loop), make lint, make format, make docs (the site).
# Both create .venv in the repository root when it is missing and install what they need.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= conf/cifar.yaml
OVERRIDES ?=
FASHION_MNIST := /usr/share/datasets/fashion-mnist

.PHONY: run test test-fast lint format docs bench venv fashion-mnist test-tools

venv: $(VENV)/.installed

$(VENV)/.installed: dependencies/requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r dependencies/requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Debian's packaged Fashion-MNIST, used by the real-data test (best effort: needs apt and root).
fashion-mnist:
	@test -d $(FASHION_MNIST) || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		(apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
		 (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist))) || \
		echo "note: $(FASHION_MNIST) is not installed; the real-data test will be skipped"

# What some process tests use from Debian (best effort: needs apt and root): PostgreSQL's server (a tracking server on
# a database), libfaketime (a machine whose clock is off) and headless Chromium (the browser test of the MLflow UI,
# and the docs' screenshot). Where missing, those tests skip and say why (CI sets PSN_REQUIRE_* to fail instead).
test-tools:
	@missing=""; ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v faketime >/dev/null || missing="$$missing faketime"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	[ -z "$$missing" ] || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null 2>&1 || \
		 (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing))) || \
		echo "note: not installed:$$missing; the tests that need them will be skipped"

run: venv
	$(VENV)/bin/psn train -c $(CONFIG) $(OVERRIDES)

# Three pytest workers on two cores: the real-process tests spend most of their time waiting on their processes.
test: venv fashion-mnist test-tools
	$(PY) -m pytest -q -n 3 --durations=15

# Unit tests only (no psn processes, sweep workers, Ray or servers, no real-data training): the edit loop.
test-fast: venv fashion-mnist
	$(PY) -m pytest -q -n 2 -m "not process and not slow"

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The documentation site (docs/_build/html): the command outputs the pages show are captured first by running
# the commands (docs/capture.py, into docs/_build/captured), then Sphinx builds strictly: a warning, a broken
# cross-reference or a missing include fails (-W -n), after reporting every one (--keep-going); -E: a fresh
# environment, so pages that did not change are checked again too.
docs: venv fashion-mnist test-tools
	$(PY) docs/capture.py
	$(PY) -m sphinx -E -W --keep-going -n -q -b html docs docs/_build/html

bench: venv
	$(PY) benchmarks/scattering.py
