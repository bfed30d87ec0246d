# Two commands for a new user: `make demo` and `make test`. Every target sets up .venv first
# (once; later runs only re-install when pyproject.toml changed).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.archy-installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

CHROMIUM := /usr/bin/chromium
DOT      := /usr/bin/dot
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install home chromium graphviz demo test bench ui lint format clean

install: $(STAMP)

# The Dagster instance lives in DAGSTER_HOME and reads its dagster.yaml from there.
home:
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

$(STAMP): pyproject.toml simulator/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./simulator -e '.[dev]'
	@touch $(STAMP)

demo: install home graphviz
	$(BIN)/archy-pipeline demo

# The browser test drives Debian's Chromium (no browser download): install it when missing.
chromium:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	  chromium fonts-liberation; }

# The report lays out its system map and draws its static SVG with Debian's Graphviz (dot).
graphviz:
	@test -x $(DOT) || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	  graphviz; }

# Two workers for the two cores (pytest-xdist); `make test XDIST=` runs in one process.
# loadgroup keeps the tests of each shared session warehouse on one worker (tests/conftest.py).
XDIST ?= -n 2 --dist loadgroup
# Test files (DuckDB warehouses, Dagster's SQLite instances) live in memory when there is a
# tmpfs: a SQLite commit waits ~10 ms for the disk here, under 1 ms in memory.
TEST_TMPDIR ?= $(shell test -d /dev/shm -a -w /dev/shm && echo /dev/shm || echo $${TMPDIR:-/tmp})

test: install chromium graphviz
	TMPDIR=$(TEST_TMPDIR) $(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

# The pipeline benchmark: `archy-pipeline sync` in child processes against the simulator at
# 200 and 1,000 recipes (about 20 minutes on this shared box), bounded by --max-minutes; it
# rewrites its section of bench/RESULTS.md, bench/pipeline.png and bench/pipeline.json.
# Larger workspaces, e.g.:
#   make bench BENCH_ARGS="--sizes 200 1000 5000 --max-minutes 150"
# Then one full sync under cProfile (PROFILE_ARGS, default 1,000 recipes) rewrites the
# section "Profile" of bench/RESULTS.md with the functions that cost most.
BENCH_ARGS ?=
PROFILE_ARGS ?= --recipes 1000

bench: install graphviz
	$(BIN)/python bench/bench_pipeline.py $(BENCH_ARGS)
	$(BIN)/python bench/profile_pipeline.py $(PROFILE_ARGS)

ui: install home
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) data .dagster_home .pytest_cache .ruff_cache *.egg-info
