#!/usr/bin/env bash
# Compile-and-sign benchmark: time to compile and sign a bundle for every workload of the
# synthetic repositories, bundle and shared-part sizes, and verify time per bundle (parts
# included), beside the lint time of the same repository.
# Usage: Benchmarks/compile.sh [SIZES...] (default: 1000 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-1000 10000}")
read -r -a sizes <<< "${sizes[*]}"
work=.build-bench
mkdir -p "$work"
swift build -c release --product meshc >/dev/null
meshc=.build/release/meshc
keys=$(mktemp -d); out="$work/compile-out"
trap 'rm -rf "$keys" "$out"' EXIT
$meshc keygen --out "$keys" >/dev/null

printf "%-10s %-9s %-7s %-9s %-11s %-7s %-10s %-9s %-10s %-10s\n" resources workloads lint_s compile_s peak_MB ratio bundle_KB parts parts_KB verify_ms
for n in "${sizes[@]}"; do
  repo="$work/repo-$n"
  [[ -d $repo ]] || python3 Benchmarks/generate.py "$n" "$repo" >/dev/null
  read -r lint_s _ < <(python3 Benchmarks/measure.py 3 -- $meshc lint "$repo" --format json)
  # Best of three, each into a fresh output directory (writing over the last run's files
  # measures the disk's writeback more than meshc).
  compile_s=""
  for _ in 1 2 3; do
    rm -rf "$out"; mkdir -p "$out"; sync
    read -r t peak < <(python3 Benchmarks/measure.py 1 -- $meshc compile "$repo" --key "$keys/signing.key" --out "$out" --issued-at 2026-11-25T00:00:00Z)
    compile_s=$(awk -v a="$t" -v b="$compile_s" 'BEGIN { print (b == "" || a < b) ? a : b }')
  done
  count=$(find "$out" -path "$out/_parts" -prune -o -name '*.json' -print | wc -l)
  bytes=$(find "$out" -path "$out/_parts" -prune -o -name '*.json' -printf '%s\n' | awk '{s += $1} END {print s}')
  parts=$(find "$out/_parts" -name '*.json' | wc -l)
  part_bytes=$(find "$out/_parts" -name '*.json' -printf '%s\n' | awk '{s += $1} END {print s}')
  # Verify 20 bundles, one process each (so this includes process start-up and reading,
  # hashing and decoding every part the bundle pins).
  files=$(find "$out" -path "$out/_parts" -prune -o -name '*.json' -print | sort | head -20 || true)
  start=$(date +%s%N)
  for f in $files; do $meshc verify "$f" --trust "$keys/trust.json" >/dev/null; done
  verify_ms=$(( ($(date +%s%N) - start) / 20000000 ))
  printf "%-10s %-9s %-7s %-9s %-11s %-7s %-10s %-9s %-10s %-10s\n" "$n" "$count" "$lint_s" "$compile_s" "$peak" \
    "$(awk "BEGIN{printf \"%.1fx\", $compile_s / $lint_s}")" "$(awk "BEGIN{printf \"%.1f\", $bytes / $count / 1024}")" \
    "$parts" "$(( part_bytes / parts / 1024 ))" "$verify_ms"
done
