# rnn-exp — build, test and run the example sweeps.
#   make test    everything CI runs (installs what is missing first)
#   make check   the quick inner loop: debug build + unit tests
#   make sweep   train every grid point of experiments/*.yaml into results/
#   make build   release build of the rnn-exp binary
#   make install the binary and shell completions under PREFIX (default /usr/local)
#   make bench   speed against numpy / JAX / PyTorch (release)
#   make crosscheck  the online algorithms against braintrace (own venv under .build), float64

SWIFT        ?= swift
RELEASE_BIN  := .build/release/rnn-exp
APT_PACKAGES := libopenblas-dev libyaml-dev pkg-config
PYTHON       ?= python3
export OPENBLAS_NUM_THREADS := 1

PREFIX       ?= /usr/local
BINDIR       := $(PREFIX)/bin
COMPLETIONS  := $(PREFIX)/share/bash-completion/completions/rnn-exp $(PREFIX)/share/zsh/site-functions/_rnn-exp \
                $(PREFIX)/share/fish/vendor_completions.d/rnn-exp.fish

.PHONY: all deps build check test sweep bench crosscheck clean install uninstall

all: build

# System libraries: installed with apt-get when missing; without root, print the exact command.
deps:
	@command -v dpkg >/dev/null 2>&1 || { echo "not a Debian system: install OpenBLAS (Linux) yourself; macOS uses Accelerate"; exit 0; }; \
	missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "rnn-exp needs these Debian packages:$$missing"; \
	    echo "run as root:  apt-get update && apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi
	@$(PYTHON) -c "import numpy" 2>/dev/null || $(PYTHON) -m pip install -q "numpy==2.4.6"
	@$(PYTHON) -c "import safetensors" 2>/dev/null || $(PYTHON) -m pip install -q "safetensors==0.7.0"

build: deps
	$(SWIFT) build -c release --product rnn-exp

check: deps
	$(SWIFT) test

test: deps
	$(PYTHON) Tests/Reference/make_golden.py --self-check
	$(PYTHON) Tests/Reference/online_reference.py --self-check
	$(PYTHON) Tests/Reference/adaptive_reference.py --self-check
	$(PYTHON) Benchmarks/peers/check_numpy_online.py
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(SWIFT) build --build-tests -Xswiftc -DRNN_INTERNAL_CHECKS -Xswiftc -DRNN_EXP_TEST_HOOKS --scratch-path .build-checks
	$(SWIFT) test --skip-build --scratch-path .build-checks --filter RNNCoreTests
	RNN_EXP_BIN=$(CURDIR)/.build-checks/debug/rnn-exp bash Tests/Integration/slurm-cluster.sh
	bash Tests/Integration/report-browser.sh

# The binary on the PATH, with bash, zsh and fish completions written by argument-parser.
# Without write access to PREFIX it prints the exact command to run instead.
install: build
	@if mkdir -p "$(BINDIR)" 2>/dev/null && [ -w "$(BINDIR)" ]; then \
	  install -m 0755 $(RELEASE_BIN) "$(BINDIR)/rnn-exp" && \
	  for shell in bash zsh fish; do \
	    case $$shell in \
	      bash) dest="$(PREFIX)/share/bash-completion/completions/rnn-exp";; \
	      zsh)  dest="$(PREFIX)/share/zsh/site-functions/_rnn-exp";; \
	      fish) dest="$(PREFIX)/share/fish/vendor_completions.d/rnn-exp.fish";; \
	    esac; \
	    mkdir -p "$$(dirname "$$dest")" && $(RELEASE_BIN) --generate-completion-script $$shell > "$$dest" || exit 1; \
	  done && \
	  echo "installed $(BINDIR)/rnn-exp and its bash, zsh and fish completions"; \
	else \
	  echo "no write access to $(BINDIR): run  sudo make install PREFIX=$(PREFIX)  (or make install PREFIX=$$HOME/.local)"; \
	  exit 1; \
	fi

