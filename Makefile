# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint vectors bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[server,test]'
	touch $(STAMP)

install: $(STAMP)

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

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
