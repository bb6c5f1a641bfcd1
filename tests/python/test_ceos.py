"""CEOS ALOS-2 products: synthetic products written by scripts/make_alos2.py (all three levels,
stripmap and ScanSAR, both hemispheres) go through `vzarr create`; `vzarr get` must return the
pixels and per-line values the generator wrote, and the same pixels xarray-ceos-alos2 reads.
Where xarray-ceos-alos2 is wrong (it decodes the signed per-line fields as unsigned), we check
that it is wrong in the documented way and that we agree with the generator instead."""
import json
import pathlib
import re
import sys

import numpy as np
import pytest

from conftest import CORPUS, corpus_or_skip, vzarr
from test_s3 import BUCKET, s3  # noqa: F401 - the moto server fixture

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))
import make_alos2  # noqa: E402

PRODUCTS = [
    dict(level="1.5", mode="stripmap", hemisphere="north"),
    dict(level="1.5", mode="stripmap", hemisphere="south"),
    dict(level="3.1", mode="stripmap", hemisphere="south"),
    dict(level="1.1", mode="stripmap", hemisphere="north"),
    dict(level="1.1", mode="scansar", hemisphere="south", method="F"),
    dict(level="1.1", mode="scansar", hemisphere="north", method="B", pols=("HH",), scans=5),
]


def pid(p):
    return "-".join(str(v) for k, v in p.items() if k in ("level", "mode", "hemisphere"))


def requests_of(stderr):
    return int(re.search(r"\((\d+) source requests\)", stderr).group(1))


def get(store, array, tmp_path):
    out = tmp_path / "get.npy"
    vzarr("get", store, array, "-o", out, check=0)
    return np.load(out)


# Per-line fields: our array name → (generator field, scale divisor).
COMMON_LINES = {
    "rows": ("line_number", None),
    "prf": ("prf", None),
    "latitude_of_first_pixel": ("lat_first", 1e6),
    "latitude_of_center_pixel": ("lat_mid", 1e6),
    "latitude_of_last_pixel": ("lat_last", 1e6),
    "longitude_of_first_pixel": ("lon_first", 1e6),
    "longitude_of_center_pixel": ("lon_mid", 1e6),
    "longitude_of_last_pixel": ("lon_last", 1e6),
}
L11_LINES = {
    "slant_range_to_first_data_sample": ("slant_range", None),
    "platform_latitude": ("platform_lat", 1e6),
    "platform_longitude": ("platform_lon", 1e6),
    "roll": ("roll", 1e6),
    "burst_number": ("burst_number", None),
    "line_number_in_this_burst": ("line_in_burst", None),
}
L15_LINES = {
    "slant_range_to_first_pixel": ("slant_range_first", None),
    "slant_range_to_last_pixel": ("slant_range_last", None),
    "doppler_centroid_value_at_first_pixel": ("doppler_first", 1e3),
    "doppler_centroid_value_at_mid_pixel": ("doppler_mid", 1e3),
    "northing_of_first_pixel": ("northing_first", None),
    "easting_of_last_pixel": ("easting_last", None),
    "line_heading": ("line_heading", 1e6),
}


def truth_times(lines, level):
    base = np.array([np.datetime64(f"{y:04d}-01-01", "us") for y in lines["year"]])
    us = lines["microseconds"] if level == "1.1" else lines["milliseconds"] * 1000
    return base + (lines["day_of_year"] - 1).astype("timedelta64[D]") + us.astype("timedelta64[us]")


@pytest.fixture(scope="module", params=PRODUCTS, ids=pid)
def product(request, tmp_path_factory):
    d = tmp_path_factory.mktemp("alos2")
    truth = make_alos2.make_product(d / "product", **request.param)
    store = d / "store"
    p = vzarr("create", d / "product", "-o", store, check=0)
    return truth, d / "product", store, p


