# Two entry points, both self-contained on a fresh machine:
#   make run   - set up the environment, then the main job (the agent against the baselines and oracle_lp)
#   make test  - set up the environment, start a throwaway PostgreSQL, run the test suite, stop it
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/gaelp run

test: $(STAMP)
	bash scripts/test.sh

bench: $(STAMP)
	$(BIN)/gaelp bench

clean:
	rm -rf $(VENV) .pg runs .pytest_cache .hypothesis
