# The two commands of the README:
#   make run    train the main job (CONFIG=..., OVERRIDES="key=value ...")
#   make test   run the test suite
# Both create .venv in the repository root when it is missing and install what they need.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= conf/cifar.yaml
OVERRIDES ?=
FASHION_MNIST := /usr/share/datasets/fashion-mnist

.PHONY: run test bench venv fashion-mnist

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

run: venv
	$(VENV)/bin/psn train -c $(CONFIG) $(OVERRIDES)

test: venv fashion-mnist
	$(PY) -m pytest -q

bench: venv
	$(PY) benchmarks/scattering.py
