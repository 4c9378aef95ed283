#!/usr/bin/env bash
# End-to-end measurement of `xks-lint check` against its parse floor, on a generated
# tenant repository (the README's Performance table comes from this script).
#   benches/e2e.sh [NAMESPACES] [WORKLOADS]     default: 50 5000
# Needs hyperfine (Debian/crates.io package `hyperfine`); prints peak RSS with GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
namespaces=${1:-50}
workloads=${2:-5000}
out=target/bench-corpus-$namespaces-$workloads
cargo build --release --quiet --bin xks-lint
if [ ! -d "$out" ]; then
  cargo run --release --quiet --example gen-corpus -- \
    --namespaces "$namespaces" --workloads "$workloads" --seed 1 "$out"
fi
bin=target/release/xks-lint
echo "corpus: $out ($(find "$out" -type f | wc -l) files, $(du -sh --apparent-size "$out" | cut -f1))"
hyperfine --warmup 1 --runs 10 --ignore-failure \
  -n parse-only "$bin check $out --stage load --format json --output /dev/null" \
  -n check "$bin check $out --format json --output /dev/null" \
  -n check-sarif "$bin check $out --format sarif --output /dev/null"
if command -v /usr/bin/time >/dev/null 2>&1; then
  for stage in load all; do
    /usr/bin/time -f "peak RSS, --stage $stage: %M KB" \
      "$bin" check "$out" --stage "$stage" --format json --output /dev/null || true
  done
fi
"$bin" check "$out" --format json --output /dev/null --timings || true
