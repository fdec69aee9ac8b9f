# gisgrid — the two commands of the README are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: help install db demo serve test lint bench browser clean

help:
	@echo "make demo   install, bring up PostGIS, load the demo district, plan its grids, serve API + maps on :8000"
	@echo "make test   install, bring up PostGIS (gisgrid_test), run lint and the whole test suite"
	@echo "make lint   ruff + mypy"
	@echo "make bench  benchmarks/ (writes benchmarks/results/latest.json)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

db: install
	$(BIN)/gisgrid db up

demo: db
	$(BIN)/gisgrid demo
	$(BIN)/gisgrid grids plan --all --publish
	$(BIN)/gisgrid serve

serve: install
	$(BIN)/gisgrid serve

browser:
	bash scripts/ensure_chromium.sh

lint: install
	$(BIN)/ruff check gisgrid layers api tests benchmarks scripts
	$(BIN)/mypy

test: install browser lint
	$(BIN)/gisgrid db up --test
	$(BIN)/pytest

bench: db
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
