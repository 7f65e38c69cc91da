# The README's two commands: `make demo` (the main job) and `make test` (lint, types, tests).
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bootstrap bench clean

bootstrap:
	@scripts/bootstrap.sh mbpoll systemd-analyze postgres

demo: bootstrap
	$(BIN)/python scripts/demo.py

lint: bootstrap
	$(BIN)/ruff check protocols edge_agent collector hw_sim tests bench scripts
	$(BIN)/mypy protocols edge_agent collector

test: lint
	$(BIN)/python -m pytest -q

bench: bootstrap
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
