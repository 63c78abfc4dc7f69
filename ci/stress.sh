#!/usr/bin/env bash
# Hostile input that is too large for a unit test: a 100 MB policy file must be linted
# (not crash, not hang), and a file over --max-file-size must be refused with a located error.
set -euo pipefail
meshc=${1:?usage: ci/stress.sh path/to/meshc}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

python3 - "$dir/huge.yaml" <<'PY'
import sys
doc = """apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: svc-{i}
  namespace: ns-{n}
spec:
  hosts: [svc-{i}]
  http:
  - route:
    - destination: {{host: svc-{i}, subset: v1}}
      weight: 90
    - destination: {{host: svc-{i}, subset: v2}}
      weight: 10
    timeout: 3s
---
"""
with open(sys.argv[1], "w") as f:
    i = 0
    size = 0
    while size < 100 * 1024 * 1024:
        chunk = doc.format(i=i, n=i % 50)
        f.write(chunk)
        size += len(chunk)
        i += 1
PY
size=$(stat -c %s "$dir/huge.yaml")
start=$(date +%s)
status=0
timeout 300 "$meshc" lint "$dir/huge.yaml" --format json > "$dir/out.json" || status=$?
elapsed=$(( $(date +%s) - start ))
# Every route points at services the file does not define: findings, exit 1; never a crash.
if [[ $status -ne 1 ]]; then echo "stress: 100 MB file: expected exit 1, got $status" >&2; exit 1; fi
python3 - "$dir/out.json" <<'PY'
import json, sys
out = json.load(open(sys.argv[1]))
assert out["summary"]["files"] == 1, out["summary"]
assert out["summary"]["resources"] > 100000, out["summary"]
PY
echo "stress: linted a ${size}-byte file in ${elapsed}s"

status=0
"$meshc" lint "$dir/huge.yaml" --max-file-size 1048576 --format json > "$dir/out2.json" || status=$?
python3 - "$dir/out2.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["diagnostics"]
assert [x["code"] for x in d] == ["MESH0003"], d
assert d[0]["line"] == 1 and d[0]["column"] == 1
PY
echo "stress: a file over --max-file-size is refused with MESH0003"
echo "stress: 2 passed, 0 failed"