def test_pixels_and_line_metadata_equal_what_the_generator_wrote(product, tmp_path):
    truth, _, store, _ = product
    per_line = COMMON_LINES | (L11_LINES if truth["level"] == "1.1" else L15_LINES)
    for group, im in truth["images"].items():
        data = get(store, f"imagery/{group}/data", tmp_path)
        assert data.dtype == np.dtype(im["dtype"]) and data.shape == im["shape"], group
        # Bit-identical pixels (complex compared through their bytes, NaN-safe).
        assert data.tobytes() == im["pixels"].astype(data.dtype).tobytes(), group
        lines = im["lines"]
        for name, (field, scale) in per_line.items():
            got = get(store, f"imagery/{group}/{name}", tmp_path)
            want = lines[field] if scale is None else lines[field] / scale
            assert np.array_equal(got, want), f"{group}/{name}: {got[:3]} vs {want[:3]}"
        meta = json.loads((store / "imagery" / group / "sensor_acquisition_date" / "zarr.json").read_text())
        ref = np.datetime64(meta["attributes"]["units"].split(" since ")[1], "us")
        t = ref + get(store, f"imagery/{group}/sensor_acquisition_date", tmp_path).astype("timedelta64[us]")
        assert np.array_equal(t, truth_times(lines, truth["level"])), group


def test_southern_products_have_negative_coordinates(product, tmp_path):
    truth, _, store, _ = product
    group = next(iter(truth["images"]))
    lat = get(store, f"imagery/{group}/latitude_of_first_pixel", tmp_path)
    lon = get(store, f"imagery/{group}/longitude_of_first_pixel", tmp_path)
    if truth["product_id"].endswith("A"):  # the generator's southern scenes are ascending
        assert (lat < 0).all() and (lon < 0).all()
    else:
        assert (lat > 0).all() and (lon > 0).all()


def test_leader_metadata_as_written(product, tmp_path):
    truth, _, store, _ = product
    led = truth["leader"]
    ds = json.loads((store / "metadata" / "dataset_summary" / "zarr.json").read_text())["attributes"]
    assert ds["scene_id"] == truth["scene_id"] and ds["orbit_number"] == led["orbit"]
    assert ds["product_level_code"] == truth["level"]
    rd = json.loads((store / "metadata" / "radiometric_data" / "zarr.json").read_text())["attributes"]
    assert rd["calibration_factor"] == led["calibration_factor"]
    sv = led["state_vectors"]
    for k, name in enumerate(["x", "y", "z", "vx", "vy", "vz"]):
        got = get(store, f"metadata/platform_position/{name}", tmp_path)
        assert np.allclose(got, sv[:, k], rtol=0, atol=1e-9), name
    att = led["attitude"]
    assert np.array_equal(get(store, "metadata/attitude/day_of_year", tmp_path), att[:, 0])
    assert np.allclose(get(store, "metadata/attitude/pitch", tmp_path), att[:, 2], rtol=1e-6)
    summary = {}
    for sec in (s for s in (store / "summary").iterdir() if s.is_dir()):
        summary.update(json.loads((sec / "zarr.json").read_text())["attributes"])
    for key, value in truth["summary"].items():
        assert summary[key.split("_", 1)[1]] == value, key
    assert (store / "imagery").is_dir() and (store / "metadata" / "trailer").is_dir()


def test_xarray_ceos_alos2_reads_the_same_pixels(product, tmp_path):
    ceos_alos2 = pytest.importorskip("ceos_alos2")
    truth, path, store, _ = product
    tree = ceos_alos2.open_alos2(str(path), chunks=None, backend_options={"records_per_chunk": 7})
    assert set(tree["imagery"].children) == set(truth["images"])
    for group, im in truth["images"].items():
        theirs = tree["imagery"][group].ds
        ours = get(store, f"imagery/{group}/data", tmp_path)
        assert theirs.data.values.tobytes() == ours.tobytes(), group
        rows = get(store, f"imagery/{group}/rows", tmp_path)
        assert np.array_equal(theirs.rows.values, rows)
        # Their fault (spec §6.3): signed per-line fields decoded as unsigned 32-bit.
        want = im["lines"]["lat_first"] / 1e6
        ours_lat = get(store, f"imagery/{group}/latitude_of_first_pixel", tmp_path)
        assert np.array_equal(ours_lat, want)
        unsigned = (im["lines"]["lat_first"] % 2**32) * 1e-6
        assert np.allclose(theirs.latitude_of_first_pixel.values, unsigned, rtol=0, atol=1e-9), group
        if (want < 0).any():
            assert not np.allclose(theirs.latitude_of_first_pixel.values, want)


