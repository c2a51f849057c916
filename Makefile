# code-engine: `make run` runs the daemon, `make test` runs the whole suite.
# Both install what is missing first (virtualenv, Docker engine, worker image).

VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)

.PHONY: run test setup venv docker compose image images daemon-image lint docs docs-build reference unit integration deploy hostile gvisor bench tui clean

# gVisor's runsc is installed and registered when the daemon is to use it.
ifeq ($(CODE_ENGINE_RUNTIME),runsc)
export WITH_RUNSC := 1
endif

run: setup
	$(BIN)/code-engine serve

# The whole suite on Docker's default runtime, then the gVisor pass.
test: setup lint docs-build
	$(BIN)/pytest -q -p no:cacheprovider
	$(MAKE) gvisor

setup: venv docker compose image

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV) || { apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

docker:
	bash scripts/ensure-docker.sh

# docker compose (v2 plugin) or docker-compose: installs Debian's package when neither exists.
compose:
	bash scripts/ensure-compose.sh >/dev/null

image: venv docker
	$(BIN)/code-engine build-image

# Every image docker-compose.yml runs (worker, daemon, NATS), built offline from
# the Debian base and a wheelhouse made here; those up to date are not rebuilt.
images: venv docker
	BIN=$(BIN) bash scripts/build-images.sh

daemon-image: images

bench: setup
	$(BIN)/python -m benchmarks.bench
	$(BIN)/python -m benchmarks.warm
	$(BIN)/python -m benchmarks.languages

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The documentation site (mkdocs.yml, docs/): `make docs` serves it on
# 127.0.0.1:8000; docs-build writes it to site/ and fails on a broken link or
# anchor, a missing page or a page left out of the navigation (not --quiet: it
# would hide the warnings strict mode fails on). Neither needs a network.
docs docs-build: export NO_MKDOCS_2_WARNING := 1
docs: venv
	$(BIN)/mkdocs serve

docs-build: venv
	$(BIN)/mkdocs build --strict

# Rewrite the generated reference pages (docs/reference/) from the code;
# tests/unit/test_docs_reference.py fails when they are out of date.
reference: venv
	$(BIN)/python scripts/gen_reference.py

unit: venv
	$(BIN)/pytest -q tests/unit

integration: setup
	$(BIN)/pytest -q tests/integration

deploy: setup
	$(BIN)/pytest -q tests/deploy

hostile: setup
	$(BIN)/pytest -q tests/hostile

# The hostile suite and the smoke tests again, every worker under gVisor (runsc
# is installed and registered first): where gVisor's kernel answers otherwise,
# tests/hostile/hostile_support.py says what it must answer, and why.
gvisor: export CODE_ENGINE_RUNTIME := runsc
gvisor: export WITH_RUNSC := 1
gvisor: setup
	$(BIN)/pytest -q -p no:cacheprovider tests/hostile tests/integration -m "hostile or smoke"

tui: venv
	$(BIN)/code-engine tui

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache site
