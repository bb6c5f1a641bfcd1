"""Resource bounds on crafted input (issue 8): small files whose metadata claims huge sizes or
an exponential number of paths. Each vzarr run must end quickly with a result or a clear error,
and its peak memory (the child's ru_maxrss) must stay small; h5py (libhdf5) is the reference for
what the crafted file really holds."""

import os
import struct
import subprocess
import time

import h5py
import numpy as np
import pytest

from conftest import VZARR

# Generous bounds: a debug build indexing a file of a few KB needs a few tens of MB.
MAX_RSS_MB = 400
MAX_SECONDS = 60


def bounded(*args):
    """Run vzarr; return (CompletedProcess-like tuple, peak RSS in MB, seconds)."""
    t0 = time.monotonic()
    p = subprocess.Popen([VZARR, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=MAX_SECONDS)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail(f"vzarr {args} ran past {MAX_SECONDS} s")
    # communicate() reaped the child; its rusage is in RUSAGE_CHILDREN, so measure around it.
    seconds = time.monotonic() - t0
    assert "panicked" not in err, f"vzarr {args} panicked:\n{err}"
    assert p.returncode in (0, 1, 2), f"vzarr {args} died with status {p.returncode}\n{err}"
    return p.returncode, out, err, seconds


def peak_rss_mb(*args):
    """Run vzarr in a fresh process under wait4 to get its own peak RSS; return (rc, err, MB, s)."""
    t0 = time.monotonic()
    p = subprocess.Popen([VZARR, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = t0 + MAX_SECONDS
    # ru_maxrss of a child forked from a large pytest process reports the parent's size, so read
    # the child's own high-water mark (VmHWM: per address space, reset by exec) while it runs.
    hwm_kb = 0
    while True:
        try:
            for line in open(f"/proc/{p.pid}/status"):
                if line.startswith("VmHWM:"):
                    hwm_kb = max(hwm_kb, int(line.split()[1]))
        except OSError:
            pass
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            p.kill()
            os.wait4(p.pid, 0)
            pytest.fail(f"vzarr {args} ran past {MAX_SECONDS} s")
        time.sleep(0.005)
    err = p.stderr.read().decode()
    p.returncode = os.waitstatus_to_exitcode(status)
    assert "panicked" not in err, f"vzarr {args} panicked:\n{err}"
    assert p.returncode in (0, 1, 2), f"vzarr {args} died with status {p.returncode}\n{err}"
    return p.returncode, err, hwm_kb / 1024, time.monotonic() - t0


def patch_unique(path, old: bytes, new: bytes, count=None):
    data = bytearray(path.read_bytes())
    n = data.count(old)
    assert n >= 1 and (count is None or n == count), f"{old.hex()} occurs {n} times in {path}"
    path.write_bytes(bytes(data).replace(old, new))
    return n


N, CHUNK, WRITTEN = 123457, 1237, 3 * 1237


def small_chunked_file(path):
    """libver earliest: v1 object headers (no checksums), v1 B-tree chunk index."""
    with h5py.File(path, "w", libver="earliest") as f:
        d = f.create_dataset("x", shape=(N,), chunks=(CHUNK,), dtype="<f8", fillvalue=-1.0)
        d[:WRITTEN] = np.arange(WRITTEN, dtype="<f8")
        f.create_dataset("ok", data=np.arange(10, dtype="<i4"))


def test_a_petabyte_shape_in_a_small_file_is_indexed_and_read_in_parts(tmp_path):
    h5 = tmp_path / "huge_shape.h5"
    small_chunked_file(h5)
    huge = 1 << 50
    patch_unique(h5, struct.pack("<Q", N), struct.pack("<Q", huge))
    assert h5.stat().st_size < 64 << 10
    with h5py.File(h5, "r") as f:  # libhdf5 agrees on what the file now says
        assert f["x"].shape == (huge,)
        want = f["x"][:WRITTEN]
        edge = f["x"][huge - 5 :]
    store = tmp_path / "s.vzarr"
    rc, err, mb, s = peak_rss_mb("create", h5, "-o", store)
    assert rc == 0, err
    assert mb < MAX_RSS_MB, f"create of a {h5.stat().st_size}-byte file peaked at {mb:.0f} MB"
    # Reading it whole would need 8 PiB: refused up front, by name, in bounded memory.
    rc, err, mb, s = peak_rss_mb("get", store, "x", "-o", tmp_path / "all.npy")
    assert rc == 2 and "needs" in err and "--slice" in err and "x" in err, err
    assert mb < MAX_RSS_MB
    # Parts of it read like libhdf5 reads them: written chunks and fill values at the far end.
    rc, err, mb, s = peak_rss_mb("get", store, "x", "--slice", f"0:{WRITTEN}", "-o", tmp_path / "a.npy")
    assert rc == 0, err
    assert np.array_equal(np.load(tmp_path / "a.npy"), want)
    rc, err, mb, s = peak_rss_mb("get", store, "x", "--slice", f"{huge - 5}:{huge}", "-o", tmp_path / "b.npy")
    assert rc == 0, err
    assert np.array_equal(np.load(tmp_path / "b.npy"), edge)
    rc, err, mb, s = peak_rss_mb("verify", store, "--decode")
    assert rc == 0, err
    assert mb < MAX_RSS_MB


def test_chunks_over_four_gib_are_refused_by_name(tmp_path):
    h5 = tmp_path / "huge_chunk.h5"
    small_chunked_file(h5)
    # The layout message's chunk dimensions (4 bytes each, the element size last) → 2^31 - 1
    # elements of 8 bytes = 16 GiB.
    patch_unique(h5, struct.pack("<II", CHUNK, 8), struct.pack("<II", (1 << 31) - 1, 8), count=1)
    with h5py.File(h5, "r") as f:  # libhdf5 refuses to read it as well
        with pytest.raises(Exception):
            f["x"][:10]
    store = tmp_path / "s.vzarr"
    rc, err, mb, s = peak_rss_mb("create", h5, "-o", store)
    assert rc == 1, err  # finished, with an array left out
    assert "/x" in err and "4 GiB" in err, err
    assert mb < MAX_RSS_MB
    rc, out, err, s = bounded("get", store, "ok", "-o", tmp_path / "ok.npy")
    assert rc == 0, err
    assert np.array_equal(np.load(tmp_path / "ok.npy"), np.arange(10, dtype="<i4"))


def test_hard_links_forming_an_exponential_dag_stay_bounded(tmp_path):
    """40 levels of groups, each linked twice from the one above: 2^40 paths, 41 groups."""
    h5 = tmp_path / "dag.h5"
    levels = 40
    with h5py.File(h5, "w") as f:
        groups = [f.create_group(f"g{i}") for i in range(levels + 1)]
        groups[-1].create_dataset("leaf", data=np.arange(4, dtype="<i2"))
        for a, b in zip(groups, groups[1:]):
            a["left"] = b
            a["right"] = b
    with h5py.File(h5, "r") as f:
        visited = []  # H5Ovisit visits each object once, by its first path
        f.visit(visited.append)
    assert len(visited) == levels + 2  # the groups and the leaf dataset, each visited once
    leaf = next(v for v in visited if v.endswith("leaf"))
    store = tmp_path / "s.vzarr"
    rc, err, mb, s = peak_rss_mb("create", h5, "-o", store)
    assert rc in (0, 1), err
    assert mb < MAX_RSS_MB, f"peaked at {mb:.0f} MB"
    # vzarr maps each group once too, under the path H5Ovisit gives it.
    rc, out, err, s = bounded("get", store, leaf, "-o", tmp_path / "leaf.npy")
    assert rc == 0, err
    assert np.array_equal(np.load(tmp_path / "leaf.npy"), np.arange(4, dtype="<i2"))
