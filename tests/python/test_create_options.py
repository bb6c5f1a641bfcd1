"""`--split-contiguous` and `--inline-threshold` change how chunks are referenced, never the
values: both compared with h5py."""
import collections
import json

import h5py
import numpy as np
import pyarrow.parquet as pq

from conftest import corpus_or_skip, manifest_files, vzarr
from h5ref import same_bits
from test_hdf5_reference import h5_datasets, h5_variables

FILES = ["ATL03_gt1l.h5", "f16_ssmis_20200102v7.nc", "noy_AERmonZ_UKESM1-0-LL_piControl_r1i1p1f2_gnz_200001-200012.nc"]


def corpus_files():
    corpus_or_skip()
    return [p for p in manifest_files({"hdf5", "icesat2", "dmrpp-pair-h5"}) if p.name in FILES]


def rows_per_array(store):
    rows = pq.read_table(store / "manifest.parquet").to_pylist()
    out = collections.defaultdict(list)
    for r in rows:
        out[r["array"]].append(r)
    return out


def compare_all(store, path, tmp_path):
    with h5py.File(path) as f:
        for name, ds in h5_variables(f).items():
            p = vzarr("get", store, name, "-o", tmp_path / "v.npy")
            if p.returncode != 0:
                refused = {r["path"].strip("/") for r in json.loads((store / "vzarr.json").read_text())["refused"]}
                assert name in refused, p.stderr
                continue
            ok, why = same_bits(ds[()], np.load(tmp_path / "v.npy"))
            assert ok, f"{path.name}:{name}: {why}"


def test_split_contiguous_cuts_large_contiguous_datasets(tmp_path):
    files = corpus_files()
    assert files
    split_any = False
    for path in files:
        plain, split = tmp_path / f"{path.stem}-plain", tmp_path / f"{path.stem}-split"
        vzarr("create", path, "-o", plain)
        vzarr("create", path, "-o", split, "--split-contiguous", "4096")
        a, b = rows_per_array(plain), rows_per_array(split)
        with h5py.File(path) as f:
            for name, ds in h5_datasets(f).items():
                if ds.chunks is None and ds.compression is None and name in a and len(a[name]) == 1:
                    if ds.id.get_storage_size() > 4096 and ds.ndim >= 1:
                        if len(b[name]) > 1:
                            split_any = True
                            offs = sorted(r["offset"] for r in b[name])
                            assert offs[0] == a[name][0]["offset"], name
        compare_all(split, path, tmp_path)
    assert split_any, "no contiguous dataset was split"


def test_inline_threshold_copies_small_chunks(tmp_path):
    [path] = [p for p in corpus_files() if p.name.startswith("noy_")]
    store = tmp_path / "s"
    vzarr("create", path, "-o", store, "--inline-threshold", "100000", check=0)
    rows = [r for rs in rows_per_array(store).values() for r in rs]
    assert rows and all(r["inline"] is not None and r["offset"] is None for r in rows if r["length"] <= 100000)
    assert any(r["inline"] is not None for r in rows)
    compare_all(store, path, tmp_path)
