# `make demo` and `make test` do all the set-up on a fresh machine: they create or update the
# local virtual environment .venv (numpy, pluggy, pyopencl + the PoCL CPU driver, pytest ...).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test conformance bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m ember.examples.digits --out out

test: $(STAMP)
	$(PY) -m pytest -q

conformance: $(STAMP)
	$(PY) -m ember.plugins.conformance --device cpu
	$(PY) -m ember.plugins.conformance --device opencl

bench: $(STAMP)
	$(PY) benchmarks/op_overhead.py
	$(PY) benchmarks/matmul.py
	$(PY) benchmarks/mlp_train.py
	$(PY) benchmarks/cnn_train.py

clean:
	rm -rf $(VENV) out build *.egg-info
