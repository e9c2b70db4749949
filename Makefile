# Two entry points, both self-contained on a fresh machine:
#   make run   - set up the environment, then the main job (the agent against the baselines and oracle_lp)
#   make test  - set up the environment, start a throwaway PostgreSQL, run the test suite, stop it
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench venv lock clean

# Every dependency is installed at the version requirements.lock pins (what CI tested), then the
# project itself without resolving anything again.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# After changing a dependency in pyproject.toml: pin the whole tree again (pip-tools; a pip-readable file).
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --extra dev --extra ray --strip-extras --no-emit-index-url --no-emit-find-links \
		--output-file requirements.lock pyproject.toml

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/gaelp run

test: $(STAMP)
	bash scripts/test.sh

bench: $(STAMP)
	$(BIN)/gaelp bench

clean:
	rm -rf $(VENV) .pg runs .pytest_cache .hypothesis
