# `make demo` and `make test` do all the set-up on a fresh machine: they create or update the
# local virtual environment .venv (numpy, pluggy, pyopencl + the PoCL CPU driver, pytest ...).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test conformance bench clean opencl-driver

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m ember.backends.opencl.probe || $(MAKE) --no-print-directory opencl-driver
	touch $(STAMP)

# The PoCL wheel from PyPI is built with LLVM 14, which does not know newer CPUs (AMD Zen 5
# among them) and then cannot compile any kernel; Debian's PoCL can. Installed only when the
# probe above finds no OpenCL device that builds a kernel.
opencl-driver:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y -q --no-install-recommends pocl-opencl-icd >/dev/null || \
	  { apt-get update -q >/dev/null && \
	    apt-get install -y -q --no-install-recommends pocl-opencl-icd >/dev/null; }; \
	  $(PY) -m ember.backends.opencl.probe; \
	else \
	  echo "warning: no OpenCL device builds kernels here, and Debian's pocl-opencl-icd"; \
	  echo "         needs root to install: the opencl backend's tests will be skipped"; \
	fi

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
