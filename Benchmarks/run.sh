#!/usr/bin/env bash
# Lint benchmark: wall time and peak memory of `meshc lint` (release build) on synthetic
# repositories of about 1k, 10k and 100k resources, beside libyaml's bare event parse of the
# same files. Targets (issue #2): 12k resources within 2.5x the bare parse; 100k linear and
# under 500 MB.  Usage: Benchmarks/run.sh [SIZES...]   (default: 1000 10000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-1000 10000 100000}")
read -r -a sizes <<< "${sizes[*]}"
work=.build-bench
mkdir -p "$work"

swift build -c release --static-swift-stdlib --product meshc >/dev/null
cc -O2 -o "$work/yaml-events" Benchmarks/yaml-events.c $(pkg-config --cflags --libs yaml-0.1)

printf "%-10s %-7s %-9s %-12s %-12s %-10s %-8s\n" resources files MB libyaml_s meshc_s ratio peak_MB
for n in "${sizes[@]}"; do
  repo="$work/repo-$n"
  [[ -d $repo ]] || python3 Benchmarks/generate.py "$n" "$repo" >/dev/null
  # Warm the page cache so both sides read from memory.
  cat $(find "$repo" -name '*.yaml') > /dev/null
  best_parse=""
  for _ in 1 2 3 4 5; do
    read -r files bytes _events secs < <("$work/yaml-events" "$repo")
    if [[ -z $best_parse ]] || awk "BEGIN{exit !($secs < $best_parse)}"; then best_parse=$secs; fi
  done
  read -r lint_s peak_mb < <(python3 Benchmarks/measure.py 5 -- .build/release/meshc lint "$repo" --format json)
  resources=$(.build/release/meshc lint "$repo" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["resources"])')
  ratio=$(awk "BEGIN{printf \"%.2f\", $lint_s / $best_parse}")
  printf "%-10s %-7s %-9s %-12s %-12s %-10s %-8s\n" "$resources" "$files" "$(awk "BEGIN{printf \"%.1f\", $bytes/1048576}")" "$best_parse" "$lint_s" "${ratio}x" "$peak_mb"
done
