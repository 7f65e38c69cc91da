# The README's two commands: `make demo` (the main job) and `make test` (lint, types, tests).
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test soak lint bootstrap bench clean

bootstrap:
	@scripts/bootstrap.sh mbpoll systemd-analyze postgres chromium tmux

demo: bootstrap
	$(BIN)/python scripts/demo.py

lint: bootstrap
	$(BIN)/ruff check protocols edge_agent collector hw_sim tests bench scripts
	$(BIN)/mypy protocols edge_agent collector

test: lint
	$(BIN)/python -m pytest -q -m "not slow"

# The long tests (@pytest.mark.slow): the whole-system soak in tests/soak/ (docs/soak.md).
soak: bootstrap
	$(BIN)/python -m pytest -q -s -m slow

bench: bootstrap
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
