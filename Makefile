# Two commands set up everything on a fresh machine:
#   make demo   create .venv, install, train on the real movies data, predict, evaluate
#   make test   create .venv, install with the dev extra, run the test suite, ruff, import-linter and
#               build the manual (mkdocs build --strict)
#   make docs   build the manual into site/ (open site/index.html)
#   make fuzz   the fuzz tests (tests/system/test_fuzz.py) with 50 times CI's examples
#   make lint   ruff and mypy --strict (mypy is kept out of `make test`: new numpy or pandas stubs
#               can move its verdict without a change here)
#   make e2e    install Label Studio into its own venv (.e2e-venv) and run compose as its ML backend
#               against a real Label Studio on 127.0.0.1 (tests/system/test_labelstudio_e2e.py)
#   make docs-screenshot  retake docs/labelstudio-preannotations.png (headless Chromium)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
COMPOSE := $(VENV)/bin/compose

.PHONY: demo emoji test lint docs bench contract fuzz e2e e2e-venv docs-screenshot clean

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

# The image example: fetch the emoji images from the npm registry at set-up time (74 MB, into out/),
# write examples/emoji/emoji.csv, then train (model: auto per group), predict and evaluate.
EMOJI_PKG := out/emoji-src/package
$(EMOJI_PKG)/emoji.json:
	mkdir -p out/emoji-src
	cd out && npm pack emoji-datasource-google@16.0.0
	tar xzf out/emoji-datasource-google-16.0.0.tgz -C out/emoji-src

emoji: $(VENV)/.installed $(EMOJI_PKG)/emoji.json
	$(PY) examples/emoji/prepare.py --package $(EMOJI_PKG) --out examples/emoji/emoji.csv
	rm -rf out/emoji-store
	$(COMPOSE) validate examples/emoji/emoji.yaml
	$(COMPOSE) train examples/emoji/emoji.yaml --data examples/emoji/emoji.csv --store out/emoji-store
	$(COMPOSE) predict --store out/emoji-store --data examples/emoji/new_emoji.csv --out out/emoji_predictions.jsonl
	$(PY) examples/show_results.py out/emoji_predictions.jsonl 12
	$(COMPOSE) evaluate --store out/emoji-store --data examples/emoji/emoji.csv --split holdout --json out/emoji_eval.json
	$(COMPOSE) versions --store out/emoji-store --group skin_tone

test: $(VENV)/.installed
	$(PY) -m pytest -q
	$(PY) -m ruff check compose tests examples benchmarks docs/_hooks
	$(VENV)/bin/lint-imports --no-cache
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet

# The manual: MkDocs (Material theme) over docs/, the home page from README.md, the CLI and Python
# API references generated from the parsers and docstrings by docs/_hooks/reference.py. Offline.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

lint: $(VENV)/.installed
	$(PY) -m ruff check compose tests examples benchmarks docs/_hooks
	$(PY) -m mypy compose

bench: $(VENV)/.installed
	$(PY) benchmarks/run.py
	$(PY) benchmarks/samples.py
	$(PY) benchmarks/export.py
	$(PY) benchmarks/serve.py
	$(PY) benchmarks/streaming.py

contract: $(VENV)/.installed
	@if [ -f ../shared/contract/check.py ]; then $(PY) ../shared/contract/check.py --compose $(COMPOSE); \
	else echo "make contract: skipped: ../shared/contract/check.py is not here (it lives in the project's workspace beside the clone, not in the repository)"; fi

# The fuzz tests with 50 times the examples CI runs, each run exploring new ones (about 30-50 minutes).
fuzz: $(VENV)/.installed
	COMPOSE_FUZZ_SCALE=50 $(PY) -m pytest -q tests/system/test_fuzz.py -p no:randomly

# Label Studio pins older numpy, pyarrow and python-dateutil than compose: it lives in a venv of its
# own, so its pins never touch $(VENV). The test starts it on a free loopback port with SQLite under
# pytest's temporary folder (a first start migrates a new database: about two minutes on 2 cores).
E2E_VENV := .e2e-venv
E2E_PINS := 'label-studio==1.23.*' 'label-studio-sdk==2.1.*'
# new pins, a new stamp's name: a fresh venv
E2E_STAMP := $(E2E_VENV)/.installed-label-studio-1.23-sdk-2.1

$(E2E_STAMP):
	rm -rf $(E2E_VENV)
	$(PYTHON) -m venv $(E2E_VENV)
	@echo "installing Label Studio into $(E2E_VENV) (log: $(E2E_VENV)/install.log)"
	@( $(E2E_VENV)/bin/python -m pip install --upgrade pip && $(E2E_VENV)/bin/python -m pip install $(E2E_PINS) ) \
		> $(E2E_VENV)/install.log 2>&1 \
		|| { tail -30 $(E2E_VENV)/install.log; echo "install failed: see $(E2E_VENV)/install.log"; exit 1; }
	touch $@

e2e-venv: $(E2E_STAMP)

e2e: $(VENV)/.installed $(E2E_STAMP)
	LABEL_STUDIO_BIN=$(CURDIR)/$(E2E_VENV)/bin/label-studio LABEL_STUDIO_PYTHON=$(CURDIR)/$(E2E_VENV)/bin/python \
		$(PY) -m pytest -q -p no:randomly -rs tests/system/test_labelstudio_e2e.py

# The screenshot of docs/labelstudio.md (docs/labelstudio-preannotations.png): Label Studio showing
# compose's pre-annotations, taken by headless Chromium (Playwright in $(E2E_VENV), driving Debian's
# `chromium` package: apt-get install chromium; or set CHROMIUM to another Chromium executable).
CHROMIUM ?= /usr/bin/chromium
docs-screenshot: $(VENV)/.installed $(E2E_STAMP)
	$(E2E_VENV)/bin/python -m pip install -q playwright
	CHROMIUM=$(CHROMIUM) LABEL_STUDIO_BIN=$(CURDIR)/$(E2E_VENV)/bin/label-studio \
		LABEL_STUDIO_PYTHON=$(CURDIR)/$(E2E_VENV)/bin/python $(PY) tests/labelstudio/screenshot.py

clean:
	rm -rf $(VENV) $(E2E_VENV) out site .pytest_cache .mypy_cache .ruff_cache
