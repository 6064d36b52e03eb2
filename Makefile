# ClientsFlow: `make run` (embedded default) and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_LEADS ?= 300
# One pytest worker per core (pytest-xdist); an idle worker takes tests from the busy one, so a
# slow file (backups, the soak) does not leave the other core waiting. The slowest are listed.
PYTEST_ARGS ?= -n auto --dist worksteal --durations=15

.PHONY: run test bench soak deps lint migrate worker beat clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NPM_STAMP)

deps: $(STAMP) $(NPM_STAMP)

migrate: deps
	$(PY) manage.py migrate --noinput -v 0

run: migrate
	@$(PY) manage.py seed_demo --leads $(DEMO_LEADS) --if-empty
	@$(PY) manage.py ensure_owner
	@echo ""
	@echo "  ClientsFlow is starting on http://$(HOST):$(PORT)/  (board: /board/, admin: /admin/)"
	@cat var/owner_login.txt
	@echo ""
	DEBUG=$${DEBUG:-1} $(PY) manage.py runembedded $(HOST):$(PORT)

lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

# pytest exits 5 when a selection collects no test: that is not a failure of the suite.
test: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy
	$(PY) manage.py makemigrations --check --dry-run -v 0
	$(VENV)/bin/pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests selected"; exit 0; fi; exit $$rc

bench: migrate
	$(PY) manage.py bench

# A private database (soak_<pid>, dropped afterwards) on this PostgreSQL server, and a private Redis
# db (never 0): gunicorn, a Celery worker and Beat on 127.0.0.1 under load, then the books are checked.
soak: migrate
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres} REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/11} \
		$(PY) -m tools.soak --seconds $${SOAK_SECONDS:-60}

worker: deps
	$(VENV)/bin/celery -A clientsflow worker --loglevel=INFO

beat: deps
	$(VENV)/bin/celery -A clientsflow beat --loglevel=INFO

clean:
	rm -rf $(VENV) node_modules var staticfiles artifacts
