#!/usr/bin/env bash
# The `meshc diff` part of `make demo`: commits policies/ to a scratch git repository, makes
# the kind of change a pull request makes (canary to 50%, a timeout and retries dropped, a
# caller swapped in an AuthorizationPolicy) and shows what it does to traffic.
# Usage: ci/demo-diff.sh MESHC [text|markdown|json]
set -euo pipefail
meshc=$(realpath "$1")
format=${2:-text}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Fixed dates: the same change gives the same commit ids, so the README example is exact.
export GIT_AUTHOR_DATE="2026-01-01T12:00:00Z" GIT_COMMITTER_DATE="2026-01-01T12:00:00Z"
git=(git -C "$work" -c user.email=demo@meshc -c user.name=demo -c commit.gpgsign=false)
"${git[@]}" init -q -b main
cp -r "$root/policies" "$work/policies"
rm -rf "$work/policies/broken"
printf 'ignorePaths: []\n' > "$work/policies/.meshc.yaml"
"${git[@]}" add -A && "${git[@]}" commit -qm "the example mesh"
sed -i 's/weight: 90/weight: 50/; s/weight: 10/weight: 50/' "$work/policies/shop/orders.yaml"
python3 - "$work/policies" <<'PY'
import sys
root = sys.argv[1]
def edit(f, old, new):
    p = f"{root}/{f}"; t = open(p).read(); assert old in t, (f, old); open(p, "w").write(t.replace(old, new))
edit("shop/catalog.yaml", "    timeout: 2s\n    retries:\n      attempts: 2\n      perTryTimeout: 600ms\n      retryOn: unavailable,resource-exhausted\n", "")
edit("payments/security.yaml", "cluster.local/ns/shop/sa/orders", "cluster.local/ns/web/sa/frontend")
PY
"${git[@]}" commit -qam "orders canary to 50%, simpler catalog route, frontend pays"
cd "$work/policies"
"$meshc" diff HEAD~1 HEAD --format "$format" --fail-on never
