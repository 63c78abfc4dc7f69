#!/usr/bin/env bash
# Diff benchmark (issue #5): `meshc diff HEAD~1 HEAD` on a git repository holding the synthetic
# repository, where the second commit changes one file (a canary weight), beside one lint of
# the same repository. Target: within 2x one lint (unchanged blobs are parsed once).
# Usage: Benchmarks/diff.sh [SIZES...]   (default: 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-10000}")
read -r -a sizes <<< "${sizes[*]}"
work=.build-bench
mkdir -p "$work"
swift build -c release --static-swift-stdlib --product meshc >/dev/null
meshc=$PWD/.build/release/meshc

printf "%-10s %-8s %-9s %-9s %-8s %-8s\n" resources files lint_s diff_s ratio peak_MB
for n in "${sizes[@]}"; do
  repo="$work/git-$n"
  if [[ ! -d $repo/.git ]]; then
    rm -rf "$repo"
    python3 Benchmarks/generate.py "$n" "$repo" >/dev/null
    git -C "$repo" init -q -b main
    git -C "$repo" add -A
    git -C "$repo" -c user.email=bench@meshc -c user.name=bench commit -qm base
    sed -i 's/weight: 90/weight: 50/; s/weight: 10/weight: 50/' "$repo/ns-0/svc-0.yaml"
    git -C "$repo" -c user.email=bench@meshc -c user.name=bench commit -qam "svc-0 canary to 50%"
  fi
  files=$(git -C "$repo" ls-files | wc -l)
  read -r lint_s _ < <(python3 Benchmarks/measure.py 5 -- $meshc lint "$repo" --format json)
  read -r diff_s peak < <(cd "$repo" && python3 "$OLDPWD/Benchmarks/measure.py" 5 -- $meshc diff HEAD~1 HEAD --format json)
  (cd "$repo" && $meshc diff HEAD~1 HEAD --fail-on never | head -1)
  printf "%-10s %-8s %-9s %-9s %-8s %-8s\n" "$n" "$files" "$lint_s" "$diff_s" "$(awk "BEGIN{printf \"%.2f\", $diff_s / $lint_s}")x" "$peak"
done