uninstall:
	rm -f "$(BINDIR)/rnn-exp" $(COMPLETIONS)

sweep: build
	$(RELEASE_BIN) run experiments/*.yaml

# Speed against the project's own peers in Benchmarks/peers (numpy by hand, PyTorch eager, JAX
# jit; one thread each); never part of `make test`. Output in Benchmarks/results/ (git-ignored,
# created here). PyTorch and JAX are installed with pip when missing; a peer that cannot be
# installed is left out. BENCH_QUICK=1: a few windows, one repetition (checks the plumbing);
# BENCH_LSTM=auto|1|0: LSTM rows when the engine has the layer (default) / always / never;
# BENCH_ONLY=ROWS: just those rows, comma-separated (e.g. kfrtrl-small,indrnn-small), nothing else.
# The peers run without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (rnn-exp keeps them); threadpoolctl
# (pip, pinned) reports the BLAS kernel set each peer loaded, printed with the CPU model.
JAX_VERSION   ?= 0.8.1
TORCH_VERSION ?= 2.13.0+cpu
THREADPOOLCTL_VERSION ?= 3.8.0
bench: build
	@mkdir -p Benchmarks/results
	@$(PYTHON) -c "import threadpoolctl" 2>/dev/null || $(PYTHON) -m pip install -q "threadpoolctl==$(THREADPOOLCTL_VERSION)" \
	  || echo "threadpoolctl could not be installed: the peers' BLAS kernels are not checked"
	@$(PYTHON) -c "import jax" 2>/dev/null || $(PYTHON) -m pip install -q "jax==$(JAX_VERSION)" "jaxlib==$(JAX_VERSION)" \
	  || echo "jax could not be installed: benchmarking without it"
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q "torch==$(TORCH_VERSION)" \
	  || echo "torch could not be installed: benchmarking without it"
	cd Benchmarks && $(SWIFT) build -c release
	$(PYTHON) Benchmarks/peers/check_torch_online.py
	$(PYTHON) Benchmarks/peers/check_jax_online.py
	$(PYTHON) Benchmarks/run_bench.py

# rnn-exp's snap1, rflo, uoro and rtrl against braintrace (an outside JAX library of online
# learning rules) on the same Elman model, data and initial weights, float64, step by step:
# Benchmarks/crosscheck/braintrace_crosscheck.py prints each algorithm's largest relative
# difference of the per-step losses and gradients and exits 1 above 1e-10. Never part of `make
# test`. braintrace runs in its own virtual environment under .build (about 0.8 GB: its jax is
# not the bench's jax $(JAX_VERSION)), created and filled by pip on the first run, with braintrace
# and the packages whose versions decide its numbers pinned.
CROSSCHECK_VENV   := .build/crosscheck-venv
CROSSCHECK_PINS   ?= braintrace==0.2.6 brainstate==0.5.4 brainunit==0.5.2 saiunit==0.5.2 jax==0.10.2 jaxlib==0.10.2 numpy==2.4.6
crosscheck: deps
	cd Benchmarks && $(SWIFT) build -c release
	@test -x $(CROSSCHECK_VENV)/bin/python || $(PYTHON) -m venv $(CROSSCHECK_VENV)
	@$(CROSSCHECK_VENV)/bin/python -c "import importlib.metadata as m, sys; sys.exit(any(m.version(p.split('==')[0]) != p.split('==')[1] for p in sys.argv[1:]))" $(CROSSCHECK_PINS) 2>/dev/null \
	  || { echo "installing into $(CROSSCHECK_VENV): $(CROSSCHECK_PINS)"; $(CROSSCHECK_VENV)/bin/pip install -q $(CROSSCHECK_PINS); }
	$(CROSSCHECK_VENV)/bin/python Benchmarks/crosscheck/braintrace_crosscheck.py

clean:
	rm -rf .build .build-checks Benchmarks/.build results
