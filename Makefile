# The two commands of the README: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
PYTEST_ARGS ?=
# Every extra: `make run` and `make test` need them all (pip install sentinel-board is the server).
EXTRAS := dev,bench,plot,tls

REDIS := redis-server=redis-server redis-sentinel=redis-sentinel
BROWSER := chromium=chromium
LOAD := wrk=wrk redis-benchmark=redis-tools

.PHONY: FORCE run test lint bench redis browser docker compose-config compose-up compose-down compose-test clean

# The virtualenv is made again when PYTHON names another interpreter than the one it has.
$(STAMP): pyproject.toml $(if $(filter $(PYTHON),$(shell cat $(VENV)/.python 2>/dev/null)),,FORCE)
	@command -v $(PYTHON) >/dev/null || \
	  { echo "$(PYTHON) is not found: install it, or set PYTHON to another (python3.11 or newer)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "$(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); 3.11 or newer is needed: set PYTHON=python3.x" >&2; exit 1; }
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[$(EXTRAS)]'
	@echo '$(PYTHON)' > $(VENV)/.python
	@touch $@

FORCE:

redis:
	@scripts/ensure-commands $(REDIS)

# The browser tests drive Debian's Chromium; Playwright never downloads one. Without it (and
# no way to install it) they are skipped, saying so: the rest of the suite runs.
browser:
	@scripts/ensure-commands $(BROWSER) || echo "Chromium is missing: the browser tests will be skipped" >&2

run: $(STAMP) redis
	$(BIN)/sentinel-board up $(ARGS)

test: $(STAMP) redis browser
	$(BIN)/pytest $(PYTEST_ARGS)

# Our app and the reference peer (bench/peers/seed_flask) side by side, driven by wrk.
bench: $(STAMP) redis
	@scripts/ensure-commands $(LOAD)
	$(BIN)/python -m bench.run $(ARGS)

# The node configs and app settings compose.yaml reads (deploy/compose/, never committed).
compose-config: $(STAMP)
	$(BIN)/sentinel-board render-config --compose

# Docker Compose, for real: an engine (started if none answers, as root), images (the official
# ones, or built from Debian's packages when no registry answers), the project, its /readyz.
docker:
	@scripts/ensure-docker

compose-up: $(STAMP) docker
	$(BIN)/sentinel-board compose up $(ARGS)

# Stops what compose-up started, the engine too if it started one; ARGS=--purge: the volumes.
compose-down: $(STAMP)
	$(BIN)/sentinel-board compose down $(ARGS)

# The deployment in real containers, broken on purpose (tests/compose); everything removed after.
compose-test: $(STAMP) docker
	$(BIN)/pytest --compose tests/compose $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
