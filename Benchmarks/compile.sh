#!/usr/bin/env bash
# Compile-and-sign benchmark: time to compile and sign a bundle for every workload of the
# synthetic repositories, bundle sizes, and verify time per bundle, beside the lint time of
# the same repository. Usage: Benchmarks/compile.sh [SIZES...] (default: 1000 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-1000 10000}")
read -r -a sizes <<< "${sizes[*]}"
work=.build-bench
mkdir -p "$work"
swift build -c release --product meshc >/dev/null
meshc=.build/release/meshc
keys=$(mktemp -d); out=$(mktemp -d)
trap 'rm -rf "$keys" "$out"' EXIT
$meshc keygen --out "$keys" >/dev/null

printf "%-10s %-9s %-9s %-11s %-8s %-12s %-13s %-10s\n" resources workloads lint_s compile_s ratio avg_bundle_KB total_MB verify_ms
for n in "${sizes[@]}"; do
  repo="$work/repo-$n"
  [[ -d $repo ]] || python3 Benchmarks/generate.py "$n" "$repo" >/dev/null
  read -r lint_s _ < <(python3 Benchmarks/measure.py 3 -- $meshc lint "$repo" --format json)
  rm -rf "$out"/*
  read -r compile_s peak < <(python3 Benchmarks/measure.py 1 -- $meshc compile "$repo" --key "$keys/signing.key" --out "$out" --issued-at 2026-11-25T00:00:00Z)
  count=$(find "$out" -name '*.json' | wc -l)
  bytes=$(du -sb "$out" | cut -f1)
  # Verify 20 bundles, one process each (so this includes process start-up).
  files=$(find "$out" -name '*.json' | sort | head -20 || true)
  start=$(date +%s%N)
  for f in $files; do $meshc verify "$f" --trust "$keys/trust.json" >/dev/null; done
  verify_ms=$(( ($(date +%s%N) - start) / 20000000 ))
  printf "%-10s %-9s %-9s %-11s %-8s %-12s %-13s %-10s\n" "$n" "$count" "$lint_s" "$compile_s" \
    "$(awk "BEGIN{printf \"%.1fx\", $compile_s / $lint_s}")" "$(( bytes / count / 1024 ))" "$(( bytes / 1048576 ))" "$verify_ms"
done
