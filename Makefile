# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install booth demo test lint vectors bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[server,test]'
	touch $(STAMP)

# The web booth's bundle, built reproducibly from ballot_server/booth (npm ci, then esbuild).
BOOTH := ballot_server/booth
BOOTH_JS := ballot_server/static/booth.js

$(BOOTH)/node_modules/.package-lock.json: $(BOOTH)/package-lock.json
	cd $(BOOTH) && npm ci --no-audit --no-fund

$(BOOTH_JS): $(BOOTH)/node_modules/.package-lock.json $(BOOTH)/build.mjs $(wildcard $(BOOTH)/src/*.js) $(wildcard ballot_server/static/i18n/*.json)
	cd $(BOOTH) && node build.mjs

booth: $(BOOTH_JS)

install: $(STAMP) booth

demo: install
	$(BIN)/python -m cli.main demo --voters 50 --out demo-out

lint: install
	$(BIN)/ruff check .

test: install lint
	bash scripts/with-postgres.sh $(BIN)/python -m pytest -n 2 -q

vectors: install
	$(BIN)/python tools/make_vectors.py
	$(BIN)/python tools/make_merkle_vectors.py

bench: install
	$(BIN)/python bench/crypto.py
	$(BIN)/python bench/booth.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
