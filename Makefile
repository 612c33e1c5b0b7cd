# Two commands: `make run` (API with demo data on SQLite) and `make test`.
#   make run PORT=8001                   another port (default 8000)
#   make test PYTEST_ARGS='-k checkout'  extra pytest arguments
PYTHON ?= python3
VENV ?= venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test install install-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamps in the virtualenv: packages are installed again only when a
# requirements file changes (or the virtualenv is new).
$(VENV)/.installed-runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -r requirements-dev.txt
	touch $@ $(VENV)/.installed-runtime

install: $(VENV)/.installed-runtime

install-dev: $(VENV)/.installed-dev

# First run only: a development .env (DEBUG=True, a fresh SECRET_KEY) from
# .env.example, so that `venv/bin/python manage.py ...` works as typed. An
# existing .env is never touched.
.env: | $(BIN)/python
	sed -e 's|^DEBUG=.*|DEBUG=True|' \
	    -e "s|^SECRET_KEY=.*|SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')|" \
	    .env.example > .env.tmp
	mv .env.tmp .env
	@echo "Created .env for development (DEBUG=True); edit it to add Stripe and Clerk keys."

run: install .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py create_test_data
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)
