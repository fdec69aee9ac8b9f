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

# The unit tests run first with the database URLs pointing at a closed port: the core needs no PostgreSQL.
CLOSED_DB := postgresql+psycopg2://nobody@127.0.0.1:9/no_database

test: install browser lint
	GISGRID_DATABASE_URL=$(CLOSED_DB) GISGRID_TEST_DATABASE_URL=$(CLOSED_DB) $(BIN)/pytest tests/unit
	$(BIN)/gisgrid db up --test
	$(BIN)/pytest --ignore=tests/unit

bench: db
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
