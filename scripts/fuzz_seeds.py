#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (fuzz/fuzz_targets/) from ../shared/corpus.

    fuzz_seeds.py CORPUS OUT [--vzarr BIN] [--max-bytes N]

OUT/<target>/ gets one file per seed. Standard library only. Nothing here is committed: the
seeds are cut from the shared corpus (and from stores `vzarr create` writes of it) each run.

- hdf5_file, hdf5_remote: whole HDF5/netCDF-4 files of at most --max-bytes;
- hdf5_superblock: the first 2 KiB of each HDF5 file;
- hdf5_object_header: a width byte (8-byte addresses and lengths) then the file from one
  object header: every `OHDR` signature, and the root group's v1 header of superblock v0/v1;
- dmrpp: DMR++ documents of at most --max-bytes;
- ceos_records: CEOS files (cut at a record boundary at most --max-bytes);
- ceos: the ALOS-2 volume directory, leader and image file of one product in the target's
  framing (two big-endian bytes giving the length in 4-byte units, then the bytes);
- manifest: manifest.parquet of stores written by --vzarr for a few small corpus files;
- chunk_key: store keys of both kinds.
"""

import argparse
import csv
import hashlib
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

HDF5_CATEGORIES = {"hdf5", "dmrpp-pair-h5", "icesat2", "dmrpp-mvs-h5"}
SIGNATURE = b"\x89HDF\r\n\x1a\n"


def put(out: Path, target: str, data: bytes) -> None:
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def corpus_files(corpus: Path):
    with open(corpus / "MANIFEST.tsv", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    for row in rows[1:]:
        if len(row) > 8:
            p = corpus / row[0]
            if p.is_file():
                yield p, row[8]


def ceos_cut(data: bytes, limit: int) -> bytes:
    """The longest prefix of whole CEOS records (big-endian length at byte 8) within limit."""
    pos = 0
    while pos + 12 <= len(data):
        n = struct.unpack(">I", data[pos + 8 : pos + 12])[0]
        if n < 12 or pos + n > min(len(data), limit):
            break
        pos += n
    return data[:pos] if pos else data[:limit]


def object_header_seeds(data: bytes):
    start = 0
    while (i := data.find(b"OHDR", start)) >= 0:
        yield data[i : i + 8192]
        start = i + 4
    at = data.find(SIGNATURE)
    if at >= 0 and len(data) > at + 80 and data[at + 8] in (0, 1) and data[at + 13] == 8:
        # Superblock v0/v1, 8-byte offsets: the root symbol table entry follows the four
        # addresses; its object header address is its second field.
        base = at + 24 + (4 if data[at + 8] == 1 else 0) + 32
        addr = struct.unpack("<Q", data[base + 8 : base + 16])[0]
        if at + addr < len(data):
            yield data[at + addr : at + addr + 8192]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--vzarr", help="vzarr binary, for manifest seeds")
    ap.add_argument("--max-bytes", type=int, default=65536)
    a = ap.parse_args()
    if not (a.corpus / "MANIFEST.tsv").is_file():
        print(f"fuzz_seeds: {a.corpus}/MANIFEST.tsv not found", file=sys.stderr)
        return 2
    small_h5 = []
    ceos = {}
    for p, cat in corpus_files(a.corpus):
        size = p.stat().st_size
        if cat in HDF5_CATEGORIES:
            head = p.open("rb").read(min(size, max(a.max_bytes, 2048)))
            put(a.out, "hdf5_superblock", head[:2048])
            for seed in object_header_seeds(head):
                put(a.out, "hdf5_object_header", b"\x0a" + seed)
            if size <= a.max_bytes:
                put(a.out, "hdf5_file", head)
                put(a.out, "hdf5_remote", head)
                small_h5.append(p)
        elif cat == "ceos":
            data = p.open("rb").read(a.max_bytes * 4)
            put(a.out, "ceos_records", ceos_cut(data, a.max_bytes))
            ceos[p.name] = data
    for p in a.corpus.rglob("*.dmrpp"):
        if p.stat().st_size <= a.max_bytes:
            put(a.out, "dmrpp", p.read_bytes())

    def framed(b: bytes) -> bytes:
        b = b[: (len(b) // 4) * 4][: 0xFFFF * 4]
        return struct.pack(">H", len(b) // 4) + b

    for vol in [n for n in ceos if n.startswith("VOL-")]:
        stem = vol[4:]
        led, img = ceos.get(f"LED-{stem}"), ceos.get(f"IMG-HH-{stem}")
        if led and img:
            put(a.out, "ceos", framed(ceos[vol]) + framed(ceos_cut(led, 0xFFFF * 4)) + img)

    # Virtual datasets and external storage (no corpus file has external storage), written by
    # h5py when this Python has it: a file whose mappings name itself, as the target opens
    # every other file as the input.
    try:
        import h5py
        import numpy as np
    except ImportError:
        print("fuzz_seeds: no h5py; no virtual dataset / external storage seed", file=sys.stderr)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "vds.h5"
            with h5py.File(p, "w", libver="latest") as f:
                f.create_dataset("c", data=np.arange(64, dtype="<i2").reshape(8, 8), chunks=(4, 4))
                lay = h5py.VirtualLayout(shape=(2, 8, 8), dtype="<i2")
                lay[1] = h5py.VirtualSource("vds.h5", "c", shape=(8, 8))
                lay[0, :4, :] = h5py.VirtualSource(".", "c", shape=(8, 8))[4:, :]
                f.create_virtual_dataset("v", lay)
                f.create_dataset("e", shape=(6, 2), dtype="<i2", external=[("x", 0, 12), ("y", 4, 12)])
            put(a.out, "hdf5_file", p.read_bytes())
            # Values stored as JSON text: a compound with sequence members, a sequence of
            # sequences (nested global heap references).
            p = Path(tmp) / "json.h5"
            with h5py.File(p, "w") as f:
                seq = h5py.vlen_dtype(np.dtype("<i4"))
                cmp = np.dtype([("a", seq), ("b", "<f8"), ("c", h5py.string_dtype())])
                f.create_dataset("cmp", data=np.array([(np.arange(3, dtype="<i4"), 1.5, "x"), (np.arange(1, dtype="<i4"), -2.0, "")], dtype=cmp), chunks=(1,))
                d = f.create_dataset("seq_seq", shape=(2,), dtype=h5py.vlen_dtype(seq))
                inner = np.empty(2, dtype=object)
                inner[0], inner[1] = np.arange(2, dtype="<i4"), np.arange(4, dtype="<i4")
                d[1] = inner
            put(a.out, "hdf5_file", p.read_bytes())

    for key in ["zarr.json", "g/x/zarr.json", "g/x/c/0/1", "g/x/c/3", "c/0/0", "g/x/c", "g/x/c/1/0/2"]:
        put(a.out, "chunk_key", key.encode())

    if a.vzarr and Path(a.vzarr).is_file():
        with tempfile.TemporaryDirectory() as tmp:
            for i, p in enumerate(sorted(small_h5)[:: max(1, len(small_h5) // 24)]):
                store = Path(tmp) / f"s{i}.vzarr"
                r = subprocess.run([a.vzarr, "create", str(p), "-o", str(store)], capture_output=True)
                m = store / "manifest.parquet"
                if r.returncode in (0, 1) and m.is_file():
                    put(a.out, "manifest", m.read_bytes())
    else:
        print("fuzz_seeds: no --vzarr binary; the manifest target starts without seeds", file=sys.stderr)

    for t in sorted(os.listdir(a.out)):
        print(f"  {t:20} {len(os.listdir(a.out / t)):5} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
