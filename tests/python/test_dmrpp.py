"""DMR++ input against h5py: stores made from OPeNDAP's DMR++ files read back like the HDF5 files.

For every corpus DMR++ whose HDF5 file is beside it (MANIFEST category dmrpp-pair-dmrpp, the
stale and known-defective ones aside: tests/dmrpp_corpus.rs shows those disagree), `vzarr create
X.dmrpp --data-url X` writes a store without reading the HDF5 metadata, and every array of it is
read with `vzarr get` and compared bit for bit with h5py. DMR++-only files (real ATL08, AIRS,
MERRA-2, TEMPO granules) become stores whose `inspect` lists every variable the XML declares,
either mapped or refused by name.
"""
import collections
import json
import pathlib
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest

from conftest import corpus_or_skip, manifest_files, vzarr
from h5ref import same_bits

# tests/dmrpp_corpus.rs: DMR++ files that do not describe the HDF5 file beside them.
NOT_MATCHING = {
    "FletcherShuffle.nc4.dmrpp",
    "nc4_group_var_dim_name_same.h5.dmrpp",
    "t_string_chunk.h5.dmrpp",
    "ntypes.h5.dmrpp",
    "ntypes.h5.dmrpp.baseline",
    "swath_wrong_dim_rp.nc.dmrpp",
    "chunked_compound.h5.dmrpp",
}
VARIABLE_ELEMENTS = {
    "Byte", "Char", "Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64",
    "Float32", "Float64", "String", "URL", "Url", "Opaque", "Enum", "Structure", "Sequence",
}


def data_file(dmrpp):
    name = dmrpp.name.removesuffix(".baseline").removesuffix(".dmrpp")
    p = dmrpp.with_name(name)
    return p if p.exists() else None


def store_arrays(store):
    root = json.loads((store / "zarr.json").read_text())
    nodes = root.get("consolidated_metadata", {}).get("metadata", {})
    return {k: v for k, v in nodes.items() if v["node_type"] == "array"}


def hdf5_path(name, meta):
    """The HDF5 dataset an array came from (CF-flattened DMR++ keep it in `fullnamepath`)."""
    full = meta.get("attributes", {}).get("fullnamepath")
    return full.strip("/") if isinstance(full, str) else name


def fill_time_never(ds):
    return ds.id.get_create_plist().get_fill_time() == h5py.h5d.FILL_TIME_NEVER


def test_dmrpp_stores_read_like_h5py(tmp_path, capsys):
    corpus_or_skip()
    files = [p for p in manifest_files({"dmrpp-pair-dmrpp"}) if p.name not in NOT_MATCHING and data_file(p)]
    assert len(files) > 150
    tally = collections.Counter()
    wrong = []
    for i, dmrpp in enumerate(files):
        h5 = data_file(dmrpp)
        store = tmp_path / f"s{i}"
        p = vzarr("create", dmrpp, "--data-url", h5, "-o", store)
        assert p.returncode in (0, 1), f"{dmrpp}: {p.stderr}"
        refused = {r["path"].strip("/") for r in json.loads((store / "vzarr.json").read_text())["refused"]}
        tally["refused by name"] += len(refused)
        with h5py.File(h5, "r") as f:
            for name, meta in store_arrays(store).items():
                path = hdf5_path(name, meta)
                if path not in f or not isinstance(f[path], h5py.Dataset):
                    tally["derived by the handler (not in the file)"] += 1
                    continue
                ds = f[path]
                vlen = h5py.check_vlen_dtype(ds.dtype)
                if vlen is not None and vlen not in (str, bytes):
                    # A ragged sequence the handler wrote out padded (dmrpp:missingdata).
                    tally["vlen sequence, padded by the handler"] += 1
                    continue
                out = tmp_path / "a.npy"
                g = vzarr("get", store, name, "-o", out)
                if g.returncode != 0:
                    wrong.append(f"{dmrpp.name}:{name}: get failed: {g.stderr.strip()[-200:]}")
                    continue
                ok, why = same_bits(ds[()], np.load(out, allow_pickle=False))
                if ok:
                    tally["ok"] += 1
                elif fill_time_never(ds):
                    # Unwritten values are undefined: h5py shows zeros, the DMR++ the fill value.
                    tally["fill time never (undefined values)"] += 1
                else:
                    wrong.append(f"{dmrpp.name}:{name} ({path}): {why}")
    with capsys.disabled():
        print(f"\nDMR++ stores vs h5py over {len(files)} DMR++ files:")
        for k, n in tally.most_common():
            print(f"  {k:45s} {n:5d}")
        print(f"  {'WRONG':45s} {len(wrong):5d}")
    assert not wrong, "\n".join(wrong)
    assert tally["ok"] >= 200


def declared_variables(path):
    """Variable paths the XML declares (groups joined with /), from ElementTree."""
    out = []

    def walk(el, prefix):
        for c in el:
            tag = c.tag.rsplit("}", 1)[-1]
            if tag == "Group":
                walk(c, f"{prefix}{c.get('name')}/")
            elif tag in VARIABLE_ELEMENTS:
                out.append(prefix + c.get("name"))

    walk(ET.parse(path).getroot(), "")
    return out


