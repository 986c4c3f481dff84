# The README's two commands: `make book` and `make test`.
# Both create .venv on first use and install the project into it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

# Notebooks always execute in the quick profile here; `full` is for real runs.
export RETINA_TUTORIAL_PROFILE ?= quick
export MPLBACKEND ?= Agg
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: book test clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[book,test]"
	touch $@

book: $(INSTALLED)
	$(BIN)/jupyter-book build . --warningiserror --nitpick
	@echo "Book: $(CURDIR)/_build/html/index.html"

test: $(INSTALLED)
	$(BIN)/python -m pytest tests book --nbval-lax --durations=15

clean:
	rm -rf _build .jupyter_cache
