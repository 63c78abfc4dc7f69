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
# meshc serve: a commit adding the same 100 MB file is refused with a reason; the last good
# revision stays served and the server keeps answering.
repo="$dir/repo"
mkdir -p "$repo"
cp -r "$(dirname "$0")/../policies/." "$repo/"
rm -rf "$repo/broken"
export GIT_AUTHOR_NAME=stress GIT_AUTHOR_EMAIL=s@e GIT_COMMITTER_NAME=stress GIT_COMMITTER_EMAIL=s@e
git -C "$repo" init -q -b main && git -C "$repo" add -A && git -C "$repo" commit -qm "the example mesh"
"$meshc" keygen --out "$dir/keys" >/dev/null
"$meshc" serve --repo "$repo" --key "$dir/keys/signing.key" --listen 127.0.0.1:0 --data-dir "$dir/data" \
  --poll-interval 1h --plaintext 2> "$dir/serve.log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$dir"' EXIT
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$dir/serve.log")
  [[ -n $port ]] && break; sleep 0.05
done
[[ -n $port ]] || { echo "stress: meshc serve did not start" >&2; cat "$dir/serve.log" >&2; exit 1; }
python3 - "$port" "$repo" "$dir/huge.yaml" <<'PY'
import json, shutil, subprocess, sys, time, urllib.request
port, repo, huge = sys.argv[1:]
def get(path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        return json.loads(r.read()) if "json" in r.headers.get("content-type", "") else r.read()
deadline = time.time() + 30
while time.time() < deadline:
    try:
        if get("/v1/revisions").get("serving"): break
    except Exception: pass
    time.sleep(0.1)
before = get("/v1/revisions")["serving"]["version"]
shutil.copy(huge, f"{repo}/shop/huge.yaml")
subprocess.run(["git", "-C", repo, "add", "-A"], check=True)
subprocess.run(["git", "-C", repo, "commit", "-qm", "a 100 MB file"], check=True)
urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/v1/hooks/git", method="POST", data=b"{}"), timeout=10)
deadline = time.time() + 120
while time.time() < deadline:
    doc = get("/v1/revisions")
    if len(doc["revisions"]) >= 2: break
    time.sleep(0.2)
attempt = doc["revisions"][0]
assert attempt["outcome"] == "failed" and "huge.yaml" in attempt["reason"], attempt
assert doc["serving"]["version"] == before, doc["serving"]
assert get("/v1/bundles/shop/orders-v1")
PY
echo "stress: meshc serve refuses a commit adding a 100 MB file, with the reason, and keeps serving"
echo "stress: 3 passed, 0 failed"
