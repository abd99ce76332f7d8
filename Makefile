# The two commands a newcomer runs: `make demo` and `make test`. Both set everything up themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow install clean bench

$(BIN)/python:
	$(PY) -m venv $(VENV)

# torch first, pinned to the CPU wheel on disk: a bare `torch` would pull a multi-GB CUDA build.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e ".[rl,test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/asru demo

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

# the end-to-end recipe checks kept out of `make test` (minutes each; the full-size runs are benchmarks/)
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q tests -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/finetune.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

# Every method x setting x seed (hours on 2 CPU cores; resumable: run it again after an interruption).
# `make bench-tradeoff ARGS=--quick` for the CI-sized check, ARGS="--methods asru,npo --seeds 0" to restrict.
.PHONY: bench-tradeoff
bench-tradeoff: $(STAMP)
	$(BIN)/python benchmarks/tradeoff.py $(ARGS)