def test_line_metadata_none_and_records_per_chunk(product, tmp_path):
    truth, path, _, full = product
    n_images = len(truth["images"])
    p = vzarr("create", path, "-o", tmp_path / "none", "--line-metadata", "none", check=0)
    # VOL, LED, summary.txt and the trailer's descriptor, then one read per image file.
    assert requests_of(p.stderr) == 4 + n_images, p.stderr
    for group in truth["images"]:
        assert sorted(x.name for x in (tmp_path / "none" / "imagery" / group).iterdir()) == ["data", "zarr.json"]
    lines = [im["shape"][0] for im in truth["images"].values()]
    p = vzarr("create", path, "-o", tmp_path / "rpc", "--records-per-chunk", "5", check=0)
    assert requests_of(p.stderr) == 4 + n_images + sum(-(-n // 5) for n in lines), p.stderr
    # The default (about 16 MiB per request) reads each small image in one request.
    assert requests_of(full.stderr) == 4 + 2 * n_images, full.stderr


def test_a_vol_file_names_its_product(tmp_path):
    truth = make_alos2.make_product(tmp_path / "p", level="1.5", hemisphere="south")
    vol = next(f for f in truth["files"] if f.startswith("VOL-"))
    vzarr("create", tmp_path / "p" / vol, "-o", tmp_path / "s", check=0)
    g, im = next(iter(truth["images"].items()))
    assert get(tmp_path / "s", f"imagery/{g}/data", tmp_path).tobytes() == im["pixels"].tobytes()


def test_bad_products_are_refused_with_reasons(tmp_path):
    truth = make_alos2.make_product(tmp_path / "p", level="1.5", hemisphere="north")
    groups = list(truth["images"])
    hh = tmp_path / "p" / truth["images"][groups[0]]["file"]
    size = hh.stat().st_size
    with open(hh, "r+b") as f:
        f.truncate(size - 100)
    p = vzarr("create", tmp_path / "p", "-o", tmp_path / "s", check=1)
    assert f"expected {size} bytes" in p.stderr and f"has {size - 100}" in p.stderr, p.stderr
    # The other image is still there and right.
    other = truth["images"][groups[1]]
    assert get(tmp_path / "s", f"imagery/{groups[1]}/data", tmp_path).tobytes() == other["pixels"].tobytes()
    # A pixel format code xarray-ceos-alos2 and we do not know.
    hv = tmp_path / "p" / other["file"]
    raw = bytearray(hv.read_bytes())
    raw[428:432] = b"F*4 "
    hv.write_bytes(bytes(raw))
    p = vzarr("create", tmp_path / "p", "-o", tmp_path / "s2", check=1)
    assert 'unsupported pixel format code "F*4"' in p.stderr, p.stderr
    # No leader: the product cannot be used.
    led = next((tmp_path / "p").glob("LED-*"))
    led.unlink()
    p = vzarr("create", tmp_path / "p", "-o", tmp_path / "s3", check=2)
    assert "LED-" in p.stderr and "missing" in p.stderr, p.stderr
    # Garbage named like a volume directory.
    g = tmp_path / "g"
    g.mkdir()
    (g / "VOL-garbage").write_bytes(b"\x00" * 100)
    p = vzarr("create", g, "-o", tmp_path / "s4", check=2)
    assert "not a CEOS file" in p.stderr, p.stderr


def test_corpus_real_alos2_headers_and_other_missions(tmp_path):
    corpus_or_skip()
    real = CORPUS / "pyroSAR/tests/data/0000022708_001001_ALOS2015976960-140909"
    p = vzarr("create", real, "-o", tmp_path / "real", check=1)
    assert p.stderr.count("truncated: expected 341291772 bytes") == 2, p.stderr
    ds = json.loads((tmp_path / "real" / "metadata" / "dataset_summary" / "zarr.json").read_text())["attributes"]
    assert ds["scene_id"] == "ALOS2015976960-140909"
    for f, mission in [
        ("gdal-autotest/autotest/gdrivers/data/sar_ceos/R1_26161_FN1_F164.D", "RADARSAT-1"),
        ("gdal-autotest/autotest/gdrivers/data/ceos/IMAGERY-75K.L-3", "IRS"),
        ("sar-helpers/src/main/tests/artifacts/ER02_SAR_RAW_0P_20100118T174929_20100118T174945_ESR_77106.CEOS/LEA_01.001",
         "ERS-2"),
    ]:
        for fmt in ("auto", "ceos"):
            p = vzarr("create", CORPUS / f, "-o", tmp_path / "x", "--format", fmt, check=2)
            assert mission in p.stderr and "not an ALOS-2" in p.stderr, p.stderr


def test_product_on_s3(s3, tmp_path):
    """A product under an s3:// prefix (moto server on 127.0.0.1): listed once, each image
    referenced from one ranged read of its descriptor; values equal the generator's."""
    truth = make_alos2.make_product(tmp_path / "p", level="1.1", mode="scansar", hemisphere="south", scans=2)
    for f in truth["files"]:
        s3.upload_file(str(tmp_path / "p" / f), BUCKET, f"alos2/product/{f}")
    prefix = f"s3://{BUCKET}/alos2/product/"
    n = len(truth["images"])
    p = vzarr("create", prefix, "-o", tmp_path / "none", "--line-metadata", "none", check=0)
    # One LIST, VOL, LED, summary.txt, the trailer's descriptor, one read per image.
    assert requests_of(p.stderr) == 1 + 4 + n, p.stderr
    vol = next(f for f in truth["files"] if f.startswith("VOL-"))
    vzarr("create", prefix + vol, "-o", f"s3://{BUCKET}/stores/alos2", check=0)
    for store in (tmp_path / "none", f"s3://{BUCKET}/stores/alos2"):
        for group, im in truth["images"].items():
            assert get(store, f"imagery/{group}/data", tmp_path).tobytes() == im["pixels"].tobytes()
    lat = get(f"s3://{BUCKET}/stores/alos2", f"imagery/{group}/latitude_of_first_pixel", tmp_path)
    assert np.array_equal(lat, im["lines"]["lat_first"] / 1e6) and (lat < 0).all()
    info = json.loads(s3.get_object(Bucket=BUCKET, Key="stores/alos2/vzarr.json")["Body"].read())
    assert sorted(s["url"] for s in info["sources"]) == sorted(prefix + im["file"] for im in truth["images"].values())
    assert all(s["etag"] for s in info["sources"])


def test_inspect_a_product_directory(tmp_path):
    truth = make_alos2.make_product(tmp_path / "p", level="3.1", hemisphere="north")
    report = json.loads(vzarr("inspect", tmp_path / "p", "--json", check=0).stdout)
    assert report["kind"] == "source"
    arrays = {n["path"]: n["chunks"] for n in report["nodes"] if n["node_type"] == "array"}
    for group, im in truth["images"].items():
        c = arrays[f"imagery/{group}/data"]
        assert c["virtual_refs"] == im["shape"][0] and c["bytes"] == im["shape"][0] * im["shape"][1] * 2
    assert sorted(s["url"].rsplit("/", 1)[1] for s in report["sources"]) == sorted(
        im["file"] for im in truth["images"].values())


def test_product_over_plain_http(tmp_path):
    """A server that cannot list (plain HTTP with ranges): the files come from summary.txt."""
    import bench_peers  # scripts/: its counting file server (HEAD and single byte ranges)

    truth = make_alos2.make_product(tmp_path / "p", level="1.5", hemisphere="south")
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({f"prod/{f}": str(tmp_path / "p" / f) for f in truth["files"]}))
    srv = bench_peers.Server(["--serve-files", str(mapping)])
    try:
        vzarr("create", f"{srv.base}/prod/", "-o", tmp_path / "s", check=0)
        for group, im in truth["images"].items():
            assert get(tmp_path / "s", f"imagery/{group}/data", tmp_path).tobytes() == im["pixels"].tobytes()
        lat = get(tmp_path / "s", f"imagery/{group}/latitude_of_last_pixel", tmp_path)
        assert np.array_equal(lat, im["lines"]["lat_last"] / 1e6)
    finally:
        srv.close()
