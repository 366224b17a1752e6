# OnceOnly: two commands from a fresh clone — `make demo` and `make test`.
# Prerequisites: Python >= 3.11, Java 17 and Maven. Everything else is installed here.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
PYTEST := $(BIN)/python -m pytest

export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export GX_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

.PHONY: setup demo test test-unit test-contract test-integration test-e2e lint typecheck audit-deps clean

setup: $(STAMP) .cache/kafka/libs/.complete-3.9.2

$(STAMP): requirements/lock.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is required" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements/lock.txt
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

.cache/kafka/libs/.complete-3.9.2: localinfra/kafka-pom.xml | $(STAMP)
	$(BIN)/python -c "from localinfra.kafka_broker import ensure_jars; print('Kafka jars in', ensure_jars())"

demo: setup
	$(BIN)/onceonly demo

test: setup
	$(PYTEST) tests

test-unit: setup
	$(PYTEST) tests/unit

test-contract: setup
	$(PYTEST) tests/contract

test-integration: setup
	$(PYTEST) tests/integration

test-e2e: setup
	$(PYTEST) tests/e2e

lint: setup
	$(BIN)/ruff check .

# pip-audit on the pinned requirements: fails on a known vulnerability; says NOT AUDITED (and passes,
# unless ONCEONLY_REQUIRE_AUDIT=1) where its vulnerability service cannot be reached
audit-deps: setup
	$(BIN)/python .ci/audit_deps.py requirements/lock.txt

# mypy --strict on every package: the hub's, the benchmarks and the tests
typecheck: setup
	$(BIN)/mypy core schemas services api connectors flows onceonly store streams kafka_adapter localinfra simulators metrics bench tests

lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements/lock.txt

clean:
	rm -rf $(VENV) .cache var
