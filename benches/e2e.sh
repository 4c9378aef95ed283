#!/usr/bin/env bash
# End-to-end measurement of `xks-lint check` against its parse floor, on generated
# tenant repositories (the README's Performance tables come from this script).
#   benches/e2e.sh [NAMESPACES] [WORKLOADS]     default: 50 5000
#   benches/e2e.sh scale [RUNS]                 issue 16's suite: 5,000 / 20,000 / 100,000
#                                               workloads and the two pathological shapes,
#                                               check vs parse-only side by side, peak RSS,
#                                               `connectivity --group namespace`, and
#                                               SARIF and human output at 100,000
#   benches/e2e.sh floor [RUNS]                 what the ratio target leaves to the rules: at
#                                               5,000 / 20,000 / 100,000 workloads, parse-only,
#                                               the model and graph with one cheap rule (no
#                                               findings to gate or write) and the full check
# Needs hyperfine (Debian/crates.io package `hyperfine`); prints peak RSS with GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin xks-lint --example gen-corpus
bin=target/release/xks-lint
gen=target/release/examples/gen-corpus

# Corpora live outside the repository: inside it, its .gitignore (target/) would leave every
# generated file out of the walk and the runs would measure an empty repository.
bench_dir=${XKS_BENCH_DIR:-${TMPDIR:-/tmp}/xks-lint-bench}
mkdir -p "$bench_dir"

corpus() { # NAME ARGS...: generates $bench_dir/NAME once
  local out=$bench_dir/$1
  shift
  [ -d "$out" ] || "$gen" --seed 1 "$@" "$out" >&2
  # A run that reads no file measures nothing: refuse to go on.
  if "$bin" check "$out" --stage load --format json --output /dev/null 2>&1 |
    grep -q '^xks-lint: 0 files read'; then
    echo "e2e.sh: $out is left out of the walk (an ignore file above it?)" >&2
    exit 1
  fi
  echo "$out"
}

rss() { # LABEL COMMAND...: peak RSS in MB
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "peak RSS, $1: %M KB" "${@:2}" >/dev/null 2>/tmp/xks-e2e-rss || true
    tail -1 /tmp/xks-e2e-rss
  fi
}

