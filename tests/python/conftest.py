"""Shared helpers for the reference tests: where the corpus and the vzarr binary are."""
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
CORPUS = pathlib.Path(os.environ.get("VZARR_CORPUS", REPO.parent / "shared" / "corpus"))
VZARR = os.environ.get("VZARR", str(pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / "vzarr"))
# The same binary built with the `libhdf5` feature (`make build-libhdf5`), for
# `--materialize unsupported`.
VZARR_LIBHDF5 = os.environ.get("VZARR_LIBHDF5", VZARR + "-libhdf5")


def libhdf5_or_skip():
    """The vzarr binary with the libhdf5 feature; required in CI (`make test` builds it)."""
    if not os.path.exists(VZARR_LIBHDF5):
        if os.environ.get("CI"):
            pytest.fail(f"{VZARR_LIBHDF5} not found (required in CI; make build-libhdf5)")
        pytest.skip(f"{VZARR_LIBHDF5} not found (make build-libhdf5)")
    return VZARR_LIBHDF5


def corpus_or_skip():
    if not CORPUS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"corpus not found at {CORPUS} (required in CI)")
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS


def vzarr(*args, check=None, exe=None, env=None, cwd=None):
    """Run the vzarr binary (`exe`, default VZARR) with `env` added to the environment, in the
    working directory `cwd` (default this one); return CompletedProcess. Never allows a panic."""
    full_env = {**os.environ, **env} if env else None
    p = subprocess.run([exe or VZARR, *map(str, args)], capture_output=True, text=True, timeout=600,
                       env=full_env, cwd=cwd)
    assert "panicked" not in p.stderr, f"vzarr panicked: {args}\n{p.stderr}"
    assert p.returncode in (0, 1, 2), f"vzarr {args} died with status {p.returncode}\n{p.stderr}"
    if check is not None:
        assert p.returncode == check, f"vzarr {args} exited {p.returncode}, expected {check}\n{p.stderr}"
    return p


def manifest_files(categories):
    """Corpus files of the given MANIFEST.tsv categories (column 9)."""
    out = []
    for line in (corpus_or_skip() / "MANIFEST.tsv").read_text().splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) > 8 and cols[8] in categories:
            out.append(CORPUS / cols[0])
    return out
