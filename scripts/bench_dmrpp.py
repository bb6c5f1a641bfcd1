"""Benchmark DMR++ parsing: vzarr's DMR++ reader against VirtualiZarr's DMRPPParser.

What is timed, on each DMR++ document (read from a local file, page cache warm):
  vzarr parse   `vzarr::dmrpp::read(xml, opts)` in process, the document already in memory
                (`cargo bench --profile release --bench dmrpp_parse`: XML parse + mapping to
                the model, median of --inproc-runs after one warm-up run)
  vzarr CLI     `vzarr inspect FILE --data-url URL --json > /dev/null`: a fresh process per
                run, wall time from process start to exit (reads the file, parses, maps, and
                prints the JSON report of every node; no store is written)
  VZ per group  VirtualiZarr `DMRPPParser(group=g)(url, registry)` once for every group of
                the file: the parser builds one group per call (the group becomes the
                ManifestStore's root; `group=None` means the root group only), so parsing the
                whole file takes one call per group and each call reads and XML-parses the
                document again. The list of groups is computed before the clock starts.
  VZ one pass   the same work with the XML parsed once: what `DMRPPParser.__call__` does
                (read the document through the registry, `ElementTree.parse`, `DMRParser`),
                then `DMRParser.parse_dataset(store, group=g)` for every group. A lower bound
                for VirtualiZarr on files with groups; identical to "VZ per group" without.
For both VirtualiZarr columns the parser step alone is timed (building the ManifestStore), in
a fresh worker process whose clock starts after the imports and after one untimed warm-up
run; median of --runs.

The data file is `file:///nonexistent/<DMR++ name without .dmrpp>` for both tools (neither
opens it; VirtualiZarr uses the DMR++ URL minus `.dmrpp`; ATL08's `dmrpp:href` is the
OPeNDAP_DMRpp_DATA_ACCESS_URL template, for which vzarr needs --data-url).

Speed-up = VirtualiZarr's time ("VZ one pass", its lower bound) / vzarr's time; one more column
divides "VZ per group" (the public call) by the in-process vzarr parse.

    .venv-bench/bin/python scripts/bench_dmrpp.py [--vzarr PATH] [--runs 5] [--inproc-runs 20]
        [--skip-inproc] [--doc docs/benchmarks.md] [FILE.dmrpp ...]

`make bench-dmrpp` builds vzarr in release mode and runs this with the pinned VirtualiZarr of
manifests/requirements-bench.txt (`make venv-bench`).
"""
import argparse
import json
import os
import pathlib
import platform
import re
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
CORPUS = pathlib.Path(os.environ.get("VZARR_CORPUS") or REPO.parent / "shared" / "corpus")
DEFAULT_FILES = [
    "opendap-bes/modules/dmrpp_module/ngap_container/unit-tests/data/ATL08_20200716202251.h5.dmrpp",
    "opendap-bes/modules/dmrpp_module/data/s3/AIRS.2015.12.30.L3.RetStd_IR001.v6.0.31.0.G16116184203.nc.h5.dmrpp",
    "opendap-bes/modules/dmrpp_module/data/s3/MERRA2_400.tavgM_2d_slv_Nx.201606.nc4.dmrpp",
]
TIMEOUT = 600  # seconds for all runs of one tool on one file
DOC_START = "<!-- bench-dmrpp:start (written by scripts/bench_dmrpp.py) -->"
DOC_END = "<!-- bench-dmrpp:end -->"


def data_url(path):
    name = pathlib.Path(path).name
    return "file:///nonexistent/" + name.removesuffix(".dmrpp")


# ---------------------------------------------------------------------------------------------
# VirtualiZarr (run as `--worker MODE FILE --runs N` in a child process)


