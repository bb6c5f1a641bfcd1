# vzarr — developer tasks. `make demo` and `make test` are all a fresh machine needs.
CARGO_TARGET_DIR ?= $(abspath target)
export CARGO_TARGET_DIR
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VZARR := $(CARGO_TARGET_DIR)/debug/vzarr
export VZARR
# The same binary with the `libhdf5` feature (`vzarr create --materialize unsupported`).
VZARR_LIBHDF5 := $(CARGO_TARGET_DIR)/debug/vzarr-libhdf5
export VZARR_LIBHDF5

.PHONY: build build-libhdf5 venv demo test test-rust test-python lint fuzz fuzz-smoke bench venv-bench bench-peers bench-dmrpp bench-ceos bench-serve clean

build:
	cargo build

# Needs the system libhdf5 (Debian libhdf5-dev, manifests/apt.txt). Builds the feature's
# binary as vzarr-libhdf5, then the default one again (both stay cached in the target dir).
build-libhdf5:
	cargo build --features libhdf5
	cp $(VZARR) $(VZARR_LIBHDF5)
	cargo build

# Python reference tools (h5py/libhdf5, numpy, pyarrow, pytest), pinned.
venv: $(VENV)/.stamp
$(VENV)/.stamp: manifests/requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r manifests/requirements-test.txt
	touch $@

# The main job on data the repo generates itself: write an HDF5 file, index it, inspect the
# store, read an array back through the store and check it against h5py.
demo: build venv
	rm -rf demo-out && mkdir -p demo-out
	$(PY) scripts/make_demo_h5.py demo-out/demo.h5
	$(VZARR) create demo-out/demo.h5 -o demo-out/demo.vzarr
	$(VZARR) inspect demo-out/demo.vzarr
	$(VZARR) get demo-out/demo.vzarr measurements/temperature --slice 0:3,: -o demo-out/temperature.npy
	$(PY) scripts/compare_npy.py demo-out/temperature.npy demo-out/demo.h5 measurements/temperature 0:3,:

test: test-rust test-python test-interop

test-rust: venv
	cargo test --all-targets

test-python: build-libhdf5 venv
	$(PY) -m pytest -q -p no:cacheprovider tests/python

# Interop readers that need Python 3.12 (VirtualiZarr, icechunk) and pandas 3: the interop tests
# again in a second venv (the first run, in .venv, is under pandas 2). PYTHON_INTEROP, else
# pyenv's 3.12, else python3.12 on PATH.
VENV_INTEROP := .venv-interop
PYTHON_INTEROP ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12 2>/dev/null))
venv-interop: $(VENV_INTEROP)/.stamp
$(VENV_INTEROP)/.stamp: manifests/requirements-interop.txt
	@test -n "$(PYTHON_INTEROP)" || { echo "venv-interop: Python 3.12 not found; set PYTHON_INTEROP=/path/to/python3.12"; exit 2; }
	$(PYTHON_INTEROP) -m venv $(VENV_INTEROP)
	echo '*' > $(VENV_INTEROP)/.gitignore
	$(VENV_INTEROP)/bin/pip install --quiet --upgrade pip
	$(VENV_INTEROP)/bin/pip install --quiet -r manifests/requirements-interop.txt
	touch $@

test-interop: build venv-interop
	VZARR_INTEROP_REQUIRED=1 $(VENV_INTEROP)/bin/python -m pytest -q -p no:cacheprovider -p no:warnings tests/python/test_interop.py

lint:
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet --features libhdf5
	cargo clippy --all-targets --features libhdf5 -- -D warnings

# Fuzz every parser entry point (fuzz/, cargo-fuzz) for FUZZ_SECONDS each (default 300) and
# print the table of executions; fuzz-smoke is the short run CI does (8 s per target).
FUZZ_SECONDS ?= 300
fuzz: build
	scripts/fuzz.sh $(FUZZ_SECONDS)

fuzz-smoke: build
	scripts/fuzz.sh 8

bench: build
	cargo bench --bench hdf5_parse

# Peer benchmark tools (kerchunk, VirtualiZarr, obstore, s3fs, moto…), pinned, Python 3.12
# (VirtualiZarr 2.x needs it): PYTHON_BENCH, else pyenv's 3.12, else python3.12 on PATH.
VENV_BENCH := .venv-bench
PYTHON_BENCH ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12 2>/dev/null))
venv-bench: $(VENV_BENCH)/.stamp
$(VENV_BENCH)/.stamp: manifests/requirements-bench.txt
	@test -n "$(PYTHON_BENCH)" || { echo "venv-bench: Python 3.12 not found; set PYTHON_BENCH=/path/to/python3.12"; exit 2; }
	$(PYTHON_BENCH) -m venv $(VENV_BENCH)
	echo '*' > $(VENV_BENCH)/.gitignore
	$(VENV_BENCH)/bin/pip install --quiet --upgrade pip
	$(VENV_BENCH)/bin/pip install --quiet -r manifests/requirements-bench.txt
	touch $@

# vzarr create against kerchunk and VirtualiZarr (release build): time, bytes read, requests,
# S3 GETs; prints the table and writes docs/benchmarks.md. BENCH_ARGS="--runs 5 --skip-s3" etc.
bench-peers: venv-bench
	cargo build --release
	$(VENV_BENCH)/bin/python scripts/bench_peers.py --vzarr $(CARGO_TARGET_DIR)/release/vzarr \
		--out-dir $(CARGO_TARGET_DIR)/bench-peers $(BENCH_ARGS)

# DMR++ parse time against VirtualiZarr's DMRPPParser (ATL08, AIRS, MERRA-2 DMR++ of the corpus):
# the in-process parse (benches/dmrpp_parse.rs), `vzarr inspect`, and VirtualiZarr; prints the
# table and writes its section of docs/benchmarks.md. The release build is made by `cargo bench
# --profile release` (it builds the vzarr binary too), so the bench reuses it. BENCH_ARGS="--runs 9".
bench-dmrpp: venv-bench
	cargo bench --profile release --bench dmrpp_parse --no-run
	$(VENV_BENCH)/bin/python scripts/bench_dmrpp.py --vzarr $(CARGO_TARGET_DIR)/release/vzarr $(BENCH_ARGS)

# CEOS ALOS-2: vzarr create (debug build) on a synthetic ScanSAR L1.1 product on the moto S3
# emulator, --line-metadata none and full, against xarray-ceos-alos2 opening it; prints the
# table (README "CEOS ALOS-2"). BENCH_ARGS="--lines 35000 --pixels 64 --scans 5 --pols HH".
bench-ceos: build venv
	$(PY) scripts/bench_ceos.py --vzarr $(VZARR) $(BENCH_ARGS)

# `vzarr serve` load test (loopback): 64 concurrent clients reading random chunks for 30 s,
# every body checked against the source; prints throughput and p50/p99 latency, fails on any
# error or wrong byte. BENCH_ARGS="--clients 64 --seconds 30 --chunks 4000".
bench-serve: build venv
	$(PY) scripts/bench_serve.py --vzarr $(VZARR) $(BENCH_ARGS)

clean:
	rm -rf demo-out $(VENV) $(VENV_INTEROP)
