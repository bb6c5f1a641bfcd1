"""Shared helpers for the reference tests: where the corpus and the vzarr binary are."""
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
CORPUS = pathlib.Path(os.environ.get("VZARR_CORPUS", REPO.parent / "shared" / "corpus"))
VZARR = os.environ.get("VZARR", str(pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / "vzarr"))


def corpus_or_skip():
    if not CORPUS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"corpus not found at {CORPUS} (required in CI)")
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS


def vzarr(*args, check=None):
    """Run the vzarr binary; return CompletedProcess. Never allows a panic."""
    p = subprocess.run([VZARR, *map(str, args)], capture_output=True, text=True, timeout=600)
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
