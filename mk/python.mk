# python.mk - the Python package (python/, import name `mlp`): a CPython extension over libmlp.
#   make python          build python/mlp/_mlp*.so in place, linked with $(BUILD)/libmlp.a (the objects of the
#                        CLI, so Python and `mlp` compute bit for bit alike); then PYTHONPATH=python works
#   make python-test     the Python tests (tests/python/test_*.py) alone; `make test` runs them too (as tests
#                        of the C runner, skipped when $(PYTHON) lacks numpy or scikit-learn)
#   make python-bench    mlp.MLPClassifier against scikit-learn's MLPClassifier (python/bench.py);
#                        `make bench` runs it first, when scikit-learn is installed
# PYTHON is Debian's interpreter (apt-get install python3-dev python3-numpy python3-sklearn); a `python3` from
# pyenv or elsewhere usually lacks numpy. `pip install --no-build-isolation ./python` compiles the C sources
# itself instead (python/setup.py) and needs no make.

PYTHON     ?= /usr/bin/python3
PY_EXT_DIR  = python/mlp
PY_STAMP    = $(PY_EXT_DIR)/.built-from
PY_EXT_SRC  = $(PY_EXT_DIR)/_mlpmodule.c

.PHONY: python python-test python-bench py-stamp-check

# The extension records the build folder (and so the compiler and flags) it was linked from: switching
# BUILD relinks it.
py-stamp-check:
	@echo '$(abspath $(BUILD))' | cmp -s - $(PY_STAMP) 2>/dev/null || echo '$(abspath $(BUILD))' > $(PY_STAMP)
$(PY_STAMP): py-stamp-check

$(PY_EXT_DIR)/.ext-built: $(PY_EXT_SRC) $(BUILD)/libmlp.a include/mlp.h python/setup.py $(PY_STAMP)
	cd python && MLP_LIBRARY='$(abspath $(BUILD))/libmlp.a' MLP_LDLIBS='$(LDLIBS)' $(PYTHON) setup.py -q build_ext --inplace --force \
	    --build-temp '$(abspath $(BUILD))/python'
	touch $@

python: $(PY_EXT_DIR)/.ext-built

python-test: python $(DATA)/mnist/.verified
	@set -e; for t in tests/python/test_*.py; do \
	    echo "== $$t"; MLP_BIN=$(BUILD)/mlp MLP_DATA=$(DATA)/mnist PYTHONPATH=python $(PYTHON) $$t; done

python-bench: python $(DATA)/mnist/.verified
	PYTHONPATH=python $(PYTHON) python/bench.py --data $(DATA)/mnist $(PYBENCH_ARGS)

# `make bench` runs the Python comparison first (after the C benchmark's binary is built, so nothing compiles
# while it measures), when $(PYTHON) has numpy and scikit-learn.
.PHONY: python-bench-maybe
bench: python-bench-maybe
python-bench-maybe: $(BENCH_BIN) $(DATA)/mnist/.verified
	@if $(PYTHON) -c 'import numpy, sklearn' 2>/dev/null; then \
	    $(MAKE) --no-print-directory python-bench; \
	else echo "python-bench: skipped ($(PYTHON) lacks numpy or scikit-learn)"; fi