def worker(mode, path, runs):
    import io
    import warnings
    from xml.etree import ElementTree as ET

    from obspec_utils.readers import EagerStoreReader
    from obspec_utils.registry import ObjectStoreRegistry
    from obstore.store import LocalStore
    from virtualizarr.parsers import DMRPPParser
    from virtualizarr.parsers.dmrpp import DMRParser

    path = pathlib.Path(path).resolve()
    url = path.as_uri()
    registry = ObjectStoreRegistry({"file://": LocalStore()})
    # The groups of the file (not timed): "/" and every nested group, as DMRParser splits them.
    root = ET.parse(str(path)).getroot()
    groups = [str(g) for g in DMRParser(root=root, data_filepath=url)._split_groups(root)]

    def per_group():
        return [DMRPPParser(group=g)(url=url, registry=registry) for g in groups]

    def one_pass():
        store, path_in_store = registry.resolve(url)
        xml = EagerStoreReader(store=store, path=path_in_store).readall()
        parser = DMRParser(root=ET.parse(io.BytesIO(xml)).getroot(), data_filepath=url.removesuffix(".dmrpp"))
        return [parser.parse_dataset(object_store=store, group=g) for g in groups]

    fn = {"per-group": per_group, "one-pass": one_pass}[mode]
    out = {"groups": len(groups)}
    try:
        # Warm-up run, untimed: counts what VirtualiZarr produced and what it warned about.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stores = fn()
        out["variables"] = sum(len(ms._group.arrays) for ms in stores)
        out["not_parsed"] = sum("could not be parsed" in str(w.message) for w in caught)
        del stores
        warnings.simplefilter("ignore")
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            stores = fn()
            times.append(time.perf_counter() - t)
            del stores
        out["times"] = times
    except Exception as e:  # noqa: BLE001 - a peer's failure is a result to report
        out["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:200]
    print("BENCH-RESULT " + json.dumps(out), flush=True)


def run_vz(mode, path, runs):
    try:
        p = subprocess.run(
            [sys.executable, __file__, "--worker", mode, str(path), "--runs", str(runs)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout: no result after {TIMEOUT} s (killed)"}
    for line in p.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT ") :])
    tail = (p.stderr.strip().splitlines() or ["no output"])[-1][:300]
    return {"error": f"worker exited {p.returncode}: {tail}"}


# ---------------------------------------------------------------------------------------------
# vzarr


def run_cli(vzarr, path, runs):
    cmd = [vzarr, "inspect", str(path), "--data-url", data_url(path), "--json"]
    # Untimed first run: the counts (and a warm page cache).
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    if p.returncode not in (0, 1) or not p.stdout.strip():
        return {"error": f"exit {p.returncode}: " + (p.stderr.strip().splitlines() or [""])[-1][:300]}
    report = json.loads(p.stdout)
    out = {
        "arrays": sum(n["node_type"] == "array" for n in report["nodes"]),
        "groups": sum(n["node_type"] == "group" for n in report["nodes"]),
        "refused": len(report["refused"]),
        "chunk_refs": sum((n.get("chunks") or {}).get("virtual_refs", 0) for n in report["nodes"]),
        "inline": sum((n.get("chunks") or {}).get("inline", 0) for n in report["nodes"]),
    }
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=TIMEOUT)
        times.append(time.perf_counter() - t)
    out["times"] = times
    return out


def run_inproc(files, runs, cargo, target_dir):
    """`cargo bench --profile release --bench dmrpp_parse` on the files: {abs path: result}."""
    env = dict(os.environ, DMRPP_BENCH_FILES=os.pathsep.join(str(f) for f in files))
    env["DMRPP_BENCH_RUNS"] = str(runs)
    env["DMRPP_BENCH_JSON"] = "1"
    if target_dir:
        env["CARGO_TARGET_DIR"] = target_dir
    p = subprocess.run(
        [cargo, "bench", "--profile", "release", "--bench", "dmrpp_parse"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
    )
    results = {}
    for line in p.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            r = json.loads(line[len("BENCH-RESULT ") :])
            results[str(pathlib.Path(r["file"]).resolve())] = r
    if p.returncode != 0 or not results:
        tail = "\n".join(p.stderr.strip().splitlines()[-5:])
        print(f"cargo bench --bench dmrpp_parse failed (exit {p.returncode}):\n{tail}", file=sys.stderr)
    return results


# ---------------------------------------------------------------------------------------------
# Report


def fmt_t(s):
    if s is None:
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 0.1:
        return f"{s * 1e3:.0f} ms"
    if s >= 0.01:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e3:.2f} ms"


def fmt_size(n):
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def med(r):
    return statistics.median(r["times"]) if r and r.get("times") else None


def cell(r, key="times"):
    if r is None:
        return "not run"
    if r.get("error"):
        return "**failed**"
    return fmt_t(med(r))


def ratio(a, b):
    if not (a and b):
        return "—"
    x = a / b
    return f"{x:.1f}×" if x < 10 else f"{x:.0f}×"


def render(rows, args, env_info):
    out = []
    w = out.append
    w("## DMR++ parsing")
    w("")
    w(
        "Rerun: `make bench-dmrpp` (builds vzarr in release mode with `cargo bench --profile release "
        "--bench dmrpp_parse --no-run`, then runs `scripts/bench_dmrpp.py` with the pinned VirtualiZarr "
        "of `manifests/requirements-bench.txt` in `.venv-bench`; `BENCH_ARGS=\"--runs N\"`). The "
        "in-process vzarr numbers alone: `cargo bench --bench dmrpp_parse` (`DMRPP_BENCH_FILES=a.dmrpp:b.dmrpp` "
        "for other files)."
    )
    w("")
    w(f"Machine: {env_info}. Local files, page cache warm.")
    w("")
    w("What each column runs:")
    w("")
    w(
        f"- **vzarr parse**: `vzarr::dmrpp::read(xml, opts)` in process on the document already in memory "
        f"(XML parse and mapping of every group to the model); median of {args.inproc_runs} runs after a warm-up."
    )
    w(
        f"- **vzarr CLI**: `vzarr inspect FILE --data-url URL --json > /dev/null`, a fresh process per run, "
        f"timed from process start to exit (reads the file, parses, maps, serialises every node's metadata "
        f"as JSON; no store written); median of {args.runs}."
    )
    w(
        "- **VZ per group**: VirtualiZarr `DMRPPParser(group=g)(url, registry)` for every group `g` of the file. "
        "`DMRPPParser` builds one group per call (that group becomes the `ManifestStore`'s root; nested groups "
        "are not included, and `group=None` gives the root group only), so a whole file takes one call per group, "
        "and every call reads and XML-parses the whole document again."
    )
    w(
        "- **VZ one pass**: the same groups with the XML read and parsed once: `ElementTree.parse` + "
        "`DMRParser(root, data_filepath)` as `DMRPPParser.__call__` does, then `DMRParser.parse_dataset(store, "
        "group=g)` for every group. A lower bound for VirtualiZarr (no public call does this); equal to "
        "\"VZ per group\" on files without groups."
    )
    w(
        f"- VirtualiZarr runs in a fresh worker process per file and column; its clock starts after the imports "
        f"and after one untimed warm-up run; median of {args.runs}. Only the parser step is timed (building "
        f"the `ManifestStore`, as \"VZ parse\" above)."
    )
    w(
        "- The data file is `file:///nonexistent/<name without .dmrpp>` for both (neither tool opens it). "
        "Speed-up = \"VZ one pass\" (VirtualiZarr's lower bound) / vzarr, except the column "
        "that says \"vs VZ per group\" (VirtualiZarr's public call, once per group / vzarr parse)."
    )
    w("")
    w(
        "| file | size | groups | vzarr parse | vzarr CLI | VZ per group | VZ one pass | speed-up, parse "
        "| speed-up, CLI | speed-up, parse vs VZ per group | vzarr: arrays mapped (refused) "
        "| VZ: variables returned (not parsed) |"
    )
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        vz = r["vz_one_pass"]
        vz_t = med(vz) if vz and not vz.get("error") else None
        pg = r["vz_per_group"]
        pg_t = med(pg) if pg and not pg.get("error") else None
        inproc = r["inproc"]
        ip_t = inproc["median_s"] if inproc else None
        cli = r["cli"]
        cli_t = med(cli) if not cli.get("error") else None
        vzarr_counts = (
            f"{cli['arrays']} ({cli['refused']})"
            if not cli.get("error")
            else (f"{inproc['arrays']} ({inproc['refused']})" if inproc else "—")
        )
        src = vz if vz and not vz.get("error") else r["vz_per_group"]
        vz_counts = f"{src['variables']} ({src['not_parsed']})" if src and "variables" in src else "—"
        w(
            f"| {r['name']} | {fmt_size(r['size'])} | {vz.get('groups', '—') if vz else '—'} "
            f"| {fmt_t(ip_t)} | {cell(cli)} | {cell(r['vz_per_group'])} | {cell(vz)} "
            f"| {ratio(vz_t, ip_t)} | {ratio(vz_t, cli_t)} | {ratio(pg_t, ip_t)} | {vzarr_counts} | {vz_counts} |"
        )
    w("")
    notes = []
    for r in rows:
        for key, label in (("cli", "vzarr CLI"), ("vz_per_group", "VZ per group"), ("vz_one_pass", "VZ one pass")):
            if r[key] and r[key].get("error"):
                notes.append(f"- {r['name']}, {label}: {r[key]['error']}")
        if r["inproc"] is None and not args.skip_inproc:
            notes.append(f"- {r['name']}, vzarr parse: no result from `cargo bench --bench dmrpp_parse`")
    if notes:
        w("Failures:")
        w("")
        out.extend(notes)
        w("")
    w(
        "Fastest run of each (less sensitive to other load on the machine than the medians):"
    )
    w("")
    for r in rows:
        ip = r["inproc"]
        ip_min = min(ip["times_s"]) if ip and ip.get("times_s") else None
        mins = {
            k: min(r[k]["times"]) if r[k] and not r[k].get("error") and r[k].get("times") else None
            for k in ("cli", "vz_per_group", "vz_one_pass")
        }
        w(
            f"- {r['name']}: vzarr parse {fmt_t(ip_min)}, vzarr CLI {fmt_t(mins['cli'])}, VZ per group "
            f"{fmt_t(mins['vz_per_group'])}, VZ one pass {fmt_t(mins['vz_one_pass'])}: speed-up, parse "
            f"{ratio(mins['vz_one_pass'], ip_min)}, CLI {ratio(mins['vz_one_pass'], mins['cli'])}, parse vs VZ per "
            f"group {ratio(mins['vz_per_group'], ip_min)}"
        )
    w("")
    w(
        "Counts: vzarr's arrays and refusals from `vzarr inspect --json` (a refused variable is named with its "
        "reason); VirtualiZarr's variables summed over the groups' `ManifestStore`s, and its \"could not be "
        "parsed\" warnings (the variable is then left out)."
    )
    w("")
    w("Files:")
    w("")
    for r in rows:
        w(f"- {r['name']}: {r['desc']}")
    return "\n".join(out) + "\n"


def write_doc(doc, md):
    """Replace (or append) the marked DMR++ section of doc."""
    p = pathlib.Path(doc)
    text = p.read_text() if p.exists() else ""
    block = f"{DOC_START}\n{md}{DOC_END}\n"
    m = re.search(re.escape(DOC_START) + r".*?" + re.escape(DOC_END) + r"\n?", text, flags=re.S)
    if m:
        text = text[: m.start()] + block + text[m.end() :]
    else:
        text = text.rstrip("\n") + ("\n\n" if text.strip() else "") + block
    p.write_text(text)


def main():
    global TIMEOUT
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = os.environ.get("CARGO_TARGET_DIR") or str(REPO / "target")
    ap.add_argument("files", nargs="*", help=f"DMR++ files (default: ATL08, AIRS and MERRA-2 of {CORPUS})")
    ap.add_argument("--vzarr", default=str(pathlib.Path(target) / "release" / "vzarr"))
    ap.add_argument("--runs", type=int, default=5, help="runs of the CLI and of VirtualiZarr (median)")
    ap.add_argument("--inproc-runs", type=int, default=20, help="runs of the in-process vzarr parse (median)")
    ap.add_argument("--skip-inproc", action="store_true", help="don't run `cargo bench --bench dmrpp_parse`")
    ap.add_argument("--cargo", default="cargo")
    ap.add_argument("--timeout", type=int, default=TIMEOUT, help="seconds allowed for all runs of one tool on one file")
    ap.add_argument("--doc", default=str(REPO / "docs" / "benchmarks.md"), help="write the section here ('' = don't)")
    ap.add_argument("--worker", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    TIMEOUT = args.timeout
    if args.worker:
        return worker(args.worker[0], args.worker[1], args.runs)

    files = [pathlib.Path(f).resolve() for f in args.files] or [CORPUS / f for f in DEFAULT_FILES]
    missing = [f for f in files if not f.is_file()]
    if missing:
        sys.exit("not found: " + ", ".join(map(str, missing)))
    vzarr = str(pathlib.Path(args.vzarr).resolve())
    if not os.access(vzarr, os.X_OK):
        sys.exit(f"vzarr binary not found at {vzarr} (build it, or pass --vzarr)")

    inproc = {}
    if not args.skip_inproc:
        print("cargo bench --profile release --bench dmrpp_parse ...", file=sys.stderr, flush=True)
        # The target dir of the binary, so the bench reuses its build.
        inproc = run_inproc(files, args.inproc_runs, args.cargo, str(pathlib.Path(vzarr).parent.parent))
    rows = []
    for f in files:
        print(f"== {f.name}", file=sys.stderr, flush=True)
        try:
            desc = f"corpus `{f.relative_to(CORPUS.resolve())}`"
        except ValueError:
            desc = f"`{f}`"
        row = {
            "name": f.name,
            "size": f.stat().st_size,
            "desc": desc,
            "inproc": inproc.get(str(f.resolve())),
            "cli": run_cli(vzarr, f, args.runs),
            "vz_per_group": run_vz("per-group", f, args.runs),
            "vz_one_pass": run_vz("one-pass", f, args.runs),
        }
        for k in ("inproc", "cli", "vz_per_group", "vz_one_pass"):
            r = row[k]
            t = (r or {}).get("median_s") if k == "inproc" else med(r) if r and not r.get("error") else None
            print(f"   {k:13} {fmt_t(t):>10}  {(r or {}).get('error', '')}", file=sys.stderr, flush=True)
        rows.append(row)

    import virtualizarr

    ver = subprocess.run([vzarr, "--version"], capture_output=True, text=True).stdout.strip() or "vzarr"
    env_info = (
        f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}; {ver} (release build), "
        f"virtualizarr {virtualizarr.__version__}, Python {platform.python_version()}"
    )
    md = render(rows, args, env_info)
    print(md)
    out_dir = pathlib.Path(vzarr).parent.parent / "bench-dmrpp"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(rows, default=str, indent=1))
    if args.doc:
        write_doc(args.doc, md)
        print(f"wrote the DMR++ section of {args.doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
