# `make run` and `make test` each work from a fresh clone: they create .venv and install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
# `make lock` runs this uv; UPGRADE="--upgrade" moves every pin, UPGRADE="--upgrade-package NAME" one
UV_VERSION := 0.13.10
UPGRADE ?=

.PHONY: run test bench install lint lock clean messages

# Every package at the version and with the hashes in requirements.lock (nothing resolved here, so every
# clone gets the same files), then denhub itself on top, editable, without its dependencies.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/denhub db upgrade
	$(BIN)/denhub demo --if-empty
	$(BIN)/denhub serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist worksteal $(PYTEST_ARGS)

# ruff, then the import contracts in pyproject.toml; both run, so one report shows every failure
lint: $(STAMP)
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/lint-imports --no-cache || status=1; \
	exit $$status

# requirements.lock from pyproject.toml (the app, its test and lint extras), for every platform and Python
# 3.11 and later; pins that still satisfy pyproject.toml are kept unless UPGRADE says otherwise
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'uv==$(UV_VERSION)'
	$(BIN)/uv pip compile pyproject.toml --extra test --extra lint --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command 'make lock' $(UPGRADE) -o requirements.lock >/dev/null

# The strings to translate, from the code and templates (babel.cfg), into locales/messages.pot, then merged into
# every locales/<code>/LC_MESSAGES/messages.po (new ones empty, changed ones fuzzy: translate them; the catalogues
# are compiled when denhub starts, so there is no compile step). NEW_LANGUAGE=xx starts a new language's catalogue.
MESSAGE_SOURCES := kernel events ticketing judging denhub templates
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-wrap --add-location=file --sort-by-file \
		--project denhub --copyright-holder "denhub" -o locales/messages.pot $(MESSAGE_SOURCES)
	@if [ -n "$(NEW_LANGUAGE)" ]; then $(BIN)/pybabel init --no-wrap -i locales/messages.pot -d locales -l $(NEW_LANGUAGE); fi
	$(BIN)/pybabel update --no-wrap --ignore-obsolete -i locales/messages.pot -d locales

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache
