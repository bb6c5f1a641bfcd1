"""Remote faults (issue 8): vzarr against the moto S3 emulator behind a fault-injecting proxy
(tests/python/faultproxy.py, 127.0.0.1 only).

Per scenario, `vzarr create s3://… -o s3://…`, `create s3://… -o LOCAL` and `vzarr get` on an
ICESat-2 ATL03 subset and two deflate netCDF-4 files must either succeed with values
bit-identical to h5py, or fail (exit 2, vzarr's status for errors) with a message naming the
object, in bounded time, without a panic, and without leaving a partial store in place of the
complete one that was there before. Transient faults must be absorbed by object_store's own
retries (vzarr uses the default RetryConfig: 10 retries, 100 ms initial backoff, 3 min).

`pytest -s` prints a table: scenario → result, requests the proxy saw, faults injected,
retries seen (requests repeating a faulted method + path). The assertions carry the truth.
Commands run with a 60 s timeout (conftest.vzarr allows 600 s), so a hang fails the test.
The end: replacing a store on S3 (staged beside it, so a failed upload keeps the previous
store; a failure while copying into place leaves a store readers refuse), and overwrite never
replacing what is not a store.
"""
import os
import socket
import subprocess
import sys
import time

import boto3
import h5py
import numpy as np
import pytest

import conftest
from conftest import corpus_or_skip, manifest_files
from faultproxy import Delay, FaultProxy, Hangup, Reset, Rule, Stall, Status, Trickle, Truncate
from h5ref import same_bits
from test_hdf5_reference import h5_variables

BUCKET = "vzarr-faults"
# name in the corpus → arrays read back with `vzarr get` (None: all of them)
FILES = {
    "ATL03_gt1l.h5": ["gt1l/heights/h_ph", "gt1l/heights/lat_ph", "gt1l/geolocation/segment_id"],
    "trmm-nc4z.nc": None,                # shuffle + deflate, 40 chunks
    "M2T1NXSLV_geo_temporal.nc4": ["PS", "time"],  # deflate
}
PREVIOUS = "trmm-nc4z.nc"  # the complete store a failing create must leave in place
COMMAND_TIMEOUT = 60       # seconds: a hang fails the test
RESULTS = []               # rows of the printed table


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def corpus_file(name):
    corpus_or_skip()
    for p in manifest_files({"hdf5", "icesat2"}):
        if p.name == name:
            return p
    pytest.skip(f"{name} not in corpus")


@pytest.fixture(scope="module")
def world():
    """moto on 127.0.0.1, the proxy in front of it, the corpus files uploaded, and the AWS_*
    environment pointing vzarr at the proxy."""
    files = {name: corpus_file(name) for name in FILES}
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    for _ in range(100):
        try:
            client.list_buckets()
            break
        except Exception:  # noqa: BLE001 - server still starting
            time.sleep(0.1)
    client.create_bucket(Bucket=BUCKET)
    for name, path in files.items():
        client.upload_file(str(path), BUCKET, f"src/{name}")
    proxy = FaultProxy(port)
    env = {
        "AWS_ENDPOINT": f"http://127.0.0.1:{proxy.port}",
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
    }
    old = {k: os.environ.get(k) for k in [*env, "AWS_TIMEOUT"]}
    os.environ.update(env)
    os.environ.pop("AWS_TIMEOUT", None)
    try:
        yield {"s3": client, "proxy": proxy, "files": files}
    finally:
        proxy.close()
        moto.terminate()
        moto.wait(timeout=10)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        print_table()


def print_table():
    if not RESULTS:
        return
    rows = [("scenario", "expected", "result", "requests", "faults", "retries", "seconds"), *RESULTS]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    print("\n\nremote faults (vzarr through faultproxy → moto):")
    for i, r in enumerate(rows):
        print("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))


class Tally:
    """Requests, faults and retries the proxy saw over one scenario's commands."""

    def __init__(self, proxy, rules, env):
        self.proxy, self.rules, self.env = proxy, rules, env
        self.requests = self.faults = self.retries = 0
        self.start = time.monotonic()

    def run(self, *args, faulty=True):
        """Run vzarr with the scenario's faults armed afresh (or none); never a panic or a hang."""
        self.proxy.set_rules(*(self.rules() if faulty else ()))
        env = {**os.environ, **(self.env if faulty else {})}
        t = time.monotonic()
        try:
            p = subprocess.run([conftest.VZARR, *map(str, args)], capture_output=True, text=True,
                               timeout=COMMAND_TIMEOUT, env=env)
        except subprocess.TimeoutExpired:
            pytest.fail(f"vzarr {args} hung (> {COMMAND_TIMEOUT} s)")
        elapsed = time.monotonic() - t
        self.requests += self.proxy.requests
        self.faults += self.proxy.faults
        self.retries += self.proxy.retries
        self.proxy.set_rules()
        assert "panicked" not in p.stderr, f"vzarr panicked: {args}\n{p.stderr}"
        assert p.returncode in (0, 2), f"vzarr {args} exited {p.returncode}\n{p.stderr}"
        assert not self.proxy.errors, self.proxy.errors
        return p, elapsed


def read_back(t, store, local, names, tmp_path, faulty=True):
    """`vzarr get` every name from `store`; each must equal h5py's values bit for bit."""
    with h5py.File(local) as f:
        dsets = h5_variables(f)
        for name in names or sorted(dsets):
            out = tmp_path / "v.npy"
            out.unlink(missing_ok=True)
            p, _ = t.run("get", store, name, "-o", out, faulty=faulty)
            assert p.returncode == 0, f"get {store} {name}: {p.stderr}"
            ok, why = same_bits(dsets[name][()], np.load(out))
            assert ok, f"{store} {name}: {why}"


def clear_error(p, *names):
    """Exit 2 with an `error:` line naming one of `names` (the object that failed)."""
    assert p.returncode == 2, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert lines, p.stderr
    assert any(n in ln for ln in lines for n in names), f"no error names any of {names}:\n{p.stderr}"


GET_BODY = lambda r: r.method == "GET"  # noqa: E731
PUT = lambda r: r.method == "PUT"  # noqa: E731

# name → (rules factory, extra environment): faults a client must ride out
TRANSIENT = {
    "500 x3 first requests": (lambda: [Rule(Status(500), first=3)], {}),
    "503 x3 first requests": (lambda: [Rule(Status(503), first=3)], {}),
    "503 every 7th request": (lambda: [Rule(Status(503), every=7)], {}),
    "reset mid-body once": (lambda: [Rule(Reset(0.5), match=GET_BODY, first=1, min_body=4096)], {}),
    "truncated body once": (lambda: [Rule(Truncate(0.5), match=GET_BODY, first=1, min_body=4096)], {}),
    "reset before response x2": (lambda: [Rule(Hangup(), first=2)], {}),
    "PUT done, reply lost once": (lambda: [Rule(Hangup(after_upstream=True), match=PUT, first=1)], {}),
    "slow headers 0.25 s x2": (lambda: [Rule(Delay(0.25), first=2)], {}),
    "trickled body x2": (lambda: [Rule(Trickle(4, 0.03), match=GET_BODY, first=2, min_body=4096)], {}),
    "stalled once (AWS_TIMEOUT=500ms)": (lambda: [Rule(Stall(15), first=1)], {"AWS_TIMEOUT": "500ms"}),
}

# name → (rules factory, extra environment, outputs tried: both, or the local one only to
# keep the slow scenario short)
PERSISTENT = {
    "503 every request": (lambda: [Rule(Status(503))], {}, "both"),
    "reset every body": (lambda: [Rule(Reset(0.5), match=GET_BODY)], {}, "both"),
    "truncate every body": (lambda: [Rule(Truncate(0.5), match=GET_BODY)], {}, "both"),
    "stall every request (AWS_TIMEOUT=500ms)": (lambda: [Rule(Stall(15))], {"AWS_TIMEOUT": "500ms"}, "local"),
}


@pytest.mark.parametrize("scenario", list(TRANSIENT))
def test_transient_fault_is_ridden_out(world, scenario, tmp_path):
    rules, env = TRANSIENT[scenario]
    t = Tally(world["proxy"], rules, env)
    try:
        for name, arrays in FILES.items():
            local = world["files"][name]
            src = f"s3://{BUCKET}/src/{name}"
            s3_store = f"s3://{BUCKET}/transient/{scenario.replace(' ', '_')}/{name}.vzarr"
            p, _ = t.run("create", src, "-o", s3_store)
            assert p.returncode == 0, p.stderr
            p, _ = t.run("create", src, "-o", tmp_path / name)
            assert p.returncode == 0, p.stderr
            read_back(t, s3_store, local, arrays, tmp_path)
            if arrays is None:
                with h5py.File(local) as f:
                    arrays = sorted(h5_variables(f))
            read_back(t, tmp_path / name, local, arrays[:1], tmp_path)
        if scenario.startswith(("500", "503", "reset", "truncated", "PUT", "stalled")):
            assert t.faults > 0, "the scenario injected nothing"
            # Every command succeeded with h5py's bytes, so each fault on a request the client
            # needed was ridden out. The proxy pairs a fault with a later request of the same
            # method and path; occasionally one reset is left unpaired (the client
            # got what it needed another way), so the tally may fall short of the faults —
            # but object_store must have retried.
            assert t.retries > 0, "no fault was retried"
            assert t.retries >= t.faults // 2, f"only {t.retries} of {t.faults} faults were retried"
        RESULTS.append((scenario, "ok", "ok", t.requests, t.faults, t.retries, f"{time.monotonic() - t.start:.1f}"))
    except BaseException:
        RESULTS.append((scenario, "ok", "FAILED", t.requests, t.faults, t.retries, f"{time.monotonic() - t.start:.1f}"))
        raise


@pytest.mark.parametrize("scenario", list(PERSISTENT))
def test_persistent_fault_fails_clearly_and_keeps_the_previous_store(world, scenario, tmp_path):
    rules, env, outputs = PERSISTENT[scenario]
    t = Tally(world["proxy"], rules, env)
    prev_local = world["files"][PREVIOUS]
    prev_src = f"s3://{BUCKET}/src/{PREVIOUS}"
    tag = scenario.split(" (")[0].replace(" ", "_")
    s3_store = f"s3://{BUCKET}/persistent/{tag}/store.vzarr"
    local_store = tmp_path / "store.vzarr"
    try:
        # A complete store from another file, at both outputs.
        for out in (s3_store, local_store):
            p, _ = t.run("create", prev_src, "-o", out, faulty=False)
            assert p.returncode == 0, p.stderr
        name = "ATL03_gt1l.h5"
        src = f"s3://{BUCKET}/src/{name}"
        for out in (s3_store, local_store) if outputs == "both" else (local_store,):
            p, elapsed = t.run("create", src, "-o", out, "--overwrite")
            clear_error(p, src, f"/{BUCKET}/src/{name}")
            assert elapsed < 45, f"failure took {elapsed:.0f} s"
        # Reading through the stores under the same fault fails clearly too.
        for store in (s3_store, local_store) if outputs == "both" else (s3_store,):
            p, elapsed = t.run("get", store, "pcp", "-o", tmp_path / "v.npy")
            clear_error(p, str(store), prev_src, f"/{BUCKET}/")
            assert elapsed < 45, f"failure took {elapsed:.0f} s"
        # The previous stores are intact and read right.
        for store in (s3_store, local_store):
            read_back(t, store, prev_local, None, tmp_path, faulty=False)
        assert not [p for p in tmp_path.iterdir() if "vzarr-tmp" in p.name], list(tmp_path.iterdir())
        RESULTS.append((scenario, "clear error", "clear error", t.requests, t.faults, t.retries,
                        f"{time.monotonic() - t.start:.1f}"))
    except BaseException:
        RESULTS.append((scenario, "clear error", "FAILED", t.requests, t.faults, t.retries,
                        f"{time.monotonic() - t.start:.1f}"))
        raise


def test_failed_first_create_on_s3_leaves_no_store(world, tmp_path):
    """PUTs failing part-way through a fresh S3 store: exit 2 naming the object; what is left
    under the prefix is not a store (no vzarr.json, its commit marker)."""
    t = Tally(world["proxy"], lambda: [Rule(Status(503), match=lambda r: PUT(r) and r.path.endswith("manifest.parquet"))], {})
    store = f"s3://{BUCKET}/fresh/store.vzarr"
    p, elapsed = t.run("create", f"s3://{BUCKET}/src/ATL03_gt1l.h5", "-o", store)
    clear_error(p, f"{store}/manifest.parquet")
    assert elapsed < 45
    keys = {o["Key"] for o in world["s3"].list_objects_v2(Bucket=BUCKET, Prefix="fresh/").get("Contents", [])}
    assert "fresh/store.vzarr/vzarr.json" not in keys
    p, _ = t.run("get", store, "gt1l/heights/h_ph", "-o", tmp_path / "v.npy", faulty=False)
    assert p.returncode == 2 and "not a vzarr store" in p.stderr, p.stderr
    RESULTS.append(("503 on manifest PUT, fresh s3 store", "clear error", "clear error", t.requests, t.faults,
                    t.retries, f"{time.monotonic() - t.start:.1f}"))


def test_failed_overwrite_on_s3_keeps_the_previous_store(world, tmp_path):
    """Replacing a store on S3 stages the new files beside it: a failed upload leaves the
    previous store as it was, and no staging objects behind."""
    t = Tally(world["proxy"], lambda: [Rule(Status(503), match=lambda r: PUT(r) and r.path.endswith("manifest.parquet"))], {})
    store = f"s3://{BUCKET}/overwrite/store.vzarr"
    prev = world["files"][PREVIOUS]
    p, _ = t.run("create", f"s3://{BUCKET}/src/{PREVIOUS}", "-o", store, faulty=False)
    assert p.returncode == 0, p.stderr
    p, _ = t.run("create", f"s3://{BUCKET}/src/M2T1NXSLV_geo_temporal.nc4", "-o", store, "--overwrite")
    clear_error(p, "manifest.parquet")
    assert "the previous store is unchanged" in p.stderr, p.stderr
    try:
        read_back(t, store, prev, None, tmp_path, faulty=False)
        result = "previous store intact"
    except AssertionError:
        result = "MIXED STORE"
        raise
    finally:
        RESULTS.append(("503 on manifest PUT, s3 overwrite", "previous store intact", result, t.requests,
                        t.faults, t.retries, f"{time.monotonic() - t.start:.1f}"))
    keys = [o["Key"] for o in world["s3"].list_objects_v2(Bucket=BUCKET, Prefix="overwrite/").get("Contents", [])]
    assert not [k for k in keys if "vzarr-staging" in k], keys
    p, _ = t.run("verify", store, faulty=False)
    assert p.returncode == 0, p.stderr


def test_overwrite_on_s3_failing_midway_is_refused_never_read(world, tmp_path):
    """When the server-side copies into place fail, the store has no vzarr.json: `get` and
    `verify` refuse it with an error naming it, never fill values or a mix of two stores."""
    copy = lambda r: PUT(r) and "x-amz-copy-source" in r.headers  # noqa: E731
    t = Tally(world["proxy"], lambda: [Rule(Status(503), match=copy)], {})
    store = f"s3://{BUCKET}/midway/store.vzarr"
    p, _ = t.run("create", f"s3://{BUCKET}/src/{PREVIOUS}", "-o", store, faulty=False)
    assert p.returncode == 0, p.stderr
    p, _ = t.run("create", f"s3://{BUCKET}/src/M2T1NXSLV_geo_temporal.nc4", "-o", store, "--overwrite")
    clear_error(p, "store.vzarr")
    assert "readers refuse it" in p.stderr, p.stderr
    refused = []
    for args in (("get", store, "PS", "-o", tmp_path / "v.npy"), ("get", store, "pcp", "-o", tmp_path / "w.npy"),
                 ("verify", store), ("inspect", store)):
        p, _ = t.run(*args, faulty=False)
        refused.append(p.returncode == 2 and "vzarr.json" in p.stderr)
    RESULTS.append(("503 on every copy into place, s3 overwrite", "refused on read", "refused on read" if all(refused)
                    else "READABLE", t.requests, t.faults, t.retries, f"{time.monotonic() - t.start:.1f}"))
    assert all(refused), refused
    # Writing it again repairs it.
    p, _ = t.run("create", f"s3://{BUCKET}/src/M2T1NXSLV_geo_temporal.nc4", "-o", store, "--overwrite", faulty=False)
    assert p.returncode == 0, p.stderr
    read_back(t, store, world["files"]["M2T1NXSLV_geo_temporal.nc4"], ["PS"], tmp_path, faulty=False)


def test_create_onto_an_existing_s3_store_needs_overwrite(world, tmp_path):
    t = Tally(world["proxy"], lambda: [], {})
    store = f"s3://{BUCKET}/no-overwrite/store.vzarr"
    p, _ = t.run("create", f"s3://{BUCKET}/src/{PREVIOUS}", "-o", store, faulty=False)
    assert p.returncode == 0, p.stderr
    info = world["s3"].get_object(Bucket=BUCKET, Key="no-overwrite/store.vzarr/vzarr.json")["Body"].read()
    p, _ = t.run("create", f"s3://{BUCKET}/src/M2T1NXSLV_geo_temporal.nc4", "-o", store, faulty=False)
    kept = world["s3"].get_object(Bucket=BUCKET, Key="no-overwrite/store.vzarr/vzarr.json")["Body"].read() == info
    RESULTS.append(("s3 create onto a store, no --overwrite", "refused", "refused" if kept else "REPLACED",
                    t.requests, t.faults, t.retries, f"{time.monotonic() - t.start:.1f}"))
    assert kept, f"the store was replaced without --overwrite (exit {p.returncode})"
    assert p.returncode == 2 and "--overwrite" in p.stderr, p.stderr
    # A prefix holding other objects is never replaced, even with --overwrite.
    world["s3"].put_object(Bucket=BUCKET, Key="not-a-store/data.bin", Body=b"keep me")
    p, _ = t.run("create", f"s3://{BUCKET}/src/{PREVIOUS}", "-o", f"s3://{BUCKET}/not-a-store", "--overwrite", faulty=False)
    assert p.returncode == 2 and "not a store" in p.stderr, p.stderr
    keys = [o["Key"] for o in world["s3"].list_objects_v2(Bucket=BUCKET, Prefix="not-a-store/")["Contents"]]
    assert keys == ["not-a-store/data.bin"], keys


def test_overwrite_never_deletes_a_local_directory_that_is_not_a_store(tmp_path):
    src = corpus_file(PREVIOUS)
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("keep me")
    p = conftest.vzarr("create", src, "-o", d, "--overwrite")
    assert p.returncode == 2 and "not a store" in p.stderr, p.stderr
    assert (d / "notes.txt").read_text() == "keep me"
