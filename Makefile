# The README's two commands: `make book` and `make test`.
# Both create .venv on first use and install the project into it.
# `make test-lowest` runs the package's tests again in .venv-lowest, made from
# the oldest versions pyproject.toml accepts; `make test-synthetic` runs the
# notebooks on the synthetic set. CI runs both after `make test`.
# Tests run on WORKERS processes (pytest-xdist, 2 by default: CI's cores);
# each takes whole files, so a notebook's cells run in order in one kernel and
# a module's fixtures are made once. The longest files are handed out first
# (conftest.py orders them). `make test WORKERS=0` runs them in one
# process (for --pdb).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LOWEST_VENV ?= .venv-lowest
LOWEST_PINS := .ci/lowest-requirements.txt
# TensorFlow logs from C++ straight to stderr; ipykernel 7 would put those lines
# in the book's pages. The book's kernels send them to the build log instead.
KERNEL_CONFIG := $(VENV)/etc/ipython/ipython_kernel_config.py

# Notebooks execute in the quick profile unless RETINA_TUTORIAL_PROFILE says
# otherwise. Jupyter Book caches outputs by notebook content only: run
# `make clean` after changing the profile or RETINA_TUTORIAL_DATA.
export RETINA_TUTORIAL_PROFILE ?= quick
export MPLBACKEND ?= Agg
export TF_CPP_MIN_LOG_LEVEL ?= 2

WORKERS ?= 2
PYTEST := -m pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder

# Python keeps the bytecode of what it imports. Where PYTHONDONTWRITEBYTECODE
# is set (CI's machines set it) and the installer wrote none (uv does not),
# every new process, a notebook's kernel or a graded submission, would compile
# TensorFlow and Keras from source again: 6 s each.
unexport PYTHONDONTWRITEBYTECODE

# Environments are made with venv and pip, or with uv when UV names its
# program (CI does: same requirements, minutes faster). $(1) is the folder.
UV ?=
ifeq ($(UV),)
new_venv = $(PYTHON) -m venv $(1) && $(1)/bin/python -m pip install --upgrade pip
install_into = $(1)/bin/python -m pip install
else
new_venv = $(UV) venv --seed --allow-existing --quiet --python $(PYTHON) $(1)
install_into = VIRTUAL_ENV=$(1) $(UV) pip install
endif

.PHONY: book test test-synthetic test-lowest test-without-tensorflow clean

# The Try it page's runtime, onnxruntime-web, from npm at the version
# package-lock.json pins (no install scripts: the runtime needs none).
# make book copies its files into the site (book/_ext/try_it.py), and the
# browser tests serve them.
NODE_MODULES := node_modules/.package-lock.json
$(NODE_MODULES): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

$(INSTALLED): pyproject.toml
	$(call new_venv,$(VENV))
	$(call install_into,$(VENV)) -e ".[keras,onnx,book,test,course]"
	touch $@

$(KERNEL_CONFIG): | $(INSTALLED)
	mkdir -p $(dir $@)
	echo "c.IPKernelApp.capture_fd_output = False" > $@

STUDENT_ZIP := book/_static/generated/retina-unet-book-student.zip

book: $(INSTALLED) $(KERNEL_CONFIG) $(NODE_MODULES)
	$(BIN)/retina-tutorial course --out _build/course --student-zip $(STUDENT_ZIP)
	$(BIN)/jupyter-book build . --warningiserror --nitpick
	@echo "Book: $(CURDIR)/_build/html/index.html"

test: $(INSTALLED) $(NODE_MODULES)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python $(PYTEST) book tests retina_tutorial --nbval-lax --durations=15

# The notebooks again on the synthetic set, which the published book uses when
# no DRIVE is configured: its prose must be true there too (conftest.py).
test-synthetic: $(INSTALLED)
	env -u RETINA_TUTORIAL_DATA -u RETINA_TUTORIAL_OWN_DATA $(BIN)/python $(PYTEST) book --nbval-lax --durations=5

$(LOWEST_VENV)/.installed: pyproject.toml $(LOWEST_PINS)
	rm -rf $(LOWEST_VENV)
	$(call new_venv,$(LOWEST_VENV))
	$(call install_into,$(LOWEST_VENV)) -c $(LOWEST_PINS) -e ".[keras,onnx,test]"
	touch $@

# Run on the newest versions only (`make test`): what needs the book's or
# the course's extra, which .venv-lowest does not install (the notebooks, the
# book's build, the course kit and its grading), and what no library version
# changes (dependency declarations, profiles, published results, prose, the
# package's layers, which test_structure reads from the source with ast), and
# the Try it page in the browser (its JavaScript and ONNX model are the same
# whatever the Python libraries' versions; test_browser_modules, which
# compares its modules with Pillow's and NumPy's results, runs on both).
# Everything that calls Keras, TensorFlow, NumPy, SciPy, scikit-image,
# Pillow or h5py runs on both, the docstring examples included, except the
# long end-to-end runs marked `slow` (a real profile, a whole data set, the
# CLI from end to end): shorter tests run each of their steps here, so the
# oldest versions are checked without training and evaluating it all again.
NEWEST_ONLY := test_notebooks test_book_build test_course test_grading test_audit \
	test_dependencies test_config test_published test_prose test_structure \
	test_browser_page
test-lowest: $(LOWEST_VENV)/.installed
	$(LOWEST_VENV)/bin/python $(PYTEST) tests retina_tutorial -m "not slow" \
		$(foreach name,$(NEWEST_ONLY),--ignore=tests/$(name).py) --durations=10

# Prediction where TensorFlow is not installed: .venv-onnx holds the package
# with its onnx extra only (the install the README gives for prediction), and
# predicts with the shipped model exported to ONNX by .venv.
ONNX_VENV ?= .venv-onnx
SHIPPED_ONNX := _build/onnx/unet_drive.onnx

$(ONNX_VENV)/.installed: pyproject.toml
	rm -rf $(ONNX_VENV)
	$(call new_venv,$(ONNX_VENV))
	$(call install_into,$(ONNX_VENV)) -e ".[onnx]" "pytest>=8"
	touch $@

$(SHIPPED_ONNX): $(INSTALLED) retina_tutorial/weights/unet_drive.keras
	$(BIN)/retina-tutorial export --model pretrained --out $@

test-without-tensorflow: $(ONNX_VENV)/.installed $(SHIPPED_ONNX)
	RETINA_TUTORIAL_ONNX_MODEL=$(SHIPPED_ONNX) $(ONNX_VENV)/bin/python -m pytest \
		-p no:cacheprovider tests/test_without_tensorflow.py

clean:
	rm -rf _build .jupyter_cache
