# Common Purse: `make run` serves the demo on SQLite; `make test` runs the whole suite.
# Both install exactly the locked versions (requirements/*.txt, with hashes); `make upgrade`
# re-locks to the newest versions and runs the suite, as a change of its own.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
# One universal lock (every platform and Python >= 3.11) per set of extras.
LOCK := $(BIN)/uv pip compile pyproject.toml requirements/build.in --universal \
	--python-version 3.11 --generate-hashes --quiet

.PHONY: run test lint typecheck bench lock upgrade clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# --require-hashes: a wheel that is not byte for byte the locked one is refused.
# --no-build-isolation: the project builds with the locked setuptools, fetching nothing.
$(STAMP): requirements/run.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements/run.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	rm -f $(TEST_STAMP)
	touch $@

$(TEST_STAMP): requirements/test.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements/test.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@ $(STAMP)

run: $(STAMP)
	$(BIN)/commonpurse db upgrade
	$(BIN)/commonpurse demo
	$(BIN)/commonpurse serve --host 127.0.0.1 --port 8000

test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(TEST_STAMP)
	$(BIN)/python -m bench

# Re-lock after a change of pyproject.toml's dependencies, keeping every other pin.
lock: $(TEST_STAMP)
	$(LOCK) -o requirements/run.txt
	$(LOCK) --extra test -o requirements/test.txt

# Re-lock everything to the newest versions, install them and run the whole suite: review
# the diff of requirements/ and commit it on its own.
upgrade: $(TEST_STAMP)
	$(LOCK) --upgrade -o requirements/run.txt
	$(LOCK) --upgrade --extra test -o requirements/test.txt
	$(MAKE) test

clean:
	rm -rf $(VENV) var/commonpurse.db*
