"""Remote sources and stores on an S3-compatible emulator (moto, 127.0.0.1 only):
create from s3://, store on s3://, values equal h5py, changed objects detected."""
import json
import os
import socket
import subprocess
import sys
import time

import boto3
import h5py
import numpy as np
import pytest

from conftest import corpus_or_skip, libhdf5_or_skip, manifest_files, vzarr
from h5ref import same_bits, write_materializable_file
from test_hdf5_reference import h5_datasets, h5_variables

BUCKET = "vzarr-test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ENDPOINT": endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    }
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    for _ in range(100):
        try:
            client.list_buckets()
            break
        except Exception:  # noqa: BLE001 - server still starting
            time.sleep(0.1)
    client.create_bucket(Bucket=BUCKET)
    try:
        yield client
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def corpus_file(name):
    corpus_or_skip()
    for p in manifest_files({"hdf5", "icesat2"}):
        if p.name == name:
            return p
    pytest.skip(f"{name} not in corpus")


def compare_store(store, local, tmp_path, names=None):
    with h5py.File(local) as f:
        dsets = h5_variables(f)
        for name in names or dsets:
            vzarr("get", store, name, "-o", tmp_path / "v.npy", check=0)
            ok, why = same_bits(dsets[name][()], np.load(tmp_path / "v.npy"))
            assert ok, f"{store} {name}: {why}"


def test_create_from_s3_into_s3_and_local(s3, tmp_path):
    local = corpus_file("ATL03_gt1l.h5")
    s3.upload_file(str(local), BUCKET, "granules/ATL03_gt1l.h5")
    src = f"s3://{BUCKET}/granules/ATL03_gt1l.h5"
    p = vzarr("create", src, "-o", f"s3://{BUCKET}/stores/atl03", check=0)
    assert "source requests" in p.stderr
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="stores/atl03/")["Contents"]}
    assert {"stores/atl03/vzarr.json", "stores/atl03/zarr.json", "stores/atl03/manifest.parquet"} <= keys
    info = json.loads(s3.get_object(Bucket=BUCKET, Key="stores/atl03/vzarr.json")["Body"].read())
    assert info["sources"][0]["url"] == src
    assert info["sources"][0]["etag"] and info["sources"][0]["size"] == local.stat().st_size
    compare_store(f"s3://{BUCKET}/stores/atl03", local, tmp_path,
                  ["gt1l/heights/h_ph", "gt1l/heights/lat_ph", "gt1l/heights/delta_time"])
    vzarr("create", src, "-o", tmp_path / "local-store", check=0)
    compare_store(tmp_path / "local-store", local, tmp_path)
    # inspect works on the remote source and on the remote store, with the same arrays.
    src_report = json.loads(vzarr("inspect", src, "--json", check=0).stdout)
    store_report = json.loads(vzarr("inspect", f"s3://{BUCKET}/stores/atl03", "--json", check=0).stdout)
    assert src_report["kind"] == "source" and store_report["kind"] == "store"
    arrays = lambda r: {n["path"]: n["chunks"] for n in r["nodes"] if n["node_type"] == "array"}  # noqa: E731
    assert arrays(src_report) == arrays(store_report) and len(arrays(src_report)) > 10


def test_relative_store_on_s3(s3, tmp_path):
    local = corpus_file("issue23_A.nc")
    s3.upload_file(str(local), BUCKET, "rel/data/issue23_A.nc")
    vzarr("create", f"s3://{BUCKET}/rel/data/issue23_A.nc", "-o", f"s3://{BUCKET}/rel/stores/s", "--relative", check=0)
    info = json.loads(s3.get_object(Bucket=BUCKET, Key="rel/stores/s/vzarr.json")["Body"].read())
    assert info["sources"][0]["url"] == "../../data/issue23_A.nc"
    compare_store(f"s3://{BUCKET}/rel/stores/s", local, tmp_path)


def test_changed_object_is_detected(s3, tmp_path):
    local = corpus_file("issue23_A.nc")
    s3.upload_file(str(local), BUCKET, "chg/issue23_A.nc")
    store = tmp_path / "s"
    vzarr("create", f"s3://{BUCKET}/chg/issue23_A.nc", "-o", store, check=0)
    with h5py.File(local) as f:
        name = next(n for n, d in h5_datasets(f).items() if d.chunks)
    vzarr("get", store, name, "-o", tmp_path / "v.npy", check=0)
    raw = bytearray(local.read_bytes())
    raw[-1] ^= 0xFF  # same size, new content → new ETag
    s3.put_object(Bucket=BUCKET, Key="chg/issue23_A.nc", Body=bytes(raw))
    p = vzarr("get", store, name, "-o", tmp_path / "v.npy", check=2)
    assert "source changed" in p.stderr, p.stderr


