# cutru — the two commands: `make demo` and `make test`. Each sets itself up (venv + install) on a bare machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

# requirements/dev.txt: the runtime, local and dev dependencies with their hashes (`make lock` writes it and
# requirements/runtime.txt, the image's); the two projects are installed on top of it without resolving anything.
LOCK := requirements/dev.txt
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	$(if $(UPGRADE),--upgrade)
BUILD_REQUIRES = $(PY) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")'

.PHONY: install lock demo test e2e up down worker migrate seed lint bench chaos fuzz-api schemas clean

$(STAMP): $(LOCK) pyproject.toml local/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@# Metadata an older editable install left in the tree would shadow the installed one on pytest's path.
	rm -rf *.egg-info local/*.egg-info
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . -e ./local
	touch $(STAMP)

install: $(STAMP)

# Regenerate both lock files after a change to pyproject.toml's dependencies (UPGRADE=1: newest versions allowed).
lock: install
	$(BUILD_REQUIRES) | $(UV_COMPILE) --extra local --extra dev pyproject.toml - -o $(LOCK)
	$(BUILD_REQUIRES) | $(UV_COMPILE) -c $(LOCK) pyproject.toml - -o requirements/runtime.txt

# The `cutru` console command; cutru-local adds `stack`, `demo` and `seed` to it.
CUTRU := $(VENV)/bin/cutru
# Targets that talk to the local stack read the addresses that `stack up` wrote (sh syntax).
STACK_ENV := $(abspath $(or $(CUTRU_STATE_DIR),.cutru))/env
WITH_STACK = set -a && . $(STACK_ENV) && set +a &&

demo: install
	$(CUTRU) demo

# Two workers: the suite mostly waits (dev servers, timers, browsers), so a second one helps even on two cores.
test: install
	$(PY) -m pytest -n 2

# The web desk end to end in Debian's chromium (docs/desk.md); the screenshots the tests take become docs/desk/*.png.
e2e: install
	CUTRU_DESK_SCREENSHOTS=docs/desk $(PY) -m pytest tests/e2e

up: install
	$(CUTRU) stack up

down: install
	$(CUTRU) stack down

worker: up
	$(WITH_STACK) $(CUTRU) worker

migrate: up
	$(WITH_STACK) $(CUTRU) migrate

seed: up
	$(CUTRU) seed --people 100000

bench: install
	$(PY) -m bench.run

chaos: install
	$(PY) -m chaos.run

# schemathesis against the committed OpenAPI on the local stack (started if it is not): at least 5,000 requests;
# the last line `N requests, M server errors, K schema violations`, 0 and 0 to pass (docs/api-fuzzing.md).
fuzz-api: up
	$(WITH_STACK) $(PY) -m cutru_local.fuzz --requests 5000

schemas: install
	$(CUTRU) schemas

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .

clean: install
	$(CUTRU) stack down --delete
