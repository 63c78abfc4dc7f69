#!/usr/bin/env bash
# Compile-and-sign benchmark: time to compile and sign a bundle for every workload of the
# synthetic repositories beside the lint time of the same repository, bundle and
# shared-part sizes, and verify time per bundle (parts included).
# Usage: Benchmarks/compile.sh [SIZES...] (default: 1000 10000)
#
# Lint and compile runs alternate (five of each) and the medians are compared, so a noisy
# machine slows both alike. Bundles are written to memory (/dev/shm when there is one,
# else OUT_DIR or .build-bench), each run into a new directory: on this VM's ext4 (mounted
# with `discard`), creating thousands of files soon after thousands were deleted costs
# seconds of kernel time that have nothing to do with meshc. Set OUT_DIR to measure a disk.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-1000 10000}")
read -r -a sizes <<< "${sizes[*]}"
work=.build-bench
mkdir -p "$work"
swift build -c release --static-swift-stdlib --product meshc >/dev/null
meshc=.build/release/meshc
keys=$(mktemp -d)
if [[ -n ${OUT_DIR:-} ]]; then outs="$OUT_DIR/meshc-compile-bench"
elif [[ -d /dev/shm ]]; then outs=/dev/shm/meshc-compile-bench
else outs="$work/compile-out"; fi
rm -rf "$outs"; mkdir -p "$outs"
trap 'rm -rf "$keys" "$outs"' EXIT
$meshc keygen --out "$keys" >/dev/null

printf "%-10s %-9s %-7s %-9s %-7s %-8s %-10s %-6s %-9s %-9s\n" resources workloads lint_s compile_s ratio peak_MB bundle_KB parts parts_KB verify_ms
for n in "${sizes[@]}"; do
  repo="$work/repo-$n"
  [[ -d $repo ]] || python3 Benchmarks/generate.py "$n" "$repo" >/dev/null
  read -r lint_s compile_s ratio peak out < <(python3 - "$meshc" "$repo" "$keys/signing.key" "$outs/$n" <<'PY'
import os, statistics, subprocess, sys, time
meshc, repo, key, base = sys.argv[1:]
# Issued at today's midnight (UTC): bundles stay valid for the verify step below, and every
# run of a day signs the same bytes.
issued = time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime())
def run(cmd):
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"compile.sh: {' '.join(cmd)} failed")
    return time.monotonic() - start, usage.ru_maxrss / 1024
lint, comp, peak = [], [], 0.0
for i in range(5):
    lint.append(run([meshc, "lint", repo, "--format", "json"])[0])
    t, rss = run([meshc, "compile", repo, "--key", key, "--out", f"{base}-{i}", "--issued-at", issued])
    comp.append(t)
    peak = max(peak, rss)
l, c = statistics.median(lint), statistics.median(comp)
print(f"{l:.3f} {c:.3f} {c / l:.1f}x {peak:.0f} {base}-0")
PY
)
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
  printf "%-10s %-9s %-7s %-9s %-7s %-8s %-10s %-6s %-9s %-9s\n" "$n" "$count" "$lint_s" "$compile_s" "$ratio" "$peak" \
    "$(awk "BEGIN{printf \"%.1f\", $bytes / $count / 1024}")" "$parts" "$(( part_bytes / parts / 1024 ))" "$verify_ms"
done
