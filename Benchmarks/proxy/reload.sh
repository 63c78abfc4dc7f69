#!/usr/bin/env bash
# Reloads under load: mesh-proxy (from files) carries wrk's traffic to nginx while its bundle
# is replaced RELOADS times (a newer version each time, the canary weight moving); every
# request must succeed. Prints the wrk figures, the reloads the proxy applied, and exits 1 if
# any request failed or a reload was not applied.
# Usage: Benchmarks/proxy/reload.sh [RELOADS] (default 100)
set -euo pipefail
cd "$(dirname "$0")/../.."
source Benchmarks/proxy/common.sh
reloads=${1:-100}
for b in nginx wrk; do command -v $b >/dev/null || { echo "reload.sh: needs $b (apt-get install nginx-light wrk)" >&2; exit 2; }; done
swift build -c release --static-swift-stdlib --product mesh-proxy >/dev/null
swift build -c release --static-swift-stdlib --product meshc >/dev/null
work=$(mktemp -d)
cleanup() { [[ -n ${proxy:-} ]] && kill "$proxy" 2>/dev/null; bench_cleanup "$work"; }
trap cleanup EXIT
bench_nginx "$work"; sleep 0.3
meshc=.build/release/meshc
$meshc keygen --out "$work/keys" >/dev/null
cp Benchmarks/proxy/mesh.yaml "$work/mesh.yaml"
$meshc compile "$work/mesh.yaml" --key "$work/keys/signing.key" --out "$work/out" --bundle-version 1 >/dev/null
.build/release/mesh-proxy --workload bench/client --trust "$work/keys/trust.json" --state-dir "$work/state" \
  --bundle "$work/live.json" --parts "$work/out/_parts" --outbound 127.0.0.1:15004 --inbound 127.0.0.1:15016 \
  --app 127.0.0.1:18080 --admin 127.0.0.1:15010 2> "$work/proxy.log" &
proxy=$!
cp "$work/out/bench/client.json" "$work/live.json.tmp" && mv "$work/live.json.tmp" "$work/live.json"
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:15010/ready >/dev/null && break; sleep 0.05; done
# Prepare every version first, so the reload loop only swaps files.
for v in $(seq 2 $((reloads + 1))); do
  w=$(( (v % 9) + 1 ))
  sed "s/weight: 90/weight: $((100 - w * 10))/; s/weight: 10/weight: $((w * 10))/" Benchmarks/proxy/mesh.yaml > "$work/mesh.yaml"
  $meshc compile "$work/mesh.yaml" --key "$work/keys/signing.key" --out "$work/v$v" --bundle-version "$v" >/dev/null
  cp -n "$work/v$v/_parts/"* "$work/out/_parts/" 2>/dev/null || true
done
seconds=$(( reloads / 5 + 5 ))
wrk -t1 -c32 -d"${seconds}s" http://127.0.0.1:15004/ > "$work/wrk.txt" &
load=$!
sleep 1
for v in $(seq 2 $((reloads + 1))); do
  cp "$work/v$v/bench/client.json" "$work/live.json.tmp" && mv "$work/live.json.tmp" "$work/live.json"
  # Wait until the proxy runs this version (it checks the file every 100 ms).
  for _ in $(seq 1 100); do
    curl -s http://127.0.0.1:15010/stats/prometheus | grep -q "^meshc_proxy_config_version $v$" && break
    sleep 0.02
  done
done
wait $load
cat "$work/wrk.txt"
applied=$(curl -s http://127.0.0.1:15010/stats/prometheus | sed -n 's/^meshc_proxy_reloads //p')
version=$(curl -s http://127.0.0.1:15010/stats/prometheus | sed -n 's/^meshc_proxy_config_version //p')
requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/wrk.txt")
failed=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\)/\1/p' "$work/wrk.txt"); failed=${failed:-0}
errors=$(sed -n 's/^ *Socket errors: *\(.*\)/\1/p' "$work/wrk.txt")
echo "reloads: $((applied - 1)) applied of $reloads (version $version) during $requests requests; failed responses: $failed; socket errors: ${errors:-none}"
[[ $failed == 0 && -z $errors && $((applied - 1)) -ge $reloads ]]
