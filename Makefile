# cutru — the two commands: `make demo` and `make test`. Each sets itself up (venv + install) on a bare machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test up down worker migrate seed lint bench chaos schemas clean

$(STAMP): pyproject.toml local/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,local]' -e ./local
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) -m cutru_local.demo

test: install
	$(PY) -m pytest

up: install
	$(PY) -m cutru_local.stack up

down: install
	$(PY) -m cutru_local.stack down

worker: up
	$(PY) worker.py

migrate: up
	$(PY) -m cutru.platform.db.migrate

seed: up
	$(PY) -m cutru_local.seed --people 100000

bench: install
	$(PY) -m bench.run

chaos: install
	$(PY) -m chaos.run

schemas: install
	$(PY) -m cutru.clients.schemas

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

clean: down
	rm -rf .cutru
