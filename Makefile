# Two commands: `make run` (API with demo data on SQLite) and `make test`.
PYTHON ?= python3
VENV ?= venv
BIN := $(VENV)/bin

.PHONY: run test install install-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -r requirements.txt

install-dev: $(BIN)/python
	$(BIN)/pip install -r requirements-dev.txt

run: install
	DEBUG=$${DEBUG:-True} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-True} $(BIN)/python manage.py create_test_data
	DEBUG=$${DEBUG:-True} $(BIN)/python manage.py runserver 127.0.0.1:8000

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)