def test_missing_remote_source_is_a_clear_error(s3, tmp_path):
    p = vzarr("create", f"s3://{BUCKET}/nope/missing.h5", "-o", tmp_path / "s", check=2)
    assert "missing.h5" in p.stderr


def test_dmrpp_on_s3_indexes_without_reading_the_data_file(s3, tmp_path):
    corpus_or_skip()
    [dmrpp] = [p for p in manifest_files({"dmrpp-pair-dmrpp"}) if p.name == "nc4_group_atomic.h5.dmrpp"]
    h5 = dmrpp.with_name("nc4_group_atomic.h5")
    s3.upload_file(str(h5), BUCKET, "dmrpp/nc4_group_atomic.h5")
    text = dmrpp.read_text(encoding="latin-1")
    # As NASA publishes them: the data URL is a template the user fills in.
    templated = text.replace('dmrpp:href="data/dmrpp/nc4_group_atomic.h5"', 'dmrpp:href="OPeNDAP_DMRpp_DATA_ACCESS_URL"')
    assert templated != text
    s3.put_object(Bucket=BUCKET, Key="dmrpp/nc4_group_atomic.h5.dmrpp", Body=templated.encode("latin-1"))
    src = f"s3://{BUCKET}/dmrpp/nc4_group_atomic.h5.dmrpp"
    p = vzarr("create", src, "-o", tmp_path / "no-url", check=2)
    assert "--data-url" in p.stderr
    data = f"s3://{BUCKET}/dmrpp/nc4_group_atomic.h5"
    p = vzarr("create", src, "--data-url", data, "-o", f"s3://{BUCKET}/stores/dmrpp", check=0)
    # The DMR++ read once (HEAD + GET), the data file only stat'ed (HEAD): never parsed.
    requests = int(p.stderr.rsplit("(", 1)[1].split()[0])
    assert requests <= 2, p.stderr
    info = json.loads(s3.get_object(Bucket=BUCKET, Key="stores/dmrpp/vzarr.json")["Body"].read())
    assert [s["url"] for s in info["sources"]] == [data]
    assert info["sources"][0]["size"] == h5.stat().st_size and info["sources"][0]["etag"]
    compare_store(f"s3://{BUCKET}/stores/dmrpp", h5, tmp_path)
    # Without an href the data file is the DMR++ URL minus .dmrpp; a relative href resolves
    # against the DMR++ location.
    for body, key in [
        (text.replace(' dmrpp:href="data/dmrpp/nc4_group_atomic.h5"', ""), "dmrpp/nc4_group_atomic.h5.dmrpp"),
        (text.replace('dmrpp:href="data/dmrpp/', 'dmrpp:href="../'), "dmrpp/x/nc4_group_atomic.h5.dmrpp"),
    ]:
        s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode("latin-1"))
        vzarr("create", f"s3://{BUCKET}/{key}", "-o", tmp_path / "s", "--overwrite", check=0)
        info = json.loads((tmp_path / "s" / "vzarr.json").read_text())
        assert [s["url"] for s in info["sources"]] == [data], key
        compare_store(tmp_path / "s", h5, tmp_path)


def test_export_and_import_on_s3(s3, tmp_path):
    """A store on S3 exported to kerchunk JSON and Parquet on S3, and imported back from there
    into a local store, reads like h5py; the references name the s3:// source."""
    local = corpus_file("issue23_A.nc")
    s3.upload_file(str(local), BUCKET, "interop/issue23_A.nc")
    src = f"s3://{BUCKET}/interop/issue23_A.nc"
    vzarr("create", src, "-o", f"s3://{BUCKET}/interop/store", check=0)
    vzarr("export", f"s3://{BUCKET}/interop/store", "--to", "kerchunk-json", "-o", f"s3://{BUCKET}/interop/refs.json", check=0)
    vzarr("export", f"s3://{BUCKET}/interop/store", "--to", "kerchunk-parquet", "-o", f"s3://{BUCKET}/interop/refs.parq", check=0)
    refs = json.loads(s3.get_object(Bucket=BUCKET, Key="interop/refs.json")["Body"].read())
    ranges = [v for k, v in refs["refs"].items() if isinstance(v, list)]
    assert ranges and all(v[0] == src for v in ranges)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="interop/refs.parq/")["Contents"]}
    assert "interop/refs.parq/.zmetadata" in keys
    # Exporting onto an existing object needs --overwrite.
    p = vzarr("export", f"s3://{BUCKET}/interop/store", "--to", "kerchunk-json", "-o", f"s3://{BUCKET}/interop/refs.json", check=2)
    assert "refs.json" in p.stderr
    for name in ("refs.json", "refs.parq"):
        out = tmp_path / f"imported-{name}"
        vzarr("import", f"s3://{BUCKET}/interop/{name}", "-o", out, check=0)
        info = json.loads((out / "vzarr.json").read_text())
        assert [s["url"] for s in info["sources"]] == [src] and info["sources"][0]["etag"]
        compare_store(out, local, tmp_path)


