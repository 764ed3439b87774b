# Two commands set up everything on a fresh machine:
#   make demo   create .venv, install, train on the real movies data, predict, evaluate
#   make test   create .venv, install with the dev extra, run the test suite, ruff and import-linter
#   make lint   ruff and mypy --strict (mypy is kept out of `make test`: new numpy or pandas stubs
#               can move its verdict without a change here)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
COMPOSE := $(VENV)/bin/compose

.PHONY: demo test lint bench contract clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@echo "installing compose and its dev tools into $(VENV) (log: $(VENV)/install.log)"
	@( $(PY) -m pip install --upgrade pip && $(PY) -m pip install -e '.[dev]' ) > $(VENV)/install.log 2>&1 \
		|| { tail -30 $(VENV)/install.log; echo "install failed: see $(VENV)/install.log"; exit 1; }
	touch $@

demo: $(VENV)/.installed
	rm -rf out/demo-store
	$(COMPOSE) validate schemas/movies.yaml
	$(COMPOSE) plan schemas/movies.yaml
	$(COMPOSE) train schemas/movies.yaml --data examples/movies/movies.csv.gz --store out/demo-store
	$(COMPOSE) predict --store out/demo-store --data examples/movies/new_movies.csv --out out/new_movies.jsonl
	$(PY) examples/show_results.py out/new_movies.jsonl
	$(COMPOSE) evaluate --store out/demo-store --data examples/movies/movies.csv.gz --split holdout --json out/movies_eval.json

test: $(VENV)/.installed
	$(PY) -m pytest -q
	$(PY) -m ruff check compose tests examples benchmarks
	$(VENV)/bin/lint-imports --no-cache

lint: $(VENV)/.installed
	$(PY) -m ruff check compose tests examples benchmarks
	$(PY) -m mypy compose

bench: $(VENV)/.installed
	$(PY) benchmarks/run.py
	$(PY) benchmarks/streaming.py

contract: $(VENV)/.installed
	$(PY) ../shared/contract/check.py --compose $(COMPOSE)

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
