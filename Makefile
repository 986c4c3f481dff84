# The README's two commands: `make book` and `make test`.
# Both create .venv on first use and install the project into it.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# TensorFlow logs from C++ straight to stderr; ipykernel 7 would put those lines
# in the book's pages. The book's kernels send them to the build log instead.
KERNEL_CONFIG := $(VENV)/etc/ipython/ipython_kernel_config.py

# Notebooks execute in the quick profile unless RETINA_TUTORIAL_PROFILE says
# otherwise. Jupyter Book caches outputs by notebook content only: run
# `make clean` after changing the profile or RETINA_TUTORIAL_DATA.
export RETINA_TUTORIAL_PROFILE ?= quick
export MPLBACKEND ?= Agg
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: book test clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[book,test]"
	touch $@

$(KERNEL_CONFIG): | $(INSTALLED)
	mkdir -p $(dir $@)
	echo "c.IPKernelApp.capture_fd_output = False" > $@

book: $(INSTALLED) $(KERNEL_CONFIG)
	$(BIN)/jupyter-book build . --warningiserror --nitpick
	@echo "Book: $(CURDIR)/_build/html/index.html"

test: $(INSTALLED)
	$(BIN)/python -m pytest tests book --nbval-lax --durations=15

clean:
	rm -rf _build .jupyter_cache