def test_serve_a_store_on_s3_over_sources_on_s3(s3, tmp_path):
    """`vzarr serve s3://…/store`: zarr-python reads every array over HTTP, bytes from the
    emulator identical to h5py's; --allow-source for another bucket refuses the chunks (403)."""
    import zarr
    from h5ref import as_text
    from test_serve import Server, request

    local = corpus_file("ATL03_gt1l.h5")
    s3.upload_file(str(local), BUCKET, "serve/ATL03_gt1l.h5")
    store = f"s3://{BUCKET}/serve/atl03.vzarr"
    vzarr("create", f"s3://{BUCKET}/serve/ATL03_gt1l.h5", "-o", store, check=0)
    server = Server([store], tmp_path / "serve.log")
    try:
        g = zarr.open_group(f"{server.base}/atl03.vzarr/", mode="r", zarr_format=3)
        with h5py.File(local) as f:
            dsets = h5_datasets(f)
            assert len(dsets) == 80
            for name, ds in dsets.items():
                ok, why = same_bits(ds[()], as_text(np.asarray(g[name][()])))
                assert ok, f"{name}: {why}"
    finally:
        assert server.stop()[0] == 0
    server = Server([store], tmp_path / "serve2.log", "--allow-source", "s3://another-bucket/")
    try:
        meta = json.loads(request(f"{server.base}/atl03.vzarr/zarr.json")[2])
        arrays = [k for k, v in meta["consolidated_metadata"]["metadata"].items() if v["node_type"] == "array"]
        s, _, body = request(f"{server.base}/atl03.vzarr/{arrays[0]}/c/0")
        assert s in (403, 200), s  # 200 only for an inline chunk
        statuses = {request(f"{server.base}/atl03.vzarr/{a}/c/0")[0] for a in arrays}
        assert 403 in statuses and BUCKET.encode() not in body
    finally:
        server.stop()


def test_materialize_into_s3_and_from_s3(s3, tmp_path):
    """--materialize (libhdf5 build) with a local file written to a store on S3: the
    materialized chunks, inline and in materialized.bin beside the manifest, read back from
    S3. A source on S3 is not materialized (libhdf5 reads local files): a warning, the
    datasets stay refused."""
    exe = libhdf5_or_skip()
    src = tmp_path / "big.h5"
    write_materializable_file(src, 600, seed=5)
    store = f"s3://{BUCKET}/mat/store"
    p = vzarr("create", src, "-o", store, "--materialize", "unsupported", exe=exe, check=0)
    assert "2 materialized through libhdf5" in p.stderr, p.stderr
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="mat/store/")["Contents"]}
    assert "mat/store/materialized.bin" in keys
    compare_store(store, src, tmp_path, ["big", "small"])
    s3.upload_file(str(src), BUCKET, "mat/big.h5")
    p = vzarr("create", f"s3://{BUCKET}/mat/big.h5", "-o", tmp_path / "r", "--materialize", "unsupported", exe=exe, check=1)
    assert "libhdf5 reads local files only" in p.stderr and "refused: " in p.stderr


def test_virtual_and_external_datasets_on_s3(s3, tmp_path):
    """Virtual dataset sources and external raw files beside the file on S3 are resolved
    against its URL and referenced there."""
    from test_virtual import MAPPED, REFUSED, h5_values, write_files

    d = tmp_path / "data"
    d.mkdir()
    src = write_files(d)
    for p in d.iterdir():
        s3.upload_file(str(p), BUCKET, f"vds/{p.name}")
    want = h5_values(src)
    store = tmp_path / "s"
    vzarr("create", f"s3://{BUCKET}/vds/vds.h5", "-o", store, check=1)
    info = json.loads((store / "vzarr.json").read_text())
    assert all(s["url"].startswith(f"s3://{BUCKET}/vds/") for s in info["sources"]), info["sources"]
    assert {r["path"] for r in info["refused"]} == {f"/{n}" for n in REFUSED}
    for name in MAPPED:
        vzarr("get", store, name, "-o", tmp_path / "v.npy", check=0)
        ok, why = same_bits(want[name], np.load(tmp_path / "v.npy"))
        assert ok, f"{name}: {why}"