if [ "${1:-}" = scale ]; then
  runs=${2:-3}
  c5k=$(corpus 50-5000 --namespaces 50 --workloads 5000)
  c20k=$(corpus 50-20000 --namespaces 50 --workloads 20000)
  c100k=$(corpus 250-100000 --namespaces 250 --workloads 100000)
  open=$(corpus open-6000 --namespaces 1 --workloads 6000 --no-policies)
  ips=$(corpus ip-4000 --namespaces 50 --workloads 4000 --ip-blocks 10000)
  # One base (the 400 workloads of one namespace of the 20,000 corpus) included by 20
  # overlays that each set a namespace: what copy-on-write trees share.
  overlays=$bench_dir/overlays-20
  if [ ! -d "$overlays" ]; then
    mkdir -p "$overlays/base"
    cp "$c20k"/tenant-00/app-*.yaml "$overlays/base/"
    { echo "resources:"; for f in "$overlays"/base/*.yaml; do echo "  - $(basename "$f")"; done; } \
      >"$overlays/kustomization.tmp" && mv "$overlays/kustomization.tmp" "$overlays/base/kustomization.yaml"
    for n in $(seq -w 1 20); do
      mkdir -p "$overlays/overlays/env-$n"
      printf 'namespace: env-%s\nresources:\n  - ../../base\n' "$n" >"$overlays/overlays/env-$n/kustomization.yaml"
    done
  fi
  args=()
  for c in "$c5k" "$c20k" "$c100k" "$open" "$ips" "$overlays"; do
    args+=(-n "parse-only $(basename "$c")" "$bin check $c --stage load --format json --output /dev/null")
    args+=(-n "check $(basename "$c")" "$bin check $c --format json --output /dev/null")
  done
  args+=(-n "connectivity --group namespace $(basename "$c100k")"
    "$bin connectivity $c100k --group namespace")
  # The listing without XKS's intra-namespace defaults: what is left is the cross-namespace
  # flows, the platform's and the addresses (under 4 % of the full listing's lines at 5,000 workloads).
  args+=(-n "connectivity --hide-default $(basename "$c100k")"
    "$bin connectivity $c100k --hide-default --output /dev/null")
  # Every object of every root, as `kubectl kustomize` would print them: streamed too.
  for format in yaml json; do
    args+=(-n "render --format $format $(basename "$c100k")" "$bin render $c100k --format $format")
  done
  # The formats a CI gate (SARIF, GitHub annotations), a laptop (human, the default) and a
  # log (compact) write: they stream too.
  for format in sarif human github compact; do
    args+=(-n "check --format $format $(basename "$c100k")"
      "$bin check $c100k --format $format --output /dev/null")
  done
  # One unmeasured run first: the command before left other files in the page cache and
  # freed memory the host may have reclaimed, which only the first run of each pays.
  hyperfine --warmup 1 --runs "$runs" --ignore-failure --export-markdown target/e2e-scale.md "${args[@]}"
  for c in "$c5k" "$c20k" "$c100k" "$open" "$ips" "$overlays"; do
    rss "parse-only $(basename "$c")" "$bin" check "$c" --stage load --format json --output /dev/null
    rss "check $(basename "$c")" "$bin" check "$c" --format json --output /dev/null
  done
  rss "connectivity --group namespace $(basename "$c100k")" "$bin" connectivity "$c100k" --group namespace
  rss "connectivity --hide-default $(basename "$c100k")" "$bin" connectivity "$c100k" --hide-default
  for format in yaml json; do
    rss "render --format $format $(basename "$c100k")" "$bin" render "$c100k" --format "$format"
  done
  for format in sarif human github compact; do
    rss "check --format $format $(basename "$c100k")" "$bin" check "$c100k" --format "$format" --output /dev/null
  done
  # Where it goes: per stage wall time, CPU time (steadier than wall on a shared machine) and
  # peak RSS after the stage.
  for c in "$c5k" "$c20k" "$c100k" "$open" "$ips" "$overlays"; do
    echo "stages, $(basename "$c"):"
    "$bin" check "$c" --format json --output /dev/null --timings 2>&1 | grep -E 'ms  |total' || true
  done
  exit 0
fi

if [ "${1:-}" = floor ]; then
  runs=${2:-5}
  args=()
  for shape in "50 5000" "50 20000" "250 100000"; do
    set -- $shape
    c=$(corpus "$1-$2" --namespaces "$1" --workloads "$2")
    args+=(-n "parse-only $(basename "$c")" "$bin check $c --stage load --format json --output /dev/null")
    # duplicate-object reads only the model's identity index: the run still loads, builds
    # the kustomize trees, types every object and compiles the graph, and reports nothing.
    args+=(-n "model+graph $(basename "$c")" "$bin check $c --select duplicate-object --format json --output /dev/null")
    args+=(-n "check $(basename "$c")" "$bin check $c --format json --output /dev/null")
  done
  hyperfine --warmup 1 --runs "$runs" --ignore-failure --export-markdown target/e2e-floor.md "${args[@]}"
  exit 0
fi

namespaces=${1:-50}
workloads=${2:-5000}
out=$(corpus "$namespaces-$workloads" --namespaces "$namespaces" --workloads "$workloads")
echo "corpus: $out ($(find "$out" -type f | wc -l) files, $(du -sh --apparent-size "$out" | cut -f1))"
hyperfine --warmup 1 --runs 10 --ignore-failure \
  -n parse-only "$bin check $out --stage load --format json --output /dev/null" \
  -n check "$bin check $out --format json --output /dev/null" \
  -n check-sarif "$bin check $out --format sarif --output /dev/null"
for stage in load all; do
  rss "--stage $stage" "$bin" check "$out" --stage "$stage" --format json --output /dev/null
done
"$bin" check "$out" --format json --output /dev/null --timings || true
