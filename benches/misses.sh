#!/usr/bin/env bash
# Where `check` misses the last-level cache, per pipeline stage, on one thread.
#   benches/misses.sh BIN CORPUS [LL-BYTES]
# Wall time on the 2-core VM moves by 1.5x with the host's memory state; cache misses
# counted by cachegrind do not. The stages after the load walk trees the load built, by
# then long out of cache, so their misses (not their instructions) are much of their
# time. LL-BYTES (default 8 MiB) should keep the corpus's trees several times the cache,
# as they are on the real machine at 20,000 workloads and up (5,000 workloads: ~70 MB of
# trees). A miss is charged to the xks-lint function it happens in, inlined helpers
# included, so `Node::get` inside a rule counts for `rules`.
# Needs valgrind (cachegrind, cg_annotate).
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,3p' "$0" >&2
  exit 2
fi
bin=$1
corpus=$2
ll=${3:-8388608}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
RAYON_NUM_THREADS=1 valgrind --tool=cachegrind --cache-sim=yes --LL="$ll,16,64" \
  --D1=49152,12,64 --I1=32768,8,64 --cachegrind-out-file="$out" \
  "$bin" check "$corpus" --format json --output /dev/null >/dev/null 2>&1 || true
# Self counts per function (the table before the annotated sources), summed by the
# pipeline module the function belongs to.
cg_annotate --sort=DLmr --show=DLmr,DLmw,Ir --threshold=0 "$out" 2>/dev/null |
  awk '
    /file:function/ { table = 1; next }
    /Auto-annotated source/ { table = 0 }
    table && $0 ~ /^ *[0-9,]+ / {
      line = $0
      gsub(/\([^)]*\)/, "", line)
      split(line, f, " ")
      rd = f[1]; wr = f[2]; gsub(/,/, "", rd); gsub(/,/, "", wr)
      if (wr !~ /^[0-9]+$/) wr = 0
      stage = "other"  # memcpy, the allocator, hashing, std
      n = split("load kustomize model certs graph rules gate fix report", stages, " ")
      for (i = 1; i <= n; i++) {
        if (index(line, "xks_lint::" stages[i] "::")) { stage = stages[i]; break }
      }
      reads[stage] += rd; writes[stage] += wr; total += rd
    }
    END {
      printf "%-10s %12s %12s\n", "stage", "LL rd miss", "LL wr miss"
      for (s in reads) printf "%-10s %12d %12d\n", s, reads[s], writes[s] | "sort -k2 -rn"
      close("sort -k2 -rn")
      printf "%-10s %12d\n", "total", total
    }'
