#!/usr/bin/env bash
# Run every fuzz target for a set time and print a table of executions and crashes.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Environment: CORPUS (../shared/corpus), FUZZ_WORK (/var/tmp/vzarr-fuzz: seeds, corpora grown
# by earlier runs, logs), FUZZ_TARGET_DIR (/var/tmp/vzarr-fuzz-target), VZARR (a vzarr binary
# for manifest seeds). Needs cargo-fuzz (installed here when missing) and a
# toolchain with nightly features: a stable rustc is used with RUSTC_BOOTSTRAP=1.
# Exit status 1 if any target crashed (artifacts under fuzz/artifacts/<target>/), 2 on error.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=${1:-300}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(hdf5_superblock hdf5_object_header hdf5_file hdf5_remote dmrpp ceos_records ceos manifest chunk_key filter_chunks)
fi
corpus=${CORPUS:-$root/../shared/corpus}
work=${FUZZ_WORK:-/var/tmp/vzarr-fuzz}
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-/var/tmp/vzarr-fuzz-target}
export RUSTC_BOOTSTRAP=1
# The test venv (h5py) when there is one, for the generated seeds.
if [ -x .venv/bin/python ]; then default_python=.venv/bin/python; else default_python=python3; fi
python=${PYTHON:-$default_python}

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

mkdir -p "$work/seeds" "$work/corpus" "$work/logs"
if [ -f "$corpus/MANIFEST.tsv" ]; then
  rm -rf "$work/seeds"
  "$python" scripts/fuzz_seeds.py "$corpus" "$work/seeds" ${VZARR:+--vzarr "$VZARR"}
else
  echo "fuzz: no shared corpus at $corpus; targets start from empty corpora"
fi

# Release with debug assertions and overflow checks; no sanitizer (the parsers are safe Rust,
# the targets decode no chunk through C codecs), so the build is the plain one and fast.
if ! (cd fuzz && cargo fuzz build --debug-assertions --sanitizer none >"$work/logs/build.log" 2>&1); then
  tail -n 30 "$work/logs/build.log"
  echo "fuzz: build failed"
  exit 2
fi
bins="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"

crashed=0
rows=()
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t" "fuzz/artifacts/$t"
  log="$work/logs/$t.log"
  seeds=()
  [ -d "$work/seeds/$t" ] && seeds=("$work/seeds/$t")
  set +e
  "$bins/$t" "$work/corpus/$t" "${seeds[@]}" \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+')
  units=$(find "$work/corpus/$t" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then result="no crash"; else result="CRASH (exit $rc, see $log)"; crashed=1; fi
  rows+=("| \`$t\` | ${runs:-?} | ${cov:-?} | $units | $result |")
done

echo
echo "fuzzing: ${seconds} s per target, $(date -u +%Y-%m-%d)"
echo
echo "| target | executions | coverage (edges) | corpus units | result |"
echo "|---|---:|---:|---:|---|"
printf '%s\n' "${rows[@]}"
exit "$crashed"
