#!/usr/bin/env bash
# The sidecar as it ships (ci/build-sidecar.sh: static runtime, ordered code, no exported
# symbols, packed relocations) builds and carries traffic: from the benchmark's bundle, to a
# real nginx on 127.0.0.1 — HTTP/1 GET, HEAD, a 1 MiB POST, h2c, upgrade requests, the admin
# port — and drains on SIGTERM. The tests run debug builds; this proves the link flags leave
# a working proxy.
# Usage: ci/sidecar-smoke.sh MESHC
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/proxy/common.sh
meshc=${1:?usage: ci/sidecar-smoke.sh MESHC}
proxy=$(ci/build-sidecar.sh)
work=$(mktemp -d)
trap '[[ -n ${pid:-} ]] && kill "$pid" 2>/dev/null; bench_cleanup "$work"' EXIT
fail() { echo "sidecar-smoke: $*" >&2; [[ -f $work/proxy.log ]] && tail -20 "$work/proxy.log" >&2; exit 1; }
if ldd "$proxy" | grep -q swift; then fail "links the Swift runtime dynamically: $(ldd "$proxy" | grep swift)"; fi
readelf -S --wide "$proxy" | grep -q '\.relr\.dyn' || fail "relative relocations are not packed"
bench_nginx "$work"
bench_bundle "$work" "$meshc"
bench_proxy_args "$work"
"$proxy" "${bench_proxy_args[@]}" > "$work/proxy.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -sf --max-time 10 http://127.0.0.1:15010/ready >/dev/null && break; sleep 0.1; done
curl -sf --max-time 10 http://127.0.0.1:15010/ready >/dev/null || fail "not ready"
[[ $(curl -s --max-time 10 http://127.0.0.1:15004/) == ok ]] || fail "GET through the proxy"
head=$(curl -s --max-time 10 -I http://127.0.0.1:15004/)
grep -q "^HTTP/1.1 200" <<<"$head" || fail "HEAD: $head"
[[ $(curl -s --max-time 10 -o /dev/null -w '%{size_download}' -I http://127.0.0.1:15004/) == 0 ]] || fail "HEAD came with a body"
head -c 1048576 /dev/urandom > "$work/body"
[[ $(curl -s --max-time 10 --data-binary @"$work/body" http://127.0.0.1:15004/) == ok ]] || fail "1 MiB POST"
[[ $(curl -s --max-time 10 --http2-prior-knowledge http://127.0.0.1:15004/) == ok ]] || fail "h2c"
# curl --http2 asks to upgrade (Upgrade: h2c): answered as HTTP/1.1, the connection reused.
[[ $(curl -s --max-time 10 --http2 http://127.0.0.1:15004/ http://127.0.0.1:15004/) == okok ]] || fail "Upgrade: h2c requests"
curl -s --max-time 10 http://127.0.0.1:15010/stats/prometheus | grep -q '^istio_requests_total{.*response_code="200"' || fail "no istio_requests_total"
kill -TERM "$pid"
wait "$pid" || fail "exited with $? on SIGTERM"
pid=
echo "sidecar-smoke: ok ($proxy)"