@pytest.mark.parametrize(
    "name",
    [
        "ATL08_20200716202251.h5.dmrpp",
        "AIRS.2015.12.30.L3.RetStd_IR001.v6.0.31.0.G16116184203.nc.h5.dmrpp",
        "MERRA2_400.tavgM_2d_slv_Nx.201606.nc4.dmrpp",
        "tempo_l2.nc.dmrpp",
    ],
)
def test_real_granule_dmrpp_inspects_completely(tmp_path, name):
    corpus_or_skip()
    [path] = [p for p in manifest_files({"dmrpp-only"}) if p.name == name]
    store = tmp_path / "s"
    missing = pathlib.Path("/nonexistent") / name.removesuffix(".dmrpp")
    p = vzarr("create", path, "--data-url", missing, "-o", store)
    assert p.returncode in (0, 1), p.stderr
    assert "data file not reachable" in p.stderr
    i = vzarr("inspect", store, "--json")
    assert i.returncode == (1 if "\nrefused: " in "\n" + p.stderr else 0), i.stderr
    report = json.loads(i.stdout)
    arrays = {n["path"] for n in report["nodes"] if n["node_type"] == "array"}
    refused = {r["path"].strip("/") for r in report["refused"]}
    declared = set(declared_variables(path))
    assert declared == arrays | refused, (declared ^ (arrays | refused))
    assert not arrays & refused
    assert len(arrays) >= 0.99 * len(declared), refused
    for n in report["nodes"]:
        if n["node_type"] == "array":
            md = n["metadata"]
            assert len(md["shape"]) == len(md["chunk_grid"]["configuration"]["chunk_shape"])
            assert md.get("dimension_names") is None or len(md["dimension_names"]) == len(md["shape"])


def test_dmrpp_errors_name_element_and_line(tmp_path):
    good = (
        '<?xml version="1.0"?>\n<Dataset xmlns="http://xml.opendap.org/ns/DAP/4.0#" '
        'xmlns:dmrpp="http://xml.opendap.org/dap/dmrpp/1.0.0#" name="x.h5" dmrpp:href="x.h5" dmrpp:version="3.21.1">\n'
        '  <Int32 name="a"><Dim size="2"/>\n'
        '    <dmrpp:chunks byteOrder="LE"><dmrpp:chunk offset="OFF" nBytes="8"/></dmrpp:chunks></Int32>\n'
        "</Dataset>\n"
    )
    (tmp_path / "x.h5").write_bytes(bytes(64))
    cases = {
        "truncated": (good[:150], 2, "line"),
        "negative offset": (good.replace("OFF", "-8"), 1, "line 4, <dmrpp:chunk>: offset \"-8\" is negative"),
        "overflowing offset": (good.replace("OFF", "99999999999999999999999"), 1, "not an unsigned 64-bit"),
        "past the end of the data file": (good.replace("OFF", "60"), 1, "lies past the end of"),
        "template without --data-url": (
            good.replace('dmrpp:href="x.h5"', 'dmrpp:href="OPeNDAP_DMRpp_DATA_ACCESS_URL"').replace("OFF", "0"),
            2,
            "--data-url",
        ),
        "wrong namespace": (good.replace("ns/DAP/4.0#", "ns/DAP/2.0#").replace("OFF", "0"), 2, "is not DAP4"),
        "no name": (good.replace(' name="x.h5"', "").replace("OFF", "0"), 2, "line 2, <Dataset>: missing required attribute `name`"),
    }
    for what, (text, status, message) in cases.items():
        src = tmp_path / "x.h5.dmrpp"
        src.write_text(text)
        p = vzarr("create", src, "--format", "dmrpp", "-o", tmp_path / "out", "--overwrite")
        assert p.returncode == status, f"{what}: exit {p.returncode}\n{p.stderr}"
        assert message in p.stderr, f"{what}: {p.stderr}"
    src.write_text(good.replace("OFF", "0"))
    vzarr("create", src, "-o", tmp_path / "ok", check=0)
    vzarr("get", tmp_path / "ok", "a", "-o", tmp_path / "a.npy", check=0)
    assert np.load(tmp_path / "a.npy").tolist() == [0, 0]


def test_relative_hrefs_and_sidecar_files(tmp_path):
    """grid_1_2d.h5.dmrpp names its data file and, per chunk, BES's sidecar of derived
    coordinates (`_mvs.h5`) by paths relative to the DMR++: laid out that way, one store reads
    from both files."""
    corpus_or_skip()
    [dmrpp] = [p for p in manifest_files({"dmrpp-pair-dmrpp"}) if p.name == "grid_1_2d.h5.dmrpp"]
    data = tmp_path / "data" / "dmrpp"
    data.mkdir(parents=True)
    for name in ("grid_1_2d.h5", "grid_1_2d.h5_mvs.h5"):
        (data / name).symlink_to(dmrpp.with_name(name))
    local = tmp_path / dmrpp.name
    local.write_bytes(dmrpp.read_bytes())
    store = tmp_path / "s"
    vzarr("create", local, "-o", store, "--relative", check=0)
    info = json.loads((store / "vzarr.json").read_text())
    assert sorted(s["url"] for s in info["sources"]) == [
        "../data/dmrpp/grid_1_2d.h5",
        "../data/dmrpp/grid_1_2d.h5_mvs.h5",
    ]
    checks = {
        "HDFEOS/GRIDS/GeoGrid/XDim": (data / "grid_1_2d.h5_mvs.h5", "HDFEOS/GRIDS/GeoGrid/XDim"),
        "HDFEOS/GRIDS/GeoGrid/YDim": (data / "grid_1_2d.h5_mvs.h5", "HDFEOS/GRIDS/GeoGrid/YDim"),
        "HDFEOS/GRIDS/GeoGrid/Data_Fields/temperature": (
            data / "grid_1_2d.h5",
            "HDFEOS/GRIDS/GeoGrid/Data Fields/temperature",
        ),
    }
    for name, (h5, path) in checks.items():
        vzarr("get", store, name, "-o", tmp_path / "v.npy", check=0)
        with h5py.File(h5, "r") as f:
            ok, why = same_bits(f[path][()], np.load(tmp_path / "v.npy"))
        assert ok, f"{name}: {why}"
