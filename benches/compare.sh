#!/usr/bin/env bash
# Two builds of xks-lint side by side on one corpus, in ABBA order (old, new, new, old per
# round), with wall, user and system time and peak RSS of every run.
#   benches/compare.sh OLD_BIN NEW_BIN CORPUS [check|parse|connectivity|stage:NAME] [ROUNDS]
# stage:NAME reports one stage of `check --timings` (load, model, certs+graph, rules, gate,
# report): its wall and CPU milliseconds and the peak RSS after it.
# Why not hyperfine's blocks (all runs of one command, then all of the next): on the 2-core VM
# a run's system time depends on how much memory the run before it freed (fresh pages the host
# must back again cost microseconds each), and its speed drifts over minutes; a block order
# credits that drift to whichever binary ran later. ABBA gives each binary every position.
# CORPUS comes from `gen-corpus` (see benches/e2e.sh). Needs GNU time (/usr/bin/time).
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,3p' "$0" >&2
  exit 2
fi
old=$1
new=$2
corpus=$3
mode=${4:-check}
rounds=${5:-3}
[ -x /usr/bin/time ] || {
  echo "compare.sh: needs GNU time at /usr/bin/time" >&2
  exit 1
}

run() { # BIN: prints "wall user system rss-KiB" (a stage: "wall-ms cpu-ms - rss-MB")
  local args
  case $mode in
  stage:*)
    "$1" check "$corpus" --format json --output /dev/null --timings 2>&1 |
      awk -v stage="${mode#stage:}" '$2 == stage { print $3, $6, "-", $10 }'
    return
    ;;
  check) args=(check "$corpus" --format json --output /dev/null) ;;
  parse) args=(check "$corpus" --stage load --format json --output /dev/null) ;;
  connectivity) args=(connectivity "$corpus" --group namespace --output /dev/null) ;;
  *)
    echo "compare.sh: mode is check, parse, connectivity or stage:NAME" >&2
    exit 2
    ;;
  esac
  # Findings make check exit 1: the run still counts.
  /usr/bin/time -f "%e %U %S %M" "$1" "${args[@]}" 2>&1 >/dev/null | tail -1
}

# Read every file once so neither binary pays for a cold page cache.
"$new" check "$corpus" --stage load --format json --output /dev/null >/dev/null 2>&1 || true
for _ in $(seq "$rounds"); do
  for label in old new new old; do
    bin=$old
    [ "$label" = new ] && bin=$new
    echo "$label $(run "$bin")"
  done
done | awk -v mode="$mode" '
  { wall[$1] = wall[$1] " " $2; user[$1] = user[$1] " " $3; sys[$1] = sys[$1] " " $4; rss[$1] = rss[$1] " " $5 }
  END {
    for (b in wall)
      if (mode ~ /^stage:/)
        printf "%s %s  wall ms:%s | cpu ms:%s | peak RSS MB:%s\n", mode, b, wall[b], user[b], rss[b]
      else
        printf "%s %s  wall s:%s | user s:%s | system s:%s | peak RSS KiB:%s\n", mode, b, wall[b], user[b], sys[b], rss[b]
  }'
