# Codeswarm — `make run` (embedded mode on this machine) and `make test` (the whole suite).
# Everything is set up from a fresh clone: the virtualenv, the Python packages, and (inside the test
# suite) the Debian packages and servers the tests need.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

CODEX_VERSION := 0.169.0
CLAUDE_VERSION := 2.1.197

.PHONY: install codex claude run test lint unit integration slurm compose-check bench clean web-vendor

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## codex: the pinned codex binary (npm, project-local under .tools/codex) for the codex runtime
codex:
	scripts/install_codex.sh $(CODEX_VERSION)

## claude: the pinned Claude Code binary (npm, project-local under .tools/claude) for the claude runtime
claude:
	scripts/install_claude.sh $(CLAUDE_VERSION)

## run: router + mirror (+ web) in one process, SQLite, in-process bus, local provider, mock agents
run: install
	@scripts/install_codex.sh $(CODEX_VERSION) || echo "warning: codex is not installed; codex launches are refused until 'make codex' succeeds" >&2
	@scripts/install_claude.sh $(CLAUDE_VERSION) || echo "warning: claude is not installed; claude launches are refused until 'make claude' succeeds" >&2
	$(BIN)/codeswarm up

## lint: ruff and mypy over the whole tree
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

compose-check:
	scripts/check_compose.sh

## test: lint, compose check, then every test (unit, integration, slurm, e2e)
test: lint compose-check codex claude clients
	$(BIN)/pytest -q -ra

unit: install
	$(BIN)/pytest -q tests/unit

integration: install
	$(BIN)/pytest -q tests/integration

slurm: install
	$(BIN)/pytest -q tests/slurm

## web-vendor: re-fetch the pinned browser libraries (marked, DOMPurify) into web/static/vendor (committed)
web-vendor: install
	$(BIN)/python -m web.vendor

## bench: benchmarks that print figures (never part of pass/fail)
bench: install
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .codeswarm .tools .pytest_cache .mypy_cache .ruff_cache

## openapi: regenerate the committed API descriptions (docs/openapi/*.json, docs/events.schema.json)
.PHONY: openapi
openapi: install
	$(BIN)/python scripts/export_openapi.py

## clients: the pinned TypeScript client tools (openapi-typescript, typescript) under clients/node_modules
.PHONY: clients
clients:
	scripts/install_clients.sh

## fuzz: a bounded schemathesis pass over router and mirror on real Postgres and Redis (FUZZ_MAX_EXAMPLES, FUZZ_SEED)
.PHONY: fuzz
fuzz: install
	$(BIN)/python scripts/fuzz.py
